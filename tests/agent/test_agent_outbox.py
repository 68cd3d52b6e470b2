"""The outbox: numbering at first send, acknowledgements, resending, the spool bound."""

from __future__ import annotations

from agent.outbox import Outbox, dropped_marker
from fleetdeck.v1 import agent_service_pb2, types_pb2

OUT = types_pb2.OUTPUT_STREAM_STDOUT


def _drain(outbox: Outbox) -> list[agent_service_pb2.ConnectRequest]:
    sent = []
    while (request := outbox.take_ready()) is not None:
        sent.append(request)
    return sent


def _drain_acking(outbox: Outbox) -> list[agent_service_pb2.ConnectRequest]:
    sent = []
    while (request := outbox.take_ready()) is not None:
        sent.append(request)
        kind = request.WhichOneof("message")
        outbox.ack(getattr(request, kind).command_id, getattr(request, kind).seq)
    return sent


def _seqs(requests: list[agent_service_pb2.ConnectRequest]) -> list[tuple[str, int]]:
    result = []
    for r in requests:
        kind = r.WhichOneof("message")
        result.append((kind, getattr(r, kind).seq))
    return result


def _finish(exit_code: int = 0) -> agent_service_pb2.CommandFinished:
    return agent_service_pb2.CommandFinished(state=types_pb2.COMMAND_STATE_SUCCEEDED, exit_code=exit_code)


def test_seq_and_line_numbers_are_gap_free_and_results_come_last() -> None:
    outbox = Outbox(1 << 20)
    outbox.begin("c1")
    outbox.add_output("c1", [(OUT, "a"), (OUT, "b")])
    outbox.add_output("c1", [(OUT, "c")])
    outbox.add_result("c1", types_pb2.TestRun(id="c1"))
    outbox.add_result("c1", _finish())
    sent = _drain(outbox)
    assert _seqs(sent) == [("output", 1), ("output", 2), ("test_run", 3), ("command_finished", 4)]
    assert [line.number for line in [*sent[0].output.lines, *sent[1].output.lines]] == [0, 1, 2]
    assert sent[3].command_finished.command_id == "c1"


def test_acked_entries_are_dropped_and_the_rest_resent_in_order() -> None:
    outbox = Outbox(1 << 20)
    outbox.begin("c1")
    for i in range(4):
        outbox.add_output("c1", [(OUT, str(i))])
    first = _drain(outbox)
    assert not outbox.ack("c1", 2)
    outbox.restart_stream({})
    again = _drain(outbox)
    assert [r.SerializeToString() for r in again] == [r.SerializeToString() for r in first[2:]]
    outbox.add_result("c1", _finish())
    assert _seqs(_drain(outbox)) == [("command_finished", 5)]
    assert outbox.ack("c1", 5)
    assert len(outbox) == 0
    assert outbox.command_ids() == []


def test_the_welcome_acks_drop_what_is_durable() -> None:
    outbox = Outbox(1 << 20)
    outbox.begin("c1")
    for i in range(3):
        outbox.add_output("c1", [(OUT, str(i))])
    _drain(outbox)
    outbox.restart_stream({"c1": 2})
    assert _seqs(_drain(outbox)) == [("output", 3)]


def test_a_recovered_result_is_numbered_after_the_welcome_ack() -> None:
    outbox = Outbox(1 << 20)
    outbox.begin("c1", next_seq=None, next_line=5000)
    outbox.add_output("c1", [(OUT, "after restart")])
    outbox.add_result("c1", _finish())
    assert _drain(outbox) == []
    outbox.restart_stream({"c1": 7})
    sent = _drain(outbox)
    assert _seqs(sent) == [("output", 8), ("command_finished", 9)]
    assert sent[0].output.lines[0].number == 5000


def test_a_result_numbered_before_a_restart_keeps_its_seq() -> None:
    outbox = Outbox(1 << 20)
    outbox.begin("c1", next_seq=None)
    outbox.add_result("c1", _finish(), seq=12)
    outbox.restart_stream({"c1": 11})
    assert _seqs(_drain(outbox)) == [("command_finished", 12)]
    outbox.restart_stream({"c1": 12})
    assert len(outbox) == 0


def test_a_full_spool_drops_the_oldest_unsent_output_behind_one_marker() -> None:
    outbox = Outbox(spool_bytes=10_000)
    outbox.begin("c1")
    outbox.add_output("c1", [(OUT, "sent already")])
    _drain(outbox)
    for i in range(100):
        outbox.add_output("c1", [(OUT, f"{i:03d} " + "x" * 95)])
    outbox.add_result("c1", _finish(1))
    assert outbox.size <= 10_000 + 200
    sent = _drain_acking(outbox)
    lines = [line for r in sent if r.HasField("output") for line in r.output.lines]
    marker = lines[0]
    assert marker.stream == types_pb2.OUTPUT_STREAM_SYSTEM
    kept = [line.text for line in lines[1:]]
    dropped = 100 - len(kept)
    assert dropped > 0
    assert marker.text == dropped_marker(dropped * 100)
    assert kept[-1].startswith("099 ")
    assert [line.number for line in lines] == list(range(1, 1 + len(lines)))
    assert sent[-1].HasField("command_finished")
    seqs = [s for _, s in _seqs(sent)]
    assert seqs == list(range(2, 2 + len(sent)))


def test_results_are_never_dropped() -> None:
    outbox = Outbox(spool_bytes=100)
    outbox.begin("c1")
    outbox.add_result("c1", types_pb2.TestRun(id="c1", host="h" * 300))
    outbox.add_output("c1", [(OUT, "y" * 500)])
    outbox.add_result("c1", _finish())
    kinds = [r.WhichOneof("message") for r in _drain_acking(outbox)]
    assert kinds == ["test_run", "output", "command_finished"]


def test_sending_pauses_while_too_much_is_unacknowledged() -> None:
    outbox = Outbox(spool_bytes=1_000)
    outbox.begin("c1")
    for _ in range(4):
        outbox.add_output("c1", [(OUT, "z" * 200)])
    assert len(_drain(outbox)) == 3
    outbox.ack("c1", 3)
    assert len(_drain(outbox)) == 1


def test_after_a_restart_numbering_resumes_where_the_stored_output_ends() -> None:
    acked: list[tuple[str, int, int]] = []
    before = Outbox(1 << 20, on_acked=lambda *a: acked.append(a))
    before.begin("c1")
    before.add_output("c1", [(OUT, "a"), (OUT, "b")])
    before.add_output("c1", [(OUT, "c")])
    _drain(before)
    before.ack("c1", 2)
    assert acked == [("c1", 2, 3)]

    after = Outbox(1 << 20)
    after.begin("c1", next_seq=None, next_line=4096, known=(2, 3))
    after.add_output("c1", [(OUT, "d")])
    after.restart_stream({"c1": 2})
    sent = _drain(after)
    assert (sent[0].output.seq, sent[0].output.lines[0].number) == (3, 3)


def test_after_a_restart_an_unknown_stored_length_skips_ahead_rather_than_overlap() -> None:
    after = Outbox(1 << 20)
    after.begin("c1", next_seq=None, next_line=4096, known=(2, 3))
    after.add_output("c1", [(OUT, "d")])
    after.restart_stream({"c1": 4})  # the control plane stored more than this agent saw acknowledged
    sent = _drain(after)
    assert (sent[0].output.seq, sent[0].output.lines[0].number) == (5, 4096)


def test_a_huge_burst_of_output_goes_out_in_messages_that_fit_the_limit() -> None:
    outbox = Outbox(64 << 20)
    outbox.begin("c1")
    long_line = "é" * 100_000  # 200 KB of UTF-8 in one line
    burst = [(OUT, f"line {i}") for i in range(10_000)] + [(OUT, long_line)]
    outbox.add_output("c1", burst)
    outbox.add_result("c1", _finish())
    sent = _drain(outbox)
    chunks = [m.output for m in sent if m.HasField("output")]
    assert all(len(c.lines) <= 64 and c.ByteSize() <= (1 << 20) + 4096 for c in chunks)
    assert all(len(line.text.encode()) <= 64 * 1024 for c in chunks for line in c.lines)
    texts = [line.text for c in chunks for line in c.lines]
    assert texts[:10_000] == [f"line {i}" for i in range(10_000)]
    assert "".join(texts[10_000:]) == long_line
    assert [line.number for c in chunks for line in c.lines] == list(range(len(texts)))
