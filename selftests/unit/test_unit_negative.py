"""The negative-path judgement and the identifier slots it reads from a schema (hand-made)."""

from __future__ import annotations

from typing import Any

import pytest

from phasegate.contract.operations import OPERATIONS, OperationSpec
from phasegate.negative import (
    FAMILIES,
    Case,
    Observation,
    Severity,
    derive_slots,
    family_operations,
    judge_case,
    judge_family,
)
from phasegate.negative.slots import EXPECTED_SLOTS, FAMILY_OF
from phasegate.outcomes import Outcome

PREFIX = "/api/v1"


def obs(case: Case = Case.UNKNOWN, status: int = 404, **fields: Any) -> Observation:
    return Observation(
        operation="GET /memory-items/{item_id}",
        slot="path item_id",
        case=case,
        request="GET /api/v1/memory-items/abc",
        status=status,
        **fields,
    )


# -- one case --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(Case))
def test_404_keeps_every_rule(case: Case) -> None:
    assert judge_case(obs(case, 404)).rule is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_a_server_error(status: int) -> None:
    assert judge_case(obs(Case.MALFORMED, status)).rule == "server-error"


@pytest.mark.parametrize("case", [Case.UNKNOWN, Case.MALFORMED, Case.DELETED])
@pytest.mark.parametrize("status", [200, 201, 204, 302])
def test_a_2xx_for_nothing_breaks_effect(case: Case, status: int) -> None:
    assert judge_case(obs(case, status)).rule == "effect"


def test_a_2xx_with_another_projects_resource_is_cross_project() -> None:
    assert judge_case(obs(Case.FOREIGN, 200)).rule == "cross-project"


def test_a_refusal_that_still_changed_the_other_project_is_cross_project() -> None:
    verdict = judge_case(obs(Case.FOREIGN, 404, foreign_changed=("A's module links: [] -> [x]",)))
    assert verdict.rule == "cross-project"
    assert "A's module links" in verdict.why


def test_a_refusal_naming_the_other_projects_data_is_cross_project() -> None:
    assert judge_case(obs(Case.FOREIGN, 400, disclosed=("item content",))).rule == "cross-project"


def test_a_batch_answer_refusing_the_id_per_entry_keeps_the_rules() -> None:
    assert judge_case(obs(Case.UNKNOWN, 200, refused_per_entry=True)).rule is None
    assert judge_case(obs(Case.UNKNOWN, 200, refused_per_entry=False)).rule == "effect"
    assert judge_case(obs(Case.UNKNOWN, 200, refused_per_entry=None)).rule == "effect"


@pytest.mark.parametrize("status", [400, 403, 409, 410, 422])
def test_another_4xx_is_undocumented(status: int) -> None:
    verdict = judge_case(obs(Case.UNKNOWN, status, documented=(400, 422)))
    assert verdict.rule == "undocumented-4xx"
    assert "404" in verdict.why


def test_422_only_for_a_malformed_value_the_schema_validates() -> None:
    assert judge_case(obs(Case.MALFORMED, 422, validates=True)).rule is None
    assert judge_case(obs(Case.MALFORMED, 422, validates=False)).rule == "undocumented-4xx"
    assert judge_case(obs(Case.UNKNOWN, 422, validates=True)).rule == "undocumented-4xx"


def test_the_reason_says_whether_the_schema_documents_the_status() -> None:
    assert "is documented" in judge_case(obs(status=400, documented=(400,))).why
    assert "not documented" in judge_case(obs(status=400, documented=(422,))).why


# -- a family at each severity -----------------------------------------------------------------

MIXED = [
    obs(Case.UNKNOWN, 404),
    obs(Case.MALFORMED, 500),
    obs(Case.DELETED, 400),
    obs(Case.FOREIGN, 200),
]


def test_the_blocking_check_fails_on_its_rules_only_and_names_them() -> None:
    conclusion = judge_family("items", Severity.BLOCKING, MIXED)
    assert conclusion.outcome is Outcome.FAIL
    assert conclusion.reason.startswith("negative.items: 2 of 4 cases")
    assert "server-error: GET /memory-items/{item_id} path item_id malformed -> 500" in (
        conclusion.reason
    )
    assert "cross-project:" in conclusion.reason and "undocumented-4xx:" not in conclusion.reason
    cases = conclusion.facts["cases"]
    assert [c["verdict"] for c in cases] == ["ok", "broken", "broken", "broken"]
    assert {"operation", "slot", "case", "request", "status", "verdict", "rule"} <= set(cases[0])
    assert conclusion.facts["broken_by_rule"] == {
        "cross-project": 1,
        "server-error": 1,
        "undocumented-4xx": 1,
    }


def test_the_status_check_fails_on_undocumented_4xx_only() -> None:
    conclusion = judge_family("items", Severity.STATUS, MIXED)
    assert conclusion.outcome is Outcome.FAIL
    assert conclusion.reason.startswith("negative-status.items: 1 of 4 cases")
    assert "undocumented-4xx x1" in conclusion.reason


def test_a_family_whose_cases_keep_the_rules_passes_with_a_summary() -> None:
    conclusion = judge_family("items", Severity.STATUS, [obs(Case.UNKNOWN, 404), MIXED[1]])
    assert conclusion.outcome is Outcome.PASS
    assert "1 break rules the other check" in conclusion.facts["summary"]


def test_no_case_or_a_schema_gap_is_inconclusive_never_pass() -> None:
    assert judge_family("bulk", Severity.BLOCKING, []).outcome is Outcome.INCONCLUSIVE
    gap = judge_family(
        "bulk", Severity.BLOCKING, [obs()], problems=["the schema does not declare X"]
    )
    assert gap.outcome is Outcome.INCONCLUSIVE
    assert "does not declare X" in gap.reason


def test_a_broken_case_outweighs_a_schema_gap() -> None:
    conclusion = judge_family("bulk", Severity.BLOCKING, [obs(status=500)], problems=["gap"])
    assert conclusion.outcome is Outcome.FAIL
    assert conclusion.facts["schema_problems"] == ["gap"]


# -- slots from a schema -----------------------------------------------------------------------


def _schema(paths: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "paths": {f"{PREFIX}{p}": item for p, item in paths.items()},
        "components": {
            "schemas": {
                "Merge": {
                    "type": "object",
                    "required": ["source_id", "target_id"],
                    "properties": {
                        "source_id": {"type": "string"},
                        "target_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                        "session_id": {"type": "string"},
                    },
                },
            }
        },
    }


MERGE = OperationSpec("POST", "/memory-items/merge")
GET_ITEM = OperationSpec("GET", "/memory-items/{item_id}")
PREVIEW = OperationSpec("POST", "/context-packs/preview")


def test_slots_come_from_path_query_and_body_refs() -> None:
    schema = _schema(
        {
            "/memory-items/merge": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Merge"}}
                        }
                    },
                    "responses": {"200": {}, "404": {}, "422": {}},
                }
            },
            "/memory-items/{item_id}": {
                "get": {
                    "parameters": [{"name": "item_id", "in": "path", "schema": {"type": "string"}}],
                    "responses": {"200": {}, "404": {}},
                }
            },
            "/context-packs/preview": {
                "post": {
                    "parameters": [
                        {"name": "project_id", "in": "query", "required": True, "schema": {}}
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "properties": {
                                        "module_id": {
                                            "anyOf": [{"type": "string"}, {"type": "null"}]
                                        }
                                    }
                                }
                            }
                        }
                    },
                }
            },
        }
    )
    derived = derive_slots(schema, PREFIX, [MERGE, GET_ITEM, PREVIEW])
    assert derived.problems == ()
    by_label = {s.label: s for s in derived.slots}
    assert set(by_label) == {
        "POST /memory-items/merge [body source_id]",
        "POST /memory-items/merge [body target_id]",
        "GET /memory-items/{item_id} [path item_id]",
        "POST /context-packs/preview [query project_id]",
        "POST /context-packs/preview [body module_id]",
    }  # session_id is an attribute, not a reference
    target = by_label["POST /memory-items/merge [body target_id]"]
    assert target.kind == "item" and target.required and target.validates
    assert target.documented == (404, 422)
    assert not by_label["POST /memory-items/merge [body source_id]"].validates
    assert not by_label["POST /context-packs/preview [body module_id]"].required
    assert by_label["POST /context-packs/preview [query project_id]"].kind == "project"


def test_a_missing_operation_or_slot_and_an_unknown_identifier_are_problems() -> None:
    schema = _schema(
        {
            "/memory-items/{item_id}": {
                "get": {
                    "parameters": [
                        {"name": "owner_id", "in": "query", "schema": {"type": "string"}}
                    ]
                }
            }
        }
    )
    derived = derive_slots(schema, PREFIX, [MERGE, GET_ITEM])
    text = " | ".join(derived.problems)
    assert "does not declare POST /memory-items/merge" in text
    assert "owner_id" in text
    assert "no longer declares item_id on GET /memory-items/{item_id}" in text
    assert derived.without_slots == ("GET /memory-items/{item_id}",)


def test_every_operation_has_a_family_and_an_expected_slot_list() -> None:
    keys = {(op.method, op.path) for op in OPERATIONS}
    assert keys == set(FAMILY_OF) == set(EXPECTED_SLOTS)
    assert sum(len(family_operations(f)) for f in FAMILIES) == len(OPERATIONS) == 27
