"""Phase 3's own judgements that are not comparison statistics: gates per side, memory split.

The canary's client-side gates reuse the catalog's rows and `gates.evaluate` on the counts the
client saw, so "error rate < 0.1%" is decided by exactly the design and bound the server-side
gate uses; only the source differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from phasegate.canary.probe import SLOW_S, Attempt
from phasegate.gates.evaluate import evaluate
from phasegate.gates.observation import Counts, Observation, Window
from phasegate.gates.result import GateResult
from phasegate.gates.spec import GateSpec
from phasegate.outcomes import Conclusion, Outcome

REFUSED = (404, 403, 503)  # what a flag-OFF instance answers a memory call with (as in phase 1)


def client_counts(gate_id: str, attempts: Sequence[Attempt]) -> Counts:
    """The events a catalog row counts, as the client saw them; 429s are nobody's answer."""
    judged = [a for a in attempts if not a.limited and not a.path.startswith("/health")]
    if gate_id == "latency-p95":
        events = sum(1 for a in judged if a.status is not None and a.latency_s >= SLOW_S)
        total = sum(1 for a in judged if a.status is not None)
    else:
        events = sum(a.failed for a in judged)
        total = len(judged)
    return Counts(events=float(events), total=float(total))


def client_gate(
    gate_id: str, attempts: Sequence[Attempt], row: Callable[[str], GateSpec]
) -> Conclusion:
    """A catalog row judged on the client's counts (health probes excluded, as the row does)."""
    spec = row(gate_id)
    now = time.time()
    started = min((a.started for a in attempts), default=0.0)
    span = max(1.0, time.monotonic() - started) if attempts else 1.0
    obs = Observation(
        query=f"client side: {len(attempts)} requests sent straight to the canary",
        window=Window(now - span, now),
        counts=client_counts(gate_id, attempts),
    )
    return _as_conclusion([evaluate(spec, obs)], "client side")


def gate_conclusion(results: Sequence[GateResult], selector: str) -> Conclusion:
    return _as_conclusion(results, f"canary series {{{selector}}}")


def _as_conclusion(results: Sequence[GateResult], source: str) -> Conclusion:
    """Several gate results as one check: the worst outcome decides, every reason is kept."""
    order = [Outcome.ERROR, Outcome.FAIL, Outcome.INCONCLUSIVE, Outcome.WARN, Outcome.PASS]
    worst = min((r.outcome for r in results), key=order.index, default=Outcome.INCONCLUSIVE)
    reason = "; ".join(f"{r.id} ({source}): {r.reason}" for r in results) or "no gate evaluated"
    facts: dict[str, Any] = {"gates": [r.to_dict() for r in results], "summary": reason}
    return Conclusion(worst, reason, facts)


def judge_memory_difference(seen: Mapping[str, Mapping[str, int | None]]) -> Conclusion:
    """Canary serves the memory endpoints (2xx), stable (flag OFF) refuses them."""
    facts: dict[str, Any] = {"answers": {k: dict(v) for k, v in seen.items()}}
    problems = []
    canary, stable = seen.get("canary", {}), seen.get("stable", {})
    if canary.get("write") not in (200, 201):
        problems.append(f"canary (flag ON) answered the memory write with {canary.get('write')}")
    if canary.get("list") != 200:
        problems.append(f"canary (flag ON) answered the memory list with {canary.get('list')}")
    if stable.get("write") not in REFUSED:
        problems.append(
            f"stable (flag OFF) answered the memory write with {stable.get('write')}, "
            f"not a refusal ({', '.join(map(str, REFUSED))})"
        )
    if stable.get("list") not in REFUSED:
        problems.append(
            f"stable (flag OFF) answered the memory list with {stable.get('list')}, not a refusal"
        )
    if problems:
        return Conclusion(Outcome.FAIL, "; ".join(problems), facts)
    summary = "memory endpoints served by the canary and refused by stable, as the flags say"
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})


def judge_impact(results: Mapping[str, Sequence[Mapping[str, Any]]], reads: int) -> Conclusion:
    """The same user sessions through the balancer and against stable alone, step by step.

    A session is: create a project (201), write a memory item into it (201), read it back
    `reads` times (200 each). Impact "zero or positive" means the balancer's sessions succeed
    wherever stable alone's did.
    """

    def tally(sessions: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
        wanted = len(sessions) * (2 + reads)
        ok = (
            sum(s.get("project") == 201 for s in sessions)
            + sum(s.get("write") == 201 for s in sessions)
            + sum(r == 200 for s in sessions for r in s.get("reads", []))
        )
        return ok, wanted

    base_ok, base_n = tally(results.get("stable-alone", ()))
    via_ok, via_n = tally(results.get("balancer", ()))
    facts: dict[str, Any] = {
        "steps_ok_stable_alone": f"{base_ok}/{base_n}",
        "steps_ok_balancer": f"{via_ok}/{via_n}",
    }
    if base_n == 0 or via_n == 0:
        return Conclusion(Outcome.INCONCLUSIVE, "no session was run", facts)
    if base_ok < base_n:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"the baseline itself failed ({base_ok} of {base_n} steps on stable alone): no "
            "reference to compare the balancer with",
            facts,
        )
    if via_ok < via_n:
        split = [
            s
            for s in results["balancer"]
            if s.get("project_side") != s.get("write_side")
            or any(side != s.get("write_side") for side in s.get("read_sides", []))
        ]
        return Conclusion(
            Outcome.FAIL,
            f"through the balancer {via_n - via_ok} of {via_n} steps of the same sessions failed "
            f"(stable alone: none); {len(split)} of {len(results['balancer'])} sessions had "
            "their steps answered by different sides",
            facts,
        )
    summary = f"all {via_n} steps of {len(results['balancer'])} sessions succeeded, as alone"
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})
