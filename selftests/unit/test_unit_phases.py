"""Phases: parsing what a user typed, and reading the phase out of a -m expression."""

from __future__ import annotations

import pytest

from phasegate.phases import Phase, PhaseError, parse_phase, phase_from_markexpr, phases_named_in


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("phase1", Phase.PHASE1),
        ("Phase2", Phase.PHASE2),
        (" PHASE3 ", Phase.PHASE3),
        ("4", Phase.PHASE4),
    ],
)
def test_parse_phase_accepts_names_and_numbers(text: str, expected: Phase) -> None:
    assert parse_phase(text) is expected


@pytest.mark.parametrize("text", ["phase0", "phase5", "5", "", "phase 1", "canary", "phase12"])
def test_parse_phase_rejects_anything_else(text: str) -> None:
    with pytest.raises(PhaseError, match=r"expected one of phase1\.\.phase4"):
        parse_phase(text)


@pytest.mark.parametrize(
    ("markexpr", "expected"),
    [
        ("phase2 and not slow", Phase.PHASE2),
        ("phase1", Phase.PHASE1),
        ("(phase4)", Phase.PHASE4),
        ("smoke and phase3", Phase.PHASE3),
        ("phase2 or phase2", Phase.PHASE2),
        ("phase1 or phase2", None),
        ("phase1 and phase2", None),
        ("not phase1", None),
        ("phase2 and not phase1", None),
        ("slow", None),
        ("", None),
        ("phase12", None),
        ("my_phase1", None),
    ],
)
def test_phase_from_markexpr(markexpr: str, expected: Phase | None) -> None:
    assert phase_from_markexpr(markexpr) is expected


def test_phases_named_in_lists_every_phase_mentioned() -> None:
    assert phases_named_in("phase1 or (phase3 and not slow)") == {"phase1", "phase3"}
    assert phases_named_in("") == set()


def test_phase_properties() -> None:
    assert [p.number for p in Phase] == [1, 2, 3, 4]
    assert [p.flag_expected_on for p in Phase] == [False, True, True, True]
    assert all(p.summary for p in Phase)
    assert "flag OFF" in Phase.PHASE1.summary
