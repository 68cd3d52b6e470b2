"""The web UI is a FleetService client: importing it loads neither the control plane nor its SQL layer."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

FORBIDDEN = ("controlplane", "aiosqlite", "sqlite3")

PROBE = """
import json, sys
import {module}
top = {{name.split(".")[0] for name in sys.modules}}
print(json.dumps({{"imported": "{module}" in sys.modules, "forbidden": sorted(top & set({forbidden!r}))}}))
"""


@pytest.mark.parametrize("module", ["webui.app", "webui.cli"])
def test_importing_the_web_ui_loads_no_control_plane_and_no_sql(module: str) -> None:
    probe = PROBE.format(module=module, forbidden=FORBIDDEN)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == {"imported": True, "forbidden": []}
