"""Time to a verdict when the target or the monitoring is not there (issue #10, point 6).

Runs the real suite in a pytest subprocess and measures wall-clock time from start to the
written verdict, for:

1. dead-target: tests/smoke + tests/gates, phase 2, against a loopback port nothing listens on
   (goal: NO_GO with one reason in under 15 s);
2. refused-monitoring: tests/gates, phase 2, against a live stand-in target (python -m
   http.server: it answers, 404 is an answer) with Prometheus and Alertmanager on closed ports
   (goal: every gate INCONCLUSIVE in under 15 s);
3. silent-monitoring: the same with Prometheus and Alertmanager on sockets that accept
   connections and never answer (the probe's read timeout, not a refusal, ends it).

    .venv/bin/python bench/dead_target.py [--repeat 3]

Results land in bench/results/dead-target-<time>.json. Not run by `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGINS = ("-p", "no:cacheprovider", "-p", "no:locust", "-p", "no:allure_pytest")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def silent_socket() -> Iterator[str]:
    """Accepts TCP connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.contextmanager
def stand_in_target() -> Iterator[str]:
    port = closed_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait()


def run(case: str, paths: list[str], options: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-") as tmp:
        report = Path(tmp)
        command = [
            str(REPO / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            *PLUGINS,
            "-q",
            f"--report-dir={report}",
            "--phase=phase2",
            *options,
            *paths,
        ]
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PHASEGATE_", "SKILLMEAT_"))
        }
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        verdict = json.loads((report / "verdict-phase2.json").read_text("utf-8"))
    gates = [c for c in verdict["checks"] if c["kind"] == "gate" and c["blocking"]]
    return {
        "case": case,
        "seconds_to_verdict": round(elapsed, 2),
        # CPU time of the pytest process (start-up and collection mostly): what a loaded
        # machine stretches; the probes themselves wait, they do not compute.
        "cpu_seconds": round(
            (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime),
            2,
        ),
        "exit_status": done.returncode,
        "decision": verdict["decision"],
        "first_reason": (verdict["reasons"] or [""])[0],
        "reasons": len(verdict["reasons"]),
        "checks_in_verdict": len(verdict["checks"]),
        "gate_outcomes": sorted({c["outcome"] for c in gates}),
    }


def measure() -> list[dict[str, object]]:
    smoke_and_gates = ["tests/smoke", "tests/gates"]
    gates = ["tests/gates/test_metric_gates.py"]
    results = [run("dead-target", smoke_and_gates, [f"--api-url=http://127.0.0.1:{closed_port()}"])]
    with stand_in_target() as target:
        refused = [
            f"--api-url={target}",
            f"--prometheus-url=http://127.0.0.1:{closed_port()}",
            f"--alertmanager-url=http://127.0.0.1:{closed_port()}",
        ]
        results.append(run("refused-monitoring", gates, refused))
        with silent_socket() as prometheus, silent_socket() as alertmanager:
            silent = [
                f"--api-url={target}",
                f"--prometheus-url={prometheus}",
                f"--alertmanager-url={alertmanager}",
            ]
            results.append(run("silent-monitoring", gates, silent))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rounds = [measure() for _ in range(max(1, args.repeat))]
    document = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "rounds": rounds,
    }
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"dead-target-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    for result in (r for round_ in rounds for r in round_):
        print(
            f"{result['case']:<20} {result['seconds_to_verdict']:>6.1f} s "
            f"(cpu {result['cpu_seconds']:.1f} s)  {result['decision']:<13}"
            f" {result['checks_in_verdict']} checks  gates {result['gate_outcomes']}  "
            f"{str(result['first_reason'])[:110]}"
        )
    print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
