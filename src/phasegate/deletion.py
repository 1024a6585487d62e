"""Is a deletion complete: every place that showed a resource before no longer shows it.

A check looks at each surface (get by id, listings, searches, counts, module links, packs) once
before the delete and once after, and hands both observations here. A surface that did not show
the resource before the delete proves nothing after it, so it is reported as not judged rather
than passed; when the resource's own GET cannot be judged, neither can the deletion
(INCONCLUSIVE). Pure: no HTTP, no pytest.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from phasegate.outcomes import Conclusion, Outcome


class Reach(enum.StrEnum):
    BY_ID = "by-id"  # addressed by the deleted thing's id: must answer a refusal
    LISTING = "listing"  # a listing, search, count or pack: must answer without it


@dataclass(frozen=True)
class Surface:
    """One place a resource may show, seen before and after its deletion.

    `shown_before` / `shown_after`: whether the answer held the resource (None: the answer could
    not be read as a list of it). `status_after`: the HTTP status of the look after.
    """

    name: str
    reach: Reach
    shown_before: bool | None
    status_after: int
    shown_after: bool | None
    gone_codes: frozenset[int] = frozenset({404})  # the refusals that mean "gone" here


def judge_surface(surface: Surface, any_refusal: bool = False) -> tuple[str, str]:
    """(finding, why). Findings are the severity rule's names, or "ok", "not-judged" and
    "unreadable". A 5xx is server-error; a 2xx that still serves the deleted resource is
    effect (the delete answered success and did not take effect there); a refusal with a code
    outside the surface's `gone_codes` is undocumented-4xx for an id-addressed surface and
    unreadable for a listing. `any_refusal`: every 4xx counts as gone (unreachable)."""
    status = surface.status_after
    gone_codes = frozenset(range(400, 500)) if any_refusal else surface.gone_codes
    if status >= 500:
        return "server-error", f"answered {status} after the deletion"
    if not surface.shown_before:
        return "not-judged", "did not show it before the deletion"
    if 200 <= status < 300:
        if surface.reach is Reach.BY_ID:
            return "effect", f"still answers {status} for the deleted resource"
        if surface.shown_after is None:
            return "unreadable", f"answered {status} with a body that is not a list of it"
        if surface.shown_after:
            return "effect", f"still shows the deleted resource ({status})"
        return "ok", f"no longer shows it ({status})"
    if status in gone_codes:
        return "ok", f"answers {status}"
    if 400 <= status < 500 and surface.reach is Reach.BY_ID:
        return "undocumented-4xx", f"answers {status}, expected one of {sorted(gone_codes)}"
    return "unreadable", f"answered {status}"


BLOCKING = frozenset({"server-error", "effect"})


def judge(
    surfaces: Iterable[Surface], what: str, required: str, *, any_refusal: bool = False
) -> Conclusion:
    """FAIL on a 5xx or a surface still serving the resource; WARN on an undocumented refusal;
    INCONCLUSIVE when `required` (the resource's own GET) or another surface could not be
    judged; every surface's before/after in the facts."""
    rows: list[dict[str, Any]] = []
    for surface in surfaces:
        finding, why = judge_surface(surface, any_refusal)
        rows.append(
            {
                "surface": surface.name,
                "shown_before": surface.shown_before,
                "status_after": surface.status_after,
                "shown_after": surface.shown_after,
                "finding": finding,
                "why": why,
            }
        )
    facts: dict[str, Any] = {"surfaces": rows}
    by_name = {row["surface"]: row for row in rows}
    blocking = [r for r in rows if r["finding"] in BLOCKING]
    warns = [r for r in rows if r["finding"] == "undocumented-4xx"]
    unjudged = [r for r in rows if r["finding"] in ("not-judged", "unreadable")]

    def said(found: list[dict[str, Any]]) -> str:
        return "; ".join(f"{r['surface']}: {r['why']}" for r in found)

    if blocking:
        return Conclusion(Outcome.FAIL, f"{what}: {said(blocking)}", facts)
    if required not in by_name or by_name[required]["finding"] in ("not-judged", "unreadable"):
        return Conclusion(
            Outcome.INCONCLUSIVE, f"{what}: {required} could not be judged; {said(unjudged)}", facts
        )
    if unjudged:
        return Conclusion(Outcome.INCONCLUSIVE, f"{what}: not judged: {said(unjudged)}", facts)
    if warns:
        return Conclusion(Outcome.WARN, f"{what}: {said(warns)}", facts)
    facts["summary"] = f"{what}: gone from all {len(rows)} surfaces"
    return Conclusion(Outcome.PASS, facts["summary"], facts)
