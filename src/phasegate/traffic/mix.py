"""The request mix as data: which operations each kind of user sends, and how often.

Four profiles share one catalog of operations:

- three locust users (tests/load): the internal team, agents working with context packs, and
  production readers, each a weighted list of operations with the phases whose traffic they
  belong to (the locust tags, `--tags phase2`);
- the gates' top-up (`threaded`): a fixed rotation, not a lottery, so that over a few thousand
  requests from one client address no exact request recurs often enough to trip SkillMeat's
  burst limiter.

What each operation sends is `operations.build` (random users) and `top_up.request` (the
rotation). The operation's `group` is the first word of its request name: the load gate judges
p95 per group (`phasegate.load.profiles.JUDGED_GROUPS`).
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class Turn:
    """A place in the top-up's rotation: on every `every`-th step, if its item exists."""

    operation: str
    every: int = 1
    needs_item: bool = False


GATE_TOP_UP = (
    Turn("list-items"),
    Turn("count-items"),
    Turn("search-items"),
    Turn("get-item", needs_item=True),
    Turn("update-item", every=4, needs_item=True),
    Turn("pack-preview", every=6),
)
TOP_UP_SEED_ITEMS = 8  # memories per top-up worker's project


def top_up_operation(step: int, has_item: bool, rotation: tuple[Turn, ...] = GATE_TOP_UP) -> str:
    """The operation of step `step`: the turns due at this step, taken in rotation."""
    due = [
        turn for turn in rotation if step % turn.every == 0 and (has_item or not turn.needs_item)
    ]
    return due[step % len(due)].operation
