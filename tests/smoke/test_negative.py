"""Negative paths: every identifier slot of every Memory & Context operation, sent wrong.

The slots come from the OpenAPI the target publishes (`phasegate.negative.slots`): path ids, the
`project_id` query parameter, and ids inside bodies (memory, module and item ids, merge's source
and target). Each slot gets four cases: an unknown id (well-formed, never existed), a malformed
one, a deleted one (created then deleted here), and, where the request also names a project or
another resource of its own, one that belongs to another project (created in project A, used
from project B; afterwards A's item, A's module and both modules' links must be unchanged). One
wrong identifier at a time: the other slots hold valid ids of project B, optional ones are left
out. `phasegate.negative.judge` decides each case.

Two checks per operation family read the same kind of cases: `negative.<family>` blocks (rules
server-error, cross-project, effect: a 5xx, anything that touches or shows the other project's
data, a 2xx for something that does not exist), `negative-status.<family>` warns (rule
undocumented-4xx: a 4xx other than 404, or 422 for a malformed value where the schema constrains
it). They send their cases separately, so each check's requests are its own (its evidence, and
its faults in the self-tests). Every case request carries `phasegate_case=<case>` in its query,
which the API ignores, like the X-Phasegate-Check header: it tells a log reader (and the fault
proxy) the case requests from the set-up around them.

Without authentication a path id carries no project, so an operation whose only identifier is a
path id (get, update, delete, promote, bulk) has no other-project case here: who may act on an
id is the authentication check's subject (#11 part 5); isolation of listings is integrity's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from memory_support import register_created, register_items, unknown_id

from phasegate.client import SkillMeatClient
from phasegate.contract.schema import SchemaUnavailable, load_document
from phasegate.fixtures import PROJECTS_ROOT, unique
from phasegate.negative import (
    FAMILIES,
    Case,
    Observation,
    Severity,
    Slot,
    derive_slots,
    family_operations,
    judge_family,
)
from phasegate.outcomes import Inconclusive, conclude
from phasegate.ratelimit import RateLimitPolicy

MALFORMED = {"project": "!not-base64!", "item": "not-an-id!", "module": "not-an-id!"}
CASE_PARAM = "phasegate_case"
SCHEMA_ATTEMPTS = 2
# Valid extra query and body of each operation: everything but the identifiers under test.
EXTRA_QUERY: dict[str, dict[str, str]] = {"GET /memory-items/search": {"query": "phasegate"}}


def _corpus(name: str) -> str:
    return f"We decided to use PostgreSQL for the {name} service because of JSONB support."


def _base_body(label: str, name: str, out_dir: str) -> dict[str, Any] | None:
    bodies: dict[str, dict[str, Any]] = {
        "POST /memory-items": {"type": "decision", "content": f"negative case {name}"},
        "PUT /memory-items/{item_id}": {"confidence": 0.4},
        "POST /memory-items/{item_id}/promote": {},
        "POST /memory-items/{item_id}/deprecate": {},
        "POST /memory-items/bulk-promote": {},
        "POST /memory-items/bulk-deprecate": {},
        "POST /memory-items/merge": {"strategy": "keep_target"},
        "POST /memory-items/extract/preview": {"text_corpus": _corpus(name), "profile": "strict"},
        "POST /memory-items/extract/apply": {"text_corpus": _corpus(name), "profile": "strict"},
        "POST /memory-items/export": {"out_dir": out_dir},
        "POST /context-modules": {"name": f"negative {name}"},
        "PUT /context-modules/{module_id}": {"description": "negative case"},
        "POST /context-modules/{module_id}/memories": {},
        "POST /context-packs/preview": {"budget_tokens": 500},
        "POST /context-packs/generate": {"budget_tokens": 500},
    }
    body = bodies.get(label)
    return dict(body) if body is not None else None


@dataclass
class World:
    """Project B's real ids (what the slots not under test hold) and A's, for other-project
    cases."""

    project: str = ""
    item: str = ""
    item2: str = ""
    module: str = ""
    foreign_project: str = ""
    foreign_item: str = ""
    foreign_module: str = ""
    foreign_content: str = ""

    def valid(self, slot: Slot) -> str:
        if slot.kind == "project":
            return self.project
        if slot.kind == "module":
            return self.module
        return self.item2 if slot.name == "target_id" else self.item

    def foreign(self, slot: Slot) -> str:
        return self.foreign_module if slot.kind == "module" else self.foreign_item


def _foreign_applies(slot: Slot, siblings: tuple[Slot, ...]) -> bool:
    """The request names a project or another resource of its own beside this slot."""
    return slot.kind != "project" and any(s.required and s is not slot for s in siblings)


def _ghost_project(target_run: str) -> str:
    return base64.b64encode(f"{PROJECTS_ROOT}/{target_run}/ghost-{unknown_id()}".encode()).decode()


@dataclass(frozen=True)
class Sent:
    request: str
    response: httpx.Response


def _send(
    api: SkillMeatClient,
    policy: RateLimitPolicy,
    slot: Slot,
    siblings: tuple[Slot, ...],
    case: Case,
    value: str,
    world: World,
    name: str,
    out_dir: str,
) -> Sent:
    label = slot.operation
    path = slot.path
    query: dict[str, Any] = {**EXTRA_QUERY.get(label, {}), CASE_PARAM: case.value}
    body = _base_body(label, name, out_dir)
    for other in siblings:
        if other is slot:
            chosen = value
        elif other.required:
            chosen = world.valid(other)
        else:
            continue
        if other.where == "path":
            path = path.replace("{" + other.name + "}", quote(chosen, safe=""))
        elif other.where == "query":
            query[other.name] = chosen
        else:
            body = body if body is not None else {}
            body[other.name] = [chosen] if other.many else chosen
    shown_query = str(httpx.QueryParams(query))
    shown_body = "" if body is None else f" {json.dumps(body, sort_keys=True)}"
    request = f"{slot.method} {api.api_prefix}{path}?{shown_query}{shown_body}"
    response = policy.call(lambda: api.api(slot.method, path, params=query, json=body))
    return Sent(request, response)


def _per_entry(response: httpx.Response, value: str) -> bool | None:
    """A batch answer's verdict on one id: failed only (True), succeeded (False), or neither."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    succeeded = body.get("succeeded")
    failed = body.get("failed")
    if not isinstance(succeeded, list) or not isinstance(failed, list):
        return None
    failed_ids = {str(f.get("id")) if isinstance(f, dict) else str(f) for f in failed}
    if value in {str(s.get("id")) if isinstance(s, dict) else str(s) for s in succeeded}:
        return False
    return True if value in failed_ids else None


def _register(cleanup: Any, slot: Slot, response: httpx.Response, project_id: str) -> None:
    """Whatever a case created by mistake is deleted at teardown like the rest."""
    if response.status_code >= 300:
        return
    if slot.operation == "POST /memory-items":
        register_created(response, cleanup, "item", project_id, "negative case")
    elif slot.operation == "POST /context-modules":
        register_created(response, cleanup, "module", project_id, "negative case")
    elif slot.operation == "POST /memory-items/extract/apply":
        try:
            created = response.json().get("created") or []
        except (ValueError, AttributeError):
            created = []
        register_items(cleanup, project_id, created)


def _delete(cleanup: Any, resource_id: str, response: httpx.Response) -> None:
    """The deleted case's resource, deleted here: off the registry (a deleted project's second
    DELETE answers 410 in 0.74.0, which cleanup would take for a failure)."""
    if response.status_code >= 300:
        raise AssertionError(
            f"setup: deleting {resource_id} answered {response.status_code}: {response.text[:200]}"
        )
    for resource in cleanup:
        if resource.id == resource_id:
            cleanup.forget(resource)


Snapshot = dict[str, Any]


# The fields that say what a resource is (reads move access_count and the like).
ITEM_FIELDS = (
    "project_id",
    "type",
    "content",
    "content_hash",
    "confidence",
    "status",
    "share_scope",
    "deprecated_at",
)
MODULE_FIELDS = ("project_id", "name", "description", "selectors", "priority")


def _snapshot(api: SkillMeatClient, policy: RateLimitPolicy, world: World) -> Snapshot:
    """What the other-project cases must leave alone: A's item and module, both modules' links."""

    def read(path: str, fields: tuple[str, ...] | None) -> Any:
        response = policy.call(lambda: api.api("GET", path))
        try:
            body = response.json()
        except ValueError:
            return {"status": response.status_code, "body": response.text[:200]}
        if fields is not None and isinstance(body, dict):
            body = {name: body.get(name) for name in fields}
        elif isinstance(body, list):
            body = sorted(str(e.get("id")) for e in body if isinstance(e, dict))
        return {"status": response.status_code, "body": body}

    seen: Snapshot = {}
    if world.foreign_item:
        seen["A's item"] = read(f"/memory-items/{world.foreign_item}", ITEM_FIELDS)
    if world.foreign_module:
        seen["A's module"] = read(f"/context-modules/{world.foreign_module}", MODULE_FIELDS)
        seen["A's module links"] = read(f"/context-modules/{world.foreign_module}/memories", None)
    if world.module:
        seen["B's module links"] = read(f"/context-modules/{world.module}/memories", None)
    return seen


def _changes(before: Snapshot, after: Snapshot) -> tuple[str, ...]:
    return tuple(
        f"{name}: {json.dumps(before[name])[:160]} -> {json.dumps(after.get(name))[:160]}"
        for name in before
        if before[name] != after.get(name)
    )


def _disclosed(response: httpx.Response, world: World) -> tuple[str, ...]:
    text = response.text
    found = []
    if world.foreign_project and world.foreign_project in text:
        found.append("project id")
    if world.foreign_content and world.foreign_content in text:
        found.append("item content")
    return tuple(found)


@pytest.fixture(scope="session")
def negative_schema(client_config, settings) -> dict[str, Any]:
    # SkillMeat builds its 2 MB schema on the first request and caches it; on a loaded host that
    # first build can outlast its own request timeout (504), so a second read is the real answer.
    problem: SchemaUnavailable | None = None
    for _ in range(SCHEMA_ATTEMPTS):
        try:
            return load_document(client_config, settings.contract_schema)
        except SchemaUnavailable as exc:
            problem = exc
    raise Inconclusive(f"no OpenAPI to derive identifier slots from: {problem}")


def _run_family(
    family: str,
    severity: Severity,
    *,
    api: SkillMeatClient,
    cleanup: Any,
    evidence: Any,
    target: Any,
    schema: dict[str, Any],
    make_project: Callable[..., Any],
    make_item: Callable[..., Any],
    make_module: Callable[..., Any],
    lease_shared: Callable[[], Any],
) -> None:
    derivation = derive_slots(schema, api.api_prefix, family_operations(family))
    slots = derivation.slots
    groups: dict[str, tuple[Slot, ...]] = {}
    for slot in slots:
        groups[slot.operation] = (*groups.get(slot.operation, ()), slot)
    needs_foreign = any(_foreign_applies(s, groups[s.operation]) for s in slots)
    kinds = {s.kind for s in slots}
    needed = {o.kind for group in groups.values() if len(group) > 1 for o in group if o.required}
    policy = RateLimitPolicy()
    world = World()
    name = unique(target, "neg")
    out_dir = str(PROJECTS_ROOT / target.run_id / unique(target, "neg-files"))

    # Project B (the caller) and A (the owner) when a case crosses projects; else a shared one.
    b = policy.call(lambda: make_project("neg-b") if needs_foreign else lease_shared())
    world.project = b.id
    if needs_foreign:
        a = policy.call(lambda: make_project("neg-a"))
        world.foreign_project = a.id
        a_item = make_item(a.id, content=f"negative owner item {name}")
        world.foreign_item = a_item["id"]
        world.foreign_content = a_item["content"]
        world.foreign_module = make_module(a.id)["id"]
        linked = api.link_memory(world.foreign_module, world.foreign_item)
        if linked.status_code not in (200, 201):
            raise AssertionError(f"setup: linking A's item answered {linked.status_code}")
    if "item" in needed:
        world.item = make_item(b.id, content=f"negative caller item {name}")["id"]
        if any(s.name == "target_id" for s in slots):
            world.item2 = make_item(b.id, content=f"negative caller item 2 {name}")["id"]
    if "module" in needed or (needs_foreign and "module" in kinds):
        world.module = make_module(b.id)["id"]
    deleted: dict[str, str] = {}
    if "item" in kinds:
        gone = make_item(b.id, content=f"negative deleted item {name}")["id"]
        _delete(cleanup, gone, api.delete_item(gone))
        deleted["item"] = gone
    if "module" in kinds:
        gone = make_module(b.id)["id"]
        _delete(cleanup, gone, api.delete_module(gone))
        deleted["module"] = gone
    if "project" in kinds:
        gone = policy.call(lambda: make_project("neg-deleted")).id
        _delete(cleanup, gone, api.delete_project(gone))
        deleted["project"] = gone

    observations: list[Observation] = []
    # Snapshots around each other-project case only: reading A's resources after every case
    # would repeat the same GETs past the target's burst limiter.
    fresh: Snapshot | None = None  # a snapshot no request has followed yet
    for slot in slots:
        siblings = groups[slot.operation]
        values = {
            Case.UNKNOWN: _ghost_project(target.run_id) if slot.kind == "project" else unknown_id(),
            Case.MALFORMED: MALFORMED[slot.kind],
            Case.DELETED: deleted[slot.kind],
        }
        if _foreign_applies(slot, siblings):
            values[Case.FOREIGN] = world.foreign(slot)
        for case, value in values.items():
            crossing = case is Case.FOREIGN
            before = (fresh or _snapshot(api, policy, world)) if crossing else {}
            sent = _send(api, policy, slot, siblings, case, value, world, name, out_dir)
            response = sent.response
            fresh = None
            _register(cleanup, slot, response, value if slot.kind == "project" else world.project)
            changed: tuple[str, ...] = ()
            if crossing:
                after = _snapshot(api, policy, world)
                changed = _changes(before, after)
                if any(change.startswith("A's item") for change in changed):
                    # A case changed A's item (a merge served): the next cases get a fresh one,
                    # so one broken case does not decide the answers of the others.
                    item = make_item(world.foreign_project, content=f"negative owner {name}")
                    world.foreign_item, world.foreign_content = item["id"], item["content"]
                    after = _snapshot(api, policy, world)
                fresh = after
            observations.append(
                Observation(
                    operation=slot.operation,
                    slot=f"{slot.where} {slot.name}",
                    case=case,
                    request=sent.request,
                    status=response.status_code,
                    documented=slot.documented,
                    validates=slot.validates,
                    refused_per_entry=_per_entry(response, value) if slot.many else None,
                    foreign_changed=changed,
                    disclosed=_disclosed(response, world) if needs_foreign else (),
                    body=response.text[:200],
                )
            )
    if derivation.without_slots:
        evidence.note("operations_without_identifiers", list(derivation.without_slots))
    conclusion = judge_family(
        family,
        severity,
        observations,
        problems=derivation.problems,
        slots=[s.label for s in slots],
    )
    conclude(conclusion, evidence)


@pytest.mark.check("negative", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("family", FAMILIES)
def test_negative_paths(
    api,
    cleanup,
    evidence,
    target,
    negative_schema,
    make_project,
    make_item,
    make_module,
    request,
    family,
):
    """Wrong identifiers are refused: no 5xx, no other project's data, no 2xx for nothing.

    Blocking (rules: server-error, cross-project, effect): a 5xx for a wrong id counts against
    the error-rate gate and hides the refusal; a request that reads, writes or links another
    project's memory through an id breaks the isolation the whole feature rests on; a 2xx for
    an id that does not exist tells a client an effect happened that did not.
    """
    _run_family(
        family,
        Severity.BLOCKING,
        api=api,
        cleanup=cleanup,
        evidence=evidence,
        target=target,
        schema=negative_schema,
        make_project=make_project,
        make_item=make_item,
        make_module=make_module,
        lease_shared=lambda: request.getfixturevalue("shared_project"),
    )


@pytest.mark.check("negative-status", blocking=False, writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
@pytest.mark.parametrize("family", FAMILIES)
def test_negative_statuses(
    api,
    cleanup,
    evidence,
    target,
    negative_schema,
    make_project,
    make_item,
    make_module,
    request,
    family,
):
    """Wrong identifiers are refused with 404 (422 only for a value the schema validates).

    Warning (rule: undocumented-4xx): a 400 or 422 where 404 is the answer for "does not exist
    or is not yours" still refuses, but clients that tell "gone" from "bad request" by the
    status (this suite's own cleanup among them) misread it.
    """
    _run_family(
        family,
        Severity.STATUS,
        api=api,
        cleanup=cleanup,
        evidence=evidence,
        target=target,
        schema=negative_schema,
        make_project=make_project,
        make_item=make_item,
        make_module=make_module,
        lease_shared=lambda: request.getfixturevalue("shared_project"),
    )
