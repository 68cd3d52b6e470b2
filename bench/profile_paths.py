"""The control plane's hot paths in-process, without gRPC: CPU per hello and per heartbeat, and
where it goes (cProfile).

    .venv/bin/python bench/profile_paths.py --hosts 2000 --heartbeats 20 --top 25
    .venv/bin/python bench/profile_paths.py --hosts 8000 --grpc     # the hellos through the server

Starts a real `ControlPlane` (temp SQLite, loopback) in this process, creates one agent token per
host (`AgentTokens.create`), then runs the servicer's steps as `AgentService.Connect` does, minus
gRPC: for the hello, the token lookup, its acceptance, `accept_hello` and the welcome
(`AgentService._open`), all hosts at once as in a welcome storm; for heartbeats, the bounds check
(`check_agent_message`) and `Fleet.heartbeat`, round-robin over the connected hosts, each heartbeat
with new metrics and nothing else new (the common case). Prints the CPU time per hello and per
heartbeat (`time.process_time`, this process only) and, with `--top N`, the N costliest functions
of each path by own time. A no-op servicer costs gRPC's share only, so these figures are what the
control plane adds to it (compare with `heartbeats.py`, `welcome.py`).

`--grpc` sends the hellos through the real gRPC server instead, from raw HTTP/2 agents in this
process (`rawagent.py`, each from its own loopback address): their CPU is in the figure too, so
compare it with a no-op servicer measured the same way. cProfile sees Python only: grpc's Cython is
charged to the Python frame that awaits it. Under load in a real process the same steps cost 2-3x
more than here (see bench/README.md, heartbeats: a py-spy profile of the server).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import rawagent
from heartbeats import facts, shard_labels
from welcome import source_address

from controlplane.agent_service import AgentService
from controlplane.app import ControlPlane, ControlPlaneConfig
from controlplane.bounds import check_agent_message
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import types_pb2 as pb


async def _one(message: agent_pb.ConnectRequest) -> AsyncIterator[agent_pb.ConnectRequest]:
    yield message


def _top(profile: cProfile.Profile, count: int) -> str:
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(count)
    return out.getvalue()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="fleetdeck-profile-") as tmp:
        config = ControlPlaneConfig(
            require_api_tokens=False, database=Path(tmp) / "bench.db", grpc_address="127.0.0.1:0"
        )
        async with ControlPlane(config) as cp:
            assert cp.fleet is not None and cp.commands is not None and cp.ingest is not None
            service = AgentService(cp.fleet, cp.commands, cp.ingest, cp.tokens, _admission(cp))
            hosts = [f"bench-{i:05d}" for i in range(args.hosts)]
            tokens = [(await cp.tokens.create(h))[0] for h in hosts]
            status = pb.TestStatus(state=pb.TEST_STATE_NOT_RUN, defined_cases=3)

            async def hello(host: str, token: str) -> None:
                record = await cp.tokens.find(token)
                first = agent_pb.ConnectRequest(
                    hello=agent_pb.Hello(
                        host=host, facts=facts(), test_status=status, labels=shard_labels(host)
                    )
                )
                await service._open(record, _one(first), None)  # type: ignore[arg-type]

            if args.grpc:
                hello = _over_grpc(cp)  # type: ignore[assignment]
            profile = cProfile.Profile() if args.top else None
            began = time.process_time()
            if profile:
                profile.enable()
            await asyncio.gather(*(hello(h, t) for h, t in zip(hosts, tokens, strict=True)))
            if profile:
                profile.disable()
            per_hello = (time.process_time() - began) / len(hosts)
            how = "over gRPC, agents in this process" if args.grpc else "no gRPC"
            print(f"hello: {per_hello * 1e6:,.0f} us of CPU each ({len(hosts)} hosts at once, {how})")
            if profile:
                print(_top(profile, args.top))

            states = [cp.fleet.hosts[h] for h in hosts]
            message = agent_pb.ConnectRequest(
                heartbeat=agent_pb.Heartbeat(
                    facts=facts(), metrics=pb.Metrics(memory_total_bytes=16 << 30), test_status=status
                )
            )
            messages = []
            for seq in range(args.heartbeats):
                m = agent_pb.ConnectRequest()
                m.CopyFrom(message)
                m.heartbeat.metrics.memory_used_bytes = seq + 1
                messages.append(agent_pb.ConnectRequest.FromString(m.SerializeToString()))
            for state in states:  # the first heartbeat after a hello may change what is visible
                cp.fleet.heartbeat(state, messages[0].heartbeat)
            profile = cProfile.Profile() if args.top else None
            count = 0
            began = time.process_time()
            if profile:
                profile.enable()
            for m in messages:
                for state in states:
                    check_agent_message(m)
                    cp.fleet.heartbeat(state, m.heartbeat)
                    count += 1
            if profile:
                profile.disable()
            per_beat = (time.process_time() - began) / count
            print(f"heartbeat: {per_beat * 1e6:,.1f} us of CPU each ({count:,} heartbeats, no gRPC)")
            if profile:
                print(_top(profile, args.top))


def _over_grpc(cp: ControlPlane) -> Callable[[str, str], Awaitable[None]]:
    """A hello through the real server: a raw HTTP/2 agent (bench/rawagent.py) from its own address."""
    name, port = cp.grpc_target.rsplit(":", 1)
    index = iter(range(1_000_000))

    async def hello(host: str, token: str) -> None:
        first = agent_pb.ConnectRequest(
            hello=agent_pb.Hello(host=host, facts=facts(), labels=shard_labels(host))
        )
        connection = rawagent.Connection(rawagent.opening(cp.grpc_target, token, first))
        loop = asyncio.get_running_loop()
        await loop.create_connection(
            lambda: connection, name, int(port), local_addr=(source_address(next(index)), 0)
        )
        reply = await connection.welcome
        assert reply.WhichOneof("message") == "welcome", reply

    return hello


def _admission(cp: ControlPlane) -> object:
    from controlplane.agent_admission import AgentAdmission

    return AgentAdmission(cp.config.budgets, 1_000_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000, help="hosts saying hello at once")
    parser.add_argument("--heartbeats", type=int, default=20, help="heartbeats per host")
    parser.add_argument("--grpc", action="store_true", help="the hellos through the real gRPC server")
    parser.add_argument("--top", type=int, default=0, help="print the N costliest functions of each path")
    args = parser.parse_args(argv)
    if args.hosts <= 0 or args.heartbeats <= 0 or args.top < 0:
        parser.error("need positive --hosts and --heartbeats, and --top >= 0")
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
