"""What the suite's own traffic adds to the error gates: failures only the client saw, and its mix.

The error-rate gate reads the server's counters, and a server cannot count what never reached
it or never left it: a timeout, a refused or a reset connection. The suite's traffic knows of
every one (`traffic.threaded.Tally`), so the gate counts them too:

- the server's window plus the client's transport failures, as errors and as requests:
  FAIL when the lower bound of that share is over the threshold, and a PASS holds only while
  its upper bound stays under it (else INCONCLUSIVE with how many clean requests would decide);
- the client's own requests alone (5xx and transport failures of all it sent): FAIL when their
  lower bound is over the threshold, whatever the server's counters say. A target that hangs
  fails here even when Prometheus has nothing to show.

The bounds are `gates.stats`' (one-sided Clopper-Pearson), as in every ratio gate. On the
embedded stack the window holds mostly the suite's own top-up, so the gate judges a synthetic
mix: its reason says so and its evidence states the mix (operation -> share).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from phasegate.gates.stats import CONFIDENCE, lower_bound, requests_to_pass, upper_bound
from phasegate.outcomes import Outcome


@dataclass(frozen=True)
class ClientCounts:
    """The suite's own requests over the gate's window: all sent, failed, never answered."""

    requests: int = 0
    failures: int = 0  # 5xx answers and transport failures
    transport: int = 0  # timeouts, refused and reset connections

    @classmethod
    def from_tallies(cls, tallies: Iterable[Mapping[str, Any]]) -> ClientCounts:
        rows = list(tallies)
        return cls(
            requests=sum(int(row.get("requests", 0)) for row in rows),
            failures=sum(int(row.get("failures", 0)) for row in rows),
            transport=sum(int(row.get("transport_errors", 0)) for row in rows),
        )


def _pct(value: float) -> str:
    return f"{value * 100:.3f}%"


def count_client_failures(
    entry: Mapping[str, Any],
    client: ClientCounts,
    mix: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A stored ratio-gate entry with the client's failures counted, and its mix stated.

    `entry` is {"outcome", "reason", "evidence"} as the gate session stores it; `mix` the
    top-up's mix (`TopUpMix.to_dict()`) when the window was filled with synthetic traffic.
    """
    evidence = dict(entry.get("evidence") or {})
    details = evidence.get("details") or {}
    threshold = float(evidence.get("threshold", 0.0))
    confidence = float(details.get("confidence", CONFIDENCE))
    outcome = Outcome(entry["outcome"])
    reason = str(entry.get("reason", ""))
    notes: list[str] = []
    facts: dict[str, Any] = {
        "client_requests": client.requests,
        "client_failures": client.failures,
        "transport_failures": client.transport,
    }

    if client.requests and threshold > 0:
        low = lower_bound(client.failures, client.requests, confidence)
        facts["client_lower"] = round(low, 8)
        if low > threshold and outcome is not Outcome.FAIL:
            outcome = Outcome.FAIL
            notes.append(
                f"the suite's own requests alone fail it: {client.failures} of "
                f"{client.requests} failed ({client.transport} without an answer), lower "
                f"bound {_pct(low)} > {_pct(threshold)}"
            )
    events, total = details.get("events"), details.get("total")
    if client.transport and isinstance(events, int) and isinstance(total, int) and threshold:
        k, n = events + client.transport, total + client.transport
        low, high = lower_bound(k, n, confidence), upper_bound(k, n, confidence)
        facts.update(events=k, total=n, lower=round(low, 8), upper=round(high, 8))
        counted = (
            f"with the {client.transport} transport failures (timeouts, refused or reset "
            f"connections) the server could not count, {k} errors in {n} requests"
        )
        if low > threshold and outcome is not Outcome.FAIL:
            outcome = Outcome.FAIL
            notes.append(f"{counted}: lower bound {_pct(low)} > {_pct(threshold)}")
        elif outcome is Outcome.PASS and not high < threshold:
            outcome = Outcome.INCONCLUSIVE
            # A fixed design (gates.design) names no further requests: that would be
            # optional stopping; without one, the old search says what would decide.
            more = None if details.get("design") else requests_to_pass(k, n, threshold, confidence)
            facts["more_needed"] = more
            notes.append(
                f"{counted}: upper bound {_pct(high)} is not under {_pct(threshold)}; "
                + (
                    f"{more:,} more requests with no error would decide"
                    if more
                    else "the fixed design's sample is undecided: judge a fresh window"
                )
            )
        else:
            notes.append(f"{counted} (lower {_pct(low)}, upper {_pct(high)})")
    if notes:
        reason = f"{reason}; " + "; ".join(notes)
    if mix is not None:
        reason = (
            f"synthetic mix (the suite's own traffic: the {mix.get('profile')} load profile's "
            f"operations in its shares, evidence 'mix'): {reason}"
        )
        evidence["mix"] = dict(mix)
    evidence["client_side"] = facts
    evidence["outcome"] = outcome.value
    evidence["reason"] = reason
    return dict(entry, outcome=outcome.value, reason=reason, evidence=evidence)
