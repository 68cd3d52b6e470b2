# NixOS module: the Fleetdeck control plane (gRPC API, SQLite state, the web UI in the same process).
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.fleetdeck-controlplane;
  o = "services.fleetdeck-controlplane";
  port = address:
    let m = builtins.match ".*:([0-9]+)" address;
    in if m == null then null else builtins.fromJSON (builtins.head m);
  addresses = builtins.filter (a: a != null) [ cfg.grpcAddress cfg.httpAddress cfg.agentMtls.address ];
  ports = map port addresses;
  lowPort = builtins.any (p: p != null && p < 1024) ports;
  # Secrets reach the DynamicUser through systemd credentials (%d), readable by this service only.
  credentials = builtins.filter (c: c.file != null) [
    { name = "tls-cert"; file = cfg.tls.cert; flag = "--tls-cert"; }
    { name = "tls-key"; file = cfg.tls.key; flag = "--tls-key"; }
    { name = "agent-ca"; file = cfg.agentMtls.ca; flag = "--agent-ca"; }
    { name = "admin-token"; file = cfg.adminTokenFile; flag = "--admin-token-file"; }
  ];
  args =
    [ "--db" "%S/fleetdeck/fleetdeck.db" "--grpc" cfg.grpcAddress ]
    ++ lib.optionals (cfg.httpAddress != null) [ "--http" cfg.httpAddress ]
    ++ lib.optionals (cfg.agentMtls.address != null) [ "--agent-grpc" cfg.agentMtls.address ]
    ++ builtins.concatLists (map (c: [ c.flag "%d/${c.name}" ]) credentials)
    ++ cfg.extraArgs;
  nullOrPath = description: mkOption { type = types.nullOr types.str; default = null; inherit description; };
in
{
  options.services.fleetdeck-controlplane = {
    enable = lib.mkEnableOption "the Fleetdeck control plane";

    package = mkOption {
      type = types.package;
      default = pkgs.fleetdeck;
      defaultText = lib.literalExpression "pkgs.fleetdeck";
      description = "The fleetdeck package whose `fleetdeck controlplane` runs.";
    };

    grpcAddress = mkOption {
      type = types.str;
      default = "127.0.0.1:50051";
      example = "0.0.0.0:50051";
      description = "Where the gRPC API (agents, CLI, automation) listens, HOST:PORT.";
    };

    httpAddress = mkOption {
      type = types.nullOr types.str;
      default = "127.0.0.1:8080";
      description = "Where the web UI listens, HOST:PORT; null serves no web UI.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Whether to open the TCP ports of grpcAddress, httpAddress and agentMtls.address.";
    };

    tls = {
      cert = nullOrPath "A PEM certificate (chain) for the gRPC API and the web UI; with `tls.key`.";
      key = nullOrPath "Its PEM private key; a path string, kept out of the Nix store.";
    };

    agentMtls = {
      address = nullOrPath "A second gRPC address, HOST:PORT, where agents connect with client certificates.";
      ca = nullOrPath "The PEM CA that signed the agents' client certificates.";
    };

    adminTokenFile = nullOrPath ''
      On an empty database, the first admin API token is read from this file; else one is
      generated and printed once to the journal.
    '';

    environmentFile = nullOrPath ''
      An EnvironmentFile= for secrets given as variables, e.g. FLEETDECK_ADMIN_PASSWORD (the first
      web login's password on an empty database).
    '';

    extraArgs = mkOption {
      type = types.listOf types.str;
      default = [ ];
      description = "More arguments to `fleetdeck controlplane`.";
    };
  };

  # There is no database option: the store is SQLite only (PostgreSQL is planned, not built).
  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = builtins.all (p: p != null) ports;
        message = "${o}: every address must be HOST:PORT (got ${builtins.concatStringsSep ", " addresses}).";
      }
      {
        assertion = (cfg.tls.cert == null) == (cfg.tls.key == null);
        message = "${o}.tls.cert and ${o}.tls.key go together; set both or neither.";
      }
      {
        assertion = (cfg.agentMtls.address == null) == (cfg.agentMtls.ca == null) && (cfg.agentMtls.ca == null || cfg.tls.cert != null);
        message = "${o}.agentMtls.address and .ca go together and need ${o}.tls.cert and .key.";
      }
      {
        assertion = builtins.all (c: builtins.substring 0 1 c.file == "/") credentials;
        message = "${o}: tls.*, agentMtls.ca and adminTokenFile must be absolute paths.";
      }
    ];

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall ports;

    systemd.services.fleetdeck-controlplane = {
      description = "Fleetdeck control plane";
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      serviceConfig = {
        ExecStart = "${cfg.package}/bin/fleetdeck controlplane ${builtins.concatStringsSep " " args}";
        Restart = "on-failure";
        DynamicUser = true;
        # SQLite lives here: /var/lib/fleetdeck/fleetdeck.db (with its WAL files).
        StateDirectory = "fleetdeck";
        StateDirectoryMode = "0700";
        LoadCredential = map (c: "${c.name}:${c.file}") credentials;
        EnvironmentFile = lib.optional (cfg.environmentFile != null) cfg.environmentFile;
        UMask = "0077";
        AmbientCapabilities = if lowPort then "CAP_NET_BIND_SERVICE" else "";
        CapabilityBoundingSet = if lowPort then "CAP_NET_BIND_SERVICE" else "";
        NoNewPrivileges = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        ProtectHostname = true;
        ProtectClock = true;
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectProc = "invisible";
        RestrictAddressFamilies = [ "AF_UNIX" "AF_INET" "AF_INET6" ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" "~@privileged" ];
      };
    };
  };
}
