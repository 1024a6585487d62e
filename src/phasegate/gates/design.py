"""Sample-size designs for the ratio gates, fixed before the first request.

A gate that looks at its errors, finds them inconclusive and asks for more traffic until the bound
passes has no error control: every look is another chance of a false GO. The designs here are
computed from the threshold, the confidence and a stated power alone, so the number of requests a
gate needs is known before any of them is sent, and the traffic is never grown on what it found.

The decision rule is the one every ratio gate already uses (one-sided Clopper-Pearson bounds):
PASS when the upper bound is under the threshold, FAIL when the lower bound is over it,
INCONCLUSIVE in between. For a fixed n this is an exact test in both directions:

- false GO: P(PASS | true rate = threshold) <= alpha = 1 - confidence, for every n;
- power: n is the first sample size at which P(FAIL | true rate = effect x threshold) >= power.

`false_go` and `power` are the exact binomial probabilities at the design's n, not approximations.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from phasegate.gates.spec import GateSpec
from phasegate.gates.stats import CONFIDENCE, binom_cdf, binom_sf

POWER = 0.90
EFFECT = 3.0  # power is stated against a true rate three times the threshold
_MAX_N = 10_000_000


@dataclass(frozen=True)
class BinomialDesign:
    """A fixed-sample design for "the rate of X is under `threshold`"."""

    threshold: float
    confidence: float
    power_target: float
    effect: float
    n: int
    pass_max_k: int  # at n: PASS iff k <= pass_max_k (-1: PASS impossible)
    fail_min_k: int  # at n: FAIL iff k >= fail_min_k
    false_go: float  # exact P(PASS | rate = threshold) at n
    power: float  # exact P(FAIL | rate = effect * threshold) at n

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def beta(self) -> float:
        return 1.0 - self.power_target

    def describe(self) -> str:
        return (
            f"fixed sample of {self.n} requests chosen before the first one "
            f"(alpha {self.alpha:g}: false GO at the threshold {self.false_go:.4f}; "
            f"power {self.power:.3f} >= {self.power_target:g} to FAIL a true rate of "
            f"{self.effect:g}x the threshold; PASS with at most {self.pass_max_k} and FAIL "
            f"with at least {self.fail_min_k} failures in {self.n})"
        )

    def short(self) -> str:
        """The design in a reason: n, alpha, beta and the effect it was sized for."""
        return (
            f"fixed design n={self.n:,} (alpha {self.alpha:g}, beta {self.beta:g} at "
            f"{self.effect:g}x the threshold)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "fixed-sample",
            "threshold": self.threshold,
            "alpha": round(self.alpha, 6),
            "beta": round(self.beta, 6),
            "effect": self.effect,
            "n": self.n,
            "pass_max_k": self.pass_max_k,
            "fail_min_k": self.fail_min_k,
            "false_go": round(self.false_go, 6),
            "power": round(self.power, 6),
            "rule": "PASS: upper bound < threshold; FAIL: lower bound > threshold",
        }


def pass_max_k(n: int, threshold: float, confidence: float = CONFIDENCE) -> int:
    """The most failures in n that still PASS (upper bound under threshold); -1 if none do.

    The Clopper-Pearson upper bound of k is under the threshold exactly when
    P(X <= k | n, threshold) < alpha, so this is a walk over the binomial cdf.
    """
    alpha = 1.0 - confidence
    k = -1
    while k + 1 <= n and binom_cdf(k + 1, n, threshold) < alpha:
        k += 1
    return k


def fail_min_k(n: int, threshold: float, confidence: float = CONFIDENCE) -> int:
    """The fewest failures in n that FAIL (lower bound over threshold); n + 1 if none do.

    The lower bound of k is over the threshold exactly when P(X >= k | n, threshold) < alpha.
    """
    alpha = 1.0 - confidence
    k = max(1, math.floor(n * threshold))
    while k > 1 and binom_sf(k - 1, n, threshold) < alpha:
        k -= 1
    while k <= n and binom_sf(k, n, threshold) >= alpha:
        k += 1
    return k


def _power(n: int, threshold: float, effect: float, confidence: float) -> tuple[int, float]:
    k = fail_min_k(n, threshold, confidence)
    if k > n:
        return k, 0.0
    return k, binom_sf(k, n, min(1.0, threshold * effect))


def fixed_design(
    threshold: float,
    confidence: float = CONFIDENCE,
    power: float = POWER,
    effect: float = EFFECT,
) -> BinomialDesign:
    """The first n at which PASS is possible and FAIL has `power` at `effect` x threshold."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold!r}")
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence!r}")
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), got {power!r}")
    if effect <= 1.0 or threshold * effect >= 1.0:
        raise ValueError(f"effect must be > 1 with effect x threshold < 1, got {effect!r}")
    alpha = 1.0 - confidence
    # PASS needs at least the zero-failure n: (1 - threshold) ** n < alpha.
    n = max(1, math.floor(math.log(alpha) / math.log1p(-threshold)) + 1)
    # Coarse steps up to the first n with enough power, then back to the first n that has it.
    step = max(1, n // 64)
    while _power(n, threshold, effect, confidence)[1] < power:
        n += step
        if n > _MAX_N:
            raise ValueError(f"no design under {_MAX_N} requests for threshold {threshold!r}")
    low = max(1, n - step + 1)
    for candidate in range(low, n + 1):
        if (
            _power(candidate, threshold, effect, confidence)[1] >= power
            and pass_max_k(candidate, threshold, confidence) >= 0
        ):
            n = candidate
            break
    fail_k, achieved = _power(n, threshold, effect, confidence)
    pass_k = pass_max_k(n, threshold, confidence)
    false_go = binom_cdf(pass_k, n, threshold) if pass_k >= 0 else 0.0
    return BinomialDesign(
        threshold=threshold,
        confidence=confidence,
        power_target=power,
        effect=effect,
        n=n,
        pass_max_k=pass_k,
        fail_min_k=fail_k,
        false_go=false_go,
        power=achieved,
    )


def design_for(spec: GateSpec, confidence: float = CONFIDENCE) -> BinomialDesign | None:
    """The design a catalog row states (`power`, `effect`); None when the row states none."""
    if spec.power is None or spec.effect is None:
        return None
    return _cached_design(spec.threshold, confidence, spec.power, spec.effect)


@functools.cache
def _cached_design(
    threshold: float, confidence: float, power: float, effect: float
) -> BinomialDesign:
    return fixed_design(threshold, confidence, power, effect)
