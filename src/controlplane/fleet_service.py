"""FleetService: the typed API for automation, the CLI and the web UI. Thin: unpack, call, pack.

Errors are raised as domain errors; `errors.ErrorInterceptor` turns them into gRPC statuses.
Longer than most modules only because the contract has many RPCs: one short method each.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from fleetdeck.v1 import audit_pb2
from fleetdeck.v1 import command_watch_pb2 as watch_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import history_pb2 as history_pb
from fleetdeck.v1 import notifications_pb2 as notifications_pb
from fleetdeck.v1 import rollouts_pb2 as rollouts_pb
from fleetdeck.v1 import types_pb2 as pb

from . import desired, history, policy
from .access import ApiTokens
from .accounts import Accounts
from .agent_tokens import ENROLLMENT_TTL_SECONDS, AgentTokens, check_host_name
from .audit import current_actor
from .bounds import check_number
from .command_queue import CommandQueue
from .command_verdict import watch_command
from .commands import FINISHED_STATES, Commands
from .errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from .fleet import Fleet, checked_labels, parse_selector
from .notifier import Notifier
from .output import OutputFollowers, in_messages
from .paging import decode_page_token, encode_page_token, page_size
from .rollouts import Rollouts
from .store import AuditQuery
from .timeutil import from_ts, now_ts, to_ts

log = logging.getLogger(__name__)

_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class FleetService(fleet_grpc.FleetServiceServicer):
    """Serves the fleet from the live view, and from SQLite where memory does not hold it."""

    def __init__(
        self,
        fleet: Fleet,
        commands: Commands,
        followers: OutputFollowers,
        tokens: AgentTokens,
        api_tokens: ApiTokens,
        accounts: Accounts,
        notifier: Notifier,
    ) -> None:
        self.accounts = accounts
        self.notifier = notifier
        self.fleet = fleet
        self.store = fleet.store
        self.commands = commands
        self.followers = followers
        self.tokens = tokens
        self.api_tokens = api_tokens
        self.rollouts: Rollouts  # set by the app (hooks: the constructor stays as it was)
        self.queue: CommandQueue

    async def ListHosts(self, request: fleet_pb.ListHostsRequest, context: Any) -> fleet_pb.ListHostsResponse:
        hosts = self.fleet.snapshot(request.selector).hosts
        return fleet_pb.ListHostsResponse(hosts=hosts, version=self.fleet.hub.version)

    async def GetHost(self, request: fleet_pb.GetHostRequest, context: Any) -> fleet_pb.GetHostResponse:
        return fleet_pb.GetHostResponse(host=self.fleet.view(request.name))

    async def WatchFleet(
        self, request: fleet_pb.WatchFleetRequest, context: Any
    ) -> AsyncIterator[fleet_pb.WatchFleetResponse]:
        selected = parse_selector(request.selector)
        async for event in self.fleet.hub.watch(
            request.from_version, lambda: self.fleet.snapshot(request.selector)
        ):
            if event.WhichOneof("event") != "host" or selected.matches(event.host.labels):
                yield event

    async def RunOperation(
        self, request: fleet_pb.RunOperationRequest, context: Any
    ) -> fleet_pb.RunOperationResponse:
        timeout = request.timeout if request.HasField("timeout") else None
        if timeout is not None:
            policy.at_least(timeout, "timeout")
        hosts = list(request.hosts)
        if request.selector:
            if hosts:
                raise InvalidArgument("name hosts or give a selector, not both")
            hosts = [s.host.name for s in self.fleet.select(request.selector)]
            if not hosts:
                raise FailedPrecondition(f"selector {request.selector!r} matches no host")
        ttl = request.queue_ttl if request.HasField("queue_ttl") else None
        if ttl is not None and not request.queue:
            raise InvalidArgument("queue_ttl applies to queued commands only; set queue too")
        actor = current_actor()
        queue = self.queue.enqueuer(self.queue.ttl_seconds(ttl), actor) if request.queue else None
        results = await self.commands.run_operation(
            hosts, request.operation, timeout, queue, requested_by=actor
        )
        return fleet_pb.RunOperationResponse(results=results)

    async def CancelCommand(
        self, request: fleet_pb.CancelCommandRequest, context: Any
    ) -> fleet_pb.CancelCommandResponse:
        return fleet_pb.CancelCommandResponse(command=await self.commands.cancel(request.command_id))

    async def GetCommand(
        self, request: fleet_pb.GetCommandRequest, context: Any
    ) -> fleet_pb.GetCommandResponse:
        return fleet_pb.GetCommandResponse(command=await self.commands.get(request.command_id))

    async def ListCommands(
        self, request: fleet_pb.ListCommandsRequest, context: Any
    ) -> fleet_pb.ListCommandsResponse:
        if request.host:
            self.fleet.state(request.host)
        limit = page_size(request.page_size, default=50, maximum=500)
        page = await self.store.list_commands(request.host, limit, decode_page_token(request.page_token))
        response = fleet_pb.ListCommandsResponse(commands=page.items)
        if page.next_cursor is not None:
            response.next_page_token = encode_page_token(page.next_cursor)
        return response

    async def StreamCommandOutput(
        self, request: fleet_pb.StreamCommandOutputRequest, context: Any
    ) -> AsyncIterator[fleet_pb.StreamCommandOutputResponse]:
        check_number(request.from_line, "from_line")
        # Follow before reading, so a finish that lands in between is not missed.
        follower = self.followers.follow(request.command_id) if not request.no_follow else None
        try:
            command = await self.commands.get(request.command_id)
            stored = await self.store.read_output(request.command_id, request.from_line)
            next_line = stored[-1].number + 1 if stored else request.from_line
            first = True
            for part in list(in_messages(stored)) or [[]]:
                response = fleet_pb.StreamCommandOutputResponse(lines=part)
                if first and request.from_line == 0:  # a resumed stream was told already
                    response.truncated_bytes = command.output_truncated_bytes
                first = False
                yield response
            if follower is None or command.state in FINISHED_STATES:
                yield fleet_pb.StreamCommandOutputResponse(
                    command=await self.commands.get(request.command_id)
                )
                return
            while True:
                item = await follower.queue.get()
                if item is None:
                    raise Unavailable("the control plane is shutting down; reconnect shortly")
                if follower.overflowed:
                    # Lines were dropped from the queue: catch up from the store, then go on live.
                    follower.overflowed = False
                    tail = await self.store.read_output(request.command_id, next_line)
                    for part in in_messages(tail):
                        next_line = part[-1].number + 1
                        yield fleet_pb.StreamCommandOutputResponse(lines=part)
                if isinstance(item, pb.Command):
                    # Lines stored by another replica may not have been announced here yet.
                    for part in in_messages(await self.store.read_output(request.command_id, next_line)):
                        next_line = part[-1].number + 1
                        yield fleet_pb.StreamCommandOutputResponse(lines=part)
                    yield fleet_pb.StreamCommandOutputResponse(command=item)
                    return
                fresh = [line for line in item if line.number >= next_line]
                for part in in_messages(fresh):  # one ingest batch can hold thousands of lines
                    next_line = part[-1].number + 1
                    yield fleet_pb.StreamCommandOutputResponse(lines=part)
        finally:
            if follower is not None:
                self.followers.unfollow(request.command_id, follower)

    async def ListTestRuns(
        self, request: fleet_pb.ListTestRunsRequest, context: Any
    ) -> fleet_pb.ListTestRunsResponse:
        self.fleet.state(request.host)
        limit = page_size(request.page_size, default=20, maximum=200)
        page = await self.store.list_test_runs(request.host, limit, decode_page_token(request.page_token))
        response = fleet_pb.ListTestRunsResponse(runs=page.items)
        if page.next_cursor is not None:
            response.next_page_token = encode_page_token(page.next_cursor)
        return response

    async def GetTestRun(
        self, request: fleet_pb.GetTestRunRequest, context: Any
    ) -> fleet_pb.GetTestRunResponse:
        run = await self.store.get_test_run(request.run_id)
        if run is None:
            raise NotFound(f"no test run with id {request.run_id}")
        return fleet_pb.GetTestRunResponse(run=run)

    async def ListCaseResults(
        self, request: history_pb.ListCaseResultsRequest, context: Any
    ) -> history_pb.ListCaseResultsResponse:
        self.fleet.state(request.host)
        limit = page_size(request.page_size, default=50, maximum=500)
        page, summary = await history.case_results(
            self.store, request.host, request.name, limit, decode_page_token(request.page_token)
        )
        response = history_pb.ListCaseResultsResponse(results=page.items, summary=summary)
        if page.next_cursor is not None:
            response.next_page_token = encode_page_token(page.next_cursor)
        return response

    async def ListCaseSummaries(
        self, request: history_pb.ListCaseSummariesRequest, context: Any
    ) -> history_pb.ListCaseSummariesResponse:
        self.fleet.state(request.host)
        summaries = await self.store.case_summaries(request.host)
        return history_pb.ListCaseSummariesResponse(summaries=summaries.values())

    async def ListFailingCases(
        self, request: history_pb.ListFailingCasesRequest, context: Any
    ) -> history_pb.ListFailingCasesResponse:
        return history_pb.ListFailingCasesResponse(cases=await history.failing_cases(self.store))

    async def CreateWebhook(
        self, request: notifications_pb.CreateWebhookRequest, context: Any
    ) -> notifications_pb.CreateWebhookResponse:
        webhook, secret = await self.notifier.create(request.url, request.events, request.format)
        return notifications_pb.CreateWebhookResponse(webhook=webhook, secret=secret)

    async def ListWebhooks(
        self, request: notifications_pb.ListWebhooksRequest, context: Any
    ) -> notifications_pb.ListWebhooksResponse:
        return notifications_pb.ListWebhooksResponse(webhooks=await self.store.list_webhooks())

    async def DeleteWebhook(
        self, request: notifications_pb.DeleteWebhookRequest, context: Any
    ) -> notifications_pb.DeleteWebhookResponse:
        await self.notifier.delete(request.id)
        return notifications_pb.DeleteWebhookResponse()

    async def TestWebhook(
        self, request: notifications_pb.TestWebhookRequest, context: Any
    ) -> notifications_pb.TestWebhookResponse:
        return notifications_pb.TestWebhookResponse(event_id=await self.notifier.test(request.id))

    async def UpdateHostSettings(
        self, request: fleet_pb.UpdateHostSettingsRequest, context: Any
    ) -> fleet_pb.UpdateHostSettingsResponse:
        state = self.fleet.state(request.host)
        paths = list(request.update_mask.paths)
        override = policy.updated_override(state.override, request.test_settings_override, paths)
        await self.fleet.settings_changed(state, override)
        return fleet_pb.UpdateHostSettingsResponse(host=self.fleet.view(state.host.name))

    async def GetSettings(
        self, request: fleet_pb.GetSettingsRequest, context: Any
    ) -> fleet_pb.GetSettingsResponse:
        return fleet_pb.GetSettingsResponse(settings=self.fleet.settings)

    async def UpdateSettings(
        self, request: fleet_pb.UpdateSettingsRequest, context: Any
    ) -> fleet_pb.UpdateSettingsResponse:
        paths = list(request.update_mask.paths)
        settings = policy.updated_settings(self.fleet.settings, request.settings, paths)
        await self.fleet.fleet_settings_changed(settings)
        log.info("fleet settings changed: %s", ", ".join(paths or policy.SETTINGS_PATHS))
        return fleet_pb.UpdateSettingsResponse(settings=settings)

    async def SetDesiredState(
        self, request: fleet_pb.SetDesiredStateRequest, context: Any
    ) -> fleet_pb.SetDesiredStateResponse:
        if not _SHA1.match(request.commit):
            raise InvalidArgument("commit must be a full 40-digit lower-case hex git commit id")
        if not _SHA256.match(request.lock_hash):
            raise InvalidArgument("lock_hash must be the 64-digit lower-case hex SHA-256 of flake.lock")
        selector = str(parse_selector(request.selector))  # normalized: one row per selector
        desired = pb.DesiredState(
            commit=request.commit,
            lock_hash=request.lock_hash,
            agent_version=request.agent_version,
            updated_at=now_ts(),
            selector=selector,
        )
        if selector:
            await self.store.save_selector_desired(desired)
        else:
            await self.store.save_desired(desired)
        await self.fleet.set_desired(desired)
        log.info("desired state of %s set to commit %s", selector or "the fleet", desired.commit[:12])
        return fleet_pb.SetDesiredStateResponse(desired_state=desired)

    async def GetDesiredState(
        self, request: fleet_pb.GetDesiredStateRequest, context: Any
    ) -> fleet_pb.GetDesiredStateResponse:
        return fleet_pb.GetDesiredStateResponse(
            desired_state=self.fleet.desired or pb.DesiredState(),
            selector_states=desired.ordered(self.fleet.selector_desired),
        )

    async def CreateAgentToken(
        self, request: fleet_pb.CreateAgentTokenRequest, context: Any
    ) -> fleet_pb.CreateAgentTokenResponse:
        check_host_name(request.host)
        ttl = request.ttl.ToNanoseconds() / 1e9 if request.HasField("ttl") else ENROLLMENT_TTL_SECONDS
        if request.HasField("ttl") and not request.enrollment:
            raise InvalidArgument("ttl applies to enrollment tokens only; host tokens live until revoked")
        if ttl <= 0:
            raise InvalidArgument("ttl must be positive")
        token, token_id, expires_at = await self.tokens.create(
            request.host, enrollment=request.enrollment, ttl_seconds=ttl
        )
        kind = "enrollment token" if request.enrollment else "agent token"
        log.info("created %s %s for host %s", kind, token_id, request.host)
        response = fleet_pb.CreateAgentTokenResponse(token=token, token_id=token_id)
        if expires_at is not None:
            response.expires_at.CopyFrom(to_ts(expires_at))
        return response

    async def ListAgentTokens(
        self, request: fleet_pb.ListAgentTokensRequest, context: Any
    ) -> fleet_pb.ListAgentTokensResponse:
        await self.tokens.flush_last_used()  # first uses are written behind: list what is true now
        return fleet_pb.ListAgentTokensResponse(tokens=await self.store.list_tokens(request.host))

    async def RevokeAgentToken(
        self, request: fleet_pb.RevokeAgentTokenRequest, context: Any
    ) -> fleet_pb.RevokeAgentTokenResponse:
        if not await self.store.revoke_token(request.token_id):
            raise NotFound(f"no agent token with id {request.token_id}")
        token = next(t for t in await self.store.list_tokens() if t.token_id == request.token_id)
        self.fleet.token_revoked(token.host, token.token_id)
        await self.fleet.placement.revoked(f"agent {token.host} {token.token_id}")  # held elsewhere
        log.info("revoked agent token %s of host %s", token.token_id, token.host)
        return fleet_pb.RevokeAgentTokenResponse(token=token)

    async def CreateApiToken(
        self, request: fleet_pb.CreateApiTokenRequest, context: Any
    ) -> fleet_pb.CreateApiTokenResponse:
        token, record = await self.api_tokens.create(request.name, request.role)
        log.info("created API token %s (%s) for %s", record.token_id, pb.Role.Name(record.role), record.name)
        return fleet_pb.CreateApiTokenResponse(token=token, api_token=record)

    async def ListApiTokens(
        self, request: fleet_pb.ListApiTokensRequest, context: Any
    ) -> fleet_pb.ListApiTokensResponse:
        return fleet_pb.ListApiTokensResponse(tokens=await self.store.list_api_tokens())

    async def RevokeApiToken(
        self, request: fleet_pb.RevokeApiTokenRequest, context: Any
    ) -> fleet_pb.RevokeApiTokenResponse:
        if not await self.store.revoke_api_token(request.token_id):
            raise NotFound(f"no API token with id {request.token_id}")
        token = next(t for t in await self.store.list_api_tokens() if t.token_id == request.token_id)
        self.api_tokens.revoked(token.token_id)  # its open streams end now, here and elsewhere
        await self.fleet.placement.revoked(f"api {token.token_id}")
        log.info("revoked API token %s of %s", token.token_id, token.name)
        return fleet_pb.RevokeApiTokenResponse(api_token=token)

    async def Login(self, request: fleet_pb.LoginRequest, context: Any) -> fleet_pb.LoginResponse:
        return await self.accounts.login(
            request.username, request.password, request.client, request.previous_session_token
        )

    async def GetWebSession(
        self, request: fleet_pb.GetWebSessionRequest, context: Any
    ) -> fleet_pb.GetWebSessionResponse:
        return fleet_pb.GetWebSessionResponse(session=await self.accounts.session(request.session_token))

    async def Logout(self, request: fleet_pb.LogoutRequest, context: Any) -> fleet_pb.LogoutResponse:
        await self.accounts.logout(request.session_token)
        return fleet_pb.LogoutResponse()

    async def PutUser(self, request: fleet_pb.PutUserRequest, context: Any) -> fleet_pb.PutUserResponse:
        await self.accounts.put_user(request.username, request.password, request.role)
        log.info("web user %s set (%s)", request.username, pb.Role.Name(request.role))
        return fleet_pb.PutUserResponse(username=request.username, role=request.role)

    async def WatchCommand(
        self, request: watch_pb.WatchCommandRequest, context: Any
    ) -> AsyncIterator[watch_pb.WatchCommandResponse]:
        async for response in watch_command(self.fleet, self.commands, request.command_id):
            yield response

    async def ListAuditEvents(
        self, request: audit_pb2.ListAuditEventsRequest, context: Any
    ) -> audit_pb2.ListAuditEventsResponse:
        query = AuditQuery(
            host=request.host,
            actor=request.actor,
            since=from_ts(request.since) if request.HasField("since") else None,
            until=from_ts(request.until) if request.HasField("until") else None,
        )
        limit = page_size(request.page_size, default=100, maximum=1000)
        page = await self.store.list_audit_events(query, limit, decode_page_token(request.page_token))
        response = audit_pb2.ListAuditEventsResponse(events=page.items)
        if page.next_cursor is not None:
            response.next_page_token = encode_page_token(page.next_cursor)
        return response

    async def UpdateHostLabels(
        self, request: rollouts_pb.UpdateHostLabelsRequest, context: Any
    ) -> rollouts_pb.UpdateHostLabelsResponse:
        state = self.fleet.state(request.host)
        overrides = {} if request.replace else dict(state.host.label_overrides)
        overrides.update(checked_labels(dict(request.labels), allow_empty_values=True))
        await self.fleet.labels_changed(state, overrides)
        return rollouts_pb.UpdateHostLabelsResponse(host=self.fleet.view(request.host))

    async def CreateRollout(
        self, request: rollouts_pb.CreateRolloutRequest, context: Any
    ) -> rollouts_pb.CreateRolloutResponse:
        spec = rollouts_pb.RolloutSpec()
        spec.CopyFrom(request.spec)
        return rollouts_pb.CreateRolloutResponse(rollout=await self.rollouts.create(spec))

    async def GetRollout(
        self, request: rollouts_pb.GetRolloutRequest, context: Any
    ) -> rollouts_pb.GetRolloutResponse:
        return rollouts_pb.GetRolloutResponse(rollout=await self.rollouts.get(request.rollout_id))

    async def ListRollouts(
        self, request: rollouts_pb.ListRolloutsRequest, context: Any
    ) -> rollouts_pb.ListRolloutsResponse:
        limit = page_size(request.page_size, default=50, maximum=500)
        return rollouts_pb.ListRolloutsResponse(rollouts=await self.rollouts.list(limit))

    async def PauseRollout(
        self, request: rollouts_pb.PauseRolloutRequest, context: Any
    ) -> rollouts_pb.PauseRolloutResponse:
        return rollouts_pb.PauseRolloutResponse(rollout=await self.rollouts.pause(request.rollout_id))

    async def ResumeRollout(
        self, request: rollouts_pb.ResumeRolloutRequest, context: Any
    ) -> rollouts_pb.ResumeRolloutResponse:
        return rollouts_pb.ResumeRolloutResponse(rollout=await self.rollouts.resume(request.rollout_id))

    async def AbortRollout(
        self, request: rollouts_pb.AbortRolloutRequest, context: Any
    ) -> rollouts_pb.AbortRolloutResponse:
        rollout = await self.rollouts.abort(request.rollout_id, request.roll_back_failed_hosts)
        return rollouts_pb.AbortRolloutResponse(rollout=rollout)

    async def ApproveRollout(
        self, request: rollouts_pb.ApproveRolloutRequest, context: Any
    ) -> rollouts_pb.ApproveRolloutResponse:
        return rollouts_pb.ApproveRolloutResponse(rollout=await self.rollouts.approve(request.rollout_id))
