"""Every smoke check fails against a target that violates it, and passes where it should.

For each phase (1 with the flag OFF; 2 and 4 with it ON) the acceptance suite runs twice, as a
user runs it, against the fault proxy in front of a real SkillMeat 0.74.0:

- violation run: the catalog's compliance fixes plus its violations for every check of the
  phase. Every check must end in fail (warn when non-blocking) with a reason, the decision must
  be NO_GO, and every rule must have fired (a fault that never fired proves nothing).
- compliance run: only the compliance fixes. Every check must pass and the decision be GO, so
  no check is an always-fail, including those the real 0.74.0 fails.

The coverage test keeps the catalog complete: a smoke check without a fault fails the build.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from faults.catalog import CATALOG, compliance_rules, violation_rules
from faults.conftest import Stacks
from faults.harness import (
    PHASES,
    SuiteRun,
    collect,
    collected_checks,
    next_client_address,
    run_suite,
)
from phasegate.verdict import validate
from support.faultproxy import FaultProxy, Rule

ORPHAN_CHECK = "run.cleanup.orphans"


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """phase -> {check id: {phases, blocking, nodeid}} from `--collect-only` of tests/smoke."""
    folder = tmp_path_factory.mktemp("collect")
    running = {phase: collect(phase, folder / f"{phase}.json") for phase in PHASES}
    return {
        phase: collected_checks(phase, folder / f"{phase}.json", proc)
        for phase, proc in running.items()
    }


# -- the catalog itself ------------------------------------------------------------------------


def test_catalog_covers_every_smoke_check(collected: dict[str, dict[str, Any]]) -> None:
    smoke = set().union(*(set(checks) for checks in collected.values()))
    missing = sorted(smoke - CATALOG.keys())
    stale = sorted(CATALOG.keys() - smoke)
    assert not missing, (
        f"{len(missing)} smoke checks have no fault in selftests/faults/catalog.py: "
        + ", ".join(missing)
    )
    assert not stale, f"catalog entries for checks that no longer exist: {', '.join(stale)}"


def test_every_phase_has_checks(collected: dict[str, dict[str, Any]]) -> None:
    for phase in PHASES:
        assert collected[phase], f"no smoke check collected for {phase}"


def test_catalog_rules_are_scoped_and_named_once() -> None:
    names: set[str] = set()
    for check, entry in CATALOG.items():
        assert entry.violate, f"{check}: no violation rule"
        assert entry.why, f"{check}: say what the violation simulates"
        assert bool(entry.comply) == bool(entry.native), (
            f"{check}: a compliance fix says what 0.74.0 does instead (native=...), and only then"
        )
        for rule in (*entry.comply, *entry.violate):
            assert rule.name not in names, f"rule name {rule.name} used twice"
            names.add(rule.name)
            # Scoped to the check's own requests, and aimed at one endpoint.
            assert rule.check == check, f"{rule.name} is not scoped to {check}"
            assert rule.method and rule.path, f"{rule.name} needs a method and a path"


# -- the suite against the faults --------------------------------------------------------------

VIOLATION, COMPLIANCE = "violation", "compliance"
# Which suite run each test judges; the runs a session needs are started together.
MODE_OF_TEST = {
    "test_every_check_fails_against_its_violation": VIOLATION,
    "test_every_check_passes_on_a_compliant_target": COMPLIANCE,
}


class SuiteRuns:
    """The acceptance-suite runs this session needs, all started at once in the background.

    Each run has a proxy of its own in front of its phase's SkillMeat, and its own client address
    (X-Forwarded-For), so runs side by side are separate clients to SkillMeat's burst limiter,
    the way separate CI jobs would be. A phase-2 run spends most of its time in the suite's own
    pacing of project creation, so running the six side by side is what keeps this quick.
    """

    def __init__(
        self,
        wanted: set[tuple[str, str]],
        collected: dict[str, dict[str, Any]],
        stacks: Stacks,
        report_root: Path,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="run")
        self._runs: dict[tuple[str, str], Future[tuple[SuiteRun, FaultProxy]]] = {}
        for phase, mode in sorted(wanted):
            checks = _covered(collected, phase)
            rules = violation_rules(checks) if mode == VIOLATION else compliance_rules(checks)
            folder = report_root / f"{phase}-{mode}"
            self._runs[(phase, mode)] = self._pool.submit(_run, phase, stacks, rules, folder)

    def get(self, phase: str, mode: str) -> tuple[SuiteRun, FaultProxy]:
        return self._runs[(phase, mode)].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def suite_runs(
    request: pytest.FixtureRequest,
    collected: dict[str, dict[str, Any]],
    fault_stacks: Stacks,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SuiteRuns]:
    wanted = {
        (item.callspec.params["phase"], MODE_OF_TEST[item.originalname])
        for item in request.session.items
        if getattr(item, "originalname", None) in MODE_OF_TEST and hasattr(item, "callspec")
    }
    runs = SuiteRuns(wanted, collected, fault_stacks, tmp_path_factory.mktemp("suite-runs"))
    yield runs
    runs.close()


def _run(
    phase: str, stacks: Stacks, rules: list[Rule], report_dir: Path
) -> tuple[SuiteRun, FaultProxy]:
    upstream = stacks.url(phase)
    client = {"X-Forwarded-For": next_client_address()}
    proxy = FaultProxy(upstream, rules, add_request_headers=client)
    report_dir.mkdir(parents=True, exist_ok=True)
    with proxy:
        run = run_suite(phase, proxy.url, report_dir)
    validate(run.verdict)
    return run, proxy


def _explain(proxy: FaultProxy, check: str) -> str:
    lines = [e.line() for e in proxy.events(check)][-8:]
    return f"{check}:\n      proxy saw: " + ("\n      ".join(lines) or "no request")


def _covered(collected: dict[str, dict[str, Any]], phase: str) -> dict[str, Any]:
    return {c: info for c, info in collected[phase].items() if c in CATALOG}


@pytest.mark.parametrize("phase", PHASES)
def test_every_check_fails_against_its_violation(
    phase: str, collected: dict[str, dict[str, Any]], suite_runs: SuiteRuns
) -> None:
    run, proxy = suite_runs.get(phase, VIOLATION)
    checks = _covered(collected, phase)
    results = run.checks()
    problems = []
    for check, info in sorted(checks.items()):
        expected = "fail" if info["blocking"] else "warn"
        result = results.get(check)
        if result is None:
            problems.append(f"{check}: not in the verdict")
        elif result["outcome"] != expected or not result["reason"]:
            problems.append(
                f"{result['outcome']} (expected {expected}): {result['reason'][:200]}\n    "
                + _explain(proxy, check)
            )
    assert not problems, (
        f"{phase}: {len(problems)} checks did not fail against their violation:\n  "
        + "\n  ".join(problems)
        + f"\n--- suite output ---\n{run.tail()}"
    )
    assert set(results) - {ORPHAN_CHECK} == set(collected[phase])
    assert run.verdict["decision"] == "NO_GO"
    assert run.returncode == 1
    assert not proxy.errors(), "faults that could not apply:\n  " + "\n  ".join(proxy.errors())
    assert not proxy.unfired(), "faults that never fired (they prove nothing): " + ", ".join(
        proxy.unfired()
    )


@pytest.mark.parametrize("phase", PHASES)
def test_every_check_passes_on_a_compliant_target(phase: str, suite_runs: SuiteRuns) -> None:
    run, proxy = suite_runs.get(phase, COMPLIANCE)
    not_passing = [
        f"{c['id']}: {c['outcome']}: {c['reason'][:200]}\n    {_explain(proxy, c['id'])}"
        for c in run.verdict["checks"]
        if c["outcome"] != "pass"
    ]
    assert not not_passing, (
        f"{phase}: with the compliance fixes every check must pass (a check that fails a "
        "compliant target is an always-fail, or 0.74.0 needs a fix in the catalog):\n  "
        + "\n  ".join(not_passing)
        + f"\n--- suite output ---\n{run.tail()}"
    )
    assert run.verdict["decision"] == "GO"
    assert run.returncode == 0
    assert not proxy.errors(), "fixes that could not apply:\n  " + "\n  ".join(proxy.errors())
    assert not proxy.unfired(), "compliance fixes that never fired: " + ", ".join(proxy.unfired())
