"""What a source (Prometheus, Alertmanager, or a test) saw for one gate and window.

Counts, samples or alerts, plus how fresh the data was, or why nothing could be seen. Sources
build these; the kinds in `phasegate.gates.kinds` judge them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from phasegate.durations import format_duration


@dataclass(frozen=True)
class Window:
    """A closed time interval in Unix seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end <= self.start:
            raise ValueError(f"a window needs start < end, got {self.start}..{self.end}")

    @classmethod
    def ending(cls, seconds: float, end: float) -> Window:
        return cls(end - seconds, end)

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def before(self) -> Window:
        """The equally long window immediately before this one (the default baseline)."""
        return Window(self.start - self.duration_s, self.start)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "duration": format_duration(round(self.duration_s, 3)),
        }

    def __str__(self) -> str:
        return f"{iso(self.start)} .. {iso(self.end)} ({format_duration(self.duration_s)})"


def iso(ts: float) -> str:
    """Unix seconds -> ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Counts:
    """Events out of total trials (errors out of requests, slow out of all) in one window."""

    events: float
    total: float
    start: float | None = None
    end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"events": self.events, "total": self.total}
        if self.start is not None and self.end is not None:
            data["start"], data["end"] = iso(self.start), iso(self.end)
        return data


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    state: str  # "active", "suppressed", "unprocessed" (Alertmanager) or "fired" (Prometheus)
    source: str  # "alertmanager" or "prometheus"
    labels: Mapping[str, str] = field(default_factory=dict)
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    starts_at: str = ""

    def line(self) -> str:
        extra = ""
        if self.silenced_by:
            extra += f" silenced by {', '.join(self.silenced_by)}"
        if self.inhibited_by:
            extra += f" inhibited by {', '.join(self.inhibited_by)}"
        return f"{self.name} [{self.severity}] {self.state} ({self.source}){extra}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "severity": self.severity,
            "state": self.state,
            "source": self.source,
            "labels": dict(self.labels),
            "silenced_by": list(self.silenced_by),
            "inhibited_by": list(self.inhibited_by),
            "starts_at": self.starts_at,
        }


@dataclass(frozen=True)
class AlertEvidence:
    """Alerts seen now (Alertmanager) and during the window (Prometheus ALERTS), and the rules.

    `rules` maps a severity to the number of alerting rules carrying it that Prometheus has loaded;
    None when the rules could not be read.
    """

    alerts: tuple[Alert, ...] = ()
    rules: Mapping[str, int] | None = None
    unhealthy_rules: tuple[str, ...] = ()
    alertmanager_error: str | None = None
    prometheus_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "rules": dict(self.rules) if self.rules is not None else None,
            "unhealthy_rules": list(self.unhealthy_rules),
            "alertmanager_error": self.alertmanager_error,
            "prometheus_error": self.prometheus_error,
        }


@dataclass(frozen=True)
class Freshness:
    """Whether the target behind the data was being scraped during the window."""

    selector: str
    targets: int
    targets_up: int
    scrapes: int  # fewest scrapes of any one target in the window
    expected_scrapes: float
    last_scrape_age_s: float | None  # oldest "last scrape" among the targets, at window end
    scrape_interval_s: float
    min_coverage: float = 0.8
    max_age_s: float | None = None  # default: 3 scrape intervals + 2 s

    @property
    def age_limit_s(self) -> float:
        return self.max_age_s if self.max_age_s is not None else 3 * self.scrape_interval_s + 2

    def problems(self) -> tuple[str, ...]:
        found: list[str] = []
        if self.targets == 0:
            return (f"no scrape target matches {{{self.selector}}} (`up` has no series)",)
        if self.targets_up < self.targets:
            found.append(
                f"{self.targets - self.targets_up} of {self.targets} target(s) down (up == 0) "
                "at the end of the window"
            )
        if self.last_scrape_age_s is None:
            found.append("no scrape within the lookback before the end of the window")
        elif self.last_scrape_age_s > self.age_limit_s:
            found.append(
                f"last scrape {self.last_scrape_age_s:.1f} s before the end of the window "
                f"(limit {self.age_limit_s:.0f} s)"
            )
        if self.expected_scrapes > 0 and self.scrapes < self.min_coverage * self.expected_scrapes:
            found.append(
                f"the window holds {self.scrapes} scrapes of ~{self.expected_scrapes:.0f} "
                f"expected at {self.scrape_interval_s:g} s ({self.min_coverage:.0%} needed)"
            )
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "selector": self.selector,
            "targets": self.targets,
            "targets_up": self.targets_up,
            "scrapes": self.scrapes,
            "expected_scrapes": round(self.expected_scrapes, 1),
            "last_scrape_age_s": (
                round(self.last_scrape_age_s, 2) if self.last_scrape_age_s is not None else None
            ),
            "scrape_interval_s": self.scrape_interval_s,
            "problems": list(self.problems()),
        }


@dataclass(frozen=True)
class Observation:
    """What a source saw for one gate. Fill the part the gate's kind needs."""

    query: str = ""
    window: Window | None = None
    counts: Counts | None = None  # ratio and slow-share kinds, whole window
    parts: tuple[Counts, ...] = ()  # the same per sub-window
    baseline: Counts | None = None  # baseline kinds
    baseline_window: Window | None = None
    points: tuple[tuple[float, float], ...] = ()  # gauge and slope kinds: (unix time, value)
    step_s: float = 0.0
    alerts: AlertEvidence | None = None
    freshness: Freshness | None = None
    error: str | None = None  # nothing could be observed: why
    config_error: str | None = None  # the question cannot be asked of this data: why
    notes: tuple[str, ...] = ()
