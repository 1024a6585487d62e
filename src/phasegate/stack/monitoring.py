"""Real Prometheus and Alertmanager on 127.0.0.1 for one run, with temp storage.

Prometheus scrapes the given SkillMeat URLs' `/metrics/` every second, evaluates phasegate's alert
rules (the plan's monitoring checklist) and sends to the Alertmanager started beside it. Readiness
is polled, never slept for: Alertmanager `/-/ready`; Prometheus `/-/ready`, then `/api/v1/targets`
shows every target up, then a first sample of each job is queryable.

Optionally a tiny exporter in this process publishes the size of files (SkillMeat's SQLite
database) as `phasegate_database_size_bytes{database=...}`, because SkillMeat exports none.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from phasegate.progress import Progress
from phasegate.stack.ports import LOOPBACK, free_port
from phasegate.stack.process import ManagedProcess
from phasegate.stack.skillmeat import StartError

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
RULES_RESOURCE = "alert-rules.yml"
FILES_JOB = "phasegate-files"


def packaged_rules() -> str:
    """The text of phasegate's alert rules (phasegate/gates/alert-rules.yml)."""
    return resources.files("phasegate.gates").joinpath(RULES_RESOURCE).read_text("utf-8")


@dataclass(frozen=True)
class ScrapeTarget:
    """One service to scrape: its base URL, the job name and any extra target labels."""

    url: str
    job: str = "skillmeat"
    metrics_path: str = "/metrics/"
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        parts = urlsplit(self.url)
        if not parts.hostname or not parts.port:
            raise ValueError(f"scrape target needs host and port: {self.url!r}")
        return f"{parts.hostname}:{parts.port}"

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme or "http"


class FileSizeExporter:
    """Serves `phasegate_database_size_bytes{database=NAME}`: the summed size of NAME's files.

    A database's first path is the database itself; the others are companions that may be
    absent (a checkpointed SQLite WAL). When the first cannot be read, the database gets NO
    sample, only a comment saying why: a 0 would be a flat line the growth gate passes.
    """

    def __init__(self, files: Mapping[str, Sequence[Path]]) -> None:
        self.files = {name: tuple(paths) for name, paths in files.items()}
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="phasegate-file-exporter", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def render(self) -> str:
        lines = [
            "# HELP phasegate_database_size_bytes Summed size of a database's files on disk.",
            "# TYPE phasegate_database_size_bytes gauge",
        ]
        for name, paths in sorted(self.files.items()):
            size = database_size(paths)
            if isinstance(size, str):
                lines.append(f"# database {name}: no sample, {size}")
            else:
                lines.append(f'phasegate_database_size_bytes{{database="{name}"}} {size}')
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def database_size(paths: Sequence[Path]) -> int | str:
    """The summed size in bytes, or why it cannot be known (the database file is unreadable)."""
    if not paths:
        return "no files configured"
    try:
        size = paths[0].stat().st_size
    except OSError as exc:
        return f"cannot read {paths[0]}: {exc.strerror or exc}"
    for companion in paths[1:]:
        try:
            size += companion.stat().st_size
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"cannot read {companion}: {exc.strerror or exc}"
    return size


def sqlite_files(db: Path) -> tuple[Path, ...]:
    """A SQLite database in WAL mode is three files."""
    return (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))


class MonitoringStack:
    """Prometheus + Alertmanager as child processes; `start()` returns once data is queryable."""

    def __init__(
        self,
        targets: Sequence[ScrapeTarget],
        *,
        log_dir: Path,
        scrape_interval_s: float = 1.0,
        rules: str | None = None,
        files: Mapping[str, Sequence[Path]] | None = None,
        progress: Progress = print,
        ready_timeout_s: float = 60.0,
    ) -> None:
        if not targets:
            raise ValueError("MonitoringStack needs at least one scrape target")
        self.targets = tuple(targets)
        self.log_dir = log_dir
        self.scrape_interval_s = scrape_interval_s
        self.rules = packaged_rules() if rules is None else rules
        self.files = dict(files or {})
        self.progress = progress
        self.ready_timeout_s = ready_timeout_s
        self.root: Path | None = None
        self.prometheus: ManagedProcess | None = None
        self.alertmanager: ManagedProcess | None = None
        self.exporter: FileSizeExporter | None = None
        self.prometheus_port = 0
        self.alertmanager_port = 0
        self.started_at = 0.0
        self.first_sample_at = 0.0
        self.timings: dict[str, float] = {}

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.prometheus_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{LOOPBACK}:{self.alertmanager_port}"

    @property
    def jobs(self) -> tuple[str, ...]:
        jobs = dict.fromkeys(t.job for t in self.targets)
        if self.exporter is not None:
            jobs[FILES_JOB] = None
        return tuple(jobs)

    def __enter__(self) -> MonitoringStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- configuration --

    def _interval(self) -> str:
        return f"{max(self.scrape_interval_s, 0.001):g}s"

    def prometheus_config(self) -> dict[str, Any]:
        interval = self._interval()
        jobs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for target in self.targets:
            key = (target.job, target.metrics_path, target.scheme)
            jobs.setdefault(key, []).append(
                {"targets": [target.address], "labels": dict(target.labels)}
            )
        scrape_configs: list[dict[str, Any]] = [
            {
                "job_name": job,
                "metrics_path": path,
                "scheme": scheme,
                "static_configs": statics,
            }
            for (job, path, scheme), statics in jobs.items()
        ]
        if self.exporter is not None:
            scrape_configs.append(
                {
                    "job_name": FILES_JOB,
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [f"{LOOPBACK}:{self.exporter.port}"]}],
                }
            )
        return {
            "global": {
                "scrape_interval": interval,
                # A scrape may not outlast the interval (Prometheus refuses the config otherwise).
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": ["alert-rules.yml"],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [f"{LOOPBACK}:{self.alertmanager_port}"]}]}
                ]
            },
            "scrape_configs": scrape_configs,
        }

    @staticmethod
    def alertmanager_config() -> dict[str, Any]:
        # Alerts only need to be visible in the API: one receiver that notifies nobody.
        return {
            "route": {
                "receiver": "phasegate-null",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [{"name": "phasegate-null"}],
        }

    # -- lifecycle --

    def start(self) -> MonitoringStack:
        for binary in (PROMETHEUS, ALERTMANAGER):
            if not Path(binary).exists():
                raise StartError(
                    f"{binary} is missing: install the Debian packages prometheus and "
                    "prometheus-alertmanager (make system)"
                )
        self.started_at = time.time()
        t0 = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="phasegate-monitoring-"))
        try:
            self._start(t0)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, t0: float) -> None:
        assert self.root is not None
        if self.files:
            self.exporter = FileSizeExporter(self.files)
            self.exporter.start()
        am_dir, prom_dir = self.root / "alertmanager", self.root / "prometheus"
        (am_dir / "data").mkdir(parents=True)
        (prom_dir / "data").mkdir(parents=True)
        self.alertmanager_port = free_port()
        (am_dir / "alertmanager.yml").write_text(json.dumps(self.alertmanager_config(), indent=1))
        self.alertmanager = ManagedProcess(
            "alertmanager",
            [
                ALERTMANAGER,
                f"--config.file={am_dir / 'alertmanager.yml'}",
                f"--storage.path={am_dir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.alertmanager_port}",
                # Empty: no cluster listener (it would bind every interface).
                "--cluster.listen-address=",
            ],
            log_path=self.log_dir / "alertmanager.log",
            cwd=am_dir,
        )
        self.prometheus_port = free_port()
        (prom_dir / "alert-rules.yml").write_text(self.rules)
        (prom_dir / "prometheus.yml").write_text(json.dumps(self.prometheus_config(), indent=1))
        self.prometheus = ManagedProcess(
            "prometheus",
            [
                PROMETHEUS,
                f"--config.file={prom_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={prom_dir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{self.prometheus_port}",
                "--web.enable-lifecycle",
                # The first notifications go out before the notifier has discovered Alertmanager
                # (~5 s) and are dropped; the default 1 m resend delay would hide an alert that
                # fires at start for a minute.
                f"--rules.alert.resend-delay={max(2.0, self.scrape_interval_s):g}s",
                "--storage.tsdb.retention.time=2d",
            ],
            log_path=self.log_dir / "prometheus.log",
            cwd=prom_dir,
        )
        deadline = t0 + self.ready_timeout_s
        with httpx.Client(timeout=2.0) as http:
            self._poll(
                http,
                deadline,
                self.alertmanager,
                "Alertmanager /-/ready",
                lambda: http.get(f"{self.alertmanager_url}/-/ready").status_code == 200,
            )
            self.timings["alertmanager_ready_s"] = time.monotonic() - t0
            self._poll(
                http,
                deadline,
                self.prometheus,
                "Prometheus /-/ready",
                lambda: http.get(f"{self.prometheus_url}/-/ready").status_code == 200,
            )
            self.timings["prometheus_ready_s"] = time.monotonic() - t0
            self._poll(
                http, deadline, self.prometheus, "every target up", lambda: self._targets_up(http)
            )
            self.timings["targets_up_s"] = time.monotonic() - t0
            self._poll(
                http,
                deadline,
                self.prometheus,
                "a first sample of every job",
                lambda: self._first_samples(http),
            )
            self.timings["first_sample_s"] = time.monotonic() - t0
        self.progress(
            f"monitoring: Prometheus {self.prometheus_url}, Alertmanager {self.alertmanager_url}; "
            f"ready {self.timings['prometheus_ready_s']:.1f} s, first sample "
            f"{self.timings['first_sample_s']:.1f} s after start"
        )

    def _poll(
        self,
        http: httpx.Client,
        deadline: float,
        process: ManagedProcess,
        what: str,
        check: Callable[[], bool],
    ) -> None:
        last_error = ""
        while time.monotonic() < deadline:
            code = process.exit_code()
            if code is not None:
                raise StartError(
                    f"{process.name} exited with {code} while waiting for {what}; "
                    f"log {process.log_path}:\n{process.log_tail()}"
                )
            try:
                if check():
                    return
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.1)
        raise StartError(
            f"monitoring not ready: no {what} after {self.ready_timeout_s:.0f} s "
            f"({last_error or 'condition not met'}); log {process.log_path}:\n"
            f"{process.log_tail()}"
        )

    def _targets_up(self, http: httpx.Client) -> bool:
        data = http.get(f"{self.prometheus_url}/api/v1/targets").json()["data"]
        active = data.get("activeTargets", [])
        expected = len(self.targets) + (1 if self.exporter is not None else 0)
        return len(active) >= expected and all(t.get("health") == "up" for t in active)

    def _first_samples(self, http: httpx.Client) -> bool:
        for job in self.jobs:
            response = http.get(
                f"{self.prometheus_url}/api/v1/query",
                params={"query": f'up{{job="{job}"}} == 1', "time": f"{time.time():.3f}"},
            )
            if response.status_code != 200 or not response.json()["data"]["result"]:
                return False
        # The raw samples of `up` carry the time of each target's first scrape.
        series = http.get(
            f"{self.prometheus_url}/api/v1/query",
            params={"query": "up[10m]", "time": f"{time.time():.3f}"},
        ).json()["data"]["result"]
        self.first_sample_at = min(float(s["values"][0][0]) for s in series)
        return True

    def stop(self) -> None:
        for name in ("prometheus", "alertmanager"):
            process: ManagedProcess | None = getattr(self, name)
            if process is not None:
                with contextlib.suppress(Exception):
                    process.stop()
                setattr(self, name, None)
        if self.exporter is not None:
            with contextlib.suppress(Exception):
                self.exporter.stop()
            self.exporter = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
