"""`GET /events` over HTTP against uvicorn: ids are fleet versions, resume, fallback, keepalive, drain."""

from __future__ import annotations

import asyncio
import json

import pytest
from scripted_agent import TIMEOUT
from webui_support import Connect, SSEReader, User, logged_in, put_user, serve_webui, set_desired

from controlplane.app import ControlPlane
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from webui.app import create_app


async def until_ended(reader: SSEReader) -> None:
    """Read (and drop) events until the stream ends, within TIMEOUT."""
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(EOFError):
            while True:
                await reader.next_event()


async def test_events_start_with_a_snapshot_whose_id_is_the_fleet_version(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, user: User
) -> None:
    await connect("gpc0")
    version = (await fleet.ListHosts(fleet_pb.ListHostsRequest(), timeout=TIMEOUT)).version
    async with (
        logged_in(cp.http_url, user) as client,
        client.stream("GET", "/events") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        _, event_id, data = await SSEReader(response.aiter_lines()).next_of("snapshot")
    assert event_id is not None and int(event_id) >= version
    hosts = json.loads(data)["hosts"]
    assert [h["name"] for h in hosts] == ["gpc0"]
    assert [c["kind"] for c in hosts[0]["compartments"]] == [
        "COMPARTMENT_KIND_AGENT",
        "COMPARTMENT_KIND_GIT",
        "COMPARTMENT_KIND_LOCK",
        "COMPARTMENT_KIND_SYSTEM",
        "COMPARTMENT_KIND_TESTS",
    ]


async def test_last_event_id_resumes_with_only_what_was_missed(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, user: User
) -> None:
    await connect("gpc0")
    async with logged_in(cp.http_url, user) as client:
        async with client.stream("GET", "/events") as response:
            _, seen, _ = await SSEReader(response.aiter_lines()).next_of("snapshot")
        assert seen is not None
        await set_desired(fleet)
        async with client.stream("GET", "/events", headers={"Last-Event-ID": seen}) as response:
            event, event_id, data = await SSEReader(response.aiter_lines()).next_of("snapshot", "host")
    assert event == "host"
    assert event_id is not None and int(event_id) > int(seen)
    assert json.loads(data)["name"] == "gpc0"


async def test_an_unknown_last_event_id_falls_back_to_a_snapshot(
    cp: ControlPlane, connect: Connect, user: User
) -> None:
    await connect("gpc0")
    async with logged_in(cp.http_url, user) as client:
        for headers, params in (
            ({"Last-Event-ID": "999999999"}, {}),
            ({"Last-Event-ID": "junk"}, {}),
            ({}, {"since": "999999999"}),
            ({"Last-Event-ID": "1" + "0" * 25}, {}),  # beyond int64
            ({}, {"since": str(2**63)}),
            ({"Last-Event-ID": "-5"}, {}),
        ):
            async with client.stream("GET", "/events", headers=headers, params=params) as response:
                event, _, _ = await SSEReader(response.aiter_lines()).next_of("snapshot", "host")
            assert event == "snapshot"


async def test_an_idle_stream_carries_keepalive_comments(cp: ControlPlane, user: User) -> None:
    async with (
        serve_webui(cp.grpc_target, keepalive=0.2) as url,
        logged_in(url, user) as client,
        client.stream("GET", "/events") as response,
    ):
        reader = SSEReader(response.aiter_lines())
        await reader.next_of("snapshot")
        comment = await reader.next_comment(within=2)
    assert comment.startswith("ping")


def test_keepalive_defaults_to_at_most_15_seconds() -> None:
    assert 0 < create_app("127.0.0.1:1").state.keepalive_seconds <= 15


async def test_stopping_the_control_plane_ends_open_streams_promptly(cp: ControlPlane, user: User) -> None:
    async with (
        logged_in(cp.http_url, user) as client,
        client.stream("GET", "/events") as response,
    ):
        reader = SSEReader(response.aiter_lines())
        await reader.next_of("snapshot")
        async with asyncio.timeout(3):
            stopping = asyncio.create_task(cp.stop())
            _, _, data = await reader.next_of("status")
            assert json.loads(data)["connected"] is False
            await stopping


async def test_stopping_the_control_plane_ends_a_followed_command_output_promptly(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, user: User
) -> None:
    agent = await connect("gpc0")
    await set_desired(fleet)
    async with logged_in(cp.http_url, user) as client:
        started = await client.post("/api/operations", json={"hosts": ["gpc0"], "operation": "test"})
        command_id = started.json()["results"][0]["command_id"]
        await agent.next_command()
        agent.output(command_id, "still running")
        async with client.stream("GET", f"/api/commands/{command_id}/output") as response:
            reader = SSEReader(response.aiter_lines())
            await reader.next_of("lines")
            stopping = asyncio.create_task(cp.stop())
            async with asyncio.timeout(1):  # well before the control plane's 2 s grace is over
                with pytest.raises(EOFError):
                    await reader.next_event()
            await stopping


async def test_command_output_from_a_line_beyond_int64_starts_at_the_first_line(
    cp: ControlPlane, user: User
) -> None:
    async with (
        logged_in(cp.http_url, user) as client,
        client.stream("GET", "/api/commands/nope/output", headers={"Last-Event-ID": "9" * 30}) as response,
    ):
        _, _, data = await SSEReader(response.aiter_lines()).next_of("failure")
    assert "nope" in json.loads(data)


async def test_open_streams_end_once_the_session_is_revoked_elsewhere(
    cp: ControlPlane, fleet: fleet_grpc.FleetServiceAsyncStub, connect: Connect, user: User
) -> None:
    agent = await connect("gpc0")
    await set_desired(fleet)
    async with serve_webui(cp.grpc_target, session_check=0.1) as url, logged_in(url, user) as client:
        started = await client.post("/api/operations", json={"hosts": ["gpc0"], "operation": "test"})
        command_id = started.json()["results"][0]["command_id"]
        await agent.next_command()
        agent.output(command_id, "still running")
        async with (
            client.stream("GET", "/events") as events,
            client.stream("GET", f"/api/commands/{command_id}/output") as output,
        ):
            fleet_reader, output_reader = SSEReader(events.aiter_lines()), SSEReader(output.aiter_lines())
            await fleet_reader.next_of("snapshot")
            await output_reader.next_of("lines")
            # An admin resets the password: the control plane ends every session of the user.
            await put_user(cp.grpc_target, cp.bootstrap_admin_token, User(user.name, "a-brand-new-password"))
            await until_ended(fleet_reader)
            await until_ended(output_reader)
        assert (await client.get("/api/session")).status_code == 401
