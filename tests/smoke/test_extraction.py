"""Memory extraction with the flag ON: preview writes nothing, apply writes reviewable candidates.

Extraction turns a session transcript into memories without a person in the loop, so the two
promises that keep it safe are checked on the stored data: a preview stores nothing, and what
apply stores waits as a candidate (outside every pack) until someone promotes it. Every sentence
carries the check's unique project name, so the corpus is new to the server on every run.
"""

from __future__ import annotations

import pytest
from memory_support import count_of, ids_of, list_all, register_items

from phasegate import expect


def _corpus(name: str) -> str:
    return "\n".join(
        [
            f"We decided to use PostgreSQL for the {name} service because of JSONB support.",
            f"Gotcha: the {name} build fails when NODE_ENV is unset.",
            f"Learned that uv installs the {name} dependencies much faster than pip.",
            f"Always run ruff before committing changes to {name}.",
        ]
    )


@pytest.mark.check("extraction.preview-persists-nothing", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_preview_persists_nothing(api, project, make_item, evidence):
    """Extraction preview proposes candidates and stores none of them.

    Blocking (rule: effect): preview is documented as read-only; users preview transcripts to decide
    whether to extract at all, and a preview that writes fills projects with unreviewed memories.
    """
    existing = make_item(project.id, content="already known")
    before = count_of(api, project.id)
    response = api.extract_preview(project.id, _corpus(project.name))
    body = expect.json_object(response, 200)
    candidates = expect.field(body, "candidates", "extract preview")
    evidence.note("total_candidates", body.get("total_candidates"))
    evidence.note("candidates", [c.get("content") for c in candidates][:6])
    assert isinstance(candidates, list) and candidates, (
        "the preview proposed no candidate for four explicit decision/gotcha/learning sentences, "
        "so it cannot show it stores nothing"
    )
    after = count_of(api, project.id, status="candidate")
    total_after = count_of(api, project.id)
    listed = ids_of(list_all(api, project.id))
    evidence.note("count_before", before)
    evidence.note("count_after", total_after)
    assert total_after == before, f"the preview changed the count {before} -> {total_after}"
    assert after == 0, f"{after} candidate items appeared after a preview"
    assert listed == [existing["id"]], f"the project lists {listed} after a preview"


@pytest.mark.check("extraction.apply-creates-candidates", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_apply_creates_candidates(api, project, evidence, cleanup):
    """Extraction apply stores its findings as candidates of the project, kept out of packs.

    Blocking (rule: effect): extracted memories are machine-made; the plan's safety net is that they
    wait as candidates for review. An extraction that stored active items would feed unreviewed text
    to every agent.
    """
    before = count_of(api, project.id)
    response = api.extract_apply(project.id, _corpus(project.name))
    created_raw = []
    if response.status_code == 200:
        created_raw = response.json().get("created") or []
    created_ids = register_items(cleanup, project.id, created_raw)  # cleaned up whatever follows
    body = expect.json_object(response, 200)
    evidence.note("created", [(i.get("type"), i.get("status")) for i in created_raw])
    evidence.note("preview_total", body.get("preview_total"))
    assert created_ids, "apply created nothing from four explicit sentences"
    wrong = {i.get("id"): i.get("status") for i in created_raw if i.get("status") != "candidate"}
    assert not wrong, f"extracted items stored with a status other than candidate: {wrong}"
    foreign = [i.get("id") for i in created_raw if i.get("project_id") != project.id]
    assert not foreign, f"extracted items stored under another project: {foreign}"
    after = count_of(api, project.id)
    assert after == before + len(created_ids), (
        f"count went {before} -> {after} for {len(created_ids)} created items"
    )
    stored = {item["id"]: item.get("status") for item in list_all(api, project.id)}
    assert all(stored.get(i) == "candidate" for i in created_ids), (
        f"stored statuses of the extracted items: {stored}"
    )
    pack = expect.json_object(api.pack_preview(project.id, {"budget_tokens": 4000}), 200)
    leaked = set(ids_of(expect.items_of(pack, "pack preview"))) & set(created_ids)
    assert not leaked, f"unreviewed extracted items are in the pack: {sorted(leaked)}"


@pytest.mark.check("extraction.reapply-skips-duplicates", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_reapply_skips_duplicates(api, project, evidence, cleanup):
    """Applying the same transcript twice stores its memories once and reports the rest as skipped.

    Blocking (rule: effect): transcripts are re-processed (retries, overlapping sessions); an apply
    that stores the same memory twice multiplies it in review queues and, once promoted, in packs.
    """
    corpus = _corpus(project.name)
    first = api.extract_apply(project.id, corpus)
    if first.status_code == 200:
        register_items(cleanup, project.id, first.json().get("created") or [])
    first_body = expect.json_object(first, 200)
    second = api.extract_apply(project.id, corpus)
    if second.status_code == 200:
        register_items(cleanup, project.id, second.json().get("created") or [])
    second_body = expect.json_object(second, 200)
    created_first = first_body.get("created") or []
    created_second = second_body.get("created") or []
    skipped = second_body.get("skipped_duplicates") or []
    evidence.note("created_first", len(created_first))
    evidence.note("created_second", len(created_second))
    evidence.note("skipped_second", len(skipped))
    assert created_first, "the first apply created nothing, so duplicates cannot be judged"
    assert created_second == [], f"the second apply stored {len(created_second)} items again"
    assert len(skipped) == len(created_first), (
        f"the second apply skipped {len(skipped)}, expected {len(created_first)}"
    )
    assert count_of(api, project.id) == len(created_first), "the project holds extra items"
