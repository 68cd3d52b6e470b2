"""End to end: real agent processes against a real control plane run every operation."""

from __future__ import annotations

import hashlib

from agent_world import World, git

from fleetdeck.v1 import fleet_service_pb2, types_pb2

GPU_BROKEN_AFTER_SWITCH = """
# fleetdeck-name: GPU acceleration
gen=$(sed -E 's/[^0-9]//g' "$FLEETDECK_GENERATION_PATH")
if [ "$gen" -gt 1 ]; then echo "Error: nvidia-smi not found" >&2; exit 1; fi
echo "nvidia-smi: 1 GPU"
"""


async def test_pull_resets_the_checkout_to_the_desired_commit(world: World) -> None:
    host = await world.host("web1")
    await world.agent(host)
    commit = host.push_commit("new config", lock='{"nodes": {"nixpkgs": {}}, "version": 7}\n')
    lock_hash = hashlib.sha256((host.seed / "flake.lock").read_bytes()).hexdigest()
    await world.fleet.stub.SetDesiredState(
        fleet_service_pb2.SetDesiredStateRequest(commit=commit, lock_hash=lock_hash)
    )
    (host.repo / "stray-file").write_text("left behind\n")

    command_id = await world.fleet.run("web1", types_pb2.OPERATION_PULL)
    command = await world.fleet.finished(command_id)

    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED, command.message
    assert git(host.repo, "rev-parse", "HEAD") == commit
    assert not (host.repo / "stray-file").exists()
    texts = [line.text for line in await world.fleet.output(command_id)]
    assert texts[0].startswith("$ git -C") and texts[0].endswith("fetch --quiet origin")
    got = await world.fleet.wait_host("web1", lambda h: h.facts.commit == commit)
    assert got.facts.lock_hash == lock_hash


async def test_switch_runs_tests_that_fail_then_rollback_and_tests_pass(world: World) -> None:
    host = await world.host(
        "gpc0",
        tests={
            "10-network.sh": "echo 'ping ok'",
            "40-gpu-acceleration.sh": GPU_BROKEN_AFTER_SWITCH,
            "50-docker.sh": "echo 'docker ok'",
        },
    )
    await world.agent(host)

    switch_id = await world.fleet.run("gpc0", types_pb2.OPERATION_SWITCH)
    switch = await world.fleet.finished(switch_id)
    assert switch.state == types_pb2.COMMAND_STATE_SUCCEEDED, switch.message
    texts = [line.text for line in await world.fleet.output(switch_id)]
    assert texts[1:] == ["building the system configuration...", "activating system-2-link"]
    assert host.generation.read_text().strip() == "system-2-link"

    # The control plane starts the tests after the switch (auto-run is on by default).
    failed_host = await world.fleet.wait_host(
        "gpc0", lambda h: h.test_status.state == types_pb2.TEST_STATE_FAILED and h.test_status.last_run_id
    )
    run = await world.fleet.test_run(failed_host.test_status.last_run_id)
    assert [(c.name, types_pb2.TestOutcome.Name(c.outcome)) for c in run.cases] == [
        ("Network", "TEST_OUTCOME_PASSED"),
        ("GPU acceleration", "TEST_OUTCOME_FAILED"),
        ("Docker", "TEST_OUTCOME_PASSED"),
    ]
    assert run.cases[1].output == "Error: nvidia-smi not found"
    assert (run.passed, run.failed, run.total, run.generation) == (2, 1, 3, "system-2-link")
    assert run.trigger == types_pb2.TEST_TRIGGER_AFTER_SWITCH
    await world.fleet.finished(run.id)

    rollback_id = await world.fleet.run("gpc0", types_pb2.OPERATION_ROLLBACK)
    rollback = await world.fleet.finished(rollback_id)
    assert rollback.state == types_pb2.COMMAND_STATE_SUCCEEDED, rollback.message
    assert host.generation.read_text().strip() == "system-1-link"

    test_id = await world.fleet.run("gpc0", types_pb2.OPERATION_TEST)
    test = await world.fleet.finished(test_id)
    assert test.state == types_pb2.COMMAND_STATE_SUCCEEDED, test.message
    run = await world.fleet.test_run(test_id)
    assert (run.state, run.passed, run.total, run.generation) == (
        types_pb2.TEST_STATE_PASSED,
        3,
        3,
        "system-1-link",
    )
    assert run.trigger == types_pb2.TEST_TRIGGER_MANUAL


async def test_a_suite_with_passing_failing_timed_out_and_non_executable_files(world: World) -> None:
    host = await world.host(
        "web1",
        tests={"10-ok.sh": "echo fine", "20-bad.sh": "echo broken >&2; exit 2", "30-hang.sh": "sleep 60"},
    )
    (host.seed / "hosts" / "web1" / "tests" / "25-notes.md").write_text("not a test\n")
    await world.agent(host)

    test_id = await world.fleet.run("web1", types_pb2.OPERATION_TEST, seconds=2)
    command = await world.fleet.finished(test_id)
    run = await world.fleet.test_run(test_id)

    assert [(c.file, types_pb2.TestOutcome.Name(c.outcome)) for c in run.cases] == [
        ("10-ok.sh", "TEST_OUTCOME_PASSED"),
        ("20-bad.sh", "TEST_OUTCOME_FAILED"),
        ("30-hang.sh", "TEST_OUTCOME_TIMED_OUT"),
    ]
    assert (run.passed, run.failed, run.exit_code) == (1, 2, 1)
    assert command.state in (types_pb2.COMMAND_STATE_TIMED_OUT, types_pb2.COMMAND_STATE_FAILED)
    assert command.exit_code == 1
    texts = [line.text for line in await world.fleet.output(test_id)]
    assert texts[0] == "▶ Ok" and "broken" in texts


async def test_a_host_without_tests_reports_them_disabled(world: World) -> None:
    host = await world.host("mac1")
    await world.agent(host)
    got = await world.fleet.wait_host("mac1", lambda h: h.test_status.state == types_pb2.TEST_STATE_DISABLED)
    assert got.test_status.message == f"No tests defined in {host.repo / 'hosts' / 'mac1' / 'tests'}"


async def test_a_command_id_that_is_not_hex_is_refused_and_names_no_file(world: World, tmp_path) -> None:
    from controlplane.commands import Commands

    host = await world.host("web1")
    await world.agent(host)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "important.stdout").write_text("keep me\n")
    evil = "../../outside/important"
    original = Commands.start

    async def start_with_evil_id(self, state, operation, **kwargs):
        import controlplane.commands as module

        real = module.new_command_id
        module.new_command_id = lambda: evil
        try:
            return await original(self, state, operation, **kwargs)
        finally:
            module.new_command_id = real

    Commands.start = start_with_evil_id  # type: ignore[method-assign]
    try:
        command_id = await world.fleet.run("web1", types_pb2.OPERATION_SWITCH)
    finally:
        Commands.start = original  # type: ignore[method-assign]
    command = await world.fleet.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_REFUSED
    assert "32 lower-case hex digits" in command.message
    assert (outside / "important.stdout").read_text() == "keep me\n"
    assert sorted(p.name for p in outside.iterdir()) == ["important.stdout"]
