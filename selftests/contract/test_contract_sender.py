"""`Sender`: paced, one retry of a 429 after its (capped) Retry-After, one client address per
request when asked, and no secret in what it records or in the curl line it writes."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from contract.conftest import PROJECT
from contract.double import ITEMS, ContractDouble
from phasegate.contract import Sender
from phasegate.evidence import REDACTED, Exchange, Redactor
from phasegate.ratelimit import RETRY_AFTER_CAP_S


def _sender(double: ContractDouble, **kwargs: Any) -> tuple[Sender, list[float]]:
    slept: list[float] = []
    options: dict[str, Any] = {"redactor": Redactor(()), "timeout_s": 5, "sleep": slept.append}
    return Sender(double.url, {}, **{**options, **kwargs}), slept


def _listing(schema: Any) -> Any:
    return schema[ITEMS]["GET"].Case(query={"project_id": PROJECT})


def test_paced_to_max_requests_per_s(double: ContractDouble, schema: Any) -> None:
    sender, slept = _sender(double, max_requests_per_s=2.0)
    for _ in range(4):
        assert sender.send(_listing(schema)).status_code == 200
    # The first goes at once; each later one waits out the rest of its half second.
    assert len(slept) == 3
    assert all(0.3 < seconds <= 0.5 for seconds in slept), slept
    assert sender.sent == len(double.received) == 4


def test_unpaced_without_a_limit(double: ContractDouble, schema: Any) -> None:
    sender, slept = _sender(double)
    for _ in range(4):
        sender.send(_listing(schema))
    assert slept == []


@pytest.mark.parametrize(
    ("retry_after", "waited"),
    [
        pytest.param("3", 3.0, id="as-told"),
        pytest.param("30", RETRY_AFTER_CAP_S, id="capped"),
        pytest.param("soon", 1.0, id="unreadable"),
    ],
)
def test_429_is_retried_once_after_retry_after(
    double: ContractDouble, schema: Any, retry_after: str, waited: float
) -> None:
    assert RETRY_AFTER_CAP_S == 10.0
    double.rate_limit = [retry_after]
    sender, slept = _sender(double)
    assert sender.send(_listing(schema)).status_code == 200
    assert slept == [waited]
    assert len(double.received) == 2


def test_429_twice_is_returned_not_retried_again(double: ContractDouble, schema: Any) -> None:
    double.rate_limit = ["1", "1", "1"]
    sender, slept = _sender(double)
    assert sender.send(_listing(schema)).status_code == 429
    assert slept == [1.0]
    assert len(double.received) == 2


def test_client_network_rotates_x_forwarded_for(double: ContractDouble, schema: Any) -> None:
    sender, _ = _sender(double, client_network="10.9.8")
    for _ in range(3):
        sender.send(_listing(schema))
    addresses = [r.headers.get("X-Forwarded-For") for r in double.received]
    assert addresses == ["10.9.8.1", "10.9.8.2", "10.9.8.3"]


def test_no_x_forwarded_for_without_a_client_network(double: ContractDouble, schema: Any) -> None:
    sender, _ = _sender(double)
    sender.send(_listing(schema))
    assert "X-Forwarded-For" not in double.received[0].headers


def test_secret_is_redacted_from_exchanges_and_curl(double: ContractDouble, schema: Any) -> None:
    double.quote_api_key = True
    recorded: list[Exchange] = []
    sender, _ = _sender(double, redactor=Redactor(("sk-secret",)), recorder=recorded.append)
    sender.headers["X-API-Key"] = "sk-secret"
    case = schema[ITEMS]["POST"].Case(
        query={"project_id": "pg-sk-secret"},
        body={"type": "decision", "content": "remember sk-secret", "confidence": 2},
        media_type="application/json",
    )
    response = sender.send(case)
    assert response.status_code == 422 and "sk-secret" in response.text  # the double quoted it
    [exchange] = recorded
    assert exchange.status == 422
    assert "sk-secret" not in repr(dataclasses.asdict(exchange))
    assert REDACTED in exchange.path and ITEMS in exchange.path
    assert exchange.request_body is not None and REDACTED in exchange.request_body
    assert exchange.response_body is not None and REDACTED in exchange.response_body
    curl = sender.curl(case)
    assert curl.startswith("curl -X POST") and ITEMS in curl
    assert "sk-secret" not in curl
    assert "X-API-Key" in curl and f"pg-{REDACTED}" in curl
    assert double.received[0].headers["X-API-Key"] == "sk-secret"  # it was really sent
