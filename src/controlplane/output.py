"""Command output on its way out: live followers (lines go to them only after they are durably
stored), and the split of lines into messages that fit the message limit."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence

from fleetdeck.limits import MAX_MESSAGE_BYTES
from fleetdeck.v1 import types_pb2 as pb

FOLLOWER_QUEUE_LIMIT = 10_000
MAX_LINES_PER_MESSAGE = 500
# Room left in a message for what travels with the lines (the command, truncated bytes).
MESSAGE_BUDGET = MAX_MESSAGE_BYTES - 64 * 1024
_FRAMING = 6  # a repeated field's tag and length prefix, at most, per line


def in_messages(
    lines: Sequence[pb.OutputLine], budget: int = MESSAGE_BUDGET, most: int = MAX_LINES_PER_MESSAGE
) -> Iterator[list[pb.OutputLine]]:
    """`lines` in order, in parts of at most `most` lines whose encoding fits `budget` bytes.

    A part never splits a line; a single line larger than the budget (the agent splits lines far
    below it) travels alone."""
    part: list[pb.OutputLine] = []
    size = 0
    for line in lines:
        cost = line.ByteSize() + _FRAMING
        if part and (size + cost > budget or len(part) == most):
            yield part
            part, size = [], 0
        part.append(line)
        size += cost
    if part:
        yield part


Item = list[pb.OutputLine] | pb.Command | None  # None: the control plane is stopping


class Follower:
    """One StreamCommandOutput caller; a caller that falls behind re-reads from the store."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Item] = asyncio.Queue(FOLLOWER_QUEUE_LIMIT)
        self.overflowed = False

    def offer(self, item: Item) -> None:
        """Queue lines or the final command; on overflow flag the follower to catch up from the store."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            if not isinstance(item, list):  # the end (or shutdown) must always arrive
                while not self.queue.empty():
                    self.queue.get_nowait()
                self.queue.put_nowait(item)


class OutputFollowers:
    """Followers by command id."""

    def __init__(self) -> None:
        self._by_command: defaultdict[str, set[Follower]] = defaultdict(set)
        self.on_stored: Callable[[str], None] | None = None  # told of each command with new lines

    def follow(self, command_id: str) -> Follower:
        """Subscribe to a command's new lines and its end."""
        follower = Follower()
        self._by_command[command_id].add(follower)
        return follower

    def unfollow(self, command_id: str, follower: Follower) -> None:
        """Unsubscribe."""
        followers = self._by_command.get(command_id)
        if followers is not None:
            followers.discard(follower)
            if not followers:
                del self._by_command[command_id]

    def publish(self, command_id: str, lines: list[pb.OutputLine]) -> None:
        """Durable lines of a command."""
        for follower in self._by_command.get(command_id, ()):
            follower.offer(lines)
        if self.on_stored is not None:
            self.on_stored(command_id)

    def stored_elsewhere(self, command_id: str) -> None:
        """Another replica stored lines of a command: its followers here read them from the store."""
        for follower in self._by_command.get(command_id, ()):
            follower.overflowed = True
            follower.offer([])

    def following(self, command_id: str) -> bool:
        """Whether anyone here follows the command."""
        return command_id in self._by_command

    def close_all(self) -> None:
        """End every follow (at shutdown)."""
        for followers in self._by_command.values():
            for follower in followers:
                with contextlib.suppress(asyncio.QueueFull):
                    follower.queue.put_nowait(None)

    def finish(self, command: pb.Command) -> None:
        """A command ended; its followers stop after the lines they already have."""
        for follower in self._by_command.get(command.id, ()):
            follower.offer(command)
