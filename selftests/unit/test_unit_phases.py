"""Phases: parsing what a user typed, and reading the phase out of a -m expression."""

from __future__ import annotations

import pytest

from phasegate.contract import profiles as contract_profiles
from phasegate.gates.spec import PHASE_WINDOWS_S
from phasegate.load import profiles as load_profiles
from phasegate.phases import (
    PHASE_MARKS,
    PHASE_TABLE,
    Phase,
    PhaseError,
    StackShape,
    parse_phase,
    phase_from_markexpr,
    phases_named_in,
)


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


def test_the_phase_table_has_one_row_per_phase_selected_by_its_own_mark() -> None:
    assert list(PHASE_TABLE) == list(Phase)
    assert [spec.marker for spec in PHASE_TABLE.values()] == [p.value for p in Phase]
    assert PHASE_MARKS == ("phase1", "phase2", "phase3", "phase4")
    assert all(p.spec is PHASE_TABLE[p] for p in Phase)


def test_the_phase_table_names_profiles_that_exist() -> None:
    for spec in PHASE_TABLE.values():
        assert spec.contract_profile in contract_profiles.PROFILES
        assert spec.load_profile is None or spec.load_profile in load_profiles.PROFILES


def test_every_phase_dependent_module_reads_the_table() -> None:
    """The plan's values, as they were before they moved into one table."""
    hour = 3600.0
    assert dict(PHASE_WINDOWS_S) == {
        "phase1": 4 * hour,
        "phase2": 24 * hour,
        "phase3": 48 * hour,
        "phase4": 48 * hour,
    }
    assert load_profiles.PHASE_PROFILES == {
        "phase2": "internal",
        "phase3": "canary",
        "phase4": "production",
    }
    assert [contract_profiles.profile_for(p).name for p in Phase] == [
        "full",
        "full",
        "safe",
        "safe",
    ]
    assert contract_profiles.profile_for(None).name == "full"
    assert [p.spec.embedded_stack for p in Phase] == [
        StackShape.SINGLE,
        StackShape.SINGLE,
        StackShape.CANARY_SPLIT,
        StackShape.SINGLE,
    ]
