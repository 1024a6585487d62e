"""Negative paths of the Memory & Context API: identifier slots from the target's OpenAPI
(`slots`) and the pure judgement of each wrong-identifier case (`judge`)."""

from phasegate.negative.judge import (
    Case,
    CaseVerdict,
    Observation,
    Severity,
    judge_case,
    judge_family,
)
from phasegate.negative.slots import FAMILIES, Derivation, Slot, derive_slots, family_operations

__all__ = [
    "FAMILIES",
    "Case",
    "CaseVerdict",
    "Derivation",
    "Observation",
    "Severity",
    "Slot",
    "derive_slots",
    "family_operations",
    "judge_case",
    "judge_family",
]
