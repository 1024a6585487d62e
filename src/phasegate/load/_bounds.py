"""How many more load requests would let the binomial bounds decide a share.

The bounds themselves are the metric gates' (phasegate.gates.stats): one exact one-sided
Clopper-Pearson implementation for every ratio phasegate judges.
"""

from __future__ import annotations

from phasegate.gates.stats import CONFIDENCE, lower_bound, upper_bound

__all__ = ["CONFIDENCE", "lower_bound", "more_requests_to_decide", "upper_bound"]


def _check(k: int, n: int, confidence: float) -> float:
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    return 1.0 - confidence


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
