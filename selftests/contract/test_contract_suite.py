"""The contract suite as pytest sees it: its check ids per phase, the profile in the header, bad
contract options as usage errors, and `contract.catalog` passing and failing in a phase run.

The real tests/contract is collected in a subprocess (against a port nothing listens on, so
nothing starts and nothing is sent); faults.collect_plugin writes the check ids phasegate built.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phasegate.contract import OPERATIONS, RESOURCES
from support.http_double import Route, running
from support.phase_runs import FAST, REPO, Run

SUITE = REPO / "tests" / "contract"
SELFTESTS = REPO / "selftests"
NOWHERE = "--api-url=http://127.0.0.1:9"

# Each operation has two checks: its contract findings and its undocumented-4xx findings (each
# class follows its own severity rule).
STATUS_IDS = {f"contract.undocumented-status.{op.param_id}" for op in OPERATIONS}
OPERATION_IDS = {f"contract.{op.param_id}" for op in OPERATIONS} | STATUS_IDS
READ_IDS = {
    f"contract.{prefix}{op.param_id}"
    for op in OPERATIONS
    if op.read_only
    for prefix in ("", "undocumented-status.")
}
CRUD_IDS = {f"contract.crud-{resource.name}" for resource in RESOURCES}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs must see only the options a test gives, never the developer's own."""
    for name in list(os.environ):
        if name.startswith(("SKILLMEAT_", "PHASEGATE_", "PYTEST_XDIST")):
            monkeypatch.delenv(name)
    path = os.pathsep.join(p for p in (str(SELFTESTS), os.environ.get("PYTHONPATH")) if p)
    monkeypatch.setenv("PYTHONPATH", path)


def _collect(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str):
    out = pytester.path / "checks.json"
    monkeypatch.setenv("PHASEGATE_SELFTEST_COLLECT_OUT", str(out))
    result = pytester.runpytest_subprocess(
        *FAST,
        "-p",
        "faults.collect_plugin",
        f"--report-dir={pytester.path / 'out'}",
        NOWHERE,
        "--collect-only",
        *args,
        str(SUITE),
        timeout=120,
    )
    run = Run(result, pytester.path / "out")
    assert run.ret == 0, run.output
    checks: dict[str, dict[str, object]] = json.loads(out.read_text("utf-8"))
    return run, checks


@pytest.mark.parametrize(
    ("args", "expected", "profile"),
    [
        pytest.param(
            ["-m", "phase2"],
            OPERATION_IDS | CRUD_IDS | {"contract.catalog"},
            "full: all methods, 20 valid, 20 invalid examples per operation, "
            "5 CRUD sequences per resource, seed 0",
            id="phase2-full",
        ),
        pytest.param(
            ["-m", "phase4"],
            READ_IDS | {"contract.catalog"},
            "safe: read-only methods, 6 valid, no invalid input examples per operation, "
            "at most 4 req/s, seed 0",
            id="phase4-safe",
        ),
        pytest.param(
            ["-m", "phase2", "--contract-profile=safe", "--contract-examples=3"],
            READ_IDS | {"contract.catalog"},
            "safe: read-only methods, 3 valid, no invalid input",
            id="phase2-asks-for-safe",
        ),
        pytest.param(
            ["-m", "phase4", "--contract-profile=full", "--contract-seed=9"],
            OPERATION_IDS | CRUD_IDS | {"contract.catalog"},
            "full: all methods, 20 valid, 20 invalid examples per operation, "
            "5 CRUD sequences per resource, seed 9",
            id="phase4-asks-for-full",
        ),
    ],
)
def test_profile_selects_the_checks(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    expected: set[str],
    profile: str,
) -> None:
    run, checks = _collect(pytester, monkeypatch, *args)
    assert set(checks) == expected
    assert f"phasegate: contract profile {profile}" in run.output
    total = 2 * len(OPERATIONS) + len(RESOURCES) + 1
    dropped = total - len(expected)
    # Writes are deselected under a read-only profile, not skipped (a skip would block GO).
    summary = f"{len(expected)}/{total} tests collected ({dropped} deselected)"
    assert (summary if dropped else f"{total} tests collected") in run.output


def test_full_phase2_has_27_operations_2_sequences_and_the_catalog(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, checks = _collect(pytester, monkeypatch, "-m", "phase2")
    operations = {c for c in checks if c not in CRUD_IDS | STATUS_IDS | {"contract.catalog"}}
    assert len(operations) == 27 and len(READ_IDS) == 16
    assert set(checks) >= STATUS_IDS and len(STATUS_IDS) == 27
    assert {"contract.get-memory-items-item_id", "contract.post-memory-items-export"} <= operations
    assert {"contract.crud-memory-items", "contract.crud-context-modules"} <= set(checks)
    # The severity catalog: contract findings and CRUD block, undocumented 4xx and the catalog
    # of operations warn.
    assert all(checks[c]["blocking"] for c in operations | CRUD_IDS)
    assert not any(checks[c]["blocking"] for c in STATUS_IDS)
    assert checks["contract.catalog"]["blocking"] is False
    assert all(set(c["phases"]) == {"phase2", "phase3", "phase4"} for c in checks.values())


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["--contract-profile=bogus"],
            {},
            "--contract-profile: invalid value 'bogus' (from command line --contract-profile): "
            "expected auto, full or safe",
            id="profile",
        ),
        pytest.param(
            ["--contract-examples=0"],
            {},
            "--contract-examples: invalid value '0' (from command line --contract-examples): "
            "expected a whole number of examples (must be between 1 and 500)",
            id="examples-zero",
        ),
        pytest.param(
            [],
            {"PHASEGATE_CONTRACT_EXAMPLES": "many"},
            "--contract-examples: invalid value 'many' (from environment "
            "PHASEGATE_CONTRACT_EXAMPLES)",
            id="examples-env",
        ),
    ],
)
def test_bad_contract_option_is_a_usage_error(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    report_dir = Path(pytester.path / "out")
    result = pytester.runpytest_subprocess(
        *FAST, f"--report-dir={report_dir}", "-m", "phase2", NOWHERE, *args, str(SUITE)
    )
    Run(result, report_dir).assert_usage_error(f"ERROR: {message}")


def _family_openapi(*extra: tuple[str, str]) -> dict[str, object]:
    """The catalog's operations (plus `extra`) as a target would declare them."""
    paths: dict[str, dict[str, object]] = {}
    for method, path in [(op.method, op.path) for op in OPERATIONS] + list(extra):
        operation = {"responses": {"200": {"description": "ok"}}}
        paths.setdefault(f"/api/v1{path}", {})[method.lower()] = operation
    return {"openapi": "3.1.0", "info": {"title": "family", "version": "1"}, "paths": paths}


@pytest.mark.parametrize(
    ("openapi", "outcome", "reason"),
    [
        pytest.param(_family_openapi(), "pass", "", id="every-operation-catalogued"),
        pytest.param(
            _family_openapi(("POST", "/memory-items/new-thing")),
            "warn",
            "1 operations are not fuzzed: POST /memory-items/new-thing",
            id="one-new-operation",
        ),
        pytest.param(None, "inconclusive", "no contract to fuzz: GET ", id="no-openapi"),
    ],
)
def test_catalog_check_in_a_phase_run(
    pytester: pytest.Pytester, openapi: dict[str, object] | None, outcome: str, reason: str
) -> None:
    report_dir = pytester.path / "out"
    with running() as target:
        if openapi is not None:
            target.routes[("GET", "/api/v1/openapi.json")] = Route(200, openapi)
        result = pytester.runpytest_subprocess(
            *FAST,
            f"--report-dir={report_dir}",
            "-m",
            "phase4",
            f"--api-url={target.url}",
            "-k",
            "every_family_operation",
            str(SUITE),
            timeout=120,
        )
        asked = {
            received.path
            for received in target.received
            # the run's one reachability probe before any check (run.target.reachable)
            if received.headers.get("X-Phasegate-Check") != "run.target.reachable"
        }
    run = Run(result, report_dir)
    check = run.check("contract.catalog", "phase4")
    assert check["outcome"] == outcome, run.output
    assert reason in check["reason"]
    assert check["blocking"] is False
    assert asked == {"/api/v1/openapi.json"}  # the catalog check reads the schema, nothing else
    assert run.verdict("phase4")["run"]["contract"]["name"] == "safe"  # the profile it ran with
