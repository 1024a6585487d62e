"""The fixed-sample design keeps its promises: checked exactly, by simulation and against scipy.

The simulation drives the same decision the ratio gates use (Clopper-Pearson bounds from
`phasegate.gates.stats`) with binomial samples of the design's n, many thousands of times, from a
fixed seed: the share of PASS at the threshold (a false GO) must stay at or under alpha, the
share of FAIL at three times the threshold (the power) at or over 1 - beta.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import stats as scipy_stats

from phasegate.gates import stats
from phasegate.gates.design import fail_min_k, fixed_design, pass_max_k
from phasegate.outcomes import Outcome

RUNS = 20_000


def _decide(k: int, n: int, threshold: float) -> Outcome:
    if stats.upper_bound(k, n) < threshold:
        return Outcome.PASS
    if stats.lower_bound(k, n) > threshold:
        return Outcome.FAIL
    return Outcome.INCONCLUSIVE


@pytest.mark.parametrize("threshold", [0.001, 0.01, 0.05])
def test_simulated_false_go_and_power(threshold: float) -> None:
    design = fixed_design(threshold)
    decide = functools.cache(lambda k: _decide(k, design.n, threshold))
    rng = np.random.default_rng(20261202)
    at_threshold = rng.binomial(design.n, threshold, RUNS)
    at_effect = rng.binomial(design.n, threshold * design.effect, RUNS)
    false_go = sum(decide(int(k)) is Outcome.PASS for k in at_threshold) / RUNS
    power = sum(decide(int(k)) is Outcome.FAIL for k in at_effect) / RUNS
    assert false_go <= design.alpha, (false_go, design.describe())
    assert power >= 1 - design.beta, (power, design.describe())
    # The simulation agrees with the exact figures the evidence reports.
    assert abs(false_go - design.false_go) < 4 * (design.false_go / RUNS) ** 0.5 + 1e-3
    assert abs(power - design.power) < 4 * (design.power * (1 - design.power) / RUNS) ** 0.5


def test_the_rule_it_replaces_would_fail_this_simulation() -> None:
    """Looking after every batch and stopping at the first PASS has no error control.

    The same source at the threshold, judged after each of 20 batches of 500 requests with the
    same bounds, passes far more often than alpha: the reason a design is fixed first.
    """
    threshold = 0.001
    rng = np.random.default_rng(7)
    runs, passes = 2_000, 0
    decide = functools.cache(lambda k, n: _decide(k, n, threshold))
    for _ in range(runs):
        k = n = 0
        for _batch in range(20):
            k += int(rng.binomial(500, threshold))
            n += 500
            if decide(k, n) is Outcome.PASS:
                passes += 1
                break
    assert passes / runs > 0.05


def test_design_for_the_plan_error_rate() -> None:
    design = fixed_design(0.001)
    assert design.pass_max_k >= 0
    assert design.power >= 0.9
    assert design.false_go <= 0.05
    # No smaller n reaches the stated power with PASS possible: the design is the first one.
    prev_k = fail_min_k(design.n - 1, 0.001)
    assert scipy_stats.binom.sf(prev_k - 1, design.n - 1, 0.003) < 0.9
    facts = design.to_dict()
    assert facts["alpha"] == 0.05 and facts["beta"] == 0.1 and facts["n"] == design.n


@pytest.mark.parametrize("n", [2, 10, 59, 100, 2995, 3922, 10_000])
def test_decision_counts_match_scipy(n: int) -> None:
    threshold = 0.001 if n >= 1000 else 0.05
    k_pass = pass_max_k(n, threshold)
    k_fail = fail_min_k(n, threshold)
    if k_pass >= 0:
        assert scipy_stats.binom.cdf(k_pass, n, threshold) < 0.05
    assert k_pass + 1 > n or scipy_stats.binom.cdf(k_pass + 1, n, threshold) >= 0.05
    assert k_fail > n or scipy_stats.binom.sf(k_fail - 1, n, threshold) < 0.05
    assert scipy_stats.binom.sf(k_fail - 2, n, threshold) >= 0.05


@pytest.mark.parametrize(
    ("k", "n"),
    [(0, 1), (1, 2), (0, 2995), (3, 3922), (4, 10_000), (50, 10_000), (999, 10_000), (7, 77)],
)
def test_bounds_match_scipy_beta(k: int, n: int) -> None:
    """Clopper-Pearson bounds are beta quantiles; the project's pure-Python ones agree to 1e-9."""
    upper = 1.0 if k == n else scipy_stats.beta.ppf(0.95, k + 1, n - k)
    lower = 0.0 if k == 0 else scipy_stats.beta.ppf(0.05, k, n - k + 1)
    assert stats.upper_bound(k, n) == pytest.approx(upper, rel=1e-9, abs=1e-12)
    assert stats.lower_bound(k, n) == pytest.approx(lower, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1])
def test_bad_threshold_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        fixed_design(bad)
