"""The audit log end to end: every state change leaves exactly one event naming who, what and on
which hosts; refused logins too; the web UI's user is trusted only from an admin token; and
`fleetdeck audit` lists and filters it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from fleetdeck_cli import fleetdeck

from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.audit import AUDITED
from fleetdeck.client import ON_BEHALF_OF, aio_channel
from fleetdeck.v1 import audit_pb2 as audit_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import rollouts_pb2 as rollouts_pb
from fleetdeck.v1 import types_pb2 as pb

ADMIN_TOKEN = "fdapi_" + "a" * 40
PASSWORD = "correct horse battery"


@pytest.fixture
async def cp(tmp_path: Path) -> AsyncIterator[ControlPlane]:
    """A control plane that requires API tokens (overrides the conftest's open one)."""
    config = ControlPlaneConfig(
        database=tmp_path / "fleet.db",
        grpc_address="127.0.0.1:0",
        admin_token=ADMIN_TOKEN,
        admin_password=PASSWORD,
        require_api_tokens=True,
    )
    async with ControlPlane(config) as plane:
        yield plane


@pytest.fixture
async def fleet(cp: ControlPlane) -> AsyncIterator[fleet_grpc.FleetServiceStub]:
    async with aio_channel(cp.grpc_target, ADMIN_TOKEN) as channel:
        yield fleet_grpc.FleetServiceStub(channel)


async def _events(fleet: fleet_grpc.FleetServiceStub, **filters: object) -> list[audit_pb.AuditEvent]:
    listed = await fleet.ListAuditEvents(audit_pb.ListAuditEventsRequest(page_size=1000, **filters))  # type: ignore[arg-type]
    return list(listed.events)


async def test_every_state_change_leaves_exactly_one_event(cp: ControlPlane, fleet, connect) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    created = await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="ci", role=pb.ROLE_DEPLOYER))
    async with aio_channel(cp.grpc_target, created.token) as channel:
        ci = fleet_grpc.FleetServiceStub(channel)
        switch: list[str] = []

        async def run() -> None:
            response = await ci.RunOperation(
                fleet_pb.RunOperationRequest(hosts=["gpc0", "nosuch"], operation=pb.OPERATION_SWITCH)
            )
            switch.append(response.results[0].command_id)

        async def cancel() -> None:
            await ci.CancelCommand(fleet_pb.CancelCommandRequest(command_id=switch[0]))

        web1_token: list[str] = []
        rollout_ids: list[str] = []

        async def create_rollout() -> None:
            spec = rollouts_pb.RolloutSpec(commit="e" * 40, lock_hash="f" * 64, selector="role=db")
            created = await ci.CreateRollout(rollouts_pb.CreateRolloutRequest(spec=spec))
            rollout_ids.append(created.rollout.id)

        async def rollout_call(name: str) -> None:
            request_type = getattr(rollouts_pb, f"{name}Request")
            await getattr(ci, name)(request_type(rollout_id=rollout_ids[0]))

        async def agent_token() -> None:
            made = await fleet.CreateAgentToken(fleet_pb.CreateAgentTokenRequest(host="web1"))
            web1_token.append(made.token_id)

        async def login() -> None:
            await fleet.Login(fleet_pb.LoginRequest(username="admin", password=PASSWORD, client="10.0.0.7"))

        async def failed_login() -> None:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await fleet.Login(
                    fleet_pb.LoginRequest(username="admin", password="wrong", client="10.0.0.8")
                )
            assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

        async def logout() -> None:
            token = (
                await fleet.Login(fleet_pb.LoginRequest(username="bob", password=PASSWORD * 2))
            ).session_token
            before = len(await _events(fleet))
            ON_BEHALF_OF.set("bob")  # as the web UI sends it for a logged-in user
            try:
                await fleet.Logout(fleet_pb.LogoutRequest(session_token=token))
            finally:
                ON_BEHALF_OF.set("")
            assert len(await _events(fleet)) == before + 1

        actions: list[tuple[str, Callable[[], Awaitable[object]], str, list[str], str]] = [
            ("RunOperation", run, "token ci", ["gpc0"], "nosuch refused: host nosuch is not known"),
            ("CancelCommand", cancel, "token ci", ["gpc0"], "stop switch command"),
            (
                "SetDesiredState",
                lambda: ci.SetDesiredState(
                    fleet_pb.SetDesiredStateRequest(commit="c" * 40, lock_hash="d" * 64)
                ),
                "token ci",
                [],
                "commit " + "c" * 40,
            ),
            (
                "UpdateSettings",
                lambda: fleet.UpdateSettings(
                    fleet_pb.UpdateSettingsRequest(
                        settings=pb.Settings(test_history_limit=7),
                        update_mask={"paths": ["test_history_limit"]},
                    )
                ),
                "token admin",
                [],
                "test_history_limit",
            ),
            (
                "UpdateHostSettings",
                lambda: fleet.UpdateHostSettings(
                    fleet_pb.UpdateHostSettingsRequest(
                        host="gpc0",
                        test_settings_override=pb.TestSettingsOverride(auto_run_after_switch=False),
                    )
                ),
                "token admin",
                ["gpc0"],
                "auto_run_after_switch",
            ),
            (
                "UpdateHostLabels",
                lambda: fleet.UpdateHostLabels(
                    rollouts_pb.UpdateHostLabelsRequest(host="gpc0", labels={"role": "db"})
                ),
                "token admin",
                ["gpc0"],
                "-> {'role': 'db'}",
            ),
            ("CreateRollout", create_rollout, "token ci", ["gpc0"], "commit " + "e" * 40 + " to role=db"),
            ("PauseRollout", lambda: rollout_call("PauseRollout"), "token ci", [], ": paused"),
            ("ResumeRollout", lambda: rollout_call("ResumeRollout"), "token ci", [], ": running"),
            ("AbortRollout", lambda: rollout_call("AbortRollout"), "token ci", [], ": aborted"),
            ("CreateAgentToken", agent_token, "token admin", ["web1"], "created agent token"),
            (
                "RevokeAgentToken",
                lambda: fleet.RevokeAgentToken(fleet_pb.RevokeAgentTokenRequest(token_id=web1_token[0])),
                "token admin",
                ["web1"],
                "revoked agent token",
            ),
            (
                "CreateApiToken",
                lambda: fleet.CreateApiToken(
                    fleet_pb.CreateApiTokenRequest(name="dash", role=pb.ROLE_VIEWER)
                ),
                "token admin",
                [],
                "for dash (viewer)",
            ),
            (
                "RevokeApiToken",
                lambda: fleet.RevokeApiToken(
                    fleet_pb.RevokeApiTokenRequest(token_id=created.api_token.token_id)
                ),
                "token admin",
                [],
                "of ci",
            ),
            (
                "PutUser",
                lambda: fleet.PutUser(
                    fleet_pb.PutUserRequest(username="bob", password=PASSWORD * 2, role=pb.ROLE_OPERATOR)
                ),
                "token admin",
                [],
                "set web user bob (operator)",
            ),
            ("Login", login, "user admin", [], "from 10.0.0.7"),
            ("LoginFailed", failed_login, "user admin", [], "from 10.0.0.8: wrong user name or password"),
            ("Logout", logout, "user bob (via token admin)", [], "ended the web session"),
        ]
        # ApproveRollout needs a canary that passed: tests/agent/test_rollouts_e2e.py checks its event.
        assert {name for name, *_ in actions} == set(AUDITED) - {"ApproveRollout"} | {"LoginFailed"}
        for name, act, actor, hosts, detail in actions:
            before = await _events(fleet)
            await act()
            after = await _events(fleet)
            if name == "Logout":  # its Login came first
                after = after[:1] + after[2:]
            assert len(after) == len(before) + 1, name
            event = after[0]
            assert (event.action, event.actor, list(event.hosts)) == (name, actor, hosts), event
            assert detail in event.detail, (name, event.detail)
            assert event.sequence > (before[0].sequence if before else 0) and event.time.seconds > 0

    # Who ran the switch is on the command too (the History shows it).
    command = await fleet.GetCommand(fleet_pb.GetCommandRequest(command_id=switch[0]))
    assert command.command.requested_by == "token ci"


async def test_a_user_named_by_a_non_admin_token_is_not_believed(cp: ControlPlane, fleet, connect) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    operator = (
        await fleet.CreateApiToken(fleet_pb.CreateApiTokenRequest(name="robot", role=pb.ROLE_OPERATOR))
    ).token
    async with aio_channel(cp.grpc_target, operator) as channel:
        ON_BEHALF_OF.set("mallory")
        try:
            await fleet_grpc.FleetServiceStub(channel).RunOperation(
                fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_PULL)
            )
        finally:
            ON_BEHALF_OF.set("")
    (event,) = [e for e in await _events(fleet, host="gpc0") if e.action == "RunOperation"]
    assert event.actor == "token robot"


async def test_refused_calls_leave_no_event(cp: ControlPlane, fleet) -> None:
    before = await _events(fleet)
    with pytest.raises(grpc.aio.AioRpcError):
        await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=["nosuch"], operation=pb.OPERATION_PULL))
    with pytest.raises(grpc.aio.AioRpcError):
        await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit="nope"))
    assert await _events(fleet) == before


async def test_the_audit_verb_lists_and_filters(cp: ControlPlane, fleet, connect) -> None:
    agent = await connect("gpc0")
    await agent.hello()
    await fleet.SetDesiredState(fleet_pb.SetDesiredStateRequest(commit="c" * 40, lock_hash="d" * 64))
    await fleet.RunOperation(fleet_pb.RunOperationRequest(hosts=["gpc0"], operation=pb.OPERATION_PULL))

    listed = await fleetdeck("audit", target=cp.grpc_target, token=ADMIN_TOKEN)
    assert listed.code == 0, listed.err
    lines = listed.out.splitlines()
    assert lines[0].split() == ["#", "TIME", "ACTOR", "ACTION", "HOSTS", "DETAIL"]
    assert "RunOperation" in lines[1] and "gpc0" in lines[1] and "token admin" in lines[1]

    only = await fleetdeck(
        "audit", "--host", "gpc0", "--since", "1h", "-o", "json", target=cp.grpc_target, token=ADMIN_TOKEN
    )
    assert only.code == 0, only.err
    assert [e["action"] for e in json.loads(only.out)["events"]] == ["RunOperation", "CreateAgentToken"]
    future = await fleetdeck(
        "audit", "--since", "2999-01-01T00:00:00", target=cp.grpc_target, token=ADMIN_TOKEN
    )
    assert future.code == 0 and len(future.out.splitlines()) <= 1
    bad = await fleetdeck("audit", "--since", "yesterday", target=cp.grpc_target, token=ADMIN_TOKEN)
    assert bad.code == 2 and "yesterday" in bad.err
