"""Which desired state a host compares against: the most specific one that applies to it.

Most specific, in this order: the rollout moving the host (its target), then the selector desired
state matching the host's labels with the most terms (the one set last on a tie), then the
fleet-wide desired state. Pure: the Git and Lock compartments are computed against the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fleetdeck import selectors
from fleetdeck.v1 import types_pb2 as pb


def _specificity(desired: pb.DesiredState) -> tuple[int, int, int]:
    terms = len(selectors.parse(desired.selector).terms)
    return terms, desired.updated_at.seconds, desired.updated_at.nanos


def most_specific(
    labels: Mapping[str, str],
    fleet_wide: pb.DesiredState | None,
    by_selector: Iterable[pb.DesiredState],
    rollout_target: pb.DesiredState | None = None,
) -> pb.DesiredState | None:
    """The desired state a host with these labels compares against; None when none was ever set."""
    if rollout_target is not None:
        return rollout_target
    matching = [d for d in by_selector if selectors.parse(d.selector).matches(labels)]
    if matching:
        return max(matching, key=_specificity)
    return fleet_wide


def ordered(by_selector: Iterable[pb.DesiredState]) -> list[pb.DesiredState]:
    """Selector desired states, most specific first."""
    return sorted(by_selector, key=_specificity, reverse=True)
