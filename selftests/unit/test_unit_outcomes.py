"""`conclude`: the one place a conclusion becomes a pass, failure, Inconclusive or warning."""

from __future__ import annotations

from typing import Any

import pytest

from phasegate.evidence import Evidence
from phasegate.outcomes import (
    Conclusion,
    Inconclusive,
    Outcome,
    PhasegateWarning,
    conclude,
)

FACTS = {"gate": {"bound": 0.002}, "summary": "2 errors in 1,000 requests"}


def recorded(outcome: Outcome) -> tuple[Evidence, BaseException | None]:
    evidence = Evidence()
    try:
        conclude(Conclusion(outcome, "the reason", FACTS), evidence)
    except (AssertionError, Inconclusive, ValueError) as exc:
        return evidence, exc
    return evidence, None


@pytest.mark.parametrize("outcome", [Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE])
def test_facts_are_recorded_whatever_the_outcome(outcome: Outcome) -> None:
    evidence, _ = recorded(outcome)
    assert {name: evidence.facts[name] for name in FACTS} == FACTS


def test_pass_returns() -> None:
    assert recorded(Outcome.PASS)[1] is None


@pytest.mark.parametrize("outcome", [Outcome.FAIL, Outcome.ERROR])
def test_fail_and_error_fail_the_check_with_the_reason(outcome: Outcome) -> None:
    with pytest.raises(AssertionError, match=r"^the reason$"):
        conclude(Conclusion(outcome, "the reason"), Evidence())


def test_inconclusive_refuses_a_verdict() -> None:
    with pytest.raises(Inconclusive, match=r"^the reason$"):
        conclude(Conclusion(Outcome.INCONCLUSIVE, "the reason"), Evidence())


def test_warn_warns_and_passes() -> None:
    with pytest.warns(PhasegateWarning, match=r"^the reason$"):
        conclude(Conclusion(Outcome.WARN, "the reason"), Evidence())


def test_skipped_is_not_a_conclusion() -> None:
    with pytest.raises(ValueError, match="cannot conclude 'skipped'"):
        conclude(Conclusion(Outcome.SKIPPED, "the reason"), Evidence())


def test_any_recorder_with_note_will_do() -> None:
    seen: list[tuple[str, Any]] = []

    class Notes:
        def note(self, name: str, value: Any) -> None:
            seen.append((name, value))

    conclude(Conclusion(Outcome.PASS, "ok", FACTS), Notes())
    assert seen == list(FACTS.items())
