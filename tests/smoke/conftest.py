"""Smoke-suite pacing: project creation stays under SkillMeat's burst limiter.

Every check creates a project of its own with the same request, `POST /api/v1/projects` (no
query), and SkillMeat's always-on limiter blocks a client for 10 s once about 20 identical
requests arrive within 10 s. A smoke run of a hundred checks would trip it within seconds and
turn every later check (and the teardown deletes) into a 429. Real traffic does not create
projects at that rate, so the suite paces this one request shape to at most PACE_MAX per
PACE_WINDOW_S seconds, across pytest-xdist workers (a lock file per run), instead of hiding the
limiter or spreading requests over fake client addresses. Nothing else is slowed down.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PACE_MAX = 15
PACE_WINDOW_S = 10.5


def _wait_for_slot(path: Path) -> float:
    """Block until this process may create a project; returns the seconds waited."""
    waited = 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            now = time.time()
            recent = [
                stamp
                for stamp in (float(x) for x in handle.read().split())
                if now - stamp < PACE_WINDOW_S
            ]
            if len(recent) < PACE_MAX:
                recent.append(now)
                handle.seek(0)
                handle.truncate()
                handle.write("\n".join(f"{stamp:.3f}" for stamp in recent))
                return waited
            delay = PACE_WINDOW_S - (now - min(recent)) + 0.05
        time.sleep(delay)
        waited += delay


@pytest.fixture
def make_project(make_project: Callable[..., Any], request: pytest.FixtureRequest, target: Any):
    """The plugin's project factory, paced (see the module docstring)."""
    from phasegate.plugin import state_of

    state = state_of(request.config)
    directory = state.ledger_dir if state is not None else Path("reports/.ledger")
    pace_file = directory / f"pace-{target.run_id}.txt"

    def paced(*args: Any, **kwargs: Any) -> Any:
        _wait_for_slot(pace_file)
        return make_project(*args, **kwargs)

    return paced
