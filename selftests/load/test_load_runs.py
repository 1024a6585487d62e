"""Real locust runs (always as subprocesses) against the stdlib stand-in on 127.0.0.1.

The gate itself (tests/gates/test_load_gate.py) runs in an inner pytest against a stand-in that is
slow, erroring, rate-limiting or healthy-but-briefly-loaded, and its verdict must be FAIL, FAIL,
INCONCLUSIVE and INCONCLUSIVE. The four runs go in parallel; each takes about 15 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from phasegate.load.command import LoadPlan
from phasegate.load.runner import run_locust
from phasegate.load.stats import parse_json

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILES = REPO / "tests" / "load"
CHECK_ID = "load.p95-under-load"


@dataclass
class GateRun:
    code: int
    verdict: dict[str, Any]
    check: dict[str, Any]
    output: str
    report_dir: Path


def run_gate(url: str, report_dir: Path, users: int, duration: str) -> GateRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    env.update(
        PHASEGATE_LOAD_USERS=str(users),
        PHASEGATE_LOAD_DURATION=duration,
        PHASEGATE_LOAD_SPAWN_RATE=str(users),
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/gates/test_load_gate.py",
            "-m",
            "phase2",
            "--api-url",
            url,
            "--report-dir",
            str(report_dir),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    path = report_dir / "verdict-phase2.json"
    assert path.exists(), output[-3000:]
    verdict = json.loads(path.read_text())
    check = next(c for c in verdict["checks"] if c["id"] == CHECK_ID)
    return GateRun(done.returncode, verdict, check, output, report_dir)


@pytest.fixture(scope="module")
def gate_runs(
    tmp_path_factory: pytest.TempPathFactory, fake_skillmeat_class: type[Any]
) -> dict[str, GateRun]:
    scenarios: dict[str, tuple[dict[str, float], int, str]] = {
        "slow": ({"delay_s": 0.6}, 4, "8s"),
        "erroring": ({"error_ratio": 0.3}, 4, "6s"),
        "rate-limited": ({"limit_ratio": 0.3}, 4, "6s"),
        "too-few": ({}, 1, "5s"),
    }
    doubles = {
        name: fake_skillmeat_class(**faults).start() for name, (faults, _, _) in scenarios.items()
    }
    try:
        with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
            futures = {
                name: pool.submit(
                    run_gate,
                    doubles[name].url,
                    tmp_path_factory.mktemp(name),
                    users,
                    duration,
                )
                for name, (_, users, duration) in scenarios.items()
            }
            return {name: future.result() for name, future in futures.items()}
    finally:
        for double in doubles.values():
            double.stop()


def judgements(run: GateRun) -> dict[str, str]:
    return {
        f"{j['check']} {j['scope']}": j["outcome"]
        for j in run.check["evidence"]["facts"]["load"]["judgements"]
    }


def test_gate_fails_on_a_slow_target(gate_runs):
    run = gate_runs["slow"]
    assert run.check["outcome"] == "fail", run.output[-3000:]
    assert run.verdict["decision"] == "NO_GO"
    assert run.code == 1
    assert judgements(run)["latency overall"] == "fail"
    assert "latency overall" in run.check["reason"]
    facts = run.check["evidence"]["facts"]
    assert facts["p95_ms"]["overall"] >= 600
    assert run.check["kind"] == "load"
    assert (run.report_dir / "load" / "locust-phase2.html").exists()
    assert (run.report_dir / "load" / "locust-phase2_stats.csv").exists()
    assert facts["cleanup"]["leftovers_found"] == 0


def test_gate_fails_on_an_erroring_target(gate_runs):
    run = gate_runs["erroring"]
    assert run.check["outcome"] == "fail", run.output[-3000:]
    assert judgements(run)["failures all requests"] == "fail"
    assert run.check["evidence"]["facts"]["load"]["overall"]["all_failures"] > 0


def test_gate_cannot_decide_when_the_limiter_refuses_traffic(gate_runs):
    run = gate_runs["rate-limited"]
    assert run.check["outcome"] == "inconclusive", run.output[-3000:]
    assert run.verdict["decision"] == "INCONCLUSIVE"
    assert run.code == 6
    assert judgements(run)["rate-limit overall"] == "inconclusive"
    overall = run.check["evidence"]["facts"]["load"]["overall"]
    assert overall["rate_limited"] > 0
    assert overall["all_failures"] == 0  # 429s are not failures


def test_gate_refuses_a_verdict_on_too_few_requests(gate_runs):
    run = gate_runs["too-few"]
    assert run.check["outcome"] == "inconclusive", run.output[-3000:]
    assert judgements(run)["volume overall"] == "inconclusive"
    # 1 user for 5 s was planned too small for any group's n: said first, before the numbers.
    assert judgements(run)["sizing overall"] == "inconclusive"
    assert "undecided: sizing overall, volume overall" in run.check["reason"]
    first = run.check["evidence"]["facts"]["load"]["judgements"][0]
    assert first["reason"].startswith("this run was sized too small: group"), first
    assert run.check["evidence"]["facts"]["load"]["overall"]["all_failures"] == 0


def test_traffic_looks_like_many_clients(fake_skillmeat: Callable[..., Any], tmp_path):
    double = fake_skillmeat()
    plan = LoadPlan(
        host=double.url,
        locustfiles=LOCUSTFILES,
        out_dir=tmp_path,
        users=6,
        run_time_s=5,
        spawn_rate=6,
        run_id="pg-selftest-clients",
    )
    run = run_locust(plan)
    assert run.returncode == 0, run.log_tail
    assert len(double.forwarded_for) == 6  # one client address per simulated user
    ledger = [json.loads(line) for line in plan.artifacts.ledger.read_text().splitlines()]
    assert ledger and all(e["name"].startswith("pg-selftest-clients-load-") for e in ledger)
    stats = parse_json(plan.artifacts.json)
    by_name = {e.name: e.requests for e in stats.entries}
    assert by_name["setup create-project"] == by_name["cleanup delete-project"] == len(ledger)
    assert {"setup", "cleanup", "memory.read"} <= set(stats.groups)


def test_distributed_run_with_a_loopback_master(fake_skillmeat, tmp_path):
    double = fake_skillmeat()
    plan = LoadPlan(
        host=double.url,
        locustfiles=LOCUSTFILES,
        out_dir=tmp_path,
        users=4,
        run_time_s=5,
        spawn_rate=4,
        workers=2,
        user_classes=("ProductionReaderUser",),
        tags=("phase4",),
    )
    run = run_locust(plan)
    assert not run.timed_out
    assert "--master-bind-host 127.0.0.1" in " ".join(run.argv)
    assert len(run.worker_argvs) == 2
    assert plan.artifacts.worker_log(1).exists()
    stats = parse_json(plan.artifacts.json)
    assert sum(e.requests for e in stats.entries) > 0
    # Health probes are a small share of the mix: a 5 s run need not reach them.
    assert "memory.read" in stats.groups


def test_a_load_shape_runs_on_its_own(fake_skillmeat, tmp_path):
    double = fake_skillmeat()
    plan = LoadPlan(
        host=double.url,
        locustfiles=LOCUSTFILES,
        out_dir=tmp_path,
        users=6,
        run_time_s=6,
        spawn_rate=6,
        shape="spike",
    )
    run = run_locust(plan)
    assert not run.timed_out
    log = plan.artifacts.log.read_text()
    # a third of the peak, the spike to the full peak (-u), back down, and the shape ends the run
    assert "Shape test updating to 2 users" in log
    assert "Shape test updating to 6 users" in log
    assert "Shape test completed" in log
    stats = parse_json(plan.artifacts.json)
    by_name = {e.name: e.requests for e in stats.entries}
    assert by_name["setup create-project"] == by_name["cleanup delete-project"]


def test_hard_timeout_stops_locust_and_keeps_its_report(fake_skillmeat, tmp_path):
    double = fake_skillmeat()
    plan = LoadPlan(
        host=double.url,
        locustfiles=LOCUSTFILES,
        out_dir=tmp_path,
        users=2,
        run_time_s=60,
        spawn_rate=2,
    )
    run = run_locust(plan, timeout_s=6)
    assert run.timed_out
    assert run.duration_s < 40
    assert plan.artifacts.json.exists()  # SIGTERM made locust write its statistics


def test_locust_lists_the_user_classes():
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILES), "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = {line.strip() for line in done.stdout.splitlines()}
    assert {"InternalTeamUser", "AgentPackUser", "ProductionReaderUser"} <= listed
