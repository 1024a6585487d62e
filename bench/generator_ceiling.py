#!/usr/bin/env python3
"""How many requests per second can locust itself generate on this machine?

Compares locust (one process, and a master on 127.0.0.1 with workers) with `wrk` on the same
cheap endpoint, GET /health, of two targets:

- nginx answering /health from its config (when nginx is installed): the server is far faster
  than any Python generator, so the numbers are the generators' own ceilings;
- SkillMeat's /health (3 ms, exempt from its burst limiter): what a run against the real
  service can reach on one uvicorn worker.

    .venv/bin/python bench/generator_ceiling.py                 # starts its own SkillMeat
    .venv/bin/python bench/generator_ceiling.py --skillmeat-url http://127.0.0.1:8080

Everything listens on 127.0.0.1 only and each measurement is bounded in time. Results go to
bench/results/ceiling-<time>.json and a table on stdout. Other work on the machine lowers every
number: the load average before and after each measurement is recorded beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from phasegate.load.command import LoadPlan
from phasegate.load.runner import run_locust
from phasegate.load.stats import parse_json
from phasegate.stack.ports import LOOPBACK, free_port
from phasegate.stack.process import ManagedProcess
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        location = /health {{
            default_type application/json;
            return 200 '{{"status":"healthy"}}';
        }}
    }}
}}
"""


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def wait_ready(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout_s:.0f} s")


def start_nginx(stack: ExitStack) -> str | None:
    nginx = shutil.which("nginx", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if nginx is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="phasegate-bench-nginx-"))
    stack.callback(shutil.rmtree, root, True)
    (root / "tmp").mkdir()
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port))
    process = ManagedProcess(
        "nginx",
        [nginx, "-p", str(root), "-c", str(conf), "-g", "daemon off;"],
        log_path=root / "nginx.log",
    )
    stack.callback(process.stop)
    url = f"http://{LOOPBACK}:{port}"
    wait_ready(f"{url}/health")
    return url


def start_skillmeat(stack: ExitStack, version: str) -> str:
    python = ensure_skillmeat(version, progress=lambda m: print(f"  {m}", flush=True))
    root = Path(tempfile.mkdtemp(prefix="phasegate-bench-skillmeat-"))
    stack.callback(shutil.rmtree, root, True)
    server = SkillMeatServer(
        ServerSpec(python=python, flag_on=True, log_path=root / "skillmeat.log", name="skillmeat"),
        progress=lambda m: print(f"  {m}", flush=True),
    )
    stack.callback(server.stop)
    return server.start()


def run_wrk(url: str, seconds: int, connections: int, threads: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        return {"tool": "wrk", "error": "wrk not installed (apt-get install -y wrk)"}
    before = load_average()
    done = subprocess.run(
        [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", f"{url}/health"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", done.stdout)
    return {
        "tool": f"wrk -t{threads} -c{connections}",
        "rps": float(match.group(1)) if match else None,
        "p99": f"{p99.group(1)}{p99.group(2)}" if p99 else None,
        "load_before": before,
        "load_after": load_average(),
        "error": None if match else done.stdout[-500:] + done.stderr[-500:],
    }


def run_locust_ceiling(
    url: str, seconds: int, users: int, user_class: str, workers: int, out: Path
) -> dict[str, Any]:
    plan = LoadPlan(
        host=url,
        locustfiles=BENCH / "locust_health.py",
        out_dir=out,
        users=users,
        run_time_s=seconds,
        spawn_rate=min(100.0, float(users)),
        user_classes=(user_class,),
        workers=workers,
        stop_timeout_s=0,
        name=f"ceiling-{user_class}-{workers}w",
    )
    before = load_average()
    run = run_locust(plan)
    label = f"locust {user_class} " + (f"master + {workers} workers" if workers else "1 process")
    try:
        stats = parse_json(plan.artifacts.json)
    except Exception as exc:
        return {"tool": label, "rps": None, "error": f"{exc}; {run.log_tail[-500:]}"}
    total = stats.combine("all", stats.groups)
    # the ramp is part of the window; locust's own rps has the same definition
    return {
        "tool": label,
        "rps": round(total.requests / stats.window_s, 1) if stats.window_s else None,
        "requests": total.requests,
        "failures": total.failures,
        "p50_ms": total.percentile(0.5),
        "p99_ms": total.percentile(0.99),
        "load_before": before,
        "load_after": load_average(),
        "error": None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seconds", type=int, default=15, help="per measurement (default 15)")
    parser.add_argument("--users", type=int, default=50, help="locust users (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="locust workers (default 2)")
    parser.add_argument("--skillmeat-url", help="use this SkillMeat instead of starting one")
    parser.add_argument("--skillmeat-version", default="0.74.0")
    parser.add_argument("--no-nginx", action="store_true")
    parser.add_argument("--no-skillmeat", action="store_true")
    args = parser.parse_args(argv)
    if not 5 <= args.seconds <= 120 or not 1 <= args.users <= 500 or not 0 <= args.workers <= 8:
        parser.error("bounded: --seconds 5..120, --users 1..500, --workers 0..8")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "when": stamp,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": sys.version.split()[0],
        "targets": {},
    }
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="phasegate-bench-") as tmp:
        targets: dict[str, str] = {}
        if not args.no_nginx:
            nginx = start_nginx(stack)
            if nginx:
                targets["nginx /health"] = nginx
        if not args.no_skillmeat:
            targets["SkillMeat /health"] = args.skillmeat_url or start_skillmeat(
                stack, args.skillmeat_version
            )
        for label, url in targets.items():
            print(f"{label} at {url}", flush=True)
            wait_ready(f"{url}/health")
            rows = [run_wrk(url, args.seconds, connections=32, threads=2)]
            print(f"  {rows[-1]}", flush=True)
            for user_class in ("HealthUser", "FastHealthUser"):
                for workers in (0, args.workers) if args.workers else (0,):
                    rows.append(
                        run_locust_ceiling(
                            url, args.seconds, args.users, user_class, workers, Path(tmp)
                        )
                    )
                    print(f"  {rows[-1]}", flush=True)
            results["targets"][label] = rows
    results["load_average_at_end"] = os.getloadavg()
    path = RESULTS / f"ceiling-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'target':<20} {'generator':<46} {'req/s':>9}  load before/after")
    for label, rows in results["targets"].items():
        for row in rows:
            rps = f"{row['rps']:.0f}" if row.get("rps") else "-"
            load = f"{row.get('load_before', '-')}/{row.get('load_after', '-')}"
            print(f"{label:<20} {row['tool']:<46} {rps:>9}  {load}")
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
