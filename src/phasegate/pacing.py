"""Pacing for a request shape that the target's burst limiter would otherwise refuse.

Every check creates a project of its own with the same request (`POST /api/v1/projects`, no
query), and SkillMeat's always-on limiter blocks a client for 10 s once about 20 identical
requests arrive within 10 s. A suite of a hundred checks would trip it within seconds and turn
later checks and teardown deletes into 429s. Real traffic does not create projects at that rate,
so the suite paces that one shape, across pytest-xdist workers through a lock file, rather than
hiding the limiter or spreading requests over fake client addresses. The limiter's numbers
are ratelimit.py's.
"""

from __future__ import annotations

import fcntl
import time
from dataclasses import dataclass
from pathlib import Path

from phasegate.ratelimit import LIMITER_WINDOW_S, SAME_REQUEST_BUDGET

WINDOW_MARGIN_S = 0.5  # clocks of the target and of this host are not the same clock


@dataclass(frozen=True)
class Pacer:
    path: Path
    max_requests: int = SAME_REQUEST_BUDGET
    window_s: float = LIMITER_WINDOW_S + WINDOW_MARGIN_S

    def wait_for_slot(self) -> float:
        """Block until this process may send one more request; return the seconds waited."""
        waited = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            with self.path.open("a+", encoding="utf-8") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                handle.seek(0)
                now = time.time()
                recent = [
                    stamp
                    for stamp in (float(x) for x in handle.read().split())
                    if now - stamp < self.window_s
                ]
                if len(recent) < self.max_requests:
                    recent.append(now)
                    handle.seek(0)
                    handle.truncate()
                    handle.write("\n".join(f"{stamp:.3f}" for stamp in recent))
                    return waited
                delay = self.window_s - (now - min(recent)) + 0.05
            time.sleep(delay)
            waited += delay
