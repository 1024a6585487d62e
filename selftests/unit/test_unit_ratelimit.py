"""ratelimit: the one reading of Retry-After, the one cap, the retries, what still-limited is."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from phasegate import ratelimit
from phasegate.outcomes import Inconclusive
from phasegate.ratelimit import (
    DEFAULT_RETRY_AFTER_S,
    RETRY_AFTER_CAP_S,
    RateLimited,
    RateLimitPolicy,
    client_address,
    client_network,
    is_limited,
    retry_after_s,
)


def test_the_one_cap_is_the_targets_own_block() -> None:
    """SkillMeat 0.74.0 blocks for 10 s and says `Retry-After: 10`: nobody waits longer."""
    assert RETRY_AFTER_CAP_S == ratelimit.LIMITER_WINDOW_S == 10.0
    assert ratelimit.RETRIES == 1


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        pytest.param({"Retry-After": "3"}, 3.0, id="as-told"),
        pytest.param({"Retry-After": "2.5"}, 2.5, id="fractional"),
        pytest.param({"Retry-After": "10"}, 10.0, id="skillmeat"),
        pytest.param({"Retry-After": "120"}, RETRY_AFTER_CAP_S, id="capped"),
        pytest.param({"Retry-After": "-4"}, 0.0, id="negative"),
        pytest.param({"Retry-After": "soon"}, DEFAULT_RETRY_AFTER_S, id="unreadable"),
        pytest.param({"Retry-After": "nan"}, DEFAULT_RETRY_AFTER_S, id="nan"),
        pytest.param(
            {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, DEFAULT_RETRY_AFTER_S, id="date"
        ),
        pytest.param({}, DEFAULT_RETRY_AFTER_S, id="missing"),
        pytest.param({"retry-after": ["7"]}, 7.0, id="schemathesis-lists"),
        pytest.param({"retry-after": []}, DEFAULT_RETRY_AFTER_S, id="empty-list"),
    ],
)
def test_retry_after_is_read_once_for_every_http_library(
    headers: dict[str, Any], seconds: float
) -> None:
    assert retry_after_s(headers) == seconds


def test_httpx_headers_are_read_whatever_their_case() -> None:
    assert retry_after_s(httpx.Headers({"retry-after": "4"})) == 4.0


def test_only_429_is_the_limiters_answer() -> None:
    assert is_limited(429)
    assert not any(is_limited(status) for status in (200, 404, 500, 503, None))


class Answers:
    """Answers in order, counting the calls."""

    def __init__(self, *statuses: int, retry_after: str = "3") -> None:
        self.statuses = list(statuses)
        self.calls = 0
        self.retry_after = retry_after

    def __call__(self) -> httpx.Response:
        self.calls += 1
        return httpx.Response(self.statuses.pop(0), headers={"Retry-After": self.retry_after})


def test_send_waits_the_retry_after_and_resends_once() -> None:
    slept: list[float] = []
    answers = Answers(429, 200)
    assert RateLimitPolicy(sleep=slept.append).send(answers).status_code == 200
    assert slept == [3.0] and answers.calls == 2


def test_send_returns_a_429_that_persists_as_still_limited() -> None:
    slept: list[float] = []
    answers = Answers(429, 429, 200, retry_after="60")
    assert RateLimitPolicy(sleep=slept.append).send(answers).status_code == 429
    assert slept == [RETRY_AFTER_CAP_S] and answers.calls == 2


def test_send_does_not_wait_for_anything_but_a_429() -> None:
    slept: list[float] = []
    answers = Answers(503, 200)
    assert RateLimitPolicy(sleep=slept.append).send(answers).status_code == 503
    assert slept == [] and answers.calls == 1


def test_call_retries_a_raised_rate_limit_then_lets_the_last_one_through() -> None:
    slept: list[float] = []
    raised = [RateLimited("refused", 4.0), RateLimited("refused again", 5.0)]

    def refuse() -> str:
        raise raised.pop(0)

    with pytest.raises(RateLimited, match="refused again"):
        RateLimitPolicy(sleep=slept.append).call(refuse)
    assert slept == [4.0]

    outcomes: list[Any] = [RateLimited("refused", 2.0), "ok"]

    def then_ok() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    slept.clear()
    assert RateLimitPolicy(sleep=slept.append).call(then_ok) == "ok"
    assert slept == [2.0]


def test_rate_limited_is_undecidable_not_failed() -> None:
    assert issubclass(RateLimited, Inconclusive)
    assert RateLimited("x").retry_after_s == DEFAULT_RETRY_AFTER_S


def test_client_addresses_are_private_stable_and_rotate_within_one_network() -> None:
    network = client_network("items.list-1234")
    assert network == client_network("items.list-1234")
    assert network != client_network("items.list-1235")
    first, second, *_ = network.split(".")
    assert first == "10" and 0 <= int(second) <= 255
    addresses = [client_address(network, n) for n in range(251)]
    assert addresses[0] == f"{network}.1" and addresses[249] == f"{network}.250"
    assert addresses[250] == addresses[0], "250 clients, then round again"
