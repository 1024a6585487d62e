"""How long a load run must be, decided from the mix before it starts.

The load gate judges p95 per endpoint group; a group with fewer requests than its design's n
(`gates.design` from the catalog row `load-p95`: 77 for a 5% slow share, 90% power at 15%) can
never pass. Today's failure mode was a compliant target INCONCLUSIVE because one group never got
enough requests. So the run is sized before the first request, from data alone:

    expected requests of a group = sum over user classes of
        users of the class x (duration - ramp - setup) x the class's request rate
        x the group's share of the class's task weights in the phase

A class's request rate is 1 / (mean think time + an assumed response time). The default duration
is the shortest multiple of `STEP_S` at which every judged group expects `MARGIN` x n, within
`MAX_SIZED_S`; a duration or user count the user chose that cannot reach n is said up front and
makes the gate's reason say "this run was sized too small". Nothing here reads an outcome: the
run is never extended on what it measured.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.gates import spec as gate_spec
from phasegate.gates.design import design_for, fixed_design
from phasegate.gates.spec import GateSpec
from phasegate.load.config import DURATION_RANGE, default_spawn_rate, load_settings
from phasegate.load.profiles import JUDGED_GROUPS, PHASE_PROFILES, Profile, profile_for_phase
from phasegate.traffic.mix import OPERATIONS, USER_PROFILES, UserProfile

ASSUMED_RESPONSE_S = 0.2  # added to the think time: a conservative request rate per user
SETUP_S = 5.0  # each user's project creation and seeding before its first gated request
MARGIN = 1.2  # the default duration plans for 20% more than n per group
STEP_S = 5
MAX_SIZED_S = 900  # cap of the sized default (make test runs no default-sized load run)
ALL_REQUESTS = "all requests"  # the failure share is judged over every request of the run


@dataclass(frozen=True)
class GroupPlan:
    name: str
    expected: float
    needed: int

    @property
    def reaches(self) -> bool:
        return self.expected >= self.needed


@dataclass(frozen=True)
class LoadSizing:
    """The run's plan: its size and what each judged group is expected to get."""

    profile: str
    users: int
    duration_s: int
    sized: bool  # True: the duration was chosen here; False: the user gave it
    capped: bool  # the sized duration hit MAX_SIZED_S before every group reached n
    design_n: int
    design: dict[str, Any]
    groups: tuple[GroupPlan, ...]
    failures_n: int = 0  # the failure share's design n over all requests (0: none)

    @property
    def short(self) -> tuple[GroupPlan, ...]:
        return tuple(group for group in self.groups if not group.reaches)

    @property
    def reachable(self) -> bool:
        return not self.short

    def expected_text(self) -> str:
        return ", ".join(f"{g.name} {g.expected:.0f}" for g in self.groups)

    def too_small(self) -> str | None:
        """The up-front warning (and the gate's reason) when a group cannot reach n."""
        if self.reachable:
            return None
        worst = min(self.short, key=lambda g: g.expected / g.needed)
        others = [g.name for g in self.short if g is not worst]
        also = f" (also {', '.join(others)})" if others else ""
        return (
            f"this run was sized too small: group {worst.name} expected {worst.expected:.0f} < "
            f"n={worst.needed}{also} at {self.users} users for {self.duration_s} s; below its n "
            "a group cannot pass"
        )

    def describe(self) -> str:
        how = "sized from the mix" if self.sized else "as given"
        how += ", capped" if self.capped else ""
        line = (
            f"load run {self.users} users for {self.duration_s} s ({how}); "
            f"expected requests: {self.expected_text()}; design n={self.design_n} per group"
            + (f", {self.failures_n} over all requests (failures)" if self.failures_n else "")
        )
        warning = self.too_small()
        return f"{line}; {warning}" if warning else line

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "users": self.users,
            "duration_s": self.duration_s,
            "sized_from_mix": self.sized,
            "capped": self.capped,
            "design_n": self.design_n,
            "failures_n": self.failures_n,
            "design": self.design,
            "expected": {g.name: round(g.expected, 1) for g in self.groups},
            "reachable": self.reachable,
            "too_small": self.too_small(),
            "assumptions": {
                "response_s": ASSUMED_RESPONSE_S,
                "setup_s": SETUP_S,
                "margin": MARGIN,
                "max_sized_s": MAX_SIZED_S,
            },
        }


def _user_profile(name: str) -> UserProfile:
    for profile in USER_PROFILES:
        if profile.name == name:
            return profile
    raise ValueError(f"no user profile named {name!r} in phasegate.traffic.mix")


def allocate(users: int, classes: tuple[UserProfile, ...]) -> dict[str, int]:
    """Users per class by weight (largest remainder), as locust spreads them."""
    total = sum(c.weight for c in classes)
    exact = {c.name: users * c.weight / total for c in classes}
    counts = {name: math.floor(value) for name, value in exact.items()}
    left = users - sum(counts.values())
    for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[:left]:
        counts[name] += 1
    return counts


def group_rates(profile: Profile, users: int) -> dict[str, float]:
    """Expected requests per second of steady traffic in each judged group and in all of them
    (`ALL_REQUESTS`, whose failures are judged), for `users`."""
    phase = profile.tags[0]
    classes = tuple(c for c in map(_user_profile, profile.user_classes) if c.tasks_for(phase))
    per_class = allocate(users, classes)
    rates = dict.fromkeys((*JUDGED_GROUPS, ALL_REQUESTS), 0.0)
    for user_class in classes:
        tasks = user_class.tasks_for(phase)
        weight = sum(task.weight for task in tasks)
        rate = 1.0 / (sum(user_class.wait_s) / 2 + ASSUMED_RESPONSE_S)
        rates[ALL_REQUESTS] += per_class[user_class.name] * rate
        for task in tasks:
            group = OPERATIONS[task.operation].group
            if group in rates:
                rates[group] += per_class[user_class.name] * rate * task.weight / weight
    return rates


def _steady_s(duration_s: float, users: int, spawn_rate: float) -> float:
    return max(0.0, duration_s - users / spawn_rate - SETUP_S)


def _failures_n(row: GateSpec) -> int:
    """The design n of the run's failure share (max_failure_ratio), 0 when it has none."""
    ratio = row.max_failure_ratio or 0.0
    if not (row.power and row.effect and ratio > 0 and ratio * row.effect < 1):
        return 0
    return _design_n(ratio, row.power, row.effect)


@functools.cache
def _design_n(threshold: float, power: float, effect: float) -> int:
    return fixed_design(threshold, power=power, effect=effect).n


def plan_run(
    profile: Profile,
    row: GateSpec,
    *,
    users: int,
    duration_s: int | None = None,
    spawn_rate: float | None = None,
) -> LoadSizing:
    """The run's size: the given duration, or the shortest that lets every group reach its n
    (p95 per judged group, the failure share over all requests)."""
    design = design_for(row)
    assert row.min_group_samples is not None  # the load row is validated
    needed = max(row.min_group_samples, design.n if design else 0)
    wants = {name: needed for name in JUDGED_GROUPS}
    failures_n = _failures_n(row)
    if failures_n:
        wants[ALL_REQUESTS] = failures_n
    rate = spawn_rate or default_spawn_rate(users)
    rates = group_rates(profile, users)
    sized = duration_s is None
    capped = False
    if duration_s is None:
        steady = max(
            (n * MARGIN / rates[name] if rates[name] else math.inf) for name, n in wants.items()
        )
        wanted = users / rate + SETUP_S + steady
        duration_s = max(DURATION_RANGE[0], STEP_S * math.ceil(min(wanted, 1e9) / STEP_S))
        if duration_s > MAX_SIZED_S:
            duration_s, capped = MAX_SIZED_S, True
    steady_s = _steady_s(duration_s, users, rate)
    groups = tuple(GroupPlan(name, rates[name] * steady_s, n) for name, n in wants.items())
    return LoadSizing(
        profile=profile.name,
        users=users,
        duration_s=duration_s,
        sized=sized,
        capped=capped,
        design_n=needed,
        design=design.to_dict() if design else {},
        groups=groups,
        failures_n=failures_n,
    )


def plan_for_phase(
    phase: str, env: Mapping[str, str], overrides: Path | None = None
) -> LoadSizing | None:
    """The plan of `phase`'s load run from the --load-* settings; None: the phase has none."""
    if phase not in PHASE_PROFILES:
        return None
    size = load_settings(env)
    return plan_run(
        profile_for_phase(phase),
        gate_spec.load(overrides).load_gate,
        users=size.users,
        duration_s=size.duration_s,
        spawn_rate=size.spawn_rate,
    )


def header_lines(phase: str, env: Mapping[str, str], overrides: Path | None = None) -> list[str]:
    """The run header's word on the load run: its size and, up front, a size too small."""
    try:
        sizing = plan_for_phase(phase, env, overrides)
    except (ValueError, gate_spec.CatalogError):  # reported where the settings are checked
        return []
    return [] if sizing is None else [f"phasegate: {sizing.describe()}"]
