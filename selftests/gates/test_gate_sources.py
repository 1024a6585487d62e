"""The Prometheus and Alertmanager sources against scripted HTTP answers.

What is checked: exact counter counting (a series born in the window counts from zero, a reset
restarts at zero), sub-windows, the histogram bucket lookup and its configuration error, explicit
times on every query, retries, and that an unreachable or erroring source gives INCONCLUSIVE with
the reason rather than an exception.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from conftest import Answer, FakePrometheus, matrix, targets, vector
from phasegate.gates.alertmanager import AlertmanagerClient
from phasegate.gates.evaluate import Window, evaluate
from phasegate.gates.prometheus import PrometheusSource, combine_alerts
from phasegate.gates.run import run_gates
from phasegate.gates.spec import load_catalog
from phasegate.outcomes import Outcome

CATALOG = load_catalog()
START = 1_800_000_000.0
END = START + 3600
WINDOW = Window(START, END)
TARGET = {"job": "skillmeat", "instance": "127.0.0.1:1"}


def healthy_freshness(path: str, params: dict[str, str]) -> Answer | None:
    """Answers for the freshness queries of a target scraped every second."""
    if path == "/api/v1/targets":
        return targets("1s")
    query = params.get("query", "")
    if path == "/api/v1/query":
        if query.startswith("up{"):
            return vector((TARGET, 1), at=END)
        if query.startswith("timestamp(up"):
            return vector((TARGET, END - 0.4), at=END)
        if query.startswith("count_over_time(up"):
            return vector((TARGET, 3600), at=END)
    return None


def series(labels: dict[str, str], *points: tuple[float, float]) -> Any:
    return ({**TARGET, **labels}, list(points))


def source(fake: FakePrometheus, delays: list[float] | None = None) -> PrometheusSource:
    sink = delays if delays is not None else []
    return PrometheusSource(fake.url, sleep=sink.append)


def test_counters_are_counted_exactly(fake_prometheus: FakePrometheus) -> None:
    ok = series({"status": "200"}, (START, 1000), (END, 4000))
    born = series({"status": "500"}, (END, 1))  # the first 5xx creates its series with value 1
    reset = series({"status": "201"}, (START, 500), (END, 20))  # restarted, counted 20 since

    def router(path: str, params: dict[str, str]) -> Answer:
        answer = healthy_freshness(path, params)
        if answer:
            return answer
        query = params["query"]
        assert path == "/api/v1/query_range"
        if 'status=~"5.."' in query:
            return matrix(born)
        return matrix(ok, born, reset)

    fake_prometheus.router = router
    obs = source(fake_prometheus).observe(CATALOG.get("error-rate"), WINDOW)
    assert obs.counts is not None
    assert (obs.counts.events, obs.counts.total) == (1, 3021)
    assert len(obs.parts) == 12  # one per 5-minute sub-window of the hour
    result = evaluate(CATALOG.get("error-rate"), obs)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "1 errors in 3,021 requests" in result.reason
    assert "exact counter increases" in result.query


def test_every_query_carries_explicit_times(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = lambda path, params: healthy_freshness(path, params) or matrix()
    source(fake_prometheus).observe(CATALOG.get("error-rate"), WINDOW)
    for path, params in fake_prometheus.requests:
        if path == "/api/v1/query":
            assert float(params["time"]) == END
        elif path == "/api/v1/query_range":
            assert (float(params["start"]), float(params["end"])) == (START, END)


def test_sub_windows_are_counted_separately(fake_prometheus: FakePrometheus) -> None:
    window = Window(START, START + 900)
    steps = [START, START + 300, START + 600, START + 900]
    total = series({"status": "200"}, *zip(steps, [0, 1000, 1000, 3000], strict=True))
    errors = series({"status": "500"}, (steps[2], 40), (steps[3], 40))

    def router(path: str, params: dict[str, str]) -> Answer:
        answer = healthy_freshness(path, params)
        if answer:
            return answer
        assert float(params["step"]) == 300
        return matrix(errors) if 'status=~"5.."' in params["query"] else matrix(total, errors)

    fake_prometheus.router = router
    obs = source(fake_prometheus).observe(CATALOG.get("error-rate"), window)
    assert [(p.events, p.total) for p in obs.parts] == [(0, 1000), (40, 40), (0, 2000)]
    assert obs.counts is not None and (obs.counts.events, obs.counts.total) == (40, 3040)
    result = evaluate(CATALOG.get("error-rate"), obs)
    assert result.outcome is Outcome.FAIL


def test_the_latency_gate_reads_the_half_second_bucket(fake_prometheus: FakePrometheus) -> None:
    les = ["0.25", "0.5", "1.0", "+Inf"]

    def router(path: str, params: dict[str, str]) -> Answer:
        answer = healthy_freshness(path, params)
        if answer:
            return answer
        query = params["query"]
        if query.startswith("count by (le)"):
            return vector(*(({"le": le}, 1) for le in les), at=END)
        if "_bucket{" in query:
            assert 'le="0.5"' in query
            return matrix(series({"le": "0.5"}, (START, 0), (END, 4990)))
        assert "_count{" in query
        return matrix(series({}, (START, 0), (END, 5000)))

    fake_prometheus.router = router
    obs = source(fake_prometheus).observe(CATALOG.get("latency-p95"), WINDOW)
    assert obs.counts is not None and (obs.counts.events, obs.counts.total) == (10, 5000)
    assert evaluate(CATALOG.get("latency-p95"), obs).outcome is Outcome.PASS


def test_a_histogram_without_the_threshold_bucket_is_a_configuration_error(
    fake_prometheus: FakePrometheus,
) -> None:
    def router(path: str, params: dict[str, str]) -> Answer:
        answer = healthy_freshness(path, params)
        if answer:
            return answer
        les = ["0.1", "0.25", "1.0", "2.5", "+Inf"]
        return vector(*(({"le": le}, 1) for le in les), at=END)

    fake_prometheus.router = router
    result = evaluate(
        CATALOG.get("latency-p95"),
        source(fake_prometheus).observe(CATALOG.get("latency-p95"), WINDOW),
    )
    assert result.outcome is Outcome.ERROR
    assert 'no le="0.5" bucket' in result.reason
    assert "nearest buckets le=0.25 and le=1.0" in result.reason


def test_a_histogram_with_no_series_is_no_data(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = lambda path, params: healthy_freshness(path, params) or vector()
    spec = CATALOG.get("context-pack-p95")
    result = evaluate(spec, source(fake_prometheus).observe(spec, WINDOW))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "has no series" in result.reason


def test_consecutive_errors_are_retried(fake_prometheus: FakePrometheus) -> None:
    failures = {"left": 2}

    def router(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/query" and failures["left"]:
            failures["left"] -= 1
            return 503, {"status": "error", "error": "overloaded"}
        return healthy_freshness(path, params) or matrix(series({}, (START, 0), (END, 10)))

    fake_prometheus.router = router
    delays: list[float] = []
    obs = source(fake_prometheus, delays).observe(CATALOG.get("error-rate"), WINDOW)
    assert obs.error is None
    assert delays == [0.5, 1.0]


def test_a_prometheus_that_keeps_failing_gives_inconclusive(
    fake_prometheus: FakePrometheus,
) -> None:
    fake_prometheus.router = lambda path, params: (500, {"status": "error"})
    delays: list[float] = []
    src = source(fake_prometheus, delays)
    results = [evaluate(spec, src.observe(spec, WINDOW)) for spec in CATALOG.for_phase("phase2")]
    assert all(r.outcome is Outcome.INCONCLUSIVE for r in results), [r.line() for r in results]
    assert "(3 attempts): HTTP 500" in results[0].reason
    # Given up once, the source does not wait through the retries again for every gate.
    assert delays == [0.5, 1.0]


def test_a_rejected_query_is_a_configuration_error(fake_prometheus: FakePrometheus) -> None:
    def router(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/query_range":
            return 400, {"status": "error", "errorType": "bad_data", "error": "parse error"}
        return healthy_freshness(path, params) or vector()

    fake_prometheus.router = router
    spec = CATALOG.get("memory-rss")
    result = evaluate(spec, source(fake_prometheus).observe(spec, WINDOW))
    assert result.outcome is Outcome.ERROR
    assert "Prometheus rejected" in result.reason
    assert "parse error" in result.reason


def test_gauge_points_and_several_series(fake_prometheus: FakePrometheus) -> None:
    one = series({"instance": "a"}, *[(START + i, 300e6) for i in range(0, 3600, 60)])
    two = series({"instance": "b"}, *[(START + i, 600e6) for i in range(0, 3600, 60)])

    def router(path: str, params: dict[str, str]) -> Answer:
        answer = healthy_freshness(path, params)
        if answer:
            return answer
        assert float(params["step"]) == 1.0  # the scrape interval
        return matrix(one, two)

    fake_prometheus.router = router
    spec = CATALOG.get("memory-rss")
    obs = source(fake_prometheus).observe(spec, WINDOW)
    assert obs.notes == ("2 series combined, the worst value at each step",)
    assert evaluate(spec, obs).outcome is Outcome.FAIL
    leak = CATALOG.get("memory-leak")
    assert evaluate(leak, source(fake_prometheus).observe(leak, WINDOW)).outcome is Outcome.ERROR


def test_a_target_that_is_down_blocks_a_pass(fake_prometheus: FakePrometheus) -> None:
    def router(path: str, params: dict[str, str]) -> Answer:
        if params.get("query", "").startswith("up{"):
            return vector((TARGET, 0), at=END)
        return healthy_freshness(path, params) or matrix(
            series({}, *[(START + i, 300e6) for i in range(0, 3600, 60)])
        )

    fake_prometheus.router = router
    spec = CATALOG.get("memory-rss")
    result = evaluate(spec, source(fake_prometheus).observe(spec, WINDOW))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "1 of 1 target(s) down" in result.reason


def test_no_target_for_the_selector(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = lambda path, params: (
        targets() if path == "/api/v1/targets" else vector()
    )
    spec = CATALOG.get("error-rate")
    result = evaluate(spec, source(fake_prometheus).observe(spec, WINDOW))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no scrape target matches" in result.reason


# -- alerts ---------------------------------------------------------------------------------------


def alert_rules(*severities: str) -> Answer:
    rules = [
        {"name": f"Rule{i}", "labels": {"severity": s}, "health": "ok", "type": "alerting"}
        for i, s in enumerate(severities)
    ]
    return 200, {"status": "success", "data": {"groups": [{"name": "g", "rules": rules}]}}


def alertmanager(answer: Any, status: int = 200) -> AlertmanagerClient:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["silenced"] == "true"
        assert request.url.params["inhibited"] == "true"
        return httpx.Response(status, json=answer)

    return AlertmanagerClient(
        "http://am.invalid", transport=httpx.MockTransport(handler), sleep=lambda s: None
    )


SILENCED_P0 = {
    "labels": {"alertname": "SkillMeatDown", "severity": "P0", "instance": "x"},
    "status": {"state": "suppressed", "silencedBy": ["abc-123"], "inhibitedBy": []},
    "startsAt": "2026-01-01T00:00:00Z",
}


def test_a_silenced_p0_in_alertmanager_fails_the_gate(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.router = lambda path, params: (
        alert_rules("P0", "P1") if path == "/api/v1/rules" else vector()
    )
    src = source(fake_prometheus)
    obs = combine_alerts(WINDOW, src.alert_history(WINDOW), alertmanager([SILENCED_P0]))
    result = evaluate(CATALOG.get("alerts-p0"), obs)
    assert result.outcome is Outcome.FAIL
    assert "SkillMeatDown [P0] suppressed (alertmanager) silenced by abc-123" in result.reason
    assert evaluate(CATALOG.get("alerts-p1"), obs).outcome is Outcome.PASS


def test_a_p0_that_fired_in_the_window_fails_even_if_resolved_now(
    fake_prometheus: FakePrometheus,
) -> None:
    def router(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/rules":
            return alert_rules("P0")
        assert params["query"].startswith('max_over_time(ALERTS{alertstate="firing"}[3600s])')
        return vector(({"alertname": "SkillMeatErrorRateCritical", "severity": "P0"}, 1), at=END)

    fake_prometheus.router = router
    obs = combine_alerts(WINDOW, source(fake_prometheus).alert_history(WINDOW), alertmanager([]))
    result = evaluate(CATALOG.get("alerts-p0"), obs)
    assert result.outcome is Outcome.FAIL
    assert "SkillMeatErrorRateCritical [P0] fired (prometheus)" in result.reason


def test_alertmanager_errors_are_retried_then_inconclusive() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502, text="bad gateway")

    client = AlertmanagerClient(
        "http://am.invalid", transport=httpx.MockTransport(handler), sleep=lambda s: None
    )
    alerts, error = client.active_alerts()
    assert alerts == ()
    assert error is not None and "(3 attempts): HTTP 502" in error
    assert len(calls) == 3
    obs = combine_alerts(WINDOW, None, client)
    result = evaluate(CATALOG.get("alerts-p0"), obs)
    assert result.outcome is Outcome.INCONCLUSIVE


def test_alertmanager_alerts_keep_severity_and_silence() -> None:
    p1 = {"labels": {"alertname": "Slow", "severity": "P1"}, "status": {"state": "active"}}
    alerts, error = alertmanager([SILENCED_P0, p1]).active_alerts()
    assert error is None
    assert [alert.severity for alert in alerts] == ["P0", "P1"]
    assert alerts[0].silenced_by == ("abc-123",)


def test_run_gates_with_nothing_reachable_never_raises() -> None:
    results = run_gates(
        "phase2",
        prometheus_url="http://127.0.0.1:9",
        alertmanager_url="http://127.0.0.1:9",
        window_s=600,
        attempts=1,
    )
    assert {r.id for r in results} == {s.id for s in CATALOG.for_phase("phase2")}
    assert all(r.outcome is Outcome.INCONCLUSIVE for r in results)


def test_run_gates_without_urls() -> None:
    results = run_gates("phase1", prometheus_url=None, ids=["error-rate", "alerts-p0"])
    assert [r.outcome for r in results] == [Outcome.INCONCLUSIVE, Outcome.INCONCLUSIVE]
    assert "no Prometheus URL given" in results[0].reason


@pytest.mark.parametrize("phase", ["phase1", "phase2", "phase3", "phase4"])
def test_run_gates_covers_the_phase(phase: str) -> None:
    results = run_gates(phase, prometheus_url=None)
    assert [r.id for r in results] == [s.id for s in CATALOG.for_phase(phase)]
