"""The most specific desired state that applies to a host."""

from __future__ import annotations

import pytest

from controlplane import desired
from fleetdeck.v1 import types_pb2 as pb


def state(name: str, selector: str = "", at: int = 1) -> pb.DesiredState:
    d = pb.DesiredState(commit=name * 40, lock_hash=name * 64, selector=selector)
    d.updated_at.seconds = at
    return d


FLEET = state("a")
WEB = state("b", "role=web", at=2)
WEB_BER = state("c", "role=web,site=ber", at=1)
BER = state("d", "site=ber", at=3)
ROLLOUT = state("e")


@pytest.mark.parametrize(
    ("labels", "fleet_wide", "by_selector", "rollout", "expected"),
    [
        ({}, None, [], None, None),
        ({}, FLEET, [], None, FLEET),
        ({"role": "db"}, FLEET, [WEB], None, FLEET),  # no selector matches: fleet-wide
        ({"role": "web"}, FLEET, [WEB], None, WEB),  # a matching selector beats fleet-wide
        ({"role": "web"}, None, [WEB], None, WEB),
        ({"role": "web", "site": "ber"}, FLEET, [WEB, WEB_BER], None, WEB_BER),  # more terms win
        ({"role": "web", "site": "ber"}, FLEET, [WEB_BER, WEB], None, WEB_BER),  # whatever the order
        ({"role": "web", "site": "ber"}, FLEET, [WEB, BER], None, BER),  # a tie: the newest
        ({"role": "web", "site": "ber"}, FLEET, [WEB_BER, BER], ROLLOUT, ROLLOUT),  # a rollout first
    ],
)
def test_most_specific_desired_state(
    labels: dict[str, str],
    fleet_wide: pb.DesiredState | None,
    by_selector: list[pb.DesiredState],
    rollout: pb.DesiredState | None,
    expected: pb.DesiredState | None,
) -> None:
    assert desired.most_specific(labels, fleet_wide, by_selector, rollout) == expected


def test_ordered_lists_most_specific_first() -> None:
    assert desired.ordered([WEB, BER, WEB_BER]) == [WEB_BER, BER, WEB]
