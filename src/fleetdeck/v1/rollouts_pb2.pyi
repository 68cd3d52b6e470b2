import datetime

from fleetdeck.v1 import types_pb2 as _types_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RolloutState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STATE_UNSPECIFIED: _ClassVar[RolloutState]
    ROLLOUT_STATE_RUNNING: _ClassVar[RolloutState]
    ROLLOUT_STATE_PAUSED: _ClassVar[RolloutState]
    ROLLOUT_STATE_AWAITING_APPROVAL: _ClassVar[RolloutState]
    ROLLOUT_STATE_STOPPED: _ClassVar[RolloutState]
    ROLLOUT_STATE_SUCCEEDED: _ClassVar[RolloutState]
    ROLLOUT_STATE_ABORTED: _ClassVar[RolloutState]

class RolloutStep(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_STEP_UNSPECIFIED: _ClassVar[RolloutStep]
    ROLLOUT_STEP_PULL: _ClassVar[RolloutStep]
    ROLLOUT_STEP_SWITCH: _ClassVar[RolloutStep]
    ROLLOUT_STEP_TEST: _ClassVar[RolloutStep]
    ROLLOUT_STEP_ROLLBACK: _ClassVar[RolloutStep]

class RolloutHostState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLLOUT_HOST_STATE_UNSPECIFIED: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_PENDING: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_WAITING: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_RUNNING: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_SUCCEEDED: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_FAILED: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_SKIPPED: _ClassVar[RolloutHostState]
    ROLLOUT_HOST_STATE_ABORTED: _ClassVar[RolloutHostState]

class FailedHostAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FAILED_HOST_ACTION_UNSPECIFIED: _ClassVar[FailedHostAction]
    FAILED_HOST_ACTION_LEAVE: _ClassVar[FailedHostAction]
    FAILED_HOST_ACTION_ROLL_BACK: _ClassVar[FailedHostAction]

class OfflineHostAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFFLINE_HOST_ACTION_UNSPECIFIED: _ClassVar[OfflineHostAction]
    OFFLINE_HOST_ACTION_FAIL: _ClassVar[OfflineHostAction]
    OFFLINE_HOST_ACTION_SKIP: _ClassVar[OfflineHostAction]
ROLLOUT_STATE_UNSPECIFIED: RolloutState
ROLLOUT_STATE_RUNNING: RolloutState
ROLLOUT_STATE_PAUSED: RolloutState
ROLLOUT_STATE_AWAITING_APPROVAL: RolloutState
ROLLOUT_STATE_STOPPED: RolloutState
ROLLOUT_STATE_SUCCEEDED: RolloutState
ROLLOUT_STATE_ABORTED: RolloutState
ROLLOUT_STEP_UNSPECIFIED: RolloutStep
ROLLOUT_STEP_PULL: RolloutStep
ROLLOUT_STEP_SWITCH: RolloutStep
ROLLOUT_STEP_TEST: RolloutStep
ROLLOUT_STEP_ROLLBACK: RolloutStep
ROLLOUT_HOST_STATE_UNSPECIFIED: RolloutHostState
ROLLOUT_HOST_STATE_PENDING: RolloutHostState
ROLLOUT_HOST_STATE_WAITING: RolloutHostState
ROLLOUT_HOST_STATE_RUNNING: RolloutHostState
ROLLOUT_HOST_STATE_SUCCEEDED: RolloutHostState
ROLLOUT_HOST_STATE_FAILED: RolloutHostState
ROLLOUT_HOST_STATE_SKIPPED: RolloutHostState
ROLLOUT_HOST_STATE_ABORTED: RolloutHostState
FAILED_HOST_ACTION_UNSPECIFIED: FailedHostAction
FAILED_HOST_ACTION_LEAVE: FailedHostAction
FAILED_HOST_ACTION_ROLL_BACK: FailedHostAction
OFFLINE_HOST_ACTION_UNSPECIFIED: OfflineHostAction
OFFLINE_HOST_ACTION_FAIL: OfflineHostAction
OFFLINE_HOST_ACTION_SKIP: OfflineHostAction

class RolloutSpec(_message.Message):
    __slots__ = ("commit", "lock_hash", "selector", "canary_hosts", "batch_size", "batch_percent", "max_parallel", "failure_budget", "batch_pause", "approve_after_canary", "failed_host_action", "offline_deadline", "offline_host_action")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    LOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    CANARY_HOSTS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    BATCH_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MAX_PARALLEL_FIELD_NUMBER: _ClassVar[int]
    FAILURE_BUDGET_FIELD_NUMBER: _ClassVar[int]
    BATCH_PAUSE_FIELD_NUMBER: _ClassVar[int]
    APPROVE_AFTER_CANARY_FIELD_NUMBER: _ClassVar[int]
    FAILED_HOST_ACTION_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_HOST_ACTION_FIELD_NUMBER: _ClassVar[int]
    commit: str
    lock_hash: str
    selector: str
    canary_hosts: _containers.RepeatedScalarFieldContainer[str]
    batch_size: int
    batch_percent: int
    max_parallel: int
    failure_budget: int
    batch_pause: _duration_pb2.Duration
    approve_after_canary: bool
    failed_host_action: FailedHostAction
    offline_deadline: _duration_pb2.Duration
    offline_host_action: OfflineHostAction
    def __init__(self, commit: _Optional[str] = ..., lock_hash: _Optional[str] = ..., selector: _Optional[str] = ..., canary_hosts: _Optional[_Iterable[str]] = ..., batch_size: _Optional[int] = ..., batch_percent: _Optional[int] = ..., max_parallel: _Optional[int] = ..., failure_budget: _Optional[int] = ..., batch_pause: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., approve_after_canary: _Optional[bool] = ..., failed_host_action: _Optional[_Union[FailedHostAction, str]] = ..., offline_deadline: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., offline_host_action: _Optional[_Union[OfflineHostAction, str]] = ...) -> None: ...

class RolloutHost(_message.Message):
    __slots__ = ("host", "state", "step", "command_id", "done_steps", "failed_cases", "message", "waiting_since", "test_run_id", "rolled_back")
    HOST_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DONE_STEPS_FIELD_NUMBER: _ClassVar[int]
    FAILED_CASES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WAITING_SINCE_FIELD_NUMBER: _ClassVar[int]
    TEST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ROLLED_BACK_FIELD_NUMBER: _ClassVar[int]
    host: str
    state: RolloutHostState
    step: RolloutStep
    command_id: str
    done_steps: _containers.RepeatedScalarFieldContainer[RolloutStep]
    failed_cases: _containers.RepeatedScalarFieldContainer[str]
    message: str
    waiting_since: _timestamp_pb2.Timestamp
    test_run_id: str
    rolled_back: bool
    def __init__(self, host: _Optional[str] = ..., state: _Optional[_Union[RolloutHostState, str]] = ..., step: _Optional[_Union[RolloutStep, str]] = ..., command_id: _Optional[str] = ..., done_steps: _Optional[_Iterable[_Union[RolloutStep, str]]] = ..., failed_cases: _Optional[_Iterable[str]] = ..., message: _Optional[str] = ..., waiting_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., test_run_id: _Optional[str] = ..., rolled_back: _Optional[bool] = ...) -> None: ...

class RolloutBatch(_message.Message):
    __slots__ = ("canary", "hosts")
    CANARY_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    canary: bool
    hosts: _containers.RepeatedCompositeFieldContainer[RolloutHost]
    def __init__(self, canary: _Optional[bool] = ..., hosts: _Optional[_Iterable[_Union[RolloutHost, _Mapping]]] = ...) -> None: ...

class Rollout(_message.Message):
    __slots__ = ("id", "spec", "state", "batches", "current_batch", "message", "created_at", "updated_at", "finished_at", "resume_at", "failed_hosts", "accepted_failures", "roll_back_failed_hosts")
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    CURRENT_BATCH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    RESUME_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_HOSTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FAILURES_FIELD_NUMBER: _ClassVar[int]
    ROLL_BACK_FAILED_HOSTS_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: RolloutSpec
    state: RolloutState
    batches: _containers.RepeatedCompositeFieldContainer[RolloutBatch]
    current_batch: int
    message: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    resume_at: _timestamp_pb2.Timestamp
    failed_hosts: int
    accepted_failures: int
    roll_back_failed_hosts: bool
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[RolloutSpec, _Mapping]] = ..., state: _Optional[_Union[RolloutState, str]] = ..., batches: _Optional[_Iterable[_Union[RolloutBatch, _Mapping]]] = ..., current_batch: _Optional[int] = ..., message: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resume_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_hosts: _Optional[int] = ..., accepted_failures: _Optional[int] = ..., roll_back_failed_hosts: _Optional[bool] = ...) -> None: ...

class UpdateHostLabelsRequest(_message.Message):
    __slots__ = ("host", "labels", "replace")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    host: str
    labels: _containers.ScalarMap[str, str]
    replace: bool
    def __init__(self, host: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., replace: _Optional[bool] = ...) -> None: ...

class UpdateHostLabelsResponse(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: _types_pb2.Host
    def __init__(self, host: _Optional[_Union[_types_pb2.Host, _Mapping]] = ...) -> None: ...

class CreateRolloutRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: RolloutSpec
    def __init__(self, spec: _Optional[_Union[RolloutSpec, _Mapping]] = ...) -> None: ...

class CreateRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class GetRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class GetRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ListRolloutsRequest(_message.Message):
    __slots__ = ("page_size",)
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    def __init__(self, page_size: _Optional[int] = ...) -> None: ...

class ListRolloutsResponse(_message.Message):
    __slots__ = ("rollouts",)
    ROLLOUTS_FIELD_NUMBER: _ClassVar[int]
    rollouts: _containers.RepeatedCompositeFieldContainer[Rollout]
    def __init__(self, rollouts: _Optional[_Iterable[_Union[Rollout, _Mapping]]] = ...) -> None: ...

class PauseRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class PauseRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ResumeRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class ResumeRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class AbortRolloutRequest(_message.Message):
    __slots__ = ("rollout_id", "roll_back_failed_hosts")
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLL_BACK_FAILED_HOSTS_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    roll_back_failed_hosts: bool
    def __init__(self, rollout_id: _Optional[str] = ..., roll_back_failed_hosts: _Optional[bool] = ...) -> None: ...

class AbortRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...

class ApproveRolloutRequest(_message.Message):
    __slots__ = ("rollout_id",)
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    rollout_id: str
    def __init__(self, rollout_id: _Optional[str] = ...) -> None: ...

class ApproveRolloutResponse(_message.Message):
    __slots__ = ("rollout",)
    ROLLOUT_FIELD_NUMBER: _ClassVar[int]
    rollout: Rollout
    def __init__(self, rollout: _Optional[_Union[Rollout, _Mapping]] = ...) -> None: ...
