"""Judging a deletion surface by surface: seen before, gone after."""

from __future__ import annotations

import pytest

from phasegate.deletion import Reach, Surface, judge, judge_surface
from phasegate.outcomes import Outcome

BY_ID, LISTING = Reach.BY_ID, Reach.LISTING


@pytest.mark.parametrize(
    ("surface", "finding"),
    [
        (Surface("get", BY_ID, True, 404, False), "ok"),
        (Surface("get", BY_ID, True, 200, True), "effect"),
        (Surface("get", BY_ID, True, 410, False), "undocumented-4xx"),
        (Surface("get", BY_ID, True, 500, None), "server-error"),
        (Surface("get", BY_ID, False, 404, False), "not-judged"),
        (Surface("memories", BY_ID, True, 400, False, frozenset({400, 404})), "ok"),
        (Surface("list", LISTING, True, 200, False), "ok"),
        (Surface("list", LISTING, True, 200, True), "effect"),
        (Surface("list", LISTING, True, 200, None), "unreadable"),
        (Surface("list", LISTING, True, 404, None), "ok"),
        (Surface("list", LISTING, True, 400, None), "unreadable"),
        (Surface("list", LISTING, None, 200, False), "not-judged"),
    ],
)
def test_each_surface_class_has_its_rule(surface: Surface, finding: str) -> None:
    assert judge_surface(surface)[0] == finding


def test_any_refusal_counts_as_unreachable_for_a_deleted_project() -> None:
    surface = Surface("list", LISTING, True, 400, None)
    assert judge_surface(surface, any_refusal=True)[0] == "ok"
    assert judge_surface(Surface("get", BY_ID, True, 410, False), any_refusal=True)[0] == "ok"


def test_the_surfaces_decide_the_outcome() -> None:
    get = Surface("get", BY_ID, True, 404, False)
    listed = Surface("list", LISTING, True, 200, False)
    assert judge([get, listed], "d", "get").outcome is Outcome.PASS
    still = Surface("search", LISTING, True, 200, True)
    failed = judge([get, listed, still], "d", "get")
    assert failed.outcome is Outcome.FAIL and "search" in failed.reason
    assert [row["finding"] for row in failed.facts["surfaces"]] == ["ok", "ok", "effect"]
    odd = Surface("get", BY_ID, True, 410, False)
    assert judge([odd, listed], "d", "get").outcome is Outcome.WARN
    unseen = Surface("get", BY_ID, False, 404, False)
    assert judge([unseen, listed], "d", "get").outcome is Outcome.INCONCLUSIVE
    blind = Surface("search", LISTING, False, 200, False)
    assert judge([get, blind], "d", "get").outcome is Outcome.INCONCLUSIVE
    assert judge([listed], "d", "get").outcome is Outcome.INCONCLUSIVE
