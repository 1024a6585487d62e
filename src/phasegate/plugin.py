"""The pytest plugin: wiring only.

Options -> Settings (once) -> Target (given URL or embedded stack) -> fixtures -> per-check
results -> Verdict -> files and exit status. The logic of each step lives in the library modules;
this file only connects them to pytest's hooks.

Under pytest-xdist the controller owns the run: it starts the one embedded stack, hands its URL
and the run id to the workers, collects every check's result from the workers' reports, scans
for orphans and writes the verdict. A worker only runs tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, cast

import pytest

from phasegate import allure_support
from phasegate import verdict as verdict_mod
from phasegate.checks import CheckDeclarationError, CheckMeta, build_meta
from phasegate.client import SkillMeatClient
from phasegate.contract.profiles import profile_for
from phasegate.evidence import Redactor
from phasegate.liveness_plugin import LivenessPlugin
from phasegate.load.sizing import header_lines
from phasegate.outcomes import CheckResult, Inconclusive, Kind, Outcome
from phasegate.phases import PHASE_MARKS, Phase, phase_from_markexpr, phases_named_in
from phasegate.progress import Progress
from phasegate.resources import new_run_id, read_ledgers, scan_orphans
from phasegate.runstate import EVIDENCE, META, STATE, RunState, state_of
from phasegate.settings import OPTIONS, Settings, SettingsError, resolve
from phasegate.severity import SeverityCatalogError
from phasegate.severity import load_catalog as load_severity
from phasegate.stack.embedded import EmbeddedStack, StackUnavailable
from phasegate.summary import summary_lines

pytest_plugins = ["phasegate.fixtures"]

PROPERTY = "phasegate"
# Fixtures that create data on the target: a check using one writes, whatever it declares.
WRITING_FIXTURES = frozenset(
    {"project", "shared_project", "make_project", "make_item", "make_module", "cleanup"}
)
ORPHAN_CHECK_ID = "run.cleanup.orphans"


# What the controller learned while starting the run that every xdist worker needs.
SHARED_WITH_WORKERS = (
    "run_id",
    "api_url",
    "stable_url",
    "canary_url",
    "balancer_dir",
    "canary_pid",
    "stack_problem",
    "skillmeat_version",
    "prometheus_url",
    "alertmanager_url",
    "monitoring_since",
    "monitoring_problem",
)

# Checks that change the stack for every check after them (phase 3's rollback stops the canary).
LAST_CHECKS = frozenset({"canary.rollback"})


# -- options -------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("phasegate", "rollout gates for SkillMeat's Memory & Context system")
    for spec in OPTIONS:
        env = f" [env {spec.env}]" if spec.env else ""
        default = f" (default {spec.default})" if spec.default else ""
        group.addoption(
            spec.flag,
            dest=f"phasegate_{spec.name}",
            default=None,
            help=f"{spec.help}{default}{env}",
        )
        parser.addini(f"phasegate_{spec.name}", spec.help, default=None)


def _settings_from(config: pytest.Config) -> Settings:
    cli = {spec.name: config.getoption(f"phasegate_{spec.name}") for spec in OPTIONS}
    ini = {spec.name: config.getini(f"phasegate_{spec.name}") for spec in OPTIONS}
    markexpr = config.option.markexpr or ""
    return resolve(cli, os.environ, ini, phase_from_markexpr(markexpr))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name in PHASE_MARKS:
        config.addinivalue_line("markers", f"{name}: a check of rollout {name}")
    config.addinivalue_line(
        "markers",
        "check(id, blocking=True, kind='smoke', writes=False): the stable id of a phase check; "
        "its severity comes from its row in src/phasegate/severity.toml (blocking= stands in "
        "only until it has one); its docstring gives the title and the rule it blocks or warns by",
    )
    try:
        settings = _settings_from(config)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None and PROPERTY in workerinput:
        shared = workerinput[PROPERTY]
        state = RunState(settings=settings, controller=False, **shared)
    else:
        state = RunState(
            settings=settings,
            run_id=new_run_id(),
            controller=True,
            api_url=settings.api_url,
            stable_url=settings.stable_url,
            canary_url=settings.canary_url,
            prometheus_url=settings.prometheus_url,
            alertmanager_url=settings.alertmanager_url,
        )
    state.contract_profile = profile_for(
        settings.phase,
        settings.contract_profile,
        seed=settings.contract_seed,
        examples=settings.contract_examples,
    )
    config.stash[STATE] = state
    config.pluginmanager.register(LivenessPlugin(state), LivenessPlugin.NAME)
    if state.controller:
        config.pluginmanager.register(ResultCollector(state), "phasegate-results")
    if settings.phase is not None:
        if state.controller:
            _default_junit(config, settings)
        state.allure_dir = _default_allure(config, settings, clean=state.controller)


def _default_junit(config: pytest.Config, settings: Settings) -> None:
    """A phase run writes JUnit XML unless the user chose a path."""
    if getattr(config.option, "xmlpath", None) is None and settings.phase is not None:
        config.option.xmlpath = str(settings.report_dir / f"junit-{settings.phase.value}.xml")


def _default_allure(config: pytest.Config, settings: Settings, *, clean: bool) -> Path | None:
    """A phase run writes Allure results unless the user chose a directory (or has no allure).

    Runs before allure-pytest's own configure (tryfirst), which reads the option. Only the
    controller empties the directory: xdist workers write into it side by side.
    """
    if not hasattr(config.option, "allure_report_dir") or config.option.allure_report_dir:
        return None
    if config.option.collectonly:
        return None
    directory = settings.report_dir / "allure-results"
    if clean:
        allure_support.reset_results(directory)
    config.option.allure_report_dir = str(directory)
    return directory


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller -> worker: the one stack's URL and the run id."""
    state = state_of(node.config)
    if state is not None:
        node.workerinput[PROPERTY] = {name: getattr(state, name) for name in SHARED_WITH_WORKERS}


# -- the target ----------------------------------------------------------------------------------


def _progress(config: pytest.Config) -> Progress:
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def say(message: str) -> None:
        if reporter is not None:
            reporter.write_line(f"phasegate: {message}")
        else:  # pragma: no cover - only without the terminal plugin
            print(f"phasegate: {message}", file=sys.stderr)

    return say


def _sigterm_as_interrupt(signum: int, frame: FrameType | None) -> None:
    # pytest runs its teardown and session-finish hooks on KeyboardInterrupt; SIGTERM from a CI
    # runner's timeout then cleans up exactly like Ctrl-C does.
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    state = state_of(session.config)
    if state is None or not state.controller:
        return
    state.started_at = _now()
    settings = state.settings
    if settings.phase is None or session.config.option.collectonly:
        return
    if threading.current_thread() is threading.main_thread():
        state.previous_sigterm = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    if not settings.embedded:
        return
    say = _progress(session.config)
    stack = EmbeddedStack(settings.phase, settings.skillmeat_version, settings.report_dir, say)
    state.stack = stack
    say(
        f"starting the embedded stack for {settings.phase.value} "
        f"(SkillMeat {settings.skillmeat_version}, flag "
        f"{'ON' if settings.phase.flag_expected_on else 'OFF'})"
    )
    started = time.monotonic()
    try:
        state.api_url = stack.start()
        state.stable_url = stack.stable_url or None
        state.canary_url = stack.canary_url or None
        if stack.balancer is not None:
            state.balancer_dir = str(stack.balancer.prefix)
            state.canary_pid = stack.canary_pid
        state.skillmeat_version = settings.skillmeat_version
        if stack.monitoring is not None:
            state.prometheus_url = stack.monitoring.prometheus_url
            state.alertmanager_url = stack.monitoring.alertmanager_url
            state.monitoring_since = stack.monitoring.first_sample_at
        state.monitoring_problem = stack.monitoring_problem
        say(
            f"embedded stack ready in {time.monotonic() - started:.1f} s; "
            f"server log {stack.logs.get('skillmeat')}"
        )
    except StackUnavailable as exc:
        state.stack_problem = str(exc)
        say(f"no embedded stack: {exc}")
    except Exception as exc:
        state.stack_problem = f"the embedded stack failed to start: {exc}"
        say(state.stack_problem)


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = state_of(config)
    if state is None or state.settings.phase is None:
        return []
    settings = state.settings
    phase = settings.phase
    assert phase is not None
    if settings.embedded:
        where = (
            f"embedded SkillMeat {settings.skillmeat_version} at {state.api_url}"
            if state.api_url
            else f"embedded stack unavailable ({state.stack_problem})"
        )
    else:
        where = f"{settings.api_url} (given)"
    return [
        f"phasegate: {phase.value}, {phase.summary}",
        f"phasegate: target {where}, API {settings.api_version}",
        (
            f"phasegate: writes to the target: yes, every resource named {state.run_id}-*, "
            "deleted at the end of its check and verified by an orphan scan"
            if settings.writes_allowed
            else "phasegate: writes to the target: denied (--writes=deny); checks that write "
            "are skipped, so the verdict cannot be GO"
        ),
        "phasegate: monitoring "
        + (
            f"Prometheus {state.prometheus_url}, Alertmanager {state.alertmanager_url or '-'}"
            if state.prometheus_url
            else f"none ({state.monitoring_problem or 'no --prometheus-url'})"
        ),
        f"phasegate: contract profile {state.contract_profile.describe()}"
        if state.contract_profile is not None
        else "phasegate: contract profile -",
        *header_lines(phase.value, settings.load, settings.gate_overrides),
        f"phasegate: reports in {settings.report_dir}/",
    ]


# -- collection ----------------------------------------------------------------------------------


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = state_of(config)
    if state is None:
        return
    problems: list[str] = []
    seen: dict[str, str] = {}
    try:
        severities = load_severity()
    except (OSError, SeverityCatalogError) as exc:
        raise pytest.UsageError(f"phasegate: the severity catalog: {exc}") from None
    run_phase = state.settings.phase.value if state.settings.phase is not None else None
    phase_items = [item for item in items if any(item.get_closest_marker(p) for p in PHASE_MARKS)]
    for item in phase_items:
        marker = item.get_closest_marker("check")
        if marker is None:
            problems.append(f"{item.nodeid}: a phase check needs @pytest.mark.check('id')")
            continue
        callspec = getattr(item, "callspec", None)
        try:
            meta = build_meta(
                nodeid=item.nodeid,
                check_args=marker.args,
                check_kwargs=dict(marker.kwargs),
                marker_names=[m.name for m in item.iter_markers()],
                function=getattr(item, "function", None),
                param_id=callspec.id if callspec is not None else None,
                phase=run_phase,
                catalog=severities,
            )
        except CheckDeclarationError as exc:
            problems.append(str(exc))
            continue
        if meta.id in seen:
            problems.append(f"{item.nodeid}: check id {meta.id} is also used by {seen[meta.id]}")
        seen[meta.id] = item.nodeid
        if not meta.writes and WRITING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            meta = dataclasses.replace(meta, writes=True)
        item.stash[META] = meta
        if meta.writes and not state.settings.writes_allowed:
            item.add_marker(pytest.mark.skip(reason="writes to the target denied (--writes=deny)"))
    if problems:
        raise pytest.UsageError("phasegate: bad check declarations:\n  " + "\n  ".join(problems))
    if phase_items and state.settings.phase is None:
        named = sorted(phases_named_in(config.option.markexpr or ""))
        hint = f" (-m names {', '.join(named)})" if named else ""
        raise pytest.UsageError(
            "phasegate: which phase? pass --phase=phaseN or -m phaseN naming exactly one phase"
            + hint
        )
    phase = state.settings.phase
    if phase is not None:
        keep = [
            i for i in items if not (META in i.stash and phase.value not in i.stash[META].phases)
        ]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
    # Smoke checks first, load next, metric gates last: the gates judge the traffic before them.
    # The canary's rollback takes the canary away for good: after everything else, gates included.
    # Drills (phase 4) restart servers of their own; after the gates, so their load never falls
    # into a judged window.
    order = {
        Kind.SMOKE: 0,
        Kind.CONTRACT: 0,
        Kind.CANARY: 1,
        Kind.LOAD: 1,
        Kind.GATE: 2,
        Kind.DRILL: 3,
    }
    items.sort(
        key=lambda i: (
            (3 if i.stash[META].id in LAST_CHECKS else order[i.stash[META].kind])
            if META in i.stash
            else 0
        )
    )


# -- per-check results ---------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Allure: the check's title, phase labels and severity first, its evidence after."""
    meta = item.stash.get(META, None)
    state = state_of(item.config)
    if meta is not None:
        allure_support.label_check(meta)
    yield
    if meta is not None and state is not None:
        evidence = item.stash.get(EVIDENCE, None)
        if evidence is not None:
            allure_support.attach_evidence(evidence, Redactor(state.client_config().secrets))


def _first_line(text: str, limit: int = 300) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    state = state_of(item.config)
    redactor = Redactor(state.client_config().secrets if state is not None else ())
    if redactor.secrets:
        _redact_report(report, redactor)
    meta = item.stash.get(META, None)
    if meta is None:
        return
    excinfo = call.excinfo
    result: Outcome
    reason = ""
    if excinfo is not None and excinfo.errisinstance(Inconclusive):
        reason = redactor.text(_first_line(str(excinfo.value)))
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, f"INCONCLUSIVE: {reason}")
        result = Outcome.INCONCLUSIVE
    elif report.skipped:
        result = Outcome.SKIPPED
        longrepr = report.longrepr
        if isinstance(longrepr, tuple):
            reason = str(longrepr[2]).removeprefix("Skipped: ")
    elif report.failed:
        if report.when == "call":
            result = Outcome.FAIL if meta.blocking else Outcome.WARN
        else:
            result = Outcome.ERROR
        text = str(excinfo.value) if excinfo is not None else str(report.longrepr)
        reason = _first_line(text) or (excinfo.typename if excinfo is not None else "failed")
        if report.when == "teardown":
            reason = f"teardown: {reason}"
    elif report.when == "call":
        result = Outcome.PASS
    else:
        return
    evidence = item.stash.get(EVIDENCE, None)
    if result is Outcome.PASS and evidence is not None:
        # A passing check may say in a phrase what it established (a gate: its bound).
        reason = redactor.text(str(evidence.facts.get("summary", "")))
    payload: dict[str, Any] = {
        "meta": meta.to_dict(),
        "when": report.when,
        "outcome": result.value,
        "reason": reason,
        "duration_s": report.duration,
        "evidence": evidence.to_dict() if evidence is not None else {},
    }
    if result in (Outcome.FAIL, Outcome.WARN, Outcome.ERROR) and excinfo is not None:
        payload["evidence"]["failure"] = str(excinfo.value)[:2000]
    # A new list: pytest hands every phase's report the item's own user_properties list.
    report.user_properties = [
        *report.user_properties,
        (PROPERTY, _transportable(redactor.data(payload))),
    ]


_SMALLEST_SENDABLE_INT = -(2**31)


def _transportable(value: Any) -> Any:
    """The payload as xdist can carry it, and the same without xdist so verdicts agree.

    execnet serialises a negative integer below -2**31 with a 4-byte field and crashes the
    worker; generated request bodies are full of those. Such numbers travel as their text.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value) if value < _SMALLEST_SENDABLE_INT else value
    if isinstance(value, dict):
        return {key: _transportable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_transportable(item) for item in value]
    return value


def _redact_report(report: pytest.TestReport, redactor: Redactor) -> None:
    """pytest's own writers (terminal, JUnit) read these; a credential must reach none of them.

    A failure message can quote a response body, and a target may quote the key it refused.
    """
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        report.longrepr = (longrepr[0], longrepr[1], redactor.text(longrepr[2]))
    elif longrepr is not None:
        text = str(longrepr)
        if redactor.text(text) != text:
            report.longrepr = redactor.text(text)
    report.sections = [(title, redactor.text(content)) for title, content in report.sections]


_SEVERITY = {
    Outcome.PASS: 0,
    Outcome.SKIPPED: 1,
    Outcome.WARN: 2,
    Outcome.INCONCLUSIVE: 3,
    Outcome.FAIL: 4,
    Outcome.ERROR: 5,
}


class ResultCollector:
    """Gathers check results where the verdict is decided (the controller under xdist).

    A registered object rather than a module hook, because `pytest_runtest_logreport` gets no
    config and one process may run several pytest sessions (pytester).
    """

    def __init__(self, state: RunState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        found = next((value for name, value in report.user_properties if name == PROPERTY), None)
        payload = cast("dict[str, Any]", found) if isinstance(found, dict) else None
        if payload is None:
            return
        current = self.state.results.get(report.nodeid)
        if current is None:
            self.state.results[report.nodeid] = dict(payload)
            return
        current["duration_s"] += payload["duration_s"]
        new_outcome = Outcome(payload["outcome"])
        if _SEVERITY[new_outcome] > _SEVERITY[Outcome(current["outcome"])]:
            current.update(
                outcome=new_outcome.value, reason=payload["reason"], when=payload["when"]
            )
            if payload["evidence"]:
                current["evidence"] = payload["evidence"]


# -- the verdict ---------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _results(state: RunState) -> list[CheckResult]:
    checks: list[CheckResult] = []
    for nodeid, payload in state.results.items():
        meta = CheckMeta.from_dict(payload["meta"])
        checks.append(
            CheckResult(
                id=meta.id,
                title=meta.title,
                kind=meta.kind,
                outcome=Outcome(payload["outcome"]),
                blocking=meta.blocking,
                rule=meta.rule,
                severity=meta.severity,
                phases=meta.phases,
                description=meta.description,
                reason=payload["reason"],
                nodeid=nodeid,
                duration_s=payload["duration_s"],
                evidence=payload["evidence"],
            )
        )
    return checks


def _orphan_result(outcome: Outcome, reason: str, facts: dict[str, Any]) -> CheckResult:
    resolved = load_severity().resolve(ORPHAN_CHECK_ID, None)
    return CheckResult(
        id=ORPHAN_CHECK_ID,
        title="The run left nothing of its own behind on the target",
        kind=Kind.SMOKE,
        outcome=outcome,
        blocking=resolved.blocking,
        rule=resolved.rule,
        severity=resolved.severity.value,
        description=(
            "Blocking (rule: effect): data a gate run leaves in a production target is a defect "
            "of the run, and a DELETE that answers success without deleting is a defect of the "
            "target."
        ),
        reason=reason,
        evidence={"facts": facts},
    )


def _orphan_check(state: RunState) -> CheckResult:
    events = read_ledgers(state.ledger_dir, state.run_id)
    created = sum(1 for e in events if e["event"] == "created")
    if not created:
        return _orphan_result(Outcome.PASS, "the run created nothing", {"created": 0})
    try:
        with SkillMeatClient(state.client_config()) as api:
            orphans = scan_orphans(api, events, state.run_id)
    except Exception as exc:
        return _orphan_result(
            Outcome.INCONCLUSIVE, f"orphan scan failed: {exc!r}", {"created": created}
        )
    facts = {"created": created, "orphans": [o.to_dict() for o in orphans]}
    if orphans:
        shown = ", ".join(f"{o.resource.kind} {o.resource.id} ({o.detail})" for o in orphans[:5])
        return _orphan_result(Outcome.FAIL, f"{len(orphans)} left behind: {shown}", facts)
    return _orphan_result(Outcome.PASS, f"all {created} created resources are gone", facts)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = state_of(session.config)
    if state is None or not state.controller or state.settings.phase is None:
        return
    if session.config.option.collectonly:
        return
    phase: Phase = state.settings.phase
    liveness = session.config.pluginmanager.get_plugin(LivenessPlugin.NAME)
    run_checks = liveness.run_checks() if liveness is not None else []
    checks = [*run_checks, *_results(state)]
    if state.api_url and state.results:
        checks.append(_orphan_check(state))
    reasons = list(state.run_reasons)
    if state.stack_problem:
        reasons.append(state.stack_problem)
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        reasons.append("the run was interrupted before every check finished")
    elif exitstatus in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        # Say why nothing ran; "no blocking check ran" alone would hide the real cause.
        problem = "a usage error" if exitstatus == pytest.ExitCode.USAGE_ERROR else "an error"
        reasons.append(
            f"the run stopped on {problem} (pytest exit status {int(exitstatus)}), so its "
            "checks did not all run; see the run's output"
        )
    decision, why, warnings = verdict_mod.decide(checks, reasons)
    verdict = verdict_mod.Verdict(
        phase=phase.value,
        decision=decision,
        target={
            "api_url": state.api_url or state.settings.api_url or "",
            "version": state.settings.api_version,
            "embedded": state.settings.embedded,
            "writes": True,
            "skillmeat_version": state.skillmeat_version,
        },
        started_at=state.started_at or _now(),
        finished_at=_now(),
        run_id=state.run_id,
        checks=checks,
        reasons=why,
        warnings=warnings,
        run={
            "settings": state.settings.public(),
            "pytest_exit_status": int(exitstatus),
            "logs": dict(state.stack.logs) if state.stack else {},
            "contract": state.contract_profile.to_dict() if state.contract_profile else {},
        },
    )
    state.verdict = verdict
    state.verdict_path = verdict_mod.write(verdict, state.settings.report_dir)
    allure_dir = getattr(session.config.option, "allure_report_dir", None)
    if allure_dir:
        allure_support.write_verdict_panels(Path(allure_dir), verdict, state.verdict_path)
        allure_support.scrub_results(Path(allure_dir), state.client_config().secrets)
    # Usage errors, crashes and interruptions keep pytest's own status; otherwise the decision
    # sets it, so a CI job can branch on GO / NO_GO / INCONCLUSIVE alone.
    decided_by_verdict = (
        pytest.ExitCode.OK,
        pytest.ExitCode.TESTS_FAILED,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    )
    # A dead target stops the run early (pytest's Failed, xdist's Interrupted): still decided.
    if exitstatus in decided_by_verdict or run_checks:
        session.exitstatus = verdict.exit_code


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if state is None or state.verdict is None:
        return
    terminalreporter.section("phasegate verdict")
    for line in summary_lines(state.verdict, state.verdict_path):
        terminalreporter.write_line(line)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = state_of(config)
    if state is None:
        return
    if state.stack is not None:
        state.stack.stop()
        state.stack = None
    if state.previous_sigterm is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, state.previous_sigterm)
