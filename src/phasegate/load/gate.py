"""The load gate: a pure function from measured statistics to PASS / FAIL / INCONCLUSIVE.

What it judges, each as its own `Judgement`:

- **volume**: at least `min_requests` answered requests in the gated groups; fewer refuses a
  verdict.
- **latency**, overall (every gated group: all but setup and cleanup) and per judged endpoint
  group (memory.read, memory.write, modules, packs; one that sent nothing cannot pass):
  "p95 < 500 ms" is asked as "fewer than 5% of
  requests take 500 ms or more", with a one-sided 95% Clopper-Pearson bound on that share.
  Locust's rounding is respected: requests stored in the bucket that straddles the threshold
  (495..505 ms are all stored as 500) count as slow when deciding PASS and as fast when deciding
  FAIL. PASS when even the pessimistic upper bound is under 5%, FAIL when the optimistic lower
  bound is over it, INCONCLUSIVE in between (with how many more requests would decide). A group
  with fewer than `min_group_requests` requests cannot PASS.
- **failures**: the share of requests that failed as the client saw them, judged the same way
  against `max_failure_ratio` (the plan's 0.1%): unexpected statuses, 5xx, and requests that
  got no answer. Locust records a timeout, a refused or a reset connection as a failed request
  (status 0) in its row, so they are counted here although no server metric sees them: without
  Prometheus this is the gate that stops a rollout on them.
- **rate limit**: 429s are their own outcome: never a pass, never a failure. More than
  `max_rate_limited_ratio` of all requests refused by the limiter means the traffic did not
  measure the service, so the gate cannot decide.

The combination is strict: any FAIL fails the gate (even on few requests: a FAIL is only called
when the data already prove it), otherwise any INCONCLUSIVE makes it INCONCLUSIVE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from phasegate.gates import spec as gate_spec
from phasegate.gates.design import design_for
from phasegate.gates.spec import GateKind, GateSpec
from phasegate.gates.stats import lower_bound, more_requests_to_decide, upper_bound
from phasegate.load.profiles import JUDGED_GROUPS, UNGATED_GROUPS
from phasegate.load.stats import GroupStats, LoadStats
from phasegate.outcomes import Conclusion, Outcome

OVERALL = "overall"


@dataclass(frozen=True)
class LoadGateSpec:
    latency_ms: float = 500.0
    quantile: float = 0.95
    max_failure_ratio: float = 0.001  # the plan's error rate, as the client saw it
    min_requests: int = 300
    min_group_requests: int = 77  # the design n of a 5% share (catalog row load-p95)
    max_rate_limited_ratio: float = 0.01
    confidence: float = 0.95
    ungated_groups: frozenset[str] = field(default=UNGATED_GROUPS)
    judged_groups: tuple[str, ...] = JUDGED_GROUPS

    def __post_init__(self) -> None:
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile}")
        if self.latency_ms <= 0:
            raise ValueError("latency_ms must be positive")
        if not 0.0 <= self.max_failure_ratio < 1.0:
            raise ValueError("max_failure_ratio must be in [0, 1)")
        if not 0.0 <= self.max_rate_limited_ratio < 1.0:
            raise ValueError("max_rate_limited_ratio must be in [0, 1)")
        if self.min_requests < 0 or self.min_group_requests < 0:
            raise ValueError("minimum request counts must not be negative")

    @classmethod
    def from_gate(cls, row: GateSpec) -> LoadGateSpec:
        """The load gate's criteria from its catalog row (kind "load"), overrides applied."""
        if row.kind is not GateKind.LOAD:
            raise ValueError(f"gate {row.id!r} is a {row.kind.value} gate, not the load gate")
        assert row.le is not None and row.min_group_samples is not None  # validated by the row
        assert row.max_failure_ratio is not None and row.max_rate_limited_ratio is not None
        # A group below the design's n can never pass: the design is the group minimum.
        design = design_for(row)
        group_minimum = max(row.min_group_samples, design.n if design else 0)
        return cls(
            latency_ms=row.le * 1000.0,
            quantile=1.0 - row.threshold,
            max_failure_ratio=row.max_failure_ratio,
            min_requests=row.min_samples,
            min_group_requests=group_minimum,
            max_rate_limited_ratio=row.max_rate_limited_ratio,
        )

    @property
    def percentile_label(self) -> str:
        return f"p{self.quantile * 100:g}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "quantile": self.quantile,
            "max_failure_ratio": self.max_failure_ratio,
            "min_requests": self.min_requests,
            "min_group_requests": self.min_group_requests,
            "max_rate_limited_ratio": self.max_rate_limited_ratio,
            "confidence": self.confidence,
            "ungated_groups": sorted(self.ungated_groups),
            "judged_groups": list(self.judged_groups),
        }


def catalog_spec(overrides: Path | None = None) -> LoadGateSpec:
    """The load gate's criteria: the catalog's "load" row with a user's override file applied."""
    return LoadGateSpec.from_gate(gate_spec.load(overrides).load_gate)


@dataclass(frozen=True)
class Judgement:
    check: str  # volume, latency, failures, rate-limit
    scope: str  # "overall" or an endpoint group
    outcome: Outcome
    reason: str
    samples: int
    observed: float | None = None
    bound: float | None = None
    threshold: float | None = None
    more_requests: int | None = None

    @property
    def label(self) -> str:
        return f"{self.check} {self.scope}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "scope": self.scope,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "samples": self.samples,
            "observed": _round(self.observed),
            "bound": _round(self.bound),
            "threshold": self.threshold,
            "more_requests": self.more_requests,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass(frozen=True)
class LoadGateResult:
    outcome: Outcome
    reason: str
    judgements: tuple[Judgement, ...]
    spec: LoadGateSpec
    overall: dict[str, Any]
    groups: dict[str, dict[str, Any]]
    backends: dict[str, dict[str, Any]] = field(default_factory=dict)

    def failed(self) -> list[Judgement]:
        return [j for j in self.judgements if j.outcome is Outcome.FAIL]

    def undecided(self) -> list[Judgement]:
        return [j for j in self.judgements if j.outcome is Outcome.INCONCLUSIVE]

    def headline(self) -> str:
        """One line for the verdict's reason: the numbers, then what did not pass."""
        p = self.spec.percentile_label
        groups = ", ".join(
            f"{name} {self.groups.get(name, {}).get(f'{p}_ms')}" for name in self.spec.judged_groups
        )
        line = (
            f"{p} {self.overall.get(f'{p}_ms')} ms overall ({groups}) over "
            f"{self.overall.get('requests')} requests; {self.overall.get('all_failures')} "
            f"failures, {self.overall.get('rate_limited')} rate-limited"
        )
        if self.outcome is Outcome.FAIL:
            line += "; failed: " + ", ".join(j.label for j in self.failed())
        elif self.outcome is Outcome.INCONCLUSIVE:
            line += "; undecided: " + ", ".join(j.label for j in self.undecided())
        return line

    def message(self) -> str:
        """The headline, then one line per judgement that did not pass."""
        details = [j.reason for j in self.judgements if j.outcome is not Outcome.PASS]
        return "\n".join([self.headline(), *details])

    def to_evidence(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "reason": self.reason,
            "overall": self.overall,
            "groups": self.groups,
            "backends": self.backends,
            "judgements": [j.to_dict() for j in self.judgements],
            "spec": self.spec.to_dict(),
        }

    def conclusion(self, cleanup: Cleanup | None = None) -> Conclusion:
        """The run's conclusion, with the sweep after it: data left behind fails the check, a
        cleanup the target kept refusing (429) to verify leaves a passing run undecided."""
        facts = {
            "summary": self.headline(),
            "load": self.to_evidence(),
            "p95_ms": {name: group["p95_ms"] for name, group in self.groups.items()}
            | {f"backend {name}": b["p95_ms"] for name, b in self.backends.items()}
            | {OVERALL: self.overall["p95_ms"]},
        }
        if cleanup is not None and cleanup.problems:
            return Conclusion(
                Outcome.FAIL,
                "the load run left data the sweep could not remove: "
                + "; ".join(cleanup.problems[:5]),
                facts,
            )
        if self.outcome is not Outcome.PASS:
            return Conclusion(self.outcome, self.message(), facts)
        if cleanup is not None and cleanup.unverified:
            return Conclusion(
                Outcome.INCONCLUSIVE,
                f"{self.headline()}; but the cleanup could not be verified (the target kept "
                f"answering 429): {'; '.join(cleanup.unverified[:3])}",
                facts,
            )
        return Conclusion(Outcome.PASS, self.reason, facts)


class Cleanup(Protocol):
    """What the conclusion reads of a sweep (phasegate.load.sweep.SweepReport)."""

    problems: list[str]
    unverified: list[str]


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _judge_share(
    *,
    check: str,
    scope: str,
    sure: int,
    maybe: int,
    total: int,
    limit: float,
    spec: LoadGateSpec,
    minimum: int,
    what: str,
    headline: str,
) -> Judgement:
    """Judge "share of `what` < limit" with `sure` certain and `maybe` possible cases of n."""
    low = lower_bound(sure, total, spec.confidence) if total else 0.0
    high = upper_bound(maybe, total, spec.confidence) if total else 1.0
    observed = maybe / total if total else None
    conf = f"{spec.confidence * 100:g}%"
    if total and low > limit:
        return Judgement(
            check,
            scope,
            Outcome.FAIL,
            f"{scope}: {headline}; {sure} of {total} {what} ({_pct(sure / total)}), so with "
            f"{conf} confidence more than {_pct(limit)} are (lower bound {_pct(low)})",
            total,
            observed,
            low,
            limit,
        )
    if total < minimum:
        return Judgement(
            check,
            scope,
            Outcome.INCONCLUSIVE,
            f"{scope}: only {total} requests, fewer than the {minimum} needed to judge; {headline}",
            total,
            observed,
            high,
            limit,
            minimum - total,
        )
    if high < limit:
        return Judgement(
            check,
            scope,
            Outcome.PASS,
            f"{scope}: {headline}; at most {_pct(high)} {what} ({conf} bound) < {_pct(limit)}",
            total,
            observed,
            high,
            limit,
        )
    more = more_requests_to_decide(sure, maybe, total, limit, spec.confidence)
    if more:
        need = f"about {more} more requests at these shares would decide"
    else:
        need = "the share sits on the threshold (or straddles it within locust's rounding)"
    return Judgement(
        check,
        scope,
        Outcome.INCONCLUSIVE,
        f"{scope}: {headline}; {maybe} of {total} {what} ({_pct(maybe / total)}): cannot tell "
        f"whether the share is under {_pct(limit)} ({conf} bounds {_pct(low)}..{_pct(high)}); "
        f"{need}",
        total,
        observed,
        high,
        limit,
        more,
    )


def judge_latency(group: GroupStats, spec: LoadGateSpec, minimum: int) -> Judgement:
    split = group.histogram.split(spec.latency_ms)
    point = group.percentile(spec.quantile)
    shown = "no data" if point is None else f"{point} ms"
    headline = f"{spec.percentile_label} {shown} (locust rounding) vs < {spec.latency_ms:g} ms"
    return _judge_share(
        check="latency",
        scope=group.name,
        sure=split.slow,
        maybe=split.maybe_slow,
        total=group.requests,
        limit=1.0 - spec.quantile,
        spec=spec,
        minimum=minimum,
        what=f"took {spec.latency_ms:g} ms or more",
        headline=headline,
    )


def judge_failures(group: GroupStats, spec: LoadGateSpec, minimum: int) -> Judgement:
    return _judge_share(
        check="failures",
        scope=group.name,
        sure=group.failures,
        maybe=group.failures,
        total=group.requests,
        limit=spec.max_failure_ratio,
        spec=spec,
        minimum=minimum,
        what="failed",
        headline=f"{group.failures} failures in {group.requests} requests",
    )


def judge_volume(gated: GroupStats, spec: LoadGateSpec) -> Judgement:
    if gated.requests < spec.min_requests:
        return Judgement(
            "volume",
            OVERALL,
            Outcome.INCONCLUSIVE,
            f"only {gated.requests} answered requests in the gated groups; the gate needs at "
            f"least {spec.min_requests} to give a verdict",
            gated.requests,
            float(gated.requests),
            None,
            float(spec.min_requests),
            spec.min_requests - gated.requests,
        )
    return Judgement(
        "volume",
        OVERALL,
        Outcome.PASS,
        f"{gated.requests} answered requests (>= {spec.min_requests})",
        gated.requests,
        float(gated.requests),
        None,
        float(spec.min_requests),
    )


def judge_rate_limit(everything: GroupStats, spec: LoadGateSpec) -> Judgement:
    refused = everything.rate_limited
    sent = everything.requests + refused
    share = refused / sent if sent else 0.0
    if refused and share > spec.max_rate_limited_ratio:
        return Judgement(
            "rate-limit",
            OVERALL,
            Outcome.INCONCLUSIVE,
            f"the target's limiter refused {refused} of {sent} requests ({_pct(share)} > "
            f"{_pct(spec.max_rate_limited_ratio)}) with 429: the run measured the limiter, not "
            "the service; spread the traffic over more clients or raise the limit",
            sent,
            share,
            None,
            spec.max_rate_limited_ratio,
        )
    return Judgement(
        "rate-limit",
        OVERALL,
        Outcome.PASS,
        f"{refused} requests refused with 429 ({_pct(share)}), counted apart",
        sent,
        share,
        None,
        spec.max_rate_limited_ratio,
    )


def combine(judgements: Iterable[Judgement]) -> tuple[Outcome, str]:
    items = list(judgements)
    failed = [j for j in items if j.outcome is Outcome.FAIL]
    if failed:
        return Outcome.FAIL, "; ".join(j.reason for j in failed)
    undecided = [j for j in items if j.outcome is Outcome.INCONCLUSIVE]
    if undecided:
        return Outcome.INCONCLUSIVE, "; ".join(j.reason for j in undecided)
    return Outcome.PASS, ""


class Sizing(Protocol):
    """What the gate reads of the run's plan (phasegate.load.sizing.LoadSizing)."""

    def too_small(self) -> str | None: ...


def judge_sizing(undecided: bool, sizing: Sizing) -> Judgement:
    """A run planned too small to reach every n, and undecided, says so first."""
    warning = sizing.too_small()
    if warning and undecided:
        return Judgement("sizing", OVERALL, Outcome.INCONCLUSIVE, warning, 0)
    return Judgement("sizing", OVERALL, Outcome.PASS, warning or "sized to reach every n", 0)


def evaluate(
    stats: LoadStats, spec: LoadGateSpec | None = None, sizing: Sizing | None = None
) -> LoadGateResult:
    """Judge one run's statistics; pure, so the same numbers always give the same verdict."""
    spec = spec or LoadGateSpec()
    all_groups = sorted(stats.groups)
    gated_names = [g for g in all_groups if g not in spec.ungated_groups]
    gated = stats.combine(OVERALL, gated_names)
    everything = stats.combine("all requests", all_groups)
    judgements: list[Judgement] = [
        judge_volume(gated, spec),
        judge_rate_limit(everything, spec),
        judge_failures(everything, spec, spec.min_requests),
        judge_latency(gated, spec, spec.min_requests),
    ]
    for name in spec.judged_groups:
        group = stats.groups.get(name) or stats.combine(name, [name])
        judgements.append(judge_latency(group, spec, spec.min_group_requests))
    # Behind a balancer that names the backend (phase 3), each backend's own p95 is judged too:
    # a canary taking a tenth of the traffic can be slow without moving the overall p95.
    backends = stats.backends(gated_names)
    for backend in backends.values():
        judgements.append(judge_latency(backend, spec, spec.min_group_requests))
    if sizing is not None:
        # The plan's own judgement when the run was planned (load.sizing): it leads the reason
        # of an undecided run that was sized too small from the start.
        undecided = combine(judgements)[0] is Outcome.INCONCLUSIVE
        judgements.insert(0, judge_sizing(undecided, sizing))
    outcome, why = combine(judgements)
    overall = gated.summary()
    overall["all_requests"] = everything.requests
    overall["all_failures"] = everything.failures
    overall["rate_limited"] = everything.rate_limited
    result = LoadGateResult(
        outcome=outcome,
        reason=why,
        judgements=tuple(judgements),
        spec=spec,
        overall=overall,
        groups={name: group.summary() for name, group in stats.groups.items()},
        backends={name: backend.summary() for name, backend in backends.items()},
    )
    if outcome is Outcome.PASS:
        result = dataclasses.replace(result, reason=result.headline())
    return result
