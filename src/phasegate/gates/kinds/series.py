"""Samples every series kind (gauge, slope) reads: the finite ones, in time order."""

from __future__ import annotations

import math

from phasegate.gates.observation import Observation
from phasegate.gates.result import GateResult, no_data
from phasegate.gates.spec import GateSpec


def finite_points(obs: Observation) -> tuple[list[tuple[float, float]], int]:
    good = [
        (t, v)
        for t, v in obs.points
        if math.isfinite(t) and isinstance(v, float | int) and math.isfinite(v)
    ]
    return sorted(good), len(obs.points) - len(good)


def points_or_no_data(
    spec: GateSpec, obs: Observation
) -> tuple[list[tuple[float, float]], int, GateResult | None]:
    """The finite points and how many were dropped, or the no-data result when none are left.

    Shared by every series kind so none of them can PASS on nothing.
    """
    points, dropped = finite_points(obs)
    if points:
        return points, dropped, None
    why = "the query returned no samples"
    if dropped:
        why = f"all {dropped} samples were NaN or infinite"
    return points, dropped, no_data(spec, obs, why)
