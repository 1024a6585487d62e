"""Real SkillMeat servers for the fault self-tests: one per phase (flag OFF for phase 1, ON for
phases 2 and 4).

Each phase has a server of its own because a SkillMeat process uses one core at most and the
suite runs of different phases go side by side. They start in the background as soon as
collection shows a selected test needs them (about 10 s, overlapping the collection of the smoke
suite's check ids), live for the whole session, and are stopped at its end. Their logs are kept
when a test failed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from phasegate.settings import OPTIONS
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

SKILLMEAT_VERSION = next(o.default for o in OPTIONS if o.name == "skillmeat_version") or "0.74.0"


PHASE_FLAG_ON = {"phase1": False, "phase2": True, "phase4": True}


class Stacks:
    """`url(phase)` waits for that phase's server; all were started at once in the background."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.servers: dict[str, SkillMeatServer] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=len(PHASE_FLAG_ON) + 1, thread_name_prefix="skillmeat-start"
        )
        self._started: dict[str, Future[str]] = {}

    def start_all(self) -> None:
        """Start every server in the background; a failure shows when a test asks for its URL."""
        python = self._pool.submit(ensure_skillmeat, SKILLMEAT_VERSION, lambda _msg: None)
        for phase, flag_on in PHASE_FLAG_ON.items():
            self._started[phase] = self._pool.submit(self._start, phase, flag_on, python)

    def _start(self, phase: str, flag_on: bool, python: Future[Path]) -> str:
        name = f"skillmeat-{phase}-flag-{'on' if flag_on else 'off'}"
        log_path = self.log_dir / f"{name}.log"
        spec = ServerSpec(python=python.result(), flag_on=flag_on, log_path=log_path, name=name)
        server = SkillMeatServer(spec, progress=lambda _msg: None)
        self.servers[phase] = server
        return server.start()

    def url(self, phase: str) -> str:
        return self._started[phase].result(timeout=180)

    def log(self, phase: str) -> Path:
        return self.servers[phase].spec.log_path

    def stop(self) -> None:
        for future in self._started.values():
            with contextlib.suppress(Exception):
                future.result(timeout=180)
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.stop()
        self._pool.shutdown(wait=True)


_started: list[Stacks] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any("fault_stacks" in getattr(item, "fixturenames", ()) for item in session.items):
        running = Stacks(Path(tempfile.mkdtemp(prefix="phasegate-fault-stacks-")))
        _started.append(running)
        running.start_all()


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _started:
        running = _started.pop()
        running.stop()
        if session.testsfailed:
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"fault self-tests: SkillMeat logs kept in {running.log_dir}")
        else:
            shutil.rmtree(running.log_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fault_stacks() -> Stacks:
    """The servers started at the end of collection (see pytest_collection_finish)."""
    if not _started:  # pragma: no cover - collection always starts them for a test that asks
        pytest.fail("the SkillMeat servers were not started at collection")
    return _started[0]
