"""Refusals with the flag ON: invalid bodies answer 422, unknown ids answer 404.

A refusal check is only worth something if it also proves nothing was stored, so each write
refusal re-reads the project afterwards (items.accepted-boundaries proves valid edge values
pass, so these cannot pass by refusing everything).
"""

from __future__ import annotations

import base64

import pytest
from memory_support import count_of, create_item, create_module, list_all, unknown_id

from phasegate import expect

CREATE_CASES = {
    "bad-type": ("type", {"type": "opinion"}),
    "bad-status": ("status", {"status": "archived"}),
    "bad-share-scope": ("share_scope", {"share_scope": "public"}),
    "confidence-above-1": ("confidence", {"confidence": 1.01}),
    "confidence-below-0": ("confidence", {"confidence": -0.01}),
    "empty-content": ("content", {"content": ""}),
    "content-over-10000": ("content", {"content": None}),  # filled per project below
}


def _loc_names(body: dict) -> list[str]:
    detail = body.get("detail")
    if not isinstance(detail, list):
        return []
    return [str(entry.get("loc", [])[-1]) for entry in detail if isinstance(entry, dict)]


@pytest.mark.check("validation.create-refused", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("case", list(CREATE_CASES))
def test_invalid_create_refused(api, project, cleanup, evidence, case):
    """Creating a memory item with an invalid field answers 422 naming the field; nothing is stored.

    Blocking (rule: contract-break): the packer trusts type, status and confidence; a memory with an
    unknown type or a confidence outside 0..1 would be mis-ranked or dropped from every pack, and
    content over the 10,000-character limit breaks the token budget.
    """
    field_name, fields = CREATE_CASES[case]
    body = {
        "type": "decision",
        "status": "active",
        "confidence": 0.5,
        "content": f"{project.name} invalid {case}",
        **fields,
    }
    if case == "content-over-10000":
        body["content"] = (f"{project.name} " + "y" * 10001)[:10001]
    response = create_item(api, cleanup, project.id, body)
    evidence.note("status", response.status_code)
    refusal = expect.json_object(response, 422, why=f"{case} is invalid")
    named = _loc_names(refusal)
    evidence.note("fields_named", named)
    assert field_name in named, f"the 422 names {named}, not {field_name!r}"
    assert count_of(api, project.id) == 0, "the refused item was stored anyway"


UPDATE_CASES = {
    "bad-type": ("type", {"type": "opinion"}),
    "confidence-above-1": ("confidence", {"confidence": 1.5}),
    "empty-content": ("content", {"content": ""}),
}


@pytest.mark.check("validation.update-refused", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("case", list(UPDATE_CASES))
def test_invalid_update_refused(api, shared_project, make_item, evidence, case):
    """Updating a memory item with an invalid field answers 422 and leaves the item unchanged.

    Blocking (rule: contract-break): an update path that skips validation lets the invalid values
    the create path refuses into the store through the back door.
    """
    field_name, fields = UPDATE_CASES[case]
    item = make_item(shared_project.id, content=f"update target {case}", confidence=0.5)
    response = api.update_item(item["id"], fields)
    evidence.note("status", response.status_code)
    refusal = expect.json_object(response, 422, why=f"{case} is invalid")
    assert field_name in _loc_names(refusal), f"the 422 does not name {field_name!r}"
    after = expect.json_object(api.get_item(item["id"]), 200)
    for name in ("type", "confidence", "content"):
        assert after.get(name) == item.get(name), (
            f"refused update changed {name}: {item.get(name)!r} -> {after.get(name)!r}"
        )


MODULE_CASES = {
    "empty-name": ("name", {"name": ""}),
    "priority-over-100": ("priority", {"priority": 101}),
}


@pytest.mark.check("validation.module-refused", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("case", list(MODULE_CASES))
def test_invalid_module_refused(api, project, cleanup, evidence, case):
    """Creating a context module with an invalid field answers 422; no module is stored.

    Blocking (rule: contract-break): modules scope packs; a nameless or out-of-range module cannot
    be chosen or ordered correctly by the UI.
    """
    field_name, fields = MODULE_CASES[case]
    body = {"name": f"{project.name}-module", "selectors": {"memory_types": ["decision"]}, **fields}
    response = create_module(api, cleanup, project.id, body)
    evidence.note("status", response.status_code)
    refusal = expect.json_object(response, 422, why=f"{case} is invalid")
    assert field_name in _loc_names(refusal), f"the 422 does not name {field_name!r}"
    listing = expect.json_object(api.list_modules(project.id), 200)
    assert expect.items_of(listing, "GET /context-modules") == [], "the refused module was stored"


@pytest.mark.check("validation.unknown-project", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_unknown_project_refused(api, cleanup, target, evidence):
    """Writing a memory item to a project that does not exist is refused (400) and stores nothing.

    Blocking (rule: contract-break): memories written to a non-existent project are unreachable
    through any project view and never deleted with a project. The documented answer is 400.
    """
    name = f"{target.run_id}-ghost-{unknown_id()}"
    ghost = base64.b64encode(f"/tmp/phasegate-projects/{name}".encode()).decode()
    body = {"type": "decision", "content": f"{name} ghost write"}
    response = create_item(api, cleanup, ghost, body)
    evidence.note("status", response.status_code)
    expect.status(response, 400, why="the project does not exist")
    assert list_all(api, ghost) == [], "items are listed under the non-existent project"


def _unknown_item_call(api, verb):
    target = unknown_id()
    calls = {
        "item-get": lambda: api.get_item(target),
        "item-put": lambda: api.update_item(target, {"confidence": 0.3}),
        "item-delete": lambda: api.delete_item(target),
        "item-promote": lambda: api.promote_item(target),
        "item-deprecate": lambda: api.deprecate_item(target),
        "module-get": lambda: api.get_module(target),
        "module-put": lambda: api.update_module(target, {"name": "ghost"}),
        "module-delete": lambda: api.delete_module(target),
    }
    return target, calls[verb]()


@pytest.mark.check("validation.unknown-id")
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("verb", ["item-get", "module-get"])
def test_unknown_id_read_answers_404(api, evidence, verb):
    """Reading a memory item or context module id that does not exist answers 404.

    Blocking (rule: contract-break): clients tell "gone" from "failed" by the 404; a 200 would
    invent data and a 5xx would count against the error-rate gate. (Read-only, so it also runs with
    --writes=deny.)
    """
    target, response = _unknown_item_call(api, verb)
    evidence.note("id", target)
    evidence.note("status", response.status_code)
    expect.status(response, 404, why="no resource has this id")


@pytest.mark.check("validation.unknown-id", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize(
    "verb",
    ["item-put", "item-delete", "item-promote", "item-deprecate", "module-put", "module-delete"],
)
def test_unknown_id_write_answers_404(api, evidence, verb):
    """Changing or deleting a memory item or context module id that does not exist answers 404.

    Blocking (rule: contract-break): clients (and this suite's own cleanup) tell "already gone" from
    "failed" by the 404; a 200 would fake success and a 5xx would count against the error-rate gate.
    """
    target, response = _unknown_item_call(api, verb)
    evidence.note("id", target)
    evidence.note("status", response.status_code)
    expect.status(response, 404, why="no resource has this id")
