"""After a load run: prove that it left nothing behind, and remove what it did leave.

Each simulated user deletes its own items, modules and projects when it stops. The users also
append every project they create to a ledger file (JSON lines, `PHASEGATE_LOAD_LEDGER`), so this
sweep can look inside each of them afterwards, including projects already deleted (SkillMeat
keeps their items reachable by project id). It also searches the project list for names with the
run's prefix, which catches a project whose creation answered an error but happened anyway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegate.cleanup import ITEMS, MODULES, PROJECTS, UNVERIFIED, ResourceService
from phasegate.client import JSON, SkillMeatClient
from phasegate.ratelimit import RateLimitPolicy

# The sweep talks to a target the load may still hold in its limiter: it waits out a refusal.
PATIENCE = RateLimitPolicy()


@dataclass
class SweepReport:
    projects_checked: int = 0
    leftovers: list[str] = field(default_factory=list)
    removed: int = 0
    problems: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # unreadable lists, a limiter that refused

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


def sweep(api: SkillMeatClient, ledger: Path, name_prefix: str) -> SweepReport:
    """Find and delete what the run left; every finding is reported, nothing is hidden.

    The missing-data rule is cleanup.py's: a list the target could not show is unverified.
    """
    report = SweepReport()
    projects = read_ledger(ledger)
    try:
        listed = PROJECTS.names(api, rate_limit=PATIENCE)
    except UNVERIFIED as exc:
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
        except UNVERIFIED as exc:
            report.unverified.append(f"project {name or project_id}: {exc}")
        except Exception as exc:  # a sweep problem is reported, never allowed to stop the sweep
            report.problems.append(f"project {name or project_id}: {exc!r}")
    return report


def _sweep_project(
    report: SweepReport, api: SkillMeatClient, project_id: str, name: str, listed: bool
) -> None:
    modules = MODULES.listed(api, project_id, rate_limit=PATIENCE)
    items = ITEMS.listed(api, project_id, rate_limit=PATIENCE)
    for service, found in ((MODULES, modules), (ITEMS, items)):
        for thing in found:
            report.leftovers.append(f"{service.kind} {thing.get('id')} in {name}")
            _delete(report, api, service, thing)
    if listed:
        report.leftovers.append(f"project {name}")
        deletion = PROJECTS.delete(api, project_id, rate_limit=PATIENCE)
        if deletion.gone:
            report.removed += 1
        else:
            report.problems.append(f"DELETE project {name} answered {deletion.status}")


def _delete(
    report: SweepReport, api: SkillMeatClient, service: ResourceService, thing: JSON
) -> None:
    deletion = service.delete(api, str(thing.get("id")), rate_limit=PATIENCE)
    if deletion.gone:
        report.removed += 1
    else:
        report.problems.append(
            f"DELETE {service.kind} {thing.get('id')} answered {deletion.status}"
        )
