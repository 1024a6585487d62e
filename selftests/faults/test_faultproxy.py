"""The fault proxy itself, against a tiny stdlib upstream: faithful forwarding, then each fault."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from faults.upstream import DOC, StubUpstream, upstream
from support.faultproxy import (
    ActionError,
    Answer,
    Capture,
    Delay,
    DeleteField,
    DropItems,
    FaultProxy,
    ProxyRequest,
    ProxyResponse,
    Ref,
    RemoveElement,
    RemoveHeader,
    ReplaceBody,
    Rule,
    SetField,
    SetHeader,
    SetStatus,
    SubText,
    Upstream,
    parse_path,
    resolve,
)

# One client for the module: a new httpx client per request costs an SSL context (~30 ms).
HTTP = httpx.Client(timeout=10, trust_env=False)


@pytest.fixture(scope="module")
def up() -> Iterator[StubUpstream]:
    with upstream() as server:
        yield server


@pytest.fixture
def proxy(up: StubUpstream) -> Iterator[FaultProxy]:
    with FaultProxy(up.url) as running:
        yield running


def raw_request(
    proxy: FaultProxy, method: str, target: str, headers: dict[str, str] | None = None, body=None
) -> tuple[http.client.HTTPResponse, bytes]:
    """http.client sends exactly what it is told (no client-library default headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    own_host = any(name.lower() == "host" for name in headers or {})
    conn.putrequest(method, target, skip_host=own_host, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def echo(client: httpx.Client, method: str = "GET", target: str = "/echo", **kw: Any) -> Any:
    response = client.request(method, target, **kw)
    assert response.status_code == 200, response.text
    return response.json()


def header_names(pairs: list[list[str]]) -> set[str]:
    return {name.lower() for name, _ in pairs}


# -- faithful forwarding ---------------------------------------------------------------------


def test_binds_loopback_on_a_free_port_and_stops(up: StubUpstream) -> None:
    proxy = FaultProxy(up.url)
    with proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        assert proxy.port > 0
        with FaultProxy(up.url) as other:
            assert other.url != proxy.url
        assert HTTP.get(f"{proxy.url}/doc").status_code == 200
        port = proxy.port
    assert not proxy.running
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"])
def test_every_method_path_query_and_body_arrive_unchanged(proxy: FaultProxy, method: str) -> None:
    body = json.dumps({"content": "é ünïcode", "n": 1}).encode()
    target = "/echo/a%2Fb/L3RtcC9w%3D?project_id=L3RtcC9w%3D&x=1&x=2&empty="
    response, data = raw_request(
        proxy, method, target, {"X-Custom": "kept", "Content-Type": "application/json"}, body
    )
    assert response.status == 200
    seen = json.loads(data)
    assert seen["method"] == method
    assert seen["path"] == "/echo/a%2Fb/L3RtcC9w%3D"
    assert seen["query"] == "project_id=L3RtcC9w%3D&x=1&x=2&empty="
    assert seen["body"] == body.decode()
    headers = dict(seen["headers"])
    assert headers["X-Custom"] == "kept"
    assert headers["Content-Length"] == str(len(body))


def test_no_headers_are_invented_and_hop_by_hop_ones_are_dropped(proxy: FaultProxy) -> None:
    response, data = raw_request(
        proxy,
        "GET",
        "/echo",
        {
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "connection-scoped",
            "Keep-Alive": "timeout=5",
            "Proxy-Authorization": "Basic secret",
            "TE": "trailers",
            "X-Phasegate-Check": "demo.check",
            "Authorization": "Bearer end-to-end",
        },
    )
    names = header_names(json.loads(data)["headers"])
    assert "x-hop" not in names
    assert not names & {"keep-alive", "proxy-authorization", "te", "connection"}
    assert {"x-phasegate-check", "authorization", "host"} <= names
    # Nothing the client did not send: no User-Agent, Accept or Accept-Encoding of httpx's own.
    assert not names & {"user-agent", "accept", "accept-encoding", "cookie"}
    assert response.status == 200


def test_host_is_the_upstreams(proxy: FaultProxy, up: StubUpstream) -> None:
    _, data = raw_request(proxy, "GET", "/echo")
    host = dict(json.loads(data)["headers"])["Host"]
    assert host == up.url.removeprefix("http://")


def test_preserve_host_passes_the_clients_host_on(up: StubUpstream) -> None:
    with FaultProxy(up.url, preserve_host=True) as proxy:
        _, data = raw_request(proxy, "GET", "/echo", {"Host": "skillmeat.example:8443"})
    hosts = [v for k, v in json.loads(data)["headers"] if k.lower() == "host"]
    assert hosts == ["skillmeat.example:8443"]


def test_empty_post_keeps_its_zero_length_and_get_gets_none(proxy: FaultProxy) -> None:
    _, data = raw_request(proxy, "POST", "/echo", body=b"")
    assert dict(json.loads(data)["headers"]).get("Content-Length") == "0"
    _, data = raw_request(proxy, "GET", "/echo")
    assert "content-length" not in header_names(json.loads(data)["headers"])


def test_chunked_request_body_is_forwarded(proxy: FaultProxy) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"part": '
        yield b'"one"}'

    with httpx.Client(base_url=proxy.url) as client:
        seen = echo(client, "POST", "/echo", content=chunks())
    assert seen["body"] == '{"part": "one"}'
    assert "transfer-encoding" not in header_names(seen["headers"])


def test_response_status_headers_and_repeated_headers_come_back(proxy: FaultProxy) -> None:
    response, _ = raw_request(proxy, "GET", "/cookies")
    assert response.getheader("X-Ratelimit-Threshold") == "20"
    assert response.msg.get_all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
    # Headers the upstream named in Connection are hop-by-hop too.
    assert response.getheader("X-Private") is None
    for code in (201, 409, 418, 503):
        response, data = raw_request(proxy, "GET", f"/status/{code}")
        assert response.status == code
        assert data == b"{}"


def test_no_body_answers(proxy: FaultProxy) -> None:
    response, data = raw_request(proxy, "DELETE", "/status/204")
    assert (response.status, data) == (204, b"")
    response, data = raw_request(proxy, "HEAD", "/doc")
    assert response.status == 200
    assert data == b""
    assert int(response.getheader("Content-Length") or 0) == len(json.dumps(DOC))


def test_encoded_body_passes_through_untouched(proxy: FaultProxy) -> None:
    response, data = raw_request(proxy, "GET", "/gzip", {"Accept-Encoding": "gzip"})
    assert response.getheader("Content-Encoding") == "gzip"
    assert json.loads(gzip.decompress(data)) == DOC


def test_keep_alive_connection_serves_many_requests(proxy: FaultProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    for _ in range(5):
        conn.request("GET", "/doc")
        response = conn.getresponse()
        assert json.loads(response.read()) == DOC
    conn.close()


def test_concurrent_requests(proxy: FaultProxy) -> None:
    proxy.set_rules([Rule("count", path=r"/echo/\d+")])
    statuses: list[int] = []

    def call(i: int) -> None:
        statuses.append(HTTP.get(f"{proxy.url}/echo/{i}").status_code)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 20
    assert proxy.hits("count") == 20


def test_unreachable_upstream_is_a_502_with_the_reason() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with FaultProxy(dead, timeout_s=2) as proxy:
        response = HTTP.get(f"{proxy.url}/x")
        assert response.status_code == 502
        assert "upstream" in response.json()["detail"]
        assert proxy.events()[0].error


def test_add_request_headers_replace_the_clients(up: StubUpstream) -> None:
    with FaultProxy(up.url, add_request_headers={"X-Forwarded-For": "10.9.8.7"}) as proxy:
        _, data = raw_request(proxy, "GET", "/echo", {"X-Forwarded-For": "1.2.3.4"})
    pairs = json.loads(data)["headers"]
    assert [v for k, v in pairs if k.lower() == "x-forwarded-for"] == ["10.9.8.7"]


# -- matching --------------------------------------------------------------------------------


def fetch(proxy: FaultProxy, target: str, check: str | None = None, method: str = "GET", **kw):
    headers = {"X-Phasegate-Check": check} if check else {}
    return HTTP.request(method, f"{proxy.url}{target}", headers=headers, **kw)


def test_match_on_check_id_exact_and_prefix(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule("exact", check="security.debug-paths.dev", actions=(SetStatus(500),)),
            Rule("prefix", check_prefix="config.", actions=(SetStatus(501),)),
        ]
    )
    assert fetch(proxy, "/doc", "security.debug-paths.dev").status_code == 500
    assert fetch(proxy, "/doc", "security.debug-paths.debug").status_code == 200
    assert fetch(proxy, "/doc", "security.debug-paths").status_code == 200
    assert fetch(proxy, "/doc", "config.flag-on").status_code == 501
    assert fetch(proxy, "/doc", "service.health").status_code == 200
    assert fetch(proxy, "/doc").status_code == 200
    assert proxy.hits("exact") == 1
    assert proxy.hits("prefix") == 1


def test_match_on_method_path_query_and_body(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule(
                "narrow",
                method=("post", "PUT"),
                path=r"/echo/items",
                query="project_id=p1",
                body=r'"type":\s*"decision"',
                actions=(SetStatus(409),),
            )
        ]
    )
    ok = {"json": {"type": "decision"}, "params": {"project_id": "p1"}}
    assert fetch(proxy, "/echo/items", method="POST", **ok).status_code == 409
    assert fetch(proxy, "/echo/items", method="PUT", **ok).status_code == 409
    assert fetch(proxy, "/echo/items", method="GET", params={"project_id": "p1"}).status_code == 200
    # The path regex must match the whole path.
    assert fetch(proxy, "/echo/items/count", method="POST", **ok).status_code == 200
    assert fetch(proxy, "/x/echo/items", method="POST", **ok).status_code == 404
    other = {"json": {"type": "gotcha"}, "params": {"project_id": "p1"}}
    assert fetch(proxy, "/echo/items", method="POST", **other).status_code == 200
    wrong_query = {"json": {"type": "decision"}, "params": {"project_id": "p2"}}
    assert fetch(proxy, "/echo/items", method="POST", **wrong_query).status_code == 200
    assert proxy.hits("narrow") == 2


def test_skip_and_limit(proxy: FaultProxy) -> None:
    proxy.set_rules([Rule("second-only", path="/doc", skip=1, limit=1, actions=(SetStatus(503),))])
    assert [fetch(proxy, "/doc").status_code for _ in range(4)] == [200, 503, 200, 200]
    stats = proxy.stats()["second-only"]
    assert (stats.seen, stats.fired) == (4, 1)


def test_every_matching_rule_applies_in_order(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule("first", path="/doc", actions=(SetField("status", "one"), SetStatus(202))),
            Rule("second", path="/doc", actions=(SetField("status", "two"),)),
            Rule("other", path="/text"),
        ]
    )
    response = fetch(proxy, "/doc")
    assert response.status_code == 202
    assert response.json()["status"] == "two"
    assert proxy.unfired() == ["other"]
    events = proxy.events()
    assert events[-1].rules == ("first", "second")
    assert "first, second" in events[-1].line()


def test_counts_reset_and_rule_names_are_unique(proxy: FaultProxy) -> None:
    proxy.set_rules([Rule("r", path="/doc")])
    fetch(proxy, "/doc")
    assert proxy.hits("r") == 1
    proxy.reset()
    assert proxy.hits("r") == 0
    assert proxy.events() == []
    with pytest.raises(KeyError):
        proxy.hits("missing")
    with pytest.raises(ValueError, match="duplicate"):
        proxy.set_rules([Rule("r"), Rule("r")])
    with pytest.raises(ValueError, match="regex"):
        Rule("bad", path="(")
    with pytest.raises(ValueError, match="name"):
        Rule("")


# -- answering without the upstream, and rewriting -------------------------------------------


def test_answer_refuses_to_forward(proxy: FaultProxy, up: StubUpstream) -> None:
    proxy.set_rules(
        [
            Rule(
                "refuse",
                method="POST",
                path=r"/echo/refused",
                answer=Answer(503, {"detail": "disabled"}, {"Retry-After": "5"}),
            ),
            Rule("stamp", path=r"/echo/refused", actions=(SetHeader("X-Stamp", "1"),)),
        ]
    )
    before = up.count("/echo/refused")
    response = fetch(proxy, "/echo/refused", method="POST", json={"a": 1})
    assert response.status_code == 503
    assert response.json() == {"detail": "disabled"}
    assert response.headers["retry-after"] == "5"
    assert response.headers["x-stamp"] == "1"
    assert up.count("/echo/refused") == before
    assert proxy.events()[-1].forwarded is False
    text = Rule("text", path="/t", answer=Answer(200, "plain words"))
    proxy.set_rules([text])
    response = fetch(proxy, "/t")
    assert response.text == "plain words"
    assert response.headers["content-type"].startswith("text/plain")


def test_rewrite_path_keeps_the_query(proxy: FaultProxy, up: StubUpstream) -> None:
    proxy.set_rules([Rule("alias", path=r"/old/(\w+)", rewrite_path=r"/echo/new/\1")])
    seen = fetch(proxy, "/old/thing", params={"q": "1"}).json()
    assert (seen["path"], seen["query"]) == ("/echo/new/thing", "q=1")
    with pytest.raises(ValueError, match="rewrite_path"):
        Rule("x", rewrite_path="/y")


# -- actions ---------------------------------------------------------------------------------


def faulted(proxy: FaultProxy, *actions: Any, target: str = "/doc") -> httpx.Response:
    proxy.set_rules([Rule("fault", path=target.split("?")[0], actions=tuple(actions))])
    response = fetch(proxy, target)
    assert proxy.hits("fault") == 1
    return response


def test_set_status(proxy: FaultProxy) -> None:
    response = faulted(proxy, SetStatus(599))
    assert response.status_code == 599
    assert response.json() == DOC


def test_set_field_dotted_pointer_indexes_and_wildcards(proxy: FaultProxy) -> None:
    body = faulted(
        proxy,
        SetField("components.memory_system.status", "disabled"),
        SetField("/items/0/meta/tag", "y"),
        SetField("items.-1.id", "last"),
        SetField("items.*.confidence", 0.0),
        SetField("/a~1b", 10),
        SetField("/m~0n", 20),
        SetField("new", {"nested": [1]}),
        SetField("/items/-", {"id": "appended"}),
    ).json()
    assert body["components"]["memory_system"]["status"] == "disabled"
    assert body["items"][0]["meta"]["tag"] == "y"
    assert body["items"][2]["id"] == "last"
    assert [i.get("confidence") for i in body["items"][:3]] == [0.0, 0.0, 0.0]
    assert (body["a/b"], body["m~n"], body["new"]) == (10, 20, {"nested": [1]})
    assert body["items"][3] == {"id": "appended"}
    assert not proxy.errors()


def test_set_field_whole_document(proxy: FaultProxy) -> None:
    assert faulted(proxy, SetField("", [1, 2])).json() == [1, 2]


def test_delete_field_and_list_element(proxy: FaultProxy) -> None:
    body = faulted(
        proxy,
        DeleteField("components.memory_system"),
        DeleteField("/items/1"),
        DeleteField("items.*.meta", missing_ok=True),
    ).json()
    assert body["components"] == {}
    assert [i["id"] for i in body["items"]] == ["a", "c"]
    assert all("meta" not in i for i in body["items"])
    assert not proxy.errors()


def test_remove_element_and_drop_items(proxy: FaultProxy) -> None:
    body = faulted(proxy, RemoveElement("items", -1)).json()
    assert [i["id"] for i in body["items"]] == ["a", "b"]
    body = faulted(proxy, DropItems("items", "type", equals="decision")).json()
    assert [i["id"] for i in body["items"]] == ["b"]
    body = faulted(proxy, DropItems("items", "id", regex="^[ab]$")).json()
    assert [i["id"] for i in body["items"]] == ["c"]
    body = faulted(proxy, DropItems("items", "meta.tag")).json()
    assert [i["id"] for i in body["items"]] == ["b", "c"]
    assert not proxy.errors()


def test_replace_body_and_substitute_text(proxy: FaultProxy) -> None:
    response = faulted(proxy, ReplaceBody({"replaced": True}))
    assert response.json() == {"replaced": True}
    assert response.headers["content-length"] == str(len(response.content))
    response = faulted(proxy, ReplaceBody("<html>", content_type="text/html"))
    assert (response.text, response.headers["content-type"]) == ("<html>", "text/html")
    response = faulted(proxy, SubText(r"^skillmeat_api_requests_total.*\n", ""), target="/text")
    assert "skillmeat_api_requests_total" not in response.text
    assert "skillmeat_other 1" in response.text
    assert response.headers["content-type"].startswith("text/plain")


def test_edits_of_an_encoded_body_are_sent_decoded(proxy: FaultProxy) -> None:
    proxy.set_rules([Rule("fault", path="/gzip", actions=(SetField("status", "down"),))])
    response, data = raw_request(proxy, "GET", "/gzip", {"Accept-Encoding": "gzip"})
    assert response.getheader("Content-Encoding") is None
    assert json.loads(data)["status"] == "down"
    assert int(response.getheader("Content-Length") or 0) == len(data)


def test_headers_and_delay(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule(
                "h",
                path="/cookies",
                actions=(
                    RemoveHeader("X-Ratelimit-Threshold"),
                    RemoveHeader("Set-Cookie"),
                    SetHeader("Access-Control-Allow-Origin", "*"),
                    Delay(0.3),
                ),
            )
        ]
    )
    started = time.monotonic()
    response = fetch(proxy, "/cookies")
    assert time.monotonic() - started >= 0.3
    assert "x-ratelimit-threshold" not in response.headers
    assert "set-cookie" not in response.headers
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (SetField("nope.deeper", 1), "no field 'nope'"),
        (DeleteField("missing"), "no field 'missing'"),
        (DeleteField("items.7"), "out of range"),
        (RemoveElement("status"), "not a list"),
        (DropItems("items", "type", equals="learning"), "no element"),
        (SubText("absent", ""), "found nothing"),
        (RemoveHeader("X-Absent"), "no X-Absent header"),
    ],
)
def test_an_action_that_cannot_apply_is_recorded_and_changes_nothing_else(
    proxy: FaultProxy, action: Any, problem: str
) -> None:
    response = faulted(proxy, action, SetStatus(299))
    assert response.status_code == 299
    errors = proxy.errors()
    assert len(errors) == 1
    assert problem in errors[0]
    assert errors[0].startswith("fault: ")


def test_json_action_on_a_text_body_is_an_error(proxy: FaultProxy) -> None:
    response = faulted(proxy, SetField("x", 1), target="/text")
    assert "skillmeat_other" in response.text
    assert "not JSON" in proxy.errors()[0]


def test_paths() -> None:
    assert parse_path("a.b.0") == ["a", "b", "0"]
    assert parse_path("/a~1b/~0c/-") == ["a/b", "~c", "-"]
    assert parse_path("") == []
    assert resolve(DOC, parse_path("items.*.id")) == ["a", "b", "c"]
    with pytest.raises(ActionError):
        resolve(DOC, parse_path("items.x"))
    with pytest.raises(ActionError):
        resolve(DOC, parse_path("status.deeper"))


# -- conditional rules, request rewriting, captured values, computed answers -----------------


def test_upstream_status_condition(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule(
                "only-409",
                path=r"/status/\d+",
                upstream_status=(409, 410),
                actions=(SetStatus(201),),
            )
        ]
    )
    assert fetch(proxy, "/status/409").status_code == 201
    assert fetch(proxy, "/status/410").status_code == 201
    assert fetch(proxy, "/status/200").status_code == 200
    assert proxy.stats()["only-409"].fired == 2
    with pytest.raises(ValueError, match="upstream"):
        Rule("x", upstream_status=409, answer=Answer())


def test_rewrite_query(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule(
                "unscope",
                path="/echo/search",
                rewrite_query=((r"project_id=[^&]*&?", ""), (r"\bsearch=", "query=")),
            )
        ]
    )
    seen = fetch(proxy, "/echo/search", params={"project_id": "B", "search": "kw"}).json()
    assert seen["query"] == "query=kw"


def test_capture_and_ref_stay_within_one_check(proxy: FaultProxy) -> None:
    proxy.set_rules(
        [
            Rule("remember", path="/doc", actions=(Capture("first", "items.0"),)),
            Rule("leak", path="/echo/leak", actions=(SetField("leaked", [Ref("first")]),)),
        ]
    )
    fetch(proxy, "/doc", "check.a")
    leaked = fetch(proxy, "/echo/leak", "check.a").json()["leaked"]
    assert leaked == [DOC["items"][0]]
    # Another check has captured nothing: the fault cannot apply there, and says so.
    assert "leaked" not in fetch(proxy, "/echo/leak", "check.b").json()
    assert "nothing captured as 'first'" in proxy.errors()[0]


class EchoTwice:
    """A Responder that makes two upstream calls and answers with what it learned."""

    def respond(self, request: ProxyRequest, upstream: Upstream) -> ProxyResponse:
        sent = request.json()
        first = upstream.send("POST", "/echo/one", sent)
        second = upstream.send("GET", f"/echo/two?{request.query}")
        body = {"one": first.json()["body"], "two": second.json()["query"], "check": request.check}
        return ProxyResponse(200, [("Content-Type", "application/json")], json.dumps(body).encode())


def test_a_responder_answers_with_its_own_upstream_calls(
    proxy: FaultProxy, up: StubUpstream
) -> None:
    proxy.set_rules([Rule("computed", method="POST", path="/computed", answer=EchoTwice())])
    before = up.count("/computed")
    answered = fetch(proxy, "/computed?x=1", "check.c", method="POST", json={"a": 1}).json()
    assert answered == {"one": '{"a": 1}', "two": "x=1", "check": "check.c"}
    assert up.count("/computed") == before
    assert up.seen[-1].path == "/echo/two?x=1"
    assert ("X-Phasegate-Check", "check.c") in up.seen[-1].headers


def test_a_responder_that_fails_is_a_502_and_an_error(proxy: FaultProxy) -> None:
    proxy.set_rules([Rule("broken", path="/computed", answer=EchoTwice())])
    response = fetch(proxy, "/computed", method="POST", content=b"not json")
    assert response.status_code == 502
    assert "not JSON" in proxy.errors()[0]
