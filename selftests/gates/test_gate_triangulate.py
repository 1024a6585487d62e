"""Client against server: `triangulate.judge` and the `Counter` that reads the server's side.

judge is pure: what the client saw in a burst, and the server's sums at the scrapes before and
after it. Counter is exercised against the scripted Prometheus stand-in of conftest.py.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from conftest import FakePrometheus, vector
from phasegate.gates.triangulate import (
    ERRORS,
    RATE_LIMITED,
    REQUESTS,
    SLACK,
    Counter,
    PrometheusUnavailable,
    ServerCounts,
    judge,
)
from phasegate.outcomes import Outcome

T0, T1 = 1_800_000_000.0, 1_800_000_060.0


def counts(requests: float, errors: float = 0.0, rate_limited: float = 0.0, at: float = T0):
    return ServerCounts(requests=requests, errors=errors, rate_limited=rate_limited, at=at)


# -- judge: PASS ---------------------------------------------------------------------------------


def test_server_counting_exactly_what_the_client_sent_passes() -> None:
    result = judge(300, 2, 0, counts(1000, 5), counts(1300, 7, at=T1))
    assert result.outcome is Outcome.PASS
    assert result.reason == (
        "server counted 300 requests for the client's 300 and 2 5xx for the client's 2"
    )
    assert result.facts == {
        "client_requests_non_429": 300,
        "client_5xx": 2,
        "client_429": 0,
        "server_requests_non_429": 300,
        "server_5xx": 2,
        "server_429": 0,
        "client_transport_failures": 0,
        "client_failures": 2,
        "window": [T0, T1],
    }


def test_other_traffic_only_adds_to_the_server_side() -> None:
    # Someone else's requests (and errors) in the same window are never a disagreement.
    result = judge(300, 0, 0, counts(0), counts(450, 9, at=T1))
    assert result.outcome is Outcome.PASS, result.reason
    assert result.facts["server_requests_non_429"] == 450
    assert result.facts["server_5xx"] == 9


def test_429s_are_counted_apart_on_both_sides() -> None:
    # 100 answers of which 20 were the burst limiter's 429: the server's non-429 count is 80.
    result = judge(100, 0, 20, counts(500, 0, 10), counts(580, 0, 30, at=T1))
    assert result.outcome is Outcome.PASS, result.reason
    assert result.facts["client_requests_non_429"] == 80
    assert result.facts["client_429"] == 20
    assert result.facts["server_429"] == 20


@pytest.mark.parametrize("missing", range(SLACK + 1))
def test_a_shortfall_within_the_slack_passes(missing: int) -> None:
    # A counter increment may land a moment after the client has its answer.
    result = judge(200, 4, 0, counts(0), counts(200 - missing, 4 - missing, at=T1))
    assert result.outcome is Outcome.PASS, result.reason


# -- judge: FAIL ---------------------------------------------------------------------------------


def test_fewer_requests_on_the_server_is_a_blind_spot() -> None:
    result = judge(200, 0, 0, counts(1000), counts(1000 + 200 - SLACK - 1, at=T1))
    assert result.outcome is Outcome.FAIL
    assert result.reason.startswith("monitoring blind spot:")
    assert "the client got 200 answers but the server counted 197 requests" in result.reason


def test_fewer_5xx_on_the_server_is_a_blind_spot() -> None:
    # Every request counted, but 5xx recorded as successes: the error-rate gate would pass blind.
    result = judge(200, 10, 0, counts(0, 0), counts(200, 10 - SLACK - 1, at=T1))
    assert result.outcome is Outcome.FAIL
    assert result.reason.startswith("monitoring blind spot:")
    assert "the client saw 10 5xx answers but the server counted 7" in result.reason
    assert result.facts["client_5xx"] == 10
    assert result.facts["server_5xx"] == 7


def test_a_missing_request_is_reported_before_a_missing_error() -> None:
    result = judge(200, 50, 0, counts(0), counts(100, 0, at=T1))
    assert result.outcome is Outcome.FAIL
    assert "answers but the server counted 100 requests" in result.reason


def test_429s_do_not_hide_a_shortfall() -> None:
    # The server recorded the client's 429s as 429s but dropped 50 of its other answers.
    result = judge(250, 0, 50, counts(0), counts(150, 0, 50, at=T1))
    assert result.outcome is Outcome.FAIL
    assert "the client got 200 answers but the server counted 150" in result.reason


# -- judge: INCONCLUSIVE -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requests", "rate_limited"), [(0, 0), (40, 40)], ids=["nothing-sent", "all-429"]
)
def test_nothing_sent_decides_nothing(requests: int, rate_limited: int) -> None:
    result = judge(requests, 0, rate_limited, counts(10), counts(10 + requests, at=T1))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reason == "the client got no answer to compare"


def test_requests_that_got_no_answer_are_failures_the_server_cannot_count() -> None:
    # 300 answered as counted, and 12 timeouts or resets: the counter comparison holds, the
    # facts and the reason carry them (the error gates and gate.blind-spots count them).
    result = judge(300, 2, 0, counts(0, 0), counts(300, 2, at=T1), client_transport=12)
    assert result.outcome is Outcome.PASS, result.reason
    assert result.facts["client_transport_failures"] == 12
    assert result.facts["client_failures"] == 14
    assert "12 requests got no answer" in result.reason
    hung = judge(0, 0, 0, counts(0), counts(0, at=T1), client_transport=40)
    assert hung.outcome is Outcome.INCONCLUSIVE
    assert "40 requests got no answer" in hung.reason


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (counts(5000, 3), counts(120, 3, at=T1)),  # requests went backwards
        (counts(5000, 30), counts(5200, 1, at=T1)),  # errors went backwards
    ],
    ids=["requests", "errors"],
)
def test_a_counter_reset_decides_nothing(before: ServerCounts, after: ServerCounts) -> None:
    # A restarted server starts again from zero: no comparison holds across that.
    result = judge(200, 0, 0, before, after)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "counter went backwards" in result.reason


# -- Counter against a scripted Prometheus -------------------------------------------------------


def counter_router(
    sums: dict[str, float], scrapes: list[float]
) -> Any:  # the stand-in's Router type
    def route(path: str, params: dict[str, str]) -> tuple[int, Any]:
        if path != "/api/v1/query":
            return 404, {"status": "error"}
        query = params["query"]
        if query.startswith("max(timestamp(up"):
            if not scrapes:
                return vector()
            return vector(({}, scrapes.pop(0) if len(scrapes) > 1 else scrapes[0]))
        if query in sums:
            return vector(({}, sums[query]), at=float(params["time"]))
        return 400, {"status": "error", "error": f"unexpected query {query}"}

    return route


def test_counter_reads_the_three_sums_just_after_a_scrape(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = counter_router({REQUESTS: 1234, ERRORS: 5, RATE_LIMITED: 2}, [T0])
    counter = Counter(fake_prometheus.url)
    try:
        read = counter.read(counter.last_scrape())
    finally:
        counter.close()
    assert read == ServerCounts(requests=1234, errors=5, rate_limited=2, at=T0)
    times = {params["query"]: params.get("time") for _, params in fake_prometheus.requests}
    # Queried 1 ms after the scrape, so the instant vector holds that scrape's samples.
    assert times[REQUESTS] == times[ERRORS] == times[RATE_LIMITED] == f"{T0 + 0.001:.3f}"
    # The server's side excludes scrapes and health probes, exactly like the client's traffic.
    assert 'endpoint!~"/metrics.*|/health.*"' in REQUESTS
    assert 'status!="429"' in REQUESTS


def test_counter_waits_for_a_scrape_after_the_burst(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = counter_router({}, [T0, T0 + 1, T0 + 2, T1])
    counter = Counter(fake_prometheus.url)
    try:
        assert counter.scrape_after(T0 + 30) == T1
    finally:
        counter.close()


def test_counter_without_a_skillmeat_scrape_is_unavailable(
    fake_prometheus: FakePrometheus,
) -> None:
    fake_prometheus.router = counter_router({}, [])
    counter = Counter(fake_prometheus.url)
    try:
        with pytest.raises(PrometheusUnavailable, match="no scrape of the skillmeat job"):
            counter.last_scrape()
    finally:
        counter.close()


def test_counter_gives_up_when_no_scrape_follows(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = counter_router({}, [T0])
    counter = Counter(fake_prometheus.url)
    try:
        with pytest.raises(PrometheusUnavailable, match="no scrape after"):
            counter.scrape_after(T1, timeout_s=0.5)
    finally:
        counter.close()


def test_counter_reports_an_erroring_query(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = lambda path, params: (503, {"status": "error"})
    counter = Counter(fake_prometheus.url)
    try:
        with pytest.raises(PrometheusUnavailable, match="query answered 503"):
            counter.read(T0)
    finally:
        counter.close()


def test_counter_against_an_unreachable_prometheus_is_unavailable() -> None:
    # Not a transport exception escaping into the gate fixture: the comparison says why.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    counter = Counter(f"http://127.0.0.1:{port}", timeout_s=2.0)
    try:
        with pytest.raises(PrometheusUnavailable, match="ConnectError"):
            counter.last_scrape()
        with pytest.raises(PrometheusUnavailable, match="ConnectError"):
            counter.read(T0)
    finally:
        counter.close()
