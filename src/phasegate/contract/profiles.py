"""How hard the contract suite may push a target, by phase.

Before real traffic reaches the feature (phase 2: internal users) every method is fuzzed, with
invalid input too. Once real users share the target (phases 3 and 4) only read-only methods are
sent, slowly and few, so a gate run can never be the incident it was meant to prevent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from phasegate.phases import Phase


class ProfileError(ValueError):
    pass


@dataclass(frozen=True)
class ContractProfile:
    name: str
    read_only: bool
    positive_examples: int
    negative_examples: int  # 0: invalid input is not sent
    max_requests_per_s: float | None  # None: as fast as the target answers
    crud_sequences: int  # 0: no create-read-delete sequences
    seed: int = 0

    def describe(self) -> str:
        methods = "read-only methods" if self.read_only else "all methods"
        negative = (
            f", {self.negative_examples} invalid"
            if self.negative_examples
            else ", no invalid input"
        )
        rate = f", at most {self.max_requests_per_s:g} req/s" if self.max_requests_per_s else ""
        crud = f", {self.crud_sequences} CRUD sequences per resource" if self.crud_sequences else ""
        return (
            f"{self.name}: {methods}, {self.positive_examples} valid{negative} examples per "
            f"operation{rate}{crud}, seed {self.seed}"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "read_only": self.read_only,
            "positive_examples": self.positive_examples,
            "negative_examples": self.negative_examples,
            "max_requests_per_s": self.max_requests_per_s,
            "crud_sequences": self.crud_sequences,
            "seed": self.seed,
            "description": self.describe(),
        }


FULL = ContractProfile(
    name="full",
    read_only=False,
    positive_examples=20,
    negative_examples=20,
    max_requests_per_s=None,
    crud_sequences=5,
)
SAFE = ContractProfile(
    name="safe",
    read_only=True,
    positive_examples=6,
    negative_examples=0,
    max_requests_per_s=4.0,
    crud_sequences=0,
)
PROFILES = {p.name: p for p in (FULL, SAFE)}
CHOICES = ("auto", *PROFILES)


def profile_for(
    phase: Phase | None, requested: str = "auto", *, seed: int = 0, examples: int | None = None
) -> ContractProfile:
    """`auto` picks the phase's profile: full before real traffic (phases 1, 2), safe once it
    flows (3, 4), as the phase table says; full without a phase."""
    if requested not in CHOICES:
        raise ProfileError(f"unknown contract profile {requested!r}; expected {', '.join(CHOICES)}")
    if requested == "auto":
        profile = PROFILES[phase.spec.contract_profile] if phase is not None else FULL
    else:
        profile = PROFILES[requested]
    profile = replace(profile, seed=seed)
    if examples is not None:
        profile = replace(
            profile,
            positive_examples=examples,
            negative_examples=examples if profile.negative_examples else 0,
        )
    return profile
