"""Real SkillMeat servers for the fault self-tests: one with the flag OFF, one with it ON.

Both start together the first time a test asks for either (about 10 s), live for the whole
session, and are stopped at its end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from phasegate.settings import OPTIONS
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

SKILLMEAT_VERSION = next(o.default for o in OPTIONS if o.name == "skillmeat_version") or "0.74.0"


class Stacks:
    """`url(flag_on)` waits for that server; both were started at once in the background."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.servers: dict[bool, SkillMeatServer] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="skillmeat-start")
        self._started: dict[bool, Future[str]] = {}

    def start_all(self) -> None:
        python = ensure_skillmeat(SKILLMEAT_VERSION, progress=lambda _msg: None)
        for flag_on in (False, True):
            name = f"skillmeat-flag-{'on' if flag_on else 'off'}"
            server = SkillMeatServer(
                ServerSpec(
                    python=python, flag_on=flag_on, log_path=self.log_dir / f"{name}.log", name=name
                ),
                progress=lambda _msg: None,
            )
            self.servers[flag_on] = server
            self._started[flag_on] = self._pool.submit(server.start)

    def url(self, flag_on: bool) -> str:
        return self._started[flag_on].result(timeout=180)

    def log(self, flag_on: bool) -> Path:
        return self.servers[flag_on].spec.log_path

    def stop(self) -> None:
        for future in self._started.values():
            with contextlib.suppress(Exception):
                future.result(timeout=180)
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.stop()
        self._pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stacks]:
    running = Stacks(tmp_path_factory.mktemp("skillmeat-logs"))
    try:
        running.start_all()
        yield running
    finally:
        running.stop()
