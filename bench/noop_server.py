"""A no-op AgentService: the baseline `bench/heartbeats.py` measures next to the real control plane.

Connect reads every message the agent sends and does nothing with it, except answering the hello
with a welcome. The only other thing served is `FleetService.ListHosts`, whose `version` field
reports how many agent messages were read so far (so the benchmark can count ingest the same way
for both servers). Same server options as the control plane's gRPC server.

    python bench/noop_server.py --grpc 127.0.0.1:0 --ready-file ready.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from controlplane.budgets import Budgets
from fleetdeck.v1 import agent_service_pb2 as agent_pb
from fleetdeck.v1 import agent_service_pb2_grpc as agent_grpc
from fleetdeck.v1 import fleet_service_pb2 as fleet_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc

# The control plane's gRPC server options (src/controlplane/app.py), so both servers run alike.
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.max_send_message_length", 4 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.so_reuseport", 0),
    *Budgets().grpc_options(),
]


class NoopAgentService(agent_grpc.AgentServiceServicer):
    """Reads every message; answers the hello with a welcome; nothing else."""

    def __init__(self) -> None:
        self.received = 0

    async def Connect(
        self, request_iterator: AsyncIterator[agent_pb.ConnectRequest], context: Any
    ) -> AsyncIterator[agent_pb.ConnectResponse]:
        first = await anext(request_iterator, None)
        if first is None:
            return
        self.received += 1
        yield agent_pb.ConnectResponse(welcome=agent_pb.Welcome(host=first.hello.host))
        async for _ in request_iterator:
            self.received += 1


class CounterFleetService(fleet_grpc.FleetServiceServicer):
    """ListHosts answers with no hosts and `version` = agent messages read so far."""

    def __init__(self, agents: NoopAgentService) -> None:
        self.agents = agents

    async def ListHosts(self, request: fleet_pb.ListHostsRequest, context: Any) -> fleet_pb.ListHostsResponse:
        return fleet_pb.ListHostsResponse(version=self.agents.received)


async def serve(address: str, ready_file: Path | None) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = grpc.aio.server(options=SERVER_OPTIONS)
    agents = NoopAgentService()
    agent_grpc.add_AgentServiceServicer_to_server(agents, server)
    fleet_grpc.add_FleetServiceServicer_to_server(CounterFleetService(agents), server)
    port = server.add_insecure_port(address)
    if port == 0:
        raise SystemExit(f"cannot listen on {address}")
    await server.start()
    if ready_file is not None:
        host = address.rsplit(":", 1)[0]
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"grpc": f"{host}:{port}"}))
        tmp.replace(ready_file)
    try:
        await stop.wait()
    finally:
        await server.stop(2.0)


def main() -> None:
    """Parse flags and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc", default="127.0.0.1:0", help="listen address HOST:PORT")
    parser.add_argument("--ready-file", type=Path, help="write {grpc: host:port} as JSON once serving")
    args = parser.parse_args()
    asyncio.run(serve(args.grpc, args.ready_file))


if __name__ == "__main__":
    main()
