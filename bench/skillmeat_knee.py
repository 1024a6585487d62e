#!/usr/bin/env python3
"""Where is SkillMeat's knee: how many memory requests per second before p95 crosses 500 ms?

Steps the offered rate of memory traffic (the internal team's reads and writes from tests/load,
paced at a constant throughput per simulated user, every user its own client and projects) and
measures p95 of the memory.read and memory.write groups at each step with locust's own
histogram. The knee is the highest achieved rate whose p95 stayed under 500 ms; stepping stops
at the first step over it (and after --max-rate).

    .venv/bin/python bench/skillmeat_knee.py                      # starts its own SkillMeat
    .venv/bin/python bench/skillmeat_knee.py --url http://127.0.0.1:8080 --rates 5,10,20,40

Every step is bounded in users and time, and cleans up after itself. Results go to
bench/results/knee-<time>.json. Other work on the machine moves the knee: the load average
before and after every step is recorded beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.load.command import LoadPlan, project_prefix
from phasegate.load.runner import run_locust
from phasegate.load.stats import parse_json
from phasegate.load.sweep import sweep
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
MEMORY_GROUPS = ("memory.read", "memory.write")
THRESHOLD_MS = 500


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


def step(
    url: str, rate: float, users: int, seconds: int, warmup: int, out: Path, run_id: str
) -> dict[str, Any]:
    plan = LoadPlan(
        host=url,
        locustfiles=BENCH / "locust_knee.py",
        out_dir=out,
        users=users,
        run_time_s=seconds,
        spawn_rate=max(1.0, users / 10),  # spread the users' set-up over about 10 s
        user_classes=("MemoryPacedUser",),
        run_id=run_id,
        name=f"knee-{rate:g}",
    )
    env = {
        **os.environ,
        "PHASEGATE_BENCH_RATE_PER_USER": f"{rate / users:.4f}",
        "PHASEGATE_BENCH_WARMUP_S": str(warmup),
    }
    before = os.getloadavg()[0]
    run = run_locust(plan, env=env)
    stats = parse_json(plan.artifacts.json)
    memory = stats.combine("memory", MEMORY_GROUPS)
    everything = stats.combine("all", stats.groups)
    with SkillMeatClient(ClientConfig(api_url=url)) as api:
        leftovers = sweep(api, plan.artifacts.ledger, project_prefix(run_id))
    # the memory groups after the warm-up (the locustfile resets the statistics then)
    return {
        "offered_rps": rate,
        "users": users,
        "achieved_memory_rps": round(memory.requests / stats.window_s, 1),
        "memory_requests": memory.requests,
        "p50_ms": memory.percentile(0.5),
        "p95_ms": memory.percentile(0.95),
        "p99_ms": memory.percentile(0.99),
        "failures": everything.failures,
        "rate_limited": everything.rate_limited,
        "timed_out": run.timed_out,
        "load_before": round(before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "leftovers_swept": len(leftovers.leftovers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--url", help="use this SkillMeat instead of starting one (flag ON)")
    parser.add_argument("--skillmeat-version", default="0.74.0")
    parser.add_argument("--rates", default="5,10,15,20,25,30,40,50,60", help="offered req/s")
    parser.add_argument("--users", type=int, default=20, help="simulated clients per step")
    parser.add_argument("--seconds", type=int, default=50, help="per step (default 50)")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured start of a step (20)")
    parser.add_argument("--max-rate", type=float, default=200.0)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    if not 10 <= args.seconds <= 300 or not 1 <= args.users <= 300:
        parser.error("bounded: --seconds 10..300, --users 1..300")
    if not 0 <= args.warmup < args.seconds - 5:
        parser.error("--warmup must leave at least 5 measured seconds")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "when": stamp,
        "cpus": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "threshold_ms": THRESHOLD_MS,
        "groups": list(MEMORY_GROUPS),
        "steps": [],
    }
    knee: dict[str, Any] | None = None
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="phasegate-knee-") as tmp:
        url = args.url or start_skillmeat(stack, args.skillmeat_version)
        run_id = f"pg-bench-{stamp.replace('-', '')}"
        print(f"SkillMeat at {url}; {args.seconds} s steps, {args.users} clients", flush=True)
        for rate in rates:
            if rate > args.max_rate:
                break
            row = step(
                url, rate, args.users, args.seconds, args.warmup, Path(tmp), f"{run_id}-{rate:g}"
            )
            results["steps"].append(row)
            print(f"  {row}", flush=True)
            p95 = row["p95_ms"]
            if p95 is None or p95 >= THRESHOLD_MS or row["failures"] or row["rate_limited"]:
                break
            knee = row
        if not args.url:  # the server made the projects' folders on this machine
            for folder in Path("/tmp/phasegate-projects").glob(f"{run_id}-*"):
                shutil.rmtree(folder, ignore_errors=True)
    results["knee"] = knee
    results["load_average_at_end"] = os.getloadavg()
    path = RESULTS / f"knee-{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'offered':>8} {'achieved':>9} {'p50':>6} {'p95':>6} {'p99':>6}  fails  load")
    for row in results["steps"]:
        print(
            f"{row['offered_rps']:>8g} {row['achieved_memory_rps']:>9} {row['p50_ms']!s:>6} "
            f"{row['p95_ms']!s:>6} {row['p99_ms']!s:>6}  {row['failures']:>5}  "
            f"{row['load_before']}/{row['load_after']}"
        )
    if knee:
        print(
            f"\nknee: about {knee['achieved_memory_rps']} memory req/s with p95 "
            f"{knee['p95_ms']} ms (next step crossed {THRESHOLD_MS} ms or was the last)"
        )
    else:
        print(f"\nno step stayed under {THRESHOLD_MS} ms")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
