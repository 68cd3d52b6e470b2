"""An agent given several control-plane addresses: the order it dials them in, and failing over for real."""

from __future__ import annotations

import asyncio
import random
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agent_world import Fleet, HostWorld, World, control_plane_config

from agent.config import ConfigError, parse_config
from agent.failover import Dial, first_dial, next_dial
from controlplane.app import ControlPlane
from fleetdeck.v1 import types_pb2

# -- the order and the delays (pure) -------------------------------------------------------------------


class _Top(random.Random):
    """An RNG whose uniform(a, b) is always b: the delays at the top of their jitter range."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize(
    ("last", "welcomed", "was_replaced", "expected"),
    [
        # Never welcomed: fail over to the next address, the backoff doubles.
        (Dial(0, 0.0, 1.0), False, False, Dial(1, 1.0, 2.0)),
        (Dial(1, 1.0, 2.0), False, False, Dial(2, 2.0, 4.0)),
        (Dial(2, 2.0, 4.0), False, False, Dial(0, 4.0, 8.0)),  # round again from the first
        (Dial(0, 4.0, 8.0), False, False, Dial(1, 8.0, 10.0)),  # capped at the maximum (10)
        (Dial(1, 8.0, 10.0), False, False, Dial(2, 10.0, 10.0)),
        # Welcomed, then ended: the address that worked again, backoff from the start.
        (Dial(2, 10.0, 10.0), True, False, Dial(2, 1.0, 2.0)),
        (Dial(1, 0.0, 1.0), True, False, Dial(1, 1.0, 2.0)),
        # Replaced by a newer connection of this host: the same address, the longest wait.
        (Dial(1, 0.0, 1.0), True, True, Dial(1, 10.0, 10.0)),
    ],
)
def test_next_dial_order_and_backoff(last: Dial, welcomed: bool, was_replaced: bool, expected: Dial) -> None:
    got = next_dial(
        last,
        addresses=3,
        welcomed=welcomed,
        was_replaced=was_replaced,
        initial=1.0,
        maximum=10.0,
        rng=_Top(),
    )
    assert got == expected


def _walk(outcomes: list[bool], seed: int) -> list[Dial]:
    """The dials after each outcome (True: welcomed) for three addresses, from a seeded RNG."""
    rng = random.Random(seed)
    dial = first_dial(1.0)
    dials = [dial]
    for welcomed in outcomes:
        dial = next_dial(
            dial, addresses=3, welcomed=welcomed, was_replaced=False, initial=1.0, maximum=10.0, rng=rng
        )
        dials.append(dial)
    return dials


def test_the_addresses_are_tried_in_order_and_a_drop_starts_from_the_one_that_worked() -> None:
    # A (0) down, B (1) down, C (2) welcomes, C drops; C is tried first again, then A, B, C ...
    dials = _walk([False, False, True, False, False, False], seed=7)
    assert [d.address for d in dials] == [0, 1, 2, 2, 0, 1, 2]
    assert dials[0].delay == 0.0  # the first attempt goes at once


@pytest.mark.parametrize("seed", range(20))
def test_delays_are_fully_jittered_below_a_capped_exponential_backoff(seed: int) -> None:
    dials = _walk([False] * 8 + [True] + [False] * 3, seed)
    bases = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 1.0, 2.0, 4.0, 8.0]
    delays = [d.delay for d in dials[1:]]
    assert all(0.0 <= delay <= base for delay, base in zip(delays, bases, strict=True)), delays
    assert dials[-1].backoff == 10.0
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered: no two alike


def test_the_same_seed_gives_the_same_delays() -> None:
    assert _walk([False] * 5, seed=3) == _walk([False] * 5, seed=3)
    assert _walk([False] * 5, seed=3) != _walk([False] * 5, seed=4)


# -- the config key --------------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "host": "gpc0",
    "token_file": "token",
    "repo_dir": "/etc/nixcfg",
    "state_dir": "state",
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.example.org:50051", ("a.example.org:50051",)),
        (["a.example.org:50051"], ("a.example.org:50051",)),
        (["a.example.org:50051", "[::1]:50051"], ("a.example.org:50051", "[::1]:50051")),
    ],
)
def test_controlplane_is_one_address_or_a_list(tmp_path: Path, value: Any, expected: tuple[str, ...]) -> None:
    config = parse_config({**BASE, "controlplane": value}, tmp_path, os_name="nixos")
    assert config.controlplanes == expected
    assert config.controlplane == ", ".join(expected)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "controlplane: must be HOST:PORT or a non-empty list"),
        (["a:1", 5], "controlplane: must be HOST:PORT or a non-empty list"),
        (["a:1", ""], "controlplane: must be HOST:PORT or a non-empty list"),
        (["a:1", "b"], "controlplane: 'b' must be host:port"),
        (["a:1", "a:1"], "controlplane: an address is listed twice"),
        (7, "controlplane: must be HOST:PORT or a non-empty list"),
    ],
)
def test_a_bad_controlplane_list_is_named(tmp_path: Path, value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, "controlplane": value}, tmp_path, os_name="nixos")


def test_keepalive_seconds_default_to_30_and_10_and_can_be_set(tmp_path: Path) -> None:
    config = parse_config({**BASE, "controlplane": "a:1"}, tmp_path, os_name="nixos")
    assert (config.keepalive_seconds, config.keepalive_timeout_seconds) == (30.0, 10.0)
    config = parse_config(
        {**BASE, "controlplane": "a:1", "keepalive_seconds": 6, "keepalive_timeout_seconds": 0.5},
        tmp_path,
        os_name="nixos",
    )
    assert (config.keepalive_seconds, config.keepalive_timeout_seconds) == (6.0, 0.5)
    with pytest.raises(ConfigError, match="keepalive_timeout_seconds: must be a positive number"):
        parse_config({**BASE, "controlplane": "a:1", "keepalive_timeout_seconds": 0}, tmp_path)
    # Pings more often than the control plane allows would get the link closed ("too_many_pings").
    with pytest.raises(ConfigError, match="keepalive_seconds: must be at least 6"):
        parse_config({**BASE, "controlplane": "a:1", "keepalive_seconds": 1}, tmp_path)


# -- failing over for real: real control planes, a real agent process --------------------------------------


@pytest.fixture
def dead_address() -> Iterator[str]:
    """An address where nothing listens: a port bound (so nobody takes it) but not listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Planes:
    """Two control planes that know the same agent tokens (B started on a backup of A's database)."""

    world: World  # its control plane is A
    b: ControlPlane
    fleet_b: Fleet

    async def host(self, name: str, *addresses: str) -> HostWorld:
        """A host whose agent.toml lists `addresses` ("A" and "B" name the two control planes), with a
        token both accept; B starts here, on a backup of A's database taken after the token was made."""
        token = await self.world.fleet.token(name)
        b_db = self.world.tmp_path / "b.db"
        with sqlite3.connect(self.world.tmp_path / "a.db") as source, sqlite3.connect(b_db) as copy:
            source.backup(copy)
        self.b = ControlPlane(control_plane_config(self.world.tmp_path, database=b_db))
        await self.b.start()
        self.fleet_b = Fleet(self.b.grpc_target)
        host = await self.world.host(name, token=token)
        targets = {"A": self.world.cp.grpc_target, "B": self.b.grpc_target}
        listed = ", ".join(f'"{targets.get(a, a)}"' for a in addresses)
        text = host.config_path.read_text().replace(
            f'controlplane = "{host.target}"', f"controlplane = [{listed}]"
        )
        host.config_path.write_text(text)
        return host


@pytest.fixture
async def planes(tmp_path: Path) -> AsyncIterator[Planes]:
    a = ControlPlane(control_plane_config(tmp_path, database=tmp_path / "a.db"))
    await a.start()
    world = World(tmp_path, a, Fleet(a.grpc_target), database=tmp_path / "a.db")
    found = Planes(world, a, world.fleet)  # B until planes.host() starts the real one
    try:
        yield found
    finally:
        for agent in world.agents:
            await agent.stop()
        await world.fleet.close()
        await world.cp.stop()
        if found.b is not a:
            await found.fleet_b.close()
            await found.b.stop()
        for agent in world.agents:
            print(f"--- {agent.world.log}\n{agent.world.log.read_text()[-4000:]}")


async def test_an_agent_whose_first_address_is_dead_connects_to_the_second(
    planes: Planes, dead_address: str
) -> None:
    host = await planes.host("gpc0", dead_address, "A")
    # B is running too, but listed nowhere: the agent must reach A, the second address.
    await planes.world.agent(host)  # online on A

    # Logged before the delay that precedes the attempt on A, so before A saw the agent.
    failovers = [line for line in host.log.read_text().splitlines() if " unreachable (" in line]
    assert len(failovers) == 1, failovers
    assert f"control plane {dead_address} unreachable (UNAVAILABLE: " in failovers[0]
    assert f"; trying {planes.world.cp.grpc_target} in " in failovers[0]


async def test_an_agent_fails_over_to_b_within_seconds_when_a_stops(planes: Planes) -> None:
    a_target = planes.world.cp.grpc_target
    host = await planes.host("gpc0", "A", "B")
    await planes.world.agent(host)  # online on A

    loop = asyncio.get_running_loop()
    await planes.world.fleet.close()
    await planes.world.cp.stop()
    stopped = loop.time()
    got = await planes.fleet_b.wait_host(
        "gpc0", lambda h: h.online and h.facts.agent_version != "", within=10
    )
    assert got.online
    assert loop.time() - stopped < 5  # backoff 0.2 s, doubling to at most 1 s: a few attempts

    # B runs its commands: a reconnect to another address is just a reconnect.
    command_id = await planes.fleet_b.run("gpc0", types_pb2.OPERATION_SWITCH)
    command = await planes.fleet_b.finished(command_id)
    assert command.state == types_pb2.COMMAND_STATE_SUCCEEDED, command.message
    log = host.log.read_text()
    assert f"connected to {a_target} as gpc0" in log
    assert f"connected to {planes.b.grpc_target} as gpc0" in log
    assert f"control plane {a_target} unreachable (" in log
