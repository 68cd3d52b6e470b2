"""The agent config's [labels] table."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, parse_config

BASE = {
    "controlplane": "127.0.0.1:50051",
    "host": "gpc0",
    "token_file": "token",
    "repo_dir": "/etc/nixcfg",
    "state_dir": "state",
}


def test_labels_are_read_from_the_labels_table(tmp_path: Path) -> None:
    config = parse_config({**BASE, "labels": {"role": "web", "canary": "true"}}, tmp_path, os_name="nixos")
    assert config.labels == {"role": "web", "canary": "true"}
    assert parse_config(dict(BASE), tmp_path, os_name="nixos").labels == {}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"role": 1}, "labels.role: must be a non-empty string"),
        ({"role": "we b"}, "labels: label role: value 'we b' is not valid"),
        ({"ro le": "web"}, "labels: label key 'ro le' is not valid"),
    ],
)
def test_bad_labels_name_the_key(tmp_path: Path, labels: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({**BASE, "labels": labels}, tmp_path, os_name="nixos")
