"""The staging smoke script's memory checks (steps 4-9 of plan-smoke-checks.md), flag ON.

The script greps its way through these steps and sends the plan's request shapes; here every
step sends what 0.74.0 really takes (`project_id` as a query parameter), parses the JSON, and
cleans up whatever it wrote, whatever happens. Steps share a project where they read back only
what they wrote; a step that packs the project, or writes the plan's item body again (SkillMeat
refuses the same content twice), has a project of its own.
"""

from __future__ import annotations

import re

import pytest
from memory_support import create_item, create_module, ids_of, list_all

from phasegate import expect

HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def _staging_body(project_name: str) -> dict[str, object]:
    # The plan's phase-2 step 2 body, minus project_id (a query parameter on 0.74.0).
    return {
        "type": "decision",
        "content": f"Phase 2 rollout test {project_name}",
        "tags": ["rollout-test"],
        "confidence": 0.95,
        "status": "active",
        "metadata": {"phase": "2"},
    }


@pytest.mark.check("staging.memory-create", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_staging_create_memory_item(api, shared_project, cleanup, evidence):
    """Creating a decision (confidence 0.95, active, with tags and metadata) answers 201 with an id.

    Blocking (rule: plan-criterion): staging-script step 4 and the plan's own phase-2 step 2; if the
    feature cannot store the plan's first memory, nothing else of the rollout can be exercised.
    (Whether tags and metadata survive is judged by integrity.plan-fields.)
    """
    body = _staging_body(shared_project.name)
    item = expect.json_object(create_item(api, cleanup, shared_project.id, body), 201)
    item_id = expect.field(item, "id", "created memory item")
    evidence.note("item_id", item_id)
    assert isinstance(item_id, str) and HEX_ID.match(item_id), f"id {item_id!r} is not 32 hex"
    for name in ("type", "confidence", "status", "content"):
        assert item.get(name) == body[name], (
            f"created item's {name} is {item.get(name)!r}, sent {body[name]!r}"
        )
    assert item.get("project_id") == shared_project.id, (
        f"created item belongs to {item.get('project_id')!r}, not {shared_project.id!r}"
    )


@pytest.mark.check("staging.memory-listed", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_staging_list_contains_item(api, project, cleanup, evidence):
    """Listing the project's memory items contains the item just created.

    Blocking (rule: plan-criterion): staging-script step 5; a write that a read cannot find is lost
    to every user.
    """
    item = expect.json_object(
        create_item(api, cleanup, project.id, _staging_body(project.name)), 201
    )
    listed = ids_of(list_all(api, project.id))
    evidence.note("listed", listed)
    assert item["id"] in listed, f"item {item['id']} missing from the project's list {listed}"


@pytest.mark.check("staging.module-create", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_staging_create_module(api, shared_project, cleanup, evidence):
    """Creating a context module with selectors answers 201 and keeps the selectors.

    Blocking (rule: plan-criterion): staging-script step 6; modules are how packs are scoped, and
    selectors that are not stored would silently widen every pack built from the module.
    """
    selectors = {"memory_types": ["decision", "constraint"], "min_confidence": 0.7}
    body = {"name": f"{shared_project.name}-staging-module", "selectors": selectors, "priority": 5}
    module = expect.json_object(create_module(api, cleanup, shared_project.id, body), 201)
    evidence.note("module_id", module.get("id"))
    evidence.note("selectors", module.get("selectors"))
    assert isinstance(module.get("id"), str) and module["id"], "created module has no id"
    assert module.get("selectors") == selectors, (
        f"module selectors read back as {module.get('selectors')!r}, sent {selectors!r}"
    )


@pytest.mark.check("staging.module-listed", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_staging_list_contains_module(api, shared_project, cleanup, evidence):
    """Listing the project's context modules contains the module just created.

    Blocking (rule: plan-criterion): staging-script step 7; a module nobody can list cannot be
    chosen for a pack.
    """
    body = {
        "name": f"{shared_project.name}-listed-module",
        "selectors": {"memory_types": ["decision"]},
    }
    module = expect.json_object(create_module(api, cleanup, shared_project.id, body), 201)
    listing = expect.json_object(api.list_modules(shared_project.id), 200)
    listed = ids_of(expect.items_of(listing, "GET /context-modules"))
    evidence.note("listed", listed)
    assert module["id"] in listed, f"module {module['id']} missing from the list {listed}"


@pytest.mark.check("staging.pack-preview", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_staging_pack_preview(api, project, cleanup, evidence):
    """A context-pack preview with a 4,000-token budget answers 200 and reports items_available.

    Blocking (rule: plan-criterion): staging-script step 8 and the plan's phase-2 step 2; pack
    generation is the feature's output. With one active item stored, items_available must count it.
    """
    item = expect.json_object(
        create_item(api, cleanup, project.id, _staging_body(project.name)), 201
    )
    pack = expect.json_object(api.pack_preview(project.id, {"budget_tokens": 4000}), 200)
    available = expect.field(pack, "items_available", "pack preview")
    evidence.note("items_available", available)
    evidence.note("budget_tokens", pack.get("budget_tokens"))
    assert isinstance(available, int), f"items_available is {available!r}, not an integer"
    assert available >= 1, "items_available is 0 although an active item exists"
    assert pack.get("budget_tokens") == 4000, f"budget_tokens echoed {pack.get('budget_tokens')!r}"
    assert item["id"] in ids_of(expect.items_of(pack, "pack preview")), (
        "the project's only active item is not in the preview"
    )


@pytest.mark.check("staging.pack-generate", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_staging_pack_generate(api, project, cleanup, evidence):
    """Context-pack generation answers 200 with non-trivial markdown carrying the stored memory.

    Blocking (rule: plan-criterion): staging-script step 9; the markdown is what agents receive.
    "Non-trivial" here means more than the empty-pack placeholder: a heading and the active item's
    content.
    """
    item = expect.json_object(
        create_item(api, cleanup, project.id, _staging_body(project.name)), 201
    )
    pack = expect.json_object(api.pack_generate(project.id, {"budget_tokens": 4000}), 200)
    markdown = expect.field(pack, "markdown", "pack generate")
    evidence.note("markdown", markdown[:500] if isinstance(markdown, str) else markdown)
    evidence.note("pack_id", pack.get("pack_id"))
    assert isinstance(markdown, str), f"markdown is {type(markdown).__name__}, not a string"
    assert markdown.lstrip().startswith("#"), "markdown does not start with a heading"
    assert item["content"] in markdown, "the active item's content is not in the markdown"
