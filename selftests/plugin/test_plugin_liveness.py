"""A target that does not answer, one that dies mid-run, and a Prometheus that is not there.

What is asserted is behaviour, not speed (bench/dead_target.py measures the time to a verdict):
one reason on top, a bounded number of probes, and checks that were never attempted.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from support.http_double import HttpDouble
from support.phase_runs import REPO, RunPytest, check, suite

CHECK_IDS = [f"svc.c{n}" for n in range(8)]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_dead_target_is_no_go_with_one_reason_and_no_check_attempted(
    run_pytest: RunPytest, pytester: pytest.Pytester
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    pytester.makepyfile(test_checks=suite(*(check(c) for c in CHECK_IDS)))
    run = run_pytest("--phase=phase1", f"--api-url={url}")
    assert run.ret == 1, run.output
    verdict = run.verdict()
    assert verdict["decision"] == "NO_GO"
    [reason] = verdict["reasons"]
    assert reason.startswith(f"run.target.reachable: target {url}/health unreachable: Connect")
    assert "probed " in reason and " s)" in reason
    # No per-check rows: nothing was attempted, so there is nothing to list but the reason.
    assert [c["id"] for c in verdict["checks"]] == ["run.target.reachable"]
    facts = verdict["checks"][0]["evidence"]["facts"]
    assert facts["answered"] is False and 1 <= facts["attempts"] <= 4
    refused = [line for line in run.output.splitlines() if "refused" in line.lower()]
    assert len(refused) == 2, refused  # the progress line and the verdict's one reason
    lines = run.section()
    assert lines[0].startswith("phasegate phase1: NO_GO")
    assert lines[1].strip().startswith("FAIL         run.target.reachable: target")


def test_a_live_target_is_probed_once_before_the_checks(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(check("svc.health")))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    probes = [
        r for r in double.received if r.headers.get("X-Phasegate-Check") == "run.target.reachable"
    ]
    assert len(probes) == 1 and probes[0].path == "/health"
    assert "run.target.reachable" not in run.outcomes()


@pytest.fixture
def mortal_target() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A separate process answering HTTP (404 for /health is an answer) that a check can kill."""
    port = closed_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.kill()
        server.wait()


KILLER = check("svc.killer", "os.kill(int(os.environ['MORTAL_PID']), signal.SIGKILL)", fixtures="")
# A long check that does not touch the target: the run is still inside it when the watchdog sees
# the death, so the verdict can name it, and it ends early instead of waiting for the deadline.
SLOW = check(
    "svc.slow",
    """
    deadline = time.monotonic() + 25
    notices = pathlib.Path(os.environ['NOTICE_DIR'])
    while time.monotonic() < deadline and not list(notices.glob('target-gone-*')):
        time.sleep(0.1)
    """,
    fixtures="",
)
LATER = [check(f"svc.later{n}") for n in range(6)]


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["serial", "xdist"])
def test_a_target_killed_mid_run_ends_the_run_and_the_verdict_says_when(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    mortal_target: tuple[str, subprocess.Popen[bytes]],
    workers: list[str],
) -> None:
    url, server = mortal_target
    monkeypatch.setenv("MORTAL_PID", str(server.pid))
    monkeypatch.setenv("NOTICE_DIR", str(pytester.path / "out" / ".ledger"))
    header = "import os\nimport pathlib\nimport signal\nimport time\n"
    pytester.makepyfile(test_checks=header + suite(KILLER, SLOW, *LATER))
    plugins = ("-p", "no:cacheprovider", "-p", "no:locust", "-p", "no:schemathesis")
    run = run_pytest(
        "--phase=phase1", f"--api-url={url}", "-p", "no:allure_pytest", *workers, plugins=plugins
    )
    assert run.ret == 1, run.output
    verdict = run.verdict()
    assert verdict["decision"] == "NO_GO"
    first = verdict["reasons"][0]
    assert first.startswith(f"run.target.alive: target {url} died at 20"), first
    assert "while svc.slow was running" in first
    alive = run.check("run.target.alive")
    died_at = alive["evidence"]["facts"]["died_at"]
    assert died_at.endswith("Z") and f"died at {died_at}" in first
    outcomes = run.outcomes()
    assert outcomes["svc.killer"] == "pass" and outcomes["svc.slow"] == "pass"
    # The checks after the death were never attempted: no rows, no connection-refused failures.
    assert not [c for c in outcomes if c.startswith("svc.later")], outcomes
    assert verdict["checks"][0]["id"] == "run.target.alive"
    assert server.poll() is not None  # it really was killed


GATES = REPO / "tests" / "gates" / "test_metric_gates.py"


def test_unreachable_prometheus_makes_the_gates_inconclusive_not_go(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    prometheus = f"http://127.0.0.1:{closed_port()}"
    alertmanager = f"http://127.0.0.1:{closed_port()}"
    pytester.makepyfile(test_checks=suite(check("svc.health")))
    pytester.makeconftest("")
    (pytester.path / "test_gates.py").write_text(GATES.read_text("utf-8"), encoding="utf-8")
    run = run_pytest(
        "--phase=phase2",
        f"--api-url={double.url}",
        f"--prometheus-url={prometheus}",
        f"--alertmanager-url={alertmanager}",
    )
    verdict = run.verdict("phase2")
    assert verdict["decision"] == "INCONCLUSIVE", run.output
    gates = {c["id"]: c for c in verdict["checks"] if c["kind"] == "gate" and c["blocking"]}
    assert gates, run.output
    assert {c["outcome"] for c in gates.values()} == {"inconclusive"}
    reason = gates["gate.error-rate"]["reason"]
    assert f"Prometheus {prometheus}/-/ready unreachable" in reason
    assert "probed 1 time over" in reason
    am = gates["monitoring.reachable.alertmanager"]["reason"]
    assert f"Alertmanager {alertmanager}/-/ready unreachable" in am
