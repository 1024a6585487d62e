"""The embedded default stack for a phase: what runs when the user gives no --api-url."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from phasegate.phases import Phase
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

Progress = Callable[[str], None]


class StackUnavailable(RuntimeError):
    """This phase has no embedded stack yet; the run must say so rather than pretend."""


@dataclass
class EmbeddedStack:
    phase: Phase
    skillmeat_version: str
    log_dir: Path
    progress: Progress = print
    api_url: str = ""
    logs: dict[str, str] = field(default_factory=dict)
    _servers: list[SkillMeatServer] = field(default_factory=list)

    def start(self) -> str:
        if self.phase is Phase.PHASE3:
            raise StackUnavailable(
                "phase 3 needs a stable (flag OFF) and a canary (flag ON) SkillMeat behind a 9:1 "
                "nginx split; the embedded canary stack is not built yet. Point --api-url at "
                "your load balancer to run phase 3 against a real deployment."
            )
        python = ensure_skillmeat(self.skillmeat_version, self.progress)
        log_path = self.log_dir / f"skillmeat-{self.phase.value}.log"
        if log_path.exists():
            log_path.unlink()
        server = SkillMeatServer(
            ServerSpec(python=python, flag_on=self.phase.flag_expected_on, log_path=log_path),
            self.progress,
        )
        self._servers.append(server)
        try:
            self.api_url = server.start()
        except BaseException:
            self.stop()
            raise
        self.logs["skillmeat"] = str(log_path)
        return self.api_url

    def stop(self) -> None:
        while self._servers:
            server = self._servers.pop()
            with contextlib.suppress(Exception):
                server.stop()
