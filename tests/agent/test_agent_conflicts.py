"""Two agents configured as one host: each backs off long after being replaced, and both sides say so."""

from __future__ import annotations

import logging

import grpc
import pytest

from agent.stream_end import next_backoff, replaced
from controlplane.agent_streams import AgentStream, AgentStreams
from controlplane.errors import Aborted


class _Ended(grpc.aio.AioRpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="x")


@pytest.mark.parametrize(
    ("backoff", "welcomed", "was_replaced", "expected"),
    [
        (8.0, True, False, 1.0),  # a welcomed stream that ended: start over
        (8.0, False, False, 8.0),  # never welcomed: keep backing off
        (1.0, True, True, 60.0),  # replaced by another connection as this host: the longest wait
        (2.0, False, True, 60.0),
    ],
)
def test_next_backoff(backoff, welcomed, was_replaced, expected) -> None:
    assert (
        next_backoff(backoff, welcomed=welcomed, was_replaced=was_replaced, initial=1.0, maximum=60.0)
        == expected
    )


def test_only_aborted_means_replaced() -> None:
    assert replaced(_Ended(grpc.StatusCode.ABORTED))
    assert not replaced(_Ended(grpc.StatusCode.UNAVAILABLE))
    assert not replaced(TimeoutError())


async def test_the_control_plane_logs_a_host_whose_streams_take_turns(caplog) -> None:
    caplog.set_level(logging.INFO)
    streams = AgentStreams()
    first = AgentStream("gpc0", "t1")
    streams.add(first, Aborted("replaced"))
    second = AgentStream("gpc0", "t1")
    streams.add(second, Aborted("replaced"))
    assert first.closed
    assert any(r.levelno == logging.WARNING and "two agents" in r.getMessage() for r in caplog.records)
