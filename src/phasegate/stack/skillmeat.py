"""One real SkillMeat server on loopback with a private HOME and working folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from phasegate.progress import Progress
from phasegate.stack.ports import LOOPBACK, free_port
from phasegate.stack.process import ManagedProcess


class StartError(RuntimeError):
    """The service did not become ready; the message carries the tail of its log."""


@dataclass(frozen=True)
class ServerSpec:
    python: Path
    flag_on: bool
    log_path: Path
    name: str = "skillmeat"
    ready_timeout_s: float = 90.0
    # SkillMeat settings on top of the stack's own (e.g. its authentication modes); they win.
    extra_env: Mapping[str, str] = field(default_factory=dict)


class SkillMeatServer:
    """Starts SkillMeat the way its docs and deploy script do, and only on 127.0.0.1."""

    def __init__(self, spec: ServerSpec, progress: Progress = print) -> None:
        self.spec = spec
        self.progress = progress
        self.port = 0
        self.root: Path | None = None
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def database(self) -> Path | None:
        """SkillMeat's SQLite file under its private HOME (for the database-size exporter)."""
        if self.root is None:
            return None
        return self.root / "home" / ".skillmeat" / "cache" / "cache.db"

    def _env(self, home: Path) -> dict[str, str]:
        # Start from a minimal environment: a user's own SKILLMEAT_* must not leak into the stack.
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SKILLMEAT_") and k not in {"DATABASE_URL", "VIRTUAL_ENV"}
        }
        env.update(
            HOME=str(home),
            SKILLMEAT_MEMORY_CONTEXT_ENABLED="true" if self.spec.flag_on else "false",
            SKILLMEAT_ENV="development",
            SKILLMEAT_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.spec.extra_env)
        return env

    def start(self) -> str:
        self.root = Path(tempfile.mkdtemp(prefix=f"phasegate-{self.spec.name}-"))
        home, work = self.root / "home", self.root / "work"
        home.mkdir()
        work.mkdir()
        env = self._env(home)
        skillmeat_cli = self.spec.python.parent / "skillmeat"
        self.progress(f"{self.spec.name}: creating its database (skillmeat cache status)")
        # Without this one-time step the start-up migration fails on SQLite and every memory
        # call answers 500 (see the SkillMeat notes in the project's docs).
        done = subprocess.run(
            [str(skillmeat_cli), "cache", "status"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise StartError(
                f"skillmeat cache status failed ({done.returncode}): {done.stderr[-1500:]}"
            )
        self.port = free_port()
        self.process = ManagedProcess(
            self.spec.name, self.argv(), log_path=self.spec.log_path, env=env, cwd=work
        )
        self._wait_ready()
        return self.url

    def argv(self) -> list[str]:
        """The server's command line: the spec's python, uvicorn, loopback, the chosen port."""
        return [
            str(self.spec.python),
            "-m",
            "uvicorn",
            "skillmeat.api.server:app",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
        ]

    def _wait_ready(self) -> None:
        assert self.process is not None
        started = time.monotonic()
        deadline = started + self.spec.ready_timeout_s
        last_note = started
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                code = self.process.exit_code()
                if code is not None:
                    raise StartError(
                        f"{self.spec.name} exited with {code} before it was ready; "
                        f"log {self.spec.log_path}:\n{self.process.log_tail()}"
                    )
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        self.progress(
                            f"{self.spec.name}: ready at {self.url} after "
                            f"{time.monotonic() - started:.1f} s"
                        )
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() - last_note >= 3:
                    last_note = time.monotonic()
                    self.progress(
                        f"{self.spec.name}: waiting for /health "
                        f"({time.monotonic() - started:.0f} s)"
                    )
                time.sleep(0.25)
        raise StartError(
            f"{self.spec.name} not ready after {self.spec.ready_timeout_s:.0f} s; "
            f"log {self.spec.log_path}:\n{self.process.log_tail()}"
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
