"""Alert gates: no alert of the given severities fired in the window or is active now.

Unlike the other kinds it weighs its sources' errors itself (two sources, either may fail).
"""

from __future__ import annotations

from typing import Any

from phasegate.gates.observation import Observation
from phasegate.gates.result import GateResult, gate_result, no_data
from phasegate.gates.spec import COMPARATORS, GateSpec
from phasegate.outcomes import Outcome


def evaluate_alerts(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    """Judge the alerts seen; `confidence` is unused (alerts are counted, not estimated)."""
    evidence = obs.alerts
    if evidence is None:
        return no_data(spec, obs, obs.error or "no alert source was queried")
    wanted = set(spec.severities)
    matching = [a for a in evidence.alerts if a.severity in wanted]
    names = sorted({a.name for a in matching})
    count = float(len(names))
    details: dict[str, Any] = {
        "severities": list(spec.severities),
        "matching": [a.line() for a in matching],
        **evidence.to_dict(),
    }
    common: dict[str, Any] = {
        "observed": count,
        "samples": len(evidence.alerts),
        "details": details,
    }
    label = "/".join(spec.severities)
    if not COMPARATORS[spec.comparator](count, spec.threshold):
        return gate_result(
            spec,
            obs,
            Outcome.FAIL,
            f"{len(names)} {label} alert(s): " + "; ".join(a.line() for a in matching[:10]),
            **common,
        )
    problems = [
        f"{source} unreachable or erroring: {error}"
        for source, error in (
            ("Alertmanager", evidence.alertmanager_error),
            ("Prometheus", evidence.prometheus_error),
        )
        if error
    ]
    if obs.error:
        problems.append(obs.error)
    if evidence.rules is not None:
        loaded = sum(evidence.rules.get(s, 0) for s in spec.severities)
        if loaded == 0:
            problems.append(
                f"no alerting rule with severity {label} is loaded in Prometheus, so no such "
                "alert could have fired"
            )
    if evidence.unhealthy_rules:
        problems.append(
            f"{len(evidence.unhealthy_rules)} alerting rule(s) fail to evaluate: "
            + ", ".join(evidence.unhealthy_rules[:5])
        )
    if problems:
        return no_data(spec, obs, "; ".join(problems), **common)
    rules = sum(evidence.rules.get(s, 0) for s in spec.severities) if evidence.rules else 0
    return gate_result(
        spec,
        obs,
        Outcome.PASS,
        f"no {label} alert fired in the window or is active now (silenced and inhibited "
        f"included); {rules} {label} rule(s) loaded",
        **common,
    )
