"""The statistics behind the gates, in plain Python (no scipy).

- One-sided exact (Clopper-Pearson) binomial bounds, from the regularized incomplete beta
  function: with 0 failures in 2,995 requests the 95% upper bound is just under 0.1% (the rule of
  three), and at 10,000 requests at most 4 failures still keep it under 0.1%.
- How many more requests would let the bounds decide: with no failure, under a threshold
  (`requests_to_pass`); at the shares seen so far (`more_requests_to_decide`, the load gate);
  until a baseline comparison passes (`ratio_increase_excluded_after`). One search for all three
  (`smallest_extra`).
- A comparison of two Poisson counts given their exposures (the conditional binomial test), for
  "no increase from baseline".
- A least-squares slope with its one-sided Student-t bound, for growth and leak gates.
- Two samples side by side (the canary against stable): exact one-sided bounds on the difference
  of two binomial rates (`difference_bounds`), and the Mann-Whitney rank test with its effect
  size and DeLong's standard error (`mann_whitney`).

Every function is pure and total on its documented domain; bad input raises ValueError.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95

_EPS = 1e-15
_TINY = 1e-300
_MAX_CF_ITERATIONS = 100_000
_BISECTIONS = 200
_REL_TOL = 1e-12  # bounds to 12 significant digits


def _check_confidence(confidence: float) -> float:
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    return 1.0 - confidence


def _check_counts(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, _MAX_CF_ITERATIONS + 1):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = _TINY if abs(d) < _TINY else d
        c = 1.0 + aa / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if a <= 0 or b <= 0:
        raise ValueError(f"betainc needs a, b > 0, got a={a}, b={b}")
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs 0 <= x <= 1, got {x}")
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return min(1.0, max(0.0, front * _beta_cf(a, b, x) / a))
    return min(1.0, max(0.0, 1.0 - front * _beta_cf(b, a, 1.0 - x) / b))


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    _check_counts(k, n)
    if k == n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    # P(X <= k) = 1 - I_p(k + 1, n - k)
    return 1.0 - betainc(k + 1, n - k, p)


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    _check_counts(k, n)
    if k == 0 or p >= 1.0:
        return 1.0
    if p <= 0.0:
        return 0.0
    return betainc(k, n - k + 1, p)


def _bisect(f_increasing: bool, target: float, func: Callable[[float], float]) -> float:
    """Solve func(p) = target on [0, 1] for a monotone func."""
    lo, hi = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi) or hi - lo <= _REL_TOL * hi:
            break
        value = func(mid)
        if (value < target) == f_increasing:
            lo = mid
        else:
            hi = mid
    return hi if not f_increasing else lo


def upper_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a binomial proportion.

    The largest p still consistent with seeing at most k successes in n trials:
    P(X <= k | n, p) = 1 - confidence. With k = 0 this is 1 - alpha ** (1 / n).
    With n = 0 nothing is known and the bound is 1.
    """
    alpha = _check_confidence(confidence)
    _check_counts(k, n)
    if n == 0 or k == n:
        return 1.0
    if k == 0:
        return -math.expm1(math.log(alpha) / n)
    # binom_cdf falls as p grows; return the upper end so the bound is never optimistic.
    return _bisect(False, alpha, lambda p: binom_cdf(k, n, p))


def lower_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound: P(X >= k | n, p) = 1 - confidence."""
    alpha = _check_confidence(confidence)
    _check_counts(k, n)
    if n == 0 or k == 0:
        return 0.0
    if k == n:
        return math.exp(math.log(alpha) / n)
    # binom_sf rises with p; return the lower end so the bound is never pessimistic.
    return _bisect(True, alpha, lambda p: binom_sf(k, n, p))


def smallest_extra(decides: Callable[[int], bool], *, start: int = 1, cap: int) -> int | None:
    """The smallest m >= 1 with decides(m), for a decides() that stays True once True.

    The one search behind every "how many more requests until the bound decides": double from
    `start` until decides() holds, then bisect between the last two. None when the doubling
    passes `cap`. The caller checks m = 0 itself (its own "already decided").
    """
    hi = start
    while not decides(hi):
        hi *= 2
        if hi > cap:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if decides(mid):
            hi = mid
        else:
            lo = mid
    return hi


def requests_to_pass(
    k: int,
    n: int,
    threshold: float,
    confidence: float = CONFIDENCE,
    cap: int = 10**12,
) -> int | None:
    """How many more trials, all without failure, bring the upper bound under `threshold`.

    0 when it is already under; None when even `cap` more would not do (threshold <= 0).
    """
    _check_counts(k, n)
    if threshold <= 0.0:
        return None
    if threshold >= 1.0:
        return 0

    def passes(extra: int) -> bool:
        return upper_bound(k, n + extra, confidence) < threshold

    if passes(0):
        return 0
    return smallest_extra(passes, cap=cap)


def more_requests_to_decide(
    sure: int,
    maybe: int,
    n: int,
    threshold: float,
    confidence: float = CONFIDENCE,
    cap: int = 10_000_000,
) -> int | None:
    """How many more requests, at the shares seen so far, would let the bounds decide.

    `sure` of n surely count against the threshold and `maybe` (>= sure) possibly do (the load
    gate's latency buckets that straddle the limit). Assuming both shares hold, the answer is
    the smallest extra m after which the upper bound of `maybe` drops under `threshold` (a
    pass) or the lower bound of `sure` rises over it (a fail). 0 when the bounds already decide;
    None when even `cap` more would not (a share sits on the threshold) or nothing was measured.
    """
    _check_counts(sure, n)
    _check_confidence(confidence)
    _check_counts(maybe, n)
    if n == 0:
        return None
    sure_share, maybe_share = sure / n, maybe / n

    def decided(total: int) -> bool:
        high = min(total, round(maybe_share * total))
        low = min(total, round(sure_share * total))
        return (
            upper_bound(high, total, confidence) < threshold
            or lower_bound(low, total, confidence) > threshold
        )

    if decided(n):
        return 0
    if sure_share <= threshold <= maybe_share:
        return None
    return smallest_extra(lambda extra: decided(n + extra), start=n, cap=cap)


def ratio_increase_excluded_after(
    k1: int,
    n1: int,
    k0: int,
    n0: int,
    margin: float,
    floor: float | None,
    confidence: float = CONFIDENCE,
    cap: int = 10**12,
) -> int | None:
    """How many more window trials, all without an event, would let a baseline gate pass.

    Either the rate ratio's upper bound falls to `margin` or (with a floor) the window's own
    upper bound falls under `floor`; the sooner of the two. None when neither ever would.
    """
    candidates: list[int] = []
    if floor is not None:
        by_floor = requests_to_pass(k1, n1, floor, confidence)
        if by_floor is not None:
            candidates.append(by_floor)
    if k1 + k0 > 0:

        def passes(extra: int) -> bool:
            upper = compare_rates(k1, n1 + extra, k0, n0, margin, confidence).ratio_upper
            return upper <= margin

        by_ratio = smallest_extra(passes, cap=cap)
        if by_ratio is not None:
            candidates.append(by_ratio)
    return min(candidates) if candidates else None


# -- Two Poisson counts -------------------------------------------------------------------------


@dataclass(frozen=True)
class RateComparison:
    """Phase rate k1/n1 against baseline rate k0/n0, compared as a rate ratio r = rate1/rate0.

    Given k1 + k0 = K events, k1 ~ Binomial(K, pi) with pi = n1 r / (n1 r + n0): exact bounds on pi
    give exact bounds on r. `p_value` tests "r <= margin" against "r > margin" (one-sided).
    """

    k1: int
    n1: int
    k0: int
    n0: int
    ratio: float | None
    ratio_lower: float
    ratio_upper: float
    margin: float
    p_value: float


def _ratio_from_share(share: float, n1: int, n0: int) -> float:
    if share >= 1.0:
        return math.inf
    return share / (1.0 - share) * (n0 / n1)


def compare_rates(
    k1: int,
    n1: int,
    k0: int,
    n0: int,
    margin: float = 1.0,
    confidence: float = CONFIDENCE,
) -> RateComparison:
    """Conditional binomial comparison of two Poisson rates with exposures n1 and n0."""
    _check_confidence(confidence)
    if n1 <= 0 or n0 <= 0:
        raise ValueError(f"exposures must be > 0, got n1={n1}, n0={n0}")
    if k1 < 0 or k0 < 0:
        raise ValueError("counts must be >= 0")
    if margin <= 0:
        raise ValueError(f"margin must be > 0, got {margin}")
    total = k1 + k0
    if total == 0:
        ratio = None
        lo, hi = 0.0, math.inf
        p_value = 1.0
    else:
        ratio = math.inf if k0 == 0 else (k1 / n1) / (k0 / n0)
        lo = _ratio_from_share(lower_bound(k1, total, confidence), n1, n0)
        hi = _ratio_from_share(upper_bound(k1, total, confidence), n1, n0)
        share_at_margin = n1 * margin / (n1 * margin + n0)
        p_value = binom_sf(k1, total, share_at_margin)
    return RateComparison(k1, n1, k0, n0, ratio, lo, hi, margin, p_value)


# -- Slopes --------------------------------------------------------------------------------------


def student_t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with df degrees of freedom."""
    if df <= 0:
        raise ValueError("df must be > 0")
    if math.isinf(t):
        return 1.0 if t > 0 else 0.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def student_t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q, for 0.5 <= q < 1."""
    if not 0.5 <= q < 1.0:
        raise ValueError("student_t_quantile supports 0.5 <= q < 1")
    if q == 0.5:
        return 0.0
    lo, hi = 0.0, 1.0
    while student_t_cdf(hi, df) < q:
        hi *= 2.0
        if hi > 1e12:
            return math.inf
    for _ in range(_BISECTIONS):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if student_t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class Slope:
    """Least-squares slope (units per second) with one-sided bounds at `confidence`.

    The bounds assume independent residuals; a resource series is autocorrelated, so treat them as
    optimistic and prefer long windows.
    """

    slope: float
    lower: float
    upper: float
    n: int
    span_s: float
    stderr: float


def fit_slope(
    times: Sequence[float], values: Sequence[float], confidence: float = CONFIDENCE
) -> Slope | None:
    """Fit values ~ a + b * time; None with fewer than 3 points or no spread in time."""
    _check_confidence(confidence)
    if len(times) != len(values):
        raise ValueError("times and values differ in length")
    n = len(times)
    if n < 3:
        return None
    # Scale values to [-1, 1] and centre times: nothing overflows, whatever the magnitudes.
    scale = max((abs(v) for v in values), default=0.0) or 1.0
    if not math.isfinite(scale):
        return None
    ys = [v / scale for v in values]
    mean_t = math.fsum(times) / n
    xs = [t - mean_t for t in times]
    mean_y = math.fsum(ys) / n
    sxx = math.fsum(x * x for x in xs)
    if not sxx > 0.0 or not math.isfinite(sxx):
        return None
    sxy = math.fsum(x * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    ssr = math.fsum((y - mean_y - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    stderr = math.sqrt(max(ssr, 0.0) / (n - 2) / sxx)
    margin = student_t_quantile(confidence, n - 2) * stderr
    return Slope(
        slope * scale,
        (slope - margin) * scale,
        (slope + margin) * scale,
        n,
        max(times) - min(times),
        stderr * scale,
    )


# -- Two binomial proportions: bounds on their difference ----------------------------------------


def sidak_level(confidence: float) -> float:
    """The per-sample confidence whose product over two independent samples is `confidence`.

    Two independent one-sided bounds, each holding with probability sqrt(confidence), hold
    together with probability at least `confidence` (independence, not Bonferroni's union bound).
    """
    _check_confidence(confidence)
    return math.sqrt(confidence)


def binom_pmf(k: int, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p), through log-gamma (no overflow at large n)."""
    _check_counts(k, n)
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    log_pmf = (
        math.lgamma(n + 1)
        - math.lgamma(k + 1)
        - math.lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    return math.exp(log_pmf)


@dataclass(frozen=True)
class DifferenceBounds:
    """One-sided bounds on p1 - p0 from k1 of n1 and k0 of n0, independent samples.

    `upper` = U1 - L0 and `lower` = L1 - U0 with each Clopper-Pearson bound at the Sidak level:
    P(p1 - p0 <= upper) >= confidence and P(p1 - p0 >= lower) >= confidence for every pair of
    true rates, exactly (no normal approximation, no nuisance parameter to maximise over).
    """

    k1: int
    n1: int
    k0: int
    n0: int
    confidence: float
    lower: float
    upper: float

    @property
    def difference(self) -> float:
        return self.k1 / self.n1 - self.k0 / self.n0


def difference_bounds(
    k1: int, n1: int, k0: int, n0: int, confidence: float = CONFIDENCE
) -> DifferenceBounds:
    """Exact one-sided bounds on the difference of two binomial rates (see `DifferenceBounds`)."""
    _check_counts(k1, n1)
    _check_counts(k0, n0)
    if n1 == 0 or n0 == 0:
        raise ValueError(f"both samples need requests, got n1={n1}, n0={n0}")
    level = sidak_level(confidence)
    upper = upper_bound(k1, n1, level) - lower_bound(k0, n0, level)
    lower = lower_bound(k1, n1, level) - upper_bound(k0, n0, level)
    return DifferenceBounds(k1, n1, k0, n0, confidence, lower, upper)


# -- Two samples of a continuous measure: the Mann-Whitney rank test ------------------------------

_NORMAL = NormalDist()


def normal_quantile(q: float) -> float:
    """The z with P(Z <= z) = q for a standard normal Z (0 < q < 1)."""
    return _NORMAL.inv_cdf(q)


@dataclass(frozen=True)
class RankComparison:
    """Sample 1 against sample 0 by ranks.

    `theta` = P(X1 > X0) + P(X1 = X0) / 2 estimated as U1 / (n1 n0) (the common-language effect
    size); `rank_biserial` = 2 theta - 1 in [-1, 1], 0 when neither tends to be larger.
    `p_greater` is the one-sided Mann-Whitney p-value for "sample 1 tends to be larger" (normal
    approximation with tie and continuity corrections, scipy's `method="asymptotic"`).
    `se_theta` is DeLong's standard error of theta from the placement values: unlike the null
    variance of U it holds away from theta = 1/2, which a bound on the effect needs.
    """

    n1: int
    n0: int
    u1: float
    theta: float
    rank_biserial: float
    z: float
    p_greater: float
    se_theta: float

    def theta_upper(self, confidence: float = CONFIDENCE) -> float:
        """One-sided upper confidence bound on theta (normal, DeLong standard error)."""
        _check_confidence(confidence)
        return min(1.0, self.theta + normal_quantile(confidence) * self.se_theta)

    def theta_lower(self, confidence: float = CONFIDENCE) -> float:
        _check_confidence(confidence)
        return max(0.0, self.theta - normal_quantile(confidence) * self.se_theta)


def _sample_variance(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return 0.0
    mean = math.fsum(values) / n
    return math.fsum((v - mean) ** 2 for v in values) / (n - 1)


def mann_whitney(x1: Sequence[float], x0: Sequence[float]) -> RankComparison:
    """Mann-Whitney U of x1 against x0, its one-sided p-value and DeLong's standard error."""
    n1, n0 = len(x1), len(x0)
    if n1 == 0 or n0 == 0:
        raise ValueError(f"both samples need values, got {n1} and {n0}")
    if not all(math.isfinite(v) for v in (*x1, *x0)):
        raise ValueError("values must be finite")
    s1, s0 = sorted(x1), sorted(x0)
    # Placements: for each value, the share of the other sample it beats (ties count half).
    place1 = [
        (bisect.bisect_left(s0, v) + (bisect.bisect_right(s0, v) - bisect.bisect_left(s0, v)) / 2)
        / n0
        for v in x1
    ]
    place0 = [
        (
            n1
            - bisect.bisect_right(s1, v)
            + (bisect.bisect_right(s1, v) - bisect.bisect_left(s1, v)) / 2
        )
        / n1
        for v in x0
    ]
    u1 = math.fsum(place1) * n0
    theta = u1 / (n1 * n0)
    se_theta = math.sqrt(_sample_variance(place1) / n1 + _sample_variance(place0) / n0)
    # Null variance of U with the tie correction, from the sizes of the groups of equal values.
    n = n1 + n0
    pooled = sorted((*x1, *x0))
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1] == pooled[i]:
            j += 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    variance = n1 * n0 / 12.0 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    mean_u = n1 * n0 / 2.0
    if variance <= 0.0:
        z, p_greater = 0.0, 1.0
    else:
        z = (u1 - mean_u - 0.5) / math.sqrt(variance)
        p_greater = 1.0 - _NORMAL.cdf(z)
    return RankComparison(n1, n0, u1, theta, 2.0 * theta - 1.0, z, p_greater, se_theta)
