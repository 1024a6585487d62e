"""Internal team (phase 2 onwards): memory CRUD, lifecycle, listing, modules and extraction.

People on the team curate their projects' memories by hand: they list and filter, read single
items, write new decisions and gotchas, promote what proved right, deprecate and merge what did
not, group memories into context modules, try extraction on session notes, and look at the packs
their agents will get. Tasks carry the tags of the phases whose traffic they belong to
(`--tags phase2`), and a functional tag (read, write, lifecycle, modules, packs, extract).
"""

from __future__ import annotations

from _skillmeat_traffic import SkillMeatUser
from locust import between, tag, task

ALL = ("phase2", "phase3", "phase4")


class InternalTeamUser(SkillMeatUser):
    weight = 3
    wait_time = between(0.5, 2.0)

    @tag(*ALL, "read")
    @task(6)
    def list_memories(self) -> None:
        self.list_items()

    @tag(*ALL, "read")
    @task(3)
    def read_memory(self) -> None:
        self.get_item()

    @tag(*ALL, "read")
    @task(2)
    def count_memories(self) -> None:
        self.count_items()

    @tag(*ALL, "read")
    @task(2)
    def search_memories(self) -> None:
        self.search_items()

    @tag(*ALL, "write")
    @task(4)
    def write_memory(self) -> None:
        self.create_item()

    @tag(*ALL, "write")
    @task(2)
    def edit_memory(self) -> None:
        self.update_item()

    @tag(*ALL, "lifecycle")
    @task(2)
    def promote_memory(self) -> None:
        self.promote_item()

    @tag(*ALL, "lifecycle")
    @task(1)
    def deprecate_memory(self) -> None:
        self.deprecate_item()

    @tag(*ALL, "write")
    @task(2)
    def remove_memory(self) -> None:
        self.delete_item()

    @tag("phase2", "lifecycle")
    @task(1)
    def promote_several(self) -> None:
        self.bulk_promote()

    @tag("phase2", "lifecycle")
    @task(1)
    def merge_duplicates(self) -> None:
        self.merge_items()

    @tag(*ALL, "modules")
    @task(2)
    def build_module(self) -> None:
        self.create_module()

    @tag(*ALL, "modules")
    @task(2)
    def browse_modules(self) -> None:
        self.list_modules()

    @tag(*ALL, "modules")
    @task(2)
    def open_module(self) -> None:
        self.module_memories()

    @tag("phase2", "modules")
    @task(1)
    def tune_module(self) -> None:
        self.update_module()

    @tag(*ALL, "packs")
    @task(2)
    def check_pack(self) -> None:
        self.pack_preview()

    @tag("phase2", "extract")
    @task(4)
    def try_extraction(self) -> None:
        self.extract_preview()
