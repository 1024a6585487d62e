"""The severity catalog: its loader refuses a bad catalog, resolves per phase, and covers every
check of the suite exactly (a check or gate with no row, or a row naming no check, fails here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from phasegate.checks import build_meta
from phasegate.gates import load_catalog as load_gates
from phasegate.gates.spec import check_id_of
from phasegate.liveness_plugin import ALIVE_ID, REACHABLE_ID
from phasegate.phases import PHASE_MARKS
from phasegate.plugin import ORPHAN_CHECK_ID
from phasegate.severity import (
    Severity,
    SeverityCatalog,
    SeverityCatalogError,
    load_catalog,
    parse,
)

REPO = Path(__file__).resolve().parents[2]
ISSUE_RULES = {
    "server-error": Severity.BLOCK,
    "cross-project": Severity.BLOCK,
    "effect": Severity.BLOCK,
    "plan-criterion": Severity.BLOCK,
    "undocumented-4xx": Severity.WARN,
    "moved-path": Severity.WARN,
    "unset-gauge": Severity.WARN,
}
ALL_BLOCK = {p: "block" for p in PHASE_MARKS}
ALL_WARN = {p: "warn" for p in PHASE_MARKS}


def catalog(checks: dict[str, Any], **rules: Any) -> SeverityCatalog:
    rules = rules or {
        "hard": {"summary": "blocks", "severity": ALL_BLOCK},
        "soft": {"summary": "warns", "severity": ALL_WARN},
    }
    return parse({"version": 1, "rules": rules, "checks": checks})


# -- the loader ------------------------------------------------------------------------------


def test_the_issue_rules_are_in_the_catalog_with_their_severity_in_every_phase() -> None:
    rules = load_catalog().rules
    for name, severity in ISSUE_RULES.items():
        assert {rules[name].severity_in(p) for p in PHASE_MARKS} == {severity}, name


def test_a_row_resolves_by_its_rule_and_a_parametrized_id_by_its_declared_id() -> None:
    cat = catalog({"a.b": {"rule": "hard"}, "a.b.c": {"rule": "soft"}})
    assert cat.resolve("a.b", "phase2").blocking
    assert cat.resolve("a.b.x", "phase2", declared_id="a.b").rule == "hard"  # a parameter of a.b
    assert not cat.resolve("a.b.c", "phase2", declared_id="a.b").blocking  # its own row first
    # A new check under an existing family has no row until it gets its own.
    assert cat.row_for("a.b.new") is None
    assert cat.resolve("a.b.new", "phase2", declared_id="a.b.new").rule is None


def test_an_override_changes_one_phase_only_and_must_cite_the_plan() -> None:
    row = {"rule": "hard", "override": {"phase2": "warn"}, "plan": "Phase 2: internal users"}
    cat = catalog({"x": row})
    assert not cat.resolve("x", "phase2").blocking
    assert cat.resolve("x", "phase2").overridden
    assert cat.resolve("x", "phase4").blocking
    assert cat.resolve("x", None, phases=("phase2",)).severity is Severity.WARN
    assert cat.resolve("x", None, phases=("phase2", "phase4")).blocking
    with pytest.raises(SeverityCatalogError, match="needs the plan's words"):
        catalog({"x": {"rule": "hard", "override": {"phase2": "warn"}}})


def test_a_check_without_a_row_keeps_its_marker_and_has_no_rule() -> None:
    cat = catalog({"x": {"rule": "hard"}})
    assert cat.resolve("y", "phase2", default_blocking=False).severity is Severity.WARN
    assert cat.resolve("y", "phase2").rule is None and cat.resolve("y", "phase2").blocking


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"version": 2}, "version must be 1"),
        ({"version": 1, "extra": 1}, "unknown key"),
        (
            {"version": 1, "rules": {"r": {"summary": "s", "severity": {"phase1": "block"}}}},
            "no severity for phase2",
        ),
        (
            {"version": 1, "rules": {"r": {"summary": "s", "severity": {**ALL_BLOCK, "p9": "x"}}}},
            "unknown phase",
        ),
        (
            {
                "version": 1,
                "rules": {"r": {"summary": "s", "severity": {**ALL_BLOCK, "phase1": "x"}}},
            },
            "severity 'x' is not one of block, warn",
        ),
        ({"version": 1, "rules": {"r": {"severity": ALL_BLOCK}}}, "needs a summary"),
        ({"version": 1, "rules": {}, "checks": {"c": {"rule": "nope"}}}, "rule 'nope' is not"),
        (
            {
                "version": 1,
                "rules": {"r": {"summary": "s", "severity": ALL_BLOCK}},
                "checks": {"c": {"rule": "r", "blocking": True}},
            },
            "keys are rule, override and plan",
        ),
    ],
)
def test_a_bad_catalog_is_refused_with_where(data: dict[str, Any], message: str) -> None:
    with pytest.raises(SeverityCatalogError, match=re.escape(message)):
        parse(data)


def test_build_meta_takes_the_catalogs_severity_over_the_marker() -> None:
    def check() -> None:
        """Title.

        Why.
        """

    cat = catalog({"x": {"rule": "soft"}})
    meta = build_meta(
        nodeid="t::check",
        check_args=("x",),
        check_kwargs={"blocking": True},
        marker_names=["phase2", "check"],
        function=check,
        param_id=None,
        phase="phase2",
        catalog=cat,
    )
    assert (meta.blocking, meta.rule, meta.severity) == (False, "soft", "warn")
    assert meta.to_dict()["rule"] == "soft"


def test_gate_rows_take_their_severity_from_the_catalog() -> None:
    severities = load_catalog()
    for spec in load_gates().rows:
        row = severities.row_for(check_id_of(spec.id))
        assert row is not None and row.id == check_id_of(spec.id), spec.id
        expected = severities.resolve(check_id_of(spec.id), None, phases=spec.phases).blocking
        assert spec.blocking is expected, spec.id


# -- coverage: every check has a row, every row a check --------------------------------------

# Checks the plugin itself reports (no test function declares them).
RUN_CHECKS = {ORPHAN_CHECK_ID, REACHABLE_ID, ALIVE_ID}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every check of tests/ in every phase, as the plugin declared it (one collection each)."""
    folder = tmp_path_factory.mktemp("severity")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "selftests"), os.environ.get("PYTHONPATH", "")) if p
    )
    runs = {}
    for phase in PHASE_MARKS:
        runs[phase] = subprocess.Popen(
            [
                *(sys.executable, "-m", "pytest", "tests", "-m", phase, "--collect-only", "-q"),
                *("-p", "no:cacheprovider", "-p", "support.severity_collect"),
                "--api-url=http://127.0.0.1:9",
                f"--report-dir={folder / phase}",
            ],
            cwd=REPO,
            env={**env, "PHASEGATE_SELFTEST_SEVERITY_OUT": str(folder / f"{phase}.json")},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    checks: dict[str, dict[str, Any]] = {}
    for phase, proc in runs.items():
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output[-3000:]
        for check_id, info in json.loads((folder / f"{phase}.json").read_text()).items():
            checks.setdefault(check_id, {**info, "by_phase": {}})["by_phase"][phase] = info
    return checks


def test_every_check_and_gate_has_a_row(collected: dict[str, dict[str, Any]]) -> None:
    severities = load_catalog()
    gates = {check_id_of(spec.id) for spec in load_gates().rows}
    declared = {c: info["declared_id"] for c, info in collected.items()}
    missing = sorted(
        c
        for c in {*collected, *RUN_CHECKS, *gates}
        if severities.row_for(c, declared.get(c)) is None
    )
    assert not missing, f"checks with no row in src/phasegate/severity.toml: {missing}"
    assert all(info["rule"] for info in collected.values())


def test_every_row_names_a_check(collected: dict[str, dict[str, Any]]) -> None:
    declared = {info["declared_id"] for info in collected.values()}
    unused = load_catalog().unused_rows({*collected, *declared, *RUN_CHECKS})
    assert not unused, f"rows of src/phasegate/severity.toml that name no check: {unused}"


def test_a_markers_blocking_agrees_with_the_catalog(collected: dict[str, dict[str, Any]]) -> None:
    """`blocking=` is accepted on a marker but may not contradict the catalog in any phase."""
    disagree = [
        f"{check_id} ({phase}): marker blocking={info['declared_blocking']}, catalog "
        f"{seen['severity']} (rule {seen['rule']})"
        for check_id, info in collected.items()
        if info["declared_blocking"] is not None
        for phase, seen in info["by_phase"].items()
        if bool(info["declared_blocking"]) is not seen["blocking"]
    ]
    assert not disagree, "\n".join(disagree)


def test_a_docstring_that_names_a_rule_names_the_catalogs(
    collected: dict[str, dict[str, Any]],
) -> None:
    wrong = []
    for check_id, info in collected.items():
        named = re.search(r"\(rule: ([a-z0-9-]+)", info["description"])
        if named and named.group(1) != info["rule"]:
            wrong.append(f"{check_id}: docstring says {named.group(1)}, catalog {info['rule']}")
        first = info["description"].split(" ", 1)[0]
        severity = {"Blocking": "block", "Warning": "warn"}.get(first)
        for phase, seen in info["by_phase"].items():
            if severity is not None and seen["severity"] != severity:
                wrong.append(f"{check_id} ({phase}): docstring {first}, catalog {seen['severity']}")
    assert not wrong, "\n".join(wrong)


def test_explain_shows_severity_and_rule_and_reads_older_verdicts() -> None:
    from phasegate.cli import _severity_column

    assert _severity_column({"blocking": False, "severity": "warn", "rule": "moved-path"}) == (
        "warn (moved-path)"
    )
    assert _severity_column({"blocking": True}) == "block"  # a verdict from before the catalog
