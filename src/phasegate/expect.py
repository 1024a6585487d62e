"""Assertions that explain themselves: every failure names the request, the status and the body.

A verdict line like "POST /api/v1/memory-items answered 201, expected 404/403/503" is evidence
a person can act on; a bare `assert 201 in (404, 403, 503)` is not.
"""

from __future__ import annotations

from typing import Any

import httpx

from phasegate.outcomes import Inconclusive


def _where(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url.path}"


def status(response: httpx.Response, *expected: int, why: str = "") -> httpx.Response:
    if response.status_code not in expected:
        wanted = "/".join(str(code) for code in expected)
        detail = f" ({why})" if why else ""
        raise AssertionError(
            f"{_where(response)} answered {response.status_code}, expected {wanted}{detail}: "
            f"{response.text[:200]}"
        )
    return response


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise AssertionError(
            f"{_where(response)} answered {response.status_code} with a body that is not JSON: "
            f"{response.text[:200]!r}"
        ) from None


def json_object(response: httpx.Response, *expected: int, why: str = "") -> dict[str, Any]:
    """The response's JSON object after checking its status; anything else is a failure."""
    status(response, *expected, why=why)
    body = json_body(response)
    if not isinstance(body, dict):
        raise AssertionError(
            f"{_where(response)}: expected a JSON object, got {type(body).__name__}"
        )
    return body


def field(body: dict[str, Any], name: str, where: str) -> Any:
    if name not in body:
        raise AssertionError(f"{where}: field {name!r} missing (fields: {sorted(body)[:12]})")
    return body[name]


def items_of(body: dict[str, Any], where: str) -> list[dict[str, Any]]:
    items = field(body, "items", where)
    if not isinstance(items, list):
        raise AssertionError(f"{where}: 'items' is {type(items).__name__}, expected a list")
    return items


def reported(body: dict[str, Any], name: str, where: str, judged: str) -> Any:
    """A field a check judges by what it must NOT be; its absence decides nothing.

    `x.get(name) is not True` passes when the field is missing: a vacuous PASS. An absent
    subject makes the check INCONCLUSIVE instead, with `judged` saying what stays unknown.
    """
    if name not in body or body[name] is None:
        state = "missing" if name not in body else "null"
        raise Inconclusive(
            f"{where}: field {name!r} is {state} (fields: {sorted(body)[:12]}), so {judged} "
            "cannot be judged"
        )
    return body[name]
