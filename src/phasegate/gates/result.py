"""A gate's conclusion (`GateResult`) and the one way every kind builds it.

PASS, FAIL or INCONCLUSIVE (ERROR for a configuration error), with its evidence: the resolved
query, the window, the observed value, the bound, the threshold and a sentence a person can act
on. `gate_result` adds what every result carries (freshness, notes, baseline window, kind and
severity); `no_data` applies the gate's no_data policy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from phasegate.gates.observation import Observation, Window
from phasegate.gates.spec import GateSpec, NoData
from phasegate.outcomes import Outcome


@dataclass(frozen=True)
class GateResult:
    id: str
    title: str
    outcome: Outcome
    observed: float | None
    bound: float | None
    threshold: float
    comparator: str
    samples: int
    query: str
    window: Window | None
    reason: str
    blocking: bool = True
    unit: str = ""
    phases: tuple[str, ...] = ()
    plan: str = ""
    more_needed: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "outcome": self.outcome.value,
            "blocking": self.blocking,
            "observed": _clean(self.observed),
            "bound": _clean(self.bound),
            "threshold": self.threshold,
            "comparator": self.comparator,
            "unit": self.unit,
            "samples": self.samples,
            "more_needed": self.more_needed,
            "query": self.query,
            "window": self.window.to_dict() if self.window else None,
            "reason": self.reason,
            "plan": self.plan,
            "details": _json_safe(self.details),
        }

    def line(self) -> str:
        return f"{self.outcome.value.upper():12} {self.id}: {self.reason}"


def _clean(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return _clean(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def gate_result(
    spec: GateSpec,
    obs: Observation,
    outcome: Outcome,
    reason: str,
    *,
    observed: float | None = None,
    bound: float | None = None,
    samples: int = 0,
    more_needed: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> GateResult:
    extra: dict[str, Any] = dict(details or {})
    if obs.freshness is not None:
        extra["freshness"] = obs.freshness.to_dict()
    if obs.notes:
        extra["notes"] = list(obs.notes)
    if obs.baseline_window is not None:
        extra["baseline_window"] = obs.baseline_window.to_dict()
    extra["kind"] = spec.kind.value
    extra["severity"] = spec.severity.value
    return GateResult(
        id=spec.id,
        title=spec.title,
        outcome=outcome,
        observed=observed,
        bound=bound,
        threshold=spec.threshold,
        comparator=spec.comparator,
        samples=samples,
        query=obs.query,
        window=obs.window,
        reason=reason,
        blocking=spec.blocking,
        unit=spec.unit,
        phases=spec.phases,
        plan=spec.plan,
        more_needed=more_needed,
        details=extra,
    )


def no_data_outcome(spec: GateSpec) -> Outcome:
    return Outcome.FAIL if spec.no_data is NoData.FAIL else Outcome.INCONCLUSIVE


def no_data(spec: GateSpec, obs: Observation, why: str, **kw: Any) -> GateResult:
    policy = " (no_data policy: fail)" if spec.no_data is NoData.FAIL else ""
    return gate_result(spec, obs, no_data_outcome(spec), f"no data{policy}: {why}", **kw)
