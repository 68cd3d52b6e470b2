"""The audit log: who changed what, when, on which hosts. Recorded in one place, `AuditInterceptor`,
from each audited call's request and outcome; `AUDITED` says what each call's event holds.

Who: the API token's name, or the web user the web UI calls for (`x-fleetdeck-user` metadata, trusted
only from the web UI's own token or another admin token, which may do everything anyway).
"""

from __future__ import annotations

import contextvars
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import json_format

from fleetdeck.client import USER_METADATA
from fleetdeck.operations import operation_name
from fleetdeck.roles import role_name
from fleetdeck.v1 import audit_pb2 as audit_pb
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import rollouts_pb2 as rollouts_pb
from fleetdeck.v1 import types_pb2 as pb

from .agent_tokens import TOKEN_PREFIX as AGENT_TOKEN_PREFIX
from .credentials import bearer_token, token_hash
from .errors import ResourceExhausted, Unauthenticated
from .store import Store

log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
_ACTOR: contextvars.ContextVar[str] = contextvars.ContextVar("fleetdeck_actor", default="")


def current_actor() -> str:
    """Who makes the audited call being served ("" outside one)."""
    return _ACTOR.get()


@dataclass(frozen=True, slots=True)
class Entry:
    """What an audit event says beyond who and when."""

    detail: str
    hosts: list[str] = field(default_factory=list)


def _json(message: Any) -> str:
    return json_format.MessageToJson(message, indent=None, preserving_proto_field_name=True)


def _run(q: fleet_pb.RunOperationRequest, r: fleet_pb.RunOperationResponse) -> Entry:
    parts = [
        f"{x.host} -> command {x.command_id}" if x.command_id else f"{x.host} refused: {x.refused_reason}"
        for x in r.results
    ]
    return Entry(
        f"{operation_name(q.operation)}: " + "; ".join(parts), [x.host for x in r.results if x.command_id]
    )


def _cancel(q: fleet_pb.CancelCommandRequest, r: fleet_pb.CancelCommandResponse) -> Entry:
    c = r.command
    return Entry(f"stop {operation_name(c.operation)} command {c.id}", [c.host])


def _desired(q: fleet_pb.SetDesiredStateRequest, r: fleet_pb.SetDesiredStateResponse) -> Entry:
    d = r.desired_state
    return Entry(
        f"commit {d.commit} lock {d.lock_hash}" + (f" agent {d.agent_version}" if d.agent_version else "")
    )


def _settings(q: fleet_pb.UpdateSettingsRequest, r: fleet_pb.UpdateSettingsResponse) -> Entry:
    return Entry(f"{', '.join(q.update_mask.paths) or 'all'} -> {_json(r.settings)}")


def _host_settings(q: fleet_pb.UpdateHostSettingsRequest, r: fleet_pb.UpdateHostSettingsResponse) -> Entry:
    override = _json(q.test_settings_override)
    return Entry(f"{', '.join(q.update_mask.paths) or 'all'} -> {override}", [q.host])


def _agent_token(q: fleet_pb.CreateAgentTokenRequest, r: fleet_pb.CreateAgentTokenResponse) -> Entry:
    kind = "enrollment token" if q.enrollment else "agent token"
    return Entry(f"created {kind} {r.token_id}", [q.host])


def _revoke_agent(q: fleet_pb.RevokeAgentTokenRequest, r: fleet_pb.RevokeAgentTokenResponse) -> Entry:
    return Entry(f"revoked agent token {r.token.token_id}", [r.token.host])


def _api_token(q: fleet_pb.CreateApiTokenRequest, r: fleet_pb.CreateApiTokenResponse) -> Entry:
    t = r.api_token
    return Entry(f"created API token {t.token_id} for {t.name} ({role_name(t.role)})")


def _revoke_api(q: fleet_pb.RevokeApiTokenRequest, r: fleet_pb.RevokeApiTokenResponse) -> Entry:
    t = r.api_token
    return Entry(f"revoked API token {t.token_id} of {t.name}")


def _user(q: fleet_pb.PutUserRequest, r: fleet_pb.PutUserResponse) -> Entry:
    return Entry(f"set web user {r.username} ({role_name(r.role)})")


def _login(q: fleet_pb.LoginRequest, r: fleet_pb.LoginResponse | None) -> Entry:
    return Entry(f"from {q.client or 'an unknown client'}")


def _logout(q: fleet_pb.LogoutRequest, r: fleet_pb.LogoutResponse) -> Entry:
    return Entry("ended the web session")


def _labels(q: rollouts_pb.UpdateHostLabelsRequest, r: rollouts_pb.UpdateHostLabelsResponse) -> Entry:
    return Entry(f"labels {_json(q)} -> {dict(sorted(r.host.labels.items()))}", [q.host])


def _rollout_created(q: rollouts_pb.CreateRolloutRequest, r: rollouts_pb.CreateRolloutResponse) -> Entry:
    rollout = r.rollout
    hosts = [h.host for b in rollout.batches for h in b.hosts]
    return Entry(
        f"rollout {rollout.id}: commit {rollout.spec.commit} to {rollout.spec.selector or 'every host'}",
        hosts,
    )


def _rollout_changed(q: Any, r: Any) -> Entry:
    rollout: rollouts_pb.Rollout = r.rollout
    state = rollouts_pb.RolloutState.Name(rollout.state).removeprefix("ROLLOUT_STATE_").lower()
    extra = " (rolling back failed hosts)" if getattr(q, "roll_back_failed_hosts", False) else ""
    return Entry(f"rollout {rollout.id}: {state.replace('_', ' ')}{extra}")


AUDITED: dict[str, Callable[[Any, Any], Entry]] = {
    "RunOperation": _run,
    "CancelCommand": _cancel,
    "SetDesiredState": _desired,
    "UpdateSettings": _settings,
    "UpdateHostSettings": _host_settings,
    "CreateAgentToken": _agent_token,
    "RevokeAgentToken": _revoke_agent,
    "CreateApiToken": _api_token,
    "RevokeApiToken": _revoke_api,
    "PutUser": _user,
    "Login": _login,
    "Logout": _logout,
    "UpdateHostLabels": _labels,
    "CreateRollout": _rollout_created,
    "PauseRollout": _rollout_changed,
    "ResumeRollout": _rollout_changed,
    "AbortRollout": _rollout_changed,
    "ApproveRollout": _rollout_changed,
}
"""The FleetService calls that change state, and what their event says (from request and response)."""


def _metadata(metadata: tuple[tuple[str, str | bytes], ...] | None, key: str) -> str:
    for name, value in metadata or ():
        if name.lower() == key:
            return (value.decode() if isinstance(value, bytes) else value).strip()[:64]
    return ""


class AuditLog:
    """Names callers and appends events to the store."""

    def __init__(self, store: Store, internal_token: str) -> None:
        self.store = store
        self.internal_token = internal_token

    async def actor_of(self, metadata: tuple[tuple[str, str | bytes], ...] | None) -> str:
        """Who makes a call, from its metadata."""
        try:
            token = bearer_token(metadata, what="an API token")
        except Unauthenticated:
            return ANONYMOUS
        user = _metadata(metadata, USER_METADATA)
        if secrets.compare_digest(token, self.internal_token):
            return f"user {user}" if user else "web UI"
        if token.startswith(AGENT_TOKEN_PREFIX):
            return ANONYMOUS
        record = await self.store.find_api_token(token_hash(token))
        if record is None:
            return ANONYMOUS
        if user and record.role == pb.ROLE_ADMIN:
            return f"user {user} (via token {record.name})"
        return f"token {record.name}"

    async def record(self, actor: str, action: str, entry: Entry) -> audit_pb.AuditEvent:
        """Append one event."""
        event = audit_pb.AuditEvent(actor=actor, action=action, hosts=entry.hosts, detail=entry.detail)
        return await self.store.append_audit_event(event)


class AuditInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Records one audit event for every audited FleetService call that succeeded, and for every
    refused login. Place it after the access check, so a call refused there never runs or records."""

    def __init__(self, audit: AuditLog, prefix: str = "/fleetdeck.v1.FleetService/") -> None:
        self.audit = audit
        self.prefix = prefix

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method: str = details.method
        name = method.removeprefix(self.prefix)
        describe = AUDITED.get(name)
        if handler is None or describe is None or not method.startswith(self.prefix):
            return handler
        behavior = handler.unary_unary
        metadata = details.invocation_metadata
        audit = self.audit

        async def audited(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            actor = await audit.actor_of(metadata)
            if name == "Login":
                actor = f"user {request.username[:64]}"
            reset = _ACTOR.set(actor)
            try:
                response = await behavior(request, context)
            except (Unauthenticated, ResourceExhausted) as error:
                if name == "Login":
                    await audit.record(
                        actor, "LoginFailed", Entry(f"{describe(request, None).detail}: {error}")
                    )
                raise
            finally:
                _ACTOR.reset(reset)
            await audit.record(actor, name, describe(request, response))
            return response

        return grpc.unary_unary_rpc_method_handler(
            audited,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
