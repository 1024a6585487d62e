"""The statistics behind the gates, checked against closed forms and direct summation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.gates import stats


def direct_cdf(k: int, n: int, p: float) -> float:
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def test_rule_of_three_2995_requests_without_error_pass_a_0_1_percent_gate() -> None:
    assert stats.upper_bound(0, 2995) < 0.001
    assert stats.upper_bound(0, 2994) >= 0.001
    # The rule of three (3 / n) is the approximation of exactly this bound.
    assert stats.upper_bound(0, 2995) == pytest.approx(3 / 2995, rel=2e-3)
    assert stats.requests_to_pass(0, 0, 0.001) == 2995


def test_at_10000_requests_at_most_4_errors_still_pass() -> None:
    assert stats.upper_bound(4, 10_000) < 0.001
    assert stats.upper_bound(5, 10_000) >= 0.001
    assert stats.requests_to_pass(4, 10_000, 0.001) == 0
    assert stats.requests_to_pass(5, 10_000, 0.001) > 0


def test_zero_failures_upper_bound_has_a_closed_form() -> None:
    for n in (1, 10, 299, 2995, 10**6):
        assert stats.upper_bound(0, n) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-9)


def test_degenerate_counts() -> None:
    assert stats.upper_bound(0, 0) == 1.0
    assert stats.lower_bound(0, 0) == 0.0
    assert stats.upper_bound(7, 7) == 1.0
    assert stats.lower_bound(7, 7) == pytest.approx(0.05 ** (1 / 7))
    assert stats.lower_bound(0, 50) == 0.0


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_impossible_counts_are_rejected(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.upper_bound(k, n)


@pytest.mark.parametrize("confidence", [0.3, 1.0, 1.5])
def test_confidence_out_of_range_is_rejected(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        stats.lower_bound(1, 10, confidence)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 80).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_bounds_solve_the_binomial_tail_equations(kn: tuple[int, int]) -> None:
    k, n = kn
    hi, lo = stats.upper_bound(k, n), stats.lower_bound(k, n)
    assert lo <= k / n <= hi
    if k < n:
        assert direct_cdf(k, n, hi) == pytest.approx(0.05, abs=1e-7)
    if k > 0:
        assert 1 - direct_cdf(k - 1, n, lo) == pytest.approx(0.05, abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 50), st.integers(1, 5000))
def test_upper_bound_falls_with_more_clean_requests_and_rises_with_failures(k: int, n: int) -> None:
    n = max(n, k + 1)
    assert stats.upper_bound(k, n + 1) <= stats.upper_bound(k, n)
    assert stats.upper_bound(k + 1, n + 1) >= stats.upper_bound(k, n + 1)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(0, 20_000), st.sampled_from([0.001, 0.01, 0.05]))
def test_requests_to_pass_is_the_smallest_number_that_passes(k: int, n: int, t: float) -> None:
    n = max(n, k)
    needed = stats.requests_to_pass(k, n, t)
    assert needed is not None
    assert stats.upper_bound(k, n + needed) < t
    if needed > 0:
        assert stats.upper_bound(k, n + needed - 1) >= t


def test_requests_to_pass_edges() -> None:
    assert stats.requests_to_pass(3, 10, 0.0) is None
    assert stats.requests_to_pass(3, 10, 1.0) == 0


@pytest.mark.parametrize(
    ("a", "b", "x", "expected"),
    [
        (1.0, 1.0, 0.3, 0.3),
        (3.0, 1.0, 0.5, 0.125),
        (1.0, 3.0, 0.5, 1 - 0.125),
        (2.0, 2.0, 0.5, 0.5),
        (0.5, 0.5, 0.5, 0.5),
    ],
)
def test_betainc_known_values(a: float, b: float, x: float, expected: float) -> None:
    assert stats.betainc(a, b, x) == pytest.approx(expected, abs=1e-12)


@given(st.floats(0.1, 200), st.floats(0.1, 200), st.floats(0.001, 0.999))
def test_betainc_symmetry(a: float, b: float, x: float) -> None:
    assert stats.betainc(a, b, x) == pytest.approx(1 - stats.betainc(b, a, 1 - x), abs=1e-9)


def test_betainc_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="a, b > 0"):
        stats.betainc(0, 1, 0.5)
    with pytest.raises(ValueError, match="0 <= x <= 1"):
        stats.betainc(1, 1, 1.5)


def test_large_counts_are_fast_and_consistent() -> None:
    hi = stats.upper_bound(1000, 10_000_000)
    lo = stats.lower_bound(1000, 10_000_000)
    assert lo < 1e-4 < hi
    # Normal approximation of the Poisson count: 1000 +/- 1.645 * sqrt(1000)
    assert hi * 1e7 == pytest.approx(1000 + 1.645 * math.sqrt(1000), rel=0.01)


def test_compare_rates_equal_rates_are_not_an_increase() -> None:
    result = stats.compare_rates(20, 10_000, 20, 10_000, margin=1.0)
    assert result.ratio == pytest.approx(1.0)
    assert result.ratio_lower < 1.0 < result.ratio_upper
    assert result.p_value > 0.4


def test_compare_rates_detects_a_doubling_with_enough_events() -> None:
    result = stats.compare_rates(200, 10_000, 100, 10_000, margin=1.0)
    assert result.ratio == pytest.approx(2.0)
    assert result.ratio_lower > 1.5
    assert result.p_value < 1e-6


def test_compare_rates_accounts_for_exposure() -> None:
    # Twice the events in twice the requests: the same rate.
    result = stats.compare_rates(40, 20_000, 20, 10_000)
    assert result.ratio == pytest.approx(1.0)
    assert result.ratio_lower < 1.0 < result.ratio_upper


def test_compare_rates_with_no_events_knows_nothing() -> None:
    result = stats.compare_rates(0, 1000, 0, 1000)
    assert result.ratio is None
    assert result.ratio_lower == 0.0
    assert math.isinf(result.ratio_upper)


def test_compare_rates_rejects_empty_exposure() -> None:
    with pytest.raises(ValueError, match="exposures"):
        stats.compare_rates(0, 0, 1, 10)


@pytest.mark.parametrize(
    ("df", "expected"), [(1, 6.313752), (2, 2.919986), (10, 1.812461), (10_000, 1.645)]
)
def test_student_t_quantiles(df: float, expected: float) -> None:
    assert stats.student_t_quantile(0.95, df) == pytest.approx(expected, rel=1e-3)


def test_slope_of_an_exact_line() -> None:
    fit = stats.fit_slope([0, 10, 20, 30], [5, 25, 45, 65])
    assert fit is not None
    assert fit.slope == pytest.approx(2.0)
    assert fit.lower == pytest.approx(2.0)
    assert fit.upper == pytest.approx(2.0)
    assert fit.span_s == 30


def test_slope_bounds_widen_with_noise() -> None:
    times = [float(t) for t in range(20)]
    values = [t * 1.0 + (3 if t % 2 else -3) for t in range(20)]
    fit = stats.fit_slope(times, values)
    assert fit is not None
    assert fit.lower < 1.0 < fit.upper


def test_slope_needs_three_points_over_time() -> None:
    assert stats.fit_slope([1, 2], [1, 2]) is None
    assert stats.fit_slope([5, 5, 5], [1, 2, 3]) is None
    with pytest.raises(ValueError, match="length"):
        stats.fit_slope([1, 2, 3], [1, 2])
