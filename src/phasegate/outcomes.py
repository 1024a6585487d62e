"""What a single check can conclude, and the record it leaves behind.

Every judging function (metric gate, triangulation, load gate, contract report) hands its check a
`Conclusion`; the check passes it to `conclude`, the one place a conclusion becomes a pass, a
failure (AssertionError), an `Inconclusive` or a warning, with its facts in the evidence.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


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
    CANARY = "canary"
    DRILL = "drill"


class Inconclusive(Exception):
    """Raised by a check that could not decide (for example the target rate-limited it).

    It is neither a pass nor a fail: the verdict turns a blocking INCONCLUSIVE into an
    INCONCLUSIVE decision, so an undecidable check can never let a phase through.
    """


class PhasegateWarning(UserWarning):
    """A conclusion a check reports without failing (Outcome.WARN)."""


@dataclass(frozen=True)
class Conclusion:
    """What a check's judging code concluded: outcome, a sentence, and the facts behind it.

    `facts` are evidence entries (name -> JSON-able value), recorded in order before the outcome
    takes effect; a "summary" fact is the reason a passing check shows.
    """

    outcome: Outcome
    reason: str
    facts: Mapping[str, Any] = field(default_factory=dict)


class FactRecorder(Protocol):
    """Where a conclusion's facts go: the check's `Evidence` (phasegate.evidence)."""

    def note(self, name: str, value: Any) -> None: ...


def conclude(conclusion: Conclusion, evidence: FactRecorder) -> None:
    """Record the conclusion's facts, then pass, warn, fail or refuse a verdict.

    PASS returns; WARN warns (PhasegateWarning) and returns; INCONCLUSIVE raises Inconclusive;
    FAIL and ERROR raise AssertionError with the reason, as a failed assertion in the check would.
    """
    __tracebackhide__ = True  # pytest shows the check's line, not this one
    for name, value in conclusion.facts.items():
        evidence.note(name, value)
    outcome = conclusion.outcome
    if outcome is Outcome.PASS:
        return
    if outcome is Outcome.WARN:
        warnings.warn(conclusion.reason, PhasegateWarning, stacklevel=2)
        return
    if outcome is Outcome.INCONCLUSIVE:
        raise Inconclusive(conclusion.reason)
    if outcome in (Outcome.FAIL, Outcome.ERROR):
        raise AssertionError(conclusion.reason)
    raise ValueError(f"a check cannot conclude {outcome.value!r}: {conclusion.reason}")


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
    # The severity catalog's rule (phasegate.severity; None: the check has no row) and the
    # severity it gave this run's phase, "block" or "warn" (the same fact as `blocking`).
    rule: str | None = None
    severity: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind.value,
            "outcome": self.outcome.value,
            "blocking": self.blocking,
            "rule": self.rule,
            "severity": self.severity or ("block" if self.blocking else "warn"),
            "phases": list(self.phases),
            "description": self.description,
            "reason": self.reason,
            "nodeid": self.nodeid,
            "duration_s": round(self.duration_s, 3),
            "evidence": self.evidence,
        }
