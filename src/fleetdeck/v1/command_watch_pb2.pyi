from fleetdeck.v1 import types_pb2 as _types_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WatchCommandRequest(_message.Message):
    __slots__ = ("command_id",)
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    def __init__(self, command_id: _Optional[str] = ...) -> None: ...

class CommandVerdict(_message.Message):
    __slots__ = ("command", "test_command", "test_run", "no_test_run_reason", "message")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    TEST_COMMAND_FIELD_NUMBER: _ClassVar[int]
    TEST_RUN_FIELD_NUMBER: _ClassVar[int]
    NO_TEST_RUN_REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    command: _types_pb2.Command
    test_command: _types_pb2.Command
    test_run: _types_pb2.TestRun
    no_test_run_reason: _types_pb2.NoTestRunReason
    message: str
    def __init__(self, command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., test_command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., test_run: _Optional[_Union[_types_pb2.TestRun, _Mapping]] = ..., no_test_run_reason: _Optional[_Union[_types_pb2.NoTestRunReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class WatchCommandResponse(_message.Message):
    __slots__ = ("command", "verdict")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    command: _types_pb2.Command
    verdict: CommandVerdict
    def __init__(self, command: _Optional[_Union[_types_pb2.Command, _Mapping]] = ..., verdict: _Optional[_Union[CommandVerdict, _Mapping]] = ...) -> None: ...
