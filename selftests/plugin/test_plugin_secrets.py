"""Credentials reach the target and nowhere else: not the report files, not the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.http_double import HttpDouble
from support.phase_runs import Run, RunPytest, check, suite

SECRET = "sk-selftest-7f3a9c2e5b1d"
TOKEN = "tok-selftest-0b9e8d7c6a5f"

ECHO = check(
    "svc.echo",
    """
    response = api.request("GET", "/echo")
    evidence.note("echoed", response.json()["headers"])
    assert response.status_code == 200
    """,
    fixtures="api, evidence",
)
# The target quotes the refused key in its 401 body; the check's failure message carries it.
WHOAMI = check(
    "svc.whoami",
    'expect.status(api.request("GET", "/whoami"), 200, why="the key must be accepted")',
)
PRINTS = check(
    "svc.prints",
    """
    response = api.request("GET", "/echo")
    print("debug:", response.text)
    assert False, "the echo said " + response.text
    """,
    blocking=False,
)


def files_containing(directory: Path, *secrets: str) -> list[str]:
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if any(secret.encode() in data for secret in secrets):
                found.append(str(path.relative_to(directory)))
    return found


def assert_nothing_leaked(run: Run, *secrets: str) -> None:
    files = sorted(p.name for p in run.report_dir.rglob("*") if p.is_file())
    assert "verdict-phase1.json" in files
    assert "junit-phase1.xml" in files
    assert files_containing(run.report_dir, *secrets) == []
    for secret in secrets:
        assert secret not in run.output


@pytest.mark.parametrize("source", ["command-line", "environment"])
def test_api_key_and_token_never_reach_reports_or_output(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    double: HttpDouble,
    source: str,
) -> None:
    pytester.makepyfile(test_checks=suite(ECHO, WHOAMI, PRINTS))
    if source == "command-line":
        secrets = (f"--api-key={SECRET}", f"--api-token={TOKEN}")
    else:
        monkeypatch.setenv("SKILLMEAT_API_KEY", SECRET)
        monkeypatch.setenv("SKILLMEAT_API_TOKEN", TOKEN)
        secrets = ()
    run = run_pytest("--phase=phase1", f"--api-url={double.url}", "-rA", *secrets)

    # The run did use the credentials and the target did echo them back ...
    assert run.ret == 1, run.output
    sent = {(r.headers.get("X-API-Key"), r.headers.get("Authorization")) for r in double.received}
    assert sent == {(SECRET, f"Bearer {TOKEN}")}
    verdict = run.verdict()
    assert run.outcomes() == {
        "svc.echo": "pass",
        "svc.whoami": "fail",
        "svc.prints": "warn",
        "run.cleanup.orphans": "pass",
    }
    # ... which the evidence shows redacted, so the reader still sees that a key was sent.
    echoed = run.check("svc.echo")["evidence"]["facts"]["echoed"]
    assert echoed["X-API-Key"] == "***redacted***"
    assert echoed["Authorization"] == "Bearer ***redacted***"
    assert "***redacted***" in run.check("svc.whoami")["reason"]
    assert verdict["run"]["settings"]["api_key"] == "set"
    assert verdict["run"]["settings"]["api_token"] == "set"

    assert_nothing_leaked(run, SECRET, TOKEN)


def test_secrets_do_not_leak_under_xdist(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(ECHO, WHOAMI, PRINTS))
    run = run_pytest(
        "--phase=phase1", f"--api-url={double.url}", f"--api-key={SECRET}", "-n", "2", "-rA"
    )
    assert run.ret == 1, run.output
    assert {r.headers.get("X-API-Key") for r in double.received} == {SECRET}
    assert_nothing_leaked(run, SECRET)
