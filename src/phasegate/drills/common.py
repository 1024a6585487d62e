"""What each drill needs from its caller, and the probes they share.

A drill never reads options: the CLI (or a self-test) builds a `DrillContext` naming the target,
the run's ledger and the folder the server may create projects under, and hands the drill the
actions that change the deployment (restart with the flag OFF, start the older release, ...).
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.progress import Progress
from phasegate.resources import Ledger

Action = Callable[[], None]
FLAG = "memory_context_enabled"
REFUSED = (403, 404, 503)  # what phase 1 accepts as "the feature is disabled"


@dataclass(frozen=True)
class DrillContext:
    config: ClientConfig
    ledger: Ledger
    projects_root: str  # where the server may create the drill's project folders
    progress: Progress = print
    traffic_rate_per_s: float = 4.0

    def client(self, check_id: str) -> SkillMeatClient:
        return SkillMeatClient(self.config, check_id=check_id)

    def folder(self, name: str) -> str:
        return f"{self.projects_root.rstrip('/')}/{name}"


class CommandFailed(RuntimeError):
    """A user's command exited non-zero; the message says which and how."""


def shell_action(option: str, command: str, timeout_s: float = 600.0) -> Action:
    """A user's command (`--disable-cmd` ...) as an action; its failure names the option."""

    def run() -> None:
        done = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if done.returncode != 0:
            raise CommandFailed(
                f"{option} {shlex.quote(command)} exited {done.returncode}: "
                f"{(done.stderr or done.stdout)[-500:]}"
            )

    return run


def flag_state(http: httpx.Client, url: str, api_version: str = "v1") -> bool | None:
    """The feature flag as the config reports it; None when unreadable or not reported."""
    try:
        answer = http.get(f"{url}/api/{api_version}/config/feature-flags")
        if answer.status_code != 200:
            return None
        value = answer.json().get(FLAG)
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return value if isinstance(value, bool) else None


def write_probe(api: SkillMeatClient, project_id: str, label: str) -> dict[str, Any]:
    """Try one memory write; an accepted one is deleted at once (and said so)."""
    try:
        answer = api.create_item(
            project_id,
            {"type": "gotcha", "content": f"{label} write probe {time.time_ns()}"},
        )
    except httpx.HTTPError as exc:
        return {"status": None, "error": repr(exc)}
    probe: dict[str, Any] = {"status": answer.status_code, "body": answer.text[:200]}
    if answer.status_code in (200, 201):
        try:
            item_id = str(answer.json()["id"])
        except (ValueError, KeyError, TypeError):
            return probe
        probe["accepted_item_id"] = item_id
        try:
            probe["deleted_again"] = api.delete_item(item_id).status_code
        except httpx.HTTPError as exc:
            probe["deleted_again"] = repr(exc)
    return probe


def refused(probe: dict[str, Any]) -> bool:
    return probe.get("status") in REFUSED


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def project_folder(root: Path, name: str) -> str:
    return str(root / name)
