"""The lifecycle table read from an OpenAPI document, and the judging of observed cells."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from phasegate.lifecycle import (
    NEW,
    Cell,
    Expect,
    Expected,
    LifecycleUnknown,
    Way,
    judge,
    judge_cell,
    lifecycle_from_openapi,
)
from phasegate.outcomes import Outcome

STATUS = {"$ref": "#/components/schemas/MemoryStatus"}


def _op(description: str = "", codes: tuple[int, ...] = (400, 404, 422), body: str = "") -> Any:
    op: dict[str, Any] = {
        "summary": "op",
        "description": description,
        "responses": {str(c): {"description": "x"} for c in (200, *codes, 500)},
    }
    if body:
        ref = {"$ref": f"#/components/schemas/{body}"}
        op["requestBody"] = {"content": {"application/json": {"schema": ref}}}
    return op


def document() -> dict[str, Any]:
    """The shape of SkillMeat 0.74.0's document, reduced to what the lifecycle reads."""
    base = "/api/v1/memory-items"
    return {
        "paths": {
            base: {"post": _op(codes=(400, 409, 422), body="Create")},
            f"{base}/{{item_id}}": {"put": _op(body="Update")},
            f"{base}/{{item_id}}/promote": {
                "post": _op("State machine: candidate -> active -> stable.\nStable cannot.")
            },
            f"{base}/{{item_id}}/deprecate": {
                "post": _op("Any non-deprecated status can transition to deprecated.")
            },
            f"{base}/bulk-promote": {"post": _op(codes=(422,))},
            f"{base}/bulk-deprecate": {"post": _op(codes=(422,))},
            f"{base}/merge": {"post": _op()},
        },
        "components": {
            "schemas": {
                "MemoryStatus": {
                    "type": "string",
                    "enum": ["candidate", "active", "stable", "deprecated"],
                },
                "Create": {"properties": {"status": STATUS}},
                "Update": {"properties": {"status": {"anyOf": [STATUS, {"type": "null"}]}}},
            }
        },
    }


def test_the_table_comes_from_the_document() -> None:
    life = lifecycle_from_openapi(document())
    assert life.statuses == ("candidate", "active", "stable", "deprecated")
    assert dict(life.promote) == {"candidate": "active", "active": "stable"}
    assert life.initial == "candidate" and life.deprecated == "deprecated"
    assert life.refusals[Way.PUT] == frozenset({400, 404, 422})
    assert life.refusals[Way.CREATE] == frozenset({400, 409, 422})
    assert any("candidate -> active -> stable" in s for s in life.sources)


@pytest.mark.parametrize(
    ("way", "source", "requested", "expected"),
    [
        (Way.PROMOTE, "candidate", None, Expected(Expect.LEGAL, "active")),
        (Way.PROMOTE, "stable", None, Expected(Expect.ILLEGAL, "stable")),
        (Way.BULK_PROMOTE, "deprecated", None, Expected(Expect.ILLEGAL, "deprecated")),
        (Way.DEPRECATE, "stable", None, Expected(Expect.LEGAL, "deprecated")),
        (Way.MERGE_SOURCE, "deprecated", None, Expected(Expect.ILLEGAL, "deprecated")),
        (Way.PUT, "deprecated", "active", Expected(Expect.ILLEGAL, "deprecated")),
        (Way.PUT, "candidate", "stable", Expected(Expect.ILLEGAL, "candidate")),
        (Way.PUT, "active", "stable", Expected(Expect.LEGAL, "stable")),
        (Way.PUT, "stable", "stable", Expected(Expect.NO_OP, "stable")),
        (Way.PUT, "active", "archived", Expected(Expect.ILLEGAL, "active")),
        (Way.CREATE, NEW, "stable", Expected(Expect.LEGAL, "stable")),
        (Way.CREATE, NEW, "archived", Expected(Expect.ILLEGAL, NEW)),
    ],
)
def test_expected_cells(way: Way, source: str, requested: str | None, expected: Expected) -> None:
    assert lifecycle_from_openapi(document()).expect(way, source, requested) == expected


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        ("/api/v1/memory-items/{item_id}/promote", "Promote it.", "State machine"),
        ("/api/v1/memory-items/{item_id}/deprecate", "Deprecate it.", "which statuses"),
    ],
)
def test_an_undocumented_lifecycle_is_unknown(path: str, text: str, reason: str) -> None:
    doc = copy.deepcopy(document())
    doc["paths"][path]["post"]["description"] = text
    with pytest.raises(LifecycleUnknown, match=reason):
        lifecycle_from_openapi(doc)


def test_a_missing_operation_or_enum_is_unknown() -> None:
    doc = copy.deepcopy(document())
    del doc["paths"]["/api/v1/memory-items/merge"]
    with pytest.raises(LifecycleUnknown, match="merge"):
        lifecycle_from_openapi(doc)
    doc = copy.deepcopy(document())
    del doc["components"]["schemas"]["MemoryStatus"]["enum"]
    with pytest.raises(LifecycleUnknown, match="enum"):
        lifecycle_from_openapi(doc)


def cell(
    way: Way,
    source: str,
    requested: str | None,
    status: int,
    accepted: bool | None,
    state: str | None,
) -> Cell:
    expected = lifecycle_from_openapi(document()).expect(way, source, requested)
    return Cell(source, way, requested, expected, status, accepted, state)


DOCUMENTED = frozenset({400, 404, 422})


@pytest.mark.parametrize(
    ("observed", "finding"),
    [
        (cell(Way.PROMOTE, "candidate", None, 200, True, "active"), "ok"),
        (cell(Way.PROMOTE, "stable", None, 400, False, "stable"), "ok"),
        (cell(Way.PROMOTE, "stable", None, 500, None, "stable"), "server-error"),
        (cell(Way.PROMOTE, "stable", None, 200, True, "stable"), "effect"),
        (cell(Way.PROMOTE, "candidate", None, 200, True, "candidate"), "effect"),
        (cell(Way.PROMOTE, "candidate", None, 400, False, "candidate"), "effect"),
        (cell(Way.PROMOTE, "stable", None, 409, False, "stable"), "undocumented-4xx"),
        (cell(Way.PROMOTE, "stable", None, 400, False, "deprecated"), "effect"),
        (cell(Way.PUT, "deprecated", "active", 200, True, "active"), "effect"),
        (cell(Way.PUT, "stable", "stable", 200, True, "stable"), "ok"),
        (cell(Way.PUT, "stable", "stable", 400, False, "stable"), "ok"),
        (cell(Way.BULK_DEPRECATE, "active", None, 200, None, "active"), "effect"),
        (cell(Way.CREATE, NEW, "archived", 422, False, NEW), "ok"),
        (cell(Way.CREATE, NEW, "archived", 201, True, "archived"), "effect"),
    ],
)
def test_each_cell_class_has_its_rule(observed: Cell, finding: str) -> None:
    assert judge_cell(observed, DOCUMENTED)[0] == finding


def test_the_table_decides_the_outcome() -> None:
    life = lifecycle_from_openapi(document())
    good = cell(Way.PROMOTE, "candidate", None, 200, True, "active")
    odd = cell(Way.PROMOTE, "stable", None, 409, False, "stable")
    bad = cell(Way.PUT, "deprecated", "active", 200, True, "active")
    passed = judge([good], life, "t")
    assert passed.outcome is Outcome.PASS
    assert passed.facts["transition_table"][0] == {
        "from": "candidate",
        "way": "promote",
        "sends_status": None,
        "expected": "legal -> active",
        "got_status": 200,
        "got_accepted": True,
        "got_state": "active",
        "finding": "ok",
        "why": "accepted",
    }
    assert passed.facts["table_source"]
    assert judge([good, odd], life, "t").outcome is Outcome.WARN
    failed = judge([good, odd, bad], life, "t")
    assert failed.outcome is Outcome.FAIL
    assert "deprecated x put=active" in failed.reason
    assert len(failed.facts["transition_table"]) == 3
    assert judge([], life, "t").outcome is Outcome.INCONCLUSIVE
