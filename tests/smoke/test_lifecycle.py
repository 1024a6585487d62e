"""The memory lifecycle with the flag ON: promote, deprecate, bulk actions and merges.

Lifecycle status decides what reaches agents (packs draw on active and stable items only), so
each transition is checked on the item as re-read afterwards, not only on the answer.
"""

from __future__ import annotations

import pytest
from memory_support import unknown_id

from phasegate import expect

REFUSAL = (400, 409, 422)


def _status_of(api, item_id: str) -> str:
    return str(expect.json_object(api.get_item(item_id), 200).get("status"))


@pytest.mark.check("lifecycle.promote-chain", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_promote_chain(api, shared_project, make_item, evidence):
    """A candidate is promoted to active, then to stable; each step reads back.

    Blocking (rule: effect): promotion is the review step that lets a memory into context packs; if
    it does not move the item, reviewed memories never reach agents.
    """
    item = make_item(shared_project.id, content="promote me", status="candidate")
    seen = [item["status"]]
    for expected, reason in (("active", None), ("stable", "reviewed by phasegate")):
        promoted = expect.json_object(api.promote_item(item["id"], reason), 200)
        assert promoted.get("status") == expected, (
            f"promote answered status {promoted.get('status')!r}, expected {expected!r}"
        )
        stored = _status_of(api, item["id"])
        seen.append(stored)
        assert stored == expected, f"after promote the item reads {stored!r}, not {expected!r}"
    evidence.note("statuses", seen)


INVALID = {
    "promote-stable": ("stable", "promote"),
    "promote-deprecated": ("deprecated", "promote"),
    "deprecate-deprecated": ("deprecated", "deprecate"),
}


@pytest.mark.check("lifecycle.invalid-transition", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_transition_refused(api, shared_project, make_item, evidence, case):
    """A transition the lifecycle does not allow is refused and leaves the status unchanged.

    Blocking (rule: contract-break): the lifecycle is candidate -> active -> stable, with
    deprecation from any live state; promoting a deprecated memory would put retired knowledge back
    into packs.
    """
    status, action = INVALID[case]
    item = make_item(shared_project.id, content=f"transition {case}", status=status)
    call = api.promote_item if action == "promote" else api.deprecate_item
    response = call(item["id"])
    evidence.note("status_code", response.status_code)
    expect.status(response, *REFUSAL, why=f"{action} from {status} is not a valid transition")
    after = _status_of(api, item["id"])
    assert after == status, f"the refused {action} changed the status {status!r} -> {after!r}"


@pytest.mark.check("lifecycle.deprecate", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_deprecate(api, shared_project, make_item, evidence):
    """Deprecating an active item sets status deprecated and deprecated_at; it stays readable.

    Blocking (rule: effect): deprecation is how users retire a wrong memory; if it does not stick,
    the wrong memory keeps reaching agents.
    """
    item = make_item(shared_project.id, content="deprecate me", status="active")
    answered = expect.json_object(api.deprecate_item(item["id"], "superseded"), 200)
    stored = expect.json_object(api.get_item(item["id"]), 200)
    evidence.note("deprecated_at", stored.get("deprecated_at"))
    assert answered.get("status") == "deprecated", f"deprecate answered {answered.get('status')!r}"
    assert stored.get("status") == "deprecated", f"item reads back {stored.get('status')!r}"
    assert stored.get("deprecated_at"), "deprecated_at is not set"
    assert stored.get("content") == item["content"], "deprecation changed the content"


def _bulk_result(response, where: str) -> tuple[list[str], list[dict]]:
    body = expect.json_object(response, 200)
    succeeded = expect.field(body, "succeeded", where)
    failed = expect.field(body, "failed", where)
    assert isinstance(succeeded, list) and isinstance(failed, list), f"{where}: not lists"
    return [str(x) for x in succeeded], failed


@pytest.mark.check("lifecycle.bulk-promote", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_bulk_promote_partial(api, shared_project, make_item, evidence):
    """Bulk promote moves every promotable item and reports unknown and stable ids in `failed`.

    Blocking (rule: effect): the review inbox promotes in bulk; a partial failure must be reported
    per id, never hidden and never allowed to stop the valid promotions.
    """
    first = make_item(shared_project.id, content="bulk candidate one", status="candidate")
    second = make_item(shared_project.id, content="bulk candidate two", status="candidate")
    active = make_item(shared_project.id, content="bulk active", status="active")
    stable = make_item(shared_project.id, content="bulk stable", status="stable")
    ghost = unknown_id()
    ids = [first["id"], ghost, second["id"], active["id"], stable["id"]]
    succeeded, failed = _bulk_result(api.bulk_promote(ids), "bulk-promote")
    evidence.note("succeeded", succeeded)
    evidence.note("failed", failed)
    expected_ok = {first["id"], second["id"], active["id"]}
    assert set(succeeded) == expected_ok, f"succeeded {succeeded}, expected {sorted(expected_ok)}"
    failed_ids = {str(entry.get("id")) for entry in failed}
    assert failed_ids == {ghost, stable["id"]}, (
        f"failed lists {sorted(failed_ids)}, expected the unknown id and the stable item"
    )
    assert all(entry.get("error") for entry in failed), f"a failure carries no error: {failed}"
    after = {
        key: _status_of(api, item["id"])
        for key, item in (
            ("first", first),
            ("second", second),
            ("active", active),
            ("stable", stable),
        )
    }
    evidence.note("statuses_after", after)
    assert after == {
        "first": "active",
        "second": "active",
        "active": "stable",
        "stable": "stable",
    }, f"statuses after bulk promote: {after}"


@pytest.mark.check("lifecycle.bulk-deprecate", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_bulk_deprecate_partial(api, shared_project, make_item, evidence):
    """Bulk deprecate retires every live item and reports unknown and already-deprecated ids.

    Blocking (rule: effect): bulk deprecation is the clean-up after a bad extraction run; silently
    skipped ids would leave bad memories live.
    """
    one = make_item(shared_project.id, content="retire one", status="active")
    two = make_item(shared_project.id, content="retire two", status="candidate")
    gone = make_item(shared_project.id, content="already retired", status="deprecated")
    ghost = unknown_id()
    succeeded, failed = _bulk_result(
        api.bulk_deprecate([one["id"], ghost, two["id"], gone["id"]]), "bulk-deprecate"
    )
    evidence.note("succeeded", succeeded)
    evidence.note("failed", failed)
    assert set(succeeded) == {one["id"], two["id"]}, f"succeeded {succeeded}"
    failed_ids = {str(entry.get("id")) for entry in failed}
    assert failed_ids == {ghost, gone["id"]}, (
        f"failed lists {sorted(failed_ids)}, expected the unknown id and the deprecated item"
    )
    assert all(entry.get("error") for entry in failed), f"a failure carries no error: {failed}"
    for item in (one, two):
        status = _status_of(api, item["id"])
        assert status == "deprecated", f"{item['id']} reads {status!r} after bulk deprecate"


@pytest.mark.check("lifecycle.merge", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("strategy", ["keep_target", "keep_source", "combine"])
def test_merge(api, shared_project, make_item, evidence, strategy):
    """Each merge strategy gives the target the right content and deprecates the source.

    Blocking (rule: effect): merge is the documented way to resolve near-duplicates. keep_target
    keeps the target's content, keep_source takes the source's, combine takes merged_content; in
    every case the source must be retired (deprecated, not deleted), or both versions keep reaching
    agents.
    """
    source = make_item(shared_project.id, content=f"merge source {strategy}", confidence=0.9)
    target = make_item(shared_project.id, content=f"merge target {strategy}", confidence=0.6)
    merged_content = f"{shared_project.name} merged {strategy}" if strategy == "combine" else None
    response = api.merge_items(source["id"], target["id"], strategy, merged_content)
    evidence.note("status", response.status_code)
    if response.status_code != 200:
        # The state a failed merge left behind is what an operator needs next.
        evidence.note("source_after", api.get_item(source["id"]).json())
        evidence.note("target_after", api.get_item(target["id"]).json())
    body = expect.json_object(response, 200, why=f"strategy {strategy} is documented")
    merged = expect.field(body, "item", "merge answer")
    assert body.get("merged_source_id") == source["id"], (
        f"merged_source_id is {body.get('merged_source_id')!r}, expected the source id"
    )
    assert merged.get("id") == target["id"], "the merge answered another item than the target"
    expected = {
        "keep_target": target["content"],
        "keep_source": source["content"],
        "combine": merged_content,
    }[strategy]
    stored_target = expect.json_object(api.get_item(target["id"]), 200)
    evidence.note("target_content", stored_target.get("content"))
    assert stored_target.get("content") == expected, (
        f"target content after {strategy} is {stored_target.get('content')!r}, "
        f"expected {expected!r}"
    )
    stored_source = expect.json_object(api.get_item(source["id"]), 200, why="source is kept")
    evidence.note("source_status", stored_source.get("status"))
    assert stored_source.get("status") == "deprecated", (
        f"source after merge is {stored_source.get('status')!r}, expected deprecated"
    )
    assert stored_target.get("status") == "active", (
        f"target after merge is {stored_target.get('status')!r}, expected it to stay active"
    )
