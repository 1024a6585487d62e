"""Where the Memory & Context operations take an identifier, read from the target's own OpenAPI.

The negative-path checks send wrong identifiers into every slot an operation declares, so the
slots come from the schema the target publishes rather than from a hand list: an identifier a
release adds is tested the day it appears. The hand list (`EXPECTED_SLOTS`) is only the
cross-check that the schema still declares what the suite expects; an operation or slot missing
from the schema is a problem the check reports (INCONCLUSIVE), never a silently shorter run. A
name ending in `_id`/`_ids` that is neither a known reference nor a known attribute is reported
the same way: the suite would not know which resource to point it at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from phasegate.contract.operations import OPERATIONS, OperationSpec

# Identifier names the API resolves to a resource, and the kind of resource.
REFERENCE_KINDS: Mapping[str, str] = {
    "project_id": "project",
    "item_id": "item",
    "memory_id": "item",
    "source_id": "item",
    "target_id": "item",
    "item_ids": "item",
    "module_id": "module",
}
# Names that end like an identifier but are recorded attributes (provenance), not references.
NOT_REFERENCES = frozenset({"session_id", "run_id"})

# The operation families, one negative check each (stable ids: negative.<family>).
FAMILY_OF: Mapping[tuple[str, str], str] = {
    ("GET", "/memory-items"): "items",
    ("POST", "/memory-items"): "items",
    ("GET", "/memory-items/count"): "items",
    ("GET", "/memory-items/search"): "items",
    ("GET", "/memory-items/global"): "items",
    ("GET", "/memory-items/{item_id}"): "items",
    ("PUT", "/memory-items/{item_id}"): "items",
    ("DELETE", "/memory-items/{item_id}"): "items",
    ("POST", "/memory-items/{item_id}/promote"): "lifecycle",
    ("POST", "/memory-items/{item_id}/deprecate"): "lifecycle",
    ("POST", "/memory-items/bulk-promote"): "bulk",
    ("POST", "/memory-items/bulk-deprecate"): "bulk",
    ("POST", "/memory-items/merge"): "merge",
    ("POST", "/memory-items/extract/preview"): "extraction",
    ("POST", "/memory-items/extract/apply"): "extraction",
    ("POST", "/memory-items/export"): "extraction",
    ("POST", "/memory-items/import"): "extraction",
    ("GET", "/context-modules"): "modules",
    ("POST", "/context-modules"): "modules",
    ("GET", "/context-modules/{module_id}"): "modules",
    ("PUT", "/context-modules/{module_id}"): "modules",
    ("DELETE", "/context-modules/{module_id}"): "modules",
    ("GET", "/context-modules/{module_id}/memories"): "module-links",
    ("POST", "/context-modules/{module_id}/memories"): "module-links",
    ("DELETE", "/context-modules/{module_id}/memories/{memory_id}"): "module-links",
    ("POST", "/context-packs/preview"): "packs",
    ("POST", "/context-packs/generate"): "packs",
}
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(FAMILY_OF.values()))

# The cross-check: what 0.74.0's schema declares, reviewed by hand. Not the source of the cases.
EXPECTED_SLOTS: Mapping[tuple[str, str], frozenset[str]] = {
    ("GET", "/memory-items"): frozenset({"project_id"}),
    ("POST", "/memory-items"): frozenset({"project_id"}),
    ("GET", "/memory-items/count"): frozenset({"project_id"}),
    ("GET", "/memory-items/search"): frozenset({"project_id"}),
    ("GET", "/memory-items/global"): frozenset(),
    ("GET", "/memory-items/{item_id}"): frozenset({"item_id"}),
    ("PUT", "/memory-items/{item_id}"): frozenset({"item_id"}),
    ("DELETE", "/memory-items/{item_id}"): frozenset({"item_id"}),
    ("POST", "/memory-items/{item_id}/promote"): frozenset({"item_id"}),
    ("POST", "/memory-items/{item_id}/deprecate"): frozenset({"item_id"}),
    ("POST", "/memory-items/bulk-promote"): frozenset({"item_ids"}),
    ("POST", "/memory-items/bulk-deprecate"): frozenset({"item_ids"}),
    ("POST", "/memory-items/merge"): frozenset({"source_id", "target_id"}),
    ("POST", "/memory-items/extract/preview"): frozenset({"project_id"}),
    ("POST", "/memory-items/extract/apply"): frozenset({"project_id"}),
    ("POST", "/memory-items/export"): frozenset({"project_id"}),
    ("POST", "/memory-items/import"): frozenset(),
    ("GET", "/context-modules"): frozenset({"project_id"}),
    ("POST", "/context-modules"): frozenset({"project_id"}),
    ("GET", "/context-modules/{module_id}"): frozenset({"module_id"}),
    ("PUT", "/context-modules/{module_id}"): frozenset({"module_id"}),
    ("DELETE", "/context-modules/{module_id}"): frozenset({"module_id"}),
    ("GET", "/context-modules/{module_id}/memories"): frozenset({"module_id"}),
    ("POST", "/context-modules/{module_id}/memories"): frozenset({"module_id", "memory_id"}),
    ("DELETE", "/context-modules/{module_id}/memories/{memory_id}"): frozenset(
        {"module_id", "memory_id"}
    ),
    ("POST", "/context-packs/preview"): frozenset({"project_id", "module_id"}),
    ("POST", "/context-packs/generate"): frozenset({"project_id", "module_id"}),
}

_IDENTIFIER = re.compile(r".+_ids?$")
_CONSTRAINTS = ("pattern", "format", "minLength", "maxLength", "enum", "const")


@dataclass(frozen=True)
class Slot:
    """One place an operation takes an identifier."""

    method: str
    path: str  # below the API prefix, as in contract/operations.py
    name: str
    where: str  # "path", "query" or "body"
    kind: str  # "project", "item" or "module"
    many: bool  # a list of identifiers (item_ids)
    required: bool  # an optional slot is left out of the cases that aim at another slot
    validates: bool  # the schema constrains the value: a 422 for a malformed one is documented
    documented: tuple[int, ...]  # the 4xx statuses the operation documents

    @property
    def operation(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def label(self) -> str:
        return f"{self.operation} [{self.where} {self.name}]"


@dataclass(frozen=True)
class Derivation:
    """The slots of some operations, and what the schema did not say that the suite expects."""

    slots: tuple[Slot, ...]
    problems: tuple[str, ...]
    without_slots: tuple[str, ...]  # operations the schema declares with no identifier

    def operation_slots(self, method: str, path: str) -> tuple[Slot, ...]:
        return tuple(s for s in self.slots if (s.method, s.path) == (method, path))


def family_operations(family: str) -> tuple[OperationSpec, ...]:
    return tuple(op for op in OPERATIONS if FAMILY_OF.get((op.method, op.path)) == family)


def _deref(raw: Mapping[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow local `$ref`s (a schema's components), bounded against cycles."""
    while isinstance(node, Mapping) and "$ref" in node and depth < 20:
        ref = str(node["$ref"])
        if not ref.startswith("#/"):
            return node
        target: Any = raw
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
        depth += 1
    return node


def _non_null(raw: Mapping[str, Any], schema: Any) -> Mapping[str, Any]:
    """The usable branch of `anyOf: [X, null]` (FastAPI's optional fields)."""
    schema = _deref(raw, schema)
    if not isinstance(schema, Mapping):
        return {}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list):
            for branch in branches:
                branch = _deref(raw, branch)
                if isinstance(branch, Mapping) and branch.get("type") != "null":
                    return branch
    return schema


def _validates(raw: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "array":
        schema = _non_null(raw, schema.get("items"))
    return any(key in schema for key in _CONSTRAINTS)


def _body_schema(raw: Mapping[str, Any], operation: Mapping[str, Any]) -> Mapping[str, Any]:
    body = _deref(raw, operation.get("requestBody"))
    content = body.get("content") if isinstance(body, Mapping) else None
    media = content.get("application/json") if isinstance(content, Mapping) else None
    schema = media.get("schema") if isinstance(media, Mapping) else None
    return _non_null(raw, schema)


def _documented_4xx(operation: Mapping[str, Any]) -> tuple[int, ...]:
    codes = []
    for code in operation.get("responses") or {}:
        text = str(code)
        if text.isdigit() and 400 <= int(text) < 500:
            codes.append(int(text))
    return tuple(sorted(codes))


def _slot(
    raw: Mapping[str, Any],
    op: OperationSpec,
    name: str,
    where: str,
    schema: Any,
    required: bool,
    documented: tuple[int, ...],
    problems: list[str],
) -> Slot | None:
    """The slot for one declared name, or None when the name is no reference (or unknown)."""
    if not _IDENTIFIER.match(name) or name in NOT_REFERENCES:
        return None
    kind = REFERENCE_KINDS.get(name)
    if kind is None:
        problems.append(
            f"{op.label} takes identifier {where} {name!r}, which the suite cannot aim "
            "(not a known reference or attribute)"
        )
        return None
    usable = _non_null(raw, schema)
    return Slot(
        op.method,
        op.path,
        name,
        where,
        kind,
        many=usable.get("type") == "array",
        required=required,
        validates=_validates(raw, usable),
        documented=documented,
    )


def _declared(
    raw: Mapping[str, Any], item: Mapping[str, Any], operation: Mapping[str, Any]
) -> list[tuple[str, str, Any, bool]]:
    """(name, where, schema, required) of every path/query parameter and body property."""
    found: list[tuple[str, str, Any, bool]] = []
    for param in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
        param = _deref(raw, param)
        if isinstance(param, Mapping) and param.get("in") in ("path", "query"):
            where = str(param["in"])
            required = where == "path" or bool(param.get("required"))
            found.append((str(param.get("name")), where, param.get("schema"), required))
    body = _body_schema(raw, operation)
    properties = body.get("properties")
    needed = body.get("required")
    needed_names = {str(n) for n in needed} if isinstance(needed, list) else set()
    if isinstance(properties, Mapping):
        for name, schema in properties.items():
            found.append((str(name), "body", schema, str(name) in needed_names))
    return found


def derive_slots(
    raw: Mapping[str, Any], api_prefix: str, operations: Iterable[OperationSpec]
) -> Derivation:
    """Every identifier slot of the given operations, as the schema declares them."""
    slots: list[Slot] = []
    problems: list[str] = []
    without: list[str] = []
    paths = raw.get("paths")
    if not isinstance(paths, Mapping):
        paths = {}
    for op in operations:
        item = paths.get(op.full_path(api_prefix))
        operation = item.get(op.method.lower()) if isinstance(item, Mapping) else None
        if not isinstance(item, Mapping) or not isinstance(operation, Mapping):
            problems.append(f"the schema does not declare {op.label}: its identifiers are untested")
            continue
        documented = _documented_4xx(operation)
        found = [
            slot
            for name, where, schema, required in _declared(raw, item, operation)
            if (slot := _slot(raw, op, name, where, schema, required, documented, problems))
        ]
        expected = EXPECTED_SLOTS.get((op.method, op.path), frozenset())
        missing = sorted(expected - {s.name for s in found})
        if missing:
            problems.append(
                f"the schema no longer declares {', '.join(missing)} on {op.label}: untested"
            )
        if not found:
            without.append(op.label)
        slots.extend(found)
    return Derivation(tuple(slots), tuple(problems), tuple(without))
