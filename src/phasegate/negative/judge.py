"""Judging the negative paths: one wrong identifier, one answer, one rule it keeps or breaks.

Each case sends a wrong identifier into one slot (unknown, malformed, deleted, or another
project's) and keeps what came back. The rule, from issue #11:

- any 5xx breaks `server-error`;
- a case that changed or showed the other project's resource breaks `cross-project`, whatever
  the status: a 2xx on an other-project case (it touched the resource), a change seen on the
  other project's side afterwards, or an answer that names the other project's data;
- any other 2xx (or redirect) for something that does not exist breaks `effect` (the answer
  claims an effect on nothing). A batch answer that lists the id as failed, not as succeeded, is
  the documented per-entry refusal and keeps the rule;
- a 4xx other than 404 (or 422 for a malformed value where the schema constrains the value)
  breaks `undocumented-4xx`.

The first three block, the last warns, so each family has two checks reading the same kind of
cases: `BLOCKING` judges the first three rules, `STATUS` the last. Pure: the checks send, this
decides.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from phasegate.outcomes import Conclusion, Outcome


class Case(enum.StrEnum):
    UNKNOWN = "unknown"  # well-formed, never existed
    MALFORMED = "malformed"  # not shaped like an identifier at all
    DELETED = "deleted"  # created then deleted by the check
    FOREIGN = "other-project"  # exists, in another project than the one the request names


class Severity(enum.StrEnum):
    BLOCKING = "blocking"
    STATUS = "status"


SERVER_ERROR = "server-error"
CROSS_PROJECT = "cross-project"
EFFECT = "effect"
UNDOCUMENTED_4XX = "undocumented-4xx"
RULES_OF: dict[Severity, frozenset[str]] = {
    Severity.BLOCKING: frozenset({SERVER_ERROR, CROSS_PROJECT, EFFECT}),
    Severity.STATUS: frozenset({UNDOCUMENTED_4XX}),
}
CHECK_PREFIX = {Severity.BLOCKING: "negative", Severity.STATUS: "negative-status"}
NOT_FOUND = 404
INVALID = 422
SHOWN_CASES = 40  # broken cases named in a reason before "and N more"


@dataclass(frozen=True)
class Observation:
    """What one case sent and what came back, with what the check saw around it."""

    operation: str  # "POST /memory-items/merge"
    slot: str  # "body source_id"
    case: Case
    request: str  # method, path with query, body: enough to repeat it
    status: int
    documented: tuple[int, ...] = ()  # the operation's documented 4xx
    validates: bool = False  # the schema constrains the slot's value
    # A batch answer's own verdict on the id: True listed as failed only, False listed as
    # succeeded, None when the answer has no per-entry result.
    refused_per_entry: bool | None = None
    foreign_changed: tuple[str, ...] = ()  # what changed on the other project's side
    disclosed: tuple[str, ...] = ()  # the other project's data the answer names
    body: str = ""  # the start of the answer


@dataclass(frozen=True)
class CaseVerdict:
    observation: Observation
    rule: str | None  # the rule the case breaks; None when it keeps them
    why: str

    @property
    def broken(self) -> bool:
        return self.rule is not None

    def to_dict(self) -> dict[str, Any]:
        o = self.observation
        return {
            "operation": o.operation,
            "slot": o.slot,
            "case": o.case.value,
            "request": o.request,
            "status": o.status,
            "verdict": "broken" if self.rule else "ok",
            "rule": self.rule,
            "why": self.why,
            "body": o.body,
        }


def expected_statuses(case: Case, validates: bool) -> tuple[int, ...]:
    """404 for what does not exist or is not the caller's; 422 too where the schema validates."""
    if case is Case.MALFORMED and validates:
        return (NOT_FOUND, INVALID)
    return (NOT_FOUND,)


def judge_case(o: Observation) -> CaseVerdict:
    status = o.status
    if o.foreign_changed:
        return CaseVerdict(
            o, CROSS_PROJECT, f"the other project's data changed: {'; '.join(o.foreign_changed)}"
        )
    if o.disclosed:
        return CaseVerdict(
            o, CROSS_PROJECT, f"the answer names the other project's {', '.join(o.disclosed)}"
        )
    if status >= 500:
        return CaseVerdict(o, SERVER_ERROR, f"{status} for the {o.case.value} identifier")
    if 200 <= status < 300 and o.refused_per_entry is True:
        return CaseVerdict(o, None, f"{status}, the id listed as failed (per-entry refusal)")
    if status < 400:
        if o.case is Case.FOREIGN:
            return CaseVerdict(
                o, CROSS_PROJECT, f"{status}: served with another project's resource"
            )
        return CaseVerdict(o, EFFECT, f"{status} for something that does not exist")
    expected = expected_statuses(o.case, o.validates)
    if status in expected:
        return CaseVerdict(o, None, f"{status} as expected")
    shown = "/".join(str(code) for code in expected)
    documented = "documented" if status in o.documented else "not documented"
    return CaseVerdict(
        o,
        UNDOCUMENTED_4XX,
        f"{status} where {shown} is expected ({status} is {documented} for this operation)",
    )


def _line(verdict: CaseVerdict) -> str:
    o = verdict.observation
    return f"{verdict.rule}: {o.operation} {o.slot} {o.case.value} -> {o.status} ({verdict.why})"


def judge_family(
    family: str,
    severity: Severity,
    observations: Sequence[Observation],
    problems: Iterable[str] = (),
    slots: Iterable[str] = (),
) -> Conclusion:
    """The check's outcome over every case of one operation family, at one severity.

    FAIL when a case breaks a rule of this severity (the reason names rule, operation, slot,
    case and status of each); otherwise INCONCLUSIVE when the schema did not declare what the
    suite expects or no case could be sent; otherwise PASS.
    """
    verdicts = [judge_case(o) for o in observations]
    problems = list(problems)
    mine = RULES_OF[severity]
    broken = [v for v in verdicts if v.rule in mine]
    by_rule = Counter(v.rule for v in verdicts if v.rule)
    facts: dict[str, Any] = {
        "family": family,
        "severity": severity.value,
        "slots": list(slots),
        "cases": [v.to_dict() for v in verdicts],
        "broken_by_rule": dict(sorted(by_rule.items())),
    }
    if problems:
        facts["schema_problems"] = problems
    if broken:
        shown = "; ".join(_line(v) for v in broken[:SHOWN_CASES])
        more = f"; and {len(broken) - SHOWN_CASES} more" if len(broken) > SHOWN_CASES else ""
        rules = ", ".join(f"{rule} x{by_rule[rule]}" for rule in sorted(mine) if by_rule[rule])
        return Conclusion(
            Outcome.FAIL,
            f"{CHECK_PREFIX[severity]}.{family}: {len(broken)} of {len(verdicts)} cases "
            f"break a rule ({rules}): {shown}{more}",
            facts,
        )
    if problems:
        return Conclusion(Outcome.INCONCLUSIVE, "; ".join(problems), facts)
    if not verdicts:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"{CHECK_PREFIX[severity]}.{family}: no identifier case could be sent",
            facts,
        )
    others = sum(by_rule.values())
    aside = f" ({others} break rules the other check of this family judges)" if others else ""
    summary = f"all {len(verdicts)} cases keep the {severity.value} rules{aside}"
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})
