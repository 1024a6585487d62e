"""The request mix as data: which operations each kind of user sends, and how often.

Three user profiles, and the gates' top-up made of them, share one catalog of operations:

- three locust users (tests/load): the internal team, agents working with context packs, and
  production readers, each a weighted list of operations with the phases whose traffic they
  belong to (the locust tags, `--tags phase2`);
- the gates' top-up (`threaded`): the same operations in the same shares as the phase's locust
  users (`operation_weights`), sent as a fixed interleaved rotation (`rotation`), not a lottery,
  so the mix a gate judges is exactly the mix its evidence states.

What each operation sends is `operations.build`, for both drivers. The operation's `group` is
the first word of its request name: the load gate judges p95 per group
(`phasegate.load.profiles.JUDGED_GROUPS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class Operation:
    """One kind of request a user makes; `function` is its locust tag (read, write, ...)."""

    name: str
    group: str
    function: str


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("list-items", "memory.read", "read"),
        Operation("get-item", "memory.read", "read"),
        Operation("count-items", "memory.read", "read"),
        Operation("search-items", "memory.read", "read"),
        Operation("create-item", "memory.write", "write"),
        Operation("record-learning", "memory.write", "write"),
        Operation("update-item", "memory.write", "write"),
        Operation("delete-item", "memory.write", "write"),
        Operation("promote-item", "memory.write", "lifecycle"),
        Operation("deprecate-item", "memory.write", "lifecycle"),
        Operation("bulk-promote", "memory.write", "lifecycle"),
        Operation("merge-items", "memory.write", "lifecycle"),
        Operation("extract-preview", "memory.write", "extract"),
        Operation("create-module", "modules", "modules"),
        Operation("list-modules", "modules", "modules"),
        Operation("module-memories", "modules", "modules"),
        Operation("update-module", "modules", "modules"),
        Operation("pack-preview", "packs", "packs"),
        Operation("pack-generate", "packs", "packs"),
        Operation("health", "service", "service"),
    )
}

# The phases a task's traffic belongs to (its locust tags besides the function).
ALL_PHASES = ("phase2", "phase3", "phase4")
PHASE2 = ("phase2",)
PRODUCTION = ("phase3", "phase4")


@dataclass(frozen=True)
class Task:
    """An operation in a user's mix: its weight against the user's other tasks."""

    operation: str
    weight: int
    phases: tuple[str, ...] = ALL_PHASES

    @property
    def tags(self) -> tuple[str, ...]:
        return (*self.phases, OPERATIONS[self.operation].function)


@dataclass(frozen=True)
class UserProfile:
    """One kind of simulated user: its share of users, think time, data and mix."""

    name: str  # the locust user class (phasegate.load.profiles names these)
    weight: int
    wait_s: tuple[float, float]
    mix: tuple[Task, ...]
    projects_per_user: tuple[int, int] = (1, 2)
    seed_items: tuple[int, int] = (2, 4)
    max_items_per_project: int = 14

    def tasks_for(self, phase: str) -> tuple[Task, ...]:
        return tuple(task for task in self.mix if phase in task.phases)


INTERNAL_TEAM = UserProfile(
    "InternalTeamUser",
    weight=3,
    wait_s=(0.5, 2.0),
    mix=(
        Task("list-items", 6),
        Task("get-item", 3),
        Task("count-items", 2),
        Task("search-items", 2),
        Task("create-item", 4),
        Task("update-item", 2),
        Task("promote-item", 2),
        Task("deprecate-item", 1),
        Task("delete-item", 2),
        Task("bulk-promote", 1, PHASE2),
        Task("merge-items", 1, PHASE2),
        Task("create-module", 2),
        Task("list-modules", 2),
        Task("module-memories", 2),
        Task("update-module", 1, PHASE2),
        Task("pack-preview", 2),
        Task("extract-preview", 4, PHASE2),
    ),
)

AGENT_PACK = UserProfile(
    "AgentPackUser",
    weight=2,
    wait_s=(0.5, 2.0),
    seed_items=(3, 6),
    mix=(
        Task("pack-preview", 5),
        Task("pack-generate", 3),
        Task("list-items", 2),
        Task("search-items", 1),
        Task("record-learning", 1),
        Task("list-modules", 1),
    ),
)

PRODUCTION_READER = UserProfile(
    "ProductionReaderUser",
    weight=5,
    wait_s=(0.5, 2.5),
    projects_per_user=(1, 1),
    mix=(
        Task("list-items", 8, PRODUCTION),
        Task("get-item", 4, PRODUCTION),
        Task("count-items", 2, PRODUCTION),
        Task("search-items", 3, PRODUCTION),
        Task("pack-preview", 3, PRODUCTION),
        Task("pack-generate", 1, PRODUCTION),
        Task("module-memories", 2, PRODUCTION),
        Task("create-item", 1, PRODUCTION),
        Task("update-item", 1, PRODUCTION),
        Task("promote-item", 1, PRODUCTION),
        Task("delete-item", 1, PRODUCTION),
        Task("health", 2, PRODUCTION),
    ),
)

USER_PROFILES = (INTERNAL_TEAM, AGENT_PACK, PRODUCTION_READER)


def operation_weights(profiles: tuple[UserProfile, ...], phase: str) -> dict[str, int]:
    """Each operation's share of a phase's traffic, as integer weights over the users' mixes.

    Locust starts users in proportion to their class weight, and every profile thinks for about
    the same time between requests, so an operation's share of the requests is the sum over the
    user classes of (class weight / all class weights) x (task weight / the class's task
    weights). The shares are exact fractions; the weights are those fractions over their common
    denominator, so a rotation of `sum(weights)` steps sends each operation exactly its share.
    """
    users = [user for user in profiles if user.tasks_for(phase)]
    if not users:
        raise ValueError(f"no user profile has traffic for {phase!r}")
    all_users = sum(user.weight for user in users)
    shares: dict[str, Fraction] = {}
    for user in users:
        tasks = user.tasks_for(phase)
        all_tasks = sum(task.weight for task in tasks)
        for task in tasks:
            share = Fraction(user.weight, all_users) * Fraction(task.weight, all_tasks)
            shares[task.operation] = shares.get(task.operation, Fraction(0)) + share
    denominator = math.lcm(*(share.denominator for share in shares.values()))
    return {op: int(share * denominator) for op, share in sorted(shares.items())}


def rotation(weights: dict[str, int]) -> tuple[str, ...]:
    """One cycle of `sum(weights)` operations, each exactly its weight's times, interleaved.

    Smooth weighted round robin: at every step each operation gains its weight, the richest is
    sent and pays the total. The same operation never clusters, so no request shape bunches up
    under the burst limiter, and any stretch of the traffic carries about the mix's shares.
    """
    total = sum(weights.values())
    credit = dict.fromkeys(weights, 0)
    order: list[str] = []
    for _ in range(total):
        for op, weight in weights.items():
            credit[op] += weight
        chosen = max(credit, key=lambda op: credit[op])
        credit[chosen] -= total
        order.append(chosen)
    return tuple(order)
