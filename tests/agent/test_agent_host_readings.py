"""What the agent reads from its host: metrics through psutil, and the generation a rollback returns to."""

from __future__ import annotations

import os
from pathlib import Path

import grpc
import psutil
import pytest
from agent_world import World

from agent.facts import generation_facts
from agent.metrics import MetricsReader
from fleetdeck.v1 import fleet_service_pb2, types_pb2


def test_metrics_are_the_hosts_own_readings_not_zeros(tmp_path: Path) -> None:
    reader = MetricsReader(disk=tmp_path)
    # Work between the two reads, so the CPU measurement has a period to cover.
    sum(i * i for i in range(200_000))
    metrics = reader.read()
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(tmp_path))
    assert metrics.memory_total_bytes == memory.total > 0
    assert 0 < metrics.memory_used_bytes <= metrics.memory_total_bytes
    assert metrics.disk_total_bytes == disk.total > 0
    assert 0 < metrics.disk_used_bytes <= metrics.disk_total_bytes
    assert 0.0 <= metrics.cpu_percent <= 100.0
    assert (metrics.load1, metrics.load5, metrics.load15) == pytest.approx(os.getloadavg(), abs=2.0)
    assert metrics.swap_total_bytes == psutil.swap_memory().total


def test_an_unreadable_disk_leaves_only_the_disk_at_zero(tmp_path: Path) -> None:
    metrics = MetricsReader(disk=tmp_path / "absent").read()
    assert (metrics.disk_total_bytes, metrics.disk_used_bytes) == (0, 0)
    assert metrics.memory_total_bytes > 0


def _profile(directory: Path, current: int, others: list[int]) -> Path:
    for n in [current, *others]:
        (directory / f"system-{n}-link").mkdir()
    link = directory / "system"
    link.symlink_to(f"system-{current}-link")
    return link


@pytest.mark.parametrize(
    ("current", "others", "expected"),
    [
        pytest.param(1, [], ("system-1-link", "", True), id="only-generation"),
        pytest.param(5, [2, 4], ("system-5-link", "system-4-link", False), id="latest-of-three"),
        pytest.param(5, [2], ("system-5-link", "system-2-link", False), id="gap-after-gc"),
        pytest.param(3, [4, 7], ("system-3-link", "", True), id="rolled-back-to-the-oldest"),
    ],
)
def test_a_profile_symlinks_older_siblings_are_what_a_rollback_returns_to(
    tmp_path: Path, current: int, others: list[int], expected: tuple[str, str, bool]
) -> None:
    assert generation_facts(_profile(tmp_path, current, others)) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("system-1-link\n", ("system-1-link", "", True), id="first"),
        pytest.param("system-3-link\n", ("system-3-link", "system-2-link", False), id="third"),
        pytest.param("something else\n", ("something else", "", False), id="not-a-generation-name"),
    ],
)
def test_a_generation_file_numbers_its_generations_from_one(
    tmp_path: Path, content: str, expected: tuple[str, str, bool]
) -> None:
    path = tmp_path / "generation"
    path.write_text(content)
    assert generation_facts(path) == expected


def test_no_generation_means_it_cannot_tell(tmp_path: Path) -> None:
    assert generation_facts(tmp_path / "absent") == ("", "", False)


async def test_a_real_agent_at_its_first_generation_is_refused_a_rollback_with_a_sentence(
    world: World,
) -> None:
    host = await world.host("gpc0")
    await world.agent(host)
    got = await world.fleet.wait_host("gpc0", lambda h: h.facts.generation == "system-1-link")
    assert (got.facts.at_first_generation, got.facts.previous_generation) == (True, "")

    request = fleet_service_pb2.RunOperationRequest(hosts=["gpc0"], operation=types_pb2.OPERATION_ROLLBACK)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await world.fleet.stub.RunOperation(request)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (
        refused.value.details() == "nothing to roll back to: gpc0 is at its first generation (system-1-link)"
    )
    assert host.generation.read_text().strip() == "system-1-link"

    # After a switch there is a generation to return to, and the rollback runs.
    await world.fleet.finished(await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH))
    got = await world.fleet.wait_host("gpc0", lambda h: h.facts.generation == "system-2-link")
    assert (got.facts.at_first_generation, got.facts.previous_generation) == (False, "system-1-link")
    rollback = await world.fleet.finished(await world.fleet.run("gpc0", types_pb2.OPERATION_ROLLBACK))
    assert rollback.state == types_pb2.COMMAND_STATE_SUCCEEDED, rollback.message
    assert host.generation.read_text().strip() == "system-1-link"
