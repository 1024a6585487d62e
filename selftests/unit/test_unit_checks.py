"""checks.build_meta: a check's id, title, severity paragraph and phases, or a clear error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from phasegate.checks import CheckDeclarationError, CheckMeta, build_meta, split_docstring
from phasegate.outcomes import Kind


def documented() -> None:
    """GET /health answers 200.

    Blocking: nothing else is worth reading from an unhealthy target.
    """


def title_only() -> None:
    """GET /health answers 200."""


def undocumented() -> None:
    pass


def meta(
    *args: Any,
    function: Callable[..., Any] | None = documented,
    param_id: str | None = None,
    marks: tuple[str, ...] = ("phase1", "phase3", "check", "parametrize"),
    **kwargs: Any,
) -> CheckMeta:
    return build_meta(
        nodeid="tests/test_x.py::test_y",
        check_args=args,
        check_kwargs=kwargs,
        marker_names=marks,
        function=function,
        param_id=param_id,
    )


def test_a_full_declaration() -> None:
    result = meta("service.health")
    assert result.id == "service.health"
    assert result.title == "GET /health answers 200"  # the final full stop is dropped
    assert result.description == "Blocking: nothing else is worth reading from an unhealthy target."
    assert result.kind is Kind.SMOKE
    assert result.blocking is True
    assert result.writes is False
    assert result.phases == ("phase1", "phase3")


def test_keywords_set_kind_severity_writes_and_title() -> None:
    result = meta("gate.p95", kind="gate", blocking=False, writes=True, title="p95 < 500 ms")
    assert (result.kind, result.blocking, result.writes) == (Kind.GATE, False, True)
    assert result.title == "p95 < 500 ms"


def test_round_trip_through_a_dict() -> None:
    result = meta("gate.p95", kind="load", blocking=False, writes=True)
    assert CheckMeta.from_dict(result.to_dict()) == result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "needs an id string"),
        ((42,), "needs an id string"),
        (("Service.Health",), "must match"),
        (("-leading-dash",), "must match"),
        (("has space",), "must match"),
        (("",), "must match"),
    ],
)
def test_missing_or_bad_id(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(CheckDeclarationError, match=message) as caught:
        meta(*args)
    assert str(caught.value).startswith("tests/test_x.py::test_y: ")


@pytest.mark.parametrize("function", [undocumented, None])
def test_no_docstring(function: Callable[..., Any] | None) -> None:
    with pytest.raises(CheckDeclarationError, match="needs a docstring"):
        meta("service.health", function=function)


def test_no_severity_paragraph() -> None:
    with pytest.raises(CheckDeclarationError, match="why the check is blocking or a warning"):
        meta("service.health", function=title_only)


def test_a_title_keyword_does_not_excuse_the_severity_paragraph() -> None:
    with pytest.raises(CheckDeclarationError, match="blocking or a warning"):
        meta("service.health", function=undocumented, title="Health")


def test_unknown_kind_is_a_declaration_error() -> None:
    with pytest.raises(CheckDeclarationError, match="kind") as caught:
        meta("service.health", kind="gates")
    assert "'gates'" in str(caught.value)


@pytest.mark.parametrize(
    ("param_id", "expected"),
    [
        ("v1", "service.health.v1"),
        ("GET /health", "service.health.get-health"),
        ("a[0]-B", "service.health.a-0--b"),
        ("--weird--", "service.health.weird"),
        ("", "service.health"),
        (None, "service.health"),
    ],
)
def test_parametrized_ids_get_a_clean_suffix(param_id: str | None, expected: str) -> None:
    assert meta("service.health", param_id=param_id).id == expected


def test_split_docstring() -> None:
    assert split_docstring(documented)[0] == "GET /health answers 200"
    assert split_docstring(title_only) == ("GET /health answers 200", "")
    assert split_docstring(None) == ("", "")
