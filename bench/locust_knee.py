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
from _skillmeat_traffic import SkillMeatUser
from locust import constant_throughput, events, task

RATE = float(os.environ.get("PHASEGATE_BENCH_RATE_PER_USER", "0.5"))
WARMUP_S = float(os.environ.get("PHASEGATE_BENCH_WARMUP_S", "20"))


@events.test_start.add_listener
def _measure_after_warmup(environment, **_kwargs) -> None:
    """Forget the users' set-up burst: statistics restart once every user had time to seed."""

    def reset() -> None:
        gevent.sleep(WARMUP_S)
        environment.stats.reset_all()

    gevent.spawn(reset)


class MemoryPacedUser(SkillMeatUser):
    wait_time = constant_throughput(RATE)
    projects_per_user = (1, 1)
    seed_items = (3, 3)

    @task(6)
    def list_memories(self) -> None:
        self.list_items()

    @task(3)
    def read_memory(self) -> None:
        self.get_item()

    @task(2)
    def count_memories(self) -> None:
        self.count_items()

    @task(2)
    def search_memories(self) -> None:
        self.search_items()

    @task(3)
    def write_memory(self) -> None:
        self.create_item()

    @task(2)
    def edit_memory(self) -> None:
        self.update_item()

    @task(1)
    def promote_memory(self) -> None:
        self.promote_item()

    @task(2)
    def remove_memory(self) -> None:
        self.delete_item()
