"""The memory lifecycle with the flag ON: promote, deprecate, bulk actions and merges.

Lifecycle status decides what reaches agents (packs draw on active and stable items only), so
each transition is checked on the item as re-read afterwards, not only on the answer.
"""

from __future__ import annotations

import uuid

import pytest
from memory_support import create_item, unknown_id

from phasegate import expect
from phasegate.contract import SchemaUnavailable, load_schema
from phasegate.lifecycle import (
    NEW,
    Cell,
    Lifecycle,
    LifecycleUnknown,
    Way,
    judge,
    lifecycle_from_openapi,
)
from phasegate.outcomes import Inconclusive, conclude
from phasegate.pacing import Pacer

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


# -- the lifecycle as a state machine (issue #11, part 3) ----------------------------------------

# Item creations these checks may send to one project within the limiter's window: the shared
# project's headroom (shared_projects.HEADROOM) below phasegate's own budget.
CREATE_BUDGET = 10
OUTSIDE_ENUM = "archived"  # a status no enum documents: no write path may store it


@pytest.fixture(scope="session")
def lifecycle_doc(client_config, settings) -> Lifecycle:
    """The lifecycle as the target documents it in its own OpenAPI, read once per process."""
    try:
        document = load_schema(client_config, settings.contract_schema).raw
        return lifecycle_from_openapi(document)
    except (SchemaUnavailable, LifecycleUnknown) as exc:
        raise Inconclusive(f"the target's OpenAPI does not document the lifecycle: {exc}") from None


class Driver:
    """Items driven into each state by the lifecycle endpoints themselves, reused while a tried
    way leaves them where they were (a refused or no-op cell), replaced when it moved them."""

    def __init__(self, api, cleanup, project, lifecycle: Lifecycle, pacer: Pacer) -> None:
        self.api, self.cleanup, self.project = api, cleanup, project
        self.lifecycle, self.pacer = lifecycle, pacer
        self.spare: dict[str, str] = {}

    def create(self, status: str | None) -> tuple[int, dict | None]:
        """POST one item (paced: the create is the one request shape repeated here)."""
        self.pacer.wait_for_slot()
        body: dict = {
            "type": "learning",
            "confidence": 0.7,
            "content": f"{self.project.name} lifecycle {uuid.uuid4().hex[:12]}",
        }
        if status is not None:
            body["status"] = status
        response = create_item(self.api, self.cleanup, self.project.id, body)
        created = response.json() if response.status_code in (200, 201) else None
        return response.status_code, created if isinstance(created, dict) else None

    def item_in(self, state: str) -> str:
        if state in self.spare:
            return self.spare.pop(state)
        code, item = self.create(None)
        if item is None:
            raise Inconclusive(f"setup: creating an item answered {code}")
        item_id, now = str(item["id"]), str(item.get("status"))
        if now != self.lifecycle.initial:
            raise Inconclusive(
                f"setup: a new item starts {now!r}, not the documented {self.lifecycle.initial!r}"
            )
        while now != state:
            nxt = self.lifecycle.promote.get(now)
            if state == self.lifecycle.deprecated or nxt is None:
                response, nxt = self.api.deprecate_item(item_id), self.lifecycle.deprecated
            else:
                response = self.api.promote_item(item_id)
            got = response.json().get("status") if response.status_code == 200 else None
            if got != nxt:
                raise Inconclusive(
                    f"setup: cannot drive an item into {state!r} by the lifecycle endpoints: "
                    f"{now} -> {nxt} answered {response.status_code} {response.text[:200]}"
                )
            now = nxt
        return item_id

    def keep(self, state: str, item_id: str, got_state: str | None) -> None:
        """Reuse an item the cell left in the state it had."""
        if got_state == state and state not in self.spare:
            self.spare[state] = item_id

    def state_of(self, item_id: str) -> str | None:
        response = self.api.get_item(item_id)
        if response.status_code != 200:
            return None
        return str(response.json().get("status"))


def _bulk_accepted(response, item_id: str) -> bool | None:
    if response.status_code != 200:
        return False if 400 <= response.status_code < 500 else None
    body = response.json()
    if item_id in [str(x) for x in body.get("succeeded") or []]:
        return True
    if item_id in [str(f.get("id")) for f in body.get("failed") or [] if isinstance(f, dict)]:
        return False
    return None


def _try(driver: Driver, way: Way, state: str, requested: str | None, merge_into: str) -> Cell:
    """Drive an item into `state`, try `way` once, re-read where it ended."""
    api, lifecycle = driver.api, driver.lifecycle
    expected = lifecycle.expect(way, state, requested)
    item_id = driver.item_in(state)
    if way is Way.PROMOTE:
        response = api.promote_item(item_id, "phasegate state machine")
    elif way is Way.DEPRECATE:
        response = api.deprecate_item(item_id, "phasegate state machine")
    elif way is Way.PUT:
        response = api.update_item(item_id, {"status": requested})
    elif way is Way.MERGE_SOURCE:
        response = api.merge_items(item_id, merge_into, "keep_target")
    else:
        call = api.bulk_promote if way is Way.BULK_PROMOTE else api.bulk_deprecate
        response = call([item_id])
    if way in (Way.BULK_PROMOTE, Way.BULK_DEPRECATE):
        accepted = _bulk_accepted(response, item_id)
    else:
        accepted = 200 <= response.status_code < 300 if response.status_code < 500 else None
    got = driver.state_of(item_id)
    driver.keep(state, item_id, got)
    return Cell(state, way, requested, expected, response.status_code, accepted, got)


def _try_create(driver: Driver, requested: str) -> Cell:
    code, item = driver.create(requested)
    got = driver.state_of(str(item["id"])) if item is not None else NEW
    accepted = 200 <= code < 300 if code < 500 else None
    expected = driver.lifecycle.expect(Way.CREATE, NEW, requested)
    return Cell(NEW, Way.CREATE, requested, expected, code, accepted, got)


@pytest.fixture
def driver(api, cleanup, shared_project, lifecycle_doc, tmp_path) -> Driver:
    return Driver(
        api, cleanup, shared_project, lifecycle_doc, Pacer(tmp_path / "pace", CREATE_BUDGET)
    )


@pytest.mark.check("lifecycle.state-machine", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_state_machine(driver, evidence):
    """Every status times promote and deprecate ends as the target's own OpenAPI documents.

    Blocking (rule: effect; server-error for a 5xx): the lifecycle endpoints are the reference
    every other write path is judged against; a refused documented transition or an accepted
    undocumented one changes which memories reach agents. A refusal with a 4xx the operation
    does not document only warns (rule: undocumented-4xx). The transition table, with where each
    of its rows comes from, is in the evidence.
    """
    lifecycle = driver.lifecycle
    cells = [
        _try(driver, way, state, None, "")
        for state in lifecycle.statuses
        for way in (Way.PROMOTE, Way.DEPRECATE)
    ]
    conclude(judge(cells, lifecycle, "lifecycle endpoints"), evidence)


@pytest.mark.check("lifecycle.put-respects-lifecycle", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_put_respects_lifecycle(driver, evidence):
    """A PUT carrying a status reaches only what promote and deprecate reach from there.

    Blocking (rule: effect; server-error for a 5xx): PUT documents `status` as updatable; if it
    moves a deprecated memory back to active, or a candidate straight to stable, review and
    retirement are bypassed and retired or unreviewed knowledge reaches agents. Every status
    times every status (sending the status held is a no-op either way) and one status outside
    the enum, each cell re-read; an undocumented 4xx refusal only warns (rule: undocumented-4xx).
    """
    lifecycle = driver.lifecycle
    cells = [
        _try(driver, Way.PUT, state, requested, "")
        for state in lifecycle.statuses
        for requested in lifecycle.statuses
    ]
    cells.append(_try(driver, Way.PUT, lifecycle.initial, OUTSIDE_ENUM, ""))
    conclude(judge(cells, lifecycle, "PUT with a status"), evidence)


@pytest.mark.check("lifecycle.writes-respect-lifecycle", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_other_writes_respect_lifecycle(driver, evidence):
    """Bulk promote, bulk deprecate, merge and create reach only what the lifecycle allows.

    Blocking (rule: effect; server-error for a 5xx): each is another door to the same states:
    bulk actions must act per item exactly as the single endpoints (refusals listed in
    `failed`, the item unchanged), a merge deprecates its source (so a deprecated source is
    refused), and a create may start an item in any documented status but none outside the
    enum. An undocumented 4xx refusal only warns (rule: undocumented-4xx).
    """
    lifecycle = driver.lifecycle
    merge_into = driver.item_in(lifecycle.initial)
    cells = [
        _try(driver, way, state, None, merge_into)
        for way in (Way.BULK_PROMOTE, Way.BULK_DEPRECATE, Way.MERGE_SOURCE)
        for state in lifecycle.statuses
    ]
    cells += [_try_create(driver, status) for status in (*lifecycle.statuses, OUTSIDE_ENUM)]
    conclude(judge(cells, lifecycle, "bulk, merge and create"), evidence)
