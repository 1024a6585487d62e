"""What every drill shares: the plan's budgets as data, a timeline, and the traffic it watches.

A drill is judged on time (the plan promises a disable in under a minute and a rollback in under
five) and on what users would have seen meanwhile, so it keeps two records: a `Timeline` of the
steps it took, each stamped with its wall-clock time and the seconds since the drill began, and a
`TimedTally` of the background traffic (the phase-4 production mix of `traffic.threaded`) that
also remembers when each failed request happened, so the report can say how long users met
failures and not only how many.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phasegate.client import ClientConfig
from phasegate.progress import Progress
from phasegate.resources import Ledger
from phasegate.traffic import threaded, top_up


@dataclass(frozen=True)
class Budget:
    """One promise of the plan's "Emergency Procedures" section; `seconds` None = no budget."""

    drill: str
    seconds: float | None
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"drill": self.drill, "seconds": self.seconds, "source": self.source}


# The plan's numbers, verbatim. Data recovery has no time promise in the plan: it is measured and
# reported, judged only on the data.
BUDGETS: dict[str, Budget] = {
    "disable": Budget("disable", 60.0, "rollout plan: Immediate Disable (< 1 minute)"),
    "rollback": Budget("rollback", 300.0, "rollout plan: Full Rollback (< 5 minutes)"),
    "recover": Budget("recover", None, "rollout plan: Data Recovery (no time given)"),
}


@dataclass(frozen=True)
class Event:
    at: float  # seconds since the drill began
    wall: str  # UTC ISO time
    what: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"t_s": round(self.at, 3), "utc": self.wall, "event": self.what}
        if self.detail:
            entry["detail"] = self.detail
        return entry


class Timeline:
    """Timestamped steps of one drill; `mark` returns the step's offset for later arithmetic."""

    def __init__(self, progress: Progress = print, name: str = "drill") -> None:
        self.origin = time.monotonic()
        self.events: list[Event] = []
        self.progress = progress
        self.name = name
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.monotonic() - self.origin

    def mark(self, what: str, **detail: Any) -> float:
        at = self.now()
        wall = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self._lock:
            self.events.append(Event(at, wall, what, dict(detail)))
        self.progress(f"{self.name} +{at:6.1f} s  {what}")
        return at

    def at_monotonic(self, monotonic: float) -> float:
        return monotonic - self.origin

    def to_list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event.to_dict() for event in self.events]


@dataclass
class TimedTally(threaded.Tally):
    """The traffic's `Tally`, plus the monotonic time of every failed request (5xx or none)."""

    failure_times: list[float] = field(default_factory=list)

    def add(self, status: int | None, seconds: float) -> None:
        super().add(status, seconds)
        if status is None or status >= 500:
            with self._lock:
                self.failure_times.append(time.monotonic())


@dataclass(frozen=True)
class TrafficWindow:
    """What the traffic saw: all of it, and the failures, with the span they covered."""

    requests: int
    failures: int
    first_failure_s: float | None  # on the drill's timeline
    last_failure_s: float | None
    tally: dict[str, Any]

    @property
    def failing_s(self) -> float:
        if self.first_failure_s is None or self.last_failure_s is None:
            return 0.0
        return self.last_failure_s - self.first_failure_s

    def describe(self) -> str:
        return (
            f"traffic: {self.failures} of {self.requests} requests failed over "
            f"{self.failing_s:.1f} s"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed": self.failures,
            "first_failure_s": rounded(self.first_failure_s),
            "last_failure_s": rounded(self.last_failure_s),
            "failing_for_s": round(self.failing_s, 3),
            "tally": self.tally,
        }


def seen(window: TrafficWindow | None) -> str:
    return window.describe() if window else "no traffic measured"


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class BackgroundTraffic:
    """The phase-4 mix sent from a thread while a drill works, bounded in time and in count.

    It only ever talks to `config.api_url`, the stack the drill started (or the deployment the
    user named); `stop()` ends it early and waits for its cleanup.
    """

    def __init__(
        self,
        config: ClientConfig,
        ledger: Ledger,
        projects_root: str,
        *,
        rate_per_s: float = 4.0,
        max_requests: int = 3000,
        max_seconds: float = 600.0,
        threads: int = 2,
    ) -> None:
        self.tally = TimedTally(started=time.time())
        self._stop = threading.Event()
        self._error: BaseException | None = None

        def run() -> None:
            try:
                threaded.send(
                    config,
                    ledger,
                    requests=max_requests,
                    max_seconds=max_seconds,
                    projects_root=projects_root,
                    mix=top_up.mix_for_phase("phase4"),
                    threads=threads,
                    progress=lambda _: None,
                    rate_per_s=rate_per_s,
                    tally=self.tally,
                    stop=self._stop,
                )
            except BaseException as exc:  # kept for the drill's facts, never swallowed silently
                self._error = exc

        self._thread = threading.Thread(target=run, name="drill-traffic", daemon=True)

    def start(self, wait_for: int = 10, timeout_s: float = 60.0) -> None:
        """Start, and return once `wait_for` requests went out (the traffic is really flowing)."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while self.tally.requests < wait_for and time.monotonic() < deadline:
            if not self._thread.is_alive():
                break
            time.sleep(0.2)

    def stop(self, timeout_s: float = 60.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    @property
    def error(self) -> str | None:
        return None if self._error is None else repr(self._error)

    def window(self, timeline: Timeline, start_s: float, end_s: float) -> TrafficWindow:
        """Failures whose time falls inside [start_s, end_s] of the timeline; totals of all."""
        with self.tally._lock:
            times = [timeline.at_monotonic(t) for t in self.tally.failure_times]
        inside = [t for t in times if start_s <= t <= end_s]
        return TrafficWindow(
            requests=self.tally.requests,
            failures=len(inside),
            first_failure_s=min(inside) if inside else None,
            last_failure_s=max(inside) if inside else None,
            tally=self.tally.to_dict(),
        )
