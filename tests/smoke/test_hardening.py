"""Production hardening checks from the plan's production script, kept in every phase."""

from __future__ import annotations

import pytest

from phasegate import expect

RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-threshold",
    "x-ratelimit-remaining",
    "ratelimit-limit",
    "retry-after",
)


@pytest.mark.check("security.rate-limit-visible")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_rate_limiting_visible(api, evidence):
    """Five requests show rate-limit headers or a 429.

    Warning (rule: script-warning): the production script treats missing rate limiting as a
    hardening gap, not as a reason to stop the Memory & Context rollout.
    """
    seen: set[str] = set()
    statuses = []
    for _ in range(5):
        response = api.request("GET", "/api/v1/version", allow_429=True)
        statuses.append(response.status_code)
        seen |= {h for h in RATE_HEADERS if h in response.headers}
    evidence.note("statuses", statuses)
    evidence.note("rate_limit_headers", sorted(seen))
    assert seen or 429 in statuses, "no rate-limit header and no 429 in five requests"


@pytest.mark.check("security.cors-no-wildcard")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_cors_rejects_foreign_origin(api, evidence):
    """A request from a foreign Origin gets no wildcard Access-Control-Allow-Origin.

    Blocking (rule: plan-criterion): a wildcard (or a reflected foreign origin) next to
    allow-credentials lets any web page read a user's memories through their browser.
    """
    origin = "https://phasegate-foreign-origin.invalid"
    response = api.request("GET", "/api/v1/version", headers={"Origin": origin})
    allowed = response.headers.get("access-control-allow-origin")
    evidence.note("access-control-allow-origin", allowed)
    evidence.note(
        "access-control-allow-credentials", response.headers.get("access-control-allow-credentials")
    )
    assert allowed not in ("*", origin), f"Access-Control-Allow-Origin is {allowed!r}"


@pytest.mark.check("security.debug-paths")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
@pytest.mark.parametrize("path", ["/debug", "/dev", "/_debug"])
def test_debug_paths_not_served(api, evidence, path):
    """Debug endpoints are not served.

    Blocking (rule: plan-criterion): a debug endpoint in production exposes internals and often
    write access.
    """
    response = api.request("GET", path)
    evidence.note("status", response.status_code)
    assert response.status_code != 200, f"{path} answered 200"
    expect.status(response, 401, 403, 404, 405)
