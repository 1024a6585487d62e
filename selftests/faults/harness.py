"""Running the acceptance suite (tests/smoke) in a subprocess, the way a user would."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SMOKE = REPO / "tests" / "smoke"
SELFTESTS = REPO / "selftests"
PHASES = ("phase1", "phase2", "phase4")
SUITE_TIMEOUT_S = 600
_client_numbers = itertools.count(1)


def clean_env(**extra: str) -> dict[str, str]:
    """The user's own SKILLMEAT_* / PHASEGATE_* settings must not steer a self-test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    # Keep the cached SkillMeat venv where the rest of the project finds it.
    if "PHASEGATE_CACHE_DIR" in os.environ:
        env["PHASEGATE_CACHE_DIR"] = os.environ["PHASEGATE_CACHE_DIR"]
    env.update(extra)
    return env


def next_client_address() -> str:
    """A distinct X-Forwarded-For per suite run: each run is its own client to the limiter."""
    n = next(_client_numbers)
    return f"10.77.{n // 250}.{n % 250 + 1}"


def collect(phase: str, out: Path) -> subprocess.Popen[str]:
    """Start a --collect-only run that writes the phase's check ids to `out`."""
    pythonpath = os.pathsep.join(p for p in (str(SELFTESTS), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SMOKE),
            "-m",
            phase,
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "faults.collect_plugin",
        ],
        cwd=REPO,
        env=clean_env(PHASEGATE_SELFTEST_COLLECT_OUT=str(out), PYTHONPATH=pythonpath),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def collected_checks(phase: str, out: Path, proc: subprocess.Popen[str]) -> dict[str, Any]:
    output, _ = proc.communicate(timeout=SUITE_TIMEOUT_S)
    if proc.returncode != 0 or not out.exists():
        raise AssertionError(
            f"collecting {phase} failed ({proc.returncode}):\n{(output or '')[-3000:]}"
        )
    checks: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return checks


@dataclass(frozen=True)
class SuiteRun:
    phase: str
    returncode: int
    verdict: dict[str, Any]
    output: str
    seconds: float

    def checks(self) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.verdict["checks"]}

    def tail(self, chars: int = 4000) -> str:
        return self.output[-chars:]


def run_suite(phase: str, api_url: str, report_dir: Path) -> SuiteRun:
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SMOKE),
            "-m",
            phase,
            "--api-url",
            api_url,
            "--report-dir",
            str(report_dir),
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT_S,
        check=False,
    )
    output = done.stdout + done.stderr
    path = report_dir / f"verdict-{phase}.json"
    if not path.exists():
        raise AssertionError(
            f"{phase} against {api_url} wrote no verdict ({done.returncode}):\n{output[-4000:]}"
        )
    verdict = json.loads(path.read_text("utf-8"))
    return SuiteRun(phase, done.returncode, verdict, output, time.monotonic() - started)
