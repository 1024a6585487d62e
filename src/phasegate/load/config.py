"""How big a gated load run is: users, duration, spawn rate and workers, read from the environment.

Every value is bounded so that a typo cannot turn a gate into a denial-of-service run: users
1..1000, duration 5 s..1 h, spawn rate 0.1..100 users/s, workers 0..64. A bad value raises
`LoadSettingsError` naming the variable, the value and what was expected.

| variable | default | meaning |
|---|---|---|
| PHASEGATE_LOAD_USERS | 10 | simulated users (each its own client address and projects) |
| PHASEGATE_LOAD_DURATION | sized | run time (phasegate.durations forms); unset: load.sizing |
| PHASEGATE_LOAD_SPAWN_RATE | users/10 | users started per second (the ramp takes about 10 s) |
| PHASEGATE_LOAD_WORKERS | 0 | 0: one locust process; N: a master on 127.0.0.1 plus N workers |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from phasegate.durations import parse_duration

ENV_USERS = "PHASEGATE_LOAD_USERS"
ENV_DURATION = "PHASEGATE_LOAD_DURATION"
ENV_SPAWN_RATE = "PHASEGATE_LOAD_SPAWN_RATE"
ENV_WORKERS = "PHASEGATE_LOAD_WORKERS"
ENV_VARS = (ENV_USERS, ENV_DURATION, ENV_SPAWN_RATE, ENV_WORKERS)

DEFAULT_USERS = 10
DEFAULT_DURATION_S: int | None = None  # None: phasegate.load.sizing sizes the run from the mix
DEFAULT_WORKERS = 0

USERS_RANGE = (1, 1000)
DURATION_RANGE = (5, 3600)
SPAWN_RATE_RANGE = (0.1, 100.0)
WORKERS_RANGE = (0, 64)


class LoadSettingsError(ValueError):
    """A load setting cannot be used; the message names the variable and what was expected."""


def default_spawn_rate(users: int) -> float:
    """All users started within about ten seconds, at least one per second."""
    return float(min(SPAWN_RATE_RANGE[1], max(1.0, users / 10)))


@dataclass(frozen=True)
class LoadSettings:
    users: int = DEFAULT_USERS
    duration_s: int | None = DEFAULT_DURATION_S  # None: sized from the mix before the run
    spawn_rate: float = default_spawn_rate(DEFAULT_USERS)
    workers: int = DEFAULT_WORKERS
    sources: Mapping[str, str] = field(default_factory=dict)

    def public(self) -> dict[str, object]:
        return {
            "users": self.users,
            "duration_s": self.duration_s,
            "spawn_rate": self.spawn_rate,
            "workers": self.workers,
            "sources": dict(self.sources),
        }


def _bounded_int(env: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise LoadSettingsError(
            f"{name}={raw!r} (environment): expected a whole number from {low} to {high}"
        ) from None
    if not low <= value <= high:
        raise LoadSettingsError(
            f"{name}={raw!r} (environment): expected a whole number from {low} to {high}"
        )
    return value


def _run_time(raw: str) -> int:
    """Whole seconds within DURATION_RANGE: locust's --run-time takes whole seconds."""
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise LoadSettingsError(f"{ENV_DURATION}={raw!r} (environment): {exc}") from None
    low, high = DURATION_RANGE
    if not (seconds.is_integer() and low <= seconds <= high):
        raise LoadSettingsError(
            f"{ENV_DURATION}={raw!r} (environment): expected whole seconds from {low}s to "
            f"{high // 60}m, such as 45s, 2m or 1m30s"
        )
    return int(seconds)


def load_settings(env: Mapping[str, str]) -> LoadSettings:
    """Resolve the load settings from `env` (os.environ in practice), bounded and validated."""
    sources: dict[str, str] = {}
    users = _bounded_int(env, ENV_USERS, *USERS_RANGE, DEFAULT_USERS)
    workers = _bounded_int(env, ENV_WORKERS, *WORKERS_RANGE, DEFAULT_WORKERS)
    duration = DEFAULT_DURATION_S
    raw_duration = env.get(ENV_DURATION)
    if raw_duration is not None and raw_duration.strip():
        duration = _run_time(raw_duration)
    spawn_rate = default_spawn_rate(users)
    raw_rate = env.get(ENV_SPAWN_RATE)
    if raw_rate is not None and raw_rate.strip():
        low_rate, high_rate = SPAWN_RATE_RANGE
        try:
            spawn_rate = float(raw_rate)
        except ValueError:
            spawn_rate = -1.0
        if not low_rate <= spawn_rate <= high_rate:
            raise LoadSettingsError(
                f"{ENV_SPAWN_RATE}={raw_rate!r} (environment): expected users per second from "
                f"{low_rate} to {high_rate:g}"
            )
    for name in ENV_VARS:
        sources[name] = "environment" if (env.get(name) or "").strip() else "default"
    return LoadSettings(
        users=users,
        duration_s=duration,
        spawn_rate=spawn_rate,
        workers=workers,
        sources=sources,
    )
