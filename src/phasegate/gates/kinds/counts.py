"""Counts every count kind (ratio, slow share and their baselines) checks before judging."""

from __future__ import annotations

import math

from phasegate.gates.observation import Counts


def bad_counts(counts: Counts | None, label: str) -> str | None:
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


def rounded(counts: Counts) -> tuple[int, int]:
    n = round(counts.total)
    return min(round(counts.events), n), n
