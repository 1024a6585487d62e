"""Every smoke check, with a fault that makes it fail and, where 0.74.0 already fails it, a fix.

For each check id in tests/smoke (parametrized ids included, as phasegate.checks builds them):

- `violate`: rules that make a target break the check. They are applied ON TOP of the
  compliance rules, so each violation must defeat a target that otherwise passes the check; a
  check that SkillMeat 0.74.0 happens to fail already cannot "pass" its self-test by accident.
- `comply`: only where the real SkillMeat 0.74.0 fails the check, rules that make it look
  compliant, so the check is shown to PASS there: it is not an always-fail.
- `why`: the misbehaviour the violation simulates, in words; `native`: what 0.74.0 does where a
  compliance fix is needed.

Every rule is scoped to its check's own id (the `X-Phasegate-Check` header), and aimed at the one
request the check judges, never at the set-up or clean-up calls around it: the check must end in
fail (warn for a non-blocking one), not in a set-up error.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass

from phasegate.lifecycle import Lifecycle
from support.faultproxy import (
    Action,
    Answer,
    Capture,
    DeleteField,
    DropItems,
    ProxyRequest,
    ProxyResponse,
    Ref,
    RemoveElement,
    RemoveHeader,
    ReplaceBody,
    Responder,
    Rule,
    SetField,
    SetHeader,
    SetStatus,
    SubText,
    Upstream,
)

API = "/api/v1"
HEX = "[0-9a-f]{32}"  # SkillMeat's item and module ids
ITEMS = rf"{API}/memory-items"
ITEM = rf"{API}/memory-items/{HEX}"
COUNT = rf"{API}/memory-items/count"
SEARCH = rf"{API}/memory-items/search"
MERGE = rf"{API}/memory-items/merge"
BULK_PROMOTE = rf"{API}/memory-items/bulk-promote"
BULK_DEPRECATE = rf"{API}/memory-items/bulk-deprecate"
EXTRACT_PREVIEW = rf"{API}/memory-items/extract/preview"
EXTRACT_APPLY = rf"{API}/memory-items/extract/apply"
MODULES = rf"{API}/context-modules"
MODULE = rf"{API}/context-modules/{HEX}"
LINKS = rf"{API}/context-modules/{HEX}/memories"
PREVIEW = rf"{API}/context-packs/preview"
GENERATE = rf"{API}/context-packs/generate"


@dataclass(frozen=True)
class Fault:
    check: str
    why: str
    violate: tuple[Rule, ...]
    comply: tuple[Rule, ...] = ()
    native: str = ""  # what 0.74.0 really does, where it needs the compliance fix


def on(
    method: str | tuple[str, ...] | None,
    path: str | None,
    *actions: Action,
    answer: Responder | None = None,
    rewrite_path: str | None = None,
    rewrite_query: tuple[tuple[str, str], ...] = (),
    query: str | None = None,
    body: str | None = None,
    upstream_status: int | None = None,
    skip: int = 0,
    limit: int | None = None,
) -> Rule:
    """A rule not yet bound to a check (its name and check id are stamped by `fault`)."""
    return Rule(
        "unbound",
        actions=actions,
        method=method,
        path=path,
        answer=answer,
        rewrite_path=rewrite_path,
        rewrite_query=rewrite_query,
        query=query,
        body=body,
        upstream_status=upstream_status,
        skip=skip,
        limit=limit,
    )


def _bind(check: str, role: str, rules: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(
        dataclasses.replace(rule, name=f"{check}:{role}:{n}", check=check, check_prefix=None)
        for n, rule in enumerate(rules, 1)
    )


def fault(
    check: str,
    why: str,
    violate: Iterable[Rule],
    comply: Iterable[Rule] = (),
    native: str = "",
) -> Fault:
    return Fault(
        check, why, _bind(check, "violate", violate), _bind(check, "comply", comply), native
    )


def refuse(status: int = 404, detail: str = "Memory & Context is disabled") -> Answer:
    return Answer(status, {"detail": detail})


def validation_error(field: str) -> Answer:
    return Answer(
        422,
        {"detail": [{"type": "value_error", "loc": ["body", field], "msg": "invalid", "input": 0}]},
    )


FAKE_ID = "0" * 32  # no SkillMeat item has it: a clean-up DELETE of it answers 404, which is fine


def fake_item(**fields: object) -> dict[str, object]:
    """A MemoryItem the proxy answers with itself (the upstream never stored it)."""
    item: dict[str, object] = {
        "id": FAKE_ID,
        "project_id": "unknown",
        "type": "decision",
        "content": "answered by the fault proxy",
        "confidence": 0.5,
        "status": "active",
        "share_scope": "project",
        "anchors": None,
        "provenance": {"source_type": "manual"},
        "content_hash": "0" * 64,
        "access_count": 0,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "deprecated_at": None,
    }
    item.update(fields)
    return item


def leak(name: str) -> SetField:
    """Append a captured item to the answer's items: data the check must never see there."""
    return SetField("/items/-", Ref(name))


@dataclass(frozen=True)
class KeepSourceMerge:
    """A compliant `keep_source` merge, done with the API's own calls.

    0.74.0 answers 500: it writes the source's content into the target while the source still
    holds it, and the content_hash unique constraint fails. This responder does what the
    documented strategy promises: the source is deprecated, the target takes its content (a PUT
    keeps the target's content_hash, so the constraint does not fire), and the answer has the
    documented shape.
    """

    def respond(self, request: ProxyRequest, upstream: Upstream) -> ProxyResponse:
        body = request.json()
        source, target = body["source_id"], body["target_id"]
        read = upstream.send("GET", f"{API}/memory-items/{source}")
        if read.status != 200:
            return read
        deprecated = upstream.send(
            "POST", f"{API}/memory-items/{source}/deprecate", {"reason": "merged (keep_source)"}
        )
        if deprecated.status != 200:
            return deprecated
        updated = upstream.send(
            "PUT", f"{API}/memory-items/{target}", {"content": read.json()["content"]}
        )
        if updated.status != 200:
            return updated
        answer = {"item": updated.json(), "merged_source_id": source}
        return ProxyResponse(
            200, [("Content-Type", "application/json")], json.dumps(answer).encode("utf-8")
        )


# The lifecycle as SkillMeat 0.74.0's OpenAPI documents it (phasegate.lifecycle reads the same
# from the target at run time; a compliance fix needs it before any run).
DOCUMENTED_LIFECYCLE = Lifecycle(
    statuses=("candidate", "active", "stable", "deprecated"),
    promote={"candidate": "active", "active": "stable"},
    deprecated="deprecated",
    initial="candidate",
    refusals={},
    sources=(),
)


class LifecyclePut:
    """A PUT that keeps to the lifecycle: a status the lifecycle endpoints would not reach from
    the item's current one is refused with the documented 400, anything else is forwarded.

    0.74.0 stores any status of the enum a PUT carries (a deprecated item PUT back to active).
    """

    def respond(self, request: ProxyRequest, upstream: Upstream) -> ProxyResponse:
        body = request.json()
        wanted = body.get("status") if isinstance(body, dict) else None
        if wanted in DOCUMENTED_LIFECYCLE.statuses:
            read = upstream.send("GET", request.path)
            item = read.json() if read.status == 200 else None
            held = item.get("status") if isinstance(item, dict) else None
            if held and wanted != held and not DOCUMENTED_LIFECYCLE.allows(str(held), str(wanted)):
                refusal = {"detail": f"Cannot change status from '{held}' to '{wanted}'"}
                return Answer(400, refusal).response()
        return upstream.send("PUT", request.target, body)


NOT_FOUND = {"detail": "Not found"}
NO_RESULTS = {"items": [], "next_cursor": None, "has_more": False, "total": None}


DISABLED_COMPONENT = SetField("components.memory_system.status", "disabled")
FLAGS = rf"{API}/config/feature-flags"
METRICS_LINE = 'skillmeat_memory_items_total{status="active",type="decision"} 1\n'


BUDGET_200 = r'"budget_tokens":\s*200\b'


# -- phase 1: the flag OFF --------------------------------------------------------------------

FLAG_OFF = [
    fault(
        "flagoff.memory-write-refused",
        "the disabled feature still stores a memory item (200)",
        native="0.74.0 stores the item (201) with the flag OFF",
        violate=[on("POST", rf"{API}/memory-items", SetStatus(200))],
        comply=[on("POST", rf"{API}/memory-items", answer=refuse(404))],
    ),
    fault(
        "flagoff.plan-request-refused",
        "the plan's literal request is rejected as invalid (422), not as disabled",
        native="0.74.0 answers 422 (project_id is a query parameter), not as disabled",
        violate=[on("POST", rf"{API}/memory-items", SetStatus(422))],
        comply=[on("POST", rf"{API}/memory-items", answer=refuse(404))],
    ),
    fault(
        "flagoff.memory-list",
        "listing memory items with the flag OFF is a server error",
        violate=[on("GET", rf"{API}/memory-items", SetStatus(500))],
    ),
    fault(
        "flagoff.module-write-refused",
        "the disabled feature still creates a context module (201)",
        native="0.74.0 creates the module (201) with the flag OFF",
        violate=[on("POST", rf"{API}/context-modules", SetStatus(201))],
        comply=[on("POST", rf"{API}/context-modules", answer=refuse(403))],
    ),
    fault(
        "flagoff.pack-refused",
        "the disabled feature still generates a context pack (200)",
        native="0.74.0 generates the pack (200) with the flag OFF",
        violate=[on("POST", rf"{API}/context-packs/generate", SetStatus(200))],
        comply=[on("POST", rf"{API}/context-packs/generate", answer=refuse(503))],
    ),
]


# -- hardening (every phase) ------------------------------------------------------------------

RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-threshold",
    "x-ratelimit-remaining",
    "ratelimit-limit",
    "retry-after",
)

HARDENING = [
    fault(
        "security.rate-limit-visible",
        "no rate-limit header on any answer",
        violate=[
            on(
                "GET",
                rf"{API}/version",
                RemoveHeader("x-ratelimit-threshold"),
                *(RemoveHeader(h, missing_ok=True) for h in RATE_HEADERS),
            )
        ],
    ),
    fault(
        "security.cors-no-wildcard",
        "CORS allows any origin",
        violate=[on("GET", rf"{API}/version", SetHeader("Access-Control-Allow-Origin", "*"))],
    ),
    *(
        fault(
            f"security.debug-paths.{param}",
            f"a debug endpoint is served at {path}",
            violate=[
                on(
                    "GET",
                    path,
                    SetStatus(200),
                    SetField("", {"debug": True, "env": {"SECRET": "x"}}),
                )
            ],
        )
        for param, path in (("debug", "/debug"), ("dev", "/dev"), ("_debug", "/_debug"))
    ),
]


# -- service, flags and metrics ---------------------------------------------------------------

SERVICE = [
    fault(
        "service.health",
        "/health reports degraded",
        violate=[on("GET", "/health", SetField("status", "degraded"))],
    ),
    fault(
        "service.health-detailed",
        "/health/detailed does not list the memory system",
        violate=[on("GET", "/health/detailed", DeleteField("components.memory_system"))],
    ),
    fault(
        "service.memory-system-disabled",
        "with the flag OFF the memory system still reports healthy",
        native="0.74.0 reports memory_system healthy with the flag OFF",
        violate=[
            on("GET", "/health/detailed", SetField("components.memory_system.status", "healthy"))
        ],
        comply=[on("GET", "/health/detailed", DISABLED_COMPONENT)],
    ),
    fault(
        "config.flag-present",
        "memory_context_enabled is a string, not a boolean",
        violate=[on("GET", FLAGS, SetField("memory_context_enabled", "false"))],
    ),
    fault(
        "config.plan-config-path",
        "GET /api/v1/config answers without memory_context_enabled",
        native="0.74.0 answers 404 at /api/v1/config (the flags are at /config/feature-flags)",
        violate=[on("GET", rf"{API}/config", DeleteField("memory_context_enabled"))],
        comply=[on("GET", rf"{API}/config", rewrite_path=FLAGS)],
    ),
    fault(
        "config.flag-off",
        "the flag reads ON in phase 1",
        violate=[on("GET", FLAGS, SetField("memory_context_enabled", True))],
    ),
    fault(
        "config.flag-on",
        "the flag reads OFF in phases 2 and 4",
        violate=[on("GET", FLAGS, SetField("memory_context_enabled", False))],
    ),
    fault(
        "config.auto-extract-off",
        "automatic extraction is switched on",
        native="0.74.0's feature flags have no memory_auto_extract, so the check cannot decide",
        violate=[on("GET", FLAGS, SetField("memory_auto_extract", True))],
        comply=[on("GET", FLAGS, SetField("memory_auto_extract", False))],
    ),
    fault(
        "config.auto-extract-reported",
        "the flags do not carry memory_auto_extract",
        native="0.74.0's feature flags have no memory_auto_extract",
        violate=[on("GET", FLAGS, DeleteField("memory_auto_extract"))],
        comply=[on("GET", FLAGS, SetField("memory_auto_extract", False))],
    ),
    fault(
        "service.metrics",
        "the exposition lacks the request counter",
        violate=[on("GET", "/metrics/", SubText(r"^skillmeat_api_requests_total\b.*\n", ""))],
    ),
    fault(
        "service.metrics-memory-items",
        "the exposition lacks skillmeat_memory_items_total",
        native="0.74.0 never sets skillmeat_memory_items_total",
        violate=[on("GET", "/metrics/", SubText(r"^skillmeat_memory_items_total\b.*\n", ""))],
        comply=[on("GET", "/metrics/", SubText(r"\Z", METRICS_LINE, count=1))],
    ),
    fault(
        "service.metrics-plan-path",
        "GET /metrics (no trailing slash) is 404",
        native="0.74.0 serves /metrics/ only; /metrics is 404",
        violate=[on("GET", "/metrics", SetStatus(404))],
        comply=[on("GET", "/metrics", rewrite_path="/metrics/")],
    ),
]


# -- phases 2 and 4: validation -----------------------------------------------------------------

VALIDATION = [
    fault(
        "validation.create-refused.bad-type",
        "an item with an unknown type is accepted",
        violate=[on("POST", ITEMS, SetStatus(201))],
    ),
    fault(
        "validation.create-refused.bad-status",
        "the 422 names another field than the invalid status",
        violate=[on("POST", ITEMS, SetField("detail.0.loc", ["body", "content"]))],
    ),
    fault(
        "validation.create-refused.bad-share-scope",
        "the refused item is counted (stored anyway)",
        violate=[on("GET", COUNT, SetField("count", 1))],
    ),
    fault(
        "validation.create-refused.confidence-above-1",
        "a confidence above 1 is accepted",
        violate=[on("POST", ITEMS, SetStatus(201))],
    ),
    fault(
        "validation.create-refused.confidence-below-0",
        "a negative confidence is refused as a 400, not a validation error",
        violate=[on("POST", ITEMS, SetStatus(400))],
    ),
    fault(
        "validation.create-refused.empty-content",
        "the refused empty item is counted (stored anyway)",
        violate=[on("GET", COUNT, SetField("count", 1))],
    ),
    fault(
        "validation.create-refused.content-over-10000",
        "content over 10,000 characters is accepted",
        violate=[on("POST", ITEMS, SetStatus(201))],
    ),
    fault(
        "validation.update-refused.bad-type",
        "an update to an unknown type is accepted",
        violate=[on("PUT", ITEM, SetStatus(200))],
    ),
    fault(
        "validation.update-refused.confidence-above-1",
        "the refused update changed the stored confidence",
        violate=[on("GET", ITEM, SetField("confidence", 1.5))],
    ),
    fault(
        "validation.update-refused.empty-content",
        "the 422 does not say which field is wrong",
        violate=[on("PUT", ITEM, SetField("detail", "invalid request"))],
    ),
    fault(
        "validation.module-refused.empty-name",
        "a module without a name is accepted",
        violate=[on("POST", MODULES, SetStatus(201))],
    ),
    fault(
        "validation.module-refused.priority-over-100",
        "the refused module is listed (stored anyway)",
        violate=[on("GET", MODULES, SetField("items", [{"id": FAKE_ID, "name": "stored anyway"}]))],
    ),
    fault(
        "validation.unknown-project",
        "a write to a project that does not exist is accepted",
        violate=[on("POST", ITEMS, SetStatus(201))],
    ),
    fault(
        "validation.unknown-id.item-get",
        "an unknown item id reads as 200",
        violate=[on("GET", ITEM, SetStatus(200))],
    ),
    fault(
        "validation.unknown-id.module-get",
        "an unknown module id reads as 200",
        violate=[on("GET", MODULE, SetStatus(200))],
    ),
    fault(
        "validation.unknown-id.item-put",
        "updating an unknown item answers 200",
        violate=[on("PUT", ITEM, SetStatus(200))],
    ),
    fault(
        "validation.unknown-id.item-delete",
        "deleting an unknown item fakes success (204)",
        violate=[on("DELETE", ITEM, SetStatus(204))],
    ),
    fault(
        "validation.unknown-id.item-promote",
        "promoting an unknown item is a server error",
        violate=[on("POST", rf"{ITEM}/promote", SetStatus(500))],
    ),
    fault(
        "validation.unknown-id.item-deprecate",
        "deprecating an unknown item answers 200",
        violate=[on("POST", rf"{ITEM}/deprecate", SetStatus(200))],
    ),
    fault(
        "validation.unknown-id.module-put",
        "updating an unknown module answers 200",
        violate=[on("PUT", MODULE, SetStatus(200))],
    ),
    fault(
        "validation.unknown-id.module-delete",
        "deleting an unknown module fakes success (204)",
        violate=[on("DELETE", MODULE, SetStatus(204))],
    ),
]


# -- phases 2 and 4: the staging script ---------------------------------------------------------

STAGING = [
    fault(
        "staging.memory-create",
        "the created item comes back with another status than sent",
        violate=[on("POST", ITEMS, SetField("status", "candidate"))],
    ),
    fault(
        "staging.memory-listed",
        "the list does not show the item just written",
        violate=[on("GET", ITEMS, DropItems("items", "id"))],
    ),
    fault(
        "staging.module-create",
        "the module's selectors lose min_confidence",
        violate=[on("POST", MODULES, DeleteField("selectors.min_confidence"))],
    ),
    fault(
        "staging.module-listed",
        "the module list does not show the module just created",
        violate=[on("GET", MODULES, DropItems("items", "id"))],
    ),
    fault(
        "staging.pack-preview",
        "the preview counts no available item",
        violate=[on("POST", PREVIEW, SetField("items_available", 0))],
    ),
    fault(
        "staging.pack-generate",
        "the generated markdown is the empty placeholder",
        violate=[on("POST", GENERATE, SetField("markdown", "# Context pack\n\n_No memories._\n"))],
    ),
]


# -- phases 2 and 4: memory items --------------------------------------------------------------

ITEM_CHECKS = [
    fault(
        "items.crud-roundtrip",
        "the update answers 200 but does not read back",
        violate=[on("GET", ITEM, SetField("confidence", 0.7), skip=1, limit=1)],
    ),
    fault(
        "items.list-filter.status",
        "the status filter drops a matching item",
        violate=[on("GET", ITEMS, RemoveElement("items", 0))],
    ),
    fault(
        "items.list-filter.type",
        "the type filter leaks an item of another type",
        violate=[on("GET", ITEMS, SetField("/items/-", {"id": "f" * 32, "type": "gotcha"}))],
    ),
    fault(
        "items.list-filter.min_confidence",
        "the confidence filter drops a matching item",
        violate=[on("GET", ITEMS, RemoveElement("items", -1))],
    ),
    fault(
        "items.list-filter.share_scope",
        "the share-scope filter leaks an item of another scope",
        violate=[
            on("GET", ITEMS, SetField("/items/-", {"id": "e" * 32, "share_scope": "project"}))
        ],
    ),
    fault(
        "items.list-filter.search",
        "search misses one of the matching items",
        violate=[on("GET", ITEMS, DropItems("items", "content", regex=r" row 2 "))],
    ),
    fault(
        "items.list-filter.combined",
        "the combined filter drops its one match",
        violate=[on("GET", ITEMS, RemoveElement("items", 0))],
    ),
    fault(
        "items.cursor-walk.created_at-desc",
        "the second page repeats an item of the first (and loses one)",
        violate=[
            on("GET", ITEMS, Capture("first", "items.0"), limit=1),
            on("GET", ITEMS, SetField("items.0", Ref("first")), skip=1, limit=1),
        ],
    ),
    fault(
        "items.cursor-walk.created_at-asc",
        "the first page says has_more but carries no cursor",
        violate=[on("GET", ITEMS, SetField("next_cursor", None), limit=1)],
    ),
    fault(
        "items.cursor-walk.confidence-desc",
        "the order breaks across a page boundary",
        violate=[on("GET", ITEMS, SetField("items.0.confidence", 0.99), skip=1, limit=1)],
    ),
    fault(
        "items.count",
        "the per-status count disagrees with the data",
        violate=[on("GET", COUNT, SetField("count", 0), query="status=candidate")],
    ),
    fault(
        "items.search",
        "search misses a matching item",
        violate=[on("GET", SEARCH, RemoveElement("items", 0))],
    ),
    fault(
        "items.search-unscoped-scope",
        "a search without a project hands out a project's private item",
        native=(
            "0.74.0 returns every project's private and project-scoped items to a search "
            "without project_id and to GET /memory-items/global?search="
        ),
        violate=[
            on("POST", ITEMS, Capture("private_item"), body=r'"share_scope":\s*"private"'),
            on("GET", SEARCH, leak("private_item")),
        ],
        comply=[
            on(
                "GET",
                path,
                DropItems("items", "share_scope", regex="^(private|project)$", missing_ok=True),
            )
            for path in (SEARCH, rf"{API}/memory-items/global")
        ],
    ),
    fault(
        "items.duplicate-refused",
        "the same content twice is accepted",
        violate=[on("POST", ITEMS, SetStatus(201), upstream_status=409)],
    ),
    fault(
        "items.duplicate-after-update",
        "the updated content can be stored twice",
        native=(
            "0.74.0 keeps the old content_hash after an update: the old content stays refused "
            "(409) and the new one can be stored twice"
        ),
        violate=[on("POST", ITEMS, SetStatus(201), body="after edit")],
        comply=[
            # The old content is free again after the edit: the write succeeds (answered here,
            # the first POST of it being the original create) ...
            on("POST", ITEMS, answer=Answer(201, fake_item()), body="before edit", skip=1),
            # ... and the new content is a duplicate of the edited item.
            on(
                "POST",
                ITEMS,
                answer=Answer(409, {"detail": "Duplicate memory item detected"}),
                body="after edit",
            ),
        ],
    ),
    fault(
        "items.accepted-boundaries",
        "confidence 1.0 is refused",
        violate=[on("POST", ITEMS, answer=validation_error("confidence"), body="full confidence")],
    ),
]


# -- phases 2 and 4: the lifecycle -------------------------------------------------------------

LIFECYCLE = [
    fault(
        "lifecycle.promote-chain",
        "promote answers active but does not move the item",
        violate=[on("POST", rf"{ITEM}/promote", answer=Answer(200, {"status": "active"}), limit=1)],
    ),
    fault(
        "lifecycle.invalid-transition.promote-stable",
        "promoting a stable item answers 200",
        violate=[on("POST", rf"{ITEM}/promote", SetStatus(200))],
    ),
    fault(
        "lifecycle.invalid-transition.promote-deprecated",
        "the refused promote revived the deprecated item",
        violate=[on("GET", ITEM, SetField("status", "active"))],
    ),
    fault(
        "lifecycle.invalid-transition.deprecate-deprecated",
        "deprecating a deprecated item answers 204",
        violate=[on("POST", rf"{ITEM}/deprecate", SetStatus(204))],
    ),
    fault(
        "lifecycle.deprecate",
        "deprecation does not set deprecated_at",
        violate=[on("GET", ITEM, SetField("deprecated_at", None))],
    ),
    fault(
        "lifecycle.bulk-promote",
        "bulk promote reports failures without an error",
        violate=[on("POST", BULK_PROMOTE, SetField("failed.*.error", ""))],
    ),
    fault(
        "lifecycle.bulk-deprecate",
        "bulk deprecate hides one failed id",
        violate=[on("POST", BULK_DEPRECATE, RemoveElement("failed", 0))],
    ),
    fault(
        "lifecycle.merge.keep_target",
        "the merge answer does not name the merged source",
        violate=[on("POST", MERGE, SetField("merged_source_id", None))],
    ),
    fault(
        "lifecycle.merge.keep_source",
        "the merge answers with another item than the target",
        native="0.74.0 answers 500 (content_hash unique constraint)",
        violate=[on("POST", MERGE, SetField("item.id", FAKE_ID))],
        comply=[on("POST", MERGE, answer=KeepSourceMerge())],
    ),
    fault(
        "lifecycle.merge.combine",
        "the merged source stays live",
        # The reads after the merge: the target first, then the source.
        violate=[on("GET", ITEM, SetField("status", "active"), skip=1, limit=1)],
    ),
    fault(
        "lifecycle.state-machine",
        "promote answers 200 to a transition the lifecycle refuses (stable, deprecated)",
        violate=[on("POST", rf"{ITEM}/promote", SetStatus(200), upstream_status=400)],
    ),
    fault(
        "lifecycle.put-respects-lifecycle",
        "a PUT the lifecycle refuses answers 200",
        native="0.74.0 stores any status a PUT carries (deprecated -> active, candidate -> stable)",
        violate=[on("PUT", ITEM, SetStatus(200), upstream_status=400)],
        comply=[on("PUT", ITEM, answer=LifecyclePut())],
    ),
    fault(
        "lifecycle.writes-respect-lifecycle",
        "merging a deprecated source answers 200",
        violate=[on("POST", MERGE, SetStatus(200), upstream_status=400)],
    ),
]


# -- phases 2 and 4: deletion ------------------------------------------------------------------

DELETION = [
    fault(
        "deletion.item-everywhere",
        "the deleted item is still found by the project search",
        # The check searches scoped, then unscoped, before the delete, and again after it.
        violate=[
            on("GET", SEARCH, Capture("deleted", "items"), limit=1),
            on("GET", SEARCH, SetField("items", Ref("deleted")), skip=2, limit=1),
        ],
    ),
    fault(
        "deletion.module-everywhere",
        "the deleted module still answers GET",
        violate=[on("GET", MODULE, SetStatus(200), upstream_status=404)],
    ),
    fault(
        "deletion.project-contents",
        "the deleted project's item is still served by id",
        native="0.74.0 serves every item, module and pack of a deleted project as before",
        violate=[on("GET", ITEM, SetStatus(200), upstream_status=404)],
        # Each surface is looked at once before the project's deletion (searches twice), then
        # the same again after it: the later looks are refused as for a deleted project.
        comply=[
            on("GET", ITEM, answer=Answer(404, NOT_FOUND), skip=1),
            on("GET", ITEMS, answer=Answer(404, NOT_FOUND), skip=1),
            on("GET", COUNT, answer=Answer(404, NOT_FOUND), skip=1),
            on("GET", SEARCH, answer=Answer(200, NO_RESULTS), skip=2),
            on("GET", MODULE, answer=Answer(404, NOT_FOUND), skip=1),
            on("GET", MODULES, answer=Answer(404, NOT_FOUND), skip=1),
            on("GET", LINKS, answer=Answer(404, NOT_FOUND), skip=1),
            on("POST", PREVIEW, answer=Answer(404, NOT_FOUND), skip=1),
            on("POST", GENERATE, answer=Answer(404, NOT_FOUND), skip=1),
        ],
    ),
]


# -- phases 2 and 4: context modules -----------------------------------------------------------

MODULE_CHECKS = [
    fault(
        "modules.crud-roundtrip",
        "the module update answers 200 but changes nothing",
        violate=[on("PUT", MODULE, answer=Answer(200, {"id": FAKE_ID}))],
    ),
    fault(
        "modules.memory-links",
        "a linked memory is missing from the module",
        violate=[on("GET", LINKS, RemoveElement("", 0), limit=1)],
    ),
]


# -- phases 2 and 4: context packs -------------------------------------------------------------

PACKS = [
    fault(
        "packs.budget-accounting.preview",
        "utilization is not total/budget",
        violate=[on("POST", PREVIEW, SetField("utilization", 0.5))],
    ),
    fault(
        "packs.budget-accounting.generate",
        "the pack is over budget",
        violate=[on("POST", GENERATE, SetField("total_tokens", 901))],
    ),
    fault(
        "packs.status-eligibility",
        "a candidate item enters the pack",
        violate=[
            on("POST", ITEMS, Capture("candidate"), body="eligibility candidate"),
            on("POST", GENERATE, leak("candidate")),
        ],
    ),
    fault(
        "packs.confidence-order",
        "the pack is not in descending confidence",
        violate=[on("POST", PREVIEW, SetField("items.0.confidence", 0.1))],
    ),
    fault(
        "packs.markdown",
        "the markdown carries none of the included items",
        violate=[on("POST", GENERATE, SetField("markdown", "# Context pack\n"))],
    ),
    fault(
        "packs.module-selectors.preview",
        "the module's type selector is ignored (a decision enters)",
        violate=[
            on("POST", ITEMS, Capture("excluded"), body="selector decision 0.9"),
            on("POST", PREVIEW, leak("excluded")),
        ],
    ),
    fault(
        "packs.module-selectors.generate",
        "the module's min_confidence is ignored (a 0.4 gotcha enters)",
        violate=[
            on("POST", ITEMS, Capture("excluded"), body="selector gotcha 0.4"),
            on("POST", GENERATE, leak("excluded")),
        ],
    ),
    fault(
        "packs.small-budget",
        "a small budget is overrun",
        violate=[on("POST", GENERATE, SetField("total_tokens", 260))],
    ),
    *(
        fault(
            f"packs.budget-refused.{budget}-{endpoint}",
            f"a budget of {budget} tokens is accepted by {endpoint}",
            violate=[on("POST", PREVIEW if endpoint == "preview" else GENERATE, SetStatus(200))],
        )
        for budget in (99, 100001)
        for endpoint in ("preview", "generate")
    ),
    fault(
        "packs.budget-bounds.100",
        "the smallest documented budget is refused",
        violate=[on("POST", PREVIEW, SetStatus(422))],
    ),
    fault(
        "packs.budget-bounds.100000",
        "the largest documented budget packs nothing",
        violate=[on("POST", PREVIEW, SetField("items", []), body=r'"budget_tokens":\s*100000\b')],
    ),
    fault(
        "packs.greedy-fill",
        "packing stops at the first item that does not fit",
        native="0.74.0 stops filling at the first item that does not fit",
        violate=[on("POST", PREVIEW, DropItems("items", "id"), body=BUDGET_200)],
        comply=[
            # Greedy by confidence: the 300-token item is skipped, the small one fills the pack.
            on("POST", ITEMS, Capture("small"), body="small fact"),
            on("POST", PREVIEW, SetField("items", [Ref("small")]), body=BUDGET_200),
        ],
    ),
]


# -- phases 2 and 4: extraction ----------------------------------------------------------------

EXTRACTION = [
    fault(
        "extraction.preview-persists-nothing",
        "the preview stored its candidates",
        violate=[on("GET", COUNT, SetField("count", 4), query="status=candidate")],
    ),
    fault(
        "extraction.apply-creates-candidates",
        "apply stores active items",
        violate=[on("POST", EXTRACT_APPLY, SetField("created.*.status", "active"))],
    ),
    fault(
        "extraction.reapply-skips-duplicates",
        "the second apply reports no skipped duplicate",
        violate=[on("POST", EXTRACT_APPLY, SetField("skipped_duplicates", []), skip=1)],
    ),
]


# -- phases 2 and 4: integrity and isolation ---------------------------------------------------

PLAN_FIELDS = (SetField("tags", ["rollout-test"]), SetField("metadata", {"phase": "2"}))
ANCHOR = {
    "path": "src/app/main.py",
    "type": "code",
    "line_start": 3,
    "line_end": 9,
    "description": "entry point",
}
UNSCOPED = (r"&?project_id=[^&]*", "")

INTEGRITY = [
    fault(
        "integrity.field-roundtrip",
        "a confidence is rounded on the way back",
        violate=[on("GET", ITEM, SetField("confidence", 0.4))],
    ),
    fault(
        "integrity.plan-fields",
        "metadata is dropped",
        native="0.74.0 answers 201 and drops tags and metadata",
        violate=[on("GET", ITEM, DeleteField("metadata"))],
        comply=[
            on("POST", ITEMS, *PLAN_FIELDS),
            on("GET", ITEM, *PLAN_FIELDS),
            on(
                "GET",
                ITEMS,
                SetField("items.*.tags", ["rollout-test"]),
                SetField("items.*.metadata", {"phase": "2"}),
            ),
        ],
    ),
    fault(
        "integrity.structured-anchors",
        "the anchor's line range changes",
        native="0.74.0 answers 400 to an anchor object",
        violate=[on("GET", ITEM, SetField("anchors.0.line_end", 10))],
        comply=[
            on("POST", ITEMS, answer=Answer(201, fake_item(type="gotcha", anchors=[ANCHOR]))),
            on(
                "GET",
                rf"{API}/memory-items/{FAKE_ID}",
                answer=Answer(200, fake_item(type="gotcha", anchors=[ANCHOR])),
            ),
        ],
    ),
    fault(
        "integrity.isolation.list",
        "B's filtered listing searches every project",
        violate=[
            on(
                "GET",
                ITEMS,
                query="search=",
                rewrite_path=SEARCH,
                rewrite_query=(UNSCOPED, (r"(^|&)search=", r"\1query=")),
            )
        ],
    ),
    fault(
        "integrity.isolation.count",
        "B's count includes A's items",
        violate=[on("GET", COUNT, SetField("count", 3), limit=1)],
    ),
    fault(
        "integrity.isolation.search",
        "B's search ignores the project",
        violate=[on("GET", SEARCH, rewrite_query=(UNSCOPED,))],
    ),
    fault(
        "integrity.isolation.pack",
        "A's item enters B's pack",
        violate=[
            on("POST", ITEMS, Capture("a_secret"), body="secret of A"),
            on("POST", GENERATE, leak("a_secret")),
        ],
    ),
    fault(
        "integrity.isolation-module-link",
        "B's module accepts a link to A's item",
        native="0.74.0 links another project's item (200) and packs it",
        violate=[on("POST", LINKS, SetStatus(200))],
        comply=[
            on(
                "POST",
                LINKS,
                answer=Answer(422, {"detail": "memory item belongs to another project"}),
            )
        ],
    ),
    fault(
        "integrity.duplicate-no-leak",
        "the 409 in B hands out A's item",
        native="0.74.0's 409 carries the other project's existing_item",
        violate=[
            on("POST", ITEMS, Capture("a_item"), upstream_status=201),
            on(
                "POST",
                ITEMS,
                SetField("detail", {"message": "duplicate", "existing_item": Ref("a_item")}),
                upstream_status=409,
            ),
        ],
        comply=[
            on(
                "POST",
                ITEMS,
                ReplaceBody({"detail": "Duplicate memory item detected"}),
                upstream_status=409,
            )
        ],
    ),
    fault(
        "integrity.module-read-back",
        "a module selector's confidence is rounded",
        violate=[on("GET", MODULE, SetField("selectors.min_confidence", 0.3))],
    ),
]


# -- negative paths (#11 part 2) ----------------------------------------------------------------
# Every case request of tests/smoke/test_negative.py carries `phasegate_case=<case>` in its query,
# so these rules hit the cases and never the set-up, the snapshots or the clean-up around them.

FAMILY_PATHS = rf"{API}/(memory-items|context-modules|context-packs)(/.*)?"
ANY_METHOD = ("GET", "POST", "PUT", "DELETE")
CASE = "phasegate_case="
UNKNOWN_CASE = "phasegate_case=unknown"
FOREIGN_CASE = "phasegate_case=other-project"


def refuse_every_case() -> Rule:
    """A target that answers every wrong identifier with a plain 404."""
    return on(ANY_METHOD, FAMILY_PATHS, query=CASE, answer=Answer(404, {"detail": "Not found"}))


NATIVE = {
    "items": "0.74.0 lists, counts and searches unknown and deleted projects (200, empty), stores "
    "an item in a deleted project (201) and refuses an unknown one with 400",
    "merge": "0.74.0 merges another project's item as source (200, A's item deprecated)",
    "extraction": "0.74.0 previews and exports for unknown projects (200), applies into a deleted "
    "one (200) and refuses an unknown one with 400 (undocumented)",
    "modules": "0.74.0 answers 500 creating a module in an unknown project, 201 in a deleted one, "
    "and lists unknown projects' modules (200)",
    "module-links": "0.74.0 links and unlinks across projects (200/204), lists links of unknown "
    "modules (200) and refuses unknown modules and items with 400",
    "packs": "0.74.0 packs unknown projects (200) and packs another project's module with its "
    "items (200), refuses unknown modules with 400",
}

NEGATIVE = [
    fault(
        "negative.items",
        "reading an unknown memory item is a server error (500)",
        native=NATIVE["items"],
        comply=[refuse_every_case()],
        violate=[on("GET", ITEM, SetStatus(500), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative.lifecycle",
        "promoting an unknown memory item answers 200",
        violate=[on("POST", rf"{ITEM}/promote", SetStatus(200), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative.bulk",
        "a bulk promote naming an unknown id is a server error (500)",
        violate=[on("POST", BULK_PROMOTE, SetStatus(500), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative.merge",
        "a merge with another project's item as source answers 200",
        native=NATIVE["merge"],
        comply=[refuse_every_case()],
        violate=[on("POST", MERGE, SetStatus(200), query=FOREIGN_CASE)],
    ),
    fault(
        "negative.extraction",
        "extraction preview for an unknown project is a server error (500)",
        native=NATIVE["extraction"],
        comply=[refuse_every_case()],
        violate=[on("POST", EXTRACT_PREVIEW, SetStatus(500), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative.modules",
        "reading an unknown context module answers 200",
        native=NATIVE["modules"],
        comply=[refuse_every_case()],
        violate=[on("GET", MODULE, SetStatus(200), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative.module-links",
        "B's module accepts a link to A's item (200)",
        native=NATIVE["module-links"],
        comply=[refuse_every_case()],
        violate=[on("POST", LINKS, SetStatus(200), query=FOREIGN_CASE)],
    ),
    fault(
        "negative.packs",
        "a pack of B built with A's module answers 200",
        native=NATIVE["packs"],
        comply=[refuse_every_case()],
        violate=[on("POST", PREVIEW, SetStatus(200), query=FOREIGN_CASE)],
    ),
    fault(
        "negative-status.items",
        "an unknown memory item answers 400, not 404",
        native=NATIVE["items"],
        comply=[refuse_every_case()],
        violate=[on("GET", ITEM, SetStatus(400), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.lifecycle",
        "deprecating an unknown memory item answers 400, not 404",
        violate=[on("POST", rf"{ITEM}/deprecate", SetStatus(400), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.bulk",
        "a bulk deprecate naming an unknown id answers 400",
        violate=[on("POST", BULK_DEPRECATE, SetStatus(400), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.merge",
        "a merge naming an unknown source answers 422, not 404",
        violate=[on("POST", MERGE, SetStatus(422), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.extraction",
        "extraction apply for an unknown project answers 400, not 404",
        native=NATIVE["extraction"],
        comply=[refuse_every_case()],
        violate=[on("POST", EXTRACT_APPLY, SetStatus(400), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.modules",
        "updating an unknown context module answers 400, not 404",
        violate=[on("PUT", MODULE, SetStatus(400), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.module-links",
        "linking into an unknown module answers 400, not 404",
        native=NATIVE["module-links"],
        comply=[refuse_every_case()],
        violate=[on("POST", LINKS, SetStatus(400), query=UNKNOWN_CASE)],
    ),
    fault(
        "negative-status.packs",
        "a pack naming an unknown module answers 400, not 404",
        native=NATIVE["packs"],
        comply=[refuse_every_case()],
        violate=[on("POST", GENERATE, SetStatus(400), query=UNKNOWN_CASE)],
    ),
]


FAULTS: list[Fault] = [
    *FLAG_OFF,
    *HARDENING,
    *SERVICE,
    *VALIDATION,
    *STAGING,
    *ITEM_CHECKS,
    *LIFECYCLE,
    *DELETION,
    *MODULE_CHECKS,
    *PACKS,
    *EXTRACTION,
    *INTEGRITY,
    *NEGATIVE,
]


def _index(faults: Iterable[Fault]) -> dict[str, Fault]:
    catalog: dict[str, Fault] = {}
    for entry in faults:
        if entry.check in catalog:
            raise ValueError(f"two catalog entries for {entry.check}")
        catalog[entry.check] = entry
    return catalog


CATALOG: dict[str, Fault] = _index(FAULTS)


def violation_rules(check_ids: Iterable[str]) -> list[Rule]:
    """Compliance first, then the violations: each violation must beat a compliant target."""
    entries = [CATALOG[c] for c in sorted(check_ids)]
    return [r for e in entries for r in e.comply] + [r for e in entries for r in e.violate]


def compliance_rules(check_ids: Iterable[str]) -> list[Rule]:
    return [r for c in sorted(check_ids) for r in CATALOG[c].comply]
