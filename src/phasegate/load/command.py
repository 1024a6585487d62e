"""A bounded locust run as data, and the command lines that perform it.

`LoadPlan` says what to run (host, locustfiles, users, time, classes, tags, workers) and where
its reports go; the functions here only turn it into argv lists and an environment. Nothing is
started here (see `runner`), and locust is never imported: it runs as a subprocess, because
importing it monkey-patches the standard library through gevent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from phasegate.load.config import DURATION_RANGE, SPAWN_RATE_RANGE, USERS_RANGE, WORKERS_RANGE
from phasegate.stack.ports import LOOPBACK

# Read by the locustfiles (tests/load/_skillmeat_traffic.py).
ENV_RUN_ID = "PHASEGATE_RUN_ID"
ENV_LEDGER = "PHASEGATE_LOAD_LEDGER"
ENV_SHAPE = "PHASEGATE_LOAD_SHAPE"
ENV_API_VERSION = "SKILLMEAT_API_VERSION"
ENV_PROJECTS_ROOT = "PHASEGATE_PROJECTS_ROOT"

SHAPES = ("ramp", "steady", "spike")


def project_prefix(run_id: str) -> str:
    """Names of the projects load users create start with this (tests/load/_skillmeat_traffic)."""
    return f"{run_id}-load-"


class PlanError(ValueError):
    """A load plan that must not run (unbounded, or not an http(s) target)."""


@dataclass(frozen=True)
class Artifacts:
    """Where one run's files go: locust's JSON, CSV and HTML, its logs and the users' ledger."""

    out_dir: Path
    name: str = "locust"

    @property
    def json_base(self) -> Path:
        # locust appends ".json" to --json-file
        return self.out_dir / self.name

    @property
    def json(self) -> Path:
        return self.out_dir / f"{self.name}.json"

    @property
    def csv_prefix(self) -> Path:
        return self.out_dir / self.name

    @property
    def stats_csv(self) -> Path:
        return self.out_dir / f"{self.name}_stats.csv"

    @property
    def failures_csv(self) -> Path:
        return self.out_dir / f"{self.name}_failures.csv"

    @property
    def html(self) -> Path:
        return self.out_dir / f"{self.name}.html"

    @property
    def log(self) -> Path:
        return self.out_dir / f"{self.name}.log"

    def worker_log(self, index: int) -> Path:
        return self.out_dir / f"{self.name}-worker{index}.log"

    @property
    def ledger(self) -> Path:
        return self.out_dir / f"{self.name}-ledger.jsonl"

    def all_files(self) -> list[Path]:
        return sorted(p for p in self.out_dir.glob(f"{self.name}*") if p.is_file())


@dataclass(frozen=True)
class LoadPlan:
    host: str
    locustfiles: Path
    out_dir: Path
    users: int
    run_time_s: int
    spawn_rate: float
    user_classes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    workers: int = 0
    stop_timeout_s: int = 30
    run_id: str = ""
    api_version: str = "v1"
    shape: str | None = None
    name: str = "locust"
    python: str = sys.executable

    def __post_init__(self) -> None:
        # locust runs in out_dir; every path it is given must not depend on that.
        object.__setattr__(self, "out_dir", self.out_dir.resolve())
        object.__setattr__(self, "locustfiles", self.locustfiles.resolve())
        parts = urlsplit(self.host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PlanError(f"host {self.host!r} is not an http(s) URL")
        checks = (
            ("users", self.users, USERS_RANGE),
            ("run_time_s", self.run_time_s, DURATION_RANGE),
            ("workers", self.workers, WORKERS_RANGE),
        )
        for label, value, (low, high) in checks:
            if not low <= value <= high:
                raise PlanError(f"{label}={value} outside {low}..{high}")
        low_rate, high_rate = SPAWN_RATE_RANGE
        if not low_rate <= self.spawn_rate <= high_rate:
            raise PlanError(f"spawn_rate={self.spawn_rate} outside {low_rate}..{high_rate}")
        if not 0 <= self.stop_timeout_s <= 300:
            raise PlanError(f"stop_timeout_s={self.stop_timeout_s} outside 0..300")
        if self.shape is not None and self.shape not in SHAPES:
            raise PlanError(f"shape {self.shape!r}: expected one of {', '.join(SHAPES)}")

    @property
    def artifacts(self) -> Artifacts:
        return Artifacts(self.out_dir, self.name)

    @property
    def hard_timeout_s(self) -> float:
        """Past this the run is killed: start-up, the run, the users' cleanup, the reports."""
        spawn_s = self.users / self.spawn_rate
        return self.run_time_s + spawn_s + self.stop_timeout_s + 60 + 5 * self.workers


def _locust(plan: LoadPlan) -> list[str]:
    # User classes are positional: they go before every option, since --tags takes a list.
    return [plan.python, "-m", "locust", "-f", str(plan.locustfiles.resolve()), *plan.user_classes]


def _selection(plan: LoadPlan) -> list[str]:
    """Last on the line: --tags takes every word after it."""
    return ["--tags", *plan.tags] if plan.tags else []


def _headless(plan: LoadPlan) -> list[str]:
    art = plan.artifacts
    return [
        "--headless",
        "--host",
        plan.host,
        "--users",
        str(plan.users),
        "--spawn-rate",
        f"{plan.spawn_rate:g}",
        "--run-time",
        f"{plan.run_time_s}s",
        "--stop-timeout",
        f"{plan.stop_timeout_s}s",
        "--csv",
        str(art.csv_prefix),
        "--html",
        str(art.html),
        "--json-file",
        str(art.json_base),
        "--only-summary",
        "--loglevel",
        "INFO",
    ]


def locust_argv(plan: LoadPlan) -> list[str]:
    """One headless locust process (plan.workers == 0)."""
    return [*_locust(plan), *_headless(plan), *_selection(plan)]


def master_argv(plan: LoadPlan, port: int) -> list[str]:
    """The master of a distributed run, bound to loopback only, waiting for its workers."""
    return [
        *_locust(plan),
        *_headless(plan),
        "--master",
        "--master-bind-host",
        LOOPBACK,
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(plan.workers),
        "--expect-workers-max-wait",
        "30",
        *_selection(plan),
    ]


def worker_argv(plan: LoadPlan, port: int, master_host: str = LOOPBACK) -> list[str]:
    """One worker; on another machine, point master_host at the master (see tests/load/README)."""
    return [
        *_locust(plan),
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(port),
        "--loglevel",
        "INFO",
        *_selection(plan),
    ]


def locust_env(plan: LoadPlan, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every locust process of the run.

    The user's own LOCUST_* variables are dropped (they would change the run behind the plan's
    back) and a load shape is only set when the plan asks for one.
    """
    source = os.environ if base is None else base
    env = {
        k: v
        for k, v in source.items()
        if not k.startswith("LOCUST_") and k not in (ENV_SHAPE, ENV_LEDGER, ENV_RUN_ID)
    }
    env["PYTHONUNBUFFERED"] = "1"
    env[ENV_API_VERSION] = plan.api_version
    env[ENV_LEDGER] = str(plan.artifacts.ledger)
    if plan.run_id:
        env[ENV_RUN_ID] = plan.run_id
    if plan.shape:
        env[ENV_SHAPE] = plan.shape
    return env
