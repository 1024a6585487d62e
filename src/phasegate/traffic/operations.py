"""What each operation of the users' mix sends: one builder per operation of `mix.OPERATIONS`.

A builder looks at a user's own data (`model.UserData`) and returns its next `Request`, or
another operation's when its own has nothing to act on (no item to read yet: a list instead),
or None (no project). Everything random comes from the user's generator. The booking of the
answer (`Request.then`) keeps the user's items, their statuses and its modules up to date, so
later requests act on what really exists.
"""

from __future__ import annotations

from collections.abc import Callable

from phasegate.traffic.content import TYPES, WORDS, memory_text
from phasegate.traffic.model import (
    JSON,
    Answer,
    Params,
    Project,
    Request,
    UserData,
    answer_id,
    path_id,
)

PROMOTABLE = ("candidate", "active")
# Every strategy a user may choose, keep_source included: on 0.74.0 it always answers 500 (the
# target takes the source's content while the deprecated source keeps it: UNIQUE content_hash).
# Users would meet that 500 too, so the traffic sends it and the error gates count it; the smoke
# check lifecycle.merge[keep_source] names the defect.
STRATEGIES = ("keep_target", "keep_source", "combine")
SORT_FIELDS = ("created_at", "updated_at", "confidence")
SEED_STATUSES = ("active", "active", "stable", "candidate")


def item_request(
    u: UserData,
    project: Project,
    group: str,
    action: str,
    *,
    kind: str | None = None,
    status: str | None = None,
) -> Request:
    """A new memory of varied type, length (80 to 4,000 characters) and confidence."""
    kind = kind or u.rng.choice(TYPES)
    length = int(u.rng.choice((80, 160, 400, 900, 2000, 4000)) * u.rng.uniform(0.7, 1.3))
    body: JSON = {
        "type": kind,
        "content": memory_text(u.rng, kind, u.marker(), length),
        "confidence": round(u.rng.uniform(0.3, 0.98), 2),
    }
    if status:
        body["status"] = status

    def book(answer: Answer) -> None:
        item_id = answer_id(answer)
        if item_id is not None and isinstance(answer, dict):
            project.items[item_id] = str(answer.get("status") or status or "candidate")

    return Request(
        group, action, "POST", "/memory-items",
        params={"project_id": project.id}, body=body, expect=(201,), then=book,
    )  # fmt: skip


def seed_item(u: UserData, project: Project) -> Request:
    """One of the memories a user seeds a new project with (mostly active or stable)."""
    return item_request(u, project, "setup", "seed-item", status=u.rng.choice(SEED_STATUSES))


def _book_status(project: Project, item_id: str) -> Callable[[Answer], None]:
    """Keep the status the server answered with (promote, deprecate and update change it)."""

    def book(answer: Answer) -> None:
        if isinstance(answer, dict) and answer.get("status"):
            project.items[item_id] = str(answer["status"])

    return book


# -- memory reads -----------------------------------------------------------------------------


def list_items(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    params: Params = {"project_id": project.id, "limit": u.rng.choice((10, 20, 50, 100))}
    choice = u.rng.random()
    if choice < 0.3:
        params["status"] = u.rng.choice(("active", "candidate", "stable"))
    elif choice < 0.5:
        params["type"] = u.rng.choice(TYPES)
    elif choice < 0.65:
        params["min_confidence"] = u.rng.choice((0.3, 0.5, 0.7, 0.9))
    elif choice < 0.8:
        params["search"] = u.rng.choice(WORDS)
    if u.rng.random() < 0.5:
        params["sort_by"] = u.rng.choice(SORT_FIELDS)
        params["sort_order"] = u.rng.choice(("asc", "desc"))
    return Request("memory.read", "list", "GET", "/memory-items", params=params)


def get_item(u: UserData) -> Request | None:
    project = u.pick_project()
    item_id = u.pick_item(project) if project else None
    if item_id is None:
        return list_items(u)
    return Request("memory.read", "get", "GET", f"/memory-items/{path_id(item_id)}")


def count_items(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    params: Params = {"project_id": project.id}
    if u.rng.random() < 0.6:
        if u.rng.random() < 0.5:
            params["status"] = u.rng.choice(("active", "candidate", "stable", "deprecated"))
        else:
            params["type"] = u.rng.choice(TYPES)
    return Request("memory.read", "count", "GET", "/memory-items/count", params=params)


def search_items(u: UserData) -> Request | None:
    project = u.pick_project()
    words = " ".join(u.rng.sample(WORDS, u.rng.choice((1, 1, 2))))
    params: Params = {"query": words, "limit": u.rng.choice((10, 25, 50))}
    if project is not None and u.rng.random() < 0.8:
        params["project_id"] = project.id
    return Request("memory.read", "search", "GET", "/memory-items/search", params=params)


# -- memory writes and lifecycle --------------------------------------------------------------


def create_item(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    if len(project.items) >= u.max_items_per_project:
        return delete_item(u)
    status = u.rng.choice((None, None, "active"))
    return item_request(u, project, "memory.write", "create", status=status)


def record_learning(u: UserData) -> Request | None:
    """An agent writes back what it learned, or tidies up when its project is full."""
    project = u.pick_project()
    if project is not None and len(project.items) < u.max_items_per_project:
        return item_request(u, project, "memory.write", "create", kind="learning")
    return delete_item(u)


def update_item(u: UserData) -> Request | None:
    project = u.pick_project()
    item_id = u.pick_item(project) if project else None
    if project is None or item_id is None:
        return None
    body: JSON = {"confidence": round(u.rng.uniform(0.3, 0.99), 2)}
    if u.rng.random() < 0.4:
        kind = u.rng.choice(TYPES)
        body["content"] = memory_text(u.rng, kind, u.marker(), u.rng.randint(60, 600))
    return Request(
        "memory.write", "update", "PUT", f"/memory-items/{path_id(item_id)}",
        body=body, then=_book_status(project, item_id),
    )  # fmt: skip


def promote_item(u: UserData) -> Request | None:
    project = u.pick_project()
    item_id = u.pick_item(project, PROMOTABLE) if project else None
    if project is None or item_id is None:
        return create_item(u)
    return Request(
        "memory.write", "promote", "POST", f"/memory-items/{path_id(item_id)}/promote",
        body={"reason": "load: reviewed by the team"} if u.rng.random() < 0.5 else {},
        then=_book_status(project, item_id),
    )  # fmt: skip


def deprecate_item(u: UserData) -> Request | None:
    project = u.pick_project()
    item_id = u.pick_item(project, ("candidate", "active", "stable")) if project else None
    if project is None or item_id is None:
        return None
    return Request(
        "memory.write", "deprecate", "POST", f"/memory-items/{path_id(item_id)}/deprecate",
        body={"reason": "load: superseded"}, then=_book_status(project, item_id),
    )  # fmt: skip


def delete_item(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None or len(project.items) <= 2:
        return None
    item_id = u.pick_item(project, ("deprecated",)) or u.pick_item(project)
    if item_id is None:
        return None
    # Forget it first: the item is gone or the delete failed loudly; either way the cleanup
    # must not count it twice. A failed delete shows in the stats and the sweep finds it.
    status = project.items.pop(item_id)

    def book(answer: Answer) -> None:
        if answer is None:
            project.items[item_id] = status  # keep it for the cleanup to retry

    return Request(
        "memory.write", "delete", "DELETE", f"/memory-items/{path_id(item_id)}",
        expect=(204,), then=book,
    )  # fmt: skip


def bulk_promote(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    ids = [i for i, s in project.items.items() if s in PROMOTABLE][: u.rng.randint(2, 4)]
    if len(ids) < 2:
        return create_item(u)

    def book(answer: Answer) -> None:
        if isinstance(answer, dict):
            for item_id in answer.get("succeeded") or []:
                if item_id in project.items:
                    project.items[item_id] = (
                        "active" if project.items[item_id] == "candidate" else "stable"
                    )

    return Request(
        "memory.write", "bulk-promote", "POST", "/memory-items/bulk-promote",
        body={"item_ids": ids}, then=book,
    )  # fmt: skip


def merge_items(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    ids = [i for i, s in project.items.items() if s != "deprecated"]
    if len(ids) < 3:
        return create_item(u)
    source, target = u.rng.sample(ids, 2)
    strategy = u.rng.choice(STRATEGIES)
    body: JSON = {"source_id": source, "target_id": target, "strategy": strategy}
    if strategy == "combine":
        body["merged_content"] = memory_text(u.rng, "learning", u.marker(), u.rng.randint(100, 800))

    def book(answer: Answer) -> None:
        if isinstance(answer, dict):
            project.items[source] = "deprecated"  # the source stays, deprecated
            item = answer.get("item")
            if isinstance(item, dict) and item.get("id"):
                project.items[str(item["id"])] = str(item.get("status") or "candidate")

    return Request("memory.write", "merge", "POST", "/memory-items/merge", body=body, then=book)


def extract_preview(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    sentences = [
        memory_text(u.rng, u.rng.choice(TYPES), u.marker(), 60) for _ in range(u.rng.randint(2, 8))
    ]
    return Request(
        "memory.write", "extract-preview", "POST", "/memory-items/extract/preview",
        params={"project_id": project.id},
        body={
            "text_corpus": "\n".join(sentences),
            "profile": u.rng.choice(("strict", "balanced", "aggressive")),
        },
    )  # fmt: skip


# -- context modules --------------------------------------------------------------------------


def create_module(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    if len(project.modules) >= 3:
        return module_memories(u)
    body: JSON = {
        "name": f"{u.run_id}-mod-{u.tag}-{u.seq}",
        "description": "load-test module",
        "selectors": {
            "memory_types": u.rng.sample(TYPES, u.rng.randint(1, 3)),
            "min_confidence": u.rng.choice((0.3, 0.5, 0.7)),
        },
        "priority": u.rng.randint(1, 9),
    }
    u.seq += 1

    def link(answer: Answer) -> Request | None:
        module_id = answer_id(answer)
        if module_id is None:
            return None
        project.modules.append(module_id)
        item_id = u.pick_item(project)
        if item_id is None:
            return None
        return Request(
            "modules", "link", "POST", f"/context-modules/{path_id(module_id)}/memories",
            body={"memory_id": item_id}, expect=(200, 201),
        )  # fmt: skip

    return Request(
        "modules", "create", "POST", "/context-modules",
        params={"project_id": project.id}, body=body, expect=(201,), then=link,
    )  # fmt: skip


def list_modules(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None:
        return None
    return Request(
        "modules", "list", "GET", "/context-modules",
        params={"project_id": project.id, "limit": u.rng.choice((10, 20, 50))},
    )  # fmt: skip


def module_memories(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None or not project.modules:
        return create_module(u)
    module_id = u.rng.choice(project.modules)
    if u.rng.random() < 0.5:
        return Request(
            "modules", "get", "GET", f"/context-modules/{path_id(module_id)}",
            params={"include_items": u.rng.choice(("true", "false"))},
        )  # fmt: skip
    return Request(
        "modules", "memories", "GET", f"/context-modules/{path_id(module_id)}/memories",
        params={"limit": u.rng.choice((10, 50))},
    )  # fmt: skip


def update_module(u: UserData) -> Request | None:
    project = u.pick_project()
    if project is None or not project.modules:
        return create_module(u)
    module_id = u.rng.choice(project.modules)
    return Request(
        "modules", "update", "PUT", f"/context-modules/{path_id(module_id)}",
        body={"priority": u.rng.randint(1, 9), "description": f"tuned {u.marker()}"},
    )  # fmt: skip


# -- context packs ----------------------------------------------------------------------------


def pack_body(u: UserData, project: Project) -> JSON:
    # Budgets from 500 to 100,000 tokens, spread evenly on a log scale.
    budget = int(round(10 ** u.rng.uniform(2.699, 5.0), -1))
    body: JSON = {"budget_tokens": max(500, min(100_000, budget))}
    if project.modules and u.rng.random() < 0.3:
        body["module_id"] = u.rng.choice(project.modules)
    elif u.rng.random() < 0.3:
        body["filters"] = {"type": u.rng.choice(TYPES)}
    return body


def _pack(action: str) -> Callable[[UserData], Request | None]:
    def build(u: UserData) -> Request | None:
        project = u.pick_project()
        if project is None:
            return None
        return Request(
            "packs", action, "POST", f"/context-packs/{action}",
            params={"project_id": project.id}, body=pack_body(u, project),
        )  # fmt: skip

    return build


def health(u: UserData) -> Request | None:
    return Request("service", "health", "GET", "/health", api=False)


BUILDERS: dict[str, Callable[[UserData], Request | None]] = {
    "list-items": list_items,
    "get-item": get_item,
    "count-items": count_items,
    "search-items": search_items,
    "create-item": create_item,
    "record-learning": record_learning,
    "update-item": update_item,
    "delete-item": delete_item,
    "promote-item": promote_item,
    "deprecate-item": deprecate_item,
    "bulk-promote": bulk_promote,
    "merge-items": merge_items,
    "extract-preview": extract_preview,
    "create-module": create_module,
    "list-modules": list_modules,
    "module-memories": module_memories,
    "update-module": update_module,
    "pack-preview": _pack("preview"),
    "pack-generate": _pack("generate"),
    "health": health,
}


def build(operation: str, user: UserData) -> Request | None:
    """The request `operation` sends for `user` now (None: nothing to do, e.g. no project)."""
    return BUILDERS[operation](user)
