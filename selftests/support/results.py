"""Small builders for check results and verdicts, so unit tests state only what matters."""

from __future__ import annotations

from typing import Any

from phasegate.outcomes import CheckResult, Kind, Outcome
from phasegate.verdict import Verdict, decide


def check(
    check_id: str = "svc.health",
    outcome: Outcome = Outcome.PASS,
    *,
    blocking: bool = True,
    reason: str = "",
    title: str = "The service is healthy",
    kind: Kind = Kind.SMOKE,
    evidence: dict[str, Any] | None = None,
) -> CheckResult:
    return CheckResult(
        id=check_id,
        title=title,
        kind=kind,
        outcome=outcome,
        blocking=blocking,
        phases=("phase1",),
        description="Blocking: because the test says so.",
        reason=reason,
        nodeid=f"tests/test_x.py::test_{check_id.replace('.', '_')}",
        duration_s=0.25,
        evidence=evidence if evidence is not None else {"facts": {}, "exchanges": []},
    )


def verdict(
    checks: list[CheckResult], extra_reasons: tuple[str, ...] = (), phase: str = "phase1"
) -> Verdict:
    decision, reasons, warnings = decide(checks, extra_reasons)
    return Verdict(
        phase=phase,
        decision=decision,
        target={"api_url": "http://127.0.0.1:9", "version": "v1", "embedded": False},
        started_at="2026-01-02T03:04:05+00:00",
        finished_at="2026-01-02T03:05:06+00:00",
        run_id="pg-20260102030405-abcdef",
        checks=checks,
        reasons=reasons,
        warnings=warnings,
        run={"pytest_exit_status": 0},
    )
