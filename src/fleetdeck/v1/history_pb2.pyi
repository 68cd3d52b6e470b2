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

class CaseResult(_message.Message):
    __slots__ = ("run_id", "host", "name", "outcome", "classification", "generation", "commit", "trigger", "finished_at", "duration", "exit_code", "message")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    host: str
    name: str
    outcome: _types_pb2.TestOutcome
    classification: _types_pb2.CaseClassification
    generation: str
    commit: str
    trigger: _types_pb2.TestTrigger
    finished_at: _timestamp_pb2.Timestamp
    duration: _duration_pb2.Duration
    exit_code: int
    message: str
    def __init__(self, run_id: _Optional[str] = ..., host: _Optional[str] = ..., name: _Optional[str] = ..., outcome: _Optional[_Union[_types_pb2.TestOutcome, str]] = ..., classification: _Optional[_Union[_types_pb2.CaseClassification, str]] = ..., generation: _Optional[str] = ..., commit: _Optional[str] = ..., trigger: _Optional[_Union[_types_pb2.TestTrigger, str]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., exit_code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class CaseSummary(_message.Message):
    __slots__ = ("host", "name", "last_outcome", "last_classification", "last_generation", "last_commit", "last_run_id", "last_run_at", "generation_passes", "generation_failures", "failing_since_generation", "failing_since", "failing_since_commit", "failing_runs", "last_pass_generation", "last_pass_at", "first_generation", "runs", "passes", "retained_runs", "retained_passes")
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAST_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    LAST_CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    LAST_GENERATION_FIELD_NUMBER: _ClassVar[int]
    LAST_COMMIT_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_RUN_AT_FIELD_NUMBER: _ClassVar[int]
    GENERATION_PASSES_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FAILURES_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_COMMIT_FIELD_NUMBER: _ClassVar[int]
    FAILING_RUNS_FIELD_NUMBER: _ClassVar[int]
    LAST_PASS_GENERATION_FIELD_NUMBER: _ClassVar[int]
    LAST_PASS_AT_FIELD_NUMBER: _ClassVar[int]
    FIRST_GENERATION_FIELD_NUMBER: _ClassVar[int]
    RUNS_FIELD_NUMBER: _ClassVar[int]
    PASSES_FIELD_NUMBER: _ClassVar[int]
    RETAINED_RUNS_FIELD_NUMBER: _ClassVar[int]
    RETAINED_PASSES_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    last_outcome: _types_pb2.TestOutcome
    last_classification: _types_pb2.CaseClassification
    last_generation: str
    last_commit: str
    last_run_id: str
    last_run_at: _timestamp_pb2.Timestamp
    generation_passes: int
    generation_failures: int
    failing_since_generation: str
    failing_since: _timestamp_pb2.Timestamp
    failing_since_commit: str
    failing_runs: int
    last_pass_generation: str
    last_pass_at: _timestamp_pb2.Timestamp
    first_generation: str
    runs: int
    passes: int
    retained_runs: int
    retained_passes: int
    def __init__(self, host: _Optional[str] = ..., name: _Optional[str] = ..., last_outcome: _Optional[_Union[_types_pb2.TestOutcome, str]] = ..., last_classification: _Optional[_Union[_types_pb2.CaseClassification, str]] = ..., last_generation: _Optional[str] = ..., last_commit: _Optional[str] = ..., last_run_id: _Optional[str] = ..., last_run_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., generation_passes: _Optional[int] = ..., generation_failures: _Optional[int] = ..., failing_since_generation: _Optional[str] = ..., failing_since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failing_since_commit: _Optional[str] = ..., failing_runs: _Optional[int] = ..., last_pass_generation: _Optional[str] = ..., last_pass_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., first_generation: _Optional[str] = ..., runs: _Optional[int] = ..., passes: _Optional[int] = ..., retained_runs: _Optional[int] = ..., retained_passes: _Optional[int] = ...) -> None: ...

class FailedCase(_message.Message):
    __slots__ = ("name", "outcome", "classification", "failing_since_generation", "failing_runs", "output_head")
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    FAILING_SINCE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    FAILING_RUNS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_HEAD_FIELD_NUMBER: _ClassVar[int]
    name: str
    outcome: _types_pb2.TestOutcome
    classification: _types_pb2.CaseClassification
    failing_since_generation: str
    failing_runs: int
    output_head: str
    def __init__(self, name: _Optional[str] = ..., outcome: _Optional[_Union[_types_pb2.TestOutcome, str]] = ..., classification: _Optional[_Union[_types_pb2.CaseClassification, str]] = ..., failing_since_generation: _Optional[str] = ..., failing_runs: _Optional[int] = ..., output_head: _Optional[str] = ...) -> None: ...

class FailingCase(_message.Message):
    __slots__ = ("name", "hosts", "same_commit", "commits")
    NAME_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    SAME_COMMIT_FIELD_NUMBER: _ClassVar[int]
    COMMITS_FIELD_NUMBER: _ClassVar[int]
    name: str
    hosts: _containers.RepeatedCompositeFieldContainer[CaseSummary]
    same_commit: bool
    commits: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., hosts: _Optional[_Iterable[_Union[CaseSummary, _Mapping]]] = ..., same_commit: _Optional[bool] = ..., commits: _Optional[_Iterable[str]] = ...) -> None: ...

class ListCaseResultsRequest(_message.Message):
    __slots__ = ("host", "name", "page_size", "page_token")
    HOST_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    host: str
    name: str
    page_size: int
    page_token: str
    def __init__(self, host: _Optional[str] = ..., name: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCaseResultsResponse(_message.Message):
    __slots__ = ("results", "next_page_token", "summary")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CaseResult]
    next_page_token: str
    summary: CaseSummary
    def __init__(self, results: _Optional[_Iterable[_Union[CaseResult, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., summary: _Optional[_Union[CaseSummary, _Mapping]] = ...) -> None: ...

class ListCaseSummariesRequest(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: str
    def __init__(self, host: _Optional[str] = ...) -> None: ...

class ListCaseSummariesResponse(_message.Message):
    __slots__ = ("summaries",)
    SUMMARIES_FIELD_NUMBER: _ClassVar[int]
    summaries: _containers.RepeatedCompositeFieldContainer[CaseSummary]
    def __init__(self, summaries: _Optional[_Iterable[_Union[CaseSummary, _Mapping]]] = ...) -> None: ...

class ListFailingCasesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFailingCasesResponse(_message.Message):
    __slots__ = ("cases",)
    CASES_FIELD_NUMBER: _ClassVar[int]
    cases: _containers.RepeatedCompositeFieldContainer[FailingCase]
    def __init__(self, cases: _Optional[_Iterable[_Union[FailingCase, _Mapping]]] = ...) -> None: ...
