"""Ratio and slow-share gates: a share judged by its one-sided binomial bounds, window and parts.

One rule for every ratio row that states a design (`power`, `effect`; `gates.design`): the sample
size is fixed by the threshold, the confidence and the power before anything is looked at. Below
the design's n the gate never says PASS (a FAIL the lower bound already proves still fails) and
names how many more requests complete the sample, whatever their outcome; at or over it the
bounds decide once. An undecided complete sample is not an invitation to send more until it
passes: that is optional stopping, which the design exists to prevent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from phasegate.gates import stats
from phasegate.gates.design import BinomialDesign, design_for
from phasegate.gates.format import fmt, needed_text, what
from phasegate.gates.kinds.counts import bad_counts, rounded
from phasegate.gates.observation import Counts, Observation, iso
from phasegate.gates.result import GateResult, gate_result, no_data
from phasegate.gates.spec import COMPARATORS, GateSpec
from phasegate.outcomes import Outcome


def evaluate_ratio(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    problem = bad_counts(obs.counts, "window")
    if problem:
        return no_data(spec, obs, problem)
    assert obs.counts is not None
    k, n = rounded(obs.counts)
    events, total = what(spec)
    lo = stats.lower_bound(k, n, confidence)
    hi = stats.upper_bound(k, n, confidence)
    threshold = spec.threshold
    limit = COMPARATORS[spec.comparator]
    design = design_for(spec, confidence)
    if design is not None:
        needed: int | None = max(design.n, spec.min_samples) - n if n < design.n else None
    else:
        needed = stats.requests_to_pass(k, n, threshold, confidence)
    if needed is not None and n < spec.min_samples:
        needed = max(needed, spec.min_samples - n)
    details: dict[str, Any] = {
        "events": k,
        "total": n,
        "lower": lo,
        "upper": hi,
        "confidence": confidence,
    }
    if design is not None:
        details["design"] = design.to_dict()
    if obs.counts.events != k or obs.counts.total != n:
        details["raw_counts"] = obs.counts.to_dict()
    observed = k / n
    seen = f"{k:,} {events} in {n:,} {total} ({fmt(observed, spec.unit)})"
    tail = f" [{design.short()}]" if design is not None else ""

    # "For N continuous hours": any sub-window that on its own breaks the threshold fails the gate.
    failing = _failing_parts(spec, obs.parts, confidence)
    if failing:
        details["failing_parts"] = failing
    details["parts"] = len(obs.parts)
    common: dict[str, Any] = {"observed": observed, "samples": n, "details": details}

    if n < spec.min_samples:
        return gate_result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: fewer than min_samples={spec.min_samples} {total}, too few to decide; "
            f"{_more_text(needed, spec, design)}{tail}",
            bound=hi,
            more_needed=needed,
            **common,
        )
    if not limit(lo, threshold):
        return gate_result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen}: the 95% lower bound {fmt(lo, spec.unit)} is not {spec.comparator} "
            f"{fmt(threshold, spec.unit)}{tail}",
            bound=lo,
            **common,
        )
    if failing:
        first = failing[0]
        return gate_result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen} overall, but {len(failing)} sub-window(s) broke the threshold, first "
            f"{first['start']}..{first['end']}: {first['events']} {events} in {first['total']} "
            f"{total}, lower bound {fmt(first['lower'], spec.unit)}{tail}",
            bound=first["lower"],
            **common,
        )
    if design is not None and n < design.n:
        return gate_result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: below the design's sample, so no PASS yet (95% upper bound "
            f"{fmt(hi, spec.unit)}); {_more_text(needed, spec, design)}{tail}",
            bound=hi,
            more_needed=needed,
            **common,
        )
    if limit(hi, threshold):
        return gate_result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: the 95% upper bound {fmt(hi, spec.unit)} is {spec.comparator} "
            f"{fmt(threshold, spec.unit)}{tail}",
            bound=hi,
            more_needed=0,
            **common,
        )
    return gate_result(
        spec,
        obs,
        Outcome.INCONCLUSIVE,
        f"{seen}: the 95% bounds {fmt(lo, spec.unit)}..{fmt(hi, spec.unit)} straddle "
        f"{fmt(threshold, spec.unit)}; {_more_text(needed, spec, design)}{tail}",
        bound=hi,
        more_needed=needed,
        **common,
    )


def _more_text(needed: int | None, spec: GateSpec, design: BinomialDesign | None) -> str:
    """What would decide: the rest of the design's sample, or (no design) the old search."""
    if design is None:
        return needed_text(needed, spec)
    if needed:
        return (
            f"{needed:,} more requests, whatever their outcome, complete the design's sample "
            f"of {max(design.n, spec.min_samples):,}"
        )
    return (
        "the design's sample is complete and undecided; sending more until it passes would be "
        "optional stopping: judge a fresh window"
    )


def _failing_parts(
    spec: GateSpec, parts: Sequence[Counts], confidence: float
) -> list[dict[str, Any]]:
    if len(parts) < 2:
        return []
    # Bonferroni: many sub-windows, one family-wise confidence.
    alpha = (1.0 - confidence) / len(parts)
    part_confidence = 1.0 - alpha
    limit = COMPARATORS[spec.comparator]
    failing: list[dict[str, Any]] = []
    for part in parts:
        if bad_counts(part, "sub-window") is not None:
            continue
        k, n = rounded(part)
        if n < spec.min_samples:
            continue
        lo = stats.lower_bound(k, n, part_confidence)
        if not limit(lo, spec.threshold):
            failing.append(
                {
                    "start": iso(part.start) if part.start is not None else "?",
                    "end": iso(part.end) if part.end is not None else "?",
                    "events": k,
                    "total": n,
                    "lower": lo,
                    "confidence": part_confidence,
                }
            )
    return failing
