"""Baseline gates: the window's rate against a baseline window's, as a Poisson rate ratio."""

from __future__ import annotations

from typing import Any

from phasegate.gates import stats
from phasegate.gates.format import fmt, needed_text, what
from phasegate.gates.kinds.counts import bad_counts, rounded
from phasegate.gates.observation import Observation
from phasegate.gates.result import GateResult, gate_result, no_data
from phasegate.gates.spec import GateSpec
from phasegate.outcomes import Outcome


def evaluate_baseline(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    problem = bad_counts(obs.counts, "window") or bad_counts(obs.baseline, "baseline")
    if problem:
        return no_data(spec, obs, problem)
    assert obs.counts is not None and obs.baseline is not None
    k1, n1 = rounded(obs.counts)
    k0, n0 = rounded(obs.baseline)
    events, total = what(spec)
    margin = spec.threshold
    cmp = stats.compare_rates(k1, n1, k0, n0, margin, confidence)
    window_upper = stats.upper_bound(k1, n1, confidence)
    floor = spec.floor
    details: dict[str, Any] = {
        "window": {"events": k1, "total": n1, "rate": k1 / n1, "upper": window_upper},
        "baseline": {"events": k0, "total": n0, "rate": k0 / n0},
        "ratio": cmp.ratio,
        "ratio_lower": cmp.ratio_lower,
        "ratio_upper": cmp.ratio_upper,
        "p_value_increase": cmp.p_value,
        "margin": margin,
        "floor": floor,
        "confidence": confidence,
    }
    seen = (
        f"window {k1:,}/{n1:,} {events} ({fmt(k1 / n1, 'ratio')}) against baseline "
        f"{k0:,}/{n0:,} ({fmt(k0 / n0, 'ratio')})"
    )
    common: dict[str, Any] = {"observed": cmp.ratio, "samples": n1, "details": details}
    if min(n1, n0) < spec.min_samples:
        return gate_result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: fewer than min_samples={spec.min_samples} {total} in a window",
            bound=cmp.ratio_upper,
            more_needed=max(0, spec.min_samples - min(n1, n0)),
            **common,
        )
    ratio_text = (
        f"rate ratio 95% bounds {fmt(cmp.ratio_lower, spec.unit)}.."
        f"{fmt(cmp.ratio_upper, spec.unit)}"
    )
    if cmp.ratio_lower > margin:
        return gate_result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen}: an increase, {ratio_text}, lower bound above the allowed "
            f"{fmt(margin, spec.unit)} (one-sided p = {cmp.p_value:.2g})",
            bound=cmp.ratio_lower,
            **common,
        )
    if cmp.ratio_upper <= margin:
        return gate_result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: {ratio_text}, upper bound within {fmt(margin, spec.unit)}",
            bound=cmp.ratio_upper,
            more_needed=0,
            **common,
        )
    if floor is not None and window_upper < floor:
        return gate_result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: {ratio_text} cannot exclude an increase, but the window's own rate is "
            f"under {fmt(floor, 'ratio')} (upper bound {fmt(window_upper, 'ratio')})",
            bound=cmp.ratio_upper,
            more_needed=0,
            **common,
        )
    needed = stats.ratio_increase_excluded_after(k1, n1, k0, n0, margin, floor, confidence)
    return gate_result(
        spec,
        obs,
        Outcome.INCONCLUSIVE,
        f"{seen}: {ratio_text} straddle the allowed {fmt(margin, spec.unit)}; "
        f"{needed_text(needed, spec)}",
        bound=cmp.ratio_upper,
        more_needed=needed,
        **common,
    )
