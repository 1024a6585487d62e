"""The four phases of the rollout plan, and how a run picks one."""

from __future__ import annotations

import enum
import re


class Phase(enum.StrEnum):
    PHASE1 = "phase1"
    PHASE2 = "phase2"
    PHASE3 = "phase3"
    PHASE4 = "phase4"

    @property
    def number(self) -> int:
        return int(self.value[-1])

    @property
    def flag_expected_on(self) -> bool:
        """Whether the target's Memory & Context flag must read ON in this phase.

        Phase 3 is a 9:1 split behind a load balancer; a client sees mostly the stable (OFF)
        instance, so the flag read through the balancer is not a reliable ON signal there.
        """
        return self is not Phase.PHASE1

    @property
    def summary(self) -> str:
        return _TITLES[self]


_TITLES = {
    Phase.PHASE1: "Infrastructure verification (flag OFF)",
    Phase.PHASE2: "Internal / test users (flag ON)",
    Phase.PHASE3: "10% canary (stable OFF, canary ON)",
    Phase.PHASE4: "100% rollout (flag ON)",
}

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
