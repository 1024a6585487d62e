"""Deletion is complete (issue #11, part 4): a deleted item, module or project is gone everywhere.

Each check looks at every surface once before the delete (a surface that did not show the
resource then proves nothing after) and once after; phasegate.deletion judges the pairs. The
checks use a project of their own, because counts and packs are judged over the whole project.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from phasegate import expect
from phasegate.deletion import Reach, Surface, judge
from phasegate.outcomes import conclude

# The refusals that mean "gone" on an id-addressed surface: 404, and for the operations whose
# OpenAPI documents no 404 for an unknown id (the module's memory list, the packs: 400 "Invalid
# request"), their documented 400. Which 4xx is right for a missing id is issue #11 part 2's
# negative-path check; this one judges that the deleted thing is refused at all.
GONE = frozenset({404})
GONE_OR_DOCUMENTED_400 = frozenset({400, 404})

Look = Callable[[], tuple[int, bool | None]]


def _ids(body: object, key: str | None = "items") -> list[str] | None:
    """The ids an answer lists (None when it is not a list of things with ids)."""
    entries = body.get(key) if isinstance(body, dict) and key else body
    if not isinstance(entries, list):
        return None
    return [str(e.get("id")) for e in entries if isinstance(e, dict)]


def _shows(call: Callable[[], httpx.Response], resource_id: str, key: str | None) -> Look:
    """A look at a listing-like surface: does its answer hold `resource_id`?"""

    def look() -> tuple[int, bool | None]:
        answer = call()
        if not 200 <= answer.status_code < 300:
            return answer.status_code, None
        try:
            ids = _ids(answer.json(), key)
        except ValueError:
            return answer.status_code, None
        return answer.status_code, (resource_id in ids) if ids is not None else None

    return look


def _by_id(call: Callable[[], httpx.Response]) -> Look:
    def look() -> tuple[int, bool | None]:
        answer = call()
        return answer.status_code, 200 <= answer.status_code < 300

    return look


def _count(call: Callable[[], httpx.Response], gone_if: Callable[[int], bool]) -> Look:
    """A count surface: "shown" while the count has not dropped as the deletion requires."""

    def look() -> tuple[int, bool | None]:
        answer = call()
        if answer.status_code != 200:
            return answer.status_code, None
        count = answer.json().get("count") if isinstance(answer.json(), dict) else None
        if not isinstance(count, int):
            return answer.status_code, None
        return answer.status_code, not gone_if(count)

    return look


def _observe(
    looks: dict[str, tuple[Reach, Look]],
    delete: Callable[[], None],
    gone: dict[str, frozenset[int]] | None = None,
) -> list[Surface]:
    """Every surface once before `delete` and once after."""
    before = {name: look() for name, (_, look) in looks.items()}
    delete()
    surfaces = []
    for name, (reach, look) in looks.items():
        status, shown = look()
        codes = (gone or {}).get(name, GONE)
        surfaces.append(Surface(name, reach, before[name][1], status, shown, codes))
    return surfaces


def _item_and_module(api, project, make_item, make_module, keyword: str):
    item = make_item(project.id, content=f"deletion probe {keyword}", confidence=0.9)
    module = make_module(project.id)
    expect.status(api.link_memory(module["id"], item["id"]), 200, 201)
    return item, module


def _pack(api, project_id: str, generate: bool, module_id: str | None = None) -> httpx.Response:
    body: dict = {"budget_tokens": 4000}
    if module_id:
        body["module_id"] = module_id
    return (api.pack_generate if generate else api.pack_preview)(project_id, body)


@pytest.mark.check("deletion.item-everywhere", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_deleted_item_gone_everywhere(api, project, make_item, make_module, evidence):
    """A deleted memory item is gone from get, lists, searches, the count, its module and packs.

    Blocking (rule: effect; server-error for a 5xx): deleting is how a user removes a wrong or
    sensitive memory; a DELETE that answers 204 while a search, a module or a pack still serves
    the item hands it to agents anyway. A GET refused with a code other than the documented 404
    only warns (rule: undocumented-4xx).
    """
    keyword = f"del{uuid.uuid4().hex[:10]}"
    item, module = _item_and_module(api, project, make_item, make_module, keyword)
    item_id, pid = item["id"], project.id
    count_before = expect.json_object(api.count_items(pid), 200).get("count")
    if not isinstance(count_before, int):
        count_before = -1  # unreadable: the count surface is then not judged
    looks = {
        "get": (Reach.BY_ID, _by_id(lambda: api.get_item(item_id))),
        "list": (Reach.LISTING, _shows(lambda: api.list_items(pid, limit=100), item_id, "items")),
        "search scoped": (
            Reach.LISTING,
            _shows(lambda: api.search_items(keyword, project_id=pid), item_id, "items"),
        ),
        "search unscoped": (
            Reach.LISTING,
            _shows(lambda: api.search_items(keyword), item_id, "items"),
        ),
        "count": (Reach.LISTING, _count(lambda: api.count_items(pid), lambda n: n < count_before)),
        "module memories": (
            Reach.LISTING,
            _shows(lambda: api.module_memories(module["id"]), item_id, None),
        ),
        "pack preview": (Reach.LISTING, _shows(lambda: _pack(api, pid, False), item_id, "items")),
        "pack generate": (Reach.LISTING, _shows(lambda: _pack(api, pid, True), item_id, "items")),
        "pack preview of its module": (
            Reach.LISTING,
            _shows(lambda: _pack(api, pid, False, module["id"]), item_id, "items"),
        ),
    }

    def delete() -> None:
        expect.status(api.delete_item(item_id), 204)

    surfaces = _observe(looks, delete)
    evidence.note("count_before", count_before)
    conclude(judge(surfaces, "deleted item", required="get"), evidence)


@pytest.mark.check("deletion.module-everywhere", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_deleted_module_gone_everywhere(api, project, make_item, make_module, evidence):
    """A deleted context module is gone from get, the module list, its links and module packs.

    Blocking (rule: effect; server-error for a 5xx): a module scopes what an agent receives; a
    pack that still accepts a deleted module's id (and then packs the whole project instead of
    refusing) hands an agent what the module was built to keep out. Its memories must stay:
    deleting a scope is not deleting knowledge. A refusal other than the documented 404 only
    warns (rule: undocumented-4xx).
    """
    item, module = _item_and_module(api, project, make_item, make_module, uuid.uuid4().hex[:10])
    module_id, pid = module["id"], project.id
    looks = {
        "get": (Reach.BY_ID, _by_id(lambda: api.get_module(module_id))),
        "list": (Reach.LISTING, _shows(lambda: api.list_modules(pid), module_id, "items")),
        # Its links must be gone: an empty list or a refusal. Whether a 200 for a module that
        # no longer exists is right is the negative-path check's question (issue #11 part 2).
        "module memories": (
            Reach.LISTING,
            _shows(lambda: api.module_memories(module_id), item["id"], None),
        ),
        "pack preview of the module": (
            Reach.BY_ID,
            _by_id(lambda: _pack(api, pid, False, module_id)),
        ),
        "pack generate of the module": (
            Reach.BY_ID,
            _by_id(lambda: _pack(api, pid, True, module_id)),
        ),
    }

    def delete() -> None:
        expect.status(api.delete_module(module_id), 204)

    documented_400 = {name: GONE_OR_DOCUMENTED_400 for name in looks if name != "get"}
    surfaces = _observe(looks, delete, documented_400)
    kept = api.get_item(item["id"])
    evidence.note("linked_item_after", kept.status_code)
    expect.status(kept, 200, why="deleting a module must not delete its memories")
    conclude(judge(surfaces, "deleted module", required="get"), evidence)


@pytest.mark.check("deletion.project-contents", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_deleted_project_contents_unreachable(
    api, cleanup, make_project, make_item, make_module, evidence
):
    """A deleted project's items, modules and packs are gone or unreachable.

    Blocking (rule: effect; server-error for a 5xx): SkillMeat keeps a deleted project as a
    tombstone; if its memories stay readable by id, listable, searchable or packable, deleting
    a project does not remove what it taught agents. Any refusal counts as unreachable here.
    """
    project = make_project("deleted")
    keyword = f"delp{uuid.uuid4().hex[:10]}"
    item, module = _item_and_module(api, project, make_item, make_module, keyword)
    item_id, module_id, pid = item["id"], module["id"], project.id
    looks = {
        "item get": (Reach.BY_ID, _by_id(lambda: api.get_item(item_id))),
        "item list": (Reach.LISTING, _shows(lambda: api.list_items(pid), item_id, "items")),
        "item count": (Reach.LISTING, _count(lambda: api.count_items(pid), lambda n: n == 0)),
        "search scoped": (
            Reach.LISTING,
            _shows(lambda: api.search_items(keyword, project_id=pid), item_id, "items"),
        ),
        "search unscoped": (
            Reach.LISTING,
            _shows(lambda: api.search_items(keyword), item_id, "items"),
        ),
        "module get": (Reach.BY_ID, _by_id(lambda: api.get_module(module_id))),
        "module list": (Reach.LISTING, _shows(lambda: api.list_modules(pid), module_id, "items")),
        "module memories": (
            Reach.LISTING,
            _shows(lambda: api.module_memories(module_id), item_id, None),
        ),
        "pack preview": (Reach.LISTING, _shows(lambda: _pack(api, pid, False), item_id, "items")),
        "pack generate": (Reach.LISTING, _shows(lambda: _pack(api, pid, True), item_id, "items")),
    }

    def delete() -> None:
        expect.status(api.delete_project(pid), 200, 204)
        # Deleted here; a second DELETE of the tombstone answers 410, so teardown skips it.
        registered = [r for r in cleanup if r.kind == "project" and r.id == pid]
        for resource in registered:
            cleanup.forget(resource)

    surfaces = _observe(looks, delete)
    verdict = judge(surfaces, "deleted project", required="item get", any_refusal=True)
    conclude(verdict, evidence)
