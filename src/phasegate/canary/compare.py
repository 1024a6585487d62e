"""Canary against stable: pure statistics, each decided at a sample size fixed before traffic.

Phase 3 of the rollout plan puts a flag-ON canary beside the flag-OFF stable instance behind a
9:1 weighted upstream and asks to "compare error rates" and "compare latency percentiles" between
the two. A comparison that looks, finds nothing and says PASS would wave through any canary on a
small sample, so every function here has a fixed-sample design (`design_n`), says INCONCLUSIVE
below it (with how many more per arm), and PASSes only when its test rules out the harm it
guards against, never because a test was merely not significant.

The four judgements (all return `phasegate.outcomes.Conclusion`):

- `split_share`: the canary's share of responses with its two-sided Clopper-Pearson interval at
  `confidence`. PASS when the interval holds the expected 10% and excludes every broken value
  (0%: the canary gets nothing; 50%: weights ignored, round robin); FAIL when it excludes 10%;
  INCONCLUSIVE while it is too wide. Exact, through `gates.stats` binomial tails.
- `compare_error_rates` and `compare_slow_share`: a non-inferiority comparison of two binomial
  rates with a stated margin. The test is exact one-sided bounds on the difference, canary minus
  stable, from a Clopper-Pearson bound of each arm at the Sidak level sqrt(1 - alpha)
  (`gates.stats.difference_bounds`): PASS when the upper bound is under the margin, FAIL when the
  lower bound is over it, INCONCLUSIVE in between. Chosen over Fisher / Barnard / Boschloo
  because those test equality (scipy's implementations take no margin) and a margin is what the
  plan's 0.1% means; over an exact unconditional test with a margin (Chan) because maximising
  over the nuisance rate is out of reach at 30,000 stable requests in plain Python. Its price is
  some conservatism; its gain is that P(false PASS) <= alpha and P(false FAIL) <= alpha hold
  exactly for every pair of true rates, with no scipy at run time (scipy stays a dev extra, the
  self-tests cross-check against it).
- `compare_latency`: Mann-Whitney U, one-sided "canary slower" (as Kayenta's judge), with an effect
  floor on the rank-biserial correlation r = 2 P(canary > stable) - 1. FAIL when the test is
  significant at alpha AND the observed r exceeds the floor; PASS when the one-sided upper bound on
  r (DeLong's standard error, normal) is under the floor, i.e. an effect at the floor is ruled out;
  INCONCLUSIVE otherwise.

The designs (defaults: alpha 0.05, power 0.90, stable:canary 9:1; exact binomial probabilities at
the design's n, computed by `design_n`, reproduced by `bench/canary_power.py`):

- split: n = 36 responses; P(PASS | share 10%) = 0.954, P(PASS | 0%) = 0,
  P(PASS | 50%) = 0.00016, P(FAIL | 0%) = 1.0 and P(FAIL | 50%) = 0.99984.
- error rate, margin 0.001, FAIL power stated at a canary 0.5 points worse: canary 3,675, stable
  33,075 requests; false PASS at canary = stable + margin 0.0253 (stable at 0; <= alpha for every
  stable rate), P(PASS) = 1 for two error-free arms, P(FAIL | canary 0.5%, stable 0%) = 0.994.
  At a stable instance erring 0.02% (0.05%), PASS with 90% needs canary 8,212 (13,559).
- share over 500 ms, margin 0.01, FAIL power at a canary 3 points worse: canary 551, stable 4,959
  latencies; false PASS 0.0039, P(FAIL | 3% vs 0%) = 0.901.
- latency, floor r = 0.1, FAIL power at r = 0.3: canary 318, stable 2,862 latencies (normal
  approximation of U). Simulated (1,000 runs each): P(PASS | identical) 0.90, P(PASS | r at the
  floor) 0.043 (the false PASS), P(FAIL | r = 0.3) 1.0, P(FAIL | identical) 0.
- everything together (`design_n().total`): 38,102 requests through the balancer, so that a
  random 10% split reaches canary 3,675 and stable 33,075 with probability 0.99 each.

Exactness is about the statistics, not the traffic: the designs assume independent requests.
The PASS power of the binomial comparisons is stated for two arms without errors (baseline 0);
a stable instance that already errs needs a larger n to PASS, and `design_n(baseline=...)` says
how much larger.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from phasegate.gates.stats import (
    binom_cdf,
    binom_pmf,
    binom_sf,
    difference_bounds,
    lower_bound,
    mann_whitney,
    normal_quantile,
    sidak_level,
    smallest_extra,
    upper_bound,
)
from phasegate.outcomes import Conclusion, Outcome

ROLES = ("stable", "canary")
ALPHA = 0.05
POWER = 0.90
EXPECTED_SHARE = 0.1
BROKEN_SHARES = (0.0, 0.5)
ERROR_MARGIN = 0.001
ERROR_EFFECT = 0.005  # FAIL power stated against a canary erring 0.5 points more than stable
SLOW_THRESHOLD_S = 0.5
SLOW_MARGIN = 0.01
SLOW_EFFECT = 0.03
EFFECT_FLOOR = 0.1
LATENCY_EFFECT = 0.3  # FAIL power stated at a rank-biserial r of 0.3
MIN_LATENCY_N = 20  # the normal approximation of U is not used below this per arm
HEADROOM = 0.99  # P(each arm reaches its n) when the balancer splits at random
_CAP = 10**9
_TAIL = 1e-13  # binomial mass left out of exact sums (each side)


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha <= 0.5:
        raise ValueError(f"alpha must be in (0, 0.5], got {alpha!r}")


def _check_share(name: str, value: float, *, closed: bool = False) -> None:
    ok = 0.0 <= value <= 1.0 if closed else 0.0 < value < 1.0
    if not ok:
        raise ValueError(f"{name} must be in {'[0, 1]' if closed else '(0, 1)'}, got {value!r}")


def _effect_for(margin: float, default: float) -> float:
    """The excess a design's FAIL power is stated at: the default, or 3x a margin beyond it."""
    return default if default > margin else min(3.0 * margin, (1.0 + margin) / 2.0)


def _ratio(expected: float) -> float:
    """Stable requests per canary request under the expected split (9 for 10%)."""
    return (1.0 - expected) / expected


# -- Samples ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmSample:
    """What one side of the split answered, counted on the client side.

    `errors` are 5xx and transport failures; `latencies_s` one per request (empty when only the
    counts are known, which leaves the latency comparisons INCONCLUSIVE rather than guessed).
    """

    role: str
    requests: int
    errors: int
    latencies_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.requests < 0 or not 0 <= self.errors <= self.requests:
            raise ValueError(
                f"{self.role}: need 0 <= errors <= requests, got {self.errors} of {self.requests}"
            )
        if len(self.latencies_s) > self.requests:
            raise ValueError(
                f"{self.role}: {len(self.latencies_s)} latencies for {self.requests} requests"
            )
        if not all(math.isfinite(v) and v >= 0.0 for v in self.latencies_s):
            raise ValueError(f"{self.role}: latencies must be finite and >= 0")

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def slow(self, threshold_s: float) -> int:
        """Requests slower than `threshold_s` (strictly: the plan's "< 500 ms" keeps 500 ms)."""
        return sum(1 for v in self.latencies_s if v > threshold_s)

    def summary(self) -> dict[str, Any]:
        """Counts and a latency summary for the evidence (milliseconds, nearest rank)."""
        out: dict[str, Any] = {
            "role": self.role,
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": None if self.error_rate is None else round(self.error_rate, 6),
            "latencies": len(self.latencies_s),
        }
        if self.latencies_s:
            ordered = sorted(self.latencies_s)
            for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
                out[name] = round(_nearest_rank(ordered, q) * 1000.0, 3)
            out["mean_ms"] = round(math.fsum(ordered) / len(ordered) * 1000.0, 3)
            out["max_ms"] = round(ordered[-1] * 1000.0, 3)
        return out


def _nearest_rank(ordered: Sequence[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _check_roles(stable: ArmSample, canary: ArmSample) -> None:
    if stable.role != "stable" or canary.role != "canary":
        raise ValueError(
            f"expected (stable, canary) samples, got ({stable.role}, {canary.role}): "
            "swapped arms would invert every comparison"
        )


# -- Designs ------------------------------------------------------------------------------------


def _excludes(k: int, n: int, value: float, tail: float) -> bool:
    """Does the two-sided Clopper-Pearson interval of k in n (tail per side) exclude `value`?"""
    return binom_sf(k, n, value) < tail or binom_cdf(k, n, value) < tail


def _split_decision(
    k: int, n: int, expected: float, broken: tuple[float, ...], confidence: float
) -> Outcome:
    tail = (1.0 - confidence) / 2.0
    if n == 0:
        return Outcome.INCONCLUSIVE
    if _excludes(k, n, expected, tail):
        return Outcome.FAIL
    if all(_excludes(k, n, b, tail) for b in broken):
        return Outcome.PASS
    return Outcome.INCONCLUSIVE


def _split_probability(
    n: int, share: float, expected: float, broken: tuple[float, ...], confidence: float
) -> dict[Outcome, float]:
    """Exact probabilities of each outcome at n responses when the true share is `share`."""
    out = dict.fromkeys((Outcome.PASS, Outcome.FAIL, Outcome.INCONCLUSIVE), 0.0)
    for k in range(n + 1):
        weight = binom_pmf(k, n, share)
        if weight:
            out[_split_decision(k, n, expected, broken, confidence)] += weight
    return out


@dataclass(frozen=True)
class SplitDesign:
    """Responses through the balancer before the split is judged, with its exact error rates."""

    expected: float
    broken: tuple[float, ...]
    confidence: float
    power_target: float
    n: int
    pass_power: float  # P(PASS | share = expected) at n
    false_pass: tuple[tuple[float, float], ...]  # (broken share, P(PASS)) at n
    fail_power: tuple[tuple[float, float], ...]  # (broken share, P(FAIL)) at n

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "fixed-sample",
            "n": self.n,
            "expected": self.expected,
            "broken": list(self.broken),
            "confidence": self.confidence,
            "power_target": self.power_target,
            "pass_power": round(self.pass_power, 6),
            "false_pass": {f"{b:g}": round(p, 6) for b, p in self.false_pass},
            "fail_power": {f"{b:g}": round(p, 6) for b, p in self.fail_power},
            "rule": "PASS: interval holds expected and excludes every broken share; "
            "FAIL: interval excludes expected",
        }


@functools.cache
def split_design(
    expected: float = EXPECTED_SHARE,
    broken: tuple[float, ...] = BROKEN_SHARES,
    confidence: float = 1.0 - ALPHA,
    power: float = POWER,
) -> SplitDesign:
    """The first n at which a correct split PASSes with `power` and every broken one FAILs."""
    _check_share("expected", expected)
    for b in broken:
        _check_share("a broken share", b, closed=True)
        if b == expected:
            raise ValueError(f"a broken share cannot equal the expected share {expected!r}")
    _check_alpha(1.0 - confidence)
    _check_share("power", power)
    for n in range(1, 100_000):
        at_expected = _split_probability(n, expected, expected, broken, confidence)
        if at_expected[Outcome.PASS] < power:
            continue
        at_broken = [_split_probability(n, b, expected, broken, confidence) for b in broken]
        if all(p[Outcome.FAIL] >= power for p in at_broken):
            return SplitDesign(
                expected,
                broken,
                confidence,
                power,
                n,
                at_expected[Outcome.PASS],
                tuple((b, p[Outcome.PASS]) for b, p in zip(broken, at_broken, strict=True)),
                tuple((b, p[Outcome.FAIL]) for b, p in zip(broken, at_broken, strict=True)),
            )
    raise ValueError(f"no split design under 100,000 responses for {expected!r} vs {broken!r}")


def _support(n: int, p: float) -> Iterator[tuple[int, float]]:
    """(k, P(X = k)) for X ~ Binomial(n, p), leaving out tails of at most _TAIL each."""
    if p <= 0.0:
        yield 0, 1.0
        return
    mean, sd = n * p, math.sqrt(n * p * (1.0 - p))
    lo, hi = max(0, math.floor(mean - 9 * sd - 10)), min(n, math.ceil(mean + 9 * sd + 10))
    for k in range(lo, hi + 1):
        weight = binom_pmf(k, n, p)
        if weight > _TAIL * 1e-3:
            yield k, weight


def difference_probabilities(
    canary_n: int,
    stable_n: int,
    canary_rate: float,
    stable_rate: float,
    margin: float,
    alpha: float = ALPHA,
) -> tuple[float, float]:
    """Exact (P(PASS), P(FAIL)) of the difference rule at these sizes and true rates.

    PASS iff U_c < margin + L_s and FAIL iff L_c > margin + U_s (Sidak-level Clopper-Pearson
    bounds); for each stable count the canary counts that PASS / FAIL are a prefix / suffix,
    found through the binomial tail at the shifted threshold (as `gates.design` does), so the
    sum runs over the stable counts only.
    """
    level = sidak_level(1.0 - alpha)
    tail = 1.0 - level
    pass_p = fail_p = 0.0
    pass_k, fail_k = -1, 1
    for k_s, weight in _support(stable_n, stable_rate):
        t_pass = margin + lower_bound(k_s, stable_n, level)
        if t_pass >= 1.0:
            pass_k = canary_n
        else:
            while pass_k + 1 <= canary_n and binom_cdf(pass_k + 1, canary_n, t_pass) < tail:
                pass_k += 1
        if pass_k >= 0:
            pass_p += weight * binom_cdf(pass_k, canary_n, canary_rate)
        t_fail = margin + upper_bound(k_s, stable_n, level)
        if t_fail < 1.0:
            while fail_k <= canary_n and binom_sf(fail_k, canary_n, t_fail) >= tail:
                fail_k += 1
            if fail_k <= canary_n:
                fail_p += weight * binom_sf(fail_k, canary_n, canary_rate)
        else:
            fail_k = canary_n + 1
    return min(1.0, pass_p), min(1.0, fail_p)


@dataclass(frozen=True)
class DifferenceDesign:
    """Per-arm sizes for "canary rate - stable rate < margin", with exact error rates at n."""

    measure: str
    margin: float
    alpha: float
    power_target: float
    baseline: float  # the stable rate the powers assume (and the canary's, for PASS)
    effect: float  # canary excess over baseline at which the FAIL power is stated
    ratio: float  # stable per canary
    canary_n: int
    stable_n: int
    pass_power: float  # P(PASS | both at baseline)
    fail_power: float  # P(FAIL | canary at baseline + effect)
    false_pass: float  # P(PASS | canary at baseline + margin): <= alpha
    false_fail: float  # P(FAIL | both at baseline)

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "fixed-sample",
            "measure": self.measure,
            "canary_n": self.canary_n,
            "stable_n": self.stable_n,
            "margin": self.margin,
            "alpha": self.alpha,
            "power_target": self.power_target,
            "baseline": self.baseline,
            "effect": self.effect,
            "pass_power": round(self.pass_power, 6),
            "fail_power": round(self.fail_power, 6),
            "false_pass": round(self.false_pass, 6),
            "false_fail": round(self.false_fail, 6),
            "rule": "PASS: upper bound of canary - stable < margin; FAIL: lower bound > margin",
        }


@functools.cache
def difference_design(
    measure: str,
    margin: float,
    alpha: float = ALPHA,
    power: float = POWER,
    effect: float = ERROR_EFFECT,
    ratio: float = _ratio(EXPECTED_SHARE),
    baseline: float = 0.0,
) -> DifferenceDesign:
    """A canary n (stable: ratio x n) with PASS and FAIL powers both at `power`.

    Found by doubling and bisection from the zero-error minimum, and the n returned is one at
    which both exact powers hold; exact power is not strictly monotone in n (binomial steps), so
    a smaller n with enough power may exist.
    """
    _check_share("margin", margin)
    _check_alpha(alpha)
    _check_share("power", power)
    _check_share("baseline", baseline, closed=True)
    if effect <= margin or baseline + effect >= 1.0:
        raise ValueError(f"effect must exceed the margin {margin!r} and stay under 1 - baseline")
    if ratio <= 0:
        raise ValueError(f"ratio must be > 0, got {ratio!r}")

    def stable_n(canary_n: int) -> int:
        return max(1, math.ceil(ratio * canary_n))

    def powers(canary_n: int) -> tuple[float, float]:
        s_n = stable_n(canary_n)
        passing, _ = difference_probabilities(canary_n, s_n, baseline, baseline, margin, alpha)
        _, failing = difference_probabilities(
            canary_n, s_n, baseline + effect, baseline, margin, alpha
        )
        return passing, failing

    def enough(canary_n: int) -> bool:
        passing, failing = powers(canary_n)
        return passing >= power and failing >= power

    # PASS needs at least the n at which no error in either arm passes: U_c(0) < margin.
    level = sidak_level(1.0 - alpha)
    start = max(1, math.floor(math.log(1.0 - level) / math.log1p(-margin)) + 1)
    n = start if enough(start) else smallest_extra(lambda m: enough(start + m), cap=10**7)
    if n is None:
        raise ValueError(f"no {measure} design under 10^7 canary requests")
    canary_n = n if n == start else start + n
    passing, failing = powers(canary_n)
    false_pass, _ = difference_probabilities(
        canary_n, stable_n(canary_n), baseline + margin, baseline, margin, alpha
    )
    _, false_fail = difference_probabilities(
        canary_n, stable_n(canary_n), baseline, baseline, margin, alpha
    )
    return DifferenceDesign(
        measure,
        margin,
        alpha,
        power,
        baseline,
        effect,
        ratio,
        canary_n,
        stable_n(canary_n),
        passing,
        failing,
        false_pass,
        false_fail,
    )


@dataclass(frozen=True)
class LatencyDesign:
    """Per-arm latency samples for the rank test with an effect floor.

    Sized with the normal approximation of U for continuous samples: the floor is ruled out on
    two identical arms with `power` when (z_{1-alpha} + z_power) x SE(r) <= floor, and an effect
    of `effect` FAILs with `power` when (effect - floor) >= z_power x SE(r). The achieved false
    PASS and power are simulated, not exact: `bench/canary_power.py`.
    """

    effect_floor: float
    alpha: float
    power_target: float
    effect: float
    ratio: float
    canary_n: int
    stable_n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "design": "fixed-sample",
            "measure": "latency (rank-biserial r, canary against stable)",
            "canary_n": self.canary_n,
            "stable_n": self.stable_n,
            "effect_floor": self.effect_floor,
            "alpha": self.alpha,
            "power_target": self.power_target,
            "effect": self.effect,
            "sizing": "normal approximation of Mann-Whitney U; simulated in bench/canary_power.py",
            "rule": "FAIL: one-sided p < alpha and r > floor; PASS: upper bound of r < floor",
        }


def _null_se_r(canary_n: int, stable_n: int) -> float:
    """Standard error of the rank-biserial r under identical continuous arms."""
    return 2.0 * math.sqrt((canary_n + stable_n + 1) / (12.0 * canary_n * stable_n))


@functools.cache
def latency_design(
    effect_floor: float = EFFECT_FLOOR,
    alpha: float = ALPHA,
    power: float = POWER,
    effect: float = LATENCY_EFFECT,
    ratio: float = _ratio(EXPECTED_SHARE),
) -> LatencyDesign:
    if not 0.0 < effect_floor < 1.0:
        raise ValueError(f"effect_floor must be in (0, 1), got {effect_floor!r}")
    _check_alpha(alpha)
    _check_share("power", power)
    if not effect_floor < effect < 1.0:
        raise ValueError(f"effect must be in (effect_floor, 1), got {effect!r}")
    z_alpha, z_power = normal_quantile(1.0 - alpha), normal_quantile(power)

    def enough(canary_n: int) -> bool:
        se = _null_se_r(canary_n, max(1, math.ceil(ratio * canary_n)))
        return (z_alpha + z_power) * se <= effect_floor and (effect - effect_floor) >= (
            z_power * se
        )

    n = MIN_LATENCY_N
    if not enough(n):
        extra = smallest_extra(lambda m: enough(MIN_LATENCY_N + m), cap=10**8)
        if extra is None:
            raise ValueError("no latency design under 10^8 samples")
        n = MIN_LATENCY_N + extra
    stable = max(MIN_LATENCY_N, math.ceil(ratio * n))
    return LatencyDesign(effect_floor, alpha, power, effect, ratio, n, stable)


@dataclass(frozen=True)
class CanaryDesign:
    """Every comparison's fixed n, and the traffic through the balancer that reaches all of them.

    `total` is the number of requests to send through the balancer, decided before the first:
    the smallest at which, with the split at `expected`, each arm reaches its largest n with
    probability `headroom` (a deterministic weighted round robin reaches it with certainty).
    """

    split: SplitDesign
    errors: DifferenceDesign
    latency: LatencyDesign
    slow: DifferenceDesign
    headroom: float
    total: int

    @property
    def canary_n(self) -> int:
        return max(self.errors.canary_n, self.latency.canary_n, self.slow.canary_n)

    @property
    def stable_n(self) -> int:
        return max(self.errors.stable_n, self.latency.stable_n, self.slow.stable_n)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "canary_n": self.canary_n,
            "stable_n": self.stable_n,
            "headroom": self.headroom,
            "split": self.split.to_dict(),
            "errors": self.errors.to_dict(),
            "latency": self.latency.to_dict(),
            "slow_share": self.slow.to_dict(),
        }


def design_n(
    *,
    expected: float = EXPECTED_SHARE,
    broken: tuple[float, ...] = BROKEN_SHARES,
    alpha: float = ALPHA,
    power: float = POWER,
    error_margin: float = ERROR_MARGIN,
    error_effect: float = ERROR_EFFECT,
    error_baseline: float = 0.0,
    effect_floor: float = EFFECT_FLOOR,
    latency_effect: float = LATENCY_EFFECT,
    threshold_s: float = SLOW_THRESHOLD_S,
    slow_margin: float = SLOW_MARGIN,
    slow_effect: float = SLOW_EFFECT,
    slow_baseline: float = 0.0,
    headroom: float = HEADROOM,
) -> CanaryDesign:
    """The fixed per-arm sizes of every comparison, from the parameters alone (no data)."""
    _check_share("expected", expected)
    _check_share("headroom", headroom)
    ratio = _ratio(expected)
    split = split_design(expected, broken, 1.0 - alpha, power)
    errors = difference_design(
        "error rate", error_margin, alpha, power, error_effect, ratio, error_baseline
    )
    latency = latency_design(effect_floor, alpha, power, latency_effect, ratio)
    slow = difference_design(
        f"share over {threshold_s * 1000:g} ms",
        slow_margin,
        alpha,
        power,
        slow_effect,
        ratio,
        slow_baseline,
    )
    canary_n = max(errors.canary_n, latency.canary_n, slow.canary_n)
    stable_n = max(errors.stable_n, latency.stable_n, slow.stable_n)

    def reaches(total: int) -> bool:
        if total < max(split.n, canary_n + stable_n):
            return False
        few_canary = binom_cdf(canary_n - 1, total, expected)
        few_stable = 1.0 - binom_cdf(total - stable_n, total, expected)
        return few_canary <= 1.0 - headroom and few_stable <= 1.0 - headroom

    start = max(split.n, canary_n + stable_n)
    extra = 0 if reaches(start) else smallest_extra(lambda m: reaches(start + m), cap=_CAP)
    if extra is None:
        raise ValueError("no total under 10^9 requests reaches every design")
    return CanaryDesign(split, errors, latency, slow, headroom, start + extra)


# -- Judgements ---------------------------------------------------------------------------------


def _more(needed: int | None) -> str:
    return "cannot be said at the shares seen" if needed is None else f"{needed:,} more"


def split_share(
    canary: int,
    total: int,
    *,
    expected: float = EXPECTED_SHARE,
    broken: tuple[float, ...] = BROKEN_SHARES,
    confidence: float = 1.0 - ALPHA,
    power: float = POWER,
) -> Conclusion:
    """Is the canary's share of responses the plan's 10%, and not what a broken split gives?

    Blocking (rule: plan-criterion): the plan's phase 3 is a 90/10 split. Judged by the
    two-sided Clopper-Pearson interval at `confidence`; INCONCLUSIVE below the design's n.
    """
    if total < 0 or not 0 <= canary <= total:
        raise ValueError(f"need 0 <= canary <= total, got {canary} of {total}")
    design = split_design(expected, tuple(broken), confidence, power)
    tail = (1.0 - confidence) / 2.0
    share = canary / total if total else None
    facts: dict[str, Any] = {
        "comparison": "canary share of responses",
        "test": f"two-sided Clopper-Pearson interval at {confidence:g}",
        "canary_responses": canary,
        "total_responses": total,
        "share": None if share is None else round(share, 6),
        "interval": (
            None
            if not total
            else [
                round(lower_bound(canary, total, 1.0 - tail), 6),
                round(upper_bound(canary, total, 1.0 - tail), 6),
            ]
        ),
        "expected": expected,
        "broken": list(broken),
        "design": design.to_dict(),
    }
    if total < design.n:
        more = design.n - total
        facts["more_needed"] = {"responses": more}
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"{total:,} responses, {more:,} short of the fixed design of {design.n:,} "
            "for the canary's share",
            facts,
        )
    outcome = _split_decision(canary, total, expected, tuple(broken), confidence)
    interval = facts["interval"]
    seen = f"canary answered {canary:,} of {total:,} ({share:.2%}, interval {interval})"
    if outcome is Outcome.PASS:
        facts["more_needed"] = {"responses": 0}
        facts["summary"] = f"{seen}: holds {expected:g}, excludes {list(broken)}"
        return Conclusion(Outcome.PASS, facts["summary"], facts)
    if outcome is Outcome.FAIL:
        facts["more_needed"] = {"responses": 0}
        return Conclusion(Outcome.FAIL, f"{seen}: excludes the expected {expected:g}", facts)
    observed = canary / total

    def decides(extra: int) -> bool:
        n = total + extra
        k = min(n, round(observed * n))
        return (
            _split_decision(k, n, expected, tuple(broken), confidence) is not Outcome.INCONCLUSIVE
        )

    more_n = smallest_extra(decides, start=total, cap=_CAP)
    facts["more_needed"] = {"responses": more_n}
    still = [b for b in broken if not _excludes(canary, total, b, tail)]
    return Conclusion(
        Outcome.INCONCLUSIVE,
        f"{seen}: cannot yet exclude a broken split at {still}; {_more(more_n)} responses "
        "at this share would decide",
        facts,
    )


def _short_of_design(
    measure: str, have: tuple[int, int], design: tuple[int, int], facts: dict[str, Any]
) -> Conclusion | None:
    """INCONCLUSIVE below a fixed design's (stable, canary) sizes, saying how many more each."""
    short_s, short_c = (max(0, need - got) for got, need in zip(have, design, strict=True))
    if not (short_s or short_c):
        return None
    facts["more_needed"] = {"stable": short_s, "canary": short_c}
    return Conclusion(
        Outcome.INCONCLUSIVE,
        f"{measure}: {have[1]:,} canary and {have[0]:,} stable samples, below the fixed design "
        f"of {design[1]:,} / {design[0]:,}: {short_c:,} more canary and {short_s:,} more "
        "stable needed",
        facts,
    )


def _compare_difference(
    measure: str,
    stable: ArmSample,
    canary: ArmSample,
    counts: tuple[int, int, int, int],  # k_s, n_s, k_c, n_c
    design: DifferenceDesign,
    extra_facts: dict[str, Any],
) -> Conclusion:
    k_s, n_s, k_c, n_c = counts
    margin, alpha = design.margin, design.alpha
    facts: dict[str, Any] = {
        "comparison": f"{measure}, canary against stable",
        "test": "exact one-sided bounds on canary - stable (Clopper-Pearson per arm at the "
        f"Sidak level sqrt(1 - alpha) = {sidak_level(1.0 - alpha):.6f})",
        "stable": stable.summary(),
        "canary": canary.summary(),
        **extra_facts,
        "margin": margin,
        "alpha": alpha,
        "design": design.to_dict(),
    }
    if n_s and n_c:
        bounds = difference_bounds(k_c, n_c, k_s, n_s, 1.0 - alpha)
        facts["difference"] = round(bounds.difference, 9)
        facts["difference_lower"] = round(bounds.lower, 9)
        facts["difference_upper"] = round(bounds.upper, 9)
    short = _short_of_design(measure, (n_s, n_c), (design.stable_n, design.canary_n), facts)
    if short is not None:
        return short
    seen = (
        f"{measure}: canary {k_c:,}/{n_c:,} vs stable {k_s:,}/{n_s:,}, difference "
        f"{bounds.difference:+.4%} in [{bounds.lower:+.4%}, {bounds.upper:+.4%}] "
        f"(one-sided, each at {1 - alpha:g}; margin {margin:g})"
    )
    if bounds.upper < margin:
        facts["more_needed"] = {"stable": 0, "canary": 0}
        facts["summary"] = f"{seen}: the canary is no worse than stable by the margin"
        return Conclusion(Outcome.PASS, facts["summary"], facts)
    if bounds.lower > margin:
        facts["more_needed"] = {"stable": 0, "canary": 0}
        return Conclusion(
            Outcome.FAIL, f"{seen}: the canary is worse than stable by more than the margin", facts
        )
    rate_c, rate_s = k_c / n_c, k_s / n_s

    def decides(extra: int) -> bool:
        nc, ns = n_c + extra, n_s + math.ceil(extra * n_s / n_c)
        b = difference_bounds(round(rate_c * nc), nc, round(rate_s * ns), ns, 1.0 - alpha)
        return b.upper < margin or b.lower > margin

    more_c = smallest_extra(decides, start=n_c, cap=10**7)
    more_s = None if more_c is None else math.ceil(more_c * n_s / n_c)
    facts["more_needed"] = {"stable": more_s, "canary": more_c}
    return Conclusion(
        Outcome.INCONCLUSIVE,
        f"{seen}: the bounds straddle the margin; at these rates {_more(more_c)} canary and "
        f"{_more(more_s)} stable samples would decide (a new run of that size, not a top-up)",
        facts,
    )


def compare_error_rates(
    stable: ArmSample,
    canary: ArmSample,
    *,
    margin: float = ERROR_MARGIN,
    alpha: float = ALPHA,
    design: DifferenceDesign | None = None,
) -> Conclusion:
    """Is the canary's error rate no worse than stable's by more than `margin`?

    Blocking (rule: plan-criterion): "compare error rates between canary and stable".
    `design` defaults to `difference_design("error rate", margin, alpha)`; a given one must
    carry the same margin and alpha.
    """
    _check_roles(stable, canary)
    if design is None:
        design = difference_design(
            "error rate", margin, alpha, effect=_effect_for(margin, ERROR_EFFECT)
        )
    elif (design.margin, design.alpha) != (margin, alpha):
        raise ValueError(
            f"design margin/alpha {design.margin}/{design.alpha} differ from {margin}/{alpha}"
        )
    counts = (stable.errors, stable.requests, canary.errors, canary.requests)
    return _compare_difference("error rate", stable, canary, counts, design, {})


def compare_slow_share(
    stable: ArmSample,
    canary: ArmSample,
    *,
    threshold_s: float = SLOW_THRESHOLD_S,
    margin: float = SLOW_MARGIN,
    alpha: float = ALPHA,
    design: DifferenceDesign | None = None,
) -> Conclusion:
    """Is the canary's share of requests slower than `threshold_s` no worse than stable's?

    Blocking (rule: plan-criterion): the plan's p95 < 500 ms, compared between the arms as the
    share of requests over 500 ms (a p95 difference has no exact test; a share does).
    """
    _check_roles(stable, canary)
    if threshold_s <= 0:
        raise ValueError(f"threshold_s must be > 0, got {threshold_s!r}")
    measure = f"share over {threshold_s * 1000:g} ms"
    if design is None:
        design = difference_design(measure, margin, alpha, effect=_effect_for(margin, SLOW_EFFECT))
    elif (design.margin, design.alpha) != (margin, alpha):
        raise ValueError(
            f"design margin/alpha {design.margin}/{design.alpha} differ from {margin}/{alpha}"
        )
    slow_s, slow_c = stable.slow(threshold_s), canary.slow(threshold_s)
    extra = {"threshold_s": threshold_s, "slow": {"stable": slow_s, "canary": slow_c}}
    missing = [a.role for a in (stable, canary) if a.requests and not a.latencies_s]
    if missing:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"{measure}: no per-request latencies for {', '.join(missing)}",
            {"stable": stable.summary(), "canary": canary.summary(), **extra},
        )
    counts = (slow_s, len(stable.latencies_s), slow_c, len(canary.latencies_s))
    return _compare_difference(measure, stable, canary, counts, design, extra)


def compare_latency(
    stable: ArmSample,
    canary: ArmSample,
    *,
    effect_floor: float = EFFECT_FLOOR,
    alpha: float = ALPHA,
    design: LatencyDesign | None = None,
) -> Conclusion:
    """Is the canary slower than stable by an effect that matters?

    Blocking (rule: plan-criterion): "compare latency percentiles between canary and stable".
    Mann-Whitney U (Kayenta's judge) with a floor on the rank-biserial r: FAIL only when the
    canary is significantly slower and r is over the floor; PASS only when the upper bound on
    r is under the floor. A canary uniformly 300 ms slower has r near 1.
    """
    _check_roles(stable, canary)
    if design is None:
        design = latency_design(effect_floor, alpha)
    elif (design.effect_floor, design.alpha) != (effect_floor, alpha):
        raise ValueError(
            f"design floor/alpha {design.effect_floor}/{design.alpha} differ from "
            f"{effect_floor}/{alpha}"
        )
    facts: dict[str, Any] = {
        "comparison": "latency, canary against stable",
        "test": "Mann-Whitney U, one-sided (canary slower), normal approximation with tie and "
        "continuity corrections; effect: rank-biserial r = 2 P(canary > stable) - 1, upper "
        "bound from DeLong's standard error",
        "stable": stable.summary(),
        "canary": canary.summary(),
        "effect_floor": effect_floor,
        "alpha": alpha,
        "design": design.to_dict(),
    }
    missing = [a.role for a in (stable, canary) if not a.latencies_s]
    if missing:
        facts["more_needed"] = {"stable": design.stable_n, "canary": design.canary_n}
        return Conclusion(
            Outcome.INCONCLUSIVE, f"latency: no latencies for {', '.join(missing)}", facts
        )
    n_s, n_c = len(stable.latencies_s), len(canary.latencies_s)
    rank = mann_whitney(canary.latencies_s, stable.latencies_s)
    r_upper = min(1.0, 2.0 * rank.theta_upper(1.0 - alpha) - 1.0)
    facts.update(
        {
            "u": rank.u1,
            "z": round(rank.z, 4),
            "p_value": rank.p_greater,
            "common_language_effect": round(rank.theta, 6),
            "rank_biserial": round(rank.rank_biserial, 6),
            "rank_biserial_upper": round(r_upper, 6),
        }
    )
    short = _short_of_design("latency", (n_s, n_c), (design.stable_n, design.canary_n), facts)
    if short is not None:
        return short
    seen = (
        f"latency: canary p95 {facts['canary']['p95_ms']} ms vs stable "
        f"{facts['stable']['p95_ms']} ms; Mann-Whitney U={rank.u1:,.1f}, p={rank.p_greater:.3g}, "
        f"r={rank.rank_biserial:+.3f} (upper bound {r_upper:+.3f}, floor {effect_floor:g})"
    )
    if rank.p_greater < alpha and rank.rank_biserial > effect_floor:
        facts["more_needed"] = {"stable": 0, "canary": 0}
        return Conclusion(
            Outcome.FAIL, f"{seen}: the canary is slower, by more than the floor", facts
        )
    if r_upper < effect_floor:
        facts["more_needed"] = {"stable": 0, "canary": 0}
        facts["summary"] = f"{seen}: an effect at the floor is ruled out"
        return Conclusion(Outcome.PASS, facts["summary"], facts)
    # Standard errors shrink as 1/sqrt(n): the factor by which both arms must grow to decide.
    z = normal_quantile(1.0 - alpha)
    factor: float | None
    if rank.rank_biserial < effect_floor:
        factor = (z * 2.0 * rank.se_theta / (effect_floor - rank.rank_biserial)) ** 2
    elif rank.rank_biserial > effect_floor and rank.z > 0:
        factor = (z / rank.z) ** 2
    else:
        factor = None
    if factor is None or factor > 1e6:
        more_s = more_c = None
    else:
        more_s = max(1, math.ceil(n_s * factor) - n_s)
        more_c = max(1, math.ceil(n_c * factor) - n_c)
    facts["more_needed"] = {"stable": more_s, "canary": more_c}
    return Conclusion(
        Outcome.INCONCLUSIVE,
        f"{seen}: neither ruled out nor shown; at this effect {_more(more_c)} canary and "
        f"{_more(more_s)} stable latencies would decide (a new run of that size)",
        facts,
    )


def direct_designs() -> dict[str, DifferenceDesign | LatencyDesign]:
    """Each comparison's design when both sides are sampled straight, one request to each in turn.

    The defaults above assume the balancer's 9:1 split, where the error comparison needs about
    33,000 stable requests; a check that asks each side directly chooses its own 1:1 allocation
    (the error comparison then needs 3,789 per side). Keyed by the comparing function's name.
    """
    return {
        "compare_error_rates": difference_design(
            "error rate", ERROR_MARGIN, effect=ERROR_EFFECT, ratio=1.0
        ),
        "compare_latency": latency_design(ratio=1.0),
        "compare_slow_share": difference_design(
            f"share over {SLOW_THRESHOLD_S * 1000:g} ms",
            SLOW_MARGIN,
            effect=SLOW_EFFECT,
            ratio=1.0,
        ),
    }
