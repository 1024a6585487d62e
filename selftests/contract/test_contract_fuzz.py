"""`fuzz_operation`: every check passes on a compliant double and fails on one that breaks it.

The check behind `contract.<operation>` is the list of failures `fuzz_operation` returns: empty
on the compliant double, naming the one broken promise otherwise, with what it takes to
reproduce the case (method, path, body, status, a curl line).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract.conftest import PROJECT, SMALL
from contract.double import ITEMS, TYPES, ContractDouble, Fault
from phasegate.contract import SAFE, CaseFailure, OperationSpec, Pins, Sender, fuzz_operation
from phasegate.evidence import REDACTED, Redactor
from phasegate.outcomes import Outcome

LIST = OperationSpec("GET", "/memory-items")
CREATE = OperationSpec("POST", "/memory-items")
READ = OperationSpec("GET", "/memory-items/{item_id}")
DELETE = OperationSpec("DELETE", "/memory-items/{item_id}")
EXPORT_SPEC = OperationSpec("POST", "/memory-items/export", server_dirs=("out_dir",))
PINNED_DIR = "/tmp/phasegate-projects/pg-selftest/files"


def _fuzz(schema: Any, spec: OperationSpec, sender: Sender, pins: Pins | None = None, **kw: Any):
    operation = schema[spec.full_path("/api/v1")][spec.method]
    return fuzz_operation(operation, spec, SMALL, pins or Pins(project_id=PROJECT), sender, **kw)


def _only(failures: list[CaseFailure], check: str) -> CaseFailure:
    found = [f for f in failures if f.check == check]
    assert found, f"no {check} failure among {[f.line() for f in failures]}"
    return found[0]


def _seed_item(double: ContractDouble) -> str:
    item = {"id": "pinned-item", "project_id": PROJECT, "type": TYPES[0], "content": "kept"}
    double.items[item["id"]] = {**item, "confidence": 0.5}
    return item["id"]


@pytest.mark.parametrize(
    ("spec", "negative"),
    [
        pytest.param(LIST, True, id="list"),
        pytest.param(CREATE, True, id="create"),
        pytest.param(READ, False, id="read"),
        pytest.param(DELETE, False, id="delete"),
        pytest.param(EXPORT_SPEC, True, id="export"),
    ],
)
def test_compliant_double_passes_every_check(
    double: ContractDouble, schema: Any, sender: Sender, spec: OperationSpec, negative: bool
) -> None:
    pins = Pins(project_id=PROJECT, item_ids=(_seed_item(double),), server_dir=PINNED_DIR)
    report = _fuzz(schema, spec, sender, pins)
    assert report.failures == [], [f.line() for f in report.failures]
    assert report.failure_count == 0
    assert report.judged > 0
    assert report.conclusion().outcome is Outcome.PASS
    assert report.conclusion().facts["summary"] == report.summary()
    assert report.examples["positive"] == SMALL.positive_examples
    if negative:
        # Invalid input was really sent, and refused the documented way.
        assert report.examples["negative"] > 0
        assert report.statuses[422] > 0
    else:
        # One unconstrained string in the path: nothing can be made invalid, nothing is raised.
        assert report.ungenerated == ["negative"]
        assert "no negative case exists" in report.summary()
    json.dumps(report.to_dict())


@pytest.mark.parametrize("double", [Fault.SERVER_ERROR], indirect=True)
def test_server_error_fails_not_a_server_error(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report = _fuzz(schema, CREATE, sender)
    failure = _only(report.failures, "not_a_server_error")
    conclusion = report.conclusion()
    assert conclusion.outcome is Outcome.FAIL
    assert conclusion.reason.startswith(f"{report.failure_count} failing cases: ")
    assert (failure.method, failure.path, failure.status, failure.mode) == (
        "POST",
        ITEMS,
        500,
        "positive",
    )
    assert isinstance(failure.body, dict) and failure.body["type"] in TYPES
    assert failure.query == {"project_id": PROJECT}
    assert "Internal Server Error" in failure.response_body
    assert failure.curl.startswith("curl") and ITEMS in failure.curl and "POST" in failure.curl
    assert report.failure_count >= SMALL.positive_examples  # every valid create failed
    assert f"not_a_server_error (positive): POST {ITEMS} -> 500" in failure.line()
    assert sender.server_errors == report.statuses[500] > 0  # what the error gates are told


@pytest.mark.parametrize("double", [Fault.BAD_BODY], indirect=True)
def test_body_breaking_its_schema_fails_response_schema_conformance(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report = _fuzz(schema, CREATE, sender)
    failure = _only(report.failures, "response_schema_conformance")
    assert failure.status == 201
    assert '"confidence": "' in failure.response_body  # the number the double sent as text
    assert {f.check for f in report.failures} == {"response_schema_conformance"}


@pytest.mark.parametrize("double", [Fault.UNDOCUMENTED_STATUS], indirect=True)
def test_undocumented_status_fails_status_code_conformance(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report = _fuzz(schema, CREATE, sender)
    failure = _only(report.failures, "status_code_conformance")
    assert failure.status == 418
    assert {f.check for f in report.failures} == {"status_code_conformance"}


@pytest.mark.parametrize("double", [Fault.ACCEPTS_INVALID], indirect=True)
def test_accepting_invalid_input_fails_negative_data_rejection(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report = _fuzz(schema, CREATE, sender)
    failure = _only(report.failures, "negative_data_rejection")
    assert (failure.status, failure.mode) == (201, "negative")
    assert {f.check for f in report.failures} == {"negative_data_rejection"}


@pytest.mark.parametrize("double", [Fault.SERVER_ERROR], indirect=True)
def test_a_fault_in_one_operation_leaves_the_others_passing(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    assert _fuzz(schema, LIST, sender).failures == []


@pytest.mark.parametrize("double", [Fault.SERVER_ERROR], indirect=True)
def test_failures_carry_no_secret(double: ContractDouble, schema: Any) -> None:
    """The key the double quotes back, and the one in the headers, never reach a failure."""
    double.quote_api_key = True
    sender = Sender(
        double.url, {"X-API-Key": "sk-secret"}, redactor=Redactor(("sk-secret",)), timeout_s=5
    )
    report = _fuzz(schema, CREATE, sender)
    failure = _only(report.failures, "not_a_server_error")
    assert f"({REDACTED})" in failure.response_body
    assert "X-API-Key" in failure.curl and "sk-secret" not in failure.curl
    assert "sk-secret" not in json.dumps(report.to_dict())
    assert double.received[0].headers["X-API-Key"] == "sk-secret"  # it was really sent
    sender.close()


def test_server_dir_is_always_the_pinned_one(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report = _fuzz(schema, EXPORT_SPEC, sender, Pins(project_id=PROJECT, server_dir=PINNED_DIR))
    assert report.failures == []
    assert report.examples["positive"] == SMALL.positive_examples
    assert double.out_dirs, "no export reached the double"
    assert set(double.out_dirs) == {PINNED_DIR}


def test_without_a_pinned_dir_no_folder_is_named(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report = _fuzz(schema, EXPORT_SPEC, sender, Pins(project_id=PROJECT))
    assert report.examples["positive"] == SMALL.positive_examples
    assert double.out_dirs == []
    assert report.statuses == {422: sum(report.examples.values())}  # out_dir is required


def test_pinned_project_is_in_every_valid_case(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    _fuzz(schema, LIST, sender)
    listed = [r for r in double.received if r.method == "GET" and r.path == ITEMS]
    assert listed
    assert all(r.query.get("project_id") == [PROJECT] for r in listed[: SMALL.positive_examples])


def test_rate_limited_cases_are_counted_not_judged(double: ContractDouble, schema: Any) -> None:
    double.rate_limit = ["0"] * 1000
    sender = Sender(double.url, {}, redactor=Redactor(()), timeout_s=5, sleep=lambda s: None)
    report = _fuzz(schema, LIST, sender)
    sender.close()
    planned = sum(report.examples.values())
    assert planned > 0
    assert report.rate_limited == planned and report.judged == 0
    assert report.failures == []
    assert f"{planned} rate-limited" in report.summary()
    conclusion = report.conclusion()
    assert conclusion.outcome is Outcome.INCONCLUSIVE
    assert (
        conclusion.reason == f"only 0 of {planned} cases could be judged ({planned} rate-limited)"
    )


def test_read_only_profile_refuses_a_write(double: ContractDouble, schema: Any, sender: Sender):
    operation = schema[ITEMS]["POST"]
    with pytest.raises(ValueError, match="read-only methods only, not POST /memory-items"):
        fuzz_operation(operation, CREATE, SAFE, Pins(project_id=PROJECT), sender)
    assert double.received == []


def test_every_case_is_offered_to_on_response(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    seen: list[int] = []
    report = _fuzz(schema, CREATE, sender, on_response=lambda case, response: seen.append(1))
    assert len(seen) == sum(report.examples.values()) == len(double.received)
