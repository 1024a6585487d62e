"""One-sided exact (Clopper-Pearson) binomial bounds, in plain Python.

The load gate judges shares ("fraction of requests slower than 500 ms", "fraction that failed")
by their uncertainty, as the architecture asks of every ratio gate. The bounds come from the
regularized incomplete beta function; bisection on it is fast and monotone for any n a load run
produces. (phasegate.gates carries the same mathematics for the metric gates; this private copy
keeps the load package free of a dependency on work still in progress there.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

CONFIDENCE = 0.95
_EPS = 3e-16
_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def _check(k: int, n: int, confidence: float) -> float:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    return 1.0 - confidence


def _solve(func_increasing_in_p: bool, target: float, func: Callable[[float], float]) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        value = func(mid)
        if (value < target) == func_increasing_in_p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def upper_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """Largest share still consistent with k of n: P(X <= k | n, p) = 1 - confidence."""
    alpha = _check(k, n, confidence)
    if n == 0 or k == n:
        return 1.0
    if k == 0:
        return -math.expm1(math.log(alpha) / n)
    # P(X <= k) = I_{1-p}(n-k, k+1) falls as p grows.
    return _solve(False, alpha, lambda p: betainc(n - k, k + 1, 1.0 - p))


def lower_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """Smallest share still consistent with k of n: P(X >= k | n, p) = 1 - confidence."""
    alpha = _check(k, n, confidence)
    if n == 0 or k == 0:
        return 0.0
    if k == n:
        return math.exp(math.log(alpha) / n)
    # P(X >= k) = I_p(k, n-k+1) rises with p.
    return _solve(True, alpha, lambda p: betainc(k, n - k + 1, p))


def more_requests_to_decide(
    sure: int,
    maybe: int,
    n: int,
    threshold: float,
    confidence: float = CONFIDENCE,
    cap: int = 10_000_000,
) -> int | None:
    """How many more requests, at the shares seen so far, would let the bounds decide.

    `sure` of n surely count against the threshold and `maybe` (>= sure) possibly do. Assuming
    both shares hold, the answer is the smallest extra m after which the upper bound of
    `maybe` drops under `threshold` (a pass) or the lower bound of `sure` rises over it (a
    fail). 0 when the bounds already decide; None when even `cap` more would not (a share sits
    on the threshold) or nothing was measured.
    """
    _check(sure, n, confidence)
    _check(maybe, n, confidence)
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
    hi = n
    while not decided(n + hi):
        hi *= 2
        if hi > cap:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if decided(n + mid):
            hi = mid
        else:
            lo = mid
    return hi
