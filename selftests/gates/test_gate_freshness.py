"""Freshness is judged against the scrape interval Prometheus really uses, never a guess; and a
database-size gate with no series (the exporter could not read the file) is INCONCLUSIVE."""

from __future__ import annotations

from typing import Any

from conftest import Answer, FakePrometheus, matrix, targets, vector
from phasegate.gates.evaluate import Window, evaluate
from phasegate.gates.prometheus import PrometheusSource
from phasegate.gates.spec import load_catalog
from phasegate.outcomes import Outcome

CATALOG = load_catalog()
START = 1_800_000_000.0
END = START + 3600
WINDOW = Window(START, END)
TARGET = {"job": "skillmeat", "instance": "127.0.0.1:1"}
NO_INTERVAL = (
    200,
    {"status": "success", "data": {"activeTargets": [{"labels": TARGET, "health": "up"}]}},
)


def router_with(targets_answer: Answer, config_yaml: str | None = None, scrapes: int = 3600) -> Any:
    def route(path: str, params: dict[str, str]) -> Answer:
        if path == "/api/v1/targets":
            return targets_answer
        if path == "/api/v1/status/config":
            if config_yaml is None:
                return 500, {"status": "error", "error": "no config here"}
            return 200, {"status": "success", "data": {"yaml": config_yaml}}
        query = params.get("query", "")
        if query.startswith("up{"):
            return vector((TARGET, 1), at=END)
        if query.startswith("timestamp(up"):
            return vector((TARGET, END - 0.4), at=END)
        if query.startswith("count_over_time(up"):
            return vector((TARGET, scrapes), at=END)
        return matrix()

    return route


def observe(fake: FakePrometheus, gate: str = "error-rate") -> Any:
    source = PrometheusSource(fake.url, attempts=1, sleep=lambda s: None)
    return source.observe(CATALOG.get(gate), WINDOW)


def test_a_non_default_interval_is_read_from_the_targets(fake_prometheus: FakePrometheus) -> None:
    # 500 scrapes in an hour are complete at 7 s (514 expected, 80% needed).
    fake_prometheus.router = router_with(targets("7s"), scrapes=500)
    obs = observe(fake_prometheus)
    assert obs.freshness is not None
    assert obs.freshness.scrape_interval_s == 7.0
    assert round(obs.freshness.expected_scrapes) == round(3600 / 7)
    assert obs.freshness.problems() == ()
    assert ("/api/v1/targets", {"state": "active"}) in fake_prometheus.requests


def test_the_real_interval_exposes_missing_scrapes_a_15_s_guess_would_hide(
    fake_prometheus: FakePrometheus,
) -> None:
    # Scraped every 2 s, the hour should hold 1,800 scrapes; it holds 240 (a 15 s guess would
    # have expected exactly 240 and called the data complete).
    fake_prometheus.router = router_with(targets("2s"), scrapes=240)
    obs = observe(fake_prometheus)
    assert obs.freshness is not None
    [problem] = obs.freshness.problems()
    assert "240 scrapes of ~1800 expected at 2 s" in problem


def test_without_scrape_interval_in_targets_the_configuration_is_read(
    fake_prometheus: FakePrometheus,
) -> None:
    config = (
        "global:\n  scrape_interval: 5s\nscrape_configs:\n"
        "- job_name: other\n  scrape_interval: 1m\n"
        "- job_name: skillmeat\n  scrape_interval: 3s\n"
    )
    fake_prometheus.router = router_with(NO_INTERVAL, config)
    obs = observe(fake_prometheus)
    assert obs.freshness is not None and obs.freshness.scrape_interval_s == 3.0
    fake_prometheus.router = router_with(NO_INTERVAL, "global:\n  scrape_interval: 5s\n")
    obs = observe(fake_prometheus)
    assert obs.freshness is not None and obs.freshness.scrape_interval_s == 5.0


def test_an_unknown_scrape_interval_is_inconclusive_not_a_fallback(
    fake_prometheus: FakePrometheus,
) -> None:
    fake_prometheus.router = router_with(NO_INTERVAL, None)
    obs = observe(fake_prometheus)
    assert obs.freshness is None and obs.error
    result = evaluate(CATALOG.get("error-rate"), obs)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "scrape interval" in result.reason and "cannot be read" in result.reason


def test_a_database_size_with_no_series_is_inconclusive(fake_prometheus: FakePrometheus) -> None:
    """What Prometheus answers when the exporter published no sample for an unreadable file."""
    fake_prometheus.router = router_with(targets("1s"))
    obs = observe(fake_prometheus, "db-growth")
    assert obs.points == ()
    result = evaluate(CATALOG.get("db-growth"), obs)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no data" in result.reason and "no samples" in result.reason
    # The same gate over a flat line of zeros (what the exporter used to send) would pass.
    flat = obs.__class__(
        query=obs.query,
        window=WINDOW,
        points=tuple((START + i * 60.0, 0.0) for i in range(61)),
        step_s=60.0,
        freshness=obs.freshness,
    )
    assert evaluate(CATALOG.get("db-growth"), flat).outcome is Outcome.PASS
