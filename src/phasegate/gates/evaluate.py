"""Judging one gate: `evaluate(spec, observation) -> GateResult`, a pure function.

An Observation is what a source (Prometheus, Alertmanager, or a test) saw for one gate and window:
counts, samples or alerts, plus how fresh the data was, or why nothing could be seen. The result is
PASS, FAIL or INCONCLUSIVE (ERROR for a configuration error such as a histogram with no bucket at
the threshold), and carries its evidence: the resolved query, the window, the samples, the observed
value, the bound, the threshold and a sentence a person can act on.

Rules that hold for every kind:
- missing, empty, NaN or stale data never passes (it is INCONCLUSIVE, or FAIL when the gate's
  no_data policy says so);
- a violation that was observed is reported as FAIL even when the data is otherwise thin or stale;
- ratios are judged by their one-sided 95% bounds, never by their point value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from phasegate.gates import stats
from phasegate.gates.spec import (
    COMPARATORS,
    PER_SECONDS,
    GateKind,
    GateSpec,
    NoData,
    format_duration,
)
from phasegate.outcomes import CheckResult, Kind, Outcome

CONFIDENCE = stats.CONFIDENCE

# -- What a source observed ------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A closed time interval in Unix seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)) or self.end <= self.start:
            raise ValueError(f"a window needs start < end, got {self.start}..{self.end}")

    @classmethod
    def ending(cls, seconds: float, end: float) -> Window:
        return cls(end - seconds, end)

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def before(self) -> Window:
        """The equally long window immediately before this one (the default baseline)."""
        return Window(self.start - self.duration_s, self.start)

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "duration": format_duration(round(self.duration_s, 3)),
        }

    def __str__(self) -> str:
        return f"{_iso(self.start)} .. {_iso(self.end)} ({format_duration(self.duration_s)})"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Counts:
    """Events out of total trials (errors out of requests, slow out of all) in one window."""

    events: float
    total: float
    start: float | None = None
    end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"events": self.events, "total": self.total}
        if self.start is not None and self.end is not None:
            data["start"], data["end"] = _iso(self.start), _iso(self.end)
        return data


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    state: str  # "active", "suppressed", "unprocessed" (Alertmanager) or "fired" (Prometheus)
    source: str  # "alertmanager" or "prometheus"
    labels: Mapping[str, str] = field(default_factory=dict)
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    starts_at: str = ""

    def line(self) -> str:
        extra = ""
        if self.silenced_by:
            extra += f" silenced by {', '.join(self.silenced_by)}"
        if self.inhibited_by:
            extra += f" inhibited by {', '.join(self.inhibited_by)}"
        return f"{self.name} [{self.severity}] {self.state} ({self.source}){extra}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "severity": self.severity,
            "state": self.state,
            "source": self.source,
            "labels": dict(self.labels),
            "silenced_by": list(self.silenced_by),
            "inhibited_by": list(self.inhibited_by),
            "starts_at": self.starts_at,
        }


@dataclass(frozen=True)
class AlertEvidence:
    """Alerts seen now (Alertmanager) and during the window (Prometheus ALERTS), and the rules.

    `rules` maps a severity to the number of alerting rules carrying it that Prometheus has loaded;
    None when the rules could not be read.
    """

    alerts: tuple[Alert, ...] = ()
    rules: Mapping[str, int] | None = None
    unhealthy_rules: tuple[str, ...] = ()
    alertmanager_error: str | None = None
    prometheus_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alerts": [a.to_dict() for a in self.alerts],
            "rules": dict(self.rules) if self.rules is not None else None,
            "unhealthy_rules": list(self.unhealthy_rules),
            "alertmanager_error": self.alertmanager_error,
            "prometheus_error": self.prometheus_error,
        }


@dataclass(frozen=True)
class Freshness:
    """Whether the target behind the data was being scraped during the window."""

    selector: str
    targets: int
    targets_up: int
    scrapes: int  # fewest scrapes of any one target in the window
    expected_scrapes: float
    last_scrape_age_s: float | None  # oldest "last scrape" among the targets, at window end
    scrape_interval_s: float
    min_coverage: float = 0.8
    max_age_s: float | None = None  # default: 3 scrape intervals + 2 s

    @property
    def age_limit_s(self) -> float:
        return self.max_age_s if self.max_age_s is not None else 3 * self.scrape_interval_s + 2

    def problems(self) -> tuple[str, ...]:
        found: list[str] = []
        if self.targets == 0:
            return (f"no scrape target matches {{{self.selector}}} (`up` has no series)",)
        if self.targets_up < self.targets:
            found.append(
                f"{self.targets - self.targets_up} of {self.targets} target(s) down (up == 0) "
                "at the end of the window"
            )
        if self.last_scrape_age_s is None:
            found.append("no scrape within the lookback before the end of the window")
        elif self.last_scrape_age_s > self.age_limit_s:
            found.append(
                f"last scrape {self.last_scrape_age_s:.1f} s before the end of the window "
                f"(limit {self.age_limit_s:.0f} s)"
            )
        if self.expected_scrapes > 0 and self.scrapes < self.min_coverage * self.expected_scrapes:
            found.append(
                f"the window holds {self.scrapes} scrapes of ~{self.expected_scrapes:.0f} "
                f"expected at {self.scrape_interval_s:g} s ({self.min_coverage:.0%} needed)"
            )
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return {
            "selector": self.selector,
            "targets": self.targets,
            "targets_up": self.targets_up,
            "scrapes": self.scrapes,
            "expected_scrapes": round(self.expected_scrapes, 1),
            "last_scrape_age_s": (
                round(self.last_scrape_age_s, 2) if self.last_scrape_age_s is not None else None
            ),
            "scrape_interval_s": self.scrape_interval_s,
            "problems": list(self.problems()),
        }


@dataclass(frozen=True)
class Observation:
    """What a source saw for one gate. Fill the part the gate's kind needs."""

    query: str = ""
    window: Window | None = None
    counts: Counts | None = None  # ratio and slow-share kinds, whole window
    parts: tuple[Counts, ...] = ()  # the same per sub-window
    baseline: Counts | None = None  # baseline kinds
    baseline_window: Window | None = None
    points: tuple[tuple[float, float], ...] = ()  # gauge and slope kinds: (unix time, value)
    step_s: float = 0.0
    alerts: AlertEvidence | None = None
    freshness: Freshness | None = None
    error: str | None = None  # nothing could be observed: why
    config_error: str | None = None  # the question cannot be asked of this data: why
    notes: tuple[str, ...] = ()


# -- The result -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    id: str
    title: str
    outcome: Outcome
    observed: float | None
    bound: float | None
    threshold: float
    comparator: str
    samples: int
    query: str
    window: Window | None
    reason: str
    blocking: bool = True
    unit: str = ""
    phases: tuple[str, ...] = ()
    plan: str = ""
    more_needed: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "outcome": self.outcome.value,
            "blocking": self.blocking,
            "observed": _clean(self.observed),
            "bound": _clean(self.bound),
            "threshold": self.threshold,
            "comparator": self.comparator,
            "unit": self.unit,
            "samples": self.samples,
            "more_needed": self.more_needed,
            "query": self.query,
            "window": self.window.to_dict() if self.window else None,
            "reason": self.reason,
            "plan": self.plan,
            "details": _json_safe(self.details),
        }

    def to_check_result(self, duration_s: float = 0.0) -> CheckResult:
        """The plugin's record for this gate (Kind.GATE)."""
        return CheckResult(
            id=f"gate.{self.id}",
            title=self.title,
            kind=Kind.GATE,
            outcome=self.outcome,
            blocking=self.blocking,
            phases=self.phases,
            description=self.plan,
            reason=self.reason,
            duration_s=duration_s,
            evidence=self.to_dict(),
        )

    def line(self) -> str:
        return f"{self.outcome.value.upper():12} {self.id}: {self.reason}"


def _clean(value: float | None) -> float | str | None:
    if value is None:
        return None
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return _clean(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# -- Formatting -----------------------------------------------------------------------------------

_MIB = 1024.0 * 1024.0


def fmt(value: float | None, unit: str) -> str:
    """A value in the gate's unit, the way a person reads it."""
    if value is None:
        return "n/a"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "infinite"
    if unit == "ratio":
        return f"{value * 100:.3f}%"
    if unit.startswith("bytes"):
        rest = unit.removeprefix("bytes")
        return f"{value / _MIB:.1f} MiB{rest}"
    if unit == "cores":
        return f"{value:.2f} cores ({value * 100:.0f}% of one core)"
    if unit == "rate ratio":
        return f"{value:.2f}x"
    if float(value).is_integer():
        return f"{int(value):,} {unit}".strip()
    return f"{value:.4g} {unit}".strip()


# -- Evaluation -----------------------------------------------------------------------------------


def _result(
    spec: GateSpec,
    obs: Observation,
    outcome: Outcome,
    reason: str,
    *,
    observed: float | None = None,
    bound: float | None = None,
    samples: int = 0,
    more_needed: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> GateResult:
    extra: dict[str, Any] = dict(details or {})
    if obs.freshness is not None:
        extra["freshness"] = obs.freshness.to_dict()
    if obs.notes:
        extra["notes"] = list(obs.notes)
    if obs.baseline_window is not None:
        extra["baseline_window"] = obs.baseline_window.to_dict()
    extra["kind"] = spec.kind.value
    extra["severity"] = spec.severity.value
    return GateResult(
        id=spec.id,
        title=spec.title,
        outcome=outcome,
        observed=observed,
        bound=bound,
        threshold=spec.threshold,
        comparator=spec.comparator,
        samples=samples,
        query=obs.query,
        window=obs.window,
        reason=reason,
        blocking=spec.blocking,
        unit=spec.unit,
        phases=spec.phases,
        plan=spec.plan,
        more_needed=more_needed,
        details=extra,
    )


def _no_data_outcome(spec: GateSpec) -> Outcome:
    return Outcome.FAIL if spec.no_data is NoData.FAIL else Outcome.INCONCLUSIVE


def _no_data(spec: GateSpec, obs: Observation, why: str, **kw: Any) -> GateResult:
    policy = " (no_data policy: fail)" if spec.no_data is NoData.FAIL else ""
    return _result(spec, obs, _no_data_outcome(spec), f"no data{policy}: {why}", **kw)


def evaluate(spec: GateSpec, obs: Observation, confidence: float = CONFIDENCE) -> GateResult:
    """Judge one gate from one observation. Never raises on bad data; only on a bad spec."""
    if obs.config_error:
        return _result(spec, obs, Outcome.ERROR, f"configuration error: {obs.config_error}")
    if spec.kind is GateKind.ALERTS:
        return _alerts(spec, obs)
    if obs.error:
        return _no_data(spec, obs, obs.error)
    try:
        if spec.kind in (GateKind.RATIO, GateKind.SLOW_SHARE):
            result = _ratio(spec, obs, confidence)
        elif spec.kind.baseline:
            result = _baseline(spec, obs, confidence)
        elif spec.kind is GateKind.GAUGE:
            result = _gauge(spec, obs)
        else:
            result = _slope(spec, obs, confidence)
    except (ArithmeticError, ValueError) as exc:
        # Data no statistic can digest (for example values near the float limit) decides nothing.
        return _no_data(spec, obs, f"the data cannot be evaluated ({type(exc).__name__}: {exc})")
    return _apply_freshness(spec, obs, result)


def _apply_freshness(spec: GateSpec, obs: Observation, result: GateResult) -> GateResult:
    problems = obs.freshness.problems() if obs.freshness is not None else ()
    if not problems or result.outcome in (Outcome.ERROR,):
        return result
    stale = "; ".join(problems)
    if result.outcome is Outcome.FAIL:
        reason = f"{result.reason} (the data is also incomplete: {stale})"
        return _replace(result, reason=reason)
    if result.outcome is Outcome.PASS:
        reason = f"stale or incomplete data, so no PASS: {stale}; the data said: {result.reason}"
        return _replace(result, outcome=_no_data_outcome(spec), reason=reason)
    return _replace(result, reason=f"{result.reason}; also stale or incomplete: {stale}")


def _replace(result: GateResult, **changes: Any) -> GateResult:
    return replace(result, **changes)


def _what(spec: GateSpec) -> tuple[str, str]:
    """(events noun, total noun) for reasons."""
    if spec.kind.histogram:
        return (f"requests slower than {spec.le:g} s", "requests")
    return ("errors", "requests")


def _bad_counts(counts: Counts | None, label: str) -> str | None:
    if counts is None:
        return f"the {label} queries returned no series"
    for name, value in (("events", counts.events), ("total", counts.total)):
        if not math.isfinite(value):
            return f"the {label} {name} count is {value} (NaN or infinite)"
        if value < 0:
            return f"the {label} {name} count is negative ({value})"
    if counts.total < 0.5:
        return f"no requests in the {label} window"
    if counts.events > counts.total + 0.5:
        return (
            f"inconsistent {label} counts: {counts.events:g} events but {counts.total:g} trials "
            "(series from different scrapes?)"
        )
    return None


def _round(counts: Counts) -> tuple[int, int]:
    n = round(counts.total)
    return min(round(counts.events), n), n


def _ratio(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    problem = _bad_counts(obs.counts, "window")
    if problem:
        return _no_data(spec, obs, problem)
    assert obs.counts is not None
    k, n = _round(obs.counts)
    events, total = _what(spec)
    lo = stats.lower_bound(k, n, confidence)
    hi = stats.upper_bound(k, n, confidence)
    threshold = spec.threshold
    limit = COMPARATORS[spec.comparator]
    needed = stats.requests_to_pass(k, n, threshold, confidence)
    if needed is not None and n < spec.min_samples:
        needed = max(needed, spec.min_samples - n)
    details: dict[str, Any] = {
        "events": k,
        "total": n,
        "lower": lo,
        "upper": hi,
        "confidence": confidence,
    }
    if obs.counts.events != k or obs.counts.total != n:
        details["raw_counts"] = obs.counts.to_dict()
    observed = k / n
    seen = f"{k:,} {events} in {n:,} {total} ({fmt(observed, spec.unit)})"

    # "For N continuous hours": any sub-window that on its own breaks the threshold fails the gate.
    failing = _failing_parts(spec, obs.parts, confidence)
    if failing:
        details["failing_parts"] = failing
    details["parts"] = len(obs.parts)
    common: dict[str, Any] = {"observed": observed, "samples": n, "details": details}

    if n < spec.min_samples:
        return _result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: fewer than min_samples={spec.min_samples} {total}, too few to decide; "
            f"{_needed_text(needed, spec)}",
            bound=hi,
            more_needed=needed,
            **common,
        )
    if not limit(lo, threshold):
        return _result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen}: the 95% lower bound {fmt(lo, spec.unit)} is not {spec.comparator} "
            f"{fmt(threshold, spec.unit)}",
            bound=lo,
            **common,
        )
    if failing:
        first = failing[0]
        return _result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen} overall, but {len(failing)} sub-window(s) broke the threshold, first "
            f"{first['start']}..{first['end']}: {first['events']} {events} in {first['total']} "
            f"{total}, lower bound {fmt(first['lower'], spec.unit)}",
            bound=first["lower"],
            **common,
        )
    if limit(hi, threshold):
        return _result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: the 95% upper bound {fmt(hi, spec.unit)} is {spec.comparator} "
            f"{fmt(threshold, spec.unit)}",
            bound=hi,
            more_needed=0,
            **common,
        )
    return _result(
        spec,
        obs,
        Outcome.INCONCLUSIVE,
        f"{seen}: the 95% bounds {fmt(lo, spec.unit)}..{fmt(hi, spec.unit)} straddle "
        f"{fmt(threshold, spec.unit)}; {_needed_text(needed, spec)}",
        bound=hi,
        more_needed=needed,
        **common,
    )


def _needed_text(needed: int | None, spec: GateSpec) -> str:
    if needed is None:
        return "no number of further requests would decide"
    if spec.kind.histogram:
        return f"{needed:,} more requests, none slower than {spec.le:g} s, would decide"
    return f"{needed:,} more requests with no error would decide"


def _failing_parts(
    spec: GateSpec, parts: Sequence[Counts], confidence: float
) -> list[dict[str, Any]]:
    if len(parts) < 2:
        return []
    # Bonferroni: many sub-windows, one family-wise confidence.
    alpha = (1.0 - confidence) / len(parts)
    part_confidence = 1.0 - alpha
    limit = COMPARATORS[spec.comparator]
    failing: list[dict[str, Any]] = []
    for part in parts:
        if _bad_counts(part, "sub-window") is not None:
            continue
        k, n = _round(part)
        if n < spec.min_samples:
            continue
        lo = stats.lower_bound(k, n, part_confidence)
        if not limit(lo, spec.threshold):
            failing.append(
                {
                    "start": _iso(part.start) if part.start is not None else "?",
                    "end": _iso(part.end) if part.end is not None else "?",
                    "events": k,
                    "total": n,
                    "lower": lo,
                    "confidence": part_confidence,
                }
            )
    return failing


def _baseline(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    problem = _bad_counts(obs.counts, "window") or _bad_counts(obs.baseline, "baseline")
    if problem:
        return _no_data(spec, obs, problem)
    assert obs.counts is not None and obs.baseline is not None
    k1, n1 = _round(obs.counts)
    k0, n0 = _round(obs.baseline)
    events, total = _what(spec)
    margin = spec.threshold
    cmp = stats.compare_rates(k1, n1, k0, n0, margin, confidence)
    window_upper = stats.upper_bound(k1, n1, confidence)
    floor = spec.floor
    details: dict[str, Any] = {
        "window": {"events": k1, "total": n1, "rate": k1 / n1, "upper": window_upper},
        "baseline": {"events": k0, "total": n0, "rate": k0 / n0},
        "ratio": cmp.ratio,
        "ratio_lower": cmp.ratio_lower,
        "ratio_upper": cmp.ratio_upper,
        "p_value_increase": cmp.p_value,
        "margin": margin,
        "floor": floor,
        "confidence": confidence,
    }
    seen = (
        f"window {k1:,}/{n1:,} {events} ({fmt(k1 / n1, 'ratio')}) against baseline "
        f"{k0:,}/{n0:,} ({fmt(k0 / n0, 'ratio')})"
    )
    common: dict[str, Any] = {"observed": cmp.ratio, "samples": n1, "details": details}
    if min(n1, n0) < spec.min_samples:
        return _result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: fewer than min_samples={spec.min_samples} {total} in a window",
            bound=cmp.ratio_upper,
            more_needed=max(0, spec.min_samples - min(n1, n0)),
            **common,
        )
    ratio_text = (
        f"rate ratio 95% bounds {fmt(cmp.ratio_lower, spec.unit)}.."
        f"{fmt(cmp.ratio_upper, spec.unit)}"
    )
    if cmp.ratio_lower > margin:
        return _result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen}: an increase, {ratio_text}, lower bound above the allowed "
            f"{fmt(margin, spec.unit)} (one-sided p = {cmp.p_value:.2g})",
            bound=cmp.ratio_lower,
            **common,
        )
    if cmp.ratio_upper <= margin:
        return _result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: {ratio_text}, upper bound within {fmt(margin, spec.unit)}",
            bound=cmp.ratio_upper,
            more_needed=0,
            **common,
        )
    if floor is not None and window_upper < floor:
        return _result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: {ratio_text} cannot exclude an increase, but the window's own rate is "
            f"under {fmt(floor, 'ratio')} (upper bound {fmt(window_upper, 'ratio')})",
            bound=cmp.ratio_upper,
            more_needed=0,
            **common,
        )
    needed = _baseline_needed(k1, n1, k0, n0, margin, floor, confidence)
    return _result(
        spec,
        obs,
        Outcome.INCONCLUSIVE,
        f"{seen}: {ratio_text} straddle the allowed {fmt(margin, spec.unit)}; "
        f"{_needed_text(needed, spec)}",
        bound=cmp.ratio_upper,
        more_needed=needed,
        **common,
    )


def _baseline_needed(
    k1: int, n1: int, k0: int, n0: int, margin: float, floor: float | None, confidence: float
) -> int | None:
    candidates: list[int] = []
    if floor is not None:
        by_floor = stats.requests_to_pass(k1, n1, floor, confidence)
        if by_floor is not None:
            candidates.append(by_floor)
    if k1 + k0 > 0:

        def passes(extra: int) -> bool:
            return stats.compare_rates(k1, n1 + extra, k0, n0, margin, confidence).ratio_upper <= (
                margin
            )

        hi = 1
        while not passes(hi) and hi <= 10**12:
            hi *= 2
        if hi <= 10**12:
            lo = hi // 2
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if passes(mid):
                    hi = mid
                else:
                    lo = mid
            candidates.append(hi)
    return min(candidates) if candidates else None


def _finite_points(obs: Observation) -> tuple[list[tuple[float, float]], int]:
    good = [
        (t, v)
        for t, v in obs.points
        if math.isfinite(t) and isinstance(v, float | int) and math.isfinite(v)
    ]
    return sorted(good), len(obs.points) - len(good)


def _gauge(spec: GateSpec, obs: Observation) -> GateResult:
    points, dropped = _finite_points(obs)
    if not points:
        why = "the query returned no samples"
        if dropped:
            why = f"all {dropped} samples were NaN or infinite"
        return _no_data(spec, obs, why)
    ok = COMPARATORS[spec.comparator]
    upper_limit = spec.comparator in ("<", "<=")
    values = [v for _, v in points]
    worst = max(values) if upper_limit else min(values)
    span = points[-1][0] - points[0][0]
    step = obs.step_s if obs.step_s > 0 else _typical_step(points)
    runs = _breach_runs(points, lambda v: not ok(v, spec.threshold), step)
    longest = max((r[1] - r[0] + step for r in runs), default=0.0)
    details: dict[str, Any] = {
        "worst": worst,
        "last": values[-1],
        "points": len(points),
        "dropped_nan": dropped,
        "span_s": span,
        "step_s": step,
        "breaches": [
            {"start": _iso(a), "end": _iso(b), "duration_s": b - a + step} for a, b in runs
        ][:10],
        "longest_breach_s": longest,
    }
    common: dict[str, Any] = {"observed": worst, "samples": len(points), "details": details}
    limit_text = f"{spec.comparator} {fmt(spec.threshold, spec.unit)}"
    if runs and longest >= spec.sustain_s:
        sustained = f" for {format_duration(longest)}" if spec.sustain_s > 0 else ""
        return _result(
            spec,
            obs,
            Outcome.FAIL,
            f"worst {fmt(worst, spec.unit)} broke {limit_text}{sustained} "
            f"({len(runs)} breach(es) in {len(points)} samples)",
            **common,
        )
    note = (
        f"; {len(runs)} breach(es) shorter than {format_duration(spec.sustain_s)} allowed"
        if runs
        else ""
    )
    if dropped:
        note += f"; {dropped} NaN sample(s) ignored"
    if len(points) < spec.min_samples or span < spec.min_span_s:
        return _result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{len(points)} samples over {format_duration(max(span, 0.001))}: needs "
            f"{spec.min_samples} samples over at least "
            f"{format_duration(spec.min_span_s) if spec.min_span_s else 'any span'}; "
            f"worst so far {fmt(worst, spec.unit)}{note}",
            **common,
        )
    return _result(
        spec,
        obs,
        Outcome.PASS,
        f"all {len(points)} samples over {format_duration(span)} {limit_text}: worst "
        f"{fmt(worst, spec.unit)}{note}",
        **common,
    )


def _typical_step(points: Sequence[tuple[float, float]]) -> float:
    gaps = sorted(b[0] - a[0] for a, b in itertools.pairwise(points))
    return gaps[len(gaps) // 2] if gaps else 0.0


def _breach_runs(
    points: Sequence[tuple[float, float]], breaks: Callable[[float], bool], step: float
) -> list[tuple[float, float]]:
    """(first, last) timestamps of consecutive breaching samples; a gap over 2 steps splits."""
    runs: list[tuple[float, float]] = []
    start: float | None = None
    last: float | None = None
    for t, v in points:
        gap = last is not None and step > 0 and t - last > 2 * step
        if breaks(v) and not gap and start is not None:
            last = t
            continue
        if start is not None and last is not None:
            runs.append((start, last))
        start, last = (t, t) if breaks(v) else (None, t)
    if start is not None and last is not None:
        runs.append((start, last))
    return runs


def _slope(spec: GateSpec, obs: Observation, confidence: float) -> GateResult:
    points, dropped = _finite_points(obs)
    if not points:
        why = "the query returned no samples"
        if dropped:
            why = f"all {dropped} samples were NaN or infinite"
        return _no_data(spec, obs, why)
    per = PER_SECONDS[spec.per]
    times = [t for t, _ in points]
    values = [v for _, v in points]
    span = times[-1] - times[0]
    fit = stats.fit_slope(times, values, confidence)
    details: dict[str, Any] = {
        "points": len(points),
        "dropped_nan": dropped,
        "span_s": span,
        "first": values[0],
        "last": values[-1],
        "per": spec.per,
        "confidence": confidence,
    }
    if fit is None:
        return _result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{len(points)} samples cannot give a slope (at least 3 over a time span needed)",
            samples=len(points),
            details=details,
        )
    slope, lo, hi = fit.slope * per, fit.lower * per, fit.upper * per
    details.update(slope=slope, lower=lo, upper=hi, stderr=fit.stderr * per)
    ok = COMPARATORS[spec.comparator]
    upper_limit = spec.comparator in ("<", "<=")
    favourable, unfavourable = (hi, lo) if upper_limit else (lo, hi)
    seen = (
        f"slope {fmt(slope, spec.unit)} (95% bounds {fmt(lo, spec.unit)}..{fmt(hi, spec.unit)}) "
        f"from {len(points)} samples over {format_duration(max(span, 0.001))}"
    )
    common: dict[str, Any] = {"observed": slope, "samples": len(points), "details": details}
    if len(points) < spec.min_samples or span < spec.min_span_s:
        return _result(
            spec,
            obs,
            Outcome.INCONCLUSIVE,
            f"{seen}: a growth rate needs {spec.min_samples} samples over at least "
            f"{format_duration(spec.min_span_s)}",
            bound=favourable,
            **common,
        )
    if not ok(unfavourable, spec.threshold):
        return _result(
            spec,
            obs,
            Outcome.FAIL,
            f"{seen}: even the favourable bound is not {spec.comparator} "
            f"{fmt(spec.threshold, spec.unit)}",
            bound=unfavourable,
            **common,
        )
    if ok(favourable, spec.threshold):
        return _result(
            spec,
            obs,
            Outcome.PASS,
            f"{seen}: {spec.comparator} {fmt(spec.threshold, spec.unit)} with 95% confidence",
            bound=favourable,
            **common,
        )
    return _result(
        spec,
        obs,
        Outcome.INCONCLUSIVE,
        f"{seen}: the bounds straddle {fmt(spec.threshold, spec.unit)}; a longer window narrows "
        "them",
        bound=favourable,
        **common,
    )


def _alerts(spec: GateSpec, obs: Observation) -> GateResult:
    evidence = obs.alerts
    if evidence is None:
        return _no_data(spec, obs, obs.error or "no alert source was queried")
    wanted = set(spec.severities)
    matching = [a for a in evidence.alerts if a.severity in wanted]
    names = sorted({a.name for a in matching})
    count = float(len(names))
    details: dict[str, Any] = {
        "severities": list(spec.severities),
        "matching": [a.line() for a in matching],
        **evidence.to_dict(),
    }
    common: dict[str, Any] = {
        "observed": count,
        "samples": len(evidence.alerts),
        "details": details,
    }
    label = "/".join(spec.severities)
    if not COMPARATORS[spec.comparator](count, spec.threshold):
        return _result(
            spec,
            obs,
            Outcome.FAIL,
            f"{len(names)} {label} alert(s): " + "; ".join(a.line() for a in matching[:10]),
            **common,
        )
    problems = [
        f"{source} unreachable or erroring: {error}"
        for source, error in (
            ("Alertmanager", evidence.alertmanager_error),
            ("Prometheus", evidence.prometheus_error),
        )
        if error
    ]
    if obs.error:
        problems.append(obs.error)
    if evidence.rules is not None:
        loaded = sum(evidence.rules.get(s, 0) for s in spec.severities)
        if loaded == 0:
            problems.append(
                f"no alerting rule with severity {label} is loaded in Prometheus, so no such "
                "alert could have fired"
            )
    if evidence.unhealthy_rules:
        problems.append(
            f"{len(evidence.unhealthy_rules)} alerting rule(s) fail to evaluate: "
            + ", ".join(evidence.unhealthy_rules[:5])
        )
    if problems:
        return _no_data(spec, obs, "; ".join(problems), **common)
    rules = sum(evidence.rules.get(s, 0) for s in spec.severities) if evidence.rules else 0
    return _result(
        spec,
        obs,
        Outcome.PASS,
        f"no {label} alert fired in the window or is active now (silenced and inhibited "
        f"included); {rules} {label} rule(s) loaded",
        **common,
    )


def evaluate_all(
    pairs: Sequence[tuple[GateSpec, Observation]], confidence: float = CONFIDENCE
) -> list[GateResult]:
    return [evaluate(spec, obs, confidence) for spec, obs in pairs]
