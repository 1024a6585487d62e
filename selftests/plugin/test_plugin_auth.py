"""The authentication checks in phase runs against doubles, through `--api-url`.

They FAIL on a target that serves without credentials and on one that answers 500, pass on one
that refuses, and judge nothing (INCONCLUSIVE, nothing sent) when the user has not said the
deployment authenticates.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.auth_double import RIGHT_KEY, AuthDouble
from support.phase_runs import FAST

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def double(request: pytest.FixtureRequest) -> Iterator[AuthDouble]:
    server = AuthDouble(request.param).start()
    yield server
    server.stop()


def run_phase(tmp_path: Path, double: AuthDouble, *extra: str) -> dict[str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "phase4",
            "tests/auth",
            *FAST,
            f"--api-url={double.url}",
            f"--report-dir={tmp_path}",
            "-q",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    verdict_path = tmp_path / "verdict-phase4.json"
    assert verdict_path.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    text = verdict_path.read_text()
    assert RIGHT_KEY not in text
    checks = json.loads(text)["checks"]
    return {c["id"]: c for c in checks if c["id"].startswith("auth.")}


IDS = ("auth.refused-without-credentials.deployment", "auth.refused-wrong-credentials.deployment")


@pytest.mark.parametrize(
    ("double", "expected"),
    [("refuse", "pass"), ("serve", "fail"), ("error", "fail")],
    indirect=["double"],
)
def test_checks_in_a_phase_run(tmp_path: Path, double: AuthDouble, expected: str) -> None:
    checks = run_phase(tmp_path, double, "--auth-expected=yes", f"--api-key={RIGHT_KEY}")
    assert set(checks) == set(IDS), "embedded modes are deselected on --api-url"
    for check_id in IDS:
        assert checks[check_id]["outcome"] == expected, checks[check_id]["reason"]
        assert checks[check_id]["blocking"] is True
        facts = checks[check_id]["evidence"]["facts"]
        assert len(facts["answers"]) == 27
        if expected == "fail":
            rule = "cross-project" if double.policy == "serve" else "server-error"
            assert f"rule {rule}" in checks[check_id]["reason"]


@pytest.mark.parametrize("double", ["serve"], indirect=True)
def test_no_credentials_and_no_statement_is_inconclusive(
    tmp_path: Path, double: AuthDouble
) -> None:
    checks = run_phase(tmp_path, double)
    for check_id in IDS:
        assert checks[check_id]["outcome"] == "inconclusive"
        assert "--auth-expected" in checks[check_id]["reason"]
    assert not double.family_requests, "nothing is sent when nothing can be judged"


@pytest.mark.parametrize("double", ["serve"], indirect=True)
def test_stated_without_authentication_is_not_judged(tmp_path: Path, double: AuthDouble) -> None:
    checks = run_phase(tmp_path, double, "--auth-expected=no", f"--api-key={RIGHT_KEY}")
    assert {c["outcome"] for c in checks.values()} == {"inconclusive"}
    assert not double.family_requests
