"""Debian's headless Chromium, started once for a whole test session; tests connect to it over CDP.

Starting Chromium costs about a second a test on a loaded machine. One process serves every test,
and each test gets a browser context of its own (its own cookies, storage and cache), which
isolates tests as well as a browser of their own would.
"""

from __future__ import annotations

import collections
import re
import subprocess
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 30.0
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class Chromium:
    """A headless Chromium process with its DevTools endpoint; stop() ends it."""

    def __init__(self, profile: Path) -> None:
        self._proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                *CHROMIUM_ARGS,
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._found = threading.Event()
        self.endpoint = ""
        self._log: collections.deque[str] = collections.deque(maxlen=50)
        # Chromium keeps writing to stderr; a thread reads it to the end so the pipe never fills.
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._found.wait(START_TIMEOUT) or not self.endpoint:
            self.stop()
            raise RuntimeError("Chromium did not start:\n" + "\n".join(self._log))

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            self._log.append(line.rstrip())
            if not self.endpoint and (found := _LISTENING.search(line)):
                self.endpoint = found[1]
                self._found.set()
        self._found.set()  # ended before it listened: the waiter sees no endpoint

    def stop(self) -> None:
        """End the process and wait for it."""
        self._proc.terminate()
        try:
            self._proc.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._reader.join(START_TIMEOUT)
