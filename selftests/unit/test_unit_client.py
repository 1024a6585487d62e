"""SkillMeatClient against httpx.MockTransport: recording, redaction, 429 as undecidable."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from phasegate.client import ClientConfig, RateLimited, SkillMeatClient
from phasegate.evidence import REDACTED, Exchange
from phasegate.outcomes import Inconclusive

KEY = "sk-live-0123456789abcdef"
TOKEN = "eyJhbGciOiJub25lIn0.secret-token"

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, **config: object
) -> tuple[SkillMeatClient, list[Exchange], list[httpx.Request]]:
    seen: list[httpx.Request] = []
    recorded: list[Exchange] = []

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    settings: dict[str, object] = {"api_url": "http://sm.test/", "run_id": "pg-run-1"}
    settings.update(config)
    client = SkillMeatClient(
        ClientConfig(**settings),  # type: ignore[arg-type]
        recorder=recorded.append,
        check_id="svc.health",
        transport=httpx.MockTransport(spy),
    )
    return client, recorded, seen


def echo_headers(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"headers": dict(request.headers)})


def test_requests_are_recorded_with_status_path_query_and_bodies() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"id": "i-1", "got": json.loads(request.content)})

    client, recorded, seen = make_client(handler)
    with client:
        response = client.create_item("proj/1=", {"content": "hello", "type": "decision"})
    assert response.status_code == 201
    assert seen[0].url.path == "/api/v1/memory-items"
    assert seen[0].url.params["project_id"] == "proj/1="
    [record] = recorded
    assert record.method == "POST"
    assert record.status == 201
    assert record.path == "/api/v1/memory-items?project_id=proj%2F1%3D"
    assert record.request_body == '{"content": "hello", "type": "decision"}'
    assert record.response_body is not None
    assert json.loads(record.response_body)["id"] == "i-1"
    assert record.duration_ms >= 0


def test_params_that_are_none_are_not_sent() -> None:
    client, recorded, seen = make_client(lambda r: httpx.Response(200, json={"items": []}))
    client.list_items("p1", status=None, limit=5)
    assert dict(seen[0].url.params) == {"project_id": "p1", "limit": "5"}
    assert recorded[0].path == "/api/v1/memory-items?project_id=p1&limit=5"


def test_ids_in_paths_are_percent_encoded() -> None:
    client, recorded, seen = make_client(lambda r: httpx.Response(200, json={}))
    client.get_project("L3RtcC9h==")
    assert seen[0].url.raw_path == b"/api/v1/projects/L3RtcC9h%3D%3D"
    assert recorded[0].path == "/api/v1/projects/L3RtcC9h%3D%3D"


def test_run_and_check_ids_travel_with_every_request() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, json={}))
    client.health()
    assert seen[0].headers["X-Phasegate-Run"] == "pg-run-1"
    assert seen[0].headers["X-Phasegate-Check"] == "svc.health"
    assert seen[0].headers["User-Agent"] == "phasegate"


def test_credentials_are_sent_but_never_recorded() -> None:
    client, recorded, seen = make_client(echo_headers, api_key=KEY, api_token=TOKEN)
    client.request("POST", "/echo", params={"api_key": KEY}, json={"token": TOKEN})
    assert seen[0].headers["X-API-Key"] == KEY
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    [record] = recorded
    stored = json.dumps(record.to_dict()) + record.url
    assert KEY not in stored
    assert TOKEN not in stored
    assert record.response_body is not None
    assert REDACTED in record.response_body  # the echoed headers were recorded, cleaned
    assert record.path == f"/echo?api_key={REDACTED}"
    assert record.request_body == json.dumps({"token": REDACTED})


def test_no_credential_headers_without_credentials() -> None:
    client, _, seen = make_client(echo_headers)
    client.health()
    assert "X-API-Key" not in seen[0].headers
    assert "Authorization" not in seen[0].headers


def test_429_is_rate_limited_which_is_inconclusive() -> None:
    client, recorded, _ = make_client(
        lambda r: httpx.Response(429, json={"detail": "slow down"}, headers={"Retry-After": "7"})
    )
    with pytest.raises(RateLimited) as caught:
        client.version()
    assert isinstance(caught.value, Inconclusive)
    assert "429" in str(caught.value)
    assert "Retry-After 7s" in str(caught.value)
    assert "GET /api/v1/version" in str(caught.value)
    assert [r.status for r in recorded] == [429], "the refused request is still evidence"


def test_429_can_be_asked_for() -> None:
    client, _, _ = make_client(lambda r: httpx.Response(429))
    assert client.request("GET", "/limited", allow_429=True).status_code == 429


def test_other_error_statuses_are_returned_not_raised() -> None:
    client, _, _ = make_client(lambda r: httpx.Response(503, text="maintenance"))
    assert client.health().status_code == 503


def test_transport_errors_are_recorded_and_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, recorded, _ = make_client(handler, api_key=KEY)
    with pytest.raises(httpx.ConnectError):
        client.health()
    [record] = recorded
    assert record.status is None
    assert record.error is not None
    assert "ConnectError" in record.error
    assert record.line().startswith("GET /health -> ConnectError")


def test_api_prefix_follows_the_version() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, json={}), api_version="v2")
    client.feature_flags()
    assert seen[0].url.path == "/api/v2/config/feature-flags"


def test_metrics_path_has_the_trailing_slash() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, text="skillmeat_up 1\n"))
    client.metrics()
    assert seen[0].url.path == "/metrics/"
    assert seen[0].headers["Accept"] == "text/plain"
