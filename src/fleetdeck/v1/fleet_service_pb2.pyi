import datetime

from fleetdeck.v1 import history_pb2 as _history_pb2
from fleetdeck.v1 import notifications_pb2 as _notifications_pb2
from fleetdeck.v1 import audit_pb2 as _audit_pb2
from fleetdeck.v1 import command_watch_pb2 as _command_watch_pb2
from fleetdeck.v1 import options_pb2 as _options_pb2
from fleetdeck.v1 import rollouts_pb2 as _rollouts_pb2
from fleetdeck.v1 import types_pb2 as _types_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListHostsRequest(_message.Message):
    __slots__ = ("selector",)
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    selector: str
    def __init__(self, selector: _Optional[str] = ...) -> None: ...

class ListHostsResponse(_message.Message):
    __slots__ = ("hosts", "version")
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Host]
    version: int
    def __init__(self, hosts: _Optional[_Iterable[_Union[_types_pb2.Host, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class GetHostRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetHostResponse(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: _types_pb2.Host
    def __init__(self, host: _Optional[_Union[_types_pb2.Host, _Mapping]] = ...) -> None: ...

class WatchFleetRequest(_message.Message):
    __slots__ = ("from_version", "selector")
    FROM_VERSION_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    from_version: int
    selector: str
    def __init__(self, from_version: _Optional[int] = ..., selector: _Optional[str] = ...) -> None: ...

class FleetSnapshot(_message.Message):
    __slots__ = ("hosts",)
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[_types_pb2.Host]
    def __init__(self, hosts: _Optional[_Iterable[_Union[_types_pb2.Host, _Mapping]]] = ...) -> None: ...

class TestsFailed(_message.Message):
    __slots__ = ("host", "run_id", "failed_cases", "message", "rollback_available", "generation", "cases", "offered_operations", "advice")
    HOST_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    FAILED_CASES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    OFFERED_OPERATIONS_FIELD_NUMBER: _ClassVar[int]
    ADVICE_FIELD_NUMBER: _ClassVar[int]
    host: str
    run_id: str
    failed_cases: _containers.RepeatedScalarFieldContainer[str]
    message: str
    rollback_available: bool
    generation: str
    cases: _containers.RepeatedCompositeFieldContainer[_history_pb2.FailedCase]
    offered_operations: _containers.RepeatedScalarFieldContainer[_types_pb2.Operation]
    advice: str
    def __init__(self, host: _Optional[str] = ..., run_id: _Optional[str] = ..., failed_cases: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ..., rollback_available: _Optional[bool] = ..., generation: _Optional[str] = ..., cases: _Optional[_Iterable[_Union[_history_pb2.FailedCase, _Mapping]]] = ..., offered_operations: _Optional[_Iterable[_Union[_types_pb2.Operation, str]]] = ..., advice: _Optional[str] = ...) -> None: ...

class HostSeen(_message.Message):
    __slots__ = ("host", "last_seen")
    HOST_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    last_seen: _timestamp_pb2.Timestamp
    def __init__(self, host: _Optional[str] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HostsSeen(_message.Message):
    __slots__ = ("hosts",)
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedCompositeFieldContainer[HostSeen]
    def __init__(self, hosts: _Optional[_Iterable[_Union[HostSeen, _Mapping]]] = ...) -> None: ...

class WatchFleetResponse(_message.Message):
    __slots__ = ("version", "snapshot", "host", "command", "tests_failed", "hosts_seen", "rollout")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TESTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    HOSTS_SEEN_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    version: int
    snapshot: FleetSnapshot
    host: _types_pb2.Host
    command: _types_pb2.Command
    tests_failed: TestsFailed
    hosts_seen: HostsSeen
    rollout: _rollouts_pb2.Rollout
    def __init__(self, version: _Optional[int] = ..., snapshot: _Optional[_Union[FleetSnapshot, _Mapping]] = ..., host: _Optional[_Union[_types_pb2.Host, _Mapping]] = ..., command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., tests_failed: _Optional[_Union[TestsFailed, _Mapping]] = ..., hosts_seen: _Optional[_Union[HostsSeen, _Mapping]] = ..., rollout: _Optional[_Union[_rollouts_pb2.Rollout, _Mapping]] = ...) -> None: ...

class RunOperationRequest(_message.Message):
    __slots__ = ("hosts", "operation", "timeout", "selector", "queue", "queue_ttl")
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    QUEUE_TTL_FIELD_NUMBER: _ClassVar[int]
    hosts: _containers.RepeatedScalarFieldContainer[str]
    operation: _types_pb2.Operation
    timeout: _duration_pb2.Duration
    selector: str
    queue: bool
    queue_ttl: _duration_pb2.Duration
    def __init__(self, hosts: _Optional[_Iterable[str]] = ..., operation: _Optional[_Union[_types_pb2.Operation, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., selector: _Optional[str] = ..., queue: _Optional[bool] = ..., queue_ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class OperationResult(_message.Message):
    __slots__ = ("host", "command_id", "refused_reason", "queued")
    HOST_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSED_REASON_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    host: str
    command_id: str
    refused_reason: str
    queued: bool
    def __init__(self, host: _Optional[str] = ..., command_id: _Optional[str] = ..., refused_reason: _Optional[str] = ..., queued: _Optional[bool] = ...) -> None: ...

class RunOperationResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[OperationResult]
    def __init__(self, results: _Optional[_Iterable[_Union[OperationResult, _Mapping]]] = ...) -> None: ...

class CancelCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class CancelCommandResponse(_message.Message):
    __slots__ = ("command",)
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    command: _types_pb2.Command
    def __init__(self, command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ...) -> None: ...

class GetCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class GetCommandResponse(_message.Message):
    __slots__ = ("command",)
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    command: _types_pb2.Command
    def __init__(self, command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ...) -> None: ...

class ListCommandsRequest(_message.Message):
    __slots__ = ("host", "page_size", "page_token")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    page_size: int
    page_token: str
    def __init__(self, host: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCommandsResponse(_message.Message):
    __slots__ = ("commands", "next_page_token")
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[_types_pb2.Command]
    next_page_token: str
    def __init__(self, commands: _Optional[_Iterable[_Union[_types_pb2.Command, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamCommandOutputRequest(_message.Message):
    __slots__ = ("command_id", "from_line", "no_follow")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_LINE_FIELD_NUMBER: _ClassVar[int]
    NO_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    from_line: int
    no_follow: bool
    def __init__(self, command_id: _Optional[str] = ..., from_line: _Optional[int] = ..., no_follow: _Optional[bool] = ...) -> None: ...

class StreamCommandOutputResponse(_message.Message):
    __slots__ = ("lines", "command", "truncated_bytes")
    LINES_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_BYTES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[_types_pb2.OutputLine]
    command: _types_pb2.Command
    truncated_bytes: int
    def __init__(self, lines: _Optional[_Iterable[_Union[_types_pb2.OutputLine, _Mapping]]] = ..., command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., truncated_bytes: _Optional[int] = ...) -> None: ...

class ListTestRunsRequest(_message.Message):
    __slots__ = ("host", "page_size", "page_token")
    HOST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    page_size: int
    page_token: str
    def __init__(self, host: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTestRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_types_pb2.TestRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[_types_pb2.TestRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTestRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetTestRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _types_pb2.TestRun
    def __init__(self, run: _Optional[_Union[_types_pb2.TestRun, _Mapping]] = ...) -> None: ...

class UpdateHostSettingsRequest(_message.Message):
    __slots__ = ("host", "test_settings_override", "update_mask")
    HOST_FIELD_NUMBER: _ClassVar[int]
    TEST_SETTINGS_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    host: str
    test_settings_override: _types_pb2.TestSettingsOverride
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, host: _Optional[str] = ..., test_settings_override: _Optional[_Union[_types_pb2.TestSettingsOverride, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateHostSettingsResponse(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: _types_pb2.Host
    def __init__(self, host: _Optional[_Union[_types_pb2.Host, _Mapping]] = ...) -> None: ...

class GetSettingsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: _types_pb2.Settings
    def __init__(self, settings: _Optional[_Union[_types_pb2.Settings, _Mapping]] = ...) -> None: ...

class UpdateSettingsRequest(_message.Message):
    __slots__ = ("settings", "update_mask")
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    settings: _types_pb2.Settings
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, settings: _Optional[_Union[_types_pb2.Settings, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateSettingsResponse(_message.Message):
    __slots__ = ("settings",)
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    settings: _types_pb2.Settings
    def __init__(self, settings: _Optional[_Union[_types_pb2.Settings, _Mapping]] = ...) -> None: ...

class SetDesiredStateRequest(_message.Message):
    __slots__ = ("commit", "lock_hash", "agent_version", "selector")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    LOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    commit: str
    lock_hash: str
    agent_version: str
    selector: str
    def __init__(self, commit: _Optional[str] = ..., lock_hash: _Optional[str] = ..., agent_version: _Optional[str] = ..., selector: _Optional[str] = ...) -> None: ...

class SetDesiredStateResponse(_message.Message):
    __slots__ = ("desired_state",)
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    desired_state: _types_pb2.DesiredState
    def __init__(self, desired_state: _Optional[_Union[_types_pb2.DesiredState, _Mapping]] = ...) -> None: ...

class GetDesiredStateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDesiredStateResponse(_message.Message):
    __slots__ = ("desired_state", "selector_states")
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_STATES_FIELD_NUMBER: _ClassVar[int]
    desired_state: _types_pb2.DesiredState
    selector_states: _containers.RepeatedCompositeFieldContainer[_types_pb2.DesiredState]
    def __init__(self, desired_state: _Optional[_Union[_types_pb2.DesiredState, _Mapping]] = ..., selector_states: _Optional[_Iterable[_Union[_types_pb2.DesiredState, _Mapping]]] = ...) -> None: ...

class CreateAgentTokenRequest(_message.Message):
    __slots__ = ("host", "enrollment", "ttl")
    HOST_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    host: str
    enrollment: bool
    ttl: _duration_pb2.Duration
    def __init__(self, host: _Optional[str] = ..., enrollment: _Optional[bool] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreateAgentTokenResponse(_message.Message):
    __slots__ = ("token", "token_id", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    token_id: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., token_id: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AgentToken(_message.Message):
    __slots__ = ("token_id", "host", "created_at", "last_used_at", "revoked_at", "expires_at", "enrollment")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    host: str
    created_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    enrollment: bool
    def __init__(self, token_id: _Optional[str] = ..., host: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enrollment: _Optional[bool] = ...) -> None: ...

class ListAgentTokensRequest(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: str
    def __init__(self, host: _Optional[str] = ...) -> None: ...

class ListAgentTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[AgentToken]
    def __init__(self, tokens: _Optional[_Iterable[_Union[AgentToken, _Mapping]]] = ...) -> None: ...

class RevokeAgentTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class RevokeAgentTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: AgentToken
    def __init__(self, token: _Optional[_Union[AgentToken, _Mapping]] = ...) -> None: ...

class CreateApiTokenRequest(_message.Message):
    __slots__ = ("name", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: _types_pb2.Role
    def __init__(self, name: _Optional[str] = ..., role: _Optional[_Union[_types_pb2.Role, str]] = ...) -> None: ...

class CreateApiTokenResponse(_message.Message):
    __slots__ = ("token", "api_token")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    API_TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    api_token: ApiToken
    def __init__(self, token: _Optional[str] = ..., api_token: _Optional[_Union[ApiToken, _Mapping]] = ...) -> None: ...

class ApiToken(_message.Message):
    __slots__ = ("token_id", "name", "role", "created_at", "revoked_at")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    role: _types_pb2.Role
    created_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[_Union[_types_pb2.Role, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListApiTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListApiTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[ApiToken]
    def __init__(self, tokens: _Optional[_Iterable[_Union[ApiToken, _Mapping]]] = ...) -> None: ...

class RevokeApiTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class RevokeApiTokenResponse(_message.Message):
    __slots__ = ("api_token",)
    API_TOKEN_FIELD_NUMBER: _ClassVar[int]
    api_token: ApiToken
    def __init__(self, api_token: _Optional[_Union[ApiToken, _Mapping]] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("username", "password", "client", "previous_session_token")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    client: str
    previous_session_token: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ..., client: _Optional[str] = ..., previous_session_token: _Optional[str] = ...) -> None: ...

class WebSession(_message.Message):
    __slots__ = ("username", "role", "csrf_token", "expires_at")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CSRF_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    username: str
    role: _types_pb2.Role
    csrf_token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, username: _Optional[str] = ..., role: _Optional[_Union[_types_pb2.Role, str]] = ..., csrf_token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("session_token", "session")
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    session: WebSession
    def __init__(self, session_token: _Optional[str] = ..., session: _Optional[_Union[WebSession, _Mapping]] = ...) -> None: ...

class GetWebSessionRequest(_message.Message):
    __slots__ = ("session_token",)
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    def __init__(self, session_token: _Optional[str] = ...) -> None: ...

class GetWebSessionResponse(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: WebSession
    def __init__(self, session: _Optional[_Union[WebSession, _Mapping]] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ("session_token",)
    SESSION_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_token: str
    def __init__(self, session_token: _Optional[str] = ...) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PutUserRequest(_message.Message):
    __slots__ = ("username", "password", "role")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    role: _types_pb2.Role
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ..., role: _Optional[_Union[_types_pb2.Role, str]] = ...) -> None: ...

class PutUserResponse(_message.Message):
    __slots__ = ("username", "role")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    username: str
    role: _types_pb2.Role
    def __init__(self, username: _Optional[str] = ..., role: _Optional[_Union[_types_pb2.Role, str]] = ...) -> None: ...
