"""Client against server: does Prometheus see the traffic the suite itself sent?

The metric gates trust SkillMeat's own counters. If the server under-counts (requests that never
reach the metrics middleware, errors recorded as successes), every gate built on them passes on a
blind spot. The suite knows exactly what it sent in a window, so it compares: the server's count
over the same scrape-aligned window must be at least the client's (other traffic may add to the
server's side, never subtract), and the same holds for 5xx answers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from phasegate.outcomes import Conclusion, Outcome

# The suite's own traffic excludes scrapes and health probes; so does the server-side count.
SERVED = 'job="skillmeat",endpoint!~"/metrics.*|/health.*"'
REQUESTS = f'sum(skillmeat_api_requests_total{{{SERVED},status!="429"}})'
ERRORS = f'sum(skillmeat_api_requests_total{{{SERVED},status=~"5.."}}) or vector(0)'
RATE_LIMITED = f'sum(skillmeat_api_requests_total{{{SERVED},status="429"}}) or vector(0)'
# A counter increment can land a moment after the client has its answer.
SLACK = 2


class PrometheusUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerCounts:
    requests: float
    errors: float
    rate_limited: float
    at: float


def judge(
    client_requests: int,
    client_errors: int,
    client_rate_limited: int,
    before: ServerCounts,
    after: ServerCounts,
    client_transport: int = 0,
) -> Conclusion:
    """Compare what the client sent between two scrapes with what the server counted.

    `client_requests` are the answered ones; `client_transport` the requests that got no answer
    (timeout, refused, reset). Those are failures the server cannot count: they are in the
    facts and the reason here, and counted by the error gates and by `gate.blind-spots`.
    """
    served = client_requests - client_rate_limited
    server_requests = after.requests - before.requests
    server_errors = after.errors - before.errors
    facts: dict[str, Any] = {
        "client_requests_non_429": served,
        "client_5xx": client_errors,
        "client_429": client_rate_limited,
        "server_requests_non_429": server_requests,
        "server_5xx": server_errors,
        "server_429": after.rate_limited - before.rate_limited,
        "client_transport_failures": client_transport,
        "client_failures": client_errors + client_transport,
        "window": [before.at, after.at],
    }
    unseen = (
        f"; and {client_transport} requests got no answer (timeout, refused or reset): "
        "failures no server metric can count"
        if client_transport
        else ""
    )
    if served <= 0:
        return Conclusion(
            Outcome.INCONCLUSIVE, f"the client got no answer to compare{unseen}", facts
        )
    if server_requests < 0 or server_errors < 0:
        return Conclusion(
            Outcome.INCONCLUSIVE, "a counter went backwards (server restart?) in the window", facts
        )
    missing = served - server_requests
    if missing > SLACK:
        return Conclusion(
            Outcome.FAIL,
            f"monitoring blind spot: the client got {served} answers but the server counted "
            f"{server_requests:.0f} requests in the same scrape-aligned window{unseen}",
            facts,
        )
    if client_errors - server_errors > SLACK:
        return Conclusion(
            Outcome.FAIL,
            f"monitoring blind spot: the client saw {client_errors} 5xx answers but the server "
            f"counted {server_errors:.0f}{unseen}",
            facts,
        )
    return Conclusion(
        Outcome.PASS,
        f"server counted {server_requests:.0f} requests for the client's {served} "
        f"and {server_errors:.0f} 5xx for the client's {client_errors}{unseen}",
        facts,
    )


class Counter:
    """Reads the three sums at a scrape boundary, so nothing falls between two readings."""

    def __init__(self, prometheus_url: str, timeout_s: float = 5.0) -> None:
        self._http = httpx.Client(base_url=prometheus_url.rstrip("/"), timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def _query(self, params: dict[str, str]) -> tuple[int, list[Any]]:
        """(status, result list); unreachable or unreadable raises PrometheusUnavailable."""
        try:
            response = self._http.get("/api/v1/query", params=params)
            if response.status_code != 200:
                return response.status_code, []
            return 200, list(response.json()["data"]["result"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            # An unreachable Prometheus makes the comparison INCONCLUSIVE, never a traceback.
            raise PrometheusUnavailable(f"{type(exc).__name__}: {exc}") from None

    def _scalar(self, query: str, at: float) -> float:
        status, result = self._query({"query": query, "time": f"{at:.3f}"})
        if status != 200:
            raise PrometheusUnavailable(f"query answered {status}")
        return sum(float(sample["value"][1]) for sample in result)

    def last_scrape(self) -> float:
        _, result = self._query({"query": 'max(timestamp(up{job="skillmeat"}))'})
        if not result:
            raise PrometheusUnavailable("no scrape of the skillmeat job")
        return float(result[0]["value"][1])

    def scrape_after(self, moment: float, timeout_s: float = 15.0) -> float:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            scraped = self.last_scrape()
            if scraped > moment:
                return scraped
            time.sleep(0.2)
        raise PrometheusUnavailable(f"no scrape after {moment:.1f} within {timeout_s:.0f} s")

    def read_queries(self, queries: Mapping[str, str], at: float) -> dict[str, float]:
        """Each query's sum just after the scrape at `at` (as `read`)."""
        return {name: self._scalar(query, at + 0.001) for name, query in queries.items()}

    def read(self, at: float) -> ServerCounts:
        # Query just after the scrape so the instant vector holds that scrape's samples.
        moment = at + 0.001
        return ServerCounts(
            requests=self._scalar(REQUESTS, moment),
            errors=self._scalar(ERRORS, moment),
            rate_limited=self._scalar(RATE_LIMITED, moment),
            at=at,
        )
