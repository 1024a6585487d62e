"""How a gate's numbers read in a reason: values in the gate's unit, nouns, what would decide."""

from __future__ import annotations

import math

from phasegate.gates.spec import GateSpec

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


def what(spec: GateSpec) -> tuple[str, str]:
    """(events noun, total noun) for reasons."""
    if spec.kind.histogram:
        return (f"requests slower than {spec.le:g} s", "requests")
    return ("errors", "requests")


def needed_text(needed: int | None, spec: GateSpec) -> str:
    if needed is None:
        return "no number of further requests would decide"
    if spec.kind.histogram:
        return f"{needed:,} more requests, none slower than {spec.le:g} s, would decide"
    return f"{needed:,} more requests with no error would decide"
