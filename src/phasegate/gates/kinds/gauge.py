"""Gauge gates: every sample (or every `sustain` stretch) on the right side of the threshold."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from phasegate.durations import format_duration
from phasegate.gates.format import fmt
from phasegate.gates.kinds.series import points_or_no_data
from phasegate.gates.observation import Observation, iso
from phasegate.gates.result import GateResult, gate_result
from phasegate.gates.spec import COMPARATORS, GateSpec
from phasegate.outcomes import Outcome


def evaluate_gauge(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    """Judge every sample; `confidence` is unused (a gauge has no bound)."""
    points, dropped, missing = points_or_no_data(spec, obs)
    if missing is not None:
        return missing
    ok = COMPARATORS[spec.comparator]
    upper_limit = spec.comparator in ("<", "<=")
    values = [v for _, v in points]
    worst = max(values) if upper_limit else min(values)
    span = points[-1][0] - points[0][0]
    step = obs.step_s if obs.step_s > 0 else _typical_step(points)
    runs = _breach_runs(points, lambda v: not ok(v, spec.threshold), step)
    longest = max((r[1] - r[0] + step for r in runs), default=0.0)
    details: dict[str, Any] = {
        "worst": worst,
        "last": values[-1],
        "points": len(points),
        "dropped_nan": dropped,
        "span_s": span,
        "step_s": step,
        "breaches": [{"start": iso(a), "end": iso(b), "duration_s": b - a + step} for a, b in runs][
            :10
        ],
        "longest_breach_s": longest,
    }
    common: dict[str, Any] = {"observed": worst, "samples": len(points), "details": details}
    limit_text = f"{spec.comparator} {fmt(spec.threshold, spec.unit)}"
    if runs and longest >= spec.sustain_s:
        sustained = f" for {format_duration(longest)}" if spec.sustain_s > 0 else ""
        return gate_result(
            spec,
            obs,
            Outcome.FAIL,
            f"worst {fmt(worst, spec.unit)} broke {limit_text}{sustained} "
            f"({len(runs)} breach(es) in {len(points)} samples)",
            **common,
        )
    note = (
        f"; {len(runs)} breach(es) shorter than {format_duration(spec.sustain_s)} allowed"
        if runs
        else ""
    )
    if dropped:
        note += f"; {dropped} NaN sample(s) ignored"
    if len(points) < spec.min_samples or span < spec.min_span_s:
        return gate_result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{len(points)} samples over {format_duration(max(span, 0.001))}: needs "
            f"{spec.min_samples} samples over at least "
            f"{format_duration(spec.min_span_s) if spec.min_span_s else 'any span'}; "
            f"worst so far {fmt(worst, spec.unit)}{note}",
            **common,
        )
    return gate_result(
        spec,
        obs,
        Outcome.PASS,
        f"all {len(points)} samples over {format_duration(span)} {limit_text}: worst "
        f"{fmt(worst, spec.unit)}{note}",
        **common,
    )


def _typical_step(points: Sequence[tuple[float, float]]) -> float:
    gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    return gaps[len(gaps) // 2] if gaps else 0.0


def _breach_runs(
    points: Sequence[tuple[float, float]], breaks: Callable[[float], bool], step: float
) -> list[tuple[float, float]]:
    """(first, last) timestamps of consecutive breaching samples; a gap over 2 steps splits."""
    runs: list[tuple[float, float]] = []
    start: float | None = None
    last: float | None = None
    for t, v in points:
        gap = last is not None and step > 0 and t - last > 2 * step
        if breaks(v) and not gap and start is not None:
            last = t
            continue
        if start is not None and last is not None:
            runs.append((start, last))
        start, last = (t, t) if breaks(v) else (None, t)
    if start is not None and last is not None:
        runs.append((start, last))
    return runs
