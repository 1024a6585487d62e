"""pytest wiring of `phasegate.liveness`: fail fast on a dead target, stop early when it dies.

- A given Prometheus and Alertmanager are probed once at session start, with a short timeout.
  Unanswered: their URL is dropped and the reason becomes the run's monitoring problem, so every
  gate reading them is INCONCLUSIVE at once instead of retrying per gate. (The embedded stack
  waited for readiness itself.)
- A given target is probed after collection (a bad declaration still sends nothing), a few times
  within a fixed budget. Unanswered: no check runs and the verdict gets one blocking FAIL,
  `run.target.reachable`, whose reason is the probe's: NO_GO with one line on top.
- During the run a watchdog thread watches the target. When it dies, a notice file tells every
  process of the run (xdist workers too); each stops after its current check, and the verdict
  gets one blocking FAIL, `run.target.alive`, naming the time and the check that was running.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from phasegate import liveness
from phasegate.client import request_headers
from phasegate.outcomes import CheckResult, Kind, Outcome
from phasegate.runstate import RunState
from phasegate.severity import load_catalog as load_severity

REACHABLE_ID = "run.target.reachable"
ALIVE_ID = "run.target.alive"


NOT_ATTEMPTED = "not attempted: "


class LivenessPlugin:
    NAME = "phasegate-liveness"

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.preflight: liveness.ProbeResult | None = None
        self.problem: str | None = None  # the target did not answer the preflight
        self.watchdog: liveness.Watchdog | None = None
        self._running: dict[str, None] = {}

    @property
    def _notice(self) -> Path:
        return liveness.notice_path(self.state.ledger_dir, self.state.run_id)

    def _active(self, config: pytest.Config) -> bool:
        state = self.state
        return bool(
            state.controller and state.settings.phase is not None and not config.option.collectonly
        )

    def _say(self, config: pytest.Config, message: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"phasegate: {message}")

    # -- before the checks ----------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Monitoring first: xdist workers receive its URLs when they start, right after."""
        if not self._active(session.config):
            return
        self._notice.unlink(missing_ok=True)
        if not self.state.settings.embedded:
            self._probe_monitoring(session.config)

    def _probe_monitoring(self, config: pytest.Config) -> None:
        state = self.state
        problems: list[str] = []
        services = (("Prometheus", "prometheus_url"), ("Alertmanager", "alertmanager_url"))
        given = [
            (name, attr, getattr(state, attr)) for name, attr in services if getattr(state, attr)
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:  # both within one short timeout
            found = list(pool.map(lambda entry: liveness.probe_monitoring(entry[2]), given))
        for (name, attribute, _), result in zip(given, found, strict=True):
            if not result.answered:
                setattr(state, attribute, None)
                problems.append(result.reason(name))
        if problems:
            state.monitoring_problem = "; ".join(problems)
            self._say(config, f"{state.monitoring_problem}; the gates reading it are inconclusive")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """The target's preflight, after collection: a bad declaration sends nothing."""
        state = self.state
        if not self._active(session.config) or not state.api_url or state.stack_problem:
            return
        if not state.settings.embedded:
            headers = request_headers(state.client_config(), REACHABLE_ID)
            self.preflight = liveness.probe_target(state.api_url, headers=headers)
            if not self.preflight.answered:
                self.problem = self.preflight.reason()
                self._say(session.config, f"{self.problem}; no check will run")
                liveness.write_notice(self._notice, liveness.StopNotice(self.problem))
                dropped = list(session.items)
                if dropped:  # without xdist; xdist workers stop on the notice
                    session.config.hook.pytest_deselected(items=dropped)
                    session.items[:] = []
                return
        self.watchdog = liveness.Watchdog(
            state.api_url, self._died, running=lambda: tuple(self._running)
        ).start()

    def _died(self, death: liveness.Death) -> None:
        liveness.write_notice(self._notice, liveness.StopNotice(death.reason(), death))

    # -- during the checks ----------------------------------------------------------------------

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self._running[nodeid] = None

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self._running.pop(nodeid, None)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        notice = liveness.read_notice(self._notice)
        if notice is None:
            return
        # Stop after this item (under xdist the controller then stops every worker).
        item.session.shouldfail = notice.reason
        pytest.skip(NOT_ATTEMPTED + notice.reason)

    # -- the verdict ----------------------------------------------------------------------------

    def run_checks(self) -> list[CheckResult]:
        """The findings that come before every check's own (empty when the target was fine).

        Checks skipped because the target was gone are taken out of the results: they were not
        attempted, and a row each would bury the one reason that matters.
        """
        state = self.state
        notice = liveness.read_notice(self._notice)
        if notice is None:
            return []
        skipped = [
            nodeid
            for nodeid, payload in state.results.items()
            if payload.get("outcome") == "skipped"
            and str(payload.get("reason", "")).startswith(NOT_ATTEMPTED)
        ]
        for nodeid in skipped:
            del state.results[nodeid]
        if notice.death is None:
            facts = self.preflight.to_dict() if self.preflight else {}
            facts["skipped_by_workers"] = len(skipped)
            return [_finding(REACHABLE_ID, notice.reason, {"facts": facts}, REACHABLE_TITLE)]
        death = notice.death
        running = ", ".join(_check_id(state.results, nodeid) for nodeid in death.running)
        facts = death.to_dict() | {"not_attempted_but_started": len(skipped)}
        return [_finding(ALIVE_ID, death.reason(running), {"facts": facts}, ALIVE_TITLE)]

    def pytest_sessionfinish(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        if self.state.controller:
            self._notice.unlink(missing_ok=True)


REACHABLE_TITLE = "The target answered before any check ran"
ALIVE_TITLE = "The target stayed up for the whole run"


def _finding(check_id: str, reason: str, evidence: dict[str, Any], title: str) -> CheckResult:
    resolved = load_severity().resolve(check_id, None)
    return CheckResult(
        id=check_id,
        title=title,
        kind=Kind.SMOKE,
        outcome=Outcome.FAIL,
        blocking=resolved.blocking,
        rule=resolved.rule,
        severity=resolved.severity.value,
        description=(
            "Blocking: a target that does not answer fails the rollout's first precondition; "
            "no check can say anything about it."
        ),
        reason=reason,
        evidence=evidence,
    )


def _check_id(results: dict[str, dict[str, Any]], nodeid: str) -> str:
    payload = results.get(nodeid)
    if payload is None:
        return nodeid
    return str(payload.get("meta", {}).get("id", nodeid))
