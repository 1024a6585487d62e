"""SkillMeatClient against httpx.MockTransport: recording, redaction, 429 as undecidable."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest

from phasegate.client import (
    ITEM_PAGES,
    MAX_PAGES,
    PROJECT_PAGES,
    ClientConfig,
    ListingIncomplete,
    RateLimited,
    SkillMeatClient,
)
from phasegate.evidence import REDACTED, Exchange
from phasegate.outcomes import Inconclusive
from phasegate.ratelimit import RateLimitPolicy

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
    client.delete_project("L3RtcC9h==")
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


# -- walking a cursor-paged listing --------------------------------------------------------------


def item_pages(pages: list[list[str]], cursors: list[str | None] | None = None) -> Handler:
    """Memory-item style pages: page n is asked for with ?cursor=c<n>, ids as given."""
    marks = cursors or [f"c{n + 1}" for n in range(len(pages))]

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("cursor")
        index = int(cursor[1:]) if cursor else 0
        more = index + 1 < len(pages)
        body = {
            "items": [{"id": i} for i in pages[index]],
            "has_more": more,
            "next_cursor": marks[index] if more else None,
        }
        return httpx.Response(200, json=body)

    return handler


def test_walk_follows_next_cursor_to_the_last_page_with_the_filters() -> None:
    client, _, seen = make_client(item_pages([["a", "b"], ["c"], ["d"]]))
    with client:
        walked = list(client.walk_items("p1", filters={"status": "active"}, limit=2))
    assert [entry["id"] for entry in walked] == ["a", "b", "c", "d"]
    assert [r.url.params.get("cursor") for r in seen] == [None, "c1", "c2"]
    assert all(r.url.params["project_id"] == "p1" for r in seen)
    assert all(r.url.params["status"] == "active" and r.url.params["limit"] == "2" for r in seen)


def test_walk_follows_a_projects_page_info_end_cursor() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        info = {"has_next_page": after is None, "end_cursor": "p-2" if after is None else None}
        name = "first" if after is None else "second"
        return httpx.Response(200, json={"items": [{"id": name}], "page_info": info})

    client, _, seen = make_client(handler)
    with client:
        assert [p["id"] for p in client.walk("/projects", PROJECT_PAGES)] == ["first", "second"]
    assert [r.url.path for r in seen] == ["/api/v1/projects"] * 2
    assert [r.url.params.get("after") for r in seen] == [None, "p-2"]


def test_a_page_without_paging_fields_is_the_last() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, json={"items": [{"id": "a"}]}))
    with client:
        modules = client.walk("/context-modules", ITEM_PAGES, params={"project_id": "p1"})
        assert len(list(modules)) == 1
    assert seen[0].url.path == "/api/v1/context-modules"


def test_a_repeating_cursor_stops_the_walk_and_says_so() -> None:
    handler_pages = {None: 0, "same": 1}

    def looping(request: httpx.Request) -> httpx.Response:
        index = handler_pages[request.url.params.get("cursor")]
        return httpx.Response(
            200, json={"items": [{"id": index}], "has_more": True, "next_cursor": "same"}
        )

    client, _, seen = make_client(looping)
    with client, pytest.raises(ListingIncomplete, match="page 2 repeats the cursor 'same'"):
        list(client.walk_items("p1"))
    assert len(seen) == 2, "stopped at the first repeat, not after the page cap"


def test_a_listing_without_end_stops_at_the_page_cap() -> None:
    client, _, seen = make_client(item_pages([["x"]] * 8))
    with client, pytest.raises(ListingIncomplete, match="still had more after 5 pages"):
        list(client.walk_items("p1", max_pages=5))
    assert len(seen) == 5
    assert MAX_PAGES == 50


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        pytest.param(httpx.Response(500, text="boom"), "answered 500 on page 1: boom", id="5xx"),
        pytest.param(httpx.Response(200, text="<html>"), "not JSON on page 1", id="not-json"),
        pytest.param(httpx.Response(200, json=[]), 'no "items" list', id="not-an-object"),
        pytest.param(httpx.Response(200, json={"items": None}), 'no "items" list', id="no-items"),
        pytest.param(httpx.Response(200, json={"items": ["a"]}), 'no "items" list', id="strings"),
        pytest.param(
            httpx.Response(200, json={"items": [], "has_more": True}),
            "page 1 says more follow but has no cursor",
            id="more-without-cursor",
        ),
    ],
)
def test_a_page_that_cannot_be_read_is_never_the_end_of_the_list(
    answer: httpx.Response, says: str
) -> None:
    client, _, _ = make_client(lambda r: answer)
    with client, pytest.raises(ListingIncomplete, match=re.escape(says)):
        list(client.walk_items("p1"))


def test_walk_resends_a_refused_page_under_the_rate_limit_policy() -> None:
    answers = [httpx.Response(429, headers={"Retry-After": "4"}), httpx.Response(200, json=PAGE)]
    client, _, seen = make_client(lambda r: answers.pop(0))
    slept: list[float] = []
    with client:
        walked = list(client.walk_items("p1", rate_limit=RateLimitPolicy(sleep=slept.append)))
    assert walked == PAGE["items"] and slept == [4.0] and len(seen) == 2


def test_walk_without_a_policy_leaves_a_429_undecidable() -> None:
    client, _, _ = make_client(lambda r: httpx.Response(429, headers={"Retry-After": "4"}))
    with client, pytest.raises(RateLimited) as caught:
        list(client.walk_items("p1"))
    assert caught.value.retry_after_s == 4.0


PAGE = {"items": [{"id": "a"}], "has_more": False, "next_cursor": None}
