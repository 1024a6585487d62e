"""Slope gates: a least-squares growth rate judged by its one-sided Student-t bounds."""

from __future__ import annotations

from typing import Any

from phasegate.durations import format_duration
from phasegate.gates import stats
from phasegate.gates.format import fmt
from phasegate.gates.kinds.series import points_or_no_data
from phasegate.gates.observation import Observation
from phasegate.gates.result import GateResult, gate_result
from phasegate.gates.spec import COMPARATORS, PER_SECONDS, GateSpec
from phasegate.outcomes import Outcome


def evaluate_slope(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    points, dropped, missing = points_or_no_data(spec, obs)
    if missing is not None:
        return missing
    per = PER_SECONDS[spec.per]
    times = [t for t, _ in points]
    values = [v for _, v in points]
    span = times[-1] - times[0]
    fit = stats.fit_slope(times, values, confidence)
    details: dict[str, Any] = {
        "points": len(points),
        "dropped_nan": dropped,
        "span_s": span,
        "first": values[0],
        "last": values[-1],
        "per": spec.per,
        "confidence": confidence,
    }
    if fit is None:
        return gate_result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{len(points)} samples cannot give a slope (at least 3 over a time span needed)",
            samples=len(points),
            details=details,
        )
    slope, lo, hi = fit.slope * per, fit.lower * per, fit.upper * per
    details.update(slope=slope, lower=lo, upper=hi, stderr=fit.stderr * per)
    ok = COMPARATORS[spec.comparator]
    upper_limit = spec.comparator in ("<", "<=")
    favourable, unfavourable = (hi, lo) if upper_limit else (lo, hi)
    seen = (
        f"slope {fmt(slope, spec.unit)} (95% bounds {fmt(lo, spec.unit)}..{fmt(hi, spec.unit)}) "
        f"from {len(points)} samples over {format_duration(max(span, 0.001))}"
    )
    common: dict[str, Any] = {"observed": slope, "samples": len(points), "details": details}
    if len(points) < spec.min_samples or span < spec.min_span_s:
        return gate_result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: a growth rate needs {spec.min_samples} samples over at least "
            f"{format_duration(spec.min_span_s)}",
            bound=favourable,
            **common,
        )
    if not ok(unfavourable, spec.threshold):
        return gate_result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen}: even the favourable bound is not {spec.comparator} "
            f"{fmt(spec.threshold, spec.unit)}",
            bound=unfavourable,
            **common,
        )
    if ok(favourable, spec.threshold):
        return gate_result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: {spec.comparator} {fmt(spec.threshold, spec.unit)} with 95% confidence",
            bound=favourable,
            **common,
        )
    return gate_result(
        spec,
        obs,
        Outcome.INCONCLUSIVE,
        f"{seen}: the bounds straddle {fmt(spec.threshold, spec.unit)}; a longer window narrows "
        "them",
        bound=favourable,
        **common,
    )
