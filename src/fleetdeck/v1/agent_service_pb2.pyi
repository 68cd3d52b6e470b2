import datetime

from fleetdeck.v1 import types_pb2 as _types_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ConnectRequest(_message.Message):
    __slots__ = ("hello", "heartbeat", "command_started", "output", "command_finished", "test_progress", "test_run", "command_refused")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_STARTED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FINISHED_FIELD_NUMBER: _ClassVar[int]
    TEST_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TEST_RUN_FIELD_NUMBER: _ClassVar[int]
    COMMAND_REFUSED_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    command_started: CommandStarted
    output: OutputChunk
    command_finished: CommandFinished
    test_progress: TestProgress
    test_run: TestRunReport
    command_refused: CommandRefused
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., command_started: _Optional[_Union[CommandStarted, _Mapping]] = ..., output: _Optional[_Union[OutputChunk, _Mapping]] = ..., command_finished: _Optional[_Union[CommandFinished, _Mapping]] = ..., test_progress: _Optional[_Union[TestProgress, _Mapping]] = ..., test_run: _Optional[_Union[TestRunReport, _Mapping]] = ..., command_refused: _Optional[_Union[CommandRefused, _Mapping]] = ...) -> None: ...

class ConnectResponse(_message.Message):
    __slots__ = ("welcome", "run_command", "cancel_command", "settings", "ack")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    RUN_COMMAND_FIELD_NUMBER: _ClassVar[int]
    CANCEL_COMMAND_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    run_command: RunCommand
    cancel_command: CancelCommand
    settings: AgentSettings
    ack: Ack
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., run_command: _Optional[_Union[RunCommand, _Mapping]] = ..., cancel_command: _Optional[_Union[CancelCommand, _Mapping]] = ..., settings: _Optional[_Union[AgentSettings, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("host", "facts", "running_command_ids", "unacknowledged_command_ids", "declared_test_settings", "test_status", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HOST_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COMMAND_IDS_FIELD_NUMBER: _ClassVar[int]
    UNACKNOWLEDGED_COMMAND_IDS_FIELD_NUMBER: _ClassVar[int]
    DECLARED_TEST_SETTINGS_FIELD_NUMBER: _ClassVar[int]
    TEST_STATUS_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    host: str
    facts: _types_pb2.HostFacts
    running_command_ids: _containers.RepeatedScalarFieldContainer[str]
    unacknowledged_command_ids: _containers.RepeatedScalarFieldContainer[str]
    declared_test_settings: _types_pb2.DeclaredTestSettings
    test_status: _types_pb2.TestStatus
    labels: _containers.ScalarMap[str, str]
    def __init__(self, host: _Optional[str] = ..., facts: _Optional[_Union[_types_pb2.HostFacts, _Mapping]] = ..., running_command_ids: _Optional[_Iterable[str]] = ..., unacknowledged_command_ids: _Optional[_Iterable[str]] = ..., declared_test_settings: _Optional[_Union[_types_pb2.DeclaredTestSettings, _Mapping]] = ..., test_status: _Optional[_Union[_types_pb2.TestStatus, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("facts", "running_command_id", "metrics", "test_status", "sent_at")
    FACTS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    TEST_STATUS_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    facts: _types_pb2.HostFacts
    running_command_id: str
    metrics: _types_pb2.Metrics
    test_status: _types_pb2.TestStatus
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, facts: _Optional[_Union[_types_pb2.HostFacts, _Mapping]] = ..., running_command_id: _Optional[str] = ..., metrics: _Optional[_Union[_types_pb2.Metrics, _Mapping]] = ..., test_status: _Optional[_Union[_types_pb2.TestStatus, _Mapping]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CommandStarted(_message.Message):
    __slots__ = ("command_id", "started_at", "generation")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    started_at: _timestamp_pb2.Timestamp
    generation: str
    def __init__(self, command_id: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., generation: _Optional[str] = ...) -> None: ...

class OutputChunk(_message.Message):
    __slots__ = ("command_id", "seq", "lines")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    seq: int
    lines: _containers.RepeatedCompositeFieldContainer[_types_pb2.OutputLine]
    def __init__(self, command_id: _Optional[str] = ..., seq: _Optional[int] = ..., lines: _Optional[_Iterable[_Union[_types_pb2.OutputLine, _Mapping]]] = ...) -> None: ...

class CommandFinished(_message.Message):
    __slots__ = ("command_id", "seq", "state", "exit_code", "finished_at", "message", "facts")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FACTS_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    seq: int
    state: _types_pb2.CommandState
    exit_code: int
    finished_at: _timestamp_pb2.Timestamp
    message: str
    facts: _types_pb2.HostFacts
    def __init__(self, command_id: _Optional[str] = ..., seq: _Optional[int] = ..., state: _Optional[_Union[_types_pb2.CommandState, str]] = ..., exit_code: _Optional[int] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., message: _Optional[str] = ..., facts: _Optional[_Union[_types_pb2.HostFacts, _Mapping]] = ...) -> None: ...

class TestProgress(_message.Message):
    __slots__ = ("command_id", "status", "finished_case")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_CASE_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    status: _types_pb2.TestStatus
    finished_case: _types_pb2.TestCaseResult
    def __init__(self, command_id: _Optional[str] = ..., status: _Optional[_Union[_types_pb2.TestStatus, _Mapping]] = ..., finished_case: _Optional[_Union[_types_pb2.TestCaseResult, _Mapping]] = ...) -> None: ...

class TestRunReport(_message.Message):
    __slots__ = ("command_id", "seq", "run")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    seq: int
    run: _types_pb2.TestRun
    def __init__(self, command_id: _Optional[str] = ..., seq: _Optional[int] = ..., run: _Optional[_Union[_types_pb2.TestRun, _Mapping]] = ...) -> None: ...

class CommandRefused(_message.Message):
    __slots__ = ("command_id", "reason")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    reason: str
    def __init__(self, command_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class AgentSettings(_message.Message):
    __slots__ = ("heartbeat_interval", "tests")
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    TESTS_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval: _duration_pb2.Duration
    tests: _types_pb2.TestSettings
    def __init__(self, heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., tests: _Optional[_Union[_types_pb2.TestSettings, _Mapping]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("host", "settings", "interrupted_command_ids", "acks", "host_token")
    HOST_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    INTERRUPTED_COMMAND_IDS_FIELD_NUMBER: _ClassVar[int]
    ACKS_FIELD_NUMBER: _ClassVar[int]
    HOST_TOKEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    settings: AgentSettings
    interrupted_command_ids: _containers.RepeatedScalarFieldContainer[str]
    acks: _containers.RepeatedCompositeFieldContainer[Ack]
    host_token: str
    def __init__(self, host: _Optional[str] = ..., settings: _Optional[_Union[AgentSettings, _Mapping]] = ..., interrupted_command_ids: _Optional[_Iterable[str]] = ..., acks: _Optional[_Iterable[_Union[Ack, _Mapping]]] = ..., host_token: _Optional[str] = ...) -> None: ...

class RunCommand(_message.Message):
    __slots__ = ("command_id", "operation", "timeout", "target_commit", "trigger")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    TARGET_COMMIT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    operation: _types_pb2.Operation
    timeout: _duration_pb2.Duration
    target_commit: str
    trigger: _types_pb2.TestTrigger
    def __init__(self, command_id: _Optional[str] = ..., operation: _Optional[_Union[_types_pb2.Operation, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., target_commit: _Optional[str] = ..., trigger: _Optional[_Union[_types_pb2.TestTrigger, str]] = ...) -> None: ...

class CancelCommand(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("command_id", "seq")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    seq: int
    def __init__(self, command_id: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...
