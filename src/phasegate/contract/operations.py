"""The Memory & Context operations the contract suite fuzzes, as reviewed data.

The list is fixed here rather than read from the target's OpenAPI at collection time: check ids
must be known before a target is reached (so `--collect-only` and verdict history work), and an
operation that disappears from the target's own schema must show up as a failure, not as a
silently shorter run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Paths below the API prefix (`/api/v1`) that make up the Memory & Context family.
FAMILY_PREFIXES = ("/memory-items", "/context-modules", "/context-packs")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, repr=False)
class OperationSpec:
    method: str
    path: str  # below the API prefix, with the target schema's own parameter names
    # Body fields naming a directory on the target host: never fuzzed, always a run-owned folder.
    server_dirs: tuple[str, ...] = ()

    @property
    def read_only(self) -> bool:
        return self.method in READ_METHODS

    @property
    def param_id(self) -> str:
        """A readable pytest id: `get memory-items {item_id}` -> `get-memory-items-item_id`."""
        words = re.sub(r"[{}]", "", self.path).strip("/").replace("/", "-")
        return f"{self.method.lower()}-{words}"

    def full_path(self, api_prefix: str) -> str:
        return f"{api_prefix.rstrip('/')}{self.path}"

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def __repr__(self) -> str:  # what pytest and Allure show as the parameter
        return self.label


def _ops(method: str, *paths: str) -> tuple[OperationSpec, ...]:
    return tuple(OperationSpec(method, path) for path in paths)


OPERATIONS: tuple[OperationSpec, ...] = (
    *_ops(
        "GET",
        "/memory-items",
        "/memory-items/count",
        "/memory-items/search",
        "/memory-items/global",
        "/memory-items/{item_id}",
        "/context-modules",
        "/context-modules/{module_id}",
        "/context-modules/{module_id}/memories",
    ),
    *_ops(
        "POST",
        "/memory-items",
        "/memory-items/{item_id}/promote",
        "/memory-items/{item_id}/deprecate",
        "/memory-items/bulk-promote",
        "/memory-items/bulk-deprecate",
        "/memory-items/merge",
        "/memory-items/extract/preview",
        "/memory-items/extract/apply",
        "/context-modules",
        "/context-modules/{module_id}/memories",
        "/context-packs/preview",
        "/context-packs/generate",
    ),
    OperationSpec("POST", "/memory-items/export", server_dirs=("out_dir",)),
    OperationSpec("POST", "/memory-items/import", server_dirs=("in_dir",)),
    *_ops("PUT", "/memory-items/{item_id}", "/context-modules/{module_id}"),
    *_ops(
        "DELETE",
        "/memory-items/{item_id}",
        "/context-modules/{module_id}",
        "/context-modules/{module_id}/memories/{memory_id}",
    ),
)


def family_operations(raw_schema: Mapping[str, Any], api_prefix: str) -> set[tuple[str, str]]:
    """(method, path below the prefix) of every Memory & Context operation a schema declares."""
    found: set[tuple[str, str]] = set()
    prefix = api_prefix.rstrip("/")
    for path, item in (raw_schema.get("paths") or {}).items():
        if not isinstance(path, str) or not path.startswith(prefix):
            continue
        short = path[len(prefix) :]
        if not short.startswith(FAMILY_PREFIXES) or not isinstance(item, Mapping):
            continue
        for method in item:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                found.add((method.upper(), short))
    return found


def uncatalogued(
    raw_schema: Mapping[str, Any], api_prefix: str, catalog: Iterable[OperationSpec] = OPERATIONS
) -> list[str]:
    """Family operations the target declares that this suite does not fuzz, as labels."""
    known = {(op.method, op.path) for op in catalog}
    return sorted(
        f"{m} {p}" for m, p in family_operations(raw_schema, api_prefix) if (m, p) not in known
    )
