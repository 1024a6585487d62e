"""Data integrity with the flag ON: what is written reads back; projects do not see each other.

Read-back is checked on all three ways a client reads an item (the create answer, GET by id, and
the project listing). Isolation is checked from project B's side after project A wrote items
carrying a keyword B's queries ask for, so a leak has something to show.
"""

from __future__ import annotations

import uuid

import pytest
from memory_support import (
    count_of,
    create_item,
    create_module,
    ids_of,
    list_all,
    pack_memories,
)

from phasegate import expect


def _read_backs(api, project_id: str, item_id: str, created: dict) -> dict[str, dict]:
    fetched = expect.json_object(api.get_item(item_id), 200)
    listed = {item["id"]: item for item in list_all(api, project_id)}
    assert item_id in listed, f"item {item_id} is not in its project's list"
    return {"create answer": created, "GET": fetched, "list": listed[item_id]}


def _anchor_paths(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [a if isinstance(a, str) else str((a or {}).get("path")) for a in value]


@pytest.mark.check("integrity.field-roundtrip", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_every_field_reads_back(api, shared_project, cleanup, evidence):
    """Every documented field written on create reads back identically through every read path.

    Blocking (rule: effect): memories are facts agents act on; a field that changes on the way
    (content encoding, confidence rounding, status, scope, anchors, provenance) is silent
    corruption. Anchors given as plain paths may come back as objects with that path (the documented
    normalisation); provenance may gain server keys but must keep every key sent.
    """
    content = (
        f"{shared_project.name} Ünïcödé “quotes” 'single' <b>markup</b> \\ back-slash\n"
        "second line\twith tab — emoji 🚀 and SQL ' OR 1=1 --"
    )
    body = {
        "type": "constraint",
        "content": content,
        "confidence": 0.37,
        "status": "stable",
        "share_scope": "private",
        "anchors": ["src/app/main.py", "docs/adr/0001-storage.md"],
        "provenance": {"source": "phasegate", "ticket": "PG-1", "nested": {"list": [1, 2, 3]}},
        "git_branch": "feature/phasegate",
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "session_id": f"session-{shared_project.name}",
        "agent_type": "phasegate-agent",
        "model": "phasegate-model-1",
        "source_type": "manual",
        "ttl_policy": {"max_age_days": 30, "max_idle_days": 7},
    }
    created = expect.json_object(create_item(api, cleanup, shared_project.id, body), 201)
    views = _read_backs(api, shared_project.id, created["id"], created)
    mismatches = []
    for where, view in views.items():
        for name, sent in body.items():
            got = view.get(name)
            if name == "anchors":
                same = _anchor_paths(got) == sent
            elif name == "provenance":
                same = isinstance(got, dict) and all(got.get(k) == v for k, v in sent.items())
            else:
                same = got == sent
            if not same:
                mismatches.append(f"{where}: {name} sent {sent!r}, read {got!r}")
        if view.get("project_id") != shared_project.id:
            mismatches.append(f"{where}: project_id {view.get('project_id')!r}")
    evidence.note("mismatches", mismatches)
    assert not mismatches, "fields changed between write and read: " + "; ".join(mismatches)


@pytest.mark.check("integrity.plan-fields", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_plan_tags_and_metadata_read_back(api, project, cleanup, evidence):
    """The tags and metadata the plan's phase-2 request sends are stored and read back.

    Blocking (rule: effect): the plan's own phase-2 request sends tags and metadata and the API
    answers 201 while dropping them without a word, a 2xx whose effect is not what was sent.
    Anyone filtering or cleaning up by the "rollout-test" tag finds nothing. Tags and metadata
    are not in SkillMeat's documented MemoryItem: the fix is a 422 for unknown fields, or
    storing them.
    """
    body = {
        "type": "decision",
        "content": f"Phase 2 rollout test {project.name}",
        "tags": ["rollout-test"],
        "confidence": 0.9,
        "status": "active",
        "metadata": {"phase": "2"},
    }
    created = expect.json_object(create_item(api, cleanup, project.id, body), 201)
    views = _read_backs(api, project.id, created["id"], created)
    lost = {
        where: {
            name: view.get(name, "<absent>")
            for name in ("tags", "metadata")
            if view.get(name) != body[name]
        }
        for where, view in views.items()
    }
    lost = {where: fields for where, fields in lost.items() if fields}
    evidence.note("lost", lost)
    assert not lost, (
        f"POST answered 201 but tags {body['tags']} / metadata {body['metadata']} read back as "
        f"{lost}"
    )


@pytest.mark.check("integrity.structured-anchors", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_structured_anchors_accepted(api, shared_project, cleanup, evidence):
    """An anchor in the contract's object form (path, type, lines, description) is stored as sent.

    Blocking (rule: contract-break): the target's own OpenAPI advertises anchors as objects with
    line ranges; refusing that documented valid input fails every client that follows the
    contract (plain path strings still work, but anchor-based selectors lose line precision).
    """
    anchor = {
        "path": "src/app/main.py",
        "type": "code",
        "line_start": 3,
        "line_end": 9,
        "description": "entry point",
    }
    body = {
        "type": "gotcha",
        "content": f"{shared_project.name} anchored gotcha",
        "status": "active",
        "anchors": [anchor],
    }
    response = create_item(api, cleanup, shared_project.id, body)
    evidence.note("status", response.status_code)
    created = expect.json_object(response, 201, why="anchors in the documented object form")
    stored = expect.json_object(api.get_item(created["id"]), 200)
    anchors = stored.get("anchors") or []
    evidence.note("anchors", anchors)
    assert len(anchors) == 1 and isinstance(anchors[0], dict), f"anchors read back {anchors!r}"
    changed = {k: anchors[0].get(k) for k, v in anchor.items() if anchors[0].get(k) != v}
    assert not changed, f"anchor fields read back differently: {changed}"


def _two_projects(api, cleanup, make_project, make_item):
    """Project A with items carrying a keyword; project B with one item of its own."""
    keyword = f"kw{uuid.uuid4().hex[:10]}"
    a = make_project("iso-a")
    b = make_project("iso-b")
    a_items = [
        make_item(a.id, content=f"secret of A {keyword}", status="active", confidence=0.99),
        make_item(a.id, content=f"stable of A {keyword}", status="stable", type="gotcha"),
    ]
    b_item = make_item(b.id, content=f"own item of B {keyword}", status="active")
    return keyword, a, b, a_items, b_item


CHANNELS = ("list", "count", "search", "pack")


@pytest.mark.check("integrity.isolation", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("channel", CHANNELS)
def test_project_isolation(api, cleanup, make_project, make_item, evidence, channel):
    """Nothing project A wrote is visible through project B's list, count, search or pack.

    Blocking (rule: cross-project): projects are the isolation unit of the feature; a memory of one
    codebase (its secrets, its conventions) showing up in another's pack is both a leak and wrong
    guidance.
    """
    keyword, _a, b, a_items, b_item = _two_projects(api, cleanup, make_project, make_item)
    a_ids = set(ids_of(a_items))
    if channel == "list":
        seen = ids_of(list_all(api, b.id)) + ids_of(list_all(api, b.id, search=keyword))
        evidence.note("b_list", seen)
        assert not a_ids & set(seen), f"B's listing shows A's items {sorted(a_ids & set(seen))}"
        assert b_item["id"] in seen, "B's own item is missing from B's listing"
    elif channel == "count":
        counts = {
            "all": count_of(api, b.id),
            "active": count_of(api, b.id, status="active"),
            "stable": count_of(api, b.id, status="stable"),
        }
        evidence.note("b_counts", counts)
        assert counts == {"all": 1, "active": 1, "stable": 0}, f"B's counts include A: {counts}"
    elif channel == "search":
        found = expect.json_object(api.search_items(keyword, project_id=b.id), 200)
        seen = ids_of(expect.items_of(found, "GET /memory-items/search"))
        evidence.note("b_search", seen)
        assert seen == [b_item["id"]], f"B's search for the shared keyword returned {seen}"
    else:
        pack = expect.json_object(api.pack_generate(b.id, {"budget_tokens": 4000}), 200)
        seen = ids_of(pack_memories(pack))
        evidence.note("b_pack", seen)
        assert seen == [b_item["id"]], f"B's pack holds {seen}"
        markdown = expect.reported(pack, "markdown", "B's pack", "whether A's content leaks")
        leaked = [i["content"] for i in a_items if i["content"] in markdown]
        assert not leaked, f"A's content is in B's pack markdown: {leaked}"


@pytest.mark.check("integrity.isolation-module-link", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_module_link_cannot_import_foreign_item(
    api, cleanup, make_project, make_item, make_module, evidence
):
    """Project A's memory cannot be pulled into project B's pack through B's context module.

    Blocking (rule: cross-project): a module link is a manual pin that bypasses selectors; if it
    accepts another project's item, B's agents receive A's memory (the isolation failure
    integrity.isolation guards against, by another road). The link itself should be refused.
    """
    _, _a, b, a_items, _b_item = _two_projects(api, cleanup, make_project, make_item)
    module = make_module(b.id, selectors={"memory_types": ["decision", "gotcha"]})
    link = api.link_memory(module["id"], a_items[0]["id"])
    evidence.note("link_status", link.status_code)
    pack = expect.json_object(
        api.pack_generate(b.id, {"module_id": module["id"], "budget_tokens": 4000}), 200
    )
    seen = ids_of(pack_memories(pack))
    evidence.note("b_module_pack", seen)
    assert a_items[0]["id"] not in seen, (
        f"project B's pack (module {module['id']}) contains project A's item "
        f"{a_items[0]['id']} after the link answered {link.status_code}"
    )
    expect.status(link, 400, 404, 409, 422, why="the item belongs to another project")


@pytest.mark.check("integrity.duplicate-no-leak", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_duplicate_answer_does_not_reveal_other_project(api, cleanup, make_project, evidence):
    """Writing to project B content that project A already holds does not reveal A's item.

    Blocking (rule: cross-project): an error body that names another project's item, project or
    session is a cross-project disclosure. The 409's existing_item hands a caller working in B
    the id, project, provenance and session of A's memory, which the caller may then edit or
    delete believing it is B's. (That unscoped search also returns A's project-scoped items is
    no excuse: it is a finding of its own, items.search-unscoped-scope.)
    """
    a = make_project("dup-a")
    b = make_project("dup-b")
    body = {
        "type": "decision",
        "content": f"{a.name} shared fact",
        "status": "active",
        "session_id": f"session-of-{a.name}",
    }
    first = expect.json_object(create_item(api, cleanup, a.id, body), 201)
    second = create_item(api, cleanup, b.id, {"type": "decision", "content": body["content"]})
    evidence.note("b_status", second.status_code)
    text = second.text
    revealed = [
        label
        for label, value in (
            ("A's item id", first["id"]),
            ("A's project id", a.id),
            ("A's session", body["session_id"]),
        )
        if value in text
    ]
    evidence.note("revealed", revealed)
    assert not revealed, (
        f"the answer to a write in project B ({second.status_code}) reveals {revealed}"
    )


@pytest.mark.check("integrity.module-read-back", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_module_fields_read_back(api, shared_project, cleanup, evidence):
    """A context module's name, description, selectors and priority read back through GET and list.

    Blocking (rule: effect): selectors decide which memories a module's packs contain; a selector
    that changes on the way (a dropped key, a rounded confidence) silently changes every pack built
    from it.
    """
    body = {
        "name": f"{shared_project.name} Ünïcödé module — “quoted”",
        "description": "line one\nline two\twith tab 🚀",
        "selectors": {
            "memory_types": ["constraint", "style_rule"],
            "min_confidence": 0.33,
            "file_patterns": ["src/**/*.ts", "*.md"],
            "workflow_stages": ["planning", "review"],
        },
        "priority": 42,
    }
    created = expect.json_object(create_module(api, cleanup, shared_project.id, body), 201)
    fetched = expect.json_object(api.get_module(created["id"]), 200)
    listing = expect.json_object(api.list_modules(shared_project.id), 200)
    listed = {m["id"]: m for m in expect.items_of(listing, "GET /context-modules")}
    assert created["id"] in listed, "module missing from its project's list"
    mismatches = [
        f"{where}: {name} sent {value!r}, read {view.get(name)!r}"
        for where, view in (
            ("create answer", created),
            ("GET", fetched),
            ("list", listed[created["id"]]),
        )
        for name, value in body.items()
        if view.get(name) != value
    ]
    evidence.note("mismatches", mismatches)
    assert not mismatches, "module fields changed: " + "; ".join(mismatches)
