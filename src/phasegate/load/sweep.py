"""After a load run: prove that it left nothing behind, and remove what it did leave.

Each simulated user deletes its own items, modules and projects when it stops. The users also
append every project they create to a ledger file (JSON lines, `PHASEGATE_LOAD_LEDGER`), so this
sweep can look inside each of them afterwards, including projects already deleted (SkillMeat
keeps their items reachable by project id). It also searches the project list for names with the
run's prefix, which catches a project whose creation answered an error but happened anyway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from phasegate.client import RateLimited, SkillMeatClient

RETRY_PAUSES_S = (1.0, 2.0, 4.0, 8.0)


@dataclass
class SweepReport:
    projects_checked: int = 0
    leftovers: list[str] = field(default_factory=list)
    removed: int = 0
    problems: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # the target kept answering 429

    @property
    def clean(self) -> bool:
        return not self.leftovers and not self.problems and not self.unverified

    def to_dict(self) -> dict[str, Any]:
        return {
            "projects_checked": self.projects_checked,
            "leftovers_found": len(self.leftovers),
            "leftovers": self.leftovers[:20],
            "removed": self.removed,
            "problems": self.problems[:20],
            "unverified": self.unverified[:20],
        }


def patiently(
    call: Callable[[], httpx.Response], pauses: tuple[float, ...] | None = None
) -> httpx.Response:
    """Retry a call the target's limiter refused, waiting longer each time; RateLimited at last."""
    for pause in RETRY_PAUSES_S if pauses is None else pauses:
        try:
            return call()
        except RateLimited:
            time.sleep(pause)
    return call()


def read_ledger(path: Path) -> dict[str, str]:
    """Project id -> name, from the users' ledger (missing file: nothing recorded)."""
    projects: dict[str, str] = {}
    try:
        lines = path.read_text("utf-8").splitlines()
    except OSError:
        return projects
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut by a killed process
        if isinstance(event, dict) and event.get("kind") == "project" and event.get("id"):
            projects[str(event["id"])] = str(event.get("name", ""))
    return projects


def _pages(api: SkillMeatClient, method: str, project_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        if method == "items":
            response = patiently(partial(api.list_items, project_id, **params))
        else:
            response = patiently(partial(api.list_modules, project_id, **params))
        if response.status_code != 200:
            raise RuntimeError(f"listing {method} of {project_id} answered {response.status_code}")
        body = response.json()
        found.extend(x for x in body.get("items", []) if isinstance(x, dict))
        cursor = body.get("next_cursor")
        if not body.get("has_more") or not cursor:
            break
    return found


def _listed_projects(api: SkillMeatClient) -> dict[str, str]:
    listed: dict[str, str] = {}
    response = patiently(partial(api.list_projects, limit=100))
    for _ in range(50):
        if response.status_code != 200:
            break
        body = response.json()
        for project in body.get("items", []):
            listed[str(project.get("id"))] = str(project.get("name", ""))
        info = body.get("page_info") or {}
        cursor = info.get("end_cursor")
        if not info.get("has_next_page") or not cursor:
            break
        response = patiently(partial(api.list_projects, limit=100, after=cursor))
    return listed


def sweep(api: SkillMeatClient, ledger: Path, name_prefix: str) -> SweepReport:
    """Find and delete what the run left; every finding is reported, nothing is hidden."""
    report = SweepReport()
    projects = read_ledger(ledger)
    try:
        listed = _listed_projects(api)
    except RateLimited as exc:
        report.unverified.append(f"listing projects: {exc}")
        listed = {}
    except Exception as exc:
        report.problems.append(f"listing projects failed: {exc!r}")
        listed = {}
    live = {pid: name for pid, name in listed.items() if name.startswith(name_prefix)}
    for project_id, name in {**projects, **live}.items():
        report.projects_checked += 1
        try:
            _sweep_project(report, api, project_id, name, project_id in live)
        except RateLimited as exc:
            report.unverified.append(f"project {name or project_id}: {exc}")
        except Exception as exc:  # a sweep problem is reported, never allowed to stop the sweep
            report.problems.append(f"project {name or project_id}: {exc!r}")
    return report


def _sweep_project(
    report: SweepReport, api: SkillMeatClient, project_id: str, name: str, listed: bool
) -> None:
    modules = _pages(api, "modules", project_id)
    items = _pages(api, "items", project_id)
    for module in modules:
        report.leftovers.append(f"module {module.get('id')} in {name}")
        module_id = str(module.get("id"))
        _delete(report, patiently(partial(api.delete_module, module_id)), "module", module)
    for item in items:
        report.leftovers.append(f"item {item.get('id')} in {name}")
        item_id = str(item.get("id"))
        _delete(report, patiently(partial(api.delete_item, item_id)), "item", item)
    if listed:
        report.leftovers.append(f"project {name}")
        response = patiently(partial(api.delete_project, project_id))
        if response.status_code in (200, 204, 404):
            report.removed += 1
        else:
            report.problems.append(f"DELETE project {name} answered {response.status_code}")


def _delete(report: SweepReport, response: Any, kind: str, thing: dict[str, Any]) -> None:
    if response.status_code in (200, 204, 404):
        report.removed += 1
    else:
        report.problems.append(f"DELETE {kind} {thing.get('id')} answered {response.status_code}")
