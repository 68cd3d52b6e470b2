# What the NixOS and nix-darwin agent modules share: the options under services.fleetdeck-agent, the
# agent.toml they generate, and the checks made at evaluation time. Every key written here is one
# the agent's own parser knows (src/agent/config.py); the agent checks the file again when it starts.
{ lib }:
let
  inherit (lib) mkOption types;
  inherit (builtins) all filter match substring;
  toTOML = import ../lib/toml.nix;
  absolute = p: substring 0 1 p == "/";
  inStore = p: substring 0 11 p == "/nix/store/";
in
{
  # The options; `platform` carries what differs: default operations, host name, state directory.
  options = platform: {
    enable = lib.mkEnableOption "the Fleetdeck agent, which connects this host to a Fleetdeck control plane";

    package = mkOption {
      type = types.package;
      default = platform.pkgs.fleetdeck;
      defaultText = lib.literalExpression "pkgs.fleetdeck";
      description = "The fleetdeck package whose `fleetdeck agent` runs.";
    };

    controlPlane = mkOption {
      type = types.either types.str (types.nonEmptyListOf types.str);
      example = [ "fleet-a.example.org:50051" "fleet-b.example.org:50051" ];
      description = ''
        The control plane's gRPC address, HOST:PORT, or a list of them (replicas): the agent connects
        to them in order and fails over to the next when one does not answer.
      '';
    };

    host = mkOption {
      type = types.str;
      default = platform.hostName;
      defaultText = lib.literalExpression platform.hostNameText;
      description = "The host's name in the fleet (an RFC 1123 label); its token is issued for this name.";
    };

    tokenFile = mkOption {
      type = types.str;
      example = "/run/secrets/fleetdeck-agent-token";
      description = ''
        A file holding the agent's token (from `fleetdeck token create HOST`), readable by root only.
        A path string on purpose: a secret must never be copied into the world-readable Nix store.
      '';
    };

    repoDir = mkOption {
      type = types.str;
      example = "/etc/nixos";
      description = ''
        The host's checkout of the fleet repository (the flake that holds `hosts/<name>/tests/`).
        A pull resets it hard to the desired commit and removes untracked files (`git clean -fdx`).
      '';
    };

    stateDir = mkOption {
      type = types.str;
      default = "/var/lib/fleetdeck-agent";
      description = "Where the agent keeps its journal and buffered output; on NixOS it must lie under /var/lib.";
    };

    tests = {
      enable = mkOption {
        type = types.nullOr types.bool;
        default = null;
        description = "Whether tests run on this host; null leaves it to the control plane's setting.";
      };
      autoRunAfterSwitch = mkOption {
        type = types.nullOr types.bool;
        default = null;
        description = "Whether tests run after every successful switch; null leaves it to the control plane.";
      };
      timeout = mkOption {
        type = types.nullOr types.numbers.positive;
        default = null;
        example = 120;
        description = "Seconds a whole test run may take; null leaves it to the control plane (60 s by default).";
      };
    };

    operations = {
      switch = mkOption {
        type = types.listOf types.str;
        default = platform.switch;
        defaultText = lib.literalExpression platform.switchText;
        description = "The argv of a switch. The default builds this host from its own flake in repoDir.";
      };
      rollback = mkOption {
        type = types.listOf types.str;
        default = platform.rollback;
        description = "The argv of a rollback to the previous generation.";
      };
    };

    tls = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "Whether to connect with TLS (trusting the system's CAs unless `tls.ca` is set).";
      };
      ca = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "A PEM file of the CA that signed the control plane's certificate.";
      };
      cert = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "A PEM client certificate for mutual TLS (with `tls.key`).";
      };
      key = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "The client certificate's PEM private key; a path string, kept out of the Nix store.";
      };
      serverName = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "The name to expect in the control plane's certificate, if not the address's host.";
      };
    };

    extraConfig = mkOption {
      type = types.attrs;
      default = { };
      example = { spool_bytes = 33554432; backoff_max_seconds = 30; };
      description = ''
        More agent.toml keys (as the agent names them, e.g. `spool_bytes`, `tests_dir`,
        `stop_grace_seconds`), merged over the generated ones.
      '';
    };
  };

  # The agent.toml settings, as the agent's parser names them; null values are left out.
  settings = cfg: extra:
    lib.recursiveUpdate
      ({
        controlplane = cfg.controlPlane;
        host = cfg.host;
        token_file = cfg.tokenFile;
        repo_dir = cfg.repoDir;
        state_dir = cfg.stateDir;
        operations = { inherit (cfg.operations) switch rollback; };
        tests = {
          enabled = cfg.tests.enable;
          auto_run_after_switch = cfg.tests.autoRunAfterSwitch;
          timeout = cfg.tests.timeout;
        };
        tls = if cfg.tls.enable then true else null;
        tls_ca = cfg.tls.ca;
        tls_cert = cfg.tls.cert;
        tls_key = cfg.tls.key;
        tls_server_name = cfg.tls.serverName;
      } // extra)
      cfg.extraConfig;

  toTOML = toTOML;

  # NixOS-style assertions for what the agent would refuse at start, so a bad value fails the build.
  assertions = cfg:
    let
      o = "services.fleetdeck-agent";
      tlsFiles = filter (p: p != null) [ cfg.tls.ca cfg.tls.cert cfg.tls.key ];
      argvOk = argv: argv != [ ] && all (a: a != "") argv;
      controlPlanes = lib.toList cfg.controlPlane;
    in
    [
      {
        assertion = all (a: match "[^:]+:[0-9]+|[[][0-9a-fA-F:.]+[]]:[0-9]+" a != null) controlPlanes;
        message = "${o}.controlPlane must be HOST:PORT or a list of them, e.g. fleet.example.org:50051 (got ${builtins.toJSON cfg.controlPlane}).";
      }
      {
        assertion = lib.unique controlPlanes == controlPlanes;
        message = "${o}.controlPlane lists an address twice.";
      }
      {
        assertion = match "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?" cfg.host != null;
        message = "${o}.host \"${cfg.host}\" is not an RFC 1123 label (a-z, 0-9 and '-', at most 63 characters).";
      }
      {
        assertion = absolute cfg.tokenFile && !(inStore cfg.tokenFile);
        message = "${o}.tokenFile must be an absolute path outside the Nix store (it holds a secret).";
      }
      {
        assertion = absolute cfg.repoDir && absolute cfg.stateDir;
        message = "${o}.repoDir and ${o}.stateDir must be absolute paths.";
      }
      {
        assertion = argvOk cfg.operations.switch && argvOk cfg.operations.rollback;
        message = "${o}.operations.switch and .rollback must each be a non-empty list of non-empty strings.";
      }
      {
        assertion = cfg.tls.enable || (tlsFiles == [ ] && cfg.tls.serverName == null);
        message = "${o}.tls.ca, .cert, .key and .serverName need ${o}.tls.enable = true.";
      }
      {
        assertion = (cfg.tls.cert == null) == (cfg.tls.key == null);
        message = "${o}.tls.cert and ${o}.tls.key go together; set both or neither.";
      }
      {
        assertion = all absolute tlsFiles && (cfg.tls.key == null || !(inStore cfg.tls.key));
        message = "${o}.tls.ca, .cert and .key must be absolute paths; the key must not be in the Nix store.";
      }
    ];
}
