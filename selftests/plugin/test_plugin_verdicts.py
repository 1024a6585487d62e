"""From check outcomes to the verdict file, the terminal summary, JUnit and the exit status."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any

import jsonschema
import pytest

from support.http_double import HttpDouble, Route
from support.phase_runs import NO_PLUGINS, SCHEMA_PATH, RunPytest, check, suite

ORPHAN_CHECK = "run.cleanup.orphans"

HEALTH = check(
    "svc.health",
    """
    response = api.health()
    evidence.note("status", response.json()["status"])
    assert response.status_code == 200
    """,
    fixtures="api, evidence",
)
FLAGS = check(
    "svc.flags",
    """
    body = expect.json_object(api.feature_flags(), 200)
    assert body["memory_context_enabled"] is False
    """,
)
BLOCKING_FAIL = check(
    "svc.broken",
    """
    response = api.request("GET", "/broken")
    assert response.status_code == 200, f"/broken answered {response.status_code}"
    """,
)
WARNING_FAIL = check(
    "svc.optional",
    'expect.status(api.request("GET", "/missing"), 200, why="the runbook reads it")',
    blocking=False,
)
INCONCLUSIVE = check(
    "svc.undecided",
    'raise phasegate.Inconclusive("the canary had no traffic yet\\nsecond line")',
)
RATE_LIMITED = check("svc.limited", 'api.request("GET", "/limited")')
SETUP_ERROR = (
    "\n\n@pytest.fixture\ndef broken_fixture():\n    raise RuntimeError('fixture exploded')\n"
    + check("svc.setup-error", "pass", fixtures="api, broken_fixture")
)


def test_all_pass_is_go_and_the_verdict_file_is_complete(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, FLAGS))
    # With every installed plugin but locust (as the repo's own config runs it).
    run = run_pytest("--phase=phase1", f"--api-url={double.url}", plugins=NO_PLUGINS)
    assert run.ret == 0, run.output
    verdict = run.verdict()
    jsonschema.validate(verdict, json.loads(SCHEMA_PATH.read_text("utf-8")))
    assert verdict["phase"] == "phase1"
    assert verdict["decision"] == "GO"
    assert verdict["exit_code"] == 0
    assert verdict["reasons"] == []
    assert verdict["warnings"] == []
    assert verdict["target"]["api_url"] == double.url
    assert verdict["target"]["version"] == "v1"
    assert verdict["target"]["embedded"] is False
    started = datetime.fromisoformat(verdict["started_at"])
    finished = datetime.fromisoformat(verdict["finished_at"])
    assert started.tzinfo is not None
    assert started <= finished
    assert verdict["run"]["pytest_exit_status"] == 0
    assert [c["id"] for c in verdict["checks"]] == [
        "svc.health",
        "svc.flags",
        "run.cleanup.orphans",
    ]
    for entry in verdict["checks"]:
        assert {"id", "title", "kind", "outcome", "blocking", "evidence"} <= set(entry)
        assert entry["outcome"] == "pass"
        assert entry["blocking"] is True
        assert entry["kind"] == "smoke"
    health = run.check("svc.health")
    assert health["title"] == "Check svc.health"
    assert health["description"] == "Blocking: a selftest says so."
    assert health["phases"] == ["phase1"]
    assert health["nodeid"] == "test_checks.py::test_svc_health"
    assert health["evidence"]["facts"] == {"status": "healthy"}
    [exchange] = health["evidence"]["exchanges"]
    assert (exchange["method"], exchange["path"], exchange["status"]) == ("GET", "/health", 200)
    assert verdict["counts"]["pass"] == 3
    # The checks really went to the double, each tagged with its run and check id.
    checked = {r.headers.get("X-Phasegate-Check") for r in double.received}
    # ...and one preflight request before them, tagged as the run's own reachability check.
    assert checked == {"svc.health", "svc.flags", "run.target.reachable"}
    assert {r.headers.get("X-Phasegate-Run") for r in double.received} == {verdict["run_id"]}


def test_blocking_failure_is_no_go(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, BLOCKING_FAIL))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 1, run.output
    verdict = run.verdict()
    assert verdict["decision"] == "NO_GO"
    assert verdict["exit_code"] == 1
    broken = run.check("svc.broken")
    assert broken["outcome"] == "fail"
    assert broken["reason"].startswith("/broken answered 500")
    assert "/broken answered 500" in broken["evidence"]["failure"]
    assert broken["evidence"]["exchanges"][0]["status"] == 500
    assert verdict["reasons"] == [f"svc.broken: {broken['reason']}"]


def test_error_in_setup_is_no_go(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, SETUP_ERROR))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 1, run.output
    assert run.verdict()["decision"] == "NO_GO"
    error = run.check("svc.setup-error")
    assert error["outcome"] == "error"
    assert error["reason"] == "fixture exploded"


def test_non_blocking_failure_is_go_with_a_warning(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, WARNING_FAIL))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    verdict = run.verdict()
    assert verdict["decision"] == "GO"
    optional = run.check("svc.optional")
    assert optional["outcome"] == "warn"
    assert optional["blocking"] is False
    assert optional["reason"].startswith(
        "GET /missing answered 404, expected 200 (the runbook reads it)"
    )
    assert verdict["warnings"] == [f"svc.optional: {optional['reason']}"]


def test_inconclusive_check_is_inconclusive(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, INCONCLUSIVE))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 6, run.output
    verdict = run.verdict()
    assert verdict["decision"] == "INCONCLUSIVE"
    assert verdict["exit_code"] == 6
    undecided = run.check("svc.undecided")
    assert undecided["outcome"] == "inconclusive"
    assert undecided["reason"] == "the canary had no traffic yet"
    assert verdict["reasons"] == ["svc.undecided: the canary had no traffic yet"]
    # pytest shows it as a skip with the reason, never as a pass
    run.result.assert_outcomes(passed=1, skipped=1)


def test_rate_limited_check_is_inconclusive(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, RATE_LIMITED))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 6, run.output
    limited = run.check("svc.limited")
    assert limited["outcome"] == "inconclusive"
    assert "429" in limited["reason"]
    assert "Retry-After 7s" in limited["reason"]
    assert limited["evidence"]["exchanges"][0]["status"] == 429
    assert run.verdict()["decision"] == "INCONCLUSIVE"


@pytest.mark.parametrize(
    ("checks", "decision", "code"),
    [
        pytest.param((HEALTH, FLAGS, WARNING_FAIL, RATE_LIMITED), "INCONCLUSIVE", 6, id="mixed"),
        pytest.param((HEALTH, BLOCKING_FAIL, WARNING_FAIL, INCONCLUSIVE), "NO_GO", 1, id="no-go"),
    ],
)
def test_xdist_gives_the_same_verdict(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    double: HttpDouble,
    checks: tuple[str, ...],
    decision: str,
    code: int,
) -> None:
    pytester.makepyfile(test_checks=suite(*checks))
    serial = run_pytest("--phase=phase1", f"--api-url={double.url}")
    serial_verdict = serial.verdict()
    parallel = run_pytest("--phase=phase1", f"--api-url={double.url}", "-n", "2")
    assert "2 workers" in parallel.output, parallel.output
    parallel_verdict = parallel.verdict()
    assert serial_verdict["run_id"] != parallel_verdict["run_id"]
    for run, verdict in ((serial, serial_verdict), (parallel, parallel_verdict)):
        assert run.ret == code, run.output
        assert verdict["decision"] == decision
    assert parallel.outcomes() == serial.outcomes()
    assert parallel_verdict["reasons"] == serial_verdict["reasons"]
    assert parallel_verdict["warnings"] == serial_verdict["warnings"]
    assert parallel_verdict["counts"] == serial_verdict["counts"]

    # the workers' evidence reached the controller: the same requests, recorded the same way
    def exchanges(verdict: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
        return {
            c["id"]: [(e["path"], e["status"]) for e in c["evidence"].get("exchanges", [])]
            for c in verdict["checks"]
        }

    assert exchanges(parallel_verdict) == exchanges(serial_verdict)
    assert any(exchanges(parallel_verdict).values())


def test_junit_xml_goes_to_the_report_dir_by_default(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, BLOCKING_FAIL))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    junit = run.report_dir / "junit-phase1.xml"
    assert junit.exists(), run.output
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"test_svc_health", "test_svc_broken"}
    assert cases["test_svc_broken"].find("failure") is not None
    assert cases["test_svc_health"].find("failure") is None


def test_an_explicit_junit_path_wins(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH))
    chosen = pytester.path / "mine.xml"
    run = run_pytest("--phase=phase1", f"--api-url={double.url}", f"--junitxml={chosen}")
    assert chosen.exists()
    assert not (run.report_dir / "junit-phase1.xml").exists()


def test_terminal_summary_has_one_line_per_problem(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH, BLOCKING_FAIL, WARNING_FAIL, INCONCLUSIVE))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    section = run.section("phasegate verdict")
    assert section[0] == "phasegate phase1: NO_GO  (2 pass, 1 fail, 1 inconclusive, 1 warn)"
    problems = [line for line in section if line.startswith("  ")]
    assert [line.split()[:2] for line in problems] == [
        ["FAIL", "svc.broken:"],
        ["INCONCLUSIVE", "svc.undecided:"],
        ["WARN", "svc.optional"],
    ]
    assert problems[2].startswith(
        "  WARN         svc.optional (warning): GET /missing answered 404"
    )
    assert not any("svc.health" in line for line in section)
    path = run.report_dir / "verdict-phase1.json"
    assert section[-1] == f"verdict written to {path} (exit status 1)"


def test_report_header_shows_target_phase_and_writes(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=suite(HEALTH))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    run_id = run.verdict()["run_id"]
    run.result.stdout.fnmatch_lines(
        [
            "phasegate: phase1, Infrastructure verification (flag OFF)",
            f"phasegate: target {double.url} (given), API v1",
            f"phasegate: writes to the target: yes, every resource named {run_id}-*, deleted*",
            f"phasegate: reports in {run.report_dir}/",
        ]
    )


def test_denied_writes_skip_writing_checks_and_hold_the_verdict(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    writer = check("svc.writer", kwargs="writes=True")
    # Declared read-only, but a shared project is written to: it writes all the same.
    sharer = check("svc.sharer", "pass", fixtures="shared_project")
    pytester.makepyfile(test_checks=suite(HEALTH, writer, sharer))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}", "--writes=deny")
    assert run.ret == 6, run.output
    assert "phasegate: writes to the target: denied (--writes=deny)" in run.output
    assert run.outcomes()["svc.writer"] == "skipped"
    assert run.outcomes()["svc.sharer"] == "skipped"
    assert run.verdict()["decision"] == "INCONCLUSIVE"
    assert not [r for r in double.received if r.headers.get("X-Phasegate-Check") == "svc.writer"]
    assert not [r for r in double.received if r.method != "GET"], "a denied run wrote"


def test_checks_share_one_project_made_and_deleted_under_its_own_tag(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    double.routes[("POST", "/api/v1/projects")] = Route(201, {"id": "shared-1"})
    double.routes[("DELETE", "/api/v1/projects/shared-1")] = Route(204)
    body = 'assert shared_project.id == "shared-1"'
    first = check("svc.first", body, fixtures="shared_project")
    second = check("svc.second", body, fixtures="shared_project")
    pytester.makepyfile(test_checks=suite(first, second))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    assert run.outcomes() == {"svc.first": "pass", "svc.second": "pass", ORPHAN_CHECK: "pass"}
    writes = [(r.method, r.path.split("?")[0]) for r in double.received if r.method != "GET"]
    assert writes == [("POST", "/api/v1/projects"), ("DELETE", "/api/v1/projects/shared-1")]
    tags = {r.headers.get("X-Phasegate-Check") for r in double.received if r.method != "GET"}
    assert tags == {"run.shared-project"}, "the shared project's requests are no check's"
    assert run.check(ORPHAN_CHECK)["reason"] == "all 1 created resources are gone"


def test_parametrized_checks_get_one_id_each(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    source = suite(
        "\n\n@pytest.mark.parametrize('path', ['/health', '/api/v1/version'])"
        + check(
            "svc.get", "assert api.request('GET', path).status_code == 200", fixtures="api, path"
        )
    )
    pytester.makepyfile(test_checks=source)
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    assert set(run.outcomes()) == {
        "svc.get.health",
        "svc.get.api-v1-version",
        "run.cleanup.orphans",
    }
