import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompartmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPARTMENT_KIND_UNSPECIFIED: _ClassVar[CompartmentKind]
    COMPARTMENT_KIND_AGENT: _ClassVar[CompartmentKind]
    COMPARTMENT_KIND_GIT: _ClassVar[CompartmentKind]
    COMPARTMENT_KIND_LOCK: _ClassVar[CompartmentKind]
    COMPARTMENT_KIND_SYSTEM: _ClassVar[CompartmentKind]
    COMPARTMENT_KIND_TESTS: _ClassVar[CompartmentKind]

class CompartmentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPARTMENT_STATUS_UNSPECIFIED: _ClassVar[CompartmentStatus]
    COMPARTMENT_STATUS_UNKNOWN: _ClassVar[CompartmentStatus]
    COMPARTMENT_STATUS_DISABLED: _ClassVar[CompartmentStatus]
    COMPARTMENT_STATUS_OK: _ClassVar[CompartmentStatus]
    COMPARTMENT_STATUS_OUTDATED: _ClassVar[CompartmentStatus]
    COMPARTMENT_STATUS_ERROR: _ClassVar[CompartmentStatus]
    COMPARTMENT_STATUS_WORKING: _ClassVar[CompartmentStatus]

class TestState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEST_STATE_UNSPECIFIED: _ClassVar[TestState]
    TEST_STATE_DISABLED: _ClassVar[TestState]
    TEST_STATE_NOT_RUN: _ClassVar[TestState]
    TEST_STATE_RUNNING: _ClassVar[TestState]
    TEST_STATE_PASSED: _ClassVar[TestState]
    TEST_STATE_FAILED: _ClassVar[TestState]
    TEST_STATE_CANCELLED: _ClassVar[TestState]

class Operation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OPERATION_UNSPECIFIED: _ClassVar[Operation]
    OPERATION_PULL: _ClassVar[Operation]
    OPERATION_SWITCH: _ClassVar[Operation]
    OPERATION_TEST: _ClassVar[Operation]
    OPERATION_ROLLBACK: _ClassVar[Operation]

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_VIEWER: _ClassVar[Role]
    ROLE_OPERATOR: _ClassVar[Role]
    ROLE_ADMIN: _ClassVar[Role]
    ROLE_DEPLOYER: _ClassVar[Role]

class CommandState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_STATE_UNSPECIFIED: _ClassVar[CommandState]
    COMMAND_STATE_PENDING: _ClassVar[CommandState]
    COMMAND_STATE_RUNNING: _ClassVar[CommandState]
    COMMAND_STATE_SUCCEEDED: _ClassVar[CommandState]
    COMMAND_STATE_FAILED: _ClassVar[CommandState]
    COMMAND_STATE_CANCELLED: _ClassVar[CommandState]
    COMMAND_STATE_TIMED_OUT: _ClassVar[CommandState]
    COMMAND_STATE_INTERRUPTED: _ClassVar[CommandState]
    COMMAND_STATE_REFUSED: _ClassVar[CommandState]
    COMMAND_STATE_QUEUED: _ClassVar[CommandState]

class NoTestRunReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NO_TEST_RUN_REASON_UNSPECIFIED: _ClassVar[NoTestRunReason]
    NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH: _ClassVar[NoTestRunReason]
    NO_TEST_RUN_REASON_TESTS_DISABLED: _ClassVar[NoTestRunReason]
    NO_TEST_RUN_REASON_NO_TESTS_DEFINED: _ClassVar[NoTestRunReason]
    NO_TEST_RUN_REASON_AUTO_RUN_OFF: _ClassVar[NoTestRunReason]
    NO_TEST_RUN_REASON_HOST_UNAVAILABLE: _ClassVar[NoTestRunReason]
    NO_TEST_RUN_REASON_NOT_RECORDED: _ClassVar[NoTestRunReason]

class TestOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEST_OUTCOME_UNSPECIFIED: _ClassVar[TestOutcome]
    TEST_OUTCOME_PASSED: _ClassVar[TestOutcome]
    TEST_OUTCOME_FAILED: _ClassVar[TestOutcome]
    TEST_OUTCOME_TIMED_OUT: _ClassVar[TestOutcome]
    TEST_OUTCOME_ERROR: _ClassVar[TestOutcome]
    TEST_OUTCOME_NOT_RUN: _ClassVar[TestOutcome]

class TestTrigger(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TEST_TRIGGER_UNSPECIFIED: _ClassVar[TestTrigger]
    TEST_TRIGGER_MANUAL: _ClassVar[TestTrigger]
    TEST_TRIGGER_AFTER_SWITCH: _ClassVar[TestTrigger]

class OutputStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_STREAM_UNSPECIFIED: _ClassVar[OutputStream]
    OUTPUT_STREAM_STDOUT: _ClassVar[OutputStream]
    OUTPUT_STREAM_STDERR: _ClassVar[OutputStream]
    OUTPUT_STREAM_SYSTEM: _ClassVar[OutputStream]

class CaseClassification(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CASE_CLASSIFICATION_UNSPECIFIED: _ClassVar[CaseClassification]
    CASE_CLASSIFICATION_PASSED: _ClassVar[CaseClassification]
    CASE_CLASSIFICATION_FLAKY: _ClassVar[CaseClassification]
    CASE_CLASSIFICATION_REGRESSION: _ClassVar[CaseClassification]
    CASE_CLASSIFICATION_BROKEN: _ClassVar[CaseClassification]
    CASE_CLASSIFICATION_FAILING: _ClassVar[CaseClassification]
COMPARTMENT_KIND_UNSPECIFIED: CompartmentKind
COMPARTMENT_KIND_AGENT: CompartmentKind
COMPARTMENT_KIND_GIT: CompartmentKind
COMPARTMENT_KIND_LOCK: CompartmentKind
COMPARTMENT_KIND_SYSTEM: CompartmentKind
COMPARTMENT_KIND_TESTS: CompartmentKind
COMPARTMENT_STATUS_UNSPECIFIED: CompartmentStatus
COMPARTMENT_STATUS_UNKNOWN: CompartmentStatus
COMPARTMENT_STATUS_DISABLED: CompartmentStatus
COMPARTMENT_STATUS_OK: CompartmentStatus
COMPARTMENT_STATUS_OUTDATED: CompartmentStatus
COMPARTMENT_STATUS_ERROR: CompartmentStatus
COMPARTMENT_STATUS_WORKING: CompartmentStatus
TEST_STATE_UNSPECIFIED: TestState
TEST_STATE_DISABLED: TestState
TEST_STATE_NOT_RUN: TestState
TEST_STATE_RUNNING: TestState
TEST_STATE_PASSED: TestState
TEST_STATE_FAILED: TestState
TEST_STATE_CANCELLED: TestState
OPERATION_UNSPECIFIED: Operation
OPERATION_PULL: Operation
OPERATION_SWITCH: Operation
OPERATION_TEST: Operation
OPERATION_ROLLBACK: Operation
ROLE_UNSPECIFIED: Role
ROLE_VIEWER: Role
ROLE_OPERATOR: Role
ROLE_ADMIN: Role
ROLE_DEPLOYER: Role
COMMAND_STATE_UNSPECIFIED: CommandState
COMMAND_STATE_PENDING: CommandState
COMMAND_STATE_RUNNING: CommandState
COMMAND_STATE_SUCCEEDED: CommandState
COMMAND_STATE_FAILED: CommandState
COMMAND_STATE_CANCELLED: CommandState
COMMAND_STATE_TIMED_OUT: CommandState
COMMAND_STATE_INTERRUPTED: CommandState
COMMAND_STATE_REFUSED: CommandState
COMMAND_STATE_QUEUED: CommandState
NO_TEST_RUN_REASON_UNSPECIFIED: NoTestRunReason
NO_TEST_RUN_REASON_NOT_A_SUCCESSFUL_SWITCH: NoTestRunReason
NO_TEST_RUN_REASON_TESTS_DISABLED: NoTestRunReason
NO_TEST_RUN_REASON_NO_TESTS_DEFINED: NoTestRunReason
NO_TEST_RUN_REASON_AUTO_RUN_OFF: NoTestRunReason
NO_TEST_RUN_REASON_HOST_UNAVAILABLE: NoTestRunReason
NO_TEST_RUN_REASON_NOT_RECORDED: NoTestRunReason
TEST_OUTCOME_UNSPECIFIED: TestOutcome
TEST_OUTCOME_PASSED: TestOutcome
TEST_OUTCOME_FAILED: TestOutcome
TEST_OUTCOME_TIMED_OUT: TestOutcome
TEST_OUTCOME_ERROR: TestOutcome
TEST_OUTCOME_NOT_RUN: TestOutcome
TEST_TRIGGER_UNSPECIFIED: TestTrigger
TEST_TRIGGER_MANUAL: TestTrigger
TEST_TRIGGER_AFTER_SWITCH: TestTrigger
OUTPUT_STREAM_UNSPECIFIED: OutputStream
OUTPUT_STREAM_STDOUT: OutputStream
OUTPUT_STREAM_STDERR: OutputStream
OUTPUT_STREAM_SYSTEM: OutputStream
CASE_CLASSIFICATION_UNSPECIFIED: CaseClassification
CASE_CLASSIFICATION_PASSED: CaseClassification
CASE_CLASSIFICATION_FLAKY: CaseClassification
CASE_CLASSIFICATION_REGRESSION: CaseClassification
CASE_CLASSIFICATION_BROKEN: CaseClassification
CASE_CLASSIFICATION_FAILING: CaseClassification

class Compartment(_message.Message):
    __slots__ = ("kind", "status", "message", "since")
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    kind: CompartmentKind
    status: CompartmentStatus
    message: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[CompartmentKind, str]] = ..., status: _Optional[_Union[CompartmentStatus, str]] = ..., message: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("cpu_percent", "memory_total_bytes", "memory_used_bytes", "swap_total_bytes", "swap_used_bytes", "load1", "load5", "load15", "disk_total_bytes", "disk_used_bytes")
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    SWAP_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    SWAP_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    LOAD1_FIELD_NUMBER: _ClassVar[int]
    LOAD5_FIELD_NUMBER: _ClassVar[int]
    LOAD15_FIELD_NUMBER: _ClassVar[int]
    DISK_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    cpu_percent: float
    memory_total_bytes: int
    memory_used_bytes: int
    swap_total_bytes: int
    swap_used_bytes: int
    load1: float
    load5: float
    load15: float
    disk_total_bytes: int
    disk_used_bytes: int
    def __init__(self, cpu_percent: _Optional[float] = ..., memory_total_bytes: _Optional[int] = ..., memory_used_bytes: _Optional[int] = ..., swap_total_bytes: _Optional[int] = ..., swap_used_bytes: _Optional[int] = ..., load1: _Optional[float] = ..., load5: _Optional[float] = ..., load15: _Optional[float] = ..., disk_total_bytes: _Optional[int] = ..., disk_used_bytes: _Optional[int] = ...) -> None: ...

class HostFacts(_message.Message):
    __slots__ = ("agent_version", "os", "commit", "lock_hash", "generation", "previous_generation", "at_first_generation")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    LOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_GENERATION_FIELD_NUMBER: _ClassVar[int]
    AT_FIRST_GENERATION_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    os: str
    commit: str
    lock_hash: str
    generation: str
    previous_generation: str
    at_first_generation: bool
    def __init__(self, agent_version: _Optional[str] = ..., os: _Optional[str] = ..., commit: _Optional[str] = ..., lock_hash: _Optional[str] = ..., generation: _Optional[str] = ..., previous_generation: _Optional[str] = ..., at_first_generation: _Optional[bool] = ...) -> None: ...

class TestSettings(_message.Message):
    __slots__ = ("enabled", "auto_run_after_switch", "timeout")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    AUTO_RUN_AFTER_SWITCH_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    auto_run_after_switch: bool
    timeout: _duration_pb2.Duration
    def __init__(self, enabled: _Optional[bool] = ..., auto_run_after_switch: _Optional[bool] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TestSettingsOverride(_message.Message):
    __slots__ = ("enabled", "auto_run_after_switch", "timeout")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    AUTO_RUN_AFTER_SWITCH_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    auto_run_after_switch: bool
    timeout: _duration_pb2.Duration
    def __init__(self, enabled: _Optional[bool] = ..., auto_run_after_switch: _Optional[bool] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class DeclaredTestSettings(_message.Message):
    __slots__ = ("enabled", "auto_run_after_switch", "timeout")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    AUTO_RUN_AFTER_SWITCH_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    auto_run_after_switch: bool
    timeout: _duration_pb2.Duration
    def __init__(self, enabled: _Optional[bool] = ..., auto_run_after_switch: _Optional[bool] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class TestStatus(_message.Message):
    __slots__ = ("state", "passed", "failed", "total", "completed", "current_case", "last_run_id", "last_run_at", "generation", "message", "defined_cases", "deployment_id", "verdict")
    STATE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    CURRENT_CASE_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DEFINED_CASES_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    state: TestState
    passed: int
    failed: int
    total: int
    completed: int
    current_case: str
    last_run_id: str
    last_run_at: _timestamp_pb2.Timestamp
    generation: str
    message: str
    defined_cases: int
    deployment_id: str
    verdict: TestState
    def __init__(self, state: _Optional[_Union[TestState, str]] = ..., passed: _Optional[int] = ..., failed: _Optional[int] = ..., total: _Optional[int] = ..., completed: _Optional[int] = ..., current_case: _Optional[str] = ..., last_run_id: _Optional[str] = ..., last_run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., generation: _Optional[str] = ..., message: _Optional[str] = ..., defined_cases: _Optional[int] = ..., deployment_id: _Optional[str] = ..., verdict: _Optional[_Union[TestState, str]] = ...) -> None: ...

class TestCaseResult(_message.Message):
    __slots__ = ("name", "outcome", "duration", "output", "exit_code", "file", "classification", "sub_cases", "message")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    SUB_CASES_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    outcome: TestOutcome
    duration: _duration_pb2.Duration
    output: str
    exit_code: int
    file: str
    classification: CaseClassification
    sub_cases: _containers.RepeatedCompositeFieldContainer[TestSubCase]
    message: str
    def __init__(self, name: _Optional[str] = ..., outcome: _Optional[_Union[TestOutcome, str]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., output: _Optional[str] = ..., exit_code: _Optional[int] = ..., file: _Optional[str] = ..., classification: _Optional[_Union[CaseClassification, str]] = ..., sub_cases: _Optional[_Iterable[_Union[TestSubCase, _Mapping]]] = ..., message: _Optional[str] = ...) -> None: ...

class TestRun(_message.Message):
    __slots__ = ("id", "host", "trigger", "generation", "state", "started_at", "finished_at", "exit_code", "passed", "failed", "total", "duration", "cases", "commit", "triggered_by_command_id", "deployment_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_BY_COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    host: str
    trigger: TestTrigger
    generation: str
    state: TestState
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    exit_code: int
    passed: int
    failed: int
    total: int
    duration: _duration_pb2.Duration
    cases: _containers.RepeatedCompositeFieldContainer[TestCaseResult]
    commit: str
    triggered_by_command_id: str
    deployment_id: str
    def __init__(self, id: _Optional[str] = ..., host: _Optional[str] = ..., trigger: _Optional[_Union[TestTrigger, str]] = ..., generation: _Optional[str] = ..., state: _Optional[_Union[TestState, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., exit_code: _Optional[int] = ..., passed: _Optional[int] = ..., failed: _Optional[int] = ..., total: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., cases: _Optional[_Iterable[_Union[TestCaseResult, _Mapping]]] = ..., commit: _Optional[str] = ..., triggered_by_command_id: _Optional[str] = ..., deployment_id: _Optional[str] = ...) -> None: ...

class OutputLine(_message.Message):
    __slots__ = ("number", "stream", "text")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    number: int
    stream: OutputStream
    text: str
    def __init__(self, number: _Optional[int] = ..., stream: _Optional[_Union[OutputStream, str]] = ..., text: _Optional[str] = ...) -> None: ...

class Command(_message.Message):
    __slots__ = ("id", "host", "operation", "state", "exit_code", "created_at", "started_at", "finished_at", "trigger", "message", "output_lines", "output_truncated_bytes", "timeout", "triggered_by_command_id", "triggered_test_command_id", "no_test_run_reason", "requested_by", "queue_expires_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LINES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TRUNCATED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_BY_COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    TRIGGERED_TEST_COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    NO_TEST_RUN_REASON_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    host: str
    operation: Operation
    state: CommandState
    exit_code: int
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    trigger: TestTrigger
    message: str
    output_lines: int
    output_truncated_bytes: int
    timeout: _duration_pb2.Duration
    triggered_by_command_id: str
    triggered_test_command_id: str
    no_test_run_reason: NoTestRunReason
    requested_by: str
    queue_expires_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., host: _Optional[str] = ..., operation: _Optional[_Union[Operation, str]] = ..., state: _Optional[_Union[CommandState, str]] = ..., exit_code: _Optional[int] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trigger: _Optional[_Union[TestTrigger, str]] = ..., message: _Optional[str] = ..., output_lines: _Optional[int] = ..., output_truncated_bytes: _Optional[int] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., triggered_by_command_id: _Optional[str] = ..., triggered_test_command_id: _Optional[str] = ..., no_test_run_reason: _Optional[_Union[NoTestRunReason, str]] = ..., requested_by: _Optional[str] = ..., queue_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class LastOperation(_message.Message):
    __slots__ = ("command_id", "state", "exit_code", "finished_at", "commit", "lock_hash", "generation")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    LOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    state: CommandState
    exit_code: int
    finished_at: _timestamp_pb2.Timestamp
    commit: str
    lock_hash: str
    generation: str
    def __init__(self, command_id: _Optional[str] = ..., state: _Optional[_Union[CommandState, str]] = ..., exit_code: _Optional[int] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., commit: _Optional[str] = ..., lock_hash: _Optional[str] = ..., generation: _Optional[str] = ...) -> None: ...

class DesiredState(_message.Message):
    __slots__ = ("commit", "lock_hash", "agent_version", "updated_at", "selector", "rollout_id")
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    LOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SELECTOR_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    commit: str
    lock_hash: str
    agent_version: str
    updated_at: _timestamp_pb2.Timestamp
    selector: str
    rollout_id: str
    def __init__(self, commit: _Optional[str] = ..., lock_hash: _Optional[str] = ..., agent_version: _Optional[str] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., selector: _Optional[str] = ..., rollout_id: _Optional[str] = ...) -> None: ...

class Settings(_message.Message):
    __slots__ = ("test_timeout", "heartbeat_interval", "test_history_limit", "operation_timeout")
    TEST_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TEST_HISTORY_LIMIT_FIELD_NUMBER: _ClassVar[int]
    OPERATION_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    test_timeout: _duration_pb2.Duration
    heartbeat_interval: _duration_pb2.Duration
    test_history_limit: int
    operation_timeout: _duration_pb2.Duration
    def __init__(self, test_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., test_history_limit: _Optional[int] = ..., operation_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class Host(_message.Message):
    __slots__ = ("name", "online", "last_seen", "facts", "metrics", "compartments", "test_status", "running_command_id", "running_operation", "last_switch", "last_pull", "test_settings", "test_settings_override", "declared_test_settings", "registered_at", "last_rollback", "current_deployment_id", "labels", "declared_labels", "label_overrides", "desired_state", "rollout_id")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class DeclaredLabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LabelOverridesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    COMPARTMENTS_FIELD_NUMBER: _ClassVar[int]
    TEST_STATUS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_OPERATION_FIELD_NUMBER: _ClassVar[int]
    LAST_SWITCH_FIELD_NUMBER: _ClassVar[int]
    LAST_PULL_FIELD_NUMBER: _ClassVar[int]
    TEST_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    TEST_SETTINGS_OVERRIDE_FIELD_NUMBER: _ClassVar[int]
    DECLARED_TEST_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ROLLBACK_FIELD_NUMBER: _ClassVar[int]
    CURRENT_DEPLOYMENT_ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    DECLARED_LABELS_FIELD_NUMBER: _ClassVar[int]
    LABEL_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    ROLLOUT_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    online: bool
    last_seen: _timestamp_pb2.Timestamp
    facts: HostFacts
    metrics: Metrics
    compartments: _containers.RepeatedCompositeFieldContainer[Compartment]
    test_status: TestStatus
    running_command_id: str
    running_operation: Operation
    last_switch: LastOperation
    last_pull: LastOperation
    test_settings: TestSettings
    test_settings_override: TestSettingsOverride
    declared_test_settings: DeclaredTestSettings
    registered_at: _timestamp_pb2.Timestamp
    last_rollback: LastOperation
    current_deployment_id: str
    labels: _containers.ScalarMap[str, str]
    declared_labels: _containers.ScalarMap[str, str]
    label_overrides: _containers.ScalarMap[str, str]
    desired_state: DesiredState
    rollout_id: str
    def __init__(self, name: _Optional[str] = ..., online: _Optional[bool] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., facts: _Optional[_Union[HostFacts, _Mapping]] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ..., compartments: _Optional[_Iterable[_Union[Compartment, _Mapping]]] = ..., test_status: _Optional[_Union[TestStatus, _Mapping]] = ..., running_command_id: _Optional[str] = ..., running_operation: _Optional[_Union[Operation, str]] = ..., last_switch: _Optional[_Union[LastOperation, _Mapping]] = ..., last_pull: _Optional[_Union[LastOperation, _Mapping]] = ..., test_settings: _Optional[_Union[TestSettings, _Mapping]] = ..., test_settings_override: _Optional[_Union[TestSettingsOverride, _Mapping]] = ..., declared_test_settings: _Optional[_Union[DeclaredTestSettings, _Mapping]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_rollback: _Optional[_Union[LastOperation, _Mapping]] = ..., current_deployment_id: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., declared_labels: _Optional[_Mapping[str, str]] = ..., label_overrides: _Optional[_Mapping[str, str]] = ..., desired_state: _Optional[_Union[DesiredState, _Mapping]] = ..., rollout_id: _Optional[str] = ...) -> None: ...

class TestSubCase(_message.Message):
    __slots__ = ("name", "classname", "outcome", "duration", "message")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASSNAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    classname: str
    outcome: TestOutcome
    duration: _duration_pb2.Duration
    message: str
    def __init__(self, name: _Optional[str] = ..., classname: _Optional[str] = ..., outcome: _Optional[_Union[TestOutcome, str]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...
