"""Agents (every phase with the flag ON): context packs first, some reads, a few learnings.

An agent session previews a pack, generates it (budgets spread from 500 to 100,000 tokens,
sometimes for one context module, sometimes filtered), reads a few memories and now and then
writes back what it learned. This is the heaviest traffic per request: pack generation reads
every active memory of the project.
"""

from __future__ import annotations

from _skillmeat_traffic import SkillMeatUser
from locust import between, tag, task

ALL = ("phase2", "phase3", "phase4")


class AgentPackUser(SkillMeatUser):
    weight = 2
    wait_time = between(0.5, 2.0)
    seed_items = (3, 6)

    @tag(*ALL, "packs")
    @task(5)
    def preview_pack(self) -> None:
        self.pack_preview()

    @tag(*ALL, "packs")
    @task(3)
    def generate_pack(self) -> None:
        self.pack_generate()

    @tag(*ALL, "read")
    @task(2)
    def read_context(self) -> None:
        self.list_items()

    @tag(*ALL, "read")
    @task(1)
    def search_context(self) -> None:
        self.search_items()

    @tag(*ALL, "write")
    @task(1)
    def record_learning(self) -> None:
        project = self.pick_project()
        if project is not None and len(project.items) < self.max_items_per_project:
            self._create_item(project, "memory.write", "create", kind="learning")
        else:
            self.delete_item()

    @tag(*ALL, "modules")
    @task(1)
    def look_up_modules(self) -> None:
        self.list_modules()
