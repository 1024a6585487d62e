"""`crud_sequences`, the check behind `contract.crud-<resource>`: create, read, delete, read again.

It passes when what was created can be read and what was deleted is gone, and fails with
`ensure_resource_availability` or `use_after_free` on a double that loses or resurrects items.
"""

from __future__ import annotations

from typing import Any

import pytest

from contract.conftest import PROJECT
from contract.double import ITEMS, ContractDouble, Fault
from phasegate.contract import RESOURCES, CrudReport, Pins, Sender, crud_sequences
from phasegate.outcomes import Outcome

[MEMORY_ITEMS] = [r for r in RESOURCES if r.name == "memory-items"]
SEQUENCES = 3


def _crud(schema: Any, sender: Sender) -> tuple[CrudReport, list[str], list[str]]:
    created: list[str] = []
    deleted: list[str] = []
    report = crud_sequences(
        schema,
        MEMORY_ITEMS,
        "/api/v1",
        Pins(project_id=PROJECT),
        sender,
        count=SEQUENCES,
        seed=0,
        on_created=created.append,
        on_deleted=deleted.append,
    )
    return report, created, deleted


def test_compliant_double_completes_every_sequence(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report, created, deleted = _crud(schema, sender)
    assert report.failures == [], [f.line() for f in report.failures]
    assert report.sequences == report.completed == SEQUENCES
    assert created == deleted and len(set(created)) == SEQUENCES
    assert double.items == {}  # nothing the sequences made is left behind
    assert report.conclusion().outcome is Outcome.PASS
    assert report.statuses == {201: SEQUENCES, 200: SEQUENCES, 204: SEQUENCES, 404: SEQUENCES}
    assert f"{SEQUENCES} of {SEQUENCES} sequences reached delete" in report.summary()


@pytest.mark.parametrize("double", [Fault.DELETE_KEEPS], indirect=True)
def test_item_readable_after_delete_fails_use_after_free(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report, created, _ = _crud(schema, sender)
    [failure] = report.failures
    assert failure.check == "use_after_free"
    assert (failure.method, failure.status, failure.mode) == ("GET", 200, "read after delete")
    assert failure.path == f"{ITEMS}/{created[0]}"
    assert report.failure_count == SEQUENCES
    assert report.conclusion().outcome is Outcome.FAIL


@pytest.mark.parametrize("double", [Fault.CREATE_LOST], indirect=True)
def test_created_item_not_readable_fails_ensure_resource_availability(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report, created, deleted = _crud(schema, sender)
    failure = report.failures[0]
    assert failure.check == "ensure_resource_availability"
    assert (failure.method, failure.status, failure.mode) == ("GET", 404, "read after create")
    assert {f.check for f in report.failures} == {"ensure_resource_availability"}
    assert report.completed == 0 and len(created) == SEQUENCES and deleted == []


@pytest.mark.parametrize("double", [Fault.SERVER_ERROR], indirect=True)
def test_a_create_the_server_fails_is_judged_and_ends_the_sequence(
    double: ContractDouble, schema: Any, sender: Sender
) -> None:
    report, created, _ = _crud(schema, sender)
    assert "not_a_server_error" in {f.check for f in report.failures}
    assert report.completed == 0 and created == []
    assert dict(report.not_created) == {500: SEQUENCES}


def test_too_few_completed_sequences_decide_nothing() -> None:
    """Cases all judged and none failing, but only 1 of 4 creates accepted: no verdict."""
    report = CrudReport(operation="CRUD memory-items", profile="full", sequences=4, completed=1)
    report.examples["create"] = 4
    report.not_created = {409: 3}
    conclusion = report.conclusion()
    assert conclusion.outcome is Outcome.INCONCLUSIVE
    assert conclusion.reason == (
        "only 1 of 4 generated creates were accepted (statuses {409: 3}); "
        "too few sequences to judge"
    )
    report.completed = 3
    assert report.conclusion().outcome is Outcome.PASS
