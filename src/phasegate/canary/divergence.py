"""Do stable and canary answer the same request the same way (ids and timestamps aside)?

The plan's phase-3 gate asks for "no divergence in behaviour between canary and stable". Both
sides run the same release, so every endpoint they both serve must answer alike; the flag's own
field and the memory endpoints are the intended difference and are named as such, not hidden.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from phasegate.outcomes import Conclusion, Outcome

# Values that differ between any two processes by construction: identifiers, clocks, uptimes.
VOLATILE_KEYS = frozenset(
    {
        "id",
        "request_id",
        "created_at",
        "updated_at",
        "deprecated_at",
        "generated_at",
        "timestamp",
        "time",
        "uptime",
        "uptime_seconds",
        "started_at",
        "last_check",
        "pack_id",
        "duration_ms",
        "response_time_ms",
    }
)
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")
_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
# Which answers are the flag's intended difference: the flag's own field in the flags listing.
FLAG_FIELD = "memory_context_enabled"


def normalize(value: Any, aside: frozenset[str] = frozenset()) -> Any:
    """The body with ids, timestamps and the named fields replaced by placeholders."""
    if isinstance(value, Mapping):
        return {
            k: ("<volatile>" if k in VOLATILE_KEYS or k in aside else normalize(v, aside))
            for k, v in sorted(value.items())
        }
    if isinstance(value, list):
        return [normalize(v, aside) for v in value]
    if isinstance(value, str) and (_ISO_TIME.match(value) or _HEX_ID.match(value)):
        return "<volatile>"
    if isinstance(value, float):
        return round(value, 6)
    return value


def _body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass(frozen=True)
class Answer:
    status: int | None
    body: str


@dataclass(frozen=True)
class Pair:
    """One seeded request, sent to both sides, and what each answered."""

    name: str
    method: str
    path: str
    stable: Answer
    canary: Answer
    aside: frozenset[str] = frozenset()  # fields that are the intended difference here

    def difference(self) -> str | None:
        if self.stable.status != self.canary.status:
            return f"status {self.stable.status} (stable) vs {self.canary.status} (canary)"
        left = normalize(_body(self.stable.body), self.aside)
        right = normalize(_body(self.canary.body), self.aside)
        if left != right:
            return f"body differs: stable {_short(left)} vs canary {_short(right)}"
        return None


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 300 else text[:300] + "..."


def judge_divergence(pairs: Sequence[Pair]) -> Conclusion:
    """FAIL on any pair answered differently; INCONCLUSIVE when a side gave no answer at all."""
    if not pairs:
        return Conclusion(Outcome.INCONCLUSIVE, "no request was compared")
    unanswered = [p.name for p in pairs if p.stable.status is None or p.canary.status is None]
    diffs = {p.name: d for p in pairs if (d := p.difference()) is not None}
    facts: dict[str, Any] = {
        "compared": [f"{p.method} {p.path}" for p in pairs],
        "differences": diffs,
    }
    if diffs:
        first = next(iter(diffs.items()))
        return Conclusion(
            Outcome.FAIL,
            f"{len(diffs)} of {len(pairs)} requests answered differently by stable and canary; "
            f"first: {first[0]}: {first[1]}",
            facts,
        )
    if unanswered:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            f"no answer from one side for {', '.join(unanswered)}",
            facts,
        )
    summary = f"{len(pairs)} seeded requests answered alike by stable and canary"
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})
