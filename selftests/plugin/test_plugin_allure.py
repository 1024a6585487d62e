"""Allure results of a phase run: on by default, one entry per check, the decision on top,
evidence attached, and no credential anywhere in them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.http_double import HttpDouble
from support.phase_runs import NO_PLUGINS, RunPytest, check, suite

SECRET = "sk-allure-4d2c9b1e7a"
ECHO = check(
    "svc.echo",
    """
    response = api.request("GET", "/echo")
    evidence.note("echoed", response.json()["headers"])
    assert response.status_code == 200
    """,
    fixtures="api, evidence",
)
LEAKY = check(
    "svc.leaky",
    """
    response = api.request("GET", "/echo")
    print("debug:", response.text)
    assert False, "the echo said " + response.text
    """,
)
WITH_ALLURE = (*NO_PLUGINS, "-p", "no:schemathesis")


def results(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(directory.glob("*-result.json"))]


def labels(result: dict[str, Any], name: str) -> list[str]:
    return [label["value"] for label in result.get("labels", []) if label["name"] == name]


@pytest.fixture
def allure_run(run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble):
    pytester.makepyfile(test_checks=suite(ECHO, LEAKY))
    run = run_pytest(
        "--phase=phase1", f"--api-url={double.url}", f"--api-key={SECRET}", plugins=WITH_ALLURE
    )
    assert run.ret == 1, run.output
    return run


def test_a_phase_run_writes_allure_results_by_default(allure_run) -> None:
    directory = allure_run.report_dir / "allure-results"
    entries = {r["name"]: r for r in results(directory)}
    assert len(entries) == 2, entries.keys()
    by_check = {labels(r, "check_id")[0]: r for r in entries.values()}
    assert set(by_check) == {"svc.echo", "svc.leaky"}
    assert by_check["svc.echo"]["status"] == "passed"
    assert by_check["svc.leaky"]["status"] == "failed"
    for result in by_check.values():
        assert labels(result, "phase") == ["phase1"]
        assert labels(result, "severity") == ["blocker"]
        attachments = {a["name"] for a in result.get("attachments", [])}
        assert any(name.startswith("HTTP exchanges") for name in attachments), attachments


def test_the_decision_leads_the_overview(allure_run) -> None:
    directory = allure_run.report_dir / "allure-results"
    environment = (directory / "environment.properties").read_text("utf-8").splitlines()
    assert environment[0] == "Decision=NO_GO"
    assert any(line.startswith("Reasons=svc.leaky") for line in environment), environment
    assert any(line.startswith("Contract\\ profile=") for line in environment), environment
    executor = json.loads((directory / "executor.json").read_text("utf-8"))
    assert executor["reportName"] == "phasegate phase1: NO_GO"


def test_no_credential_reaches_the_allure_results(allure_run) -> None:
    leaked = [
        p.name
        for p in (allure_run.report_dir / "allure-results").iterdir()
        if SECRET.encode() in p.read_bytes()
    ]
    assert leaked == []


def test_a_chosen_alluredir_is_respected(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble, tmp_path: Path
) -> None:
    pytester.makepyfile(test_checks=suite(ECHO))
    chosen = tmp_path / "mine"
    run = run_pytest(
        "--phase=phase1", f"--api-url={double.url}", f"--alluredir={chosen}", plugins=WITH_ALLURE
    )
    assert run.ret == 0, run.output
    assert len(results(chosen)) == 1
    assert (chosen / "environment.properties").exists()
    assert not (run.report_dir / "allure-results").exists()
