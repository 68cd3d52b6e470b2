# nix-darwin module: the Fleetdeck agent as a launchd daemon, configured by /etc/fleetdeck/agent.toml.
{ config, lib, pkgs, ... }:
let
  common = import ./agent-common.nix { inherit lib; };
  cfg = config.services.fleetdeck-agent;
  configText = common.toTOML (common.settings cfg {
    # nix-darwin's system profile (the agent's own darwin default is home-manager's).
    generation_path = "/nix/var/nix/profiles/system";
  });
  hostName =
    if config.networking.hostName != null then config.networking.hostName
    else throw "services.fleetdeck-agent.host: set it, or networking.hostName";
in
{
  options.services.fleetdeck-agent = common.options {
    inherit pkgs hostName;
    hostNameText = "config.networking.hostName";
    switch = [ "darwin-rebuild" "switch" "--flake" "${cfg.repoDir}#${cfg.host}" ];
    switchText = ''[ "darwin-rebuild" "switch" "--flake" "''${repoDir}#''${host}" ]'';
    rollback = [ "darwin-rebuild" "switch" "--rollback" ];
  };

  config = lib.mkIf cfg.enable {
    assertions = common.assertions cfg;

    environment.etc."fleetdeck/agent.toml".text = configText;

    launchd.daemons.fleetdeck-agent.serviceConfig = {
      Label = "org.fleetdeck.agent";
      ProgramArguments = [ "${cfg.package}/bin/fleetdeck" "agent" "--config" "/etc/fleetdeck/agent.toml" ];
      RunAtLoad = true;
      # launchd's Restart=always.
      KeepAlive = true;
      ThrottleInterval = 5;
      # launchd's KillMode=process: a switch the agent started outlives the agent's restart.
      AbandonProcessGroup = true;
      Umask = 63; # 0077
      StandardOutPath = "/var/log/fleetdeck-agent.log";
      StandardErrorPath = "/var/log/fleetdeck-agent.log";
      EnvironmentVariables = {
        PATH = builtins.concatStringsSep ":" [
          "${config.nix.package}/bin"
          "${pkgs.git}/bin"
          "/run/current-system/sw/bin"
          "/nix/var/nix/profiles/default/bin"
          "/usr/bin"
          "/bin"
          "/usr/sbin"
          "/sbin"
        ];
        # A changed agent.toml changes the plist, so nix-darwin reloads the daemon.
        FLEETDECK_CONFIG_SHA256 = builtins.hashString "sha256" configText;
      };
    };
  };
}
