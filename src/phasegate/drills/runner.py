"""Running drills: on a SkillMeat the run starts (embedded) or on a deployment with its commands.

Each embedded drill gets a fresh server of its own (private HOME, free loopback port), so one
drill's damage never leaks into the next; the actions the plan's commands stand for are process
restarts over that server's data. Against a deployment the actions are the user's own commands,
and a drill whose command was not given is INCONCLUSIVE with the option it needs: the drills
cause downtime, so nothing is ever guessed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from phasegate.client import ClientConfig
from phasegate.drills import disable, recover, rollback
from phasegate.drills.common import DrillContext, shell_action
from phasegate.drills.model import BUDGETS, Budget
from phasegate.drills.server import DrillServer
from phasegate.evidence import Evidence
from phasegate.outcomes import CheckResult, Conclusion, Kind, Outcome
from phasegate.progress import Progress
from phasegate.resources import Ledger, new_run_id
from phasegate.stack.skillmeat import ServerSpec, StartError
from phasegate.stack.venv import InstallError, ensure_skillmeat
from phasegate.verdict import Verdict, decide

DRILLS = ("disable", "recover", "rollback")
# PyPI's release before the one under test, as `pip index versions skillmeat` listed it when this
# was written; used only when the index cannot be asked.
PREVIOUS_RELEASE = {"0.74.0": "0.61.0"}


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def previous_release(version: str, listing: str | None = None) -> str | None:
    """The highest release below `version` in pip's index listing (asked when not given)."""
    if listing is None:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "index", "versions", "skillmeat"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            listing = done.stdout if done.returncode == 0 else ""
        except (OSError, subprocess.TimeoutExpired):
            listing = ""
    for line in listing.splitlines():
        if line.startswith("Available versions:"):
            releases = [v.strip() for v in line.split(":", 1)[1].split(",") if v.strip()]
            older = [v for v in releases if _release(v) < _release(version)]
            return max(older, key=_release) if older else None
    return PREVIOUS_RELEASE.get(version)


TITLES = {
    "disable": "Immediate disable (< 1 minute) with data and traffic, then re-enable",
    "recover": "Data recovery: stop, back up, damage, restore, restart; every row back",
    "rollback": "Full rollback (< 5 minutes) to the previous release over the same data",
}
DESCRIPTIONS = {
    "disable": disable.__doc__ or "",
    "recover": recover.__doc__ or "",
    "rollback": rollback.__doc__ or "",
}


@dataclass(frozen=True)
class Deployment:
    """A user's deployment and the commands that change it; None = not given."""

    api_url: str
    disable_cmd: str | None = None
    enable_cmd: str | None = None
    rollback_cmd: str | None = None
    forward_cmd: str | None = None
    backup_cmd: str | None = None
    restore_cmd: str | None = None


@dataclass
class DrillRun:
    report_dir: Path
    progress: Progress = print
    skillmeat_version: str = "0.74.0"
    previous_version: str | None = None
    budgets: Mapping[str, Budget] = field(default_factory=lambda: dict(BUDGETS))
    run_id: str = field(default_factory=new_run_id)
    projects_root: Path = Path("/tmp/phasegate-projects")

    def context(self, api_url: str) -> DrillContext:
        ledger = Ledger(self.report_dir / ".ledgers", self.run_id, "drill")
        return DrillContext(
            ClientConfig(api_url=api_url, run_id=self.run_id),
            ledger,
            str(self.projects_root / self.run_id),
            self.progress,
        )

    def previous(self) -> str | None:
        return self.previous_version or previous_release(self.skillmeat_version)

    # -- embedded -----------------------------------------------------------------------------

    def embedded(self, name: str) -> CheckResult:
        started = time.monotonic()
        try:
            python = ensure_skillmeat(self.skillmeat_version, self.progress)
        except InstallError as exc:
            return self._result(name, _inconclusive(f"SkillMeat did not install: {exc}"), started)
        server = DrillServer(
            ServerSpec(
                python=python,
                flag_on=True,
                log_path=self.report_dir / f"skillmeat-drill-{name}.log",
                name=f"skillmeat-drill-{name}",
            ),
            self.progress,
        )
        try:
            try:
                url = server.start()
            except StartError as exc:
                return self._result(name, _inconclusive(f"the stack did not start: {exc}"), started)
            conclusion = _guarded(lambda: self._embedded_drill(name, server, url))
        finally:
            server.stop()
            # The folders the embedded server created for the drill's projects (as fixtures.py
            # does for a phase run); a deployment's own folders are its own.
            shutil.rmtree(self.projects_root / self.run_id, ignore_errors=True)
        return self._result(name, conclusion, started)

    def _embedded_drill(self, name: str, server: DrillServer, url: str) -> Conclusion:
        context = self.context(url)
        budget = self.budgets[name]
        if name == "disable":
            return disable.run(
                context,
                disable=lambda: server.start_process(flag_on=False),
                enable=lambda: server.start_process(flag_on=True),
                budget=budget,
            )
        if name == "recover":
            return recover.run(context, server, budget=budget)
        previous = self.previous()
        if previous is None:
            return _inconclusive(
                f"no release before {self.skillmeat_version} is known; pass --previous-version"
            )
        try:
            old_python = ensure_skillmeat(previous, self.progress)
        except InstallError as exc:
            return _inconclusive(f"SkillMeat {previous} did not install: {exc}")
        current = server.spec.python
        return rollback.run(
            context,
            rollback=lambda: server.start_process(flag_on=True, python=old_python),
            forward=lambda: server.start_process(flag_on=True, python=current),
            versions=(self.skillmeat_version, previous),
            budget=budget,
            exited=lambda: _exit_text(server),
        )

    # -- deployment ---------------------------------------------------------------------------

    def deployed(self, name: str, target: Deployment) -> CheckResult:
        started = time.monotonic()
        context = self.context(target.api_url)
        budget = self.budgets[name]
        if name == "disable":
            missing = _missing(
                ("--disable-cmd", target.disable_cmd), ("--enable-cmd", target.enable_cmd)
            )
            if missing or target.disable_cmd is None or target.enable_cmd is None:
                return self._result(name, _not_given(name, missing), started)
            off = shell_action("--disable-cmd", target.disable_cmd)
            on = shell_action("--enable-cmd", target.enable_cmd)
            conclusion = _guarded(
                lambda: disable.run(
                    context,
                    disable=off,
                    enable=on,
                    budget=budget,
                )
            )
        elif name == "rollback":
            missing = _missing(
                ("--rollback-cmd", target.rollback_cmd), ("--forward-cmd", target.forward_cmd)
            )
            if missing or target.rollback_cmd is None or target.forward_cmd is None:
                return self._result(name, _not_given(name, missing), started)
            back = shell_action("--rollback-cmd", target.rollback_cmd)
            ahead = shell_action("--forward-cmd", target.forward_cmd)
            conclusion = _guarded(
                lambda: rollback.run(
                    context,
                    rollback=back,
                    forward=ahead,
                    versions=("deployed", "previous"),
                    budget=budget,
                )
            )
        else:
            missing = _missing(
                ("--backup-cmd", target.backup_cmd), ("--restore-cmd", target.restore_cmd)
            )
            if missing or target.backup_cmd is None or target.restore_cmd is None:
                return self._result(name, _not_given(name, missing), started)
            save = shell_action("--backup-cmd", target.backup_cmd)
            put_back = shell_action("--restore-cmd", target.restore_cmd)
            conclusion = _guarded(
                lambda: recover.run_deployed(context, backup=save, restore=put_back, budget=budget)
            )
        return self._result(name, conclusion, started)

    # -- results ------------------------------------------------------------------------------

    def _result(self, name: str, conclusion: Conclusion, started: float) -> CheckResult:
        evidence = Evidence()
        for key, value in conclusion.facts.items():
            evidence.note(key, value)
        return CheckResult(
            id=f"drill.{name}",
            title=TITLES[name],
            kind=Kind.DRILL,
            outcome=conclusion.outcome,
            blocking=True,
            phases=("phase4",),
            description=DESCRIPTIONS[name].strip(),
            reason=conclusion.reason,
            duration_s=time.monotonic() - started,
            evidence=evidence.to_dict(),
        )

    def verdict(
        self, results: Sequence[CheckResult], target: Mapping[str, object], started_at: str
    ) -> Verdict:
        decision, reasons, warnings = decide(results)
        return Verdict(
            phase="drill",
            decision=decision,
            target=dict(target),
            started_at=started_at,
            finished_at=now_utc(),
            run_id=self.run_id,
            checks=list(results),
            reasons=reasons,
            warnings=warnings,
        )


def _exit_text(server: DrillServer) -> str | None:
    code = server.exited()
    if code is None or server.process is None:
        return None
    return f"exited with {code}; log tail: {server.process.log_tail(8)}"


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _guarded(drill: Callable[[], Conclusion]) -> Conclusion:
    """A drill that breaks (a bug, an answer nobody foresaw) is an ERROR with its cause, never a
    traceback instead of a verdict."""
    try:
        return drill()
    except Exception as exc:
        return Conclusion(Outcome.ERROR, f"the drill broke: {exc!r}")


def _inconclusive(reason: str) -> Conclusion:
    return Conclusion(Outcome.INCONCLUSIVE, reason)


def _missing(*pairs: tuple[str, str | None]) -> list[str]:
    return [option for option, value in pairs if not value]


def _not_given(name: str, missing: list[str]) -> Conclusion:
    return _inconclusive(
        f"the {name} drill changes your deployment and runs only with your own commands: "
        f"{', '.join(missing)} not given"
    )


Runner = Callable[[str], CheckResult]
