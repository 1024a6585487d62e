"""Production mix (phases 3 and 4): read-mostly, with packs and a trickle of writes.

Once the feature reaches everyone, most requests read: lists with filters, single items,
counts, searches and pack previews; a small share writes (new memories, edits, promotions);
load balancers probe /health.
"""

from __future__ import annotations

from _skillmeat_traffic import SkillMeatUser
from locust import between, tag, task

PRODUCTION = ("phase3", "phase4")


class ProductionReaderUser(SkillMeatUser):
    weight = 5
    wait_time = between(0.5, 2.5)
    projects_per_user = (1, 1)

    @tag(*PRODUCTION, "read")
    @task(8)
    def list_memories(self) -> None:
        self.list_items()

    @tag(*PRODUCTION, "read")
    @task(4)
    def read_memory(self) -> None:
        self.get_item()

    @tag(*PRODUCTION, "read")
    @task(2)
    def count_memories(self) -> None:
        self.count_items()

    @tag(*PRODUCTION, "read")
    @task(3)
    def search_memories(self) -> None:
        self.search_items()

    @tag(*PRODUCTION, "packs")
    @task(3)
    def preview_pack(self) -> None:
        self.pack_preview()

    @tag(*PRODUCTION, "packs")
    @task(1)
    def generate_pack(self) -> None:
        self.pack_generate()

    @tag(*PRODUCTION, "modules")
    @task(2)
    def open_module(self) -> None:
        self.module_memories()

    @tag(*PRODUCTION, "write")
    @task(1)
    def write_memory(self) -> None:
        self.create_item()

    @tag(*PRODUCTION, "write")
    @task(1)
    def edit_memory(self) -> None:
        self.update_item()

    @tag(*PRODUCTION, "lifecycle")
    @task(1)
    def promote_memory(self) -> None:
        self.promote_item()

    @tag(*PRODUCTION, "write")
    @task(1)
    def remove_memory(self) -> None:
        self.delete_item()

    @tag(*PRODUCTION, "service")
    @task(2)
    def probe_health(self) -> None:
        self.health()
