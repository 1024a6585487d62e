"""The smoke suite against the real embedded SkillMeat 0.74.0, end to end.

Only tests/smoke runs here: the metric and load gates depend on the machine's load and have
integration tests of their own.

These runs are the product's own answer for each phase; the expected findings below are what
0.74.0 really does where it disagrees with the rollout plan or its own contract. If SkillMeat
changes, these lists change with it — never the checks' expectations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "src" / "phasegate" / "verdict.schema.json").read_text())

PHASE1_FAILS = {
    "flagoff.memory-write-refused",
    "flagoff.module-write-refused",
    "flagoff.pack-refused",
}
PHASE1_WARNS = {
    "flagoff.plan-request-refused",
    "service.memory-system-disabled",
    "config.plan-config-path",
    "config.auto-extract-reported",
    "service.metrics-plan-path",
}
# 0.74.0 reports no memory_auto_extract flag: whether extraction is off cannot be known.
UNKNOWN_AUTO_EXTRACT = {"config.auto-extract-off"}

# Flag ON (phases 2 and 4): findings in the Memory & Context API itself.
FLAG_ON_FAILS = {
    "integrity.isolation-module-link",  # B's module links A's item; B's pack then serves it
    "lifecycle.merge.keep_source",  # every keep_source merge answers 500
    "service.metrics-memory-items",  # skillmeat_memory_items_total declared, never set
    # Negative paths (#11 part 2): wrong identifiers answered 200/201/500 or crossing projects.
    "negative.items",  # unknown/deleted projects listed, counted, searched (200); 201 in deleted
    "negative.merge",  # merges another project's item (200, A's item changed)
    "negative.extraction",  # preview/export for unknown projects (200), apply into deleted (200)
    "negative.modules",  # POST /context-modules with an unknown project: 500; deleted: 201
    "negative.module-links",  # links/unlinks across projects; lists links of unknown modules
    "negative.packs",  # packs unknown projects (200); packs another project's module (200)
}
FLAG_ON_WARNS = {
    "packs.greedy-fill",
    "integrity.plan-fields",
    "integrity.structured-anchors",
    "integrity.duplicate-no-leak",
    "items.duplicate-after-update",
    "config.plan-config-path",
    "service.metrics-plan-path",
    # Negative paths: 400 where 404 is the answer for an unknown project, module or item.
    "negative-status.items",
    "negative-status.extraction",
    "negative-status.module-links",
    "negative-status.packs",
}


def run_phase(phase: str, report_dir: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            phase,
            f"--report-dir={report_dir}",  # "=": pytest would take a bare path for a test path
            "-p",
            "no:cacheprovider",
            "-q",
            *extra,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    path = report_dir / f"verdict-{phase}.json"
    assert path.exists(), f"no verdict written; output:\n{output[-3000:]}"
    verdict = json.loads(path.read_text())
    jsonschema.validate(verdict, SCHEMA)
    return done.returncode, verdict, output


def outcomes(verdict: dict[str, Any], *wanted: str) -> set[str]:
    return {c["id"] for c in verdict["checks"] if c["outcome"] in wanted}


def no_server_left(verdict: dict[str, Any]) -> None:
    """The run's SkillMeat must be gone: no process still serving the run's port."""
    port = verdict["target"]["api_url"].rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"skillmeat.api.server:app" in argv and port.encode() in argv:
            pytest.fail(f"SkillMeat still running after the run: pid {proc.name}, port {port}")


def test_phase1_on_real_skillmeat_is_no_go(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase1", tmp_path, "tests/smoke")
    assert verdict["decision"] == "NO_GO", output[-3000:]
    assert code == 1
    assert verdict["target"]["embedded"] is True
    assert outcomes(verdict, "fail", "error") == PHASE1_FAILS, output[-3000:]
    assert outcomes(verdict, "warn") == PHASE1_WARNS
    assert outcomes(verdict, "inconclusive") == UNKNOWN_AUTO_EXTRACT
    assert "run.cleanup.orphans" in outcomes(verdict, "pass")
    assert_evidence_on_problems(verdict)
    assert "phasegate phase1: NO_GO" in output
    assert (tmp_path / "junit-phase1.xml").exists()
    assert (tmp_path / "skillmeat-phase1.log").stat().st_size > 0
    no_server_left(verdict)


def assert_evidence_on_problems(verdict: dict[str, Any]) -> None:
    for check in verdict["checks"]:
        if check["outcome"] in ("fail", "warn"):
            assert check["reason"], check["id"]
            assert check["evidence"].get("exchanges") or check["evidence"].get("facts"), check["id"]


def test_phase2_under_xdist_is_no_go_with_one_stack(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase2", tmp_path, "-n", "2", "tests/smoke")
    assert code == 1, output[-3000:]
    assert verdict["decision"] == "NO_GO"
    assert outcomes(verdict, "fail", "error") == FLAG_ON_FAILS, output[-3000:]
    assert outcomes(verdict, "warn") == FLAG_ON_WARNS
    assert not outcomes(verdict, "inconclusive", "skipped"), "a check could not decide"
    assert "run.cleanup.orphans" in outcomes(verdict, "pass")
    assert len(verdict["checks"]) >= 40
    assert output.count("starting the embedded stack") == 1, "xdist must share one stack"
    assert len(list(tmp_path.glob("skillmeat-*.log"))) == 1
    assert_evidence_on_problems(verdict)
    no_server_left(verdict)


def test_phase4_is_no_go_with_production_warnings(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase4", tmp_path, "-n", "2", "tests/smoke")
    assert code == 1, output[-3000:]
    assert outcomes(verdict, "fail", "error") == FLAG_ON_FAILS, output[-3000:]
    assert outcomes(verdict, "warn") == FLAG_ON_WARNS | {"config.auto-extract-reported"}
    assert outcomes(verdict, "inconclusive") == UNKNOWN_AUTO_EXTRACT
    assert "run.cleanup.orphans" in outcomes(verdict, "pass")
    no_server_left(verdict)


def test_phase3_without_a_canary_stack_says_so(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase3", tmp_path)
    assert code == 6, output[-3000:]
    assert verdict["decision"] == "INCONCLUSIVE"
    assert any("canary" in reason for reason in verdict["reasons"]), verdict["reasons"]


# Contract fuzzing (seeded, so the same cases every run) of 0.74.0 against its own OpenAPI.
CONTRACT_PHASE2_FAILS = {
    # an invalid `cursor` answers 400 ("Incorrect padding", a Python unpacking error), undocumented
    "contract.get-memory-items-search",
    "contract.get-memory-items-global",
    # invalid bodies answer 400 where the schema documents only 422
    "contract.post-memory-items-bulk-promote",
    "contract.post-memory-items-bulk-deprecate",
    "contract.post-memory-items-extract-preview",
    "contract.post-memory-items-extract-apply",
    # 500 on a valid body with extra properties; 500 on an import folder that does not exist;
    # 500 on an invalid update body
    "contract.post-context-modules-module_id-memories",
    "contract.post-memory-items-import",
    "contract.put-memory-items-item_id",
}
CONTRACT_PHASE4_FAILS = {"contract.get-memory-items-search", "contract.get-memory-items-global"}


def contract_checks(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in verdict["checks"] if c["kind"] == "contract"]


def assert_failures_reproducible(verdict: dict[str, Any]) -> None:
    for check in contract_checks(verdict):
        if check["outcome"] != "fail":
            continue
        failures = check["evidence"]["facts"]["contract"]["failures"]
        assert failures, check["id"]
        for failure in failures:
            assert failure["curl"].startswith("curl -X "), failure
            assert failure["path"] in failure["curl"] or failure["method"] in failure["curl"]
            assert {"method", "path", "body", "status", "check"} <= failure.keys()


def allure_results(report_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text())
        for path in (report_dir / "allure-results").glob("*-result.json")
    ]


def allure_titles(report_dir: Path) -> list[str]:
    return [result["name"] for result in allure_results(report_dir)]


def test_phase2_contract_on_real_skillmeat(tmp_path: Path) -> None:
    from phasegate import report_html
    from support.chromium import rendered_dom, visible_text

    # Under xdist: generated bodies carry integers execnet could not carry (a worker crashed).
    code, verdict, output = run_phase("phase2", tmp_path, "-n", "2", "tests/contract")
    assert code == 1, output[-3000:]
    assert verdict["run"]["contract"]["name"] == "full"
    checks = contract_checks(verdict)
    assert len(checks) == 27 + 2 + 1  # every operation, two CRUD resources, the catalog
    assert outcomes(verdict, "fail", "error") == CONTRACT_PHASE2_FAILS, output[-3000:]
    assert not outcomes(verdict, "inconclusive", "skipped"), "a contract check could not decide"
    assert {"contract.crud-memory-items", "contract.crud-context-modules"} <= outcomes(
        verdict, "pass"
    )
    assert "run.cleanup.orphans" in outcomes(verdict, "pass")
    assert_failures_reproducible(verdict)
    # Allure: one entry per check, the decision on the Overview, checks drawn in Chromium.
    titles = allure_titles(tmp_path)
    assert len(titles) == len(checks)
    for result in allure_results(tmp_path):
        check_id = next(lb["value"] for lb in result["labels"] if lb["name"] == "check_id")
        attached = {a["name"].split(" (")[0] for a in result.get("attachments", [])}
        if check_id != "contract.catalog":  # reads the schema only, sends nothing
            assert "HTTP exchanges" in attached, check_id
        assert ("reproduce" in attached) == (check_id in CONTRACT_PHASE2_FAILS), check_id
    assert "Decision=NO_GO" in (tmp_path / "allure-results" / "environment.properties").read_text()
    index = report_html.render(tmp_path / "allure-results", tmp_path / "html", single_file=True)
    overview = visible_text(rendered_dom(index.as_uri()))
    assert "phasegate phase2: NO_GO" in overview
    assert "Decision NO_GO" in overview
    listed = visible_text(rendered_dom(index.as_uri() + "#behaviors"))
    for title in titles:
        assert title in listed, title
    no_server_left(verdict)


def test_phase4_contract_is_read_only_and_safe(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase4", tmp_path, "tests/contract")
    assert code == 1, output[-3000:]
    assert verdict["run"]["contract"]["name"] == "safe"
    checks = contract_checks(verdict)
    fuzzed = [c for c in checks if c["id"] != "contract.catalog"]
    assert len(fuzzed) == 8 and all(c["id"].startswith("contract.get-") for c in fuzzed)
    assert outcomes(verdict, "fail", "error") == CONTRACT_PHASE4_FAILS, output[-3000:]
    for check in fuzzed:
        report = check["evidence"]["facts"]["contract"]
        assert set(report["examples"]) == {"positive"}, check["id"]  # no invalid input
        assert sum(report["examples"].values()) <= 6 + 2, check["id"]
    no_server_left(verdict)
