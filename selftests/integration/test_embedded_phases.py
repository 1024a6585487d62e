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
import re
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

# Flag ON (phases 2 and 4): findings in the Memory & Context API itself, severities by the rule
# of src/phasegate/severity.toml.
FLAG_ON_FAILS = {
    "integrity.isolation-module-link",  # cross-project: B's module links A's item
    "lifecycle.merge.keep_source",  # effect: every keep_source merge answers 500
    "integrity.duplicate-no-leak",  # cross-project: B's 409 names A's item, project and session
    "items.search-unscoped-scope",  # cross-project: private/project items in a project-less search
    "items.duplicate-after-update",  # effect: content_hash stale after PUT, old content refused
    "integrity.plan-fields",  # effect: 201 while tags and metadata are dropped
    "integrity.structured-anchors",  # contract-break: the documented anchor object answers 400
    "packs.greedy-fill",  # plan-criterion: the pack stops at the first item that does not fit
    "lifecycle.put-respects-lifecycle",  # effect: PUT revives deprecated, skips promotion
    "deletion.project-contents",  # effect: a deleted project's items, modules, packs still served
    # Negative paths (#11 part 2): wrong identifiers answered 200/201/500 or crossing projects.
    "negative.items",  # unknown/deleted projects listed, counted, searched (200); 201 in deleted
    "negative.merge",  # cross-project: merges another project's item (200, A's item changed)
    "negative.extraction",  # preview/export for unknown projects (200), apply into deleted (200)
    "negative.modules",  # server-error: POST /context-modules, unknown project: 500; deleted: 201
    "negative.module-links",  # cross-project: links/unlinks across projects
    "negative.packs",  # cross-project: packs another project's module (200)
}
FLAG_ON_WARNS = {
    "config.plan-config-path",  # moved-path: /api/v1/config is 404
    "service.metrics-plan-path",  # moved-path: /metrics is 404 (served at /metrics/)
    "service.metrics-memory-items",  # unset-gauge: skillmeat_memory_items_total never set
    # Negative paths, undocumented-4xx: 400 where 404 is the answer for an unknown resource.
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


# Phase 3 (tests/gates/test_canary.py on the real two-instance stack behind nginx): the flag-OFF
# stable accepts memory writes (the phase-1 finding, seen here beside the canary), and with each
# side keeping its own data (the plan's canary mounts no volume) a user behind the balancer does
# not read back what it wrote whenever the balancer sends its next request to the other side.
PHASE3_FAILS = {"canary.memory-difference", "canary.user-impact"}
PHASE3_PASSES = {
    "canary.client-error-rate",
    "canary.client-latency-p95",
    "canary.server-gates",
    "canary.no-divergence",
    "canary.rollback",
}
# Judged by phasegate.canary.compare (its own branch): INCONCLUSIVE, saying so, until it is there.
PHASE3_COMPARED = {
    "canary.split",
    "canary.vs-stable.error-rate",
    "canary.vs-stable.latency",
    "canary.vs-stable.slow-share",
}


def test_phase3_canary_on_the_real_stack(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase3", tmp_path, "tests/gates/test_canary.py")
    assert code == 1, output[-3000:]
    assert verdict["decision"] == "NO_GO"
    assert outcomes(verdict, "fail", "error") == PHASE3_FAILS, output[-3000:]
    assert outcomes(verdict, "pass") >= PHASE3_PASSES, output[-3000:]
    # the same release on both sides: the split holds and the comparisons find no difference
    assert outcomes(verdict, "pass") >= PHASE3_COMPARED, output[-3000:]
    checks = {c["id"]: c for c in verdict["checks"]}
    rollback = checks["canary.rollback"]["evidence"]["facts"]
    assert rollback["failed_during_and_after"] == 0
    assert rollback["canary_before"] > 0 and rollback["not_from_stable_after_stop"] == 0
    impact = checks["canary.user-impact"]["evidence"]["facts"]
    assert impact["steps_ok_stable_alone"] == "60/60"
    assert "run.cleanup.orphans" in outcomes(verdict, "pass")
    assert_evidence_on_problems(verdict)
    assert (tmp_path / "nginx-phase3" / "nginx.conf").exists()
    assert "weight=9" in (tmp_path / "nginx-phase3" / "nginx.conf").read_text()
    no_split_left(tmp_path, output)


def no_split_left(report_dir: Path, output: str) -> None:
    """Neither side nor the run's nginx may survive the run."""
    ports = set(re.findall(r"ready at http://127\.0\.0\.1:(\d+)", output))
    assert len(ports) >= 2, output[-2000:]
    prefix = str(report_dir / "nginx-phase3").encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"skillmeat.api.server:app" in argv and any(p.encode() in argv for p in ports):
            pytest.fail(f"SkillMeat still running after the run: pid {proc.name}")
        if any(prefix in arg for arg in argv):
            pytest.fail(f"the run's nginx still running: pid {proc.name}")


# Contract fuzzing (seeded, so the same cases every run) of 0.74.0 against its own OpenAPI.
CONTRACT_PHASE2_FAILS = {
    # contract-break (5xx): 500 on a valid body with extra properties; 500 on an import folder
    # that does not exist; 500 on an invalid update body
    "contract.post-context-modules-module_id-memories",
    "contract.post-memory-items-import",
    "contract.put-memory-items-item_id",
}
CONTRACT_PHASE2_WARNS = {
    # undocumented-4xx: an invalid `cursor` answers 400 ("Incorrect padding", a Python
    # unpacking error)
    "contract.undocumented-status.get-memory-items-search",
    "contract.undocumented-status.get-memory-items-global",
    # undocumented-4xx: invalid bodies answer 400 where the schema documents only 422
    "contract.undocumented-status.post-memory-items-bulk-promote",
    "contract.undocumented-status.post-memory-items-bulk-deprecate",
    "contract.undocumented-status.post-memory-items-extract-preview",
    "contract.undocumented-status.post-memory-items-extract-apply",
}
# The safe profile meets the two cursor 400s only: warnings, so the contract alone is GO.
CONTRACT_PHASE4_FAILS: set[str] = set()
CONTRACT_PHASE4_WARNS = {
    "contract.undocumented-status.get-memory-items-search",
    "contract.undocumented-status.get-memory-items-global",
}
STATUS_PREFIX = "contract.undocumented-status."


def contract_checks(verdict: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in verdict["checks"] if c["kind"] == "contract"]


def assert_failures_reproducible(verdict: dict[str, Any]) -> None:
    for check in contract_checks(verdict):
        if check["outcome"] not in ("fail", "warn") or check["id"] == "contract.catalog":
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
    # every operation twice (contract findings, undocumented statuses), two CRUD resources, the
    # catalog
    assert len(checks) == 2 * 27 + 2 + 1
    assert outcomes(verdict, "fail", "error") == CONTRACT_PHASE2_FAILS, output[-3000:]
    assert outcomes(verdict, "warn") == CONTRACT_PHASE2_WARNS, output[-3000:]
    assert not outcomes(verdict, "inconclusive", "skipped"), "a contract check could not decide"
    assert {"contract.crud-memory-items", "contract.crud-context-modules"} <= outcomes(
        verdict, "pass"
    )
    assert "run.cleanup.orphans" in outcomes(verdict, "pass")
    assert_failures_reproducible(verdict)
    # Allure: one entry per check, the decision on the Overview, checks drawn in Chromium.
    titles = allure_titles(tmp_path)
    assert len(titles) == len(checks)
    attachments: dict[str, set[str]] = {}
    for result in allure_results(tmp_path):
        check_id = next(lb["value"] for lb in result["labels"] if lb["name"] == "check_id")
        attached = {a["name"].split(" (")[0] for a in result.get("attachments", [])}
        attachments[check_id] = attached
        problems = CONTRACT_PHASE2_FAILS | CONTRACT_PHASE2_WARNS
        assert ("reproduce" in attached) == (check_id in problems), check_id
    # The catalog reads the schema only. An operation is fuzzed once for its two checks: the
    # first of them to run (under xdist, either) records the exchanges, the other reads the
    # conclusion.
    for check_id in attachments:
        if check_id == "contract.catalog" or check_id.startswith(STATUS_PREFIX):
            continue
        twin = STATUS_PREFIX + check_id.removeprefix("contract.")
        seen = attachments[check_id] | attachments.get(twin, set())
        assert "HTTP exchanges" in seen, check_id
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
    assert code == 0, output[-3000:]
    assert verdict["decision"] == "GO"
    assert verdict["run"]["contract"]["name"] == "safe"
    checks = contract_checks(verdict)
    fuzzed = [c for c in checks if c["id"] != "contract.catalog"]
    reads = [c["id"].removeprefix(STATUS_PREFIX) for c in fuzzed]
    assert len(fuzzed) == 16 and all(
        i.startswith("contract.get-") or i.startswith("get-") for i in reads
    )
    assert outcomes(verdict, "fail", "error") == CONTRACT_PHASE4_FAILS, output[-3000:]
    assert outcomes(verdict, "warn") == CONTRACT_PHASE4_WARNS, output[-3000:]
    for check in fuzzed:
        report = check["evidence"]["facts"]["contract"]
        assert set(report["examples"]) == {"positive"}, check["id"]  # no invalid input
        assert sum(report["examples"].values()) <= 6 + 2, check["id"]
    no_server_left(verdict)


# Authentication (tests/auth): SkillMeat 0.74.0 started with each of its own auth settings.
# Memory & Context routes authenticate through `require_auth()` only, i.e. the auth provider;
# the legacy API key (`verify_api_key`) guards other routers, and the local provider (the
# default, also with SKILLMEAT_AUTH_ENABLED=true) grants local-admin to every request.
AUTH_SERVING_MODES = ("auth-enabled", "api-key", "auth-enabled-api-key", "api-keys-v2")
AUTH_FAILS = {
    f"auth.refused-{kind}.{mode}"
    for kind in ("without-credentials", "wrong-credentials")
    for mode in (*AUTH_SERVING_MODES, "clerk")
}
# Not run here: the enterprise edition needs PostgreSQL with SkillMeat's enterprise schema.
AUTH_INCONCLUSIVE = {
    "auth.refused-without-credentials.enterprise",
    "auth.refused-wrong-credentials.enterprise",
}


def test_phase4_auth_modes_on_real_skillmeat(tmp_path: Path) -> None:
    code, verdict, output = run_phase("phase4", tmp_path, "tests/auth")
    assert code == 1, output[-3000:]
    assert outcomes(verdict, "fail", "error") == AUTH_FAILS, output[-3000:]
    assert outcomes(verdict, "inconclusive") == AUTH_INCONCLUSIVE
    checks = {c["id"]: c for c in verdict["checks"]}
    for check_id in AUTH_FAILS:
        facts = checks[check_id]["evidence"]["facts"]
        assert len(facts["answers"]) == 27, check_id
        assert checks[check_id]["blocking"] is True
        statuses = facts["statuses"]
        if check_id.endswith(".clerk"):
            # the Clerk provider returns no context without a valid token; require_auth then
            # reads .user_id of None: 500 on every operation, with and without a wrong token
            assert statuses == {"500": 27}, statuses
        else:
            # served: lists, counts, search, global, module memories, bulk ops, extract
            # preview, pack preview and generate, export (12); the rest reach the handler
            # (400/404) or fail in it (500 on a module create and an import)
            assert statuses == {"200": 12, "400": 3, "404": 10, "500": 2}, (check_id, statuses)
            assert "rule cross-project" in checks[check_id]["reason"]
    # the right API key is served where the mode has one (authentication is not refusing all)
    for mode in ("api-key", "auth-enabled-api-key"):
        right = checks[f"auth.refused-without-credentials.{mode}"]["evidence"]["facts"]
        assert right["right_credential"]["refused"] == []
    logs = sorted(p.name for p in tmp_path.glob("auth-skillmeat-*.log"))
    assert logs == sorted(f"auth-skillmeat-{m}.log" for m in (*AUTH_SERVING_MODES, "clerk"))
    assert "pg-" not in "".join(p.read_text() for p in tmp_path.glob("auth-skillmeat-*.log"))
    no_server_left(verdict)
