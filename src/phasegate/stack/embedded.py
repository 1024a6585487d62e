"""The embedded default stack for a phase: what runs when the user gives no --api-url."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from phasegate.phases import Phase, StackShape
from phasegate.progress import Progress
from phasegate.stack.monitoring import MonitoringStack, ScrapeTarget, sqlite_files
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat


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
    with_monitoring: bool = True
    monitoring: MonitoringStack | None = None
    monitoring_problem: str | None = None
    _servers: list[SkillMeatServer] = field(default_factory=list)

    def start(self) -> str:
        # Only the single-server shape is built; the canary split is the phase-3 issue's work.
        if self.phase.spec.embedded_stack is not StackShape.SINGLE:
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
        if self.with_monitoring:
            self._start_monitoring(server)
        return self.api_url

    def _start_monitoring(self, server: SkillMeatServer) -> None:
        """Real Prometheus + Alertmanager scraping the server; missing ones are a stated problem.

        Without them the smoke checks still run; the metric gates then say INCONCLUSIVE with
        this reason instead of passing on no data.
        """
        database = server.database
        monitoring = MonitoringStack(
            [ScrapeTarget(server.url)],
            log_dir=self.log_dir,
            files={"skillmeat": sqlite_files(database)} if database else None,
            progress=self.progress,
        )
        try:
            monitoring.start()
        except Exception as exc:
            with contextlib.suppress(Exception):
                monitoring.stop()
            self.monitoring_problem = f"embedded monitoring did not start: {exc}"
            self.progress(self.monitoring_problem)
            return
        self.monitoring = monitoring
        self.logs["prometheus"] = str(self.log_dir / "prometheus.log")
        self.logs["alertmanager"] = str(self.log_dir / "alertmanager.log")

    def stop(self) -> None:
        if self.monitoring is not None:
            with contextlib.suppress(Exception):
                self.monitoring.stop()
            self.monitoring = None
        while self._servers:
            server = self._servers.pop()
            with contextlib.suppress(Exception):
                server.stop()
