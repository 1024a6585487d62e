"""Samples every series kind (gauge, slope) reads: the finite ones, in time order."""

from __future__ import annotations

import math

from phasegate.gates.observation import Observation


def finite_points(obs: Observation) -> tuple[list[tuple[float, float]], int]:
    good = [
        (t, v)
        for t, v in obs.points
        if math.isfinite(t) and isinstance(v, float | int) and math.isfinite(v)
    ]
    return sorted(good), len(obs.points) - len(good)
