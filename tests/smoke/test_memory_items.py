"""Memory items with the flag ON: CRUD, filters, pagination, count, search and duplicates.

The expected answer is always computed from the check's own writes, never from what the server
happens to say. A check that lists, filters or counts a whole project writes into a project of
its own, so what it reads back is exactly what it wrote; the others read back only their own
items (by id or by a keyword unique to them) and write into a shared project.
"""

from __future__ import annotations

import hashlib
import math
import uuid

import pytest
from memory_support import count_of, create_item, ids_of, list_all

from phasegate import expect

# One row per item: (type, status, confidence, share_scope, carries the search keyword)
MIXED_ROWS = [
    ("decision", "active", 0.9, "project", True),
    ("gotcha", "candidate", 0.3, "private", False),
    ("learning", "stable", 0.6, "project", True),
    ("constraint", "deprecated", 0.75, "global_candidate", False),
    ("decision", "candidate", 0.55, "private", True),
    ("style_rule", "active", 0.2, "project", False),
]


def _write_mixed(api, cleanup, project, keyword: str) -> list[dict]:
    written = []
    for index, (kind, status, confidence, scope, tagged) in enumerate(MIXED_ROWS):
        words = f"mentions {keyword.upper() if index % 2 else keyword}" if tagged else "plain"
        body = {
            "type": kind,
            "status": status,
            "confidence": confidence,
            "share_scope": scope,
            "content": f"{project.name} row {index} {words}",
        }
        item = expect.json_object(create_item(api, cleanup, project.id, body), 201)
        written.append({**body, "id": item["id"], "tagged": tagged})
    return written


@pytest.mark.check("items.crud-roundtrip", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_item_crud_roundtrip(api, shared_project, cleanup, evidence):
    """A memory item survives create, get, list, update, get, delete; afterwards GET answers 404.

    Blocking (rule: plan-criterion): the phase-2 gate criterion "Memory CRUD operations succeed for
    test users" is exactly this round trip; any broken step means users cannot manage what the
    feature remembers.
    """
    body = {
        "type": "decision",
        "content": f"{shared_project.name} crud original",
        "confidence": 0.7,
        "status": "active",
    }
    response = create_item(api, cleanup, shared_project.id, body)
    created = expect.json_object(response, 201)
    item_id = created["id"]
    evidence.note("item_id", item_id)

    fetched = expect.json_object(api.get_item(item_id), 200)
    for name in ("content", "type", "confidence", "status"):
        assert fetched.get(name) == body[name], (
            f"GET shows {name}={fetched.get(name)!r}, created with {body[name]!r}"
        )
    assert item_id in ids_of(list_all(api, shared_project.id)), "created item missing from the list"

    update = {
        "content": f"{shared_project.name} crud updated",
        "confidence": 0.42,
        "type": "learning",
    }
    updated = expect.json_object(api.update_item(item_id, update), 200)
    for name, value in update.items():
        assert updated.get(name) == value, (
            f"PUT answered {name}={updated.get(name)!r}, sent {value!r}"
        )
    refetched = expect.json_object(api.get_item(item_id), 200)
    for name, value in update.items():
        assert refetched.get(name) == value, (
            f"GET after PUT shows {name}={refetched.get(name)!r}, expected {value!r}"
        )
    assert refetched.get("status") == "active", "PUT without status changed the status"

    expect.status(api.delete_item(item_id), 204)
    for resource in list(cleanup):
        if resource.id == item_id:
            cleanup.forget(resource)
    expect.status(api.get_item(item_id), 404, why="the item was deleted")
    assert item_id not in ids_of(list_all(api, shared_project.id)), "deleted item is still listed"


FILTERS = {
    "status": ({"status": "active"}, lambda row: row["status"] == "active"),
    "type": ({"type": "decision"}, lambda row: row["type"] == "decision"),
    "min_confidence": ({"min_confidence": 0.6}, lambda row: row["confidence"] >= 0.6),
    "share_scope": ({"share_scope": "private"}, lambda row: row["share_scope"] == "private"),
    "search": (None, lambda row: row["tagged"]),
    "combined": (
        {"status": "candidate", "type": "decision", "min_confidence": 0.5},
        lambda row: (
            row["status"] == "candidate" and row["type"] == "decision" and row["confidence"] >= 0.5
        ),
    ),
}


@pytest.mark.check("items.list-filter", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("name", list(FILTERS))
def test_list_filters(api, project, cleanup, evidence, name):
    """A filtered listing returns exactly the written items that match the filter.

    Blocking (rule: plan-criterion): the UI, the CLI and the packer all select memories through
    these filters; a filter that leaks or drops items shows users the wrong memories. Search is
    documented as a case-insensitive substring match, so the keyword is written in both cases.
    """
    keyword = f"kw{uuid.uuid4().hex[:10]}"
    written = _write_mixed(api, cleanup, project, keyword)
    filters, matches = FILTERS[name]
    if filters is None:
        filters = {"search": keyword}
    expected = sorted(row["id"] for row in written if matches(row))
    got = ids_of(list_all(api, project.id, **filters))
    evidence.note("filters", filters)
    evidence.note("expected", expected)
    evidence.note("got", got)
    assert expected, "test data error: the filter should match something"
    assert len(got) == len(set(got)), f"an item is listed twice: {got}"
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"filter {filters} missed {missing} and wrongly returned {extra}"
    )


WALKS = {
    "created_at-desc": {},
    "created_at-asc": {"sort_order": "asc"},
    "confidence-desc": {"sort_by": "confidence", "sort_order": "desc"},
}


@pytest.mark.check("items.cursor-walk", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("sort", list(WALKS))
def test_cursor_walk(api, project, make_item, evidence, sort):
    """Following next_cursor with limit 4 returns every one of 13 items exactly once, in order.

    Blocking (rule: plan-criterion): cursor pagination is how every client reads a project larger
    than one page; a walk that skips or repeats items loses or duplicates memories. Confidence
    values repeat on purpose, so ties straddle page boundaries.
    """
    written = []
    for index in range(13):
        confidence = [0.5, 0.5, 0.7, 0.9][index % 4]
        written.append(make_item(project.id, content=f"walk {index}", confidence=confidence))
    params = WALKS[sort]
    pages: list[list[dict]] = []
    cursor = None
    for _ in range(10):
        body = expect.json_object(api.list_items(project.id, limit=4, cursor=cursor, **params), 200)
        page = expect.items_of(body, "GET /memory-items")
        pages.append(page)
        assert len(page) <= 4, f"page {len(pages)} has {len(page)} items with limit 4"
        cursor = body.get("next_cursor")
        if not body.get("has_more"):
            assert cursor is None, f"last page still carries next_cursor {cursor!r}"
            break
        assert cursor, f"page {len(pages)} says has_more but has no next_cursor"
    walked = [item for page in pages for item in page]
    got = ids_of(walked)
    evidence.note("page_sizes", [len(page) for page in pages])
    expected = ids_of(written)
    assert len(got) == len(set(got)), f"items repeated across pages: {got}"
    assert set(got) == set(expected), (
        f"walk missed {sorted(set(expected) - set(got))}, extra {sorted(set(got) - set(expected))}"
    )
    assert len(pages) == math.ceil(13 / 4), f"{len(pages)} pages for 13 items at limit 4"
    key = "confidence" if sort.startswith("confidence") else "created_at"
    values = [item.get(key) for item in walked]
    ordered = sorted(values, reverse=sort.endswith("desc"))
    assert values == ordered, f"items not ordered by {sort} across pages: {values}"


@pytest.mark.check("items.count", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_count_matches_writes(api, project, cleanup, evidence):
    """GET /memory-items/count agrees with what was written, overall and per status and type.

    Blocking (rule: plan-criterion): the count feeds the inbox badge and the memory dashboards of
    the plan's monitoring; a count that disagrees with the data misleads both users and operators.
    """
    assert count_of(api, project.id) == 0, "a fresh project already counts items"
    written = _write_mixed(api, cleanup, project, f"kw{uuid.uuid4().hex[:10]}")
    cases = [
        ({}, len(written)),
        ({"status": "candidate"}, sum(row["status"] == "candidate" for row in written)),
        ({"status": "active"}, sum(row["status"] == "active" for row in written)),
        ({"type": "decision"}, sum(row["type"] == "decision" for row in written)),
        (
            {"status": "candidate", "type": "decision"},
            sum(row["status"] == "candidate" and row["type"] == "decision" for row in written),
        ),
    ]
    observed = []
    for filters, expected in cases:
        got = count_of(api, project.id, **filters)
        observed.append({"filters": filters, "expected": expected, "got": got})
    evidence.note("counts", observed)
    wrong = [case for case in observed if case["got"] != case["expected"]]
    assert not wrong, f"count disagrees with the writes: {wrong}"
    listed = len(list_all(api, project.id))
    assert listed == len(written), f"the list has {listed} items, {len(written)} were written"


@pytest.mark.check("items.search", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_search_matches_writes(api, shared_project, cleanup, evidence):
    """GET /memory-items/search finds exactly the written items containing the keyword.

    Blocking (rule: plan-criterion): search is how users find a memory to correct or deprecate;
    a search that misses items leaves wrong memories in every pack. Searched within the project,
    in the keyword's case and in upper case (search is case-insensitive); what a search without
    a project may show is items.search-unscoped-scope's question.
    """
    keyword = f"kw{uuid.uuid4().hex[:10]}"
    written = _write_mixed(api, cleanup, shared_project, keyword)
    expected = sorted(row["id"] for row in written if row["tagged"])
    found = {}
    for label, query in (("scoped", keyword), ("scoped_uppercase", keyword.upper())):
        answer = expect.json_object(api.search_items(query, project_id=shared_project.id), 200)
        found[label] = sorted(ids_of(expect.items_of(answer, "GET /memory-items/search")))
        evidence.note(label, found[label])
    evidence.note("expected", expected)
    for label, ids in found.items():
        assert ids == expected, f"{label} project search found {ids}, expected {expected}"


# share_scope, as SkillMeat documents it (its model: "Cross-project visibility scope"; its CLI:
# "private: caller-owned only. project: shared within the project. global_candidate: candidates
# for universal/persona memory bank"). Only the last may be seen from outside its project.
OUTSIDE_ITS_PROJECT = {"private": False, "project": False, "global_candidate": True}
PROJECTLESS_READS = (
    ("search", "/memory-items/search", "query"),
    ("global", "/memory-items/global", "search"),
)


@pytest.mark.check("items.search-unscoped-scope", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_projectless_search_keeps_project_items(api, shared_project, cleanup, evidence):
    """A search without a project returns no project's private or project-scoped items.

    Blocking (rule: cross-project): share_scope is the item's cross-project visibility
    (SkillMeat's own model and CLI: private is caller-owned only, project is shared within the
    project, global_candidate is the candidate for the universal memory bank). A project-less
    search (GET /memory-items/search without project_id, GET /memory-items/global?search=) that
    returns a private or project item hands one project's memory to callers of any other; only
    global_candidate items may come back. Items with a keyword unique to this check, one per
    scope, are written and the answers judged by id.
    """
    keyword = f"kw{uuid.uuid4().hex[:10]}"
    scope_of = {}
    for scope in OUTSIDE_ITS_PROJECT:
        body = {
            "type": "decision",
            "status": "active",
            "share_scope": scope,
            "content": f"{shared_project.name} {scope} item {keyword}",
        }
        item = expect.json_object(create_item(api, cleanup, shared_project.id, body), 201)
        scope_of[item["id"]] = scope
    evidence.note("written", scope_of)
    exposed = {}
    for label, path, param in PROJECTLESS_READS:
        answer = expect.json_object(api.api("GET", path, params={param: keyword}), 200)
        ids = ids_of(expect.items_of(answer, f"GET {path}"))
        evidence.note(f"{label}_returned", {i: scope_of.get(i, "not ours") for i in ids})
        leaked = sorted(
            scope_of[i] for i in ids if i in scope_of and not OUTSIDE_ITS_PROJECT[scope_of[i]]
        )
        if leaked:
            exposed[f"GET {path}?{param}="] = leaked
    evidence.note("exposed", exposed)
    assert not exposed, (
        "a search without a project returns items of a project whose share_scope keeps them "
        f"inside it: {exposed}"
    )


@pytest.mark.check("items.duplicate-refused", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_duplicate_content_refused(api, project, cleanup, evidence):
    """Writing the same content twice into a project answers 409 and stores nothing new.

    Blocking (rule: effect): duplicate memories fill the pack budget twice with one fact and skew
    confidence; the documented behaviour is a 409.
    """
    body = {"type": "decision", "content": f"{project.name} only once", "status": "active"}
    first = expect.json_object(create_item(api, cleanup, project.id, body), 201)
    second = create_item(api, cleanup, project.id, dict(body))
    evidence.note("second_status", second.status_code)
    expect.status(second, 409, why="the same content is already stored")
    stored = list_all(api, project.id)
    assert ids_of(stored) == [first["id"]], (
        f"after the refused duplicate the project holds {ids_of(stored)}"
    )


@pytest.mark.check("items.duplicate-after-update", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_duplicate_rule_follows_updates(api, shared_project, cleanup, evidence):
    """After an item's content is changed, the duplicate rule follows the new content.

    Blocking (rule: effect): an update answered 200 whose content_hash stays stale is a write
    refused as a duplicate of data it no longer matches (a 409 pointing at an item with
    different content), and the edited content can be stored twice, so packs carry duplicates.
    The content_hash that reads back is noted against the SHA-256 of the content.
    """
    old = f"{shared_project.name} before edit"
    new = f"{shared_project.name} after edit"
    item = expect.json_object(
        create_item(api, cleanup, shared_project.id, {"type": "decision", "content": old}), 201
    )
    updated = expect.json_object(api.update_item(item["id"], {"content": new}), 200)
    evidence.note("content_hash_after_update", updated.get("content_hash"))
    evidence.note("sha256_of_old", hashlib.sha256(old.encode()).hexdigest())
    evidence.note("sha256_of_new", hashlib.sha256(new.encode()).hexdigest())
    recreate_old = create_item(
        api, cleanup, shared_project.id, {"type": "decision", "content": old}
    )
    duplicate_new = create_item(
        api, cleanup, shared_project.id, {"type": "decision", "content": new}
    )
    evidence.note("create_old_content", recreate_old.status_code)
    evidence.note("create_new_content", duplicate_new.status_code)
    expect.status(recreate_old, 201, why="no item holds the old content any more")
    expect.status(duplicate_new, 409, why="the updated item already holds this content")


@pytest.mark.check("items.accepted-boundaries", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_boundary_values_accepted(api, shared_project, cleanup, evidence):
    """Values at the documented limits are stored: confidence 0.0 and 1.0, 10,000-char content.

    Blocking (rule: contract-break): the refusal checks (validation.*) only mean something if valid
    edge values are accepted; refusing them would reject real memories (long transcripts, certain
    facts).
    """
    cases = {
        "confidence-0": {"confidence": 0.0, "content": f"{shared_project.name} zero confidence"},
        "confidence-1": {"confidence": 1.0, "content": f"{shared_project.name} full confidence"},
        "content-10000": {"content": (f"{shared_project.name} long " + "x" * 10000)[:10000]},
    }
    results = {}
    for label, fields in cases.items():
        body = {"type": "learning", "status": "active", **fields}
        response = create_item(api, cleanup, shared_project.id, body)
        results[label] = response.status_code
        if response.status_code == 201:
            stored = expect.json_object(api.get_item(response.json()["id"]), 200)
            for name, value in fields.items():
                assert stored.get(name) == value, f"{label}: {name} read back differently"
    evidence.note("statuses", results)
    refused = {label: code for label, code in results.items() if code != 201}
    assert not refused, f"valid edge values refused: {refused}"
