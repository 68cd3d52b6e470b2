"""Labels from the agent's hello and the API; selectors in ListHosts, WatchFleet, RunOperation and
SetDesiredState, over real gRPC."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import rollouts_pb2 as rpb
from fleetdeck.v1 import types_pb2 as pb

from .conftest import COMMIT, LOCK, TIMEOUT, ScriptedAgent

LABELS = {
    "web1": {"role": "web", "site": "ber", "canary": "true"},
    "web2": {"role": "web", "site": "fra"},
    "db1": {"role": "db", "site": "fra"},
}


async def _hello(agent: ScriptedAgent, labels: dict[str, str]) -> None:
    agent.send(hello=agent_pb.Hello(host=agent.host, facts=agent.facts(), labels=labels))
    await agent.recv("welcome")


@pytest.fixture
async def labelled(connect: Any) -> dict[str, ScriptedAgent]:
    agents = {}
    for name, labels in LABELS.items():
        agents[name] = await connect(name)
        await _hello(agents[name], labels)
    return agents


async def _names(fleet: fleet_grpc.FleetServiceStub, selector: str) -> list[str]:
    listed = await fleet.ListHosts(fleet_pb.ListHostsRequest(selector=selector))
    return [h.name for h in listed.hosts]


async def test_list_hosts_by_selector(fleet: fleet_grpc.FleetServiceStub, labelled: object) -> None:
    assert await _names(fleet, "") == ["db1", "web1", "web2"]
    assert await _names(fleet, "role=web") == ["web1", "web2"]
    assert await _names(fleet, "role=web,site!=fra") == ["web1"]
    assert await _names(fleet, "canary") == ["web1"]
    assert await _names(fleet, "!canary,site=fra") == ["db1", "web2"]
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="web1"))).host
    assert dict(host.labels) == dict(host.declared_labels) == LABELS["web1"]


@pytest.mark.parametrize(
    ("selector", "message"),
    [("role=", "has no value after '='"), ("role==web", "use key=value, not key==value")],
)
async def test_a_bad_selector_is_invalid_argument_everywhere(
    fleet: fleet_grpc.FleetServiceStub, labelled: object, selector: str, message: str
) -> None:
    calls = [
        fleet.ListHosts(fleet_pb.ListHostsRequest(selector=selector)),
        fleet.RunOperation(fleet_pb.RunOperationRequest(selector=selector, operation=pb.OPERATION_TEST)),
        fleet.SetDesiredState(
            fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK, selector=selector)
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await call
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in str(error.value.details())
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest(selector=selector))
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await watch.read()
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_api_labels_override_declared_ones_and_survive_a_new_hello(
    fleet: fleet_grpc.FleetServiceStub, labelled: dict[str, ScriptedAgent], connect: Any
) -> None:
    updated = await fleet.UpdateHostLabels(
        rpb.UpdateHostLabelsRequest(host="web1", labels={"canary": "", "site": "fra"})
    )
    assert dict(updated.host.labels) == {"role": "web", "site": "fra"}
    assert dict(updated.host.label_overrides) == {"canary": "", "site": "fra"}
    assert await _names(fleet, "canary") == []
    await labelled["web1"].close()
    again = await connect("web1")
    await _hello(again, {"role": "api"})
    host = (await fleet.GetHost(fleet_pb.GetHostRequest(name="web1"))).host
    assert dict(host.labels) == {"role": "api", "site": "fra"}
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await fleet.UpdateHostLabels(rpb.UpdateHostLabelsRequest(host="web1", labels={"bad key": "x"}))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "label key 'bad key' is not valid" in str(error.value.details())


async def test_run_operation_on_a_selector_starts_one_command_per_matching_host(
    fleet: fleet_grpc.FleetServiceStub, labelled: dict[str, ScriptedAgent]
) -> None:
    response = await fleet.RunOperation(
        fleet_pb.RunOperationRequest(selector="site=fra", operation=pb.OPERATION_TEST)
    )
    assert [(r.host, bool(r.command_id)) for r in response.results] == [("db1", True), ("web2", True)]
    for name in ("db1", "web2"):
        run = (await labelled[name].recv("run_command")).run_command
        assert run.operation == pb.OPERATION_TEST
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await fleet.RunOperation(
            fleet_pb.RunOperationRequest(selector="role=cache", operation=pb.OPERATION_TEST)
        )
    assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "matches no host" in str(error.value.details())
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await fleet.RunOperation(
            fleet_pb.RunOperationRequest(hosts=["db1"], selector="role=db", operation=pb.OPERATION_TEST)
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_watch_fleet_with_a_selector_sends_only_matching_hosts(
    fleet: fleet_grpc.FleetServiceStub, labelled: dict[str, ScriptedAgent]
) -> None:
    watch = fleet.WatchFleet(fleet_pb.WatchFleetRequest(selector="role=web"))
    async with asyncio.timeout(TIMEOUT):
        first = await watch.read()
        assert [h.name for h in first.snapshot.hosts] == ["web1", "web2"]
        await labelled["db1"].close()  # db1 goes offline: not sent
        await labelled["web2"].close()  # web2 goes offline: sent
        event = await watch.read()
    watch.cancel()
    assert (event.host.name, event.host.online) == ("web2", False)


async def test_a_host_compares_against_the_most_specific_desired_state(
    fleet: fleet_grpc.FleetServiceStub, labelled: object
) -> None:
    other = "b" * 40
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit=COMMIT, lock_hash=LOCK))
    await fleet.SetDesiredState(
        fleet_pb.SetDesiredStateRequest(commit=other, lock_hash=LOCK, selector=" role=web , site=ber")
    )
    hosts = {h.name: h for h in (await fleet.ListHosts(fleet_pb.ListHostsRequest())).hosts}
    git = {name: h.compartments[1].status for name, h in hosts.items()}
    assert git == {
        "db1": pb.COMPARTMENT_STATUS_OK,
        "web1": pb.COMPARTMENT_STATUS_OUTDATED,
        "web2": pb.COMPARTMENT_STATUS_OK,
    }
    assert hosts["web1"].desired_state.selector == "role=web,site=ber"
    assert hosts["web1"].desired_state.commit == other
    desired = await fleet.GetDesiredState(fleet_pb.GetDesiredStateRequest())
    assert desired.desired_state.commit == COMMIT
    assert [d.selector for d in desired.selector_states] == ["role=web,site=ber"]
