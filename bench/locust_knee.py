"""Bench locustfile (not part of tests/load): memory traffic at a fixed rate per user.

MemoryPacedUser runs the internal team's memory reads and writes (the same operations and
request names as tests/load) at `PHASEGATE_BENCH_RATE_PER_USER` requests per second each
(constant throughput: an open-ish model, so a slow server does not quietly lower the offered
rate the way think-time users would). Each user still has its own client address, projects and
cleanup.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "load"))

import gevent
from _skillmeat_traffic import SkillMeatUser, locust_tasks
from locust import constant_throughput, events

from phasegate.traffic.mix import Task, UserProfile

RATE = float(os.environ.get("PHASEGATE_BENCH_RATE_PER_USER", "0.5"))
WARMUP_S = float(os.environ.get("PHASEGATE_BENCH_WARMUP_S", "20"))

# The internal team's memory operations only (no phase tags: the bench runs them all).
MEMORY_PACED = UserProfile(
    "MemoryPacedUser",
    weight=1,
    wait_s=(0.0, 0.0),  # unused: the class paces by throughput
    projects_per_user=(1, 1),
    seed_items=(3, 3),
    mix=(
        Task("list-items", 6, ()),
        Task("get-item", 3, ()),
        Task("count-items", 2, ()),
        Task("search-items", 2, ()),
        Task("create-item", 3, ()),
        Task("update-item", 2, ()),
        Task("promote-item", 1, ()),
        Task("delete-item", 2, ()),
    ),
)


@events.test_start.add_listener
def _measure_after_warmup(environment, **_kwargs) -> None:
    """Forget the users' set-up burst: statistics restart once every user had time to seed."""

    def reset() -> None:
        gevent.sleep(WARMUP_S)
        environment.stats.reset_all()

    gevent.spawn(reset)


class MemoryPacedUser(SkillMeatUser):
    profile = MEMORY_PACED
    wait_time = constant_throughput(RATE)
    tasks = locust_tasks(MEMORY_PACED)
