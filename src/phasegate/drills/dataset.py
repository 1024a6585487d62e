"""The data a drill must not lose: a recorded set of items, modules and links, and its diff.

A drill stores a small dataset in a project of its own before it touches anything (items of
every type, one deleted again, a module, links), records it as content hashes, and after the
way back reads it again. The same record can be read through the API (what users see) or
straight from a SQLite file (what a backup holds), so a backup is judged by the same rule as the
running service: every recorded row back identical, and nothing deleted come back unannounced.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from phasegate.client import ListingIncomplete, SkillMeatClient
from phasegate.ratelimit import RateLimited
from phasegate.resources import Registry, Resource

TYPES = ("decision", "constraint", "gotcha", "style_rule", "learning")
LINKED = 3  # items linked to the module


def _digest(*parts: object) -> str:
    text = json.dumps([str(p) for p in parts], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def item_digest(row: Mapping[str, Any]) -> str:
    """What identifies an item's content: type, content, status, confidence, content_hash."""
    confidence = row.get("confidence")
    rounded = round(float(confidence), 4) if isinstance(confidence, int | float) else confidence
    return _digest(
        row.get("type"), row.get("content"), row.get("status"), rounded, row.get("content_hash")
    )


def module_digest(row: Mapping[str, Any]) -> str:
    return _digest(row.get("name"), row.get("description"), row.get("priority"))


@dataclass(frozen=True)
class Snapshot:
    """Items and modules by id (content digest), links as (module id, item id) pairs."""

    items: dict[str, str] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    links: frozenset[tuple[str, str]] = frozenset()
    problem: str | None = None  # the snapshot could not be read to its end
    transient: bool = False  # the problem was a transport error (timeout, refused): try again

    def counts(self) -> dict[str, int]:
        return {"items": len(self.items), "modules": len(self.modules), "links": len(self.links)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts(),
            "items": dict(sorted(self.items.items())),
            "modules": dict(sorted(self.modules.items())),
            "links": sorted(f"{m}->{i}" for m, i in self.links),
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Diff:
    """How `after` differs from the recorded `before` (and from what was deleted on purpose)."""

    missing: dict[str, list[str]]
    changed: dict[str, list[str]]
    resurrected: list[str]  # ids deleted before the record that came back
    extra: dict[str, list[str]]  # rows the record did not have (reported, not a loss)

    @property
    def lost(self) -> int:
        return sum(len(v) for v in self.missing.values()) + sum(
            len(v) for v in self.changed.values()
        )

    @property
    def identical(self) -> bool:
        return self.lost == 0 and not self.resurrected

    def to_dict(self) -> dict[str, Any]:
        return {
            "identical": self.identical,
            "missing": self.missing,
            "changed": self.changed,
            "resurrected": self.resurrected,
            "extra": self.extra,
        }

    def describe(self) -> str:
        parts = [f"{len(v)} {kind} missing" for kind, v in self.missing.items() if v]
        parts += [f"{len(v)} {kind} changed" for kind, v in self.changed.items() if v]
        if self.resurrected:
            parts.append(f"{len(self.resurrected)} deleted item(s) came back")
        return ", ".join(parts) or "identical"


def compare(before: Snapshot, after: Snapshot, deleted: frozenset[str] = frozenset()) -> Diff:
    missing: dict[str, list[str]] = {}
    changed: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    for kind, old, new in (
        ("items", before.items, after.items),
        ("modules", before.modules, after.modules),
    ):
        missing[kind] = sorted(set(old) - set(new))
        changed[kind] = sorted(k for k in set(old) & set(new) if old[k] != new[k])
        extra[kind] = sorted(set(new) - set(old) - deleted)
    missing["links"] = sorted(f"{m}->{i}" for m, i in before.links - after.links)
    extra["links"] = sorted(f"{m}->{i}" for m, i in after.links - before.links)
    resurrected = sorted(deleted & set(after.items))
    return Diff(missing, changed, resurrected, extra)


@dataclass(frozen=True)
class Dataset:
    """The stored dataset: its project, what was recorded, and the item deleted on purpose."""

    project_id: str
    project_name: str
    record: Snapshot
    deleted: frozenset[str]


class DatasetError(RuntimeError):
    """The dataset could not be stored: the drill cannot start (INCONCLUSIVE, with this)."""


def store(
    api: SkillMeatClient, registry: Registry, name: str, folder: str, items: int = 8
) -> Dataset:
    """Create a project with `items` items (one of them deleted again), a module and links.

    The project goes into `registry` (and its ledger) at once, so the drill's cleanup and the
    orphan scan know it, whatever happens next.
    """
    created = api.create_project(name, folder)
    if created.status_code != 201:
        raise DatasetError(f"POST /projects answered {created.status_code}: {created.text[:200]}")
    project_id = str(created.json()["id"])
    registry.add(Resource("project", project_id, name))
    ids: list[str] = []
    for n in range(items):
        body = {
            "type": TYPES[n % len(TYPES)],
            "content": f"{name} drill memory {n}: keep this exact text {n * 7919}",
            "confidence": round(0.5 + n / (2 * items), 2),
            "status": "active" if n % 2 else "candidate",
        }
        answer = api.create_item(project_id, body)
        if answer.status_code != 201:
            raise DatasetError(
                f"POST /memory-items answered {answer.status_code}: {answer.text[:200]}"
            )
        ids.append(str(answer.json()["id"]))
    doomed = ids.pop()
    gone = api.delete_item(doomed)
    if gone.status_code != 204:
        raise DatasetError(f"DELETE /memory-items answered {gone.status_code}")
    module = api.create_module(
        project_id,
        {"name": f"{name}-module", "description": "drill module", "priority": 5},
    )
    if module.status_code != 201:
        raise DatasetError(
            f"POST /context-modules answered {module.status_code}: {module.text[:200]}"
        )
    module_id = str(module.json()["id"])
    for item_id in ids[:LINKED]:
        link = api.link_memory(module_id, item_id)
        if link.status_code not in (200, 201):
            raise DatasetError(f"linking answered {link.status_code}: {link.text[:200]}")
    record = read_api(api, project_id)
    if record.problem:
        raise DatasetError(f"the stored dataset cannot be read back: {record.problem}")
    return Dataset(project_id, name, record, frozenset({doomed}))


def read_api(api: SkillMeatClient, project_id: str) -> Snapshot:
    """The dataset as users see it; an unreadable answer is a stated problem, never "empty"."""
    try:
        items = {str(row["id"]): item_digest(row) for row in api.walk_items(project_id)}
        modules_answer = api.list_modules(project_id)
        if modules_answer.status_code != 200:
            raise ListingIncomplete(f"GET /context-modules answered {modules_answer.status_code}")
        module_rows = modules_answer.json().get("items", [])
        modules = {str(row["id"]): module_digest(row) for row in module_rows}
        links: set[tuple[str, str]] = set()
        for module_id in modules:
            answer = api.module_memories(module_id)
            if answer.status_code != 200:
                raise ListingIncomplete(
                    f"GET /context-modules/{module_id}/memories answered {answer.status_code}"
                )
            body = answer.json()
            rows = body.get("items", body) if isinstance(body, dict) else body
            for row in rows if isinstance(rows, list) else []:
                item_id = row.get("id") or row.get("memory_id")
                if item_id:
                    links.add((module_id, str(item_id)))
    except (ListingIncomplete, ValueError, KeyError, AttributeError, TypeError) as exc:
        return Snapshot(problem=f"{type(exc).__name__}: {exc}")
    except RateLimited as exc:
        return Snapshot(problem=f"rate-limited: {exc}")
    except httpx.TransportError as exc:  # timeout, refused, reset: the service did not answer
        return Snapshot(problem=f"{type(exc).__name__}: {exc}", transient=True)
    return Snapshot(items, modules, frozenset(links))


def read_back(
    api: SkillMeatClient, project_id: str, attempts: int = 3, pause_s: float = 2.0
) -> Snapshot:
    """`read_api` after a restart: a transport error (a slow first answer) is asked again, a
    wrong answer is not; the last problem stays the snapshot's problem."""
    snapshot = read_api(api, project_id)
    for _ in range(attempts - 1):
        if not snapshot.transient:
            break
        time.sleep(pause_s)
        snapshot = read_api(api, project_id)
    return snapshot


def read_sqlite(path: Path, project_id: str) -> Snapshot:
    """The dataset as a SQLite file holds it (read-only; a damaged file is a stated problem)."""
    if not path.exists():
        return Snapshot(problem=f"{path} does not exist")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT id, type, content, status, confidence, content_hash FROM memory_items "
                "WHERE project_id = ?",
                (project_id,),
            ).fetchall()
            items = {str(r["id"]): item_digest(dict(r)) for r in rows}
            mods = db.execute(
                "SELECT id, name, description, priority FROM context_modules WHERE project_id = ?",
                (project_id,),
            ).fetchall()
            modules = {str(r["id"]): module_digest(dict(r)) for r in mods}
            links = db.execute(
                "SELECT l.module_id, l.memory_id FROM module_memory_items l "
                "JOIN context_modules m ON m.id = l.module_id WHERE m.project_id = ?",
                (project_id,),
            ).fetchall()
        return Snapshot(items, modules, frozenset((str(a), str(b)) for a, b in links))
    except sqlite3.Error as exc:
        return Snapshot(problem=f"sqlite: {exc}")


def integrity(path: Path) -> str:
    """`PRAGMA integrity_check` of a file: "ok", SQLite's complaint, or why it could not run."""
    if not path.exists():
        return f"{path} does not exist"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows[:5])
    except sqlite3.Error as exc:
        return f"sqlite: {exc}"
