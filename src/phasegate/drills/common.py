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
from typing import Any

import httpx

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.drills import dataset
from phasegate.drills.model import BackgroundTraffic, Timeline
from phasegate.progress import Progress
from phasegate.resources import Ledger, Registry

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


class DrillSession:
    """One drill's client, cleanup registry, traffic and timeline, released in one place.

    `prepare` stores the dataset (its project registered for cleanup at once) and starts the
    traffic; `close` stops the traffic, deletes what the drill made and returns the timeline.
    """

    def __init__(self, context: DrillContext, check_id: str, label: str) -> None:
        self.context = context
        self.timeline = Timeline(context.progress, label)
        self.api = context.client(check_id)
        self.registry = Registry(self.api, context.ledger)
        self.traffic: BackgroundTraffic | None = None

    def prepare(self, suffix: str, traffic_s: float) -> tuple[dataset.Dataset, BackgroundTraffic]:
        """Store the dataset, then start the traffic; DatasetError when it cannot be stored."""
        name = f"{self.context.config.run_id}-{suffix}"
        self._warm_up()
        try:
            stored = dataset.store(self.api, self.registry, name, self.context.folder(name))
        except httpx.HTTPError as exc:
            raise dataset.DatasetError(repr(exc)) from exc
        self.timeline.mark("dataset stored", **stored.record.counts())
        self.traffic = BackgroundTraffic(
            self.context.config,
            self.context.ledger,
            self.context.projects_root,
            rate_per_s=self.context.traffic_rate_per_s,
            max_seconds=traffic_s,
        )
        self.traffic.start()
        self.timeline.mark("traffic running", requests=self.traffic.tally.requests)
        return stored, self.traffic

    def _warm_up(self, attempts: int = 3) -> None:
        """One read before the first write: SkillMeat's first request after a start takes
        seconds (more on busy cores), and a timed-out POST might still have written."""
        for _ in range(attempts):
            try:
                self.api.api("GET", "/projects")
                return
            except httpx.TransportError:
                time.sleep(1.0)

    def close(self) -> list[dict[str, Any]]:
        if self.traffic is not None:
            self.traffic.stop()
        left = self.registry.cleanup()
        if left:
            self.timeline.mark("cleanup incomplete", left=[f.detail for f in left])
        self.api.close()
        return self.timeline.to_list()
