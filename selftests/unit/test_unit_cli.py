"""`phasegate explain`: read a saved verdict back; a bad file is a usage error, not a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from phasegate.cli import main
from phasegate.outcomes import Kind, Outcome
from phasegate.verdict import write
from support.results import check, verdict


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    checks = [
        check("service.health", reason=""),
        check("flagoff.memory-write-refused", Outcome.FAIL, reason="POST answered 201"),
        check("service.metrics-plan-path", Outcome.WARN, blocking=False, reason="404"),
    ]
    return write(verdict(checks), tmp_path)


def test_explain_lists_the_checks_that_did_not_pass(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", str(saved)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "phase1: NO_GO  target http://127.0.0.1:9  "
        "(2026-01-02T03:04:05+00:00 .. 2026-01-02T03:05:06+00:00)"
    )
    rows = [line.split() for line in out[1:] if not line.startswith("reason:")]
    assert rows == [
        ["FAIL", "smoke", "flagoff.memory-write-refused", "block", "POST", "answered", "201"],
        ["WARN", "smoke", "service.metrics-plan-path", "warn", "404"],
    ]
    assert "reason: flagoff.memory-write-refused: POST answered 201" in out


def test_explain_all_also_lists_passing_checks(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["explain", "--all", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out
    assert "service.health" in out


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="missing-file"),
        pytest.param("{not json", id="not-json"),
        pytest.param("[1, 2, 3]", id="json-but-not-an-object"),
        pytest.param('{"phase": "phase1", "checks": [{"id": "x"}]}', id="not-a-verdict"),
    ],
)
def test_explain_a_bad_file_exits_4_without_traceback(
    tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "verdict-phase1.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["explain", str(path)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("phasegate explain: ")
    assert str(path) in err
    assert "Traceback" not in err


def test_explain_as_a_command(saved: Path, tmp_path: Path) -> None:
    good = subprocess.run(
        [sys.executable, "-m", "phasegate.cli", "explain", str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "phase1: NO_GO" in good.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "phasegate.cli", "explain", str(tmp_path / "nowhere.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 4
    assert "cannot read" in bad.stderr
    assert "Traceback" not in bad.stderr + bad.stdout


def test_gate_rejects_an_unknown_phase(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "phase9"]) == 4
    assert "unknown phase 'phase9'" in capsys.readouterr().err


def test_explain_prints_each_contract_failure_with_its_curl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failure = {
        "check": "not_a_server_error",
        "mode": "positive",
        "method": "POST",
        "path": "/api/v1/memory-items/import",
        "status": 500,
        "title": "Server error",
        "curl": 'curl -X POST -d \'{"in_dir": "/tmp/x"}\' http://127.0.0.1:9/api/v1/memory-items/import',
    }
    contract = check(
        "contract.post-memory-items-import",
        Outcome.FAIL,
        kind=Kind.CONTRACT,
        reason="1 failing cases",
        evidence={"facts": {"contract": {"failures": [failure]}}},
    )
    saved = write(verdict([contract]), tmp_path)
    assert main(["explain", str(saved), "--kind", "contract"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        "    not_a_server_error (positive): POST /api/v1/memory-items/import -> 500: Server error"
        in out
    )
    assert f"      {failure['curl']}" in out
