"""The gates' top-up: the phase's own user mix, sent as a fixed rotation by simulated users.

The error-rate gate on the embedded stack judges traffic the suite made up, so that traffic must
be the phase's: every Memory & Context operation the phase's locust users send (writes,
lifecycle transitions, merges with every strategy, modules, packs, search, listing), in the
shares those users send them (`mix.operation_weights`), failures included. A top-up worker is a
simulated user of the traffic model (`model.UserData`: its own project, items and modules, its
own client address), and step n sends the rotation's n-th operation built by
`operations.build`, so the operation mix is exact while limits, filters, words and bodies vary.

Phase 1 has no load profile (the flag is OFF, the phase enables no operation): its top-up sends
the production mix of phase 4, the traffic the flag's switch would let in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from phasegate.traffic.mix import USER_PROFILES, operation_weights, rotation
from phasegate.traffic.model import Project, Request, UserData
from phasegate.traffic.operations import build, seed_item

SEED_ITEMS = 8  # memories per top-up worker's project
FALLBACK_PHASE = "phase4"  # the mix of a phase without a load profile (phase 1)


@dataclass(frozen=True)
class TopUpMix:
    """The operations a phase's top-up sends, their integer weights and one cycle of them."""

    phase: str  # the phase whose gates judge this traffic
    profile: str  # the load profile the shares come from
    users: tuple[tuple[str, int], ...]  # (locust user class, its weight)
    weights: dict[str, int]
    order: tuple[str, ...]

    def operation(self, step: int) -> str:
        return self.order[step % len(self.order)]

    def shares(self) -> dict[str, float]:
        """Operation -> share of the requests, largest first."""
        total = sum(self.weights.values())
        ranked = sorted(self.weights.items(), key=lambda item: (-item[1], item[0]))
        return {op: round(weight / total, 4) for op, weight in ranked}

    def describe(self) -> str:
        users = ", ".join(f"{name} x{weight}" for name, weight in self.users)
        shares = ", ".join(f"{op} {share * 100:.1f}%" for op, share in self.shares().items())
        return f"the {self.profile} load profile's mix ({users}): {shares}"

    def to_dict(self) -> dict[str, object]:
        return {
            "phase": self.phase,
            "profile": self.profile,
            "users": dict(self.users),
            "shares": self.shares(),
            "rotation": len(self.order),
        }


@cache
def mix_for_phase(phase: str) -> TopUpMix:
    """The top-up mix of `phase`: its load profile's users and tag, in their weights."""
    # Imported here: the load package pulls in httpx, and this module stays pure for locust.
    from phasegate.load.profiles import PHASE_PROFILES, profile_for_phase

    source = phase if phase in PHASE_PROFILES else FALLBACK_PHASE
    profile = profile_for_phase(source)
    by_name = {user.name: user for user in USER_PROFILES}
    users = tuple(by_name[name] for name in profile.user_classes)
    tag = profile.tags[0]
    weights = operation_weights(users, tag)
    active = tuple((user.name, user.weight) for user in users if user.tasks_for(tag))
    return TopUpMix(phase, profile.name, active, weights, rotation(weights))


def project_name(prefix: str, index: int) -> str:
    return f"{prefix}-traffic-{index}"


def user(prefix: str, index: int, run_id: str) -> UserData:
    """Top-up worker `index`'s simulated user; seeded, so a run's traffic can be replayed."""
    return UserData(rng=random.Random(f"{prefix}-{index}"), run_id=run_id, tag=f"t{index}")


def seed_items(data: UserData, project: Project) -> list[Request]:
    """The memories a worker seeds its project with: varied types, lengths and statuses."""
    return [seed_item(data, project) for _ in range(SEED_ITEMS)]


def request(step: int, mix: TopUpMix, data: UserData) -> Request | None:
    """Step `step`: the rotation's operation as the traffic model builds it for this user."""
    return build(mix.operation(step), data)
