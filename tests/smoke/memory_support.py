"""Helpers shared by the flag-ON smoke checks (phases 2 and 4). Nothing here decides an outcome.

Every write that may create something goes through a helper that registers the created resource
for cleanup *before* the check looks at the answer, so a check that fails half-way still leaves
nothing behind.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from phasegate import expect
from phasegate.client import JSON, SkillMeatClient
from phasegate.resources import Registry, Resource, ResourceKind


def register_created(
    response: httpx.Response, cleanup: Registry, kind: ResourceKind, project_id: str, label: str
) -> None:
    """If the answer says something was created, make sure teardown deletes it."""
    if response.status_code not in (200, 201):
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        cleanup.add(Resource(kind, body["id"], label[:60], project_id))


def create_item(
    api: SkillMeatClient, cleanup: Registry, project_id: str, body: JSON
) -> httpx.Response:
    """POST a memory item exactly as given; whatever it creates is registered for cleanup."""
    response = api.create_item(project_id, body)
    register_created(response, cleanup, "item", project_id, str(body.get("content", "")))
    return response


def create_module(
    api: SkillMeatClient, cleanup: Registry, project_id: str, body: JSON
) -> httpx.Response:
    response = api.create_module(project_id, body)
    register_created(response, cleanup, "module", project_id, str(body.get("name", "")))
    return response


def register_items(cleanup: Registry, project_id: str, items: list[Any]) -> list[str]:
    """Register items created as a side effect (extraction apply); returns their ids."""
    created: list[str] = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            cleanup.add(Resource("item", item["id"], str(item.get("content", ""))[:60], project_id))
            created.append(item["id"])
    return created


def list_all(
    api: SkillMeatClient, project_id: str, *, limit: int = 100, **filters: Any
) -> list[JSON]:
    """Every item a filtered listing returns, following next_cursor to the end (the client's
    walk: a listing that cannot be read to its end fails the check that asked)."""
    return list(api.walk_items(project_id, filters=filters, limit=limit))


def ids_of(items: list[JSON]) -> list[str]:
    return [str(item.get("id")) for item in items]


def unknown_id() -> str:
    """An id shaped like SkillMeat's (32 hex) that no resource has."""
    return uuid.uuid4().hex


def count_of(api: SkillMeatClient, project_id: str, **filters: Any) -> int:
    body = expect.json_object(api.count_items(project_id, **filters), 200)
    count = expect.field(body, "count", "GET /memory-items/count")
    assert isinstance(count, int), f"count is {count!r}, not an integer"
    return count


def module_memory_ids(api: SkillMeatClient, module_id: str) -> list[str]:
    response = expect.status(api.module_memories(module_id), 200)
    body = expect.json_body(response)
    assert isinstance(body, list), (
        f"GET /context-modules/{{id}}/memories answered {type(body).__name__}, expected a list"
    )
    return [str(entry.get("id")) for entry in body if isinstance(entry, dict)]


def is_entity(entry: JSON) -> bool:
    """Pack entries that are not memory items: SkillMeat adds the collection's global context
    entities (CLAUDE.md, rules, specs) to every pack with ids "entity:<id>"."""
    return str(entry.get("id", "")).startswith("entity:")


def pack_memories(pack: JSON) -> list[JSON]:
    """The memory-item entries of a pack (context entities left out)."""
    return [entry for entry in expect.items_of(pack, "context pack") if not is_entity(entry)]


def entity_baseline(api: SkillMeatClient, project_id: str) -> int:
    """How many pack candidates a project has before it holds any memory: the target's global
    context entities (0 on the embedded stack). Ask while the project is still empty."""
    pack = expect.json_object(api.pack_preview(project_id, {"budget_tokens": 100}), 200)
    available = expect.field(pack, "items_available", "pack preview of an empty project")
    assert isinstance(available, int), f"items_available is {available!r}"
    return available
