"""One gate evaluation per run: traffic top-up, client/server triangulation, then every gate.

Under pytest-xdist several workers reach the gate checks; the first one computes and writes the
result file, the others wait on the lock and read it, so Prometheus is asked once and the
top-up traffic is sent once.

The top-up's size is fixed before its first request: the error-rate gate's design n
(`gates.design`, from the catalog row) minus the requests already in the window, a count that
does not depend on any outcome, capped by `max_requests`. One burst, no second round: sending
more because errors moved the bound would be optional stopping, each 5xx buying clean requests
until the bound passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasegate.client import ClientConfig
from phasegate.gates import blind_spots
from phasegate.gates.client_side import ClientCounts, count_client_failures
from phasegate.gates.design import BinomialDesign, design_for
from phasegate.gates.run import run_gates
from phasegate.gates.soak import SOAK_RATE_PER_S, auto_soak_s, coverage_note, soak
from phasegate.gates.spec import GateSpec
from phasegate.gates.spec import load as load_catalog
from phasegate.gates.triangulate import Counter, PrometheusUnavailable, judge
from phasegate.outcomes import Conclusion, Outcome
from phasegate.pacing import Pacer
from phasegate.progress import Progress
from phasegate.resources import Ledger, compute_once
from phasegate.stack.monitoring import packaged_rules
from phasegate.traffic.threaded import Tally, send
from phasegate.traffic.top_up import mix_for_phase

ERROR_GATE = "error-rate"
# The top-up's pace. Sent as fast as the server answers, the phase-2 mix saturated SkillMeat on
# two cores (about 9 requests/s): the latency and CPU gates then judged the suite's own overload,
# not the release. Bounded under that knee, the gates judge the release under steady traffic.
TOP_UP_RATE_PER_S = 6.0
# Requests the server's count may not hold (429s, a retried setup): fixed, never outcome-driven.
TOP_UP_MARGIN = (0.02, 50)


@dataclass(frozen=True)
class GatePlan:
    phase: str
    prometheus_url: str | None
    alertmanager_url: str | None
    client: ClientConfig
    ledger: Ledger
    projects_root: str
    window_s: float | None  # --gate-window; None: since `monitoring_since`
    monitoring_since: float | None
    overrides: Path | None
    top_up: bool  # send the error-rate gate's designed sample (embedded stack)
    writes_allowed: bool
    max_requests: int = 8000
    max_seconds: float = 1200.0  # the top-up's own time is its planned size at its pace, + 25%
    rate_per_s: float = TOP_UP_RATE_PER_S
    triangulation_requests: int = 300
    soak_s: float = 0.0  # --soak: steady traffic this long before the gates are judged


def _window(plan: GatePlan) -> float | None:
    if plan.window_s is not None:
        return plan.window_s
    if plan.monitoring_since:
        return max(1.0, time.time() - plan.monitoring_since + 1.0)
    return None


def _requests_in_window(plan: GatePlan) -> int:
    """Requests the error-rate gate already counts in its window: the count alone, no outcome."""
    result = run_gates(
        plan.phase,
        prometheus_url=plan.prometheus_url,
        window_s=_window(plan),
        overrides=plan.overrides,
        ids=[ERROR_GATE],
    )[0]
    return max(0, int(result.samples))


@dataclass(frozen=True)
class TopUp:
    """How much traffic to send, decided once before the first request."""

    planned: int
    in_window: int
    design: BinomialDesign | None
    cap: int

    def to_dict(self, sent: int, bursts: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "sent": sent,
            "in_window_before": self.in_window,
            "cap": self.cap,
            "rule": "fixed before the first request: the design's n minus the requests already "
            "in the window (plus a fixed margin), capped; one burst, never grown on outcomes",
            "design": self.design.to_dict() if self.design else None,
            "bursts": bursts,
        }


def plan_top_up(design: BinomialDesign | None, in_window: int, *, minimum: int, cap: int) -> TopUp:
    """The top-up's size from counts alone: what the design still lacks, at least `minimum`."""
    lacking = 0
    if design is not None and in_window < design.n:
        share, fixed = TOP_UP_MARGIN
        lacking = design.n - in_window
        lacking += int(lacking * share) + fixed
    return TopUp(min(cap, max(minimum, lacking)), in_window, design, cap)


def evaluate_gates(plan: GatePlan, progress: Progress) -> dict[str, Any]:
    """Everything the gate checks need, as JSON-safe data."""
    out: dict[str, Any] = {
        "gates": {},
        "triangulation": None,
        "blind_spots": None,
        "traffic": None,
    }
    if not plan.prometheus_url:
        return out
    triangulation: dict[str, Any] | None = None
    if plan.writes_allowed:
        triangulation = _traffic_and_triangulation(plan, progress, out)
    out["triangulation"] = triangulation
    specs = {spec.id: spec for spec in load_catalog(plan.overrides).for_phase(plan.phase)}
    out["soak"] = _soak(plan, progress, specs.values())
    progress("evaluating the metric gates against Prometheus")
    covered = _window(plan) if plan.top_up else None
    for result in run_gates(
        plan.phase,
        prometheus_url=plan.prometheus_url,
        alertmanager_url=plan.alertmanager_url,
        window_s=_window(plan),
        overrides=plan.overrides,
    ):
        reason = result.reason
        note = coverage_note(specs[result.id], covered) if covered and result.id in specs else None
        if note and result.outcome is Outcome.INCONCLUSIVE:
            reason = f"{reason}; {note}"
        out["gates"][result.id] = {
            "outcome": result.outcome.value,
            "reason": reason,
            "evidence": {**result.to_dict(), "reason": reason},
        }
    if out["traffic"] and ERROR_GATE in out["gates"]:
        # The suite's own failures count, those no server metric sees included; on the
        # embedded stack the window is the suite's synthetic mix, and the reason says so.
        mix = mix_for_phase(plan.phase).to_dict() if plan.top_up else None
        # The soak's traffic is in the same window: its failures count too.
        soaked = (out.get("soak") or {}).get("bursts", [])
        client = ClientCounts.from_tallies([*out["traffic"]["bursts"], *soaked])
        out["gates"][ERROR_GATE] = count_client_failures(out["gates"][ERROR_GATE], client, mix)
    return out


def _soak(plan: GatePlan, progress: Progress, specs: Iterable[GateSpec]) -> dict[str, Any] | None:
    """--soak (and, on the embedded default, a small gap to the shortest span), before judging.

    Durations only: the user's --soak, or the few seconds the embedded run lacks for the CPU
    gate's 5 minutes; never a number read from a gate's outcome. Traffic needs writes (the
    driver works in projects of its own): with --writes=deny nothing is sent.
    """
    auto = auto_soak_s(specs, _window(plan) or 0.0) if plan.top_up else 0.0
    seconds = max(plan.soak_s, auto)
    if seconds <= 0:
        return None
    why = "--soak" if plan.soak_s >= auto else "closing the gap to the CPU gate's 5 m window"
    if not plan.writes_allowed:
        progress("soak: --writes=deny, no traffic sent; the gates judge the target's own traffic")
        return {"planned_s": seconds, "covered_s": 0.0, "reason": "writes denied: no traffic"}

    def minute(seconds_left: float) -> Tally:
        return send(
            plan.client,
            plan.ledger,
            requests=10**9,  # bounded by time and rate, not by a count
            max_seconds=seconds_left,
            projects_root=plan.projects_root,
            mix=mix_for_phase(plan.phase),
            progress=lambda _: None,
            pacer=Pacer(plan.ledger.path.parent / f"pace-{plan.client.run_id}.txt"),
            rate_per_s=SOAK_RATE_PER_S,
        )

    return soak(seconds, minute, progress, reason=why).to_dict()


def _traffic_and_triangulation(
    plan: GatePlan, progress: Progress, out: dict[str, Any]
) -> dict[str, Any]:
    assert plan.prometheus_url is not None
    counter = Counter(plan.prometheus_url)
    views = blind_spots.plan_views(
        packaged_rules(), load_catalog(plan.overrides).for_phase(plan.phase)
    )
    try:
        scraped = counter.last_scrape()
        before = counter.read(scraped)
        classes_before = counter.read_queries(blind_spots.CLASS_QUERIES, scraped)
        top_up = TopUp(plan.triangulation_requests, 0, None, plan.max_requests)
        if plan.top_up:
            design = design_for(load_catalog(plan.overrides).get(ERROR_GATE))
            top_up = plan_top_up(
                design,
                _requests_in_window(plan),
                minimum=plan.triangulation_requests,
                cap=plan.max_requests,
            )
            shown = f"the design's n={design.n:,}" if design else "no design"
        seconds = min(plan.max_seconds, top_up.planned / plan.rate_per_s * 1.25 + 30)
        if plan.top_up:
            progress(
                f"gate traffic: {shown}, {top_up.in_window:,} requests already in the window; "
                f"sending {top_up.planned:,}, fixed now, at {plan.rate_per_s:g} req/s "
                f"(about {top_up.planned / plan.rate_per_s / 60:.0f} min, at most "
                f"{seconds:.0f} s)"
            )
        tally = _burst(plan, top_up.planned, time.monotonic() + seconds, progress)
        out["traffic"] = {
            **top_up.to_dict(tally.requests, [tally.to_dict()]),
            "rate_per_s": plan.rate_per_s,
        }
        scraped = counter.scrape_after(tally.finished + 0.1)
        after = counter.read(scraped)
        classes_after = counter.read_queries(blind_spots.CLASS_QUERIES, scraped)
    except PrometheusUnavailable as exc:
        unavailable = {"outcome": "inconclusive", "reason": f"Prometheus: {exc}", "facts": {}}
        out["blind_spots"] = unavailable
        return unavailable
    finally:
        counter.close()
    judgement = judge(
        tally.answered,
        tally.server_errors,
        tally.rate_limited,
        before,
        after,
        tally.transport_errors,
    )
    spots = blind_spots.compare(dict(tally.by_class), classes_before, classes_after, views)
    out["blind_spots"] = {
        "outcome": spots.outcome.value,
        "reason": spots.reason,
        "facts": spots.facts,
    }
    return {
        "outcome": judgement.outcome.value,
        "reason": judgement.reason,
        "facts": {**judgement.facts, "client": tally.to_dict()},
    }


def entry_conclusion(entry: Mapping[str, Any]) -> Conclusion:
    """A stored gate or triangulation entry as its check's conclusion.

    The facts are the entry's evidence (a gate) or facts (the triangulation) under "gate", and
    the reason as the summary a passing check shows.
    """
    reason = str(entry["reason"])
    facts = entry.get("evidence") or entry.get("facts") or {}
    return Conclusion(Outcome(entry["outcome"]), reason, {"gate": facts, "summary": reason})


def _burst(plan: GatePlan, requests: int, deadline: float, progress: Progress) -> Tally:
    started = time.monotonic()
    tally = send(
        plan.client,
        plan.ledger,
        requests=requests,
        max_seconds=max(1.0, deadline - started),
        projects_root=plan.projects_root,
        mix=mix_for_phase(plan.phase),
        progress=progress,
        rate_per_s=plan.rate_per_s,
        # The same pacing file as the smoke checks' project creation, shared across workers.
        pacer=Pacer(plan.ledger.path.parent / f"pace-{plan.client.run_id}.txt"),
    )
    progress(
        f"gate traffic: {tally.requests} requests in {time.monotonic() - started:.0f} s "
        f"({tally.server_errors} 5xx, {tally.transport_errors} without an answer, "
        f"{tally.rate_limited} 429)"
    )
    return tally


def shared_evaluation(
    directory: Path, run_id: str, compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Compute once per run across processes; later callers read the stored result."""
    return compute_once(directory, f"gates-{run_id}", compute)
