"""The embedded SkillMeat stops however the run ends: SIGTERM (a CI timeout) or SIGINT (Ctrl-C).

Slow: each case starts the real embedded server for phase 1 (a few seconds once SkillMeat's own
venv is cached; `phasegate install-skillmeat` builds it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from phasegate.stack.venv import cache_root, venv_dir
from support.phase_runs import check, suite

pytestmark = pytest.mark.selftest_slow

SKILLMEAT_VERSION = "0.74.0"
SLEEPER = "import os\nimport pathlib\nimport time\n\n" + suite(
    check(
        "slow.sleeper",
        """
        assert api.health().status_code == 200
        pathlib.Path(os.environ["SELFTEST_MARKER"]).write_text(api.config.api_url)
        time.sleep(120)
        """,
    )
)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def uvicorn_pids(port: int) -> list[int]:
    """Live processes whose command line is a uvicorn serving on `port` (no psutil needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [
                a.decode(errors="replace") for a in (entry / "cmdline").read_bytes().split(b"\0")
            ]
        except OSError:
            continue
        if any("uvicorn" in a for a in argv) and "--port" in argv and str(port) in argv:
            found.append(int(entry.name))
    return found


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def skillmeat_cache() -> Path:
    root = cache_root()  # resolved here, before anything changes HOME
    if not (venv_dir(SKILLMEAT_VERSION) / ".phasegate-ready").exists():
        pytest.skip(
            f"SkillMeat {SKILLMEAT_VERSION} venv not built; run `phasegate install-skillmeat`"
        )
    return root


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_embedded_stack_stops_when_the_run_is_signalled(
    tmp_path: Path, skillmeat_cache: Path, signum: signal.Signals
) -> None:
    (tmp_path / "test_sleeper.py").write_text(SLEEPER, encoding="utf-8")
    marker = tmp_path / "sleeping"
    report_dir = tmp_path / "reports"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SKILLMEAT_", "PHASEGATE_", "PYTEST_"))
    }
    # The server's private HOME and working folder are made under TMPDIR. The kernel stops the
    # server if pytest dies (PR_SET_PDEATHSIG), but only the plugin's own stop removes that
    # folder: its absence is what proves the plugin stopped the stack itself.
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env.update(
        SELFTEST_MARKER=str(marker), PHASEGATE_CACHE_DIR=str(skillmeat_cache), TMPDIR=str(tmpdir)
    )
    output = tmp_path / "pytest-output.txt"
    argv = [sys.executable, "-m", "pytest", "-m", "phase1", "-p", "no:cacheprovider"]
    argv += ["-p", "no:locust", f"--report-dir={report_dir}", "test_sleeper.py"]
    with output.open("wb") as sink:
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for(
                lambda: marker.exists() or proc.poll() is not None,
                timeout=180,
                what="the check to reach its sleep",
            )
            assert proc.poll() is None, output.read_text()
            api_url = marker.read_text()
            port = int(api_url.rsplit(":", 1)[1])
            server_log = (report_dir / "skillmeat-phase1.log").read_text()
            assert f"Uvicorn running on {api_url}" in server_log
            assert uvicorn_pids(port), "the embedded server should be running before the signal"
            assert list(tmpdir.glob("phasegate-skillmeat-*")), "no server folder under TMPDIR"

            signalled = time.monotonic()
            proc.send_signal(signum)
            proc.wait(timeout=30)
            took = time.monotonic() - signalled
        finally:
            if proc.poll() is None:  # only the process this test started
                proc.kill()
                proc.wait()
    text = output.read_text()
    assert took < 20, f"the run took {took:.1f} s to stop:\n{text}"
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, text
    verdict = json.loads((report_dir / "verdict-phase1.json").read_text())
    assert verdict["decision"] == "INCONCLUSIVE"
    assert "the run was interrupted before every check finished" in verdict["reasons"]
    assert "phasegate phase1: INCONCLUSIVE" in text
    assert list(tmpdir.glob("phasegate-skillmeat-*")) == [], "the plugin did not stop the stack"
    wait_for(lambda: not uvicorn_pids(port), timeout=10, what="uvicorn to be gone")
    assert not port_open(port)
