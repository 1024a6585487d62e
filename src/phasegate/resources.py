"""Test data that cleans up after itself, and proof that it did.

Every project, item and module a run creates carries the run's prefix, is written to a ledger
the moment it exists, and is deleted in reverse order of creation. The ledger is a file, so the
orphan scan at the end of the run (and a later run, after a crash) can see what each worker made.
How each kind is deleted and proven gone, and what missing data means, is `cleanup.py`'s.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegate.cleanup import ITEMS, MODULES, PROJECTS, SERVICES, Unverified
from phasegate.cleanup import ResourceKind as ResourceKind  # where the checks import it from
from phasegate.client import SkillMeatClient


def new_run_id() -> str:
    return f"pg-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Resource:
    kind: ResourceKind
    id: str
    label: str = ""
    project_id: str | None = None


class Ledger:
    """Append-only JSON lines, one file per process, safe against concurrent test threads."""

    def __init__(self, directory: Path, run_id: str, worker: str) -> None:
        self.path = directory / f"ledger-{run_id}-{worker}.jsonl"
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)

    def _append(self, event: str, resource: Resource) -> None:
        line = json.dumps(
            {
                "event": event,
                "kind": resource.kind,
                "id": resource.id,
                "label": resource.label,
                "project_id": resource.project_id,
                "at": time.time(),
            }
        )
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def created(self, resource: Resource) -> None:
        self._append("created", resource)

    def deleted(self, resource: Resource) -> None:
        self._append("deleted", resource)


def read_ledgers(directory: Path, run_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for path in sorted(directory.glob(f"ledger-{run_id}-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                events.append(json.loads(line))
    return events


@dataclass
class CleanupFailure:
    resource: Resource
    detail: str


@dataclass
class Registry:
    """Resources one scope (a test, or the session) created, deleted last-in first-out."""

    api: SkillMeatClient
    ledger: Ledger
    _stack: list[Resource] = field(default_factory=list)

    def add(self, resource: Resource) -> Resource:
        self.ledger.created(resource)
        self._stack.append(resource)
        return resource

    def forget(self, resource: Resource) -> None:
        """The check deleted it itself (a delete round trip): record that, skip it later."""
        if resource in self._stack:
            self._stack.remove(resource)
        self.ledger.deleted(resource)

    def __iter__(self) -> Iterator[Resource]:
        return iter(list(self._stack))

    def cleanup(self) -> list[CleanupFailure]:
        failures: list[CleanupFailure] = []
        while self._stack:
            resource = self._stack.pop()
            try:
                deletion = SERVICES[resource.kind].delete(self.api, resource.id)
            except Exception as exc:  # a cleanup problem is reported, never allowed to stop cleanup
                failures.append(CleanupFailure(resource, repr(exc)))
                continue
            if deletion.gone:
                self.ledger.deleted(resource)
            else:
                failures.append(CleanupFailure(resource, deletion.detail))
        return failures


@dataclass(frozen=True)
class Orphan:
    resource: Resource
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.resource.kind,
            "id": self.resource.id,
            "label": self.resource.label,
            "detail": self.detail,
        }


def scan_orphans(api: SkillMeatClient, events: list[dict[str, Any]], run_id: str) -> list[Orphan]:
    """Ask the target about everything the ledgers say the run created.

    Items and modules must answer 404. A deleted project is only a tombstone in 0.74.0 (its GET
    still answers 200), so a project counts as gone when the project list no longer shows it.
    The project list is also searched for the run prefix, which catches a project whose creation
    answered an error but happened anyway.
    """
    created: dict[tuple[str, str], Resource] = {}
    for event in events:
        if event["event"] == "created":
            resource = Resource(
                event["kind"], event["id"], event.get("label", ""), event.get("project_id")
            )
            created[(resource.kind, resource.id)] = resource
    orphans: list[Orphan] = []
    for resource in created.values():
        if resource.kind in (ITEMS.kind, MODULES.kind):  # projects: by the listing below
            for detail in SERVICES[resource.kind].still_there(api, [resource.id]).values():
                orphans.append(Orphan(resource, detail))
    try:
        listed = PROJECTS.names(api)
    except Unverified as exc:
        raise Unverified(
            f"the project list cannot be read ({exc}), so projects left behind cannot be seen"
        ) from None
    for project_id, name in listed.items():
        if name.startswith(run_id) or ("project", project_id) in created:
            resource = created.get(("project", project_id), Resource("project", project_id, name))
            orphans.append(Orphan(resource, "still in the project list"))
    return orphans


def compute_once(
    directory: Path, stem: str, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Compute a JSON result once per run across processes; later callers read the stored one.

    Several checks judge one expensive measurement (the metric gates one evaluation, a contract
    operation's two finding classes one fuzzing); under xdist they may run in different
    processes, so the first to take the lock computes and the others wait and read.
    """
    directory.mkdir(parents=True, exist_ok=True)
    result_path = directory / f"{stem}.json"
    with (directory / f"{stem}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if result_path.exists():
            stored: dict[str, Any] = json.loads(result_path.read_text("utf-8"))
            return stored
        result = compute()
        result_path.write_text(json.dumps(result), encoding="utf-8")
        return result
