"""The embedded default stack for a phase: what runs when the user gives no --api-url."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

from phasegate.phases import Phase, StackShape
from phasegate.progress import Progress
from phasegate.stack.monitoring import MonitoringStack, ScrapeTarget, sqlite_files
from phasegate.stack.nginx import Backend, NginxSplit
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
    stable_url: str = ""  # phase 3: the flag-OFF instance, directly
    canary_url: str = ""  # phase 3: the flag-ON instance, directly
    balancer: NginxSplit | None = None
    _servers: list[SkillMeatServer] = field(default_factory=list)
    _by_role: dict[str, SkillMeatServer] = field(default_factory=dict)

    def start(self) -> str:
        if self.phase.spec.embedded_stack is StackShape.CANARY_SPLIT:
            return self._start_split()
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
            self._start_monitoring({"": server})
        return self.api_url

    def _start_split(self) -> str:
        """The plan's phase 3: stable (flag OFF) and canary (flag ON) behind nginx's 9:1 upstream.

        The plan's `docker run` of the canary mounts no volume and names no database, so the
        canary keeps its own data: each side here gets its own HOME and SQLite file. A write that
        the balancer sends to one side is not on the other.
        """
        python = ensure_skillmeat(self.skillmeat_version, self.progress)
        try:
            for role, flag_on in (("stable", False), ("canary", True)):
                log_path = self.log_dir / f"skillmeat-{self.phase.value}-{role}.log"
                if log_path.exists():
                    log_path.unlink()
                server = SkillMeatServer(
                    ServerSpec(
                        python=python, flag_on=flag_on, log_path=log_path, name=f"skillmeat-{role}"
                    ),
                    self.progress,
                )
                self._servers.append(server)
                self._by_role[role] = server
                server.start()
                self.logs[f"skillmeat-{role}"] = str(log_path)
            self.stable_url = self._by_role["stable"].url
            self.canary_url = self._by_role["canary"].url
            self.balancer = NginxSplit(
                self.log_dir / f"nginx-{self.phase.value}",
                (Backend("stable", self.stable_url, 9), Backend("canary", self.canary_url, 1)),
                self.progress,
            )
            self.api_url = self.balancer.start()
        except BaseException:
            self.stop()
            raise
        self.logs["skillmeat"] = self.logs["skillmeat-stable"]
        self.logs["nginx"] = str(self.balancer.prefix)
        if self.with_monitoring:
            self._start_monitoring(dict(self._by_role))
        return self.api_url

    def rollback(self) -> None:
        """The plan's phase-3 rollback for real: canary out of the upstream, reload, stop it."""
        if self.balancer is None or "canary" not in self._by_role:
            raise StackUnavailable("this stack has no canary to roll back")
        self.balancer.remove("canary")
        self.stop_canary()

    @property
    def canary_pid(self) -> int | None:
        """The canary's process group, for the rollback check in whichever process runs it."""
        server = self._by_role.get("canary")
        return server.process.pid if server is not None and server.process is not None else None

    def stop_canary(self) -> None:
        server = self._by_role.pop("canary", None)
        if server is not None:
            self._servers.remove(server)
            server.stop()

    def _start_monitoring(self, servers: dict[str, SkillMeatServer]) -> None:
        """Real Prometheus + Alertmanager scraping the servers; missing ones are a stated problem.

        Without them the smoke checks still run; the metric gates then say INCONCLUSIVE with
        this reason instead of passing on no data. Two servers (phase 3) carry a `role` label,
        so the canary's series can be read apart from the stable one's.
        """
        # The catalog's database-growth row reads database="skillmeat": in phase 3 that is the
        # canary's file, the side whose memory system writes; the stable one's is named apart.
        files = {
            "skillmeat-stable" if role == "stable" else "skillmeat": sqlite_files(s.database)
            for role, s in servers.items()
            if s.database
        }
        monitoring = MonitoringStack(
            [
                ScrapeTarget(s.url, labels={"role": role} if role else {})
                for role, s in servers.items()
            ],
            log_dir=self.log_dir,
            files=files or None,
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
        if self.balancer is not None:
            with contextlib.suppress(Exception):
                self.balancer.stop()
            self.balancer = None
        self._by_role.clear()
        while self._servers:
            server = self._servers.pop()
            with contextlib.suppress(Exception):
                server.stop()
