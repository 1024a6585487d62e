"""Phase 4 on the embedded default runs the drills; a phase run against a deployment never does.

The drills cause downtime: against a deployment only `phasegate drill` with the user's own
commands may start them, so a `pytest -m phase4 --api-url ...` run must not even collect them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DRILL_TESTS = {
    "tests/drills/test_drills.py::test_immediate_disable",
    "tests/drills/test_drills.py::test_full_rollback",
    "tests/drills/test_drills.py::test_data_recovery",
}


def collected(*extra: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", "phase4", "tests/drills", *extra],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return {line for line in done.stdout.splitlines() if line.startswith("tests/drills/")}


def test_embedded_phase4_collects_every_drill() -> None:
    assert collected() == DRILL_TESTS


def test_a_deployment_phase_run_never_collects_a_drill() -> None:
    assert collected("--api-url=http://127.0.0.1:9") == set()


def test_other_phases_never_collect_a_drill() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", "phase2", "tests/drills"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert not [line for line in done.stdout.splitlines() if line.startswith("tests/drills/")]
