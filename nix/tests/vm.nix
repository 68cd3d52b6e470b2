# NixOS VM test (flake check `vm`): a control plane and two agents. Each agent's fleet checkout has a
# passing test in hosts/<name>/tests/; a switch on both hosts runs tests after it, and the Tests
# compartment of both goes green. Needs KVM and a Nix with nixpkgs; run with `nix flake check`.
{ pkgs, self }:
let
  adminToken = "vmtest-admin-token-0123456789abcdefghij";
  grpcurl = "grpcurl -plaintext -H 'authorization: Bearer ${adminToken}'";

  # The switch a VM can do offline: activate the running system again, as nixos-rebuild test would.
  switch = pkgs.writeShellScript "fleetdeck-vm-switch" ''
    exec /run/current-system/bin/switch-to-configuration test
  '';

  # A fleet checkout made the same way on both agents, so both report the same commit and lock hash.
  makeFleetRepo = pkgs.writeShellScript "fleetdeck-vm-fleet-repo" ''
    set -eu
    export PATH=${pkgs.git}/bin:${pkgs.coreutils}/bin
    export GIT_AUTHOR_NAME=fleet GIT_AUTHOR_EMAIL=fleet@example.org GIT_AUTHOR_DATE=2026-01-01T00:00:00Z
    export GIT_COMMITTER_NAME=fleet GIT_COMMITTER_EMAIL=fleet@example.org GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
    mkdir -p /srv/fleet/hosts/agent1/tests /srv/fleet/hosts/agent2/tests
    cd /srv/fleet
    echo '{"nodes": {}, "version": 7}' > flake.lock
    for host in agent1 agent2; do
      printf '#!/bin/sh\nsystemctl is-active fleetdeck-agent\n' > hosts/$host/tests/10-agent-running.sh
      chmod +x hosts/$host/tests/10-agent-running.sh
    done
    git init -q -b main .
    git add -A
    git commit -q -m "fleet"
  '';

  agent = { ... }: {
    imports = [ self.nixosModules.agent ];
    environment.systemPackages = [ pkgs.git ];
    services.fleetdeck-agent = {
      enable = true;
      controlPlane = "controlplane:50051";
      tokenFile = "/var/lib/fleetdeck-token";
      repoDir = "/srv/fleet";
      tests.timeout = 60;
      operations.switch = [ "${switch}" ];
    };
    systemd.services.fleetdeck-agent.preStart = "[ -d /srv/fleet/.git ] || ${makeFleetRepo}";
  };
in
pkgs.testers.runNixOSTest {
  name = "fleetdeck";

  nodes = {
    controlplane = { ... }: {
      imports = [ self.nixosModules.controlplane ];
      environment.systemPackages = [ pkgs.grpcurl pkgs.jq self.packages.${pkgs.stdenv.hostPlatform.system}.fleetdeck ];
      services.fleetdeck-controlplane = {
        enable = true;
        grpcAddress = "0.0.0.0:50051";
        openFirewall = true;
        adminTokenFile = "${pkgs.writeText "admin-token" adminToken}";
      };
    };
    agent1 = agent;
    agent2 = agent;
  };

  testScript = ''
    import json

    start_all()
    controlplane.wait_for_unit("fleetdeck-controlplane.service")
    controlplane.wait_for_open_port(50051)

    for machine in (agent1, agent2):
        name = machine.name
        out = controlplane.succeed(
            f"FLEETDECK_TOKEN=${adminToken} fleetdeck token --controlplane 127.0.0.1:50051 create {name}"
        )
        token = out.splitlines()[0].strip()
        machine.succeed(f"install -m 600 /dev/null /var/lib/fleetdeck-token && echo {token} > /var/lib/fleetdeck-token")
        machine.wait_for_unit("fleetdeck-agent.service")
        machine.wait_until_succeeds("test -d /srv/fleet/.git")

    commit = agent1.succeed("git -C /srv/fleet rev-parse HEAD").strip()
    assert commit == agent2.succeed("git -C /srv/fleet rev-parse HEAD").strip()
    lock_hash = agent1.succeed("sha256sum /srv/fleet/flake.lock").split()[0]
    desired = json.dumps({"commit": commit, "lock_hash": lock_hash})
    controlplane.succeed(f"${grpcurl} -d '{desired}' 127.0.0.1:50051 fleetdeck.v1.FleetService/SetDesiredState")

    def compartment(host, kind, status):
        return (
            f"${grpcurl} -d '{{\"name\": \"{host}\"}}' 127.0.0.1:50051 fleetdeck.v1.FleetService/GetHost"
            f" | jq -e '.host.compartments[] | select(.kind == \"COMPARTMENT_KIND_{kind}\")"
            f" | .status == \"COMPARTMENT_STATUS_{status}\"'"
        )

    for host in ("agent1", "agent2"):
        controlplane.wait_until_succeeds(compartment(host, "GIT", "OK"), timeout=120)

    run = json.dumps({"hosts": ["agent1", "agent2"], "operation": "OPERATION_SWITCH"})
    controlplane.succeed(f"${grpcurl} -d '{run}' 127.0.0.1:50051 fleetdeck.v1.FleetService/RunOperation")

    for host in ("agent1", "agent2"):
        controlplane.wait_until_succeeds(compartment(host, "SYSTEM", "OK"), timeout=300)
        controlplane.wait_until_succeeds(compartment(host, "TESTS", "OK"), timeout=300)
  '';
}
