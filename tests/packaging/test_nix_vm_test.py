"""nix/tests/vm.nix cannot run here (no nixpkgs, no KVM); what it is made of is checked instead: its
Python script compiles and names only real RPCs, fields and enum values, and its nodes' settings
pass the modules and the agent's own parser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from nix_support import ROOT, Nix

from agent.config import load_config
from fleetdeck.v1 import fleet_service_pb2, types_pb2

STAND_INS = Path(__file__).parent / "nix"


@pytest.fixture
def vm_test(nix: Nix) -> dict[str, Any]:
    """The VM test evaluated with the stand-in nixpkgs: name, testScript, each node's definitions."""
    test: dict[str, Any] = nix.eval_json(f"import {STAND_INS / 'eval-vm-test.nix'}")
    return test


def test_script_compiles_and_drives_only_its_own_nodes(vm_test: dict[str, Any]) -> None:
    assert vm_test["name"] == "fleetdeck"
    assert sorted(vm_test["nodes"]) == ["agent1", "agent2", "controlplane"]
    script = vm_test["testScript"]
    compile(script, "testScript", "exec")
    used = set(
        re.findall(r"\b(\w+)\.(?:succeed|wait_for_unit|wait_until_succeeds|wait_for_open_port)\(", script)
    )
    assert used == {"controlplane", "agent1", "agent2", "machine"}


def test_script_calls_real_rpcs_with_real_fields_and_enum_values(vm_test: dict[str, Any]) -> None:
    script = vm_test["testScript"]
    service = fleet_service_pb2.DESCRIPTOR.services_by_name["FleetService"]
    for rpc in set(re.findall(r"fleetdeck\.v1\.FleetService/(\w+)", script)):
        method = service.methods_by_name[rpc]
        assert method is not None
    requests = {
        "SetDesiredState": {"commit", "lock_hash"},
        "RunOperation": {"hosts", "operation"},
        "GetHost": {"name"},
    }
    for rpc, fields in requests.items():
        assert f"FleetService/{rpc}" in script
        assert fields <= set(service.methods_by_name[rpc].input_type.fields_by_name), rpc
    for enum_value in set(re.findall(r"\b(COMPARTMENT_(?:KIND|STATUS)_\w+?|OPERATION_[A-Z]+)\b", script)):
        if not enum_value.endswith("_"):
            assert hasattr(types_pb2, enum_value), enum_value
    assert types_pb2.COMPARTMENT_KIND_TESTS and types_pb2.COMPARTMENT_STATUS_OK
    assert "COMPARTMENT_KIND_{kind}" in script and '"TESTS", "OK"' in script
    response = fleet_service_pb2.GetHostResponse.DESCRIPTOR
    assert "compartments" in response.fields_by_name["host"].message_type.fields_by_name


@pytest.mark.parametrize("name", ["agent1", "agent2"])
def test_agent_nodes_pass_the_module_and_the_agents_parser(
    nix: Nix, vm_test: dict[str, Any], name: str, tmp_path: Path
) -> None:
    node = vm_test["nodes"][name]
    assert node["packages"] == ["git"]
    host = {
        **node,
        "nix": {"package": "/nix/store/nix"},
        "system": {"build": {"nixos-rebuild": "/nix/store/nixos-rebuild"}},
        "services": {"fleetdeck-agent": {**node["services"]["fleetdeck-agent"], "package": "/nix/store/fd"}},
    }
    config = nix.eval_module(ROOT / "nix/modules/agent.nix", host, {"git": "/nix/store/git"})["config"]
    toml = tmp_path / "agent.toml"
    toml.write_text(config["environment"]["etc"]["fleetdeck/agent.toml"]["text"])
    parsed = load_config(toml)
    assert parsed.host == name
    assert parsed.controlplane == "controlplane:50051"
    assert parsed.tests_dir == Path(f"/srv/fleet/hosts/{name}/tests")
    assert len(parsed.switch) == 1 and parsed.switch[0].endswith("-fleetdeck-vm-switch")


def test_control_plane_node_opens_grpc_to_the_agents(nix: Nix, vm_test: dict[str, Any]) -> None:
    node = vm_test["nodes"]["controlplane"]
    assert {"grpcurl", "jq", "fleetdeck"} <= set(node["packages"])
    settings = {**node["services"]["fleetdeck-controlplane"], "package": "/nix/store/fd"}
    host = {"services": {"fleetdeck-controlplane": settings}}
    config = nix.eval_module(ROOT / "nix/modules/controlplane.nix", host, {})["config"]
    assert 50051 in config["networking"]["firewall"]["allowedTCPPorts"]
    unit = config["systemd"]["services"]["fleetdeck-controlplane"]["serviceConfig"]
    assert [c.split(":")[0] for c in unit["LoadCredential"]] == ["admin-token"]
    admin = re.search(r"FLEETDECK_TOKEN=(\S+)", vm_test["testScript"])
    assert admin is not None and len(admin.group(1)) >= 32  # the control plane's minimum
    # grpcurl authenticates with the same token.
    assert f"authorization: Bearer {admin.group(1)}" in vm_test["testScript"]
