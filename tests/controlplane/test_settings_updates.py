"""How an update with a field mask changes a host's test settings override and the fleet settings."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from controlplane.errors import InvalidArgument
from controlplane.policy import updated_override, updated_settings
from fleetdeck.v1 import types_pb2 as pb


def override(**fields: Any) -> pb.TestSettingsOverride:
    return json_format.ParseDict(fields, pb.TestSettingsOverride())


def settings(**fields: Any) -> pb.Settings:
    return json_format.ParseDict(fields, pb.Settings())


CURRENT = override(enabled=False, timeout="30s")


@pytest.mark.parametrize(
    ("new", "paths", "expected"),
    [
        pytest.param(
            override(auto_run_after_switch=False),
            [],
            override(auto_run_after_switch=False),
            id="no-mask-replaces",
        ),
        pytest.param(
            override(enabled=True), ["enabled"], override(enabled=True, timeout="30s"), id="one-path-set"
        ),
        pytest.param(override(), ["timeout"], override(enabled=False), id="path-unset-in-request-clears"),
        pytest.param(
            override(timeout="90s"), ["timeout"], override(enabled=False, timeout="90s"), id="timeout-set"
        ),
    ],
)
def test_updated_override(
    new: pb.TestSettingsOverride, paths: list[str], expected: pb.TestSettingsOverride
) -> None:
    assert updated_override(CURRENT, new, paths) == expected


@pytest.mark.parametrize(
    ("new", "paths", "message"),
    [
        pytest.param(override(), ["colour"], "unknown update_mask path 'colour'", id="unknown-path"),
        pytest.param(
            override(timeout="0.5s"), ["timeout"], "timeout must be at least 1 s", id="timeout-too-short"
        ),
    ],
)
def test_updated_override_refuses(new: pb.TestSettingsOverride, paths: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        updated_override(CURRENT, new, paths)


FLEET = settings(
    test_timeout="60s", heartbeat_interval="5s", test_history_limit=200, operation_timeout="1800s"
)


def test_updated_settings_changes_only_the_masked_fields() -> None:
    got = updated_settings(FLEET, settings(test_timeout="90s", heartbeat_interval="1s"), ["test_timeout"])
    assert got == settings(
        test_timeout="90s", heartbeat_interval="5s", test_history_limit=200, operation_timeout="1800s"
    )


@pytest.mark.parametrize(
    ("new", "paths", "message"),
    [
        pytest.param(settings(), ["colour"], "unknown update_mask path 'colour'", id="unknown-path"),
        pytest.param(settings(test_history_limit=0), ["test_history_limit"], "at least 1", id="no-history"),
        pytest.param(
            settings(heartbeat_interval="0.4s"),
            ["heartbeat_interval"],
            "at least 0.5 s",
            id="heartbeat-too-fast",
        ),
        pytest.param(
            settings(heartbeat_interval="1s"),
            [],
            "test_timeout must be at least 1 s",
            id="no-mask-needs-every-field",
        ),
    ],
)
def test_updated_settings_refuses(new: pb.Settings, paths: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        updated_settings(FLEET, new, paths)
