"""What both engines share about the target aggregate (labels, desired states per selector, rollouts)."""

from __future__ import annotations

from fleetdeck.v1 import rollouts_pb2 as rollouts_pb

# A rollout in one of these states may still touch hosts (or is following a step to its end).
ACTIVE_ROLLOUT_STATES = frozenset(
    {
        rollouts_pb.ROLLOUT_STATE_RUNNING,
        rollouts_pb.ROLLOUT_STATE_PAUSED,
        rollouts_pb.ROLLOUT_STATE_AWAITING_APPROVAL,
        rollouts_pb.ROLLOUT_STATE_STOPPED,
    }
)
