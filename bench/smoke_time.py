#!/usr/bin/env python3
"""How long does the phase-2 smoke suite take, and how many projects does it create for that?

Runs `pytest -m phase2 tests/smoke` against the embedded stack (SkillMeat started by the plugin,
as `make gate` does) into a fresh report directory, once or --runs times, and prints per run:
the wall time, the number of projects the run created (from the run's ledgers in the report
directory) and every check's outcome from the verdict. Project creation is paced under
SkillMeat's burst limiter (src/phasegate/pacing.py), so the project count is what the wall time
mostly follows.

    .venv/bin/python bench/smoke_time.py                          # one run
    .venv/bin/python bench/smoke_time.py --runs 3 -- -n 2         # three runs, pytest-xdist
    .venv/bin/python bench/smoke_time.py --save bench/results/smoke-after.json \\
        --compare bench/results/smoke-before.json

--compare exits 1 when the check ids or any check's outcome differ from the saved run: a faster
suite must decide the same checks the same way. Reasons are compared too, with run ids and
generated ids masked, and differences are printed (not fatal: a reason may name a timing).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTEST = ROOT / ".venv" / "bin" / "pytest"
VOLATILE = re.compile(
    r"pg-\d{14}-[0-9a-f]{6}[\w.-]*"  # run-prefixed names
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # uuids
    r"|\b[0-9a-f]{32}\b"  # hex ids
    r"|[A-Za-z0-9+/]{24,}={0,2}"  # base64 project ids
    r"|\d+(\.\d+)?\s*(ms|s)\b"  # durations
)


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def one_run(extra: list[str], keep: Path | None) -> dict[str, Any]:
    """One pytest run in a fresh report directory; the numbers that describe it."""
    report_dir = Path(tempfile.mkdtemp(prefix="phasegate-smoke-time-", dir=keep))
    command = [
        str(PYTEST),
        "-m",
        "phase2",
        "tests/smoke",
        "-p",
        "no:cacheprovider",
        "--report-dir",
        str(report_dir),
        *extra,
    ]
    load_before = _load_average()
    started = time.monotonic()
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall_s = time.monotonic() - started
    (report_dir / "pytest-output.txt").write_text(completed.stdout + completed.stderr, "utf-8")
    verdict_path = report_dir / "verdict-phase2.json"
    if not verdict_path.exists():
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-3000:])
        raise SystemExit(f"no verdict in {report_dir} (pytest exit {completed.returncode})")
    verdict = json.loads(verdict_path.read_text("utf-8"))
    created = _created(report_dir / ".ledger")
    # pytest's own "in N s" covers the checks and their set-up and clean-up, not the stack start.
    session = re.findall(r" in ([0-9.]+)s\b", completed.stdout)
    return {
        "command": command,
        "report_dir": str(report_dir),
        "exit_status": completed.returncode,
        "wall_s": round(wall_s, 1),
        "session_s": float(session[-1]) if session else None,
        "load_average_before": load_before,
        "load_average_after": _load_average(),
        "projects_created": created.get("project", 0),
        "created": created,
        "decision": verdict["decision"],
        "checks": {
            check["id"]: {"outcome": check["outcome"], "reason": check.get("reason", "")}
            for check in verdict["checks"]
        },
    }


def _created(ledger_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted(ledger_dir.glob("ledger-*.jsonl")):
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                event = json.loads(line)
                if event["event"] == "created":
                    counts[event["kind"]] = counts.get(event["kind"], 0) + 1
    return counts


def _print_run(index: int, run: dict[str, Any]) -> None:
    outcomes: dict[str, int] = {}
    for check in run["checks"].values():
        outcomes[check["outcome"]] = outcomes.get(check["outcome"], 0) + 1
    print(
        f"run {index}: {run['wall_s']:.1f} s wall ({run['session_s']} s of pytest session), "
        f"{run['projects_created']} projects created "
        f"({run['created']}), decision {run['decision']}, pytest exit {run['exit_status']}, "
        f"load {run['load_average_before']} -> {run['load_average_after']}"
    )
    print(f"  outcomes: {dict(sorted(outcomes.items()))}; report dir {run['report_dir']}")
    for check_id, check in sorted(run["checks"].items()):
        print(f"    {check['outcome']:<12} {check_id}")


def _masked(reason: str) -> str:
    return VOLATILE.sub("<x>", reason)


def compare(saved: dict[str, Any], run: dict[str, Any]) -> bool:
    """True when the run decided the same checks the same way as the saved one."""
    before, after = saved["checks"], run["checks"]
    same = True
    for check_id in sorted(set(before) | set(after)):
        if check_id not in after:
            print(f"  MISSING now: {check_id}")
            same = False
        elif check_id not in before:
            print(f"  NEW now: {check_id}")
            same = False
        elif before[check_id]["outcome"] != after[check_id]["outcome"]:
            print(
                f"  OUTCOME {check_id}: {before[check_id]['outcome']} -> "
                f"{after[check_id]['outcome']}"
            )
            same = False
        elif _masked(before[check_id]["reason"]) != _masked(after[check_id]["reason"]):
            print(f"  reason differs (not fatal) {check_id}:")
            print(f"    before: {before[check_id]['reason'][:300]}")
            print(f"    after:  {after[check_id]['reason'][:300]}")
    return same


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="how many runs (default 1)")
    parser.add_argument("--save", type=Path, help="write the runs as JSON here")
    parser.add_argument("--compare", type=Path, help="a saved JSON whose outcomes must match")
    parser.add_argument(
        "--keep-dir", type=Path, help="make the report directories under this folder"
    )
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    args = parser.parse_args(argv)
    if args.keep_dir:
        args.keep_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for index in range(1, args.runs + 1):
        run = one_run(args.pytest_args, args.keep_dir)
        runs.append(run)
        _print_run(index, run)
    walls = sorted(run["wall_s"] for run in runs)
    print(f"wall time: min {walls[0]:.1f} s, median {walls[len(walls) // 2]:.1f} s")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps({"runs": runs}, indent=2) + "\n", "utf-8")
    if args.compare:
        saved = json.loads(args.compare.read_text("utf-8"))["runs"][0]
        mismatched = [index for index, run in enumerate(runs, 1) if not compare(saved, run)]
        if mismatched:
            print(f"checks or outcomes differ from {args.compare} in runs {mismatched}")
            return 1
        print(f"same check ids and outcomes as {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
