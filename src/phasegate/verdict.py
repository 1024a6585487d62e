"""From check results to one decision, and the files that carry it."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from phasegate.outcomes import CheckResult, Outcome

SCHEMA_VERSION = 1


class Decision(enum.StrEnum):
    GO = "GO"
    NO_GO = "NO_GO"
    INCONCLUSIVE = "INCONCLUSIVE"


# Exit statuses a CI job can branch on. INCONCLUSIVE uses 6 because pytest already owns 0-5
# (2 interrupted, 3 internal error, 4 usage error, 5 no tests) and must stay distinguishable.
EXIT_CODES: Mapping[Decision, int] = {Decision.GO: 0, Decision.NO_GO: 1, Decision.INCONCLUSIVE: 6}

_BLOCKING_FAILURES = {Outcome.FAIL, Outcome.ERROR}
_UNDECIDED = {Outcome.INCONCLUSIVE, Outcome.SKIPPED}


@dataclass(frozen=True)
class Verdict:
    phase: str
    decision: Decision
    target: Mapping[str, Any]
    started_at: str
    finished_at: str
    run_id: str
    checks: Sequence[CheckResult]
    reasons: Sequence[str] = ()
    warnings: Sequence[str] = ()
    run: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    def counts(self) -> dict[str, int]:
        tally = {outcome.value: 0 for outcome in Outcome}
        for check in self.checks:
            tally[check.outcome.value] += 1
        return tally

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "phase": self.phase,
            "decision": self.decision.value,
            "exit_code": self.exit_code,
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "target": dict(self.target),
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": self.counts(),
            "run": dict(self.run),
            "checks": [check.to_dict() for check in self.checks],
        }


def _describe(check: CheckResult) -> str:
    reason = check.reason or check.outcome.value
    return f"{check.id}: {reason}"


def decide(
    checks: Iterable[CheckResult], extra_reasons: Sequence[str] = ()
) -> tuple[Decision, list[str], list[str]]:
    """Apply the rollout rule: any blocking failure stops the phase; anything undecided holds it.

    `extra_reasons` are run-level problems (an interrupted session, a stack that would not start)
    that make the run undecidable even when every check that ran passed.
    """
    checks = list(checks)
    failures = [c for c in checks if c.blocking and c.outcome in _BLOCKING_FAILURES]
    undecided = [c for c in checks if c.blocking and c.outcome in _UNDECIDED]
    warnings = [
        _describe(c)
        for c in checks
        if c.outcome is Outcome.WARN or (not c.blocking and c.outcome in _BLOCKING_FAILURES)
    ]
    if failures:
        return Decision.NO_GO, [_describe(c) for c in failures], warnings
    reasons = [_describe(c) for c in undecided] + list(extra_reasons)
    if not any(c.blocking for c in checks):
        reasons.append("no blocking check ran, so nothing supports a GO")
    if reasons:
        return Decision.INCONCLUSIVE, reasons, warnings
    return Decision.GO, [], warnings


def load_schema() -> dict[str, Any]:
    text = resources.files("phasegate").joinpath("verdict.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate(document: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError when a verdict document breaks the published schema."""
    import jsonschema

    jsonschema.validate(dict(document), load_schema())


def write(verdict: Verdict, report_dir: Path) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / f"verdict-{verdict.phase}.json"
    document = verdict.to_dict()
    validate(document)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
