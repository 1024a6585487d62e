"""Durations as people write them, read one way everywhere.

Every duration phasegate reads goes through `parse_duration`: the --gate-window, --soak and
--load-duration options (and their environment variables and ini keys), the gate catalog's
window, sub_window, min_span and sustain, a user's override file, and the scrape interval
Prometheus reports. One grammar, so a form accepted in one place is accepted in every place, and
one error message. Each caller then applies its own range (a load run of two days is refused
for its length, never for how it was written).

Accepted: a bare number of seconds (`45`, `2.5`) or one or more number-unit parts without spaces
(`45s`, `90m`, `4h`, `2d`, `1w`, `500ms`, `1h30m`, `1.5m`), units in either case. The total must
be positive.
"""

from __future__ import annotations

import math
import re

FORMS = "45, 45s, 90m, 4h, 2d or 1h30m"

_NUMBER = r"\d+(?:\.\d+)?"
_BARE = re.compile(rf"{_NUMBER}")
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """'45', '45s', '90m', '4h', '2d', '1h30m', '500ms' -> seconds; ValueError on anything else."""
    cleaned = text.strip().lower()
    if _BARE.fullmatch(cleaned):
        total = float(cleaned)
    else:
        position, total = 0, 0.0
        for match in _PART.finditer(cleaned):
            if match.start() != position:
                break
            total += float(match.group(1)) * _UNIT_S[match.group(2)]
            position = match.end()
        if position != len(cleaned):
            total = 0.0
    if not cleaned or not total > 0 or not math.isfinite(total):
        raise ValueError(f"not a duration: {text!r}; use e.g. {FORMS}")
    return total


def format_duration(seconds: float) -> str:
    """Seconds -> a short human and PromQL-compatible duration ('5m', '1h30m', '2.5s')."""
    if seconds <= 0 or not math.isfinite(seconds):
        return f"{seconds}s"
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)
