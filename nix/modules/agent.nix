# NixOS module: the Fleetdeck agent as a systemd service, configured by a generated /etc/fleetdeck/agent.toml.
{ config, lib, pkgs, ... }:
let
  common = import ./agent-common.nix { inherit lib; };
  cfg = config.services.fleetdeck-agent;
  configText = common.toTOML (common.settings cfg {
    # Written out, so the file says what runs; the agent's own default is the same on NixOS.
    generation_path = "/nix/var/nix/profiles/system";
  });
  stateDirectory = builtins.substring 9 (-1) cfg.stateDir; # "/var/lib/" is 9 characters
in
{
  options.services.fleetdeck-agent = common.options {
    inherit pkgs;
    hostName = config.networking.hostName;
    hostNameText = "config.networking.hostName";
    switch = [ "nixos-rebuild" "switch" "--flake" "${cfg.repoDir}#${cfg.host}" ];
    switchText = ''[ "nixos-rebuild" "switch" "--flake" "''${repoDir}#''${host}" ]'';
    rollback = [ "nixos-rebuild" "switch" "--rollback" ];
  };

  config = lib.mkIf cfg.enable {
    assertions = common.assertions cfg ++ [
      {
        assertion = builtins.substring 0 9 cfg.stateDir == "/var/lib/" && stateDirectory != "";
        message = "services.fleetdeck-agent.stateDir must lie under /var/lib/ (systemd's StateDirectory= manages it).";
      }
    ];

    environment.etc."fleetdeck/agent.toml".text = configText;

    systemd.services.fleetdeck-agent = {
      description = "Fleetdeck agent";
      wantedBy = [ "multi-user.target" ];
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      # Its own switch restarts it: restart after activation instead of stopping it before.
      stopIfChanged = false;
      restartTriggers = [ configText ];
      startLimitIntervalSec = 0;
      # A switch runs nixos-rebuild, git and nix; test scripts see the system's own tools.
      path = [
        config.system.build.nixos-rebuild
        config.nix.package
        pkgs.git
        "/run/wrappers"
        "/run/current-system/sw"
      ];
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/fleetdeck agent --config /etc/fleetdeck/agent.toml";
        Restart = "always";
        RestartSec = 5;
        # Stop only the agent: a switch or rollback it started runs on and reports after the restart.
        KillMode = "process";
        StateDirectory = stateDirectory;
        StateDirectoryMode = "0700";
        UMask = "0077";
        # Hardening that leaves nixos-rebuild working. It runs as root and its children must change the
        # whole system: activation mounts /run/wrappers, sets the hostname, writes /etc, /boot and
        # /nix/var, and the switch survives the agent's restarts. So no option that gives the unit a
        # mount, UTS or /tmp namespace of its own (ProtectSystem, ProtectHome, PrivateTmp,
        # PrivateDevices, ProtectHostname, ReadOnlyPaths ...), no device or capability limits; only
        # what no deployment needs.
        LockPersonality = true;
        RestrictRealtime = true;
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" "AF_NETLINK" ];
      };
    };
  };
}
