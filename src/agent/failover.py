"""Which control-plane address the agent dials next, and how long it waits first (a pure function).

The addresses are tried in the order the config lists them. An attempt that was never welcomed moves
on to the next address; a stream that was welcomed and later ended starts again from the address that
worked. Delays grow exponentially up to a cap, with full jitter (anywhere from 0 to the backoff), so a
fleet that lost its control plane does not come back in one wave.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from agent.stream_end import next_backoff


@dataclass(frozen=True)
class Dial:
    """The next connection attempt: which address (an index into the list), after how long."""

    address: int
    delay: float
    backoff: float  # the base of the attempt after this one, should it fail too


def first_dial(initial: float) -> Dial:
    """The agent's first attempt: the first address, at once."""
    return Dial(address=0, delay=0.0, backoff=initial)


def next_dial(
    last: Dial,
    *,
    addresses: int,
    welcomed: bool,
    was_replaced: bool,
    initial: float,
    maximum: float,
    rng: random.Random,
) -> Dial:
    """The attempt after `last` ended (welcomed or not, replaced by a newer connection or not).

    A welcomed stream stays on its address and starts over from `initial`; a failed attempt fails
    over to the next address. A replaced stream waits in the upper half of `maximum` (two agents
    configured as one host must not take turns many times a second), on the same address.
    """
    stay = welcomed or was_replaced
    address = last.address if stay else (last.address + 1) % addresses
    base = next_backoff(
        last.backoff, welcomed=welcomed, was_replaced=was_replaced, initial=initial, maximum=maximum
    )
    delay = rng.uniform(base / 2, base) if was_replaced else rng.uniform(0.0, base)
    return Dial(address=address, delay=delay, backoff=min(base * 2, maximum))
