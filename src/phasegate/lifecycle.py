"""The memory lifecycle as a state machine: the documented table and the judging of one run.

The table is not phasegate's opinion of what the lifecycle should be. It is read from the
target's own OpenAPI (`lifecycle_from_openapi`): the statuses are the MemoryStatus enum, the
promotion chain is the one the promote operation documents ("State machine: candidate -> active
-> stable"), and deprecation goes from every status but the deprecated one (the deprecate
operation documents "Any non-deprecated status can transition to deprecated"). The lifecycle
endpoints are the reference: any other write path (PUT, create, the bulk endpoints, merge) may
reach only states and transitions those endpoints allow. Where the document does not say what
is needed, the reader raises `LifecycleUnknown` and the check is INCONCLUSIVE, never PASS.

Everything here is pure: the checks in tests/smoke drive the target and hand the observed cells
to `judge`, which returns a `Conclusion`.
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phasegate.outcomes import Conclusion, Outcome

API = "/api/v1"


class LifecycleUnknown(ValueError):
    """The target's OpenAPI does not document enough of the lifecycle to judge against."""


class Way(enum.StrEnum):
    """A way to change an item's status, as the transition table names it."""

    PROMOTE = "promote"
    DEPRECATE = "deprecate"
    BULK_PROMOTE = "bulk-promote"
    BULK_DEPRECATE = "bulk-deprecate"
    MERGE_SOURCE = "merge(source)"
    PUT = "put"
    CREATE = "create"


# The OpenAPI operation behind each way: its documented 4xx are the refusals it may answer.
OPERATIONS: Mapping[Way, tuple[str, str]] = {
    Way.PROMOTE: ("post", f"{API}/memory-items/{{item_id}}/promote"),
    Way.DEPRECATE: ("post", f"{API}/memory-items/{{item_id}}/deprecate"),
    Way.BULK_PROMOTE: ("post", f"{API}/memory-items/bulk-promote"),
    Way.BULK_DEPRECATE: ("post", f"{API}/memory-items/bulk-deprecate"),
    Way.MERGE_SOURCE: ("post", f"{API}/memory-items/merge"),
    Way.PUT: ("put", f"{API}/memory-items/{{item_id}}"),
    Way.CREATE: ("post", f"{API}/memory-items"),
}

NEW = "(new)"  # the "from" state of a create
CHAIN = re.compile(r"[Ss]tate machine:\s*([a-z_]+(?:\s*->\s*[a-z_]+)+)")


class Expect(enum.StrEnum):
    LEGAL = "legal"  # succeeds; the item ends in `state`
    ILLEGAL = "illegal"  # refused with a documented 4xx; the item is unchanged
    NO_OP = "no-op"  # the status sent is the status held: success or refusal, item unchanged


@dataclass(frozen=True)
class Expected:
    kind: Expect
    state: str  # where the item must be afterwards


@dataclass(frozen=True)
class Lifecycle:
    """What the target documents: statuses, the promotion chain, the deprecated status, the
    4xx each way may answer, and where each of these was read."""

    statuses: tuple[str, ...]
    promote: Mapping[str, str]
    deprecated: str
    initial: str
    refusals: Mapping[Way, frozenset[int]]
    sources: tuple[str, ...]

    def allows(self, source: str, target: str) -> bool:
        """Whether the lifecycle endpoints take an item from `source` to `target`."""
        if self.promote.get(source) == target:
            return True
        return target == self.deprecated and source != self.deprecated

    def expect(self, way: Way, source: str, requested: str | None = None) -> Expected:
        """The documented outcome of `way` on an item in `source` (`requested`: the status a
        PUT or create carries)."""
        if way in (Way.PROMOTE, Way.BULK_PROMOTE):
            nxt = self.promote.get(source)
            return Expected(Expect.LEGAL, nxt) if nxt else Expected(Expect.ILLEGAL, source)
        if way in (Way.DEPRECATE, Way.BULK_DEPRECATE, Way.MERGE_SOURCE):
            # merge deprecates its source: the same transition as deprecate
            if self.allows(source, self.deprecated):
                return Expected(Expect.LEGAL, self.deprecated)
            return Expected(Expect.ILLEGAL, source)
        if requested is None:
            raise ValueError(f"{way} needs the status it carries")
        if way is Way.CREATE:
            # The create schema takes every status of the enum, and every one is a state the
            # lifecycle reaches: a new item may start in any of them, never outside the enum.
            if requested in self.statuses:
                return Expected(Expect.LEGAL, requested)
            return Expected(Expect.ILLEGAL, NEW)
        if requested == source:
            return Expected(Expect.NO_OP, source)
        if requested in self.statuses and self.allows(source, requested):
            return Expected(Expect.LEGAL, requested)
        return Expected(Expect.ILLEGAL, source)


def _resolve(doc: Mapping[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, Mapping) and "$ref" in node and seen < 20:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            return node
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
        seen += 1
    return node


def _status_enum(doc: Mapping[str, Any], schema: Any) -> tuple[str, ...]:
    """The enum of a schema's `status` property, through $ref and anyOf/allOf."""
    schema = _resolve(doc, schema)
    if not isinstance(schema, Mapping):
        return ()
    prop = _resolve(doc, (schema.get("properties") or {}).get("status"))
    stack = [prop]
    while stack:
        node = _resolve(doc, stack.pop())
        if not isinstance(node, Mapping):
            continue
        if isinstance(node.get("enum"), list):
            return tuple(str(x) for x in node["enum"])
        for key in ("anyOf", "allOf", "oneOf"):
            stack.extend(node.get(key) or [])
    return ()


def _operation(doc: Mapping[str, Any], way: Way) -> Mapping[str, Any]:
    method, path = OPERATIONS[way]
    op = ((doc.get("paths") or {}).get(path) or {}).get(method)
    if not isinstance(op, Mapping):
        raise LifecycleUnknown(f"the OpenAPI has no {method.upper()} {path}")
    return op


def _text(op: Mapping[str, Any]) -> str:
    return f"{op.get('summary', '')}\n{op.get('description', '')}"


def _request_schema(op: Mapping[str, Any]) -> Any:
    content = ((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    return content.get("schema")


def lifecycle_from_openapi(doc: Mapping[str, Any]) -> Lifecycle:
    """Read the lifecycle the target documents about itself; `LifecycleUnknown` if it does not."""
    ops = {way: _operation(doc, way) for way in OPERATIONS}
    create_statuses = _status_enum(doc, _request_schema(ops[Way.CREATE]))
    if not create_statuses:
        raise LifecycleUnknown("the create request's `status` has no enum in the OpenAPI")
    put_statuses = _status_enum(doc, _request_schema(ops[Way.PUT]))
    if put_statuses and set(put_statuses) != set(create_statuses):
        raise LifecycleUnknown(
            f"create and PUT document different statuses: {create_statuses} vs {put_statuses}"
        )
    promote_text = _text(ops[Way.PROMOTE])
    match = CHAIN.search(promote_text)
    if not match:
        raise LifecycleUnknown("the promote operation documents no 'State machine: a -> b'")
    chain = [part.strip() for part in match.group(1).split("->")]
    unknown = [s for s in chain if s not in create_statuses]
    if unknown:
        raise LifecycleUnknown(f"the promote chain names statuses not in the enum: {unknown}")
    deprecate_text = _text(ops[Way.DEPRECATE])
    deprecated = next((s for s in create_statuses if s.startswith("deprecat")), None)
    if deprecated is None or f"non-{deprecated}" not in deprecate_text:
        raise LifecycleUnknown(
            "the deprecate operation does not document which statuses may be deprecated"
        )
    refusals = {
        way: frozenset(
            int(code)
            for code in (op.get("responses") or {})
            if str(code).isdigit() and 400 <= int(code) < 500
        )
        for way, op in ops.items()
    }
    return Lifecycle(
        statuses=create_statuses,
        promote=dict(itertools.pairwise(chain)),
        deprecated=deprecated,
        initial=chain[0],
        refusals=refusals,
        sources=(
            f"statuses: the `status` enum of POST {OPERATIONS[Way.CREATE][1]}'s body "
            f"({', '.join(create_statuses)})",
            f"promote: {OPERATIONS[Way.PROMOTE][1]} documents 'State machine: {match.group(1)}'",
            f"deprecate: {OPERATIONS[Way.DEPRECATE][1]} documents that any non-{deprecated} "
            f"status can transition to {deprecated}",
            "merge: its description deprecates the source (the deprecate transition)",
            "bulk-promote / bulk-deprecate: 'promote/deprecate multiple items', each as the "
            "single endpoint, refusals reported per id in `failed`",
            "PUT / create: may reach only what the lifecycle endpoints reach; create may start "
            "in any status of the enum",
            "refusals: the 4xx codes each operation's `responses` documents",
        ),
    )


# -- one observed cell and its judgement --------------------------------------------------------


class Finding(enum.StrEnum):
    """What a cell showed, named by the severity rule it falls under (ok: nothing)."""

    OK = "ok"
    SERVER_ERROR = "server-error"
    EFFECT = "effect"
    UNDOCUMENTED_4XX = "undocumented-4xx"


BLOCKING = frozenset({Finding.SERVER_ERROR, Finding.EFFECT})


@dataclass(frozen=True)
class Cell:
    """One try of one way on an item in one state, as observed.

    `accepted`: the target said it did it (a 2xx; for the bulk endpoints, the id listed in
    `succeeded`), False when it refused (a 4xx; the id in `failed`), None when it said neither.
    `state`: the item's status as re-read afterwards (None: could not be read).
    """

    source: str
    way: Way
    requested: str | None
    expected: Expected
    http_status: int
    accepted: bool | None
    state: str | None

    @property
    def label(self) -> str:
        way = f"{self.way}={self.requested}" if self.requested is not None else str(self.way)
        return f"{self.source} x {way}"


def judge_cell(cell: Cell, documented: frozenset[int]) -> tuple[Finding, str]:
    """The one rule per cell class: 5xx = server-error; a success that does not end in the
    documented state, a refusal that changed the item, a success of an illegal transition, a
    refused legal one = effect; a refusal with a 4xx the operation does not document =
    undocumented-4xx."""
    exp = cell.expected
    if cell.http_status >= 500:
        return Finding.SERVER_ERROR, f"answered {cell.http_status}"
    if cell.accepted is None:
        return Finding.EFFECT, (
            f"answered {cell.http_status} and reported the item neither done nor refused"
        )
    if cell.accepted:
        if exp.kind is Expect.ILLEGAL:
            return Finding.EFFECT, (
                f"accepted ({cell.http_status}) a transition the lifecycle refuses; "
                f"the item is now {cell.state!r}"
            )
        if cell.state != exp.state:
            return Finding.EFFECT, (
                f"accepted ({cell.http_status}) but the item is {cell.state!r}, not {exp.state!r}"
            )
        return Finding.OK, "accepted"
    # refused
    if cell.state != exp.state and exp.kind is not Expect.LEGAL:
        return Finding.EFFECT, f"refused ({cell.http_status}) but the item became {cell.state!r}"
    if exp.kind is Expect.LEGAL:
        return Finding.EFFECT, (
            f"refused ({cell.http_status}) a documented transition to {exp.state!r}"
        )
    if 400 <= cell.http_status < 500 and cell.http_status not in documented:
        return Finding.UNDOCUMENTED_4XX, (
            f"refused with {cell.http_status}; the operation documents {sorted(documented)}"
        )
    return Finding.OK, f"refused ({cell.http_status})"


def table_rows(cells: Sequence[Cell], lifecycle: Lifecycle) -> list[dict[str, Any]]:
    """The transition table of the evidence: every cell, expected against got."""
    rows = []
    for cell in cells:
        finding, why = judge_cell(cell, lifecycle.refusals.get(cell.way, frozenset()))
        rows.append(
            {
                "from": cell.source,
                "way": str(cell.way),
                "sends_status": cell.requested,
                "expected": f"{cell.expected.kind} -> {cell.expected.state}",
                "got_status": cell.http_status,
                "got_accepted": cell.accepted,
                "got_state": cell.state,
                "finding": str(finding),
                "why": why,
            }
        )
    return rows


def judge(cells: Iterable[Cell], lifecycle: Lifecycle, what: str) -> Conclusion:
    """FAIL on any blocking cell, WARN when only undocumented 4xx remain, else PASS; the whole
    table and where it came from go into the facts either way."""
    cells = list(cells)
    if not cells:
        return Conclusion(Outcome.INCONCLUSIVE, f"{what}: no cell was tried")
    rows = table_rows(cells, lifecycle)
    bad = [(cell, row) for cell, row in zip(cells, rows, strict=True) if row["finding"] != "ok"]
    blocking = [(c, r) for c, r in bad if Finding(r["finding"]) in BLOCKING]
    facts: dict[str, Any] = {
        "table_source": list(lifecycle.sources),
        "transition_table": rows,
        "summary": f"{what}: {len(cells)} cells, {len(bad)} off the documented lifecycle",
    }
    shown = blocking or bad
    lines = "; ".join(f"{c.label}: {r['finding']}: {r['why']}" for c, r in shown[:8])
    more = f" (+{len(shown) - 8} more)" if len(shown) > 8 else ""
    if blocking:
        return Conclusion(
            Outcome.FAIL, f"{what}: {len(blocking)} of {len(cells)} cells: {lines}{more}", facts
        )
    if bad:
        return Conclusion(
            Outcome.WARN, f"{what}: {len(bad)} of {len(cells)} cells: {lines}{more}", facts
        )
    return Conclusion(Outcome.PASS, facts["summary"], facts)
