"""The four phases of the rollout plan, what differs between them, and how a run picks one.

Everything that depends on the phase is one row of `PHASE_TABLE`: the marker that selects its
checks, its title, whether the flag must read ON, the embedded stack it runs on, the plan's
monitoring window, and which load and contract profile it uses. Other modules read the row (the
profiles by name, so this module stays a leaf that imports nothing of phasegate's).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Phase(enum.StrEnum):
    PHASE1 = "phase1"
    PHASE2 = "phase2"
    PHASE3 = "phase3"
    PHASE4 = "phase4"

    @property
    def number(self) -> int:
        return int(self.value[-1])

    @property
    def spec(self) -> PhaseSpec:
        return PHASE_TABLE[self]

    @property
    def flag_expected_on(self) -> bool:
        """Whether the target's Memory & Context flag must read ON in this phase."""
        return self.spec.flag_expected_on

    @property
    def summary(self) -> str:
        return self.spec.title


class StackShape(enum.StrEnum):
    """What the embedded stack of a phase is made of."""

    SINGLE = "single"  # one SkillMeat with the phase's flag, plus Prometheus and Alertmanager
    CANARY_SPLIT = "canary-split"  # stable (flag OFF) and canary (flag ON) behind a 9:1 split


@dataclass(frozen=True)
class PhaseSpec:
    """One phase of the rollout plan, as everything phase-dependent in phasegate reads it."""

    marker: str  # the pytest mark that puts a check in this phase (`-m phaseN`)
    title: str
    # Whether the flag must read ON. Phase 3 is a 9:1 split behind a load balancer; a client sees
    # mostly the stable (OFF) instance, so the flag read through the balancer is not a reliable
    # ON signal there, but the phase has the feature on.
    flag_expected_on: bool
    embedded_stack: StackShape
    window_s: float  # the plan's minimum monitoring duration: a gate's window "phase"
    load_profile: str | None  # a name in load.profiles.PROFILES; None: no load gate
    contract_profile: str  # a name in contract.profiles.PROFILES, for --contract-profile=auto


HOUR_S = 3600.0
PHASE_TABLE: dict[Phase, PhaseSpec] = {
    Phase.PHASE1: PhaseSpec(
        marker="phase1",
        title="Infrastructure verification (flag OFF)",
        flag_expected_on=False,
        embedded_stack=StackShape.SINGLE,
        window_s=4 * HOUR_S,
        load_profile=None,
        contract_profile="full",
    ),
    Phase.PHASE2: PhaseSpec(
        marker="phase2",
        title="Internal / test users (flag ON)",
        flag_expected_on=True,
        embedded_stack=StackShape.SINGLE,
        window_s=24 * HOUR_S,
        load_profile="internal",
        contract_profile="full",
    ),
    # Real users share the target from phase 3 on: the contract suite only reads, slowly.
    Phase.PHASE3: PhaseSpec(
        marker="phase3",
        title="10% canary (stable OFF, canary ON)",
        flag_expected_on=True,
        embedded_stack=StackShape.CANARY_SPLIT,
        window_s=48 * HOUR_S,
        load_profile="canary",
        contract_profile="safe",
    ),
    Phase.PHASE4: PhaseSpec(
        marker="phase4",
        title="100% rollout (flag ON)",
        flag_expected_on=True,
        embedded_stack=StackShape.SINGLE,
        window_s=48 * HOUR_S,
        load_profile="production",
        contract_profile="safe",
    ),
}
PHASE_MARKS = tuple(spec.marker for spec in PHASE_TABLE.values())

_PHASE_IN_EXPR = re.compile(r"(\bnot\s+)?\bphase([1-4])\b")


class PhaseError(ValueError):
    """A phase could not be chosen from what the user asked for."""


def parse_phase(value: str) -> Phase:
    """Accept `phase2`, `Phase2` or `2`."""
    text = value.strip().lower()
    if text in {"1", "2", "3", "4"}:
        text = f"phase{text}"
    try:
        return Phase(text)
    except ValueError:
        raise PhaseError(f"unknown phase {value!r}: expected one of phase1..phase4") from None


def phase_from_markexpr(markexpr: str) -> Phase | None:
    """The phase a `-m` expression selects, when it names exactly one and negates none.

    `-m "phase2 and not slow"` selects phase 2; `-m "phase1 or phase2"` and `-m "not phase1"` do
    not name a single phase, so the run must say which with `--phase`.
    """
    named: set[str] = set()
    for negation, digit in _PHASE_IN_EXPR.findall(markexpr or ""):
        if negation:
            return None
        named.add(digit)
    if len(named) != 1:
        return None
    return Phase(f"phase{named.pop()}")


def phases_named_in(markexpr: str) -> set[str]:
    return {f"phase{digit}" for _, digit in _PHASE_IN_EXPR.findall(markexpr or "")}
