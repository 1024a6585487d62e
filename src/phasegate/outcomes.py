"""What a single check can conclude, and the record it leaves behind."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    WARN = "warn"
    ERROR = "error"


class Kind(enum.StrEnum):
    SMOKE = "smoke"
    GATE = "gate"
    LOAD = "load"
    CONTRACT = "contract"
    DRILL = "drill"


class Inconclusive(Exception):
    """Raised by a check that could not decide (for example the target rate-limited it).

    It is neither a pass nor a fail: the verdict turns a blocking INCONCLUSIVE into an
    INCONCLUSIVE decision, so an undecidable check can never let a phase through.
    """


@dataclass(frozen=True)
class CheckResult:
    """One check's conclusion with the evidence a person needs to trust it."""

    id: str
    title: str
    kind: Kind
    outcome: Outcome
    blocking: bool
    phases: tuple[str, ...] = ()
    description: str = ""
    reason: str = ""
    nodeid: str = ""
    duration_s: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind.value,
            "outcome": self.outcome.value,
            "blocking": self.blocking,
            "phases": list(self.phases),
            "description": self.description,
            "reason": self.reason,
            "nodeid": self.nodeid,
            "duration_s": round(self.duration_s, 3),
            "evidence": self.evidence,
        }
