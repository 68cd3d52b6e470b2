"""What in-process watchers resync from: every host's name and online state, nothing computed."""

from __future__ import annotations

from controlplane.app import ControlPlane
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb


async def test_presence_names_every_host_with_its_online_state_only(cp: ControlPlane, connect, fleet) -> None:
    agent = await connect("web1")
    await agent.hello()
    await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="db1"))
    assert cp.fleet is not None
    cp.fleet.ensure("db1")  # known, never connected
    presence = {h.name: h for h in cp.fleet.presence().hosts}
    assert {n: h.online for n, h in presence.items()} == {"web1": True, "db1": False}
    assert not presence["web1"].compartments and not presence["web1"].HasField("facts")
