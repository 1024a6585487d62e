"""Helpers of the gate self-tests that start real processes (not a test module).

- SkillMeatDouble: a stdlib HTTP server on 127.0.0.1 whose /metrics/ imitates SkillMeat 0.74.0's
  Prometheus exposition (same metric names, labels and histogram buckets), with traffic that
  the test chooses: requests per second, the share of 5xx, the share slower than 0.5 s, resident
  memory and CPU, plus sudden jumps of the counters.
- run_phase: a phase run of tests/gates/test_metric_gates.py in a child pytest, as a user runs it.
- leftovers: processes whose command line still names one of a run's ports.
- by_severity: what a real Alertmanager holds now, grouped by severity (waiting for an alert).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from phasegate.gates.alertmanager import AlertmanagerClient

if TYPE_CHECKING:
    from phasegate.gates.alertmanager import Alert

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
# The request counter as every gate counts it: the suite's application traffic only.
APP_REQUESTS = (
    'sum(skillmeat_api_requests_total{job="skillmeat",endpoint!~"/metrics.*|/health.*"}) '
    "or vector(0)"
)
# prometheus_client's default buckets, as SkillMeat 0.74.0 exports them.
BUCKETS = (
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0",
    "7.5", "10.0", "+Inf",
)  # fmt: skip
FAST_S, SLOW_S = 0.08, 0.9  # where the double's observations fall: under / over le="0.5"
# (method, endpoint, share of the traffic); the shares add up to 1.
ENDPOINTS = (
    ("GET", "/api/v1/memory-items", 0.4),
    ("GET", "/api/v1/memory-items/count", 0.2),
    ("POST", "/api/v1/memory-items", 0.1),
    ("POST", "/api/v1/context-packs/preview", 0.3),
)


@dataclass(frozen=True)
class Traffic:
    per_second: float
    error_share: float = 0.0
    slow_share: float = 0.0
    rss_bytes: float = 250 * MIB
    cpu_per_second: float = 0.05


class SkillMeatDouble:
    """Counters that grow with time (and jump on `add`); always monotone, never reset."""

    def __init__(self, traffic: Traffic) -> None:
        self.traffic = traffic
        self._lock = threading.Lock()
        self._extra = 0
        self._scrapes = 0
        self._started = time.monotonic()
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path in ("/metrics", "/metrics/"):
                    body = double.render().encode()
                    kind = "text/plain; version=0.0.4; charset=utf-8"
                elif path == "/health":
                    body, kind = json.dumps({"status": "healthy"}).encode(), "application/json"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="skillmeat-double", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SkillMeatDouble:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, requests: int) -> None:
        """A jump: `requests` more requests at once (shares as for the steady traffic)."""
        with self._lock:
            self._extra += requests

    def total(self) -> int:
        elapsed = time.monotonic() - self._started
        with self._lock:
            return math.floor(self.traffic.per_second * elapsed) + self._extra

    def render(self) -> str:
        with self._lock:
            self._scrapes += 1
            scrapes = self._scrapes
        t = self.traffic
        n = self.total()
        elapsed = time.monotonic() - self._started
        requests = [
            "# HELP skillmeat_api_requests_total Total API requests",
            "# TYPE skillmeat_api_requests_total counter",
        ]
        histogram = [
            "# HELP skillmeat_api_request_duration_seconds API request duration in seconds",
            "# TYPE skillmeat_api_request_duration_seconds histogram",
        ]
        # SkillMeat counts Prometheus' own scrapes too: the gates must leave them out.
        rows = [(m, e, math.floor(n * share)) for m, e, share in ENDPOINTS]
        rows.append(("GET", "/metrics/", scrapes))
        for method, endpoint, count in rows:
            app = endpoint != "/metrics/"
            errors = math.floor(count * t.error_share) if app else 0
            slow = math.floor(count * t.slow_share) if app else 0
            labels = f'endpoint="{endpoint}",method="{method}"'
            requests.append(
                f'skillmeat_api_requests_total{{{labels},status="200"}} {count - errors}'
            )
            if t.error_share > 0 and app:
                requests.append(f'skillmeat_api_requests_total{{{labels},status="500"}} {errors}')
            fast = count - slow
            for le in BUCKETS:
                bound = math.inf if le == "+Inf" else float(le)
                seen = (fast if bound >= FAST_S else 0) + (slow if bound >= SLOW_S else 0)
                histogram.append(
                    f'skillmeat_api_request_duration_seconds_bucket{{endpoint="{endpoint}",'
                    f'le="{le}",method="{method}"}} {seen}'
                )
            histogram.append(f"skillmeat_api_request_duration_seconds_count{{{labels}}} {count}")
            histogram.append(
                f"skillmeat_api_request_duration_seconds_sum{{{labels}}} "
                f"{fast * FAST_S + slow * SLOW_S:.3f}"
            )
        process = [
            "# HELP process_resident_memory_bytes Resident memory size in bytes.",
            "# TYPE process_resident_memory_bytes gauge",
            f"process_resident_memory_bytes {t.rss_bytes:.1f}",
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
            "# TYPE process_cpu_seconds_total counter",
            f"process_cpu_seconds_total {5.0 + t.cpu_per_second * elapsed:.3f}",
        ]
        return "\n".join(process + requests + histogram) + "\n"


def query_value(prometheus: str, promql: str) -> float:
    response = httpx.get(
        f"{prometheus}/api/v1/query",
        params={"query": promql, "time": f"{time.time():.3f}"},
        timeout=10,
    )
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def wait_for(prometheus: str, promql: str, at_least: float, timeout_s: float = 60.0) -> float:
    """Poll Prometheus until `promql` reaches `at_least`; its value then."""
    deadline = time.monotonic() + timeout_s
    value = query_value(prometheus, promql)
    while value < at_least:
        assert time.monotonic() < deadline, f"{promql} stayed at {value} < {at_least}"
        time.sleep(0.2)
        value = query_value(prometheus, promql)
    return value


def run_phase(
    phase: str, report_dir: Path, *extra: str, timeout_s: float = 900
) -> tuple[int, dict[str, Any], str]:
    """`python -m pytest tests/gates/test_metric_gates.py -m PHASE` as a user runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/gates/test_metric_gates.py",
            "-m",
            phase,
            # "=": pytest would take a bare absolute path for a test path (and guess the rootdir).
            f"--report-dir={report_dir}",
            "-p",
            "no:cacheprovider",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    output = done.stdout + done.stderr
    path = report_dir / f"verdict-{phase}.json"
    assert path.exists(), f"no verdict written (exit {done.returncode}):\n{output[-4000:]}"
    return done.returncode, json.loads(path.read_text()), output


def checks_by_id(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in verdict["checks"]}


def gate_evidence(check: dict[str, Any]) -> dict[str, Any]:
    evidence: dict[str, Any] = check["evidence"]["facts"]["gate"]
    return evidence


def leftovers(ports: list[int]) -> list[str]:
    """`pid: argv` of every process whose command line names one of `ports`."""
    wanted = {str(p) for p in ports}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state == "Z":
            continue  # exited, not yet reaped: no longer running
        for arg in argv:
            if arg in wanted or any(arg.endswith(f"127.0.0.1:{p}") for p in wanted):
                found.append(f"{proc.name}: {' '.join(argv)[:300]}")
                break
    return found


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].rstrip("/"))


def by_severity(client: AlertmanagerClient) -> dict[str, list[Alert]]:
    """Alertmanager's alerts now, by severity; an unreadable Alertmanager raises."""
    alerts, error = client.active_alerts()
    if error:
        raise RuntimeError(error)
    grouped: dict[str, list[Alert]] = {}
    for alert in alerts:
        grouped.setdefault(alert.severity, []).append(alert)
    return grouped
