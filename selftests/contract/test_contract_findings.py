"""A contract report splits its failures by finding class, one check (and severity rule) each,
and the two checks of an operation share one fuzzing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasegate.contract.fuzz import (
    CONTRACT_FINDINGS,
    MAX_FAILURES_KEPT,
    UNDOCUMENTED_STATUS,
    CaseFailure,
    FuzzReport,
)
from phasegate.outcomes import Outcome
from phasegate.resources import compute_once


def failure(check: str, status: int | None, mode: str = "negative") -> CaseFailure:
    return CaseFailure(
        check=check,
        title=check,
        message="",
        mode=mode,
        method="POST",
        path="/api/v1/memory-items/bulk-promote",
        query={},
        body={"item_ids": 7},
        status=status,
        response_body="",
        curl="curl -X POST ...",
    )


def report(*failures: CaseFailure) -> FuzzReport:
    r = FuzzReport(operation="POST /memory-items/bulk-promote", profile="full")
    r.examples.update(positive=20, negative=20)
    for f in failures:
        r.add_failure(f)
    return r


def test_an_undocumented_4xx_is_its_own_finding_and_everything_else_the_contracts() -> None:
    assert failure("status_code_conformance", 400).finding == UNDOCUMENTED_STATUS
    assert failure("status_code_conformance", 404, "positive").finding == UNDOCUMENTED_STATUS
    assert failure("status_code_conformance", 500).finding == CONTRACT_FINDINGS  # a 5xx blocks
    assert failure("status_code_conformance", 201).finding == CONTRACT_FINDINGS  # undocumented 2xx
    assert failure("not_a_server_error", 500).finding == CONTRACT_FINDINGS
    assert failure("negative_data_rejection", 200).finding == CONTRACT_FINDINGS
    assert failure("response_schema_conformance", 200).finding == CONTRACT_FINDINGS


def test_each_check_judges_its_own_class_only() -> None:
    both = report(failure("status_code_conformance", 400), failure("not_a_server_error", 500))
    contract = both.conclusion(CONTRACT_FINDINGS)
    status = both.conclusion(UNDOCUMENTED_STATUS)
    assert contract.outcome is Outcome.FAIL and status.outcome is Outcome.FAIL
    assert "not_a_server_error" in contract.reason and "400" not in contract.reason
    assert "status_code_conformance" in status.reason and "500" not in status.reason
    facts: Any = status.facts["contract"]
    assert [f["status"] for f in facts["failures"]] == [400]
    assert facts["other_findings"] == {CONTRACT_FINDINGS: 1}
    only_400 = report(failure("status_code_conformance", 400))
    assert only_400.conclusion(CONTRACT_FINDINGS).outcome is Outcome.PASS
    assert only_400.conclusion().outcome is Outcome.FAIL  # unsplit: every class, as before


def test_one_class_cannot_crowd_the_other_out_of_the_evidence() -> None:
    many = [failure("not_a_server_error", 500 + n) for n in range(MAX_FAILURES_KEPT + 3)]
    r = report(*many, failure("status_code_conformance", 400))
    assert len(r.failures_of(CONTRACT_FINDINGS)) == MAX_FAILURES_KEPT
    assert len(r.failures_of(UNDOCUMENTED_STATUS)) == 1
    assert r.count_of(CONTRACT_FINDINGS) == MAX_FAILURES_KEPT + 3


def test_the_first_check_computes_and_the_second_reads(tmp_path: Path) -> None:
    calls: list[int] = []

    def fuzz() -> dict[str, Any]:
        calls.append(1)
        return {"contract": {"outcome": "pass"}}

    first = compute_once(tmp_path, "contract-run-op", fuzz)
    second = compute_once(tmp_path, "contract-run-op", fuzz)
    assert first == second and len(calls) == 1
