"""The embedded drill target: one SkillMeat whose process can be replaced in place.

The plan's emergency steps all restart the API over the same data (a new flag value, an older
release, a restored database), so the drill's server keeps its private HOME and its port across
restarts: the traffic and the probes keep talking to one URL, as users behind a load balancer
would.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from phasegate.progress import Progress
from phasegate.stack.process import ManagedProcess
from phasegate.stack.skillmeat import SkillMeatServer


class DrillServer(SkillMeatServer):
    """`SkillMeatServer` plus stop-without-cleanup and start-again on the same HOME and port."""

    @property
    def home(self) -> Path:
        assert self.root is not None, "start() first"
        return self.root / "home"

    def stop_process(self) -> None:
        """Stop the API only; its HOME, database and port stay for the next start."""
        if self.process is not None:
            self.process.stop()
            self.process = None

    def start_process(self, *, flag_on: bool, python: Path | None = None) -> None:
        """Start the API again over the same data, with this flag value (and release)."""
        assert self.root is not None and self.port, "start() first"
        self.stop_process()
        self.spec = dataclasses.replace(
            self.spec, flag_on=flag_on, python=python or self.spec.python
        )
        self.process = ManagedProcess(
            self.spec.name,
            self.argv(),
            log_path=self.spec.log_path,
            env=self._env(self.home),
            cwd=self.root / "work",
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.exit_code()


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.25,
    gave_up: Callable[[], bool] = lambda: False,
    progress: Progress | None = None,
    waiting: str = "",
) -> bool:
    """Poll `condition` until it holds (True) or time runs out / `gave_up` says stop (False).

    A long wait says so every 10 s through `progress`, so a slow target never looks like a hang.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    noted = started
    while time.monotonic() < deadline:
        if condition():
            return True
        if gave_up():
            return False
        if progress is not None and time.monotonic() - noted >= 10:
            noted = time.monotonic()
            progress(f"still waiting for {waiting} ({noted - started:.0f} s of {timeout_s:.0f})")
        time.sleep(interval_s)
    return condition()


def healthy(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(f"{url}/health").status_code == 200
    except httpx.HTTPError:
        return False
