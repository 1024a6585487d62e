"""The data the contract suite is built from: the operation catalog, its ids, the profiles."""

from __future__ import annotations

import pytest

from phasegate.contract import (
    FULL,
    OPERATIONS,
    SAFE,
    OperationSpec,
    ProfileError,
    profile_for,
    uncatalogued,
)
from phasegate.phases import Phase


@pytest.mark.parametrize(
    ("spec", "param_id"),
    [
        (OperationSpec("GET", "/memory-items"), "get-memory-items"),
        (OperationSpec("GET", "/memory-items/{item_id}"), "get-memory-items-item_id"),
        (
            OperationSpec("POST", "/memory-items/extract/preview"),
            "post-memory-items-extract-preview",
        ),
        (
            OperationSpec("DELETE", "/context-modules/{module_id}/memories/{memory_id}"),
            "delete-context-modules-module_id-memories-memory_id",
        ),
    ],
)
def test_param_id(spec: OperationSpec, param_id: str) -> None:
    assert spec.param_id == param_id


def test_catalog_has_27_operations_with_distinct_ids() -> None:
    assert len(OPERATIONS) == 27
    assert len({op.param_id for op in OPERATIONS}) == 27
    assert len({(op.method, op.path) for op in OPERATIONS}) == 27
    assert sum(op.read_only for op in OPERATIONS) == 8
    assert {op.method for op in OPERATIONS if op.read_only} == {"GET"}
    dirs = {op.label: op.server_dirs for op in OPERATIONS if op.server_dirs}
    assert dirs == {
        "POST /memory-items/export": ("out_dir",),
        "POST /memory-items/import": ("in_dir",),
    }


def _schema(*operations: tuple[str, str]) -> dict[str, object]:
    paths: dict[str, dict[str, object]] = {}
    for method, path in operations:
        paths.setdefault(path, {"parameters": []})[method.lower()] = {"responses": {}}
    return {"openapi": "3.1.0", "paths": paths}


def test_uncatalogued_lists_family_operations_the_suite_does_not_fuzz() -> None:
    raw = _schema(
        ("GET", "/api/v1/memory-items"),  # catalogued
        ("PATCH", "/api/v1/memory-items/{item_id}"),  # family, not catalogued
        ("POST", "/api/v1/context-packs/share"),  # family, not catalogued
        ("GET", "/api/v1/projects"),  # not the family
        ("GET", "/api/v2/memory-items/new"),  # another API version
    )
    assert uncatalogued(raw, "/api/v1") == [
        "PATCH /memory-items/{item_id}",
        "POST /context-packs/share",
    ]


def test_the_whole_catalog_is_not_uncatalogued() -> None:
    raw = _schema(*((op.method, op.full_path("/api/v1")) for op in OPERATIONS))
    assert uncatalogued(raw, "/api/v1") == []
    assert uncatalogued(raw, "/api/v1", catalog=OPERATIONS[:-1]) == [OPERATIONS[-1].label]


@pytest.mark.parametrize(
    ("phase", "name"),
    [
        (None, "full"),
        (Phase.PHASE1, "full"),
        (Phase.PHASE2, "full"),
        (Phase.PHASE3, "safe"),
        (Phase.PHASE4, "safe"),
    ],
)
def test_auto_profile_follows_the_phase(phase: Phase | None, name: str) -> None:
    assert profile_for(phase).name == name
    assert profile_for(phase, "auto").name == name


def test_a_named_profile_wins_over_the_phase() -> None:
    assert profile_for(Phase.PHASE2, "safe") == SAFE
    assert profile_for(Phase.PHASE4, "full") == FULL


def test_safe_is_read_only_slow_and_sends_no_invalid_input() -> None:
    assert SAFE.read_only and SAFE.negative_examples == 0 and SAFE.crud_sequences == 0
    assert SAFE.max_requests_per_s is not None
    assert not FULL.read_only and FULL.negative_examples > 0 and FULL.crud_sequences > 0


def test_examples_and_seed_override_the_profile() -> None:
    full = profile_for(Phase.PHASE2, examples=3, seed=7)
    assert (full.positive_examples, full.negative_examples, full.seed) == (3, 3, 7)
    safe = profile_for(Phase.PHASE4, examples=3)
    assert (safe.positive_examples, safe.negative_examples) == (3, 0)  # still no invalid input
    assert "3 valid, no invalid input" in safe.describe()
    assert full.to_dict()["description"] == full.describe()


def test_unknown_profile_raises() -> None:
    with pytest.raises(ProfileError, match="unknown contract profile 'bogus'"):
        profile_for(Phase.PHASE2, "bogus")
