"""Soak: keep the stack under the phase's bounded traffic before the metric gates are judged.

Some gates need a span of data, not a number of requests: CPU "sustained" needs 5 minutes, the
database-growth and memory-leak slopes an hour. A run of a few minutes cannot show them, so they
stay INCONCLUSIVE and say how much of their window the run covered (`coverage_note`). `--soak`
buys that time on purpose: the stack gets steady traffic at a bounded rate for the stated time,
one progress line per minute. Where the gap to the shortest such window is small (the CPU gate
on a full embedded run), the run closes it by itself (`auto_soak_s`). Both amounts are fixed by
durations alone, never by what the gates would say.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from phasegate.durations import format_duration
from phasegate.gates.spec import GateSpec
from phasegate.progress import Progress

Burst = Callable[[float], Any]  # send traffic for at most this many seconds; returns its tally
SOAK_RATE_PER_S = 4.0  # requests per second: steady, well under the embedded stack's knee
MINUTE_S = 60.0
AUTO_SOAK_MAX_S = 90.0  # the embedded run closes a gap this small to the shortest window
SPAN_SLACK_S = 15.0  # the first rate() sample and the last scrape lag the window's edges


@dataclass
class SoakReport:
    planned_s: float
    reason: str
    covered_s: float = 0.0
    requests: int = 0
    server_errors: int = 0
    minutes: list[dict[str, Any]] = field(default_factory=list)
    bursts: list[dict[str, Any]] = field(default_factory=list)  # the driver's tallies, as data

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned_s": round(self.planned_s, 1),
            "covered_s": round(self.covered_s, 1),
            "reason": self.reason,
            "rate_per_s": SOAK_RATE_PER_S,
            "requests": self.requests,
            "server_errors": self.server_errors,
            "minutes": self.minutes,
            "bursts": self.bursts,
        }


def soak(
    seconds: float,
    burst: Burst,
    progress: Progress,
    *,
    reason: str = "--soak",
    clock: Callable[[], float] = time.monotonic,
) -> SoakReport:
    """Run `burst` minute by minute until `seconds` have passed; one progress line a minute."""
    report = SoakReport(seconds, reason)
    started = clock()
    total = format_duration(round(seconds))
    progress(f"soak: {total} of steady traffic ({reason}), about {SOAK_RATE_PER_S:g} req/s")
    while (left := seconds - (clock() - started)) > 0.5:
        tally = burst(min(MINUTE_S, left))
        report.covered_s = clock() - started
        sent = int(getattr(tally, "requests", 0))
        errors = int(getattr(tally, "server_errors", 0))
        report.requests += sent
        report.server_errors += errors
        report.minutes.append({"requests": sent, "server_errors": errors})
        if hasattr(tally, "to_dict"):
            report.bursts.append(tally.to_dict())
        progress(
            f"soak: {format_duration(round(report.covered_s))} of {total}, "
            f"{report.requests} requests ({report.server_errors} 5xx)"
        )
    return report


def auto_soak_s(specs: Iterable[GateSpec], covered_s: float) -> float:
    """The gap to the shortest span a gate needs, when it is small enough to close; else 0."""
    gaps = [spec.min_span_s + SPAN_SLACK_S - covered_s for spec in specs if spec.min_span_s > 0]
    small = [gap for gap in gaps if 0 < gap <= AUTO_SOAK_MAX_S]
    return max(small, default=0.0)


def coverage_note(spec: GateSpec, covered_s: float) -> str | None:
    """For an undecided gate whose window the run did not cover: how much it did, what would."""
    if spec.min_span_s <= 0 or covered_s >= spec.min_span_s:
        return None
    minutes = max(1, math.ceil(spec.min_span_s / MINUTE_S))
    return (
        f"the run covered {format_duration(round(covered_s))} of the "
        f"{format_duration(round(spec.min_span_s))} window this gate needs; use --soak "
        f"{format_duration(minutes * MINUTE_S)}"
    )
