"""Context packs with the flag ON: budget accounting, eligibility, ordering, markdown, selectors.

A pack is what agents receive. These checks write items whose token cost is known (the API
estimates about a quarter of the characters) and compare the pack with what the documented
rules say it must contain. SkillMeat also adds the collection's global context entities (ids
"entity:...") to every pack; the embedded stack has none, and on a target that has some, the
checks count them as a baseline taken while the project is still empty and compare only the
memory entries.
"""

from __future__ import annotations

import pytest
from memory_support import create_item, entity_baseline, ids_of, pack_memories

from phasegate import expect
from phasegate.outcomes import Inconclusive

ENDPOINTS = ("preview", "generate")


def _pack(api, project_id: str, endpoint: str, body: dict) -> dict:
    call = api.pack_preview if endpoint == "preview" else api.pack_generate
    return expect.json_object(call(project_id, body), 200)


def _sized(project_name: str, label: str, length: int) -> str:
    """Content of exactly `length` characters, unique to the check."""
    head = f"{project_name} {label} "
    return (head + "z" * max(0, length - len(head)))[:length]


@pytest.mark.check("packs.budget-accounting", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_pack_budget_accounting(api, project, make_item, evidence, endpoint):
    """The pack's totals add up: total_tokens <= budget, utilization = total/budget, counts match.

    Blocking (rule: plan-criterion): agents are given packs sized to their context window; a pack
    over budget overflows it and wrong totals break the utilization metric the plan monitors.
    """
    baseline = entity_baseline(api, project.id)
    for index, length in enumerate((120, 400, 800, 1600, 2400, 60)):
        make_item(project.id, content="z" * length, confidence=0.5 + index * 0.05)
    budget = 900
    pack = _pack(api, project.id, endpoint, {"budget_tokens": budget})
    items = expect.items_of(pack, f"pack {endpoint}")
    facts = {
        k: pack.get(k)
        for k in (
            "total_tokens",
            "budget_tokens",
            "utilization",
            "items_included",
            "items_available",
        )
    }
    evidence.note("totals", facts)
    evidence.note("item_tokens", [item.get("tokens") for item in items])
    assert pack.get("budget_tokens") == budget, f"budget_tokens echoed {pack.get('budget_tokens')}"
    total = pack.get("total_tokens")
    assert isinstance(total, int) and 0 < total <= budget, (
        f"total_tokens {total} vs budget {budget}"
    )
    assert total == sum(int(item.get("tokens", 0)) for item in items), (
        "total_tokens is not the sum of the included items' tokens"
    )
    utilization = pack.get("utilization")
    assert isinstance(utilization, float | int), f"utilization is {utilization!r}"
    assert abs(utilization - total / budget) < 1e-9, (
        f"utilization {utilization} != total_tokens/budget_tokens {total / budget}"
    )
    assert pack.get("items_included") == len(items), "items_included is not the number of items"
    assert pack.get("items_available") == 6 + baseline, (
        f"items_available is {pack.get('items_available')}, 6 active items exist"
        + (f" besides {baseline} context entities" if baseline else "")
    )
    for item in items:
        estimate = len(item["content"]) / 4
        assert abs(item["tokens"] - estimate) <= 1, (
            f"item of {len(item['content'])} chars costs {item['tokens']} tokens, "
            "documented as about a quarter of the characters"
        )


@pytest.mark.check("packs.status-eligibility", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_pack_only_active_and_stable(api, project, make_item, evidence):
    """Only active and stable items enter a pack; candidate and deprecated ones never do.

    Blocking (rule: plan-criterion): candidates are unreviewed (often machine-extracted) and
    deprecated items were retired on purpose; either reaching agents defeats the review lifecycle.
    """
    baseline = entity_baseline(api, project.id)
    items = {
        status: make_item(project.id, content=f"eligibility {status}", status=status)
        for status in ("active", "stable", "candidate")
    }
    retired = make_item(project.id, content="eligibility deprecated", status="active")
    expect.json_object(api.deprecate_item(retired["id"]), 200)
    items["deprecated"] = retired
    pack = _pack(api, project.id, "generate", {"budget_tokens": 4000})
    included = ids_of(pack_memories(pack))
    evidence.note("included", included)
    evidence.note("by_status", {status: item["id"] for status, item in items.items()})
    expected = {items["active"]["id"], items["stable"]["id"]}
    assert set(included) == expected, (
        f"pack holds {sorted(included)}, expected exactly the active and stable items"
    )
    assert pack.get("items_available") == 2 + baseline, (
        f"items_available is {pack.get('items_available')}, expected 2 memories"
        + (f" and {baseline} context entities" if baseline else "")
    )
    markdown = expect.reported(pack, "markdown", "pack generate", "what the markdown leaks")
    for status in ("candidate", "deprecated"):
        assert items[status]["content"] not in markdown, (
            f"the {status} item's content is in the markdown"
        )


@pytest.mark.check("packs.confidence-order", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_pack_ordered_by_confidence(api, project, make_item, evidence):
    """Pack items come in descending confidence, whatever order they were written in.

    Blocking (rule: plan-criterion): the budget is filled from the top; if the order is wrong, a
    tight budget keeps doubtful memories and drops certain ones.
    """
    for confidence in (0.55, 0.95, 0.35, 0.75, 0.85, 0.65):
        make_item(project.id, content=f"ordered {confidence}", confidence=confidence)
    pack = _pack(api, project.id, "preview", {"budget_tokens": 4000})
    confidences = [item.get("confidence") for item in expect.items_of(pack, "pack preview")]
    evidence.note("confidences", confidences)
    assert len(pack_memories(pack)) == 6, f"{len(pack_memories(pack))} of 6 items in a roomy pack"
    assert confidences == sorted(confidences, reverse=True), f"not descending: {confidences}"


@pytest.mark.check("packs.markdown", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_pack_markdown_carries_items(api, project, make_item, evidence):
    """The generated markdown carries every included item's content under its type's heading.

    Blocking (rule: plan-criterion): the markdown, not the item list, is what is injected into agent
    prompts; an item counted as included but missing from the text is silently lost.
    """
    for kind in ("decision", "constraint", "gotcha", "style_rule", "learning"):
        make_item(project.id, content=f"markdown {kind}", type=kind, confidence=0.9)
    pack = _pack(api, project.id, "generate", {"budget_tokens": 4000})
    markdown = expect.field(pack, "markdown", "pack generate")
    items = expect.items_of(pack, "pack generate")
    evidence.note("markdown", markdown[:800])
    assert len(pack_memories(pack)) == 5, f"{len(pack_memories(pack))} of 5 active items included"
    missing = [item["id"] for item in items if item["content"] not in markdown]
    assert not missing, f"included items missing from the markdown: {missing}"
    assert markdown.count("\n## ") >= 5, "the markdown does not have a section per memory type"
    assert isinstance(pack.get("generated_at"), str) and pack["generated_at"], "no generated_at"


@pytest.mark.check("packs.module-selectors", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_pack_honours_module_selectors(api, project, make_item, make_module, evidence, endpoint):
    """A pack built for a module holds only the types and confidences its selectors allow.

    Blocking (rule: plan-criterion): modules exist to scope packs (for example only constraints for
    a code-review agent); a selector that is ignored hands agents memories the module was built to
    keep out.
    """
    written = {}
    for kind in ("decision", "gotcha", "learning"):
        for confidence in (0.9, 0.4):
            item = make_item(
                project.id,
                content=f"selector {kind} {confidence}",
                type=kind,
                confidence=confidence,
            )
            written[item["id"]] = (kind, confidence)
    selectors = {"memory_types": ["gotcha", "learning"], "min_confidence": 0.5}
    module = make_module(project.id, selectors=selectors)
    pack = _pack(api, project.id, endpoint, {"module_id": module["id"], "budget_tokens": 4000})
    included = ids_of(pack_memories(pack))
    expected = sorted(
        item_id
        for item_id, (kind, confidence) in written.items()
        if kind in selectors["memory_types"] and confidence >= selectors["min_confidence"]
    )
    evidence.note("included", {i: written.get(i) for i in included})
    assert sorted(included) == expected, (
        f"pack with selectors {selectors} holds {[written.get(i) for i in included]}"
    )


@pytest.mark.check("packs.small-budget", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_small_budget_truncates(api, project, cleanup, evidence):
    """A budget smaller than the items truncates the pack to the most confident items that fit.

    Blocking (rule: plan-criterion): budgets are how a pack is fitted to a small context window; a
    pack that ignores the budget overflows it, one that drops the best items wastes it.
    """
    if entity_baseline(api, project.id):
        raise Inconclusive(
            "the target's global context entities (confidence 1.0) take the small budget first, "
            "so which memories a truncated pack keeps cannot be judged here"
        )
    ranked = []
    for index, confidence in enumerate((0.95, 0.9, 0.85, 0.8, 0.75, 0.7)):
        body = {
            "type": "decision",
            "status": "active",
            "confidence": confidence,
            "content": _sized(project.name, f"budget {index}", 400),  # about 100 tokens
        }
        ranked.append(expect.json_object(create_item(api, cleanup, project.id, body), 201))
    pack = _pack(api, project.id, "generate", {"budget_tokens": 250})
    items = expect.items_of(pack, "pack generate")
    included = ids_of(items)
    evidence.note("included", included)
    evidence.note("total_tokens", pack.get("total_tokens"))
    assert pack.get("total_tokens", 10**9) <= 250, f"total_tokens {pack.get('total_tokens')} > 250"
    assert pack.get("items_available") == 6, f"items_available {pack.get('items_available')}"
    assert included == ids_of(ranked[:2]), (
        f"a 250-token budget over six 100-token items should hold the two most confident, "
        f"got {included}"
    )
    assert all(item["content"] in pack.get("markdown", "") for item in items), (
        "an included item is missing from the truncated pack's markdown"
    )


@pytest.mark.check("packs.budget-refused", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("budget", [99, 100001])
def test_budget_out_of_range_refused(api, shared_project, evidence, endpoint, budget):
    """A budget outside 100..100,000 tokens answers 422.

    Blocking (rule: contract-break): an unchecked budget lets one request build a pack from a whole
    project (or an empty one) and puts unbounded work on the server.
    """
    call = api.pack_preview if endpoint == "preview" else api.pack_generate
    response = call(shared_project.id, {"budget_tokens": budget})
    evidence.note("status", response.status_code)
    expect.status(response, 422, why=f"budget_tokens {budget} is outside 100..100000")


@pytest.mark.check("packs.budget-bounds", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("budget", [100, 100000])
def test_budget_bounds_accepted(api, project, make_item, evidence, budget):
    """The budget's documented limits, 100 and 100,000 tokens, are accepted.

    Blocking (rule: contract-break): the refusal check above is only meaningful if the limits
    themselves work; a client asking for the smallest or largest pack must get one.
    """
    baseline = entity_baseline(api, project.id)
    make_item(project.id, content="bounds item")
    pack = _pack(api, project.id, "preview", {"budget_tokens": budget})
    evidence.note("budget_tokens", pack.get("budget_tokens"))
    evidence.note("context_entities", baseline)
    assert pack.get("budget_tokens") == budget, f"budget_tokens echoed {pack.get('budget_tokens')}"
    if not baseline:  # entities (confidence 1.0) would otherwise compete for a 100-token budget
        assert len(pack_memories(pack)) == 1, f"items_included {pack.get('items_included')}"


@pytest.mark.check("packs.greedy-fill", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_budget_filled_past_an_oversized_item(api, project, cleanup, evidence):
    """An item too large for the budget is skipped and the next items that fit still fill it.

    Blocking (rule: plan-criterion): the phase-2 gate criterion "Context pack generation works
    correctly", and the documented rule is to fill the budget greedily by confidence. Stopping
    at the first item that does not fit leaves the pack under-filled, or empty when the most
    confident memory is long (content may be 10,000 characters, about 2,500 tokens): agents
    with small budgets then get nothing although fitting memories exist.
    """
    if entity_baseline(api, project.id):
        raise Inconclusive("the target's global context entities compete for the budget")
    big = {
        "type": "decision",
        "status": "active",
        "confidence": 0.9,
        "content": _sized(project.name, "oversized", 1200),  # about 300 tokens
    }
    small = {
        "type": "decision",
        "status": "active",
        "confidence": 0.8,
        "content": f"{project.name} small fact",
    }
    expect.json_object(create_item(api, cleanup, project.id, big), 201)
    fitting = expect.json_object(create_item(api, cleanup, project.id, small), 201)
    pack = _pack(api, project.id, "preview", {"budget_tokens": 200})
    included = ids_of(pack_memories(pack))
    evidence.note("included", included)
    evidence.note("items_available", pack.get("items_available"))
    evidence.note("utilization", pack.get("utilization"))
    assert included == [fitting["id"]], (
        f"a 200-token pack over a 300-token item (0.9) and a small item (0.8) holds {included}; "
        "the small item fits and should fill the budget"
    )
