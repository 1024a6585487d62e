"""evaluate(): the gate math on synthetic observations.

Boundaries, tiny samples, empty and NaN data, stale data, and for every catalog gate a violating
observation that must FAIL and a thin one that must be INCONCLUSIVE.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.gates import stats
from phasegate.gates.evaluate import (
    Alert,
    AlertEvidence,
    Counts,
    Freshness,
    GateResult,
    Observation,
    Window,
    evaluate,
    fmt,
)
from phasegate.gates.spec import GateKind, GateSpec, NoData, load_catalog
from phasegate.outcomes import Outcome

CATALOG = load_catalog()
T0 = 1_800_000_000.0
WINDOW = Window(T0, T0 + 3600)
MIB = 1024 * 1024


def fresh(**changes: object) -> Freshness:
    base = Freshness(
        selector='job="skillmeat"',
        targets=1,
        targets_up=1,
        scrapes=3600,
        expected_scrapes=3600,
        last_scrape_age_s=0.5,
        scrape_interval_s=1.0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def counts_obs(k: float, n: float, **changes: object) -> Observation:
    obs = Observation(
        query="q", window=WINDOW, counts=Counts(k, n, WINDOW.start, WINDOW.end), freshness=fresh()
    )
    return replace(obs, **changes)  # type: ignore[arg-type]


def series_obs(values: list[float], step: float = 15.0, **changes: object) -> Observation:
    points = tuple((T0 + i * step, v) for i, v in enumerate(values))
    obs = Observation(query="q", window=WINDOW, points=points, step_s=step, freshness=fresh())
    return replace(obs, **changes)  # type: ignore[arg-type]


def alerts_obs(*alerts: Alert, rules: dict[str, int] | None = None, **errors: str) -> Observation:
    evidence = AlertEvidence(
        alerts=alerts,
        rules={"P0": 2, "P1": 4} if rules is None else rules,
        alertmanager_error=errors.get("am"),
        prometheus_error=errors.get("prom"),
    )
    return Observation(query="alerts", window=WINDOW, alerts=evidence)


ERROR_RATE = CATALOG.get("error-rate")
LATENCY = CATALOG.get("latency-p95")


# -- ratio: the plan's numbers ------------------------------------------------------------------


DESIGN_N = 3922  # gates.design.fixed_design(0.001): 90% power at 0.3%, alpha 5%


def test_the_designs_clean_sample_passes_the_error_rate_gate() -> None:
    result = evaluate(ERROR_RATE, counts_obs(0, DESIGN_N))
    assert result.outcome is Outcome.PASS
    assert result.bound is not None and result.bound < 0.001
    assert result.samples == DESIGN_N
    assert result.more_needed == 0
    assert "[fixed design n=3,922 (alpha 0.05, beta 0.1 at 3x the threshold)]" in result.reason


def test_the_error_rate_evidence_carries_the_design() -> None:
    result = evaluate(ERROR_RATE, counts_obs(0, DESIGN_N))
    design = result.to_dict()["details"]["design"]
    assert design["design"] == "fixed-sample"
    assert (design["n"], design["alpha"], design["beta"], design["effect"]) == (
        DESIGN_N,
        0.05,
        0.1,
        3.0,
    )
    assert design["false_go"] <= 0.05 and design["power"] >= 0.9
    assert design["pass_max_k"] == 0 and design["fail_min_k"] == 8
    assert "upper bound < threshold" in design["rule"]


def test_a_clean_sample_short_of_the_design_does_not_pass() -> None:
    # 2,995 clean requests clear the bound, but a PASS before the fixed n would let whoever
    # looks early and often collect a GO: below the design's n there is no PASS.
    result = evaluate(ERROR_RATE, counts_obs(0, 2995))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.bound is not None and result.bound < 0.001
    assert result.more_needed == DESIGN_N - 2995
    assert "927 more requests, whatever their outcome, complete the design's sample" in (
        result.reason
    )


def test_errors_do_not_change_how_many_more_the_design_needs() -> None:
    clean = evaluate(ERROR_RATE, counts_obs(0, 300))
    errors = evaluate(ERROR_RATE, counts_obs(1, 300))
    assert clean.outcome is errors.outcome is Outcome.INCONCLUSIVE
    assert clean.more_needed == errors.more_needed == DESIGN_N - 300
    assert "3,622 more requests, whatever their outcome" in errors.reason


def test_10000_requests_allow_4_errors_but_not_5() -> None:
    assert evaluate(ERROR_RATE, counts_obs(4, 10_000)).outcome is Outcome.PASS
    five = evaluate(ERROR_RATE, counts_obs(5, 10_000))
    assert five.outcome is Outcome.INCONCLUSIVE
    # A complete, undecided sample names no number of further requests: that would be
    # optional stopping.
    assert five.more_needed is None
    assert "optional stopping" in five.reason


def test_error_rate_fails_when_the_lower_bound_breaks_it() -> None:
    result = evaluate(ERROR_RATE, counts_obs(30, 10_000))
    assert result.outcome is Outcome.FAIL
    assert result.bound == pytest.approx(stats.lower_bound(30, 10_000))
    assert result.bound is not None and result.bound >= 0.001
    assert "lower bound" in result.reason


def test_a_proven_failure_fails_before_the_designs_n() -> None:
    result = evaluate(ERROR_RATE, counts_obs(12, 1000))
    assert result.outcome is Outcome.FAIL
    assert result.details["design"]["n"] == DESIGN_N


def test_below_min_samples_nothing_is_decided() -> None:
    result = evaluate(ERROR_RATE, counts_obs(20, 40))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "min_samples=100" in result.reason


def test_latency_gate_judges_the_share_above_half_a_second() -> None:
    assert evaluate(LATENCY, counts_obs(0, 59)).outcome is Outcome.INCONCLUSIVE  # < min_samples
    assert evaluate(LATENCY, counts_obs(0, 100)).outcome is Outcome.PASS
    assert evaluate(LATENCY, counts_obs(0, 100)).details["design"]["n"] == 77
    assert evaluate(LATENCY, counts_obs(7, 100)).outcome is Outcome.INCONCLUSIVE
    fail = evaluate(LATENCY, counts_obs(30, 200))
    assert fail.outcome is Outcome.FAIL
    assert "requests slower than 0.5 s" in fail.reason


def test_a_sub_window_that_breaks_the_threshold_fails_the_whole_window() -> None:
    # 10 errors in 20,000 requests pass overall, but all 10 came in one 5-minute stretch.
    parts = [Counts(0, 200, T0 + i * 36, T0 + (i + 1) * 36) for i in range(100)]
    parts[42] = Counts(10, 200, T0 + 42 * 36, T0 + 43 * 36)
    overall = evaluate(ERROR_RATE, counts_obs(10, 20_000))
    assert overall.outcome is Outcome.PASS
    result = evaluate(ERROR_RATE, counts_obs(10, 20_000, parts=tuple(parts)))
    assert result.outcome is Outcome.FAIL
    assert "1 sub-window(s) broke the threshold" in result.reason
    assert result.details["failing_parts"][0]["events"] == 10


def test_one_error_in_a_quiet_sub_window_does_not_fail_it() -> None:
    parts = [Counts(0, 200, T0 + i, T0 + i + 1) for i in range(99)] + [Counts(1, 200, T0, T0 + 1)]
    result = evaluate(ERROR_RATE, counts_obs(1, 20_000, parts=tuple(parts)))
    assert result.outcome is Outcome.PASS


# -- missing, empty, NaN, stale --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "why"),
    [
        (None, "returned no series"),
        (Counts(math.nan, 100), "NaN"),
        (Counts(0, math.nan), "NaN"),
        (Counts(0, math.inf), "infinite"),
        (Counts(0, 0), "no requests"),
        (Counts(-1, 10), "negative"),
        (Counts(50, 10), "inconsistent"),
    ],
)
def test_missing_or_broken_counts_never_pass(counts: Counts | None, why: str) -> None:
    result = evaluate(ERROR_RATE, counts_obs(0, 1, counts=counts))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert why in result.reason
    assert result.reason.startswith("no data")


def test_no_data_policy_fail() -> None:
    spec = replace(ERROR_RATE, no_data=NoData.FAIL)
    result = evaluate(spec, counts_obs(0, 0))
    assert result.outcome is Outcome.FAIL
    assert "no_data policy: fail" in result.reason


def test_an_unreachable_source_is_inconclusive_with_its_reason() -> None:
    obs = Observation(query="q", window=WINDOW, error="Prometheus at x did not answer")
    for spec in CATALOG.specs:
        if spec.kind is GateKind.ALERTS:
            continue
        result = evaluate(spec, obs)
        assert result.outcome is Outcome.INCONCLUSIVE
        assert "did not answer" in result.reason


def test_a_configuration_error_is_reported_as_such() -> None:
    obs = Observation(query="q", window=WINDOW, config_error='no le="0.5" bucket')
    result = evaluate(LATENCY, obs)
    assert result.outcome is Outcome.ERROR
    assert result.reason == 'configuration error: no le="0.5" bucket'


@pytest.mark.parametrize(
    ("freshness", "problem"),
    [
        (fresh(targets=0, targets_up=0), "no scrape target matches"),
        (fresh(targets_up=0), "target(s) down"),
        (fresh(last_scrape_age_s=60.0), "last scrape 60.0 s before the end"),
        (fresh(last_scrape_age_s=None), "no scrape within the lookback"),
        (fresh(scrapes=1000), "holds 1000 scrapes of ~3600 expected"),
    ],
)
def test_stale_data_never_passes(freshness: Freshness, problem: str) -> None:
    result = evaluate(ERROR_RATE, counts_obs(0, 5000, freshness=freshness))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert problem in result.reason
    assert "so no PASS" in result.reason


def test_a_violation_seen_in_stale_data_still_fails() -> None:
    result = evaluate(ERROR_RATE, counts_obs(100, 5000, freshness=fresh(targets_up=0)))
    assert result.outcome is Outcome.FAIL
    assert "the data is also incomplete" in result.reason


# -- gauges ---------------------------------------------------------------------------------------

MEMORY = CATALOG.get("memory-rss")
CPU = CATALOG.get("cpu")


def test_memory_gauge_passes_when_every_sample_is_under() -> None:
    result = evaluate(MEMORY, series_obs([300 * MIB] * 20))
    assert result.outcome is Outcome.PASS
    assert result.observed == 300 * MIB
    assert "300.0 MiB" in result.reason


def test_memory_gauge_fails_on_one_sample_over() -> None:
    result = evaluate(MEMORY, series_obs([300 * MIB] * 19 + [513 * MIB]))
    assert result.outcome is Outcome.FAIL
    assert result.observed == 513 * MIB


def test_cpu_peak_shorter_than_five_minutes_is_allowed() -> None:
    values = [0.3] * 20 + [0.95] * 12 + [0.3] * 20  # 12 x 15 s = 3 minutes
    result = evaluate(CPU, series_obs(values))
    assert result.outcome is Outcome.PASS
    assert "shorter than 5m allowed" in result.reason


def test_cpu_sustained_five_minutes_fails() -> None:
    values = [0.3] * 20 + [0.95] * 21 + [0.3] * 5  # 21 x 15 s > 5 minutes
    result = evaluate(CPU, series_obs(values))
    assert result.outcome is Outcome.FAIL
    assert "for 5m15s" in result.reason


def test_a_gap_splits_a_breach() -> None:
    points = tuple((T0 + i * 15, 0.95) for i in range(12)) + tuple(
        (T0 + 600 + i * 15, 0.95) for i in range(12)
    )
    obs = Observation(query="q", window=WINDOW, points=points, step_s=15, freshness=fresh())
    assert evaluate(CPU, obs).outcome is Outcome.PASS


def test_a_gauge_window_shorter_than_its_min_span_is_inconclusive() -> None:
    result = evaluate(CPU, series_obs([0.2] * 15))  # 14 x 15 s = 3.5 minutes < 5m
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "at least 5m" in result.reason


def test_gauge_nan_and_empty() -> None:
    assert evaluate(MEMORY, series_obs([])).outcome is Outcome.INCONCLUSIVE
    all_nan = evaluate(MEMORY, series_obs([math.nan] * 20))
    assert all_nan.outcome is Outcome.INCONCLUSIVE
    assert "all 20 samples were NaN" in all_nan.reason
    some_nan = evaluate(MEMORY, series_obs([300 * MIB] * 20 + [math.nan]))
    assert some_nan.outcome is Outcome.PASS
    assert "1 NaN sample(s) ignored" in some_nan.reason


def test_lower_limit_gauge() -> None:
    spec = GateSpec(
        id="up",
        title="up",
        phases=("phase1",),
        kind=GateKind.GAUGE,
        threshold=1,
        comparator=">=",
        query="min(up)",
    ).validate()
    assert evaluate(spec, series_obs([1.0] * 5)).outcome is Outcome.PASS
    assert evaluate(spec, series_obs([1.0, 0.0, 1.0])).outcome is Outcome.FAIL


# -- slopes ---------------------------------------------------------------------------------------

LEAK = CATALOG.get("memory-leak")
DB = CATALOG.get("db-growth")


def hourly_series(per_hour: float, hours: float = 2.0, noise: float = 0.0) -> Observation:
    step = 60.0
    n = int(hours * 3600 / step)
    values = [
        300 * MIB + per_hour * i * step / 3600 + (noise if i % 2 else -noise) for i in range(n)
    ]
    return series_obs(values, step=step)


def test_stable_memory_passes_the_leak_gate() -> None:
    result = evaluate(LEAK, hourly_series(0.0, noise=2 * MIB))
    assert result.outcome is Outcome.PASS
    assert result.bound is not None and result.bound < 5 * MIB


def test_steady_growth_fails_the_leak_gate() -> None:
    result = evaluate(LEAK, hourly_series(50 * MIB, noise=1 * MIB))
    assert result.outcome is Outcome.FAIL
    assert result.observed == pytest.approx(50 * MIB, rel=0.01)


def test_growth_near_the_limit_with_noise_is_inconclusive() -> None:
    result = evaluate(LEAK, hourly_series(5 * MIB, hours=1.2, noise=20 * MIB))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "straddle" in result.reason


def test_a_short_window_cannot_show_a_leak() -> None:
    result = evaluate(LEAK, series_obs([300 * MIB + i * MIB for i in range(100)], step=1.0))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "at least 1h" in result.reason


def test_db_growth_is_judged_per_day() -> None:
    result = evaluate(DB, hourly_series(1 * MIB))  # 24 MiB a day
    assert result.outcome is Outcome.FAIL
    assert "MiB/day" in result.reason
    assert evaluate(DB, hourly_series(0.1 * MIB)).outcome is Outcome.PASS


def test_slope_with_all_samples_at_one_time_is_inconclusive() -> None:
    obs = Observation(
        query="q", window=WINDOW, points=((T0, 1.0), (T0, 2.0), (T0, 3.0)), freshness=fresh()
    )
    assert evaluate(LEAK, obs).outcome is Outcome.INCONCLUSIVE


# -- alerts ---------------------------------------------------------------------------------------

P0 = CATALOG.get("alerts-p0")
P1 = CATALOG.get("alerts-p1")


def alert(name: str, severity: str, **kw: object) -> Alert:
    return Alert(name=name, severity=severity, state="active", source="alertmanager", **kw)  # type: ignore[arg-type]


def test_no_alerts_with_rules_loaded_pass() -> None:
    result = evaluate(P0, alerts_obs())
    assert result.outcome is Outcome.PASS
    assert "2 P0 rule(s) loaded" in result.reason


def test_a_silenced_p0_still_fails() -> None:
    silenced = alert("SkillMeatDown", "P0", silenced_by=("silence-1",))
    silenced = replace(silenced, state="suppressed")
    result = evaluate(P0, alerts_obs(silenced))
    assert result.outcome is Outcome.FAIL
    assert "silenced by silence-1" in result.reason


def test_a_p0_that_fired_earlier_in_the_window_fails() -> None:
    fired = Alert("SkillMeatErrorRateCritical", "P0", "fired", "prometheus")
    assert evaluate(P0, alerts_obs(fired)).outcome is Outcome.FAIL


def test_p1_alerts_fail_only_the_p1_gate() -> None:
    obs = alerts_obs(alert("SkillMeatLatencyP95High", "P1"))
    assert evaluate(P0, obs).outcome is Outcome.PASS
    p1 = evaluate(P1, obs)
    assert p1.outcome is Outcome.FAIL
    assert not p1.blocking


def test_alertmanager_unreachable_is_inconclusive() -> None:
    result = evaluate(P0, alerts_obs(am="connection refused"))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "Alertmanager unreachable or erroring: connection refused" in result.reason


def test_a_p0_seen_by_prometheus_fails_even_when_alertmanager_is_down() -> None:
    fired = Alert("SkillMeatDown", "P0", "fired", "prometheus")
    assert evaluate(P0, alerts_obs(fired, am="connection refused")).outcome is Outcome.FAIL


def test_no_p0_rule_loaded_means_an_empty_list_proves_nothing() -> None:
    result = evaluate(P0, alerts_obs(rules={"P1": 3}))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "no alerting rule with severity P0" in result.reason


def test_rules_that_fail_to_evaluate_are_inconclusive() -> None:
    obs = alerts_obs()
    assert obs.alerts is not None
    obs = replace(obs, alerts=replace(obs.alerts, unhealthy_rules=("SkillMeatDown: bad",)))
    assert evaluate(P0, obs).outcome is Outcome.INCONCLUSIVE


def test_no_alert_source_at_all() -> None:
    assert evaluate(P0, Observation(window=WINDOW)).outcome is Outcome.INCONCLUSIVE


# -- baselines ------------------------------------------------------------------------------------

BASE_ERRORS = CATALOG.get("baseline-error-rate")
BASE_LATENCY = CATALOG.get("baseline-latency")


def baseline_obs(k1: float, n1: float, k0: float, n0: float) -> Observation:
    return counts_obs(k1, n1, baseline=Counts(k0, n0), baseline_window=WINDOW.before())


def test_same_error_rate_as_baseline_passes() -> None:
    result = evaluate(BASE_ERRORS, baseline_obs(100, 1_000_000, 100, 1_000_000))
    assert result.outcome is Outcome.PASS
    assert result.details["baseline"]["rate"] == pytest.approx(1e-4)
    assert result.details["window"]["rate"] == pytest.approx(1e-4)


def test_a_clear_increase_from_baseline_fails_and_shows_both_values() -> None:
    result = evaluate(BASE_ERRORS, baseline_obs(60, 10_000, 10, 10_000))
    assert result.outcome is Outcome.FAIL
    assert "window 60/10,000" in result.reason
    assert "baseline 10/10,000" in result.reason


def test_no_errors_anywhere_pass_through_the_floor() -> None:
    result = evaluate(BASE_ERRORS, baseline_obs(0, 5000, 0, 5000))
    assert result.outcome is Outcome.PASS
    assert "provably" not in result.reason  # worded as "under 0.100%"
    assert "under 0.100%" in result.reason


def test_thin_baseline_comparison_is_inconclusive() -> None:
    result = evaluate(BASE_ERRORS, baseline_obs(2, 500, 1, 500))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.more_needed is not None and result.more_needed > 0


def test_missing_baseline_is_inconclusive() -> None:
    result = evaluate(BASE_ERRORS, counts_obs(0, 5000))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert "baseline queries returned no series" in result.reason


def test_latency_increase_from_baseline() -> None:
    assert evaluate(BASE_LATENCY, baseline_obs(60, 1000, 50, 1000)).outcome is Outcome.INCONCLUSIVE
    assert evaluate(BASE_LATENCY, baseline_obs(50, 1000, 50, 1000)).outcome is Outcome.PASS
    assert evaluate(BASE_LATENCY, baseline_obs(300, 1000, 50, 1000)).outcome is Outcome.FAIL
    assert evaluate(BASE_LATENCY, baseline_obs(5, 5000, 5, 5000)).outcome is Outcome.PASS


# -- every catalog gate ---------------------------------------------------------------------------


def violating(spec: GateSpec) -> Observation:
    if spec.kind in (GateKind.RATIO, GateKind.SLOW_SHARE):
        return counts_obs(spec.threshold * 10_000 * 3, 10_000)
    if spec.kind.baseline:
        return baseline_obs(600, 10_000, 100, 10_000)
    if spec.kind is GateKind.GAUGE:
        return series_obs([spec.threshold * 1.1] * 60)
    if spec.kind is GateKind.SLOPE:
        per_hour = spec.threshold * 3 / (24 if spec.per == "day" else 1)
        return hourly_series(per_hour)
    severity = spec.severities[0]
    return alerts_obs(alert("Violation", severity))


def thin(spec: GateSpec) -> Observation:
    if spec.kind in (GateKind.RATIO, GateKind.SLOW_SHARE):
        return counts_obs(0, spec.min_samples - 1)
    if spec.kind.baseline:
        return baseline_obs(0, 50, 0, 50)
    if spec.kind is GateKind.GAUGE:
        return series_obs([spec.threshold * 0.5] * 2, step=1.0)
    if spec.kind is GateKind.SLOPE:
        return series_obs([1.0, 1.0, 1.0, 1.0], step=1.0)
    return alerts_obs(am="Alertmanager did not answer")


def healthy(spec: GateSpec) -> Observation:
    if spec.kind in (GateKind.RATIO, GateKind.SLOW_SHARE):
        return counts_obs(0, 100_000)
    if spec.kind.baseline:
        return baseline_obs(1, 100_000, 1, 100_000)
    if spec.kind is GateKind.GAUGE:
        return series_obs([spec.threshold * 0.5] * 60, step=15.0)
    if spec.kind is GateKind.SLOPE:
        return hourly_series(0.0, hours=3, noise=1000.0)
    return alerts_obs()


@pytest.mark.parametrize("spec", CATALOG.specs, ids=CATALOG.ids)
def test_every_catalog_gate_fails_on_a_violation(spec: GateSpec) -> None:
    result = evaluate(spec, violating(spec))
    assert result.outcome is Outcome.FAIL, result.reason


@pytest.mark.parametrize("spec", CATALOG.specs, ids=CATALOG.ids)
def test_every_catalog_gate_is_inconclusive_on_thin_data(spec: GateSpec) -> None:
    result = evaluate(spec, thin(spec))
    assert result.outcome is Outcome.INCONCLUSIVE, result.reason


@pytest.mark.parametrize("spec", CATALOG.specs, ids=CATALOG.ids)
def test_every_catalog_gate_passes_on_healthy_data(spec: GateSpec) -> None:
    result = evaluate(spec, healthy(spec))
    assert result.outcome is Outcome.PASS, result.reason


@pytest.mark.parametrize("spec", CATALOG.specs, ids=CATALOG.ids)
def test_every_catalog_gate_never_passes_on_nothing(spec: GateSpec) -> None:
    result = evaluate(spec, Observation(window=WINDOW))
    assert result.outcome is not Outcome.PASS


@pytest.mark.parametrize("spec", CATALOG.specs, ids=CATALOG.ids)
def test_every_result_carries_its_evidence_as_json(spec: GateSpec) -> None:
    result = evaluate(spec, violating(spec))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    for key in ("observed", "threshold", "samples", "query", "window", "reason", "plan"):
        assert key in data
    assert data["window"]["duration"] == "1h"


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 100_000).flatmap(lambda n: st.tuples(st.integers(0, min(n, 200)), st.just(n)))
)
def test_ratio_outcome_agrees_with_its_bounds(kn: tuple[int, int]) -> None:
    k, n = kn
    result = evaluate(ERROR_RATE, counts_obs(k, n))
    if result.outcome is Outcome.PASS:
        assert n >= max(ERROR_RATE.min_samples, DESIGN_N)
        assert stats.upper_bound(k, n) < ERROR_RATE.threshold
    elif result.outcome is Outcome.FAIL:
        assert stats.lower_bound(k, n) >= ERROR_RATE.threshold
    else:
        assert result.outcome is Outcome.INCONCLUSIVE
        assert n < max(ERROR_RATE.min_samples, DESIGN_N) or (
            stats.lower_bound(k, n) < ERROR_RATE.threshold <= stats.upper_bound(k, n)
        )


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(CATALOG.specs),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=30),
)
def test_non_finite_or_stale_data_never_passes(spec: GateSpec, values: list[float]) -> None:
    stale = fresh(targets_up=0)
    if spec.kind is GateKind.ALERTS:
        obs = alerts_obs(am="down")
    elif spec.kind.counts:
        obs = counts_obs(math.nan, values[0] if values else math.nan, freshness=stale)
    else:
        obs = series_obs(values, freshness=stale)
    assert evaluate(spec, obs).outcome is not Outcome.PASS


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1e12, allow_nan=False), st.sampled_from(["ratio", "bytes", "cores", "x"]))
def test_fmt_never_raises(value: float, unit: str) -> None:
    assert fmt(value, unit)
    assert fmt(None, unit) == "n/a"


def test_result_type() -> None:
    assert isinstance(evaluate(ERROR_RATE, counts_obs(0, 10)), GateResult)
