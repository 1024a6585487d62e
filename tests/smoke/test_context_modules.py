"""Context modules with the flag ON: CRUD and the links between modules and memory items."""

from __future__ import annotations

import pytest
from memory_support import create_module, ids_of, module_memory_ids

from phasegate import expect


@pytest.mark.check("modules.crud-roundtrip", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_module_crud_roundtrip(api, shared_project, cleanup, evidence):
    """A context module survives create, get, list, update, get, delete; afterwards GET is 404.

    Blocking (rule: plan-criterion): modules are the unit users curate packs with; each CRUD step is
    used by the UI and a broken one leaves modules that cannot be fixed or removed.
    """
    selectors = {
        "memory_types": ["decision", "gotcha"],
        "min_confidence": 0.6,
        "file_patterns": ["src/**/*.py"],
        "workflow_stages": ["review"],
    }
    body = {
        "name": f"{shared_project.name}-module",
        "description": "phasegate round trip",
        "selectors": selectors,
        "priority": 7,
    }
    created = expect.json_object(create_module(api, cleanup, shared_project.id, body), 201)
    module_id = created["id"]
    evidence.note("module_id", module_id)
    fetched = expect.json_object(api.get_module(module_id), 200)
    for name, value in body.items():
        assert fetched.get(name) == value, f"GET shows {name}={fetched.get(name)!r}, sent {value!r}"
    assert fetched.get("project_id") == shared_project.id, "module belongs to another project"
    listing = expect.json_object(api.list_modules(shared_project.id), 200)
    assert module_id in ids_of(expect.items_of(listing, "GET /context-modules")), "not listed"

    update = {"name": f"{shared_project.name}-renamed", "selectors": {"memory_types": ["learning"]}}
    expect.json_object(api.update_module(module_id, update), 200)
    refetched = expect.json_object(api.get_module(module_id), 200)
    for name, value in update.items():
        assert refetched.get(name) == value, (
            f"GET after PUT shows {name}={refetched.get(name)!r}, expected {value!r}"
        )
    assert refetched.get("priority") == 7, "PUT without priority changed the priority"

    expect.status(api.delete_module(module_id), 204)
    for resource in list(cleanup):
        if resource.id == module_id:
            cleanup.forget(resource)
    expect.status(api.get_module(module_id), 404, why="the module was deleted")


@pytest.mark.check("modules.memory-links", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_module_memory_links(api, shared_project, make_item, make_module, evidence):
    """Memory items are linked to a module, listed, and unlinked; unlinking keeps the item.

    Blocking (rule: effect): manual links are how users pin a memory into a module's packs; a link
    that does not stick, or an unlink that deletes the memory, loses curated knowledge.
    """
    module = make_module(shared_project.id, selectors={"memory_types": ["decision"]})
    first = make_item(shared_project.id, content="linked one")
    second = make_item(shared_project.id, content="linked two")
    for item in (first, second):
        expect.json_object(api.link_memory(module["id"], item["id"]), 200)
    linked = module_memory_ids(api, module["id"])
    evidence.note("linked", linked)
    assert sorted(linked) == sorted([first["id"], second["id"]]), f"linked items: {linked}"

    expect.status(api.unlink_memory(module["id"], first["id"]), 204)
    remaining = module_memory_ids(api, module["id"])
    evidence.note("after_unlink", remaining)
    assert remaining == [second["id"]], f"after unlinking one, the module lists {remaining}"
    expect.status(
        api.unlink_memory(module["id"], first["id"]), 404, why="the link no longer exists"
    )
    expect.status(api.get_item(first["id"]), 200, why="unlinking must not delete the memory")
