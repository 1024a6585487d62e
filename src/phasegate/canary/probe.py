"""Requests sent for phase 3's comparisons, each kept with its status, latency and side.

Both arms of a comparison get the same requests interleaved one by one (stable, canary, stable,
...), so a busy machine slows both alike instead of whichever arm ran second. Every request
claims its own client address (`X-Forwarded-For`), as users behind a proxy do, so the target's
burst limiter sees traffic shaped like real users, not one client repeating itself.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import httpx

from phasegate.client import ClientConfig, request_headers
from phasegate.ratelimit import FORWARDED_FOR, client_address, client_network, is_limited
from phasegate.stack.nginx import UNATTRIBUTED, UPSTREAM_HEADER

# Read-only requests every side serves, flag ON or OFF (the memory endpoints are the intended
# difference and are judged apart). No health probes: the error and latency rows exclude them,
# so every request sent counts toward the fixed design.
SHARED_READS: tuple[str, ...] = (
    "/",
    "/api/{version}/version",
    "/api/{version}/projects",
    "/api/{version}/config/feature-flags",
)

SLOW_S = 0.5  # the plan's p95 limit: a request at or over it counts as slow


@dataclass(frozen=True)
class Attempt:
    """One request's outcome as the client saw it."""

    path: str
    status: int | None  # None: no answer (transport failure)
    latency_s: float
    role: str  # the attribution header's side, "" when the response carried none
    error: str = ""
    started: float = 0.0  # monotonic time the request left

    @property
    def failed(self) -> bool:
        """5xx or no answer: the plan's error measure, as the client sees it."""
        return self.status is None or self.status >= 500

    @property
    def limited(self) -> bool:
        return is_limited(self.status)


def paths(version: str, n: int, reads: Sequence[str] = SHARED_READS) -> list[str]:
    """The first n requests of the fixed rotation, decided before the first one is sent."""
    return [reads[i % len(reads)].format(version=version) for i in range(n)]


class Sender:
    """One base URL, the run's headers, and a fresh client address per request."""

    def __init__(self, base_url: str, config: ClientConfig, seed: str, check_id: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.network = client_network(seed)
        self.count = 0
        self.last_body: object = None  # the last answer's JSON body (None: none or not JSON)
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=request_headers(config, check_id),
            timeout=config.timeout_s,
            follow_redirects=False,
        )

    def send(self, path: str, method: str = "GET", json: object = None) -> Attempt:
        address = client_address(self.network, self.count)
        self.count += 1
        started = time.monotonic()
        try:
            response = self._http.request(method, path, headers={FORWARDED_FOR: address}, json=json)
        except httpx.HTTPError as exc:
            self.last_body = None
            return Attempt(
                path, None, time.monotonic() - started, "", f"{type(exc).__name__}: {exc}", started
            )
        try:
            self.last_body = response.json()
        except ValueError:
            self.last_body = None
        return Attempt(
            path,
            response.status_code,
            time.monotonic() - started,
            response.headers.get(UPSTREAM_HEADER, ""),
            "",
            started,
        )

    def close(self) -> None:
        self._http.close()


def interleaved(
    senders: Mapping[str, Sender],
    requests: Sequence[str],
    progress: Callable[[str], None] | None = None,
) -> dict[str, list[Attempt]]:
    """Each request to every side in turn; all arms get exactly `requests`."""
    out: dict[str, list[Attempt]] = {role: [] for role in senders}
    for i, path in enumerate(requests):
        for role, sender in senders.items():
            out[role].append(sender.send(path))
        if progress is not None and (i + 1) % 1000 == 0:
            progress(f"canary sample: {i + 1} of {len(requests)} requests per side")
    return out


def roles(attempts: Iterable[Attempt]) -> Counter[str]:
    """Responses per side by the attribution header (UNATTRIBUTED and "" kept as they are)."""
    return Counter(a.role or UNATTRIBUTED for a in attempts if a.status is not None)


def summary(attempts: Sequence[Attempt]) -> dict[str, object]:
    """The evidence of one arm: counts, failures by kind, latency quantiles."""
    answered = sorted(a.latency_s for a in attempts if a.status is not None)
    statuses = Counter(str(a.status) if a.status is not None else "no answer" for a in attempts)

    def q(p: float) -> float | None:
        if not answered:
            return None
        return round(answered[min(len(answered) - 1, int(p * len(answered)))], 4)

    return {
        "requests": len(attempts),
        "failed": sum(a.failed for a in attempts),
        "rate_limited": sum(a.limited for a in attempts),
        "statuses": dict(statuses.most_common()),
        "p50_s": q(0.5),
        "p95_s": q(0.95),
        "max_s": answered[-1] if answered else None,
        "slow": sum(1 for a in attempts if a.status is not None and a.latency_s >= SLOW_S),
        "first_errors": [f"{a.path}: {a.error}" for a in attempts if a.error][:5],
    }
