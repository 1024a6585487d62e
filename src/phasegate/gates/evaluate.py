"""Judging one gate: `evaluate(spec, observation) -> GateResult`, a pure function.

Each gate kind is judged by its own module in `phasegate.gates.kinds`, found in `EVALUATORS`;
what a source saw is `phasegate.gates.observation`, the result `phasegate.gates.result`.

Rules that hold for every kind:
- missing, empty, NaN or stale data never passes (it is INCONCLUSIVE, or FAIL when the gate's
  no_data policy says so);
- a violation that was observed is reported as FAIL even when the data is otherwise thin or stale;
- ratios are judged by their one-sided 95% bounds, never by their point value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from phasegate.gates import stats
from phasegate.gates.format import fmt
from phasegate.gates.kinds.alerts import evaluate_alerts
from phasegate.gates.kinds.baseline import evaluate_baseline
from phasegate.gates.kinds.gauge import evaluate_gauge
from phasegate.gates.kinds.ratio import evaluate_ratio
from phasegate.gates.kinds.slope import evaluate_slope
from phasegate.gates.observation import Alert, AlertEvidence, Counts, Freshness, Observation, Window
from phasegate.gates.result import GateResult, gate_result, no_data, no_data_outcome
from phasegate.gates.spec import GateKind, GateSpec
from phasegate.outcomes import Outcome

__all__ = [
    "CONFIDENCE",
    "EVALUATORS",
    "Alert",
    "AlertEvidence",
    "Counts",
    "Freshness",
    "GateResult",
    "KindEvaluator",
    "Observation",
    "Window",
    "evaluate",
    "fmt",
]

CONFIDENCE = stats.CONFIDENCE


@dataclass(frozen=True)
class KindEvaluator:
    """How one gate kind is judged.

    `guarded`: a source error, data no statistic can digest and stale data are handled here, the
    same way for the kind; alerts weigh their two sources' errors themselves.
    """

    judge: Callable[[GateSpec, Observation, float], GateResult]
    guarded: bool = True


EVALUATORS: Mapping[GateKind, KindEvaluator] = {
    GateKind.RATIO: KindEvaluator(evaluate_ratio),
    GateKind.SLOW_SHARE: KindEvaluator(evaluate_ratio),
    GateKind.BASELINE_RATIO: KindEvaluator(evaluate_baseline),
    GateKind.BASELINE_SLOW_SHARE: KindEvaluator(evaluate_baseline),
    GateKind.GAUGE: KindEvaluator(evaluate_gauge),
    GateKind.SLOPE: KindEvaluator(evaluate_slope),
    GateKind.ALERTS: KindEvaluator(evaluate_alerts, guarded=False),
}


def evaluate(spec: GateSpec, obs: Observation, confidence: float = CONFIDENCE) -> GateResult:
    """Judge one gate from one observation. Never raises on bad data; only on a bad spec."""
    kind = EVALUATORS.get(spec.kind)
    if kind is None:
        raise ValueError(f"gate {spec.id!r}: kind {spec.kind.value!r} has no metric evaluator")
    if obs.config_error:
        return gate_result(spec, obs, Outcome.ERROR, f"configuration error: {obs.config_error}")
    if not kind.guarded:
        return kind.judge(spec, obs, confidence)
    if obs.error:
        return no_data(spec, obs, obs.error)
    try:
        result = kind.judge(spec, obs, confidence)
    except (ArithmeticError, ValueError) as exc:
        # Data no statistic can digest (for example values near the float limit) decides nothing.
        return no_data(spec, obs, f"the data cannot be evaluated ({type(exc).__name__}: {exc})")
    return _apply_freshness(spec, obs, result)


def _apply_freshness(spec: GateSpec, obs: Observation, result: GateResult) -> GateResult:
    problems = obs.freshness.problems() if obs.freshness is not None else ()
    if not problems or result.outcome in (Outcome.ERROR,):
        return result
    stale = "; ".join(problems)
    if result.outcome is Outcome.FAIL:
        reason = f"{result.reason} (the data is also incomplete: {stale})"
        return replace(result, reason=reason)
    if result.outcome is Outcome.PASS:
        reason = f"stale or incomplete data, so no PASS: {stale}; the data said: {result.reason}"
        return replace(result, outcome=no_data_outcome(spec), reason=reason)
    return replace(result, reason=f"{result.reason}; also stale or incomplete: {stale}")
