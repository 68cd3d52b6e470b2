"""A command's state changes through the test run it triggers, pushed by the control plane.

The one place that knows how: the server-side WatchCommand stream, which ends with the verdict (the
command finished and its test run stored, or why no test run follows). The control plane decides
whether tests follow a switch; nothing here repeats that policy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType

from fleetdeck.exits import UNREACHABLE, CliError
from fleetdeck.v1 import command_watch_pb2 as watch_pb
from fleetdeck.v1 import fleet_service_pb2_grpc as fleet_grpc
from fleetdeck.v1 import types_pb2 as pb


class CommandWatch:
    """`async with CommandWatch(stub) as watch:` then `async for command in watch.updates(command_id)`
    for each command: every state of the command, then of the test run it triggered, ending once the
    last of them finished; `watch.verdicts[command_id]` holds the control plane's verdict after that."""

    def __init__(self, stub: fleet_grpc.FleetServiceAsyncStub) -> None:
        self._stub = stub
        self.verdicts: dict[str, watch_pb.CommandVerdict] = {}

    async def __aenter__(self) -> CommandWatch:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def updates(self, command_id: str) -> AsyncIterator[pb.Command]:
        """Each new state of the command and of its follow-up test command, in order."""
        call = self._stub.WatchCommand(watch_pb.WatchCommandRequest(command_id=command_id))
        try:
            async for response in call:
                if response.HasField("verdict"):
                    self.verdicts[command_id] = response.verdict
                    return
                yield response.command
        finally:
            call.cancel()
        raise CliError("the control plane ended the command watch without a verdict", UNREACHABLE)
