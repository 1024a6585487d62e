"""A fault-injecting HTTP reverse proxy: a real upstream, with chosen answers made wrong.

The project's rule is that every check must be shown to FAIL against a target that violates it.
This proxy makes such targets out of a real SkillMeat: it forwards every request faithfully
(method, path, query, headers minus hop-by-hop, body) and then applies *rules*, which are plain
data. A rule matches on the `X-Phasegate-Check` header each phasegate request carries (exact id
or prefix), the method, a regular expression over the path and, optionally, a substring of the
query, a regular expression searched in the request body, and the status the upstream gave. A
matching rule then edits the upstream response with actions:

    SetStatus, SetField, DeleteField, RemoveElement, DropItems, ReplaceBody, SubText, Delay,
    SetHeader, RemoveHeader, Capture (remember a value for a later request of the same check,
    used through Ref inside a SetField value)

or answers by itself without calling the upstream (`answer=Answer(...)`, or any Responder, which
may make upstream calls of its own), or forwards elsewhere (`rewrite_path`, `rewrite_query`).
Every matching rule applies, in the order given; the first answering rule replaces the upstream
call. The proxy counts how often each rule fired and records actions that could not apply (a
field that is not there), so a test can assert that a fault really happened: a fault that never
fired proves nothing.

    rules = [Rule("no-flag", check="config.flag-present", method="GET",
                  path=r"/api/v1/config/feature-flags",
                  actions=(DeleteField("memory_context_enabled"),))]
    with FaultProxy("http://127.0.0.1:8000", rules) as proxy:
        ...  # point the client at proxy.url
        assert proxy.hits("no-flag") >= 1 and not proxy.errors()

Paths into JSON bodies are dotted (`components.memory_system.status`, `items.0.id`, negative
indexes count from the end, `*` fans out over every element or value) or JSON pointers
(`/components/memory_system/status`, `~1` for `/`, `-` appends to a list in SetField).

The proxy binds 127.0.0.1 only, on a port the kernel chooses.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

import httpx

from phasegate.stack.ports import LOOPBACK

CHECK_HEADER = "X-Phasegate-Check"

# RFC 9110 section 7.6.1: meaningful for one connection only, never forwarded. Content-Length is
# recomputed for the body actually sent; Host is the upstream's.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED_UP = HOP_BY_HOP | {"host", "content-length"}
_NOT_FORWARDED_DOWN = HOP_BY_HOP | {"content-length"}

JSONValue = Any


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()


class ActionError(Exception):
    """An action could not apply to this response (no JSON body, no such field, ...)."""


# -- the request a rule matched, and the response the actions edit ---------------------------


@dataclass(frozen=True)
class ProxyRequest:
    """One request as the client sent it (after hop-by-hop headers are read)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    check: str | None

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json(self) -> JSONValue:
        try:
            return json.loads(self.body)
        except ValueError:
            raise ActionError(f"the request body is not JSON: {self.body[:80]!r}") from None


@dataclass
class ProxyResponse:
    """The answer on its way back to the client; actions edit it in place.

    `body` holds the bytes as the upstream sent them (possibly gzip-encoded). Body actions call
    `text()`/`json()` which decode it once and drop the Content-Encoding header, so an edited
    body is always sent as identity.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""
    delay_s: float = 0.0
    _decoded: bool = False
    _json: JSONValue = UNSET
    # Set by the proxy before actions run: the request answered, and a scratch space shared by
    # every request of the same check (Capture writes it, Ref reads it).
    request: ProxyRequest | None = None
    state: dict[str, Any] = field(default_factory=dict)

    # headers ----------------------------------------------------------------------------------

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def has_header(self, name: str) -> bool:
        return self.header(name) is not None

    def remove_header(self, name: str) -> int:
        wanted = name.lower()
        before = len(self.headers)
        self.headers = [(k, v) for k, v in self.headers if k.lower() != wanted]
        return before - len(self.headers)

    def set_header(self, name: str, value: str) -> None:
        self.remove_header(name)
        self.headers.append((name, value))

    # body -------------------------------------------------------------------------------------

    def plain(self) -> bytes:
        """The body without its content coding (decoded once, header removed)."""
        if not self._decoded:
            encoding = (self.header("content-encoding") or "identity").strip().lower()
            if encoding not in ("", "identity"):
                try:
                    self.body = httpx.Response(
                        200, headers={"content-encoding": encoding}, content=self.body
                    ).content
                except httpx.DecodingError as exc:
                    raise ActionError(f"cannot decode a {encoding} body: {exc}") from None
                self.remove_header("content-encoding")
            self._decoded = True
        return self.body

    def text(self) -> str:
        return self.plain().decode("utf-8", errors="replace")

    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        self.plain()
        self.body = body
        self._json = UNSET
        if content_type is not None:
            self.set_header("Content-Type", content_type)

    def set_text(self, text: str) -> None:
        self.set_body(text.encode("utf-8"))

    def json(self) -> JSONValue:
        """The parsed JSON body; edits to it are kept by `commit_json()`."""
        if self._json is UNSET:
            raw = self.plain()
            try:
                self._json = json.loads(raw) if raw else UNSET
            except ValueError:
                self._json = UNSET
            if self._json is UNSET:
                raise ActionError(
                    f"the response body is not JSON ({self.header('content-type')}): {raw[:80]!r}"
                )
        return self._json

    def set_json(self, value: JSONValue) -> None:
        self.set_body(json.dumps(value, separators=(",", ":")).encode("utf-8"))
        self._json = value
        if not (self.header("content-type") or "").startswith("application/json"):
            self.set_header("Content-Type", "application/json")

    def commit_json(self) -> None:
        self.set_json(self._json)


# -- JSON paths ------------------------------------------------------------------------------


def parse_path(path: str) -> list[str]:
    """`a.b.0` or `/a/b/0` (JSON pointer) -> segments; `""` is the whole document."""
    if path == "":
        return []
    if path.startswith("/"):
        return [s.replace("~1", "/").replace("~0", "~") for s in path[1:].split("/")]
    return path.split(".")


def _index(node: list[Any], segment: str, *, allow_end: bool = False) -> int:
    try:
        index = int(segment)
    except ValueError:
        raise ActionError(f"{segment!r} is not a list index") from None
    size = len(node)
    if index < 0:
        index += size
    if not (0 <= index < size or (allow_end and index == size)):
        raise ActionError(f"index {segment} out of range (list of {size})")
    return index


def _child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        if segment not in node:
            raise ActionError(f"no field {segment!r} (fields: {sorted(node)[:12]})")
        return node[segment]
    if isinstance(node, list):
        return node[_index(node, segment)]
    raise ActionError(f"cannot step into {type(node).__name__} with {segment!r}")


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    raise ActionError(f"'*' needs a list or an object, found {type(node).__name__}")


def resolve(doc: JSONValue, segments: Sequence[str]) -> list[Any]:
    """Every value the path names (several when it has `*`); missing steps raise ActionError."""
    nodes = [doc]
    for segment in segments:
        if segment == "*":
            nodes = [child for node in nodes for child in _children(node)]
        else:
            nodes = [_child(node, segment) for node in nodes]
    return nodes


def _parents(doc: JSONValue, segments: Sequence[str]) -> Iterator[tuple[Any, str]]:
    """(container, last segment) pairs the path ends in, `*` in the last segment expanded."""
    if not segments:
        raise ActionError("the empty path names the whole document, not a field")
    *head, last = segments
    for parent in resolve(doc, head):
        if last == "*":
            if isinstance(parent, dict):
                yield from ((parent, key) for key in list(parent))
            elif isinstance(parent, list):
                yield from ((parent, str(i)) for i in range(len(parent)))
            else:
                raise ActionError(f"'*' needs a list or an object, found {type(parent).__name__}")
        else:
            yield parent, last


def _lookup(node: Any, segments: Sequence[str]) -> Any:
    """One value or UNSET when any step is missing (used to test items, never raises)."""
    try:
        values = resolve(node, segments)
    except ActionError:
        return UNSET
    return values[0] if len(values) == 1 else UNSET


# -- actions ---------------------------------------------------------------------------------


class Action(Protocol):
    """One edit of a response; raises ActionError when it cannot apply."""

    def apply(self, response: ProxyResponse) -> None: ...


@dataclass(frozen=True)
class SetStatus:
    status: int

    def apply(self, response: ProxyResponse) -> None:
        response.status = self.status
        response.reason = ""


@dataclass(frozen=True)
class Ref:
    """A value captured earlier in the same check (see Capture), usable inside SetField values."""

    name: str


def _resolve_refs(value: JSONValue, state: Mapping[str, Any]) -> JSONValue:
    if isinstance(value, Ref):
        if value.name not in state:
            raise ActionError(f"nothing captured as {value.name!r} yet")
        return _copy(state[value.name])
    if isinstance(value, dict):
        return {k: _resolve_refs(v, state) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, state) for v in value]
    return _copy(value)


@dataclass(frozen=True)
class Capture:
    """Remember the JSON value at `path` as `name`, for later requests of the same check.

    This is how a fault can use what only the run knows, for example another project's item id
    to leak into this project's answer.
    """

    name: str
    path: str = ""

    def apply(self, response: ProxyResponse) -> None:
        values = resolve(response.json(), parse_path(self.path))
        response.state[self.name] = _copy(values[0] if len(values) == 1 else values)


@dataclass(frozen=True)
class SetField:
    """Set a JSON value at `path` (created in an existing object; `-` appends to a list).

    The value may contain `Ref(name)` markers, replaced by what `Capture` stored.
    """

    path: str
    value: JSONValue

    def apply(self, response: ProxyResponse) -> None:
        value = _resolve_refs(self.value, response.state)
        segments = parse_path(self.path)
        if not segments:
            response.set_json(value)
            return
        doc = response.json()
        for parent, key in _parents(doc, segments):
            if isinstance(parent, dict):
                parent[key] = _copy(value)
            elif isinstance(parent, list):
                if key == "-":
                    parent.append(_copy(value))
                    continue
                index = _index(parent, key, allow_end=True)
                if index == len(parent):
                    parent.append(_copy(value))
                else:
                    parent[index] = _copy(value)
            else:
                raise ActionError(f"cannot set {key!r} inside {type(parent).__name__}")
        response.commit_json()


@dataclass(frozen=True)
class DeleteField:
    """Delete the field (or list element) at `path`; missing is an error unless `missing_ok`."""

    path: str
    missing_ok: bool = False

    def apply(self, response: ProxyResponse) -> None:
        doc = response.json()
        try:
            targets = list(_parents(doc, parse_path(self.path)))
        except ActionError:
            if self.missing_ok:
                return
            raise
        # Delete list elements from the highest index down, so earlier deletions shift nothing.
        ordered = sorted(
            targets,
            key=lambda t: int(t[1]) if isinstance(t[0], list) and _is_int(t[1]) else 0,
            reverse=True,
        )
        for parent, key in ordered:
            if isinstance(parent, dict):
                if key in parent:
                    del parent[key]
                elif not self.missing_ok:
                    raise ActionError(f"no field {key!r} to delete (fields: {sorted(parent)[:12]})")
            elif isinstance(parent, list):
                try:
                    del parent[_index(parent, key)]
                except ActionError:
                    if not self.missing_ok:
                        raise
            else:
                raise ActionError(f"cannot delete {key!r} inside {type(parent).__name__}")
        response.commit_json()


@dataclass(frozen=True)
class RemoveElement:
    """Remove element `index` of the list at `path` (`""` for a top-level list)."""

    path: str
    index: int = 0
    missing_ok: bool = False

    def apply(self, response: ProxyResponse) -> None:
        doc = response.json()
        for target in resolve(doc, parse_path(self.path)):
            if not isinstance(target, list):
                raise ActionError(f"{self.path!r} is {type(target).__name__}, not a list")
            try:
                del target[_index(target, str(self.index))]
            except ActionError:
                if not self.missing_ok:
                    raise
        response.commit_json()


@dataclass(frozen=True)
class DropItems:
    """Drop the elements of the list at `path` whose field `where` matches.

    Matches when the field equals `equals`, or (as text) searches `regex`; with neither given,
    when the field is present at all. Dropping nothing is an error unless `missing_ok`.
    """

    path: str
    where: str
    equals: JSONValue = UNSET
    regex: str | None = None
    missing_ok: bool = False

    def __post_init__(self) -> None:
        if self.regex is not None:
            re.compile(self.regex)

    def _matches(self, item: Any) -> bool:
        value = _lookup(item, parse_path(self.where))
        if value is UNSET:
            return False
        if self.equals is not UNSET and value != self.equals:
            return False
        if self.regex is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            return re.search(self.regex, text) is not None
        return True

    def apply(self, response: ProxyResponse) -> None:
        doc = response.json()
        dropped = 0
        for target in resolve(doc, parse_path(self.path)):
            if not isinstance(target, list):
                raise ActionError(f"{self.path!r} is {type(target).__name__}, not a list")
            kept = [item for item in target if not self._matches(item)]
            dropped += len(target) - len(kept)
            target[:] = kept
        if not dropped and not self.missing_ok:
            raise ActionError(f"no element of {self.path!r} has a matching {self.where!r}")
        response.commit_json()


def _encode_content(content: JSONValue) -> tuple[bytes, str]:
    if isinstance(content, bytes):
        return content, "application/octet-stream"
    if isinstance(content, str):
        return content.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(content, separators=(",", ":")).encode("utf-8"), "application/json"


@dataclass(frozen=True)
class ReplaceBody:
    """Replace the whole body: bytes and str are sent as they are, anything else as JSON."""

    content: JSONValue
    content_type: str | None = None

    def apply(self, response: ProxyResponse) -> None:
        body, default_type = _encode_content(self.content)
        response.set_body(body, self.content_type or default_type)


@dataclass(frozen=True)
class SubText:
    """Regex substitution over the body as text (multiline); no match is an error unless ok."""

    pattern: str
    replacement: str
    count: int = 0
    missing_ok: bool = False

    def __post_init__(self) -> None:
        re.compile(self.pattern, re.MULTILINE)

    def apply(self, response: ProxyResponse) -> None:
        text, made = re.subn(
            self.pattern, self.replacement, response.text(), count=self.count, flags=re.MULTILINE
        )
        if not made and not self.missing_ok:
            raise ActionError(f"pattern {self.pattern!r} found nothing to replace")
        response.set_text(text)


@dataclass(frozen=True)
class Delay:
    """Hold the answer back for `seconds` (added to any other delay)."""

    seconds: float

    def apply(self, response: ProxyResponse) -> None:
        response.delay_s += self.seconds


@dataclass(frozen=True)
class SetHeader:
    name: str
    value: str

    def apply(self, response: ProxyResponse) -> None:
        response.set_header(self.name, self.value)


@dataclass(frozen=True)
class RemoveHeader:
    name: str
    missing_ok: bool = False

    def apply(self, response: ProxyResponse) -> None:
        if not response.remove_header(self.name) and not self.missing_ok:
            raise ActionError(f"no {self.name} header to remove")


class Upstream(Protocol):
    """What a Responder may ask of the upstream: one request, sent as the client's would be."""

    def send(self, method: str, target: str, json_body: JSONValue = UNSET) -> ProxyResponse: ...


class Responder(Protocol):
    """Answers a request instead of the plain forward (Answer is the static one)."""

    def respond(self, request: ProxyRequest, upstream: Upstream) -> ProxyResponse: ...


@dataclass(frozen=True)
class Answer:
    """The response a rule gives instead of calling the upstream (a refusal, a canned body)."""

    status: int = 503
    content: JSONValue = field(default_factory=lambda: {"detail": "refused by faultproxy"})
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def respond(self, request: ProxyRequest, upstream: Upstream) -> ProxyResponse:
        return self.response()

    def response(self) -> ProxyResponse:
        body, default_type = _encode_content(self.content)
        headers = [("Content-Type", self.content_type or default_type)]
        headers += [(k, v) for k, v in self.headers.items() if k.lower() != "content-type"]
        return ProxyResponse(self.status, headers, body, _decoded=True)


def _copy(value: JSONValue) -> JSONValue:
    return json.loads(json.dumps(value))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


# -- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """When a request matches, edit (or replace) its answer.

    Matching: `check` (exact X-Phasegate-Check) or `check_prefix`; `method` (one or several,
    any case); `path` a regular expression that must match the whole path (without the query);
    `query` a substring of the raw query string; `body` a regular expression searched in the
    request body (decoded as UTF-8), for example `r'"budget_tokens":\\s*200\\b'`; `upstream_status`
    the status the upstream (or an answering rule) gave, so the rule only edits, say, a 409.
    Unset means any. `skip` lets that many matching requests pass untouched first; `limit` stops
    the rule after it fired that many times.

    Instead of the plain forward: `answer` (an Answer, or any Responder) answers by itself;
    `rewrite_path` (a template for the path regex's match, groups as `\\1`) and `rewrite_query`
    ((pattern, replacement) substitutions, in order) change what is forwarded.
    """

    name: str
    actions: tuple[Action, ...] = ()
    check: str | None = None
    check_prefix: str | None = None
    method: str | tuple[str, ...] | None = None
    path: str | None = None
    query: str | None = None
    body: str | None = None
    upstream_status: int | tuple[int, ...] | None = None
    answer: Responder | None = None
    rewrite_path: str | None = None
    rewrite_query: tuple[tuple[str, str], ...] = ()
    skip: int = 0
    limit: int | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a rule needs a name (the counts are kept by name)")
        for label, pattern in (("path", self.path), ("body", self.body)):
            if pattern is None:
                continue
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"rule {self.name}: bad {label} regex {pattern!r}: {exc}"
                ) from None
        if self.rewrite_path is not None and self.path is None:
            raise ValueError(f"rule {self.name}: rewrite_path needs a path regex")
        for pattern, _ in self.rewrite_query:
            re.compile(pattern)
        if self.upstream_status is not None and (
            self.answer is not None or self.rewrite_path is not None or self.rewrite_query
        ):
            raise ValueError(
                f"rule {self.name}: a rule that waits for the upstream's status cannot change "
                "what is sent upstream"
            )
        if not isinstance(self.actions, tuple):
            object.__setattr__(self, "actions", tuple(self.actions))

    @property
    def methods(self) -> frozenset[str] | None:
        if self.method is None:
            return None
        names = (self.method,) if isinstance(self.method, str) else self.method
        return frozenset(m.upper() for m in names)

    def matches(self, method: str, path: str, query: str, check: str | None, body: bytes) -> bool:
        if self.check is not None and check != self.check:
            return False
        if self.check_prefix is not None and not (check or "").startswith(self.check_prefix):
            return False
        methods = self.methods
        if methods is not None and method.upper() not in methods:
            return False
        if self.path is not None and re.fullmatch(self.path, path) is None:
            return False
        if self.query is not None and self.query not in query:
            return False
        if self.body is None:
            return True
        return re.search(self.body, body.decode("utf-8", errors="replace")) is not None

    @property
    def statuses(self) -> frozenset[int] | None:
        if self.upstream_status is None:
            return None
        if isinstance(self.upstream_status, int):
            return frozenset({self.upstream_status})
        return frozenset(self.upstream_status)

    @property
    def changes_request(self) -> bool:
        return self.rewrite_path is not None or bool(self.rewrite_query)

    def upstream_query(self, query: str) -> str:
        for pattern, replacement in self.rewrite_query:
            query = re.sub(pattern, replacement, query)
        return query

    def upstream_path(self, path: str) -> str:
        if self.rewrite_path is None or self.path is None:
            return path
        found = re.fullmatch(self.path, path)
        return found.expand(self.rewrite_path) if found else path


@dataclass
class RuleStats:
    """How often a rule matched (past `skip`, within `limit`) and what it could not do."""

    seen: int = 0
    fired: int = 0
    errors: list[str] = field(default_factory=list)

    def snapshot(self) -> RuleStats:
        return RuleStats(self.seen, self.fired, list(self.errors))


@dataclass(frozen=True)
class ProxyEvent:
    """One proxied request, for a test's failure message."""

    method: str
    target: str
    check: str | None
    status: int
    rules: tuple[str, ...]
    forwarded: bool
    error: str | None = None

    def line(self) -> str:
        fired = f" [{', '.join(self.rules)}]" if self.rules else ""
        where = "" if self.forwarded else " (answered by the proxy)"
        error = f" error: {self.error}" if self.error else ""
        return f"{self.method} {self.target} <{self.check}> -> {self.status}{where}{fired}{error}"


# -- the server ------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__((LOOPBACK, 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after this long
    # Headers and body leave in one segment: no Nagle / delayed-ACK stall of 40 ms per answer.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server_version = "phasegate-faultproxy"

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: every method is proxied.
        if name.startswith("do_"):
            return self._proxy
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the proxy keeps its own event log

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers, dropped
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _proxy(self) -> None:
        proxy = cast("_Server", self.server).proxy
        body = self._read_body()
        try:
            response = proxy.handle(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0]
            )
        except Exception as exc:  # a proxy bug must show as an answer, not a dropped connection
            message = f"faultproxy: internal error: {exc!r}"
            proxy.note_internal_error(message)
            response = _error_response(500, message)
        self._send(response)

    def _send(self, response: ProxyResponse) -> None:
        if response.delay_s > 0:
            time.sleep(response.delay_s)
        status = response.status
        reason = response.reason or _phrase(status)
        self.send_response_only(status, reason)
        headers = [(k, v) for k, v in response.headers if k.lower() not in _NOT_FORWARDED_DOWN]
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        for name, value in headers:
            self.send_header(name, value)
        if self.command == "HEAD":
            upstream_length = response.header("content-length")
            if upstream_length is not None:
                self.send_header("Content-Length", upstream_length)
        elif not no_body:
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not no_body:
            self.wfile.write(response.body)
        self.wfile.flush()


def _error_response(status: int, message: str) -> ProxyResponse:
    body = json.dumps({"detail": message}).encode("utf-8")
    return ProxyResponse(status, [("Content-Type", "application/json")], body, _decoded=True)


class _UpstreamCall:
    """Upstream calls for a Responder, carrying the answered request's headers."""

    def __init__(self, proxy: FaultProxy, request: ProxyRequest) -> None:
        self._proxy = proxy
        self._request = request

    def send(self, method: str, target: str, json_body: JSONValue = UNSET) -> ProxyResponse:
        headers = [
            (k, v)
            for k, v in self._request.headers
            if k.lower() not in ("content-type", "content-length", "transfer-encoding")
        ]
        body = b""
        if json_body is not UNSET:
            body = json.dumps(json_body).encode("utf-8")
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        response, error = self._proxy._forward(method, target, headers, body)
        if error is not None:
            raise ActionError(error)
        response.plain()
        return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Fault"


class FaultProxy:
    """A reverse proxy in front of `upstream` that applies `rules` to what it forwards.

    `add_request_headers` are set on every forwarded request (for example an
    `X-Forwarded-For` that makes one run look like one client to the upstream's rate limiter).
    The upstream sees its own Host unless `preserve_host` passes the client's on.
    Use as a context manager, or `start()` (returns the URL) and `stop()`.
    """

    def __init__(
        self,
        upstream: str,
        rules: Iterable[Rule] = (),
        *,
        timeout_s: float = 30.0,
        add_request_headers: Mapping[str, str] | None = None,
        check_header: str = CHECK_HEADER,
        keep_events: int = 2000,
        preserve_host: bool = False,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.preserve_host = preserve_host
        self.timeout_s = timeout_s
        self.add_request_headers = dict(add_request_headers or {})
        self.check_header = check_header
        self._lock = threading.Lock()
        self._rules: tuple[Rule, ...] = ()
        self._stats: dict[str, RuleStats] = {}
        self._events: deque[ProxyEvent] = deque(maxlen=keep_events)
        self._internal_errors: list[str] = []
        self._scratch: dict[str, dict[str, Any]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._http: httpx.Client | None = None
        self.set_rules(rules)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        if self._server is not None:
            return self.url
        self._http = httpx.Client(timeout=self.timeout_s, follow_redirects=False, trust_env=False)
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"faultproxy:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._http is not None:
            self._http.close()
            self._http = None

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- rules and counts -----------------------------------------------------------------------

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules (and their counts); names must be unique."""
        rules = tuple(rules)
        names = [rule.name for rule in rules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule names: {', '.join(duplicates)}")
        with self._lock:
            self._rules = rules
            self._stats = {rule.name: RuleStats() for rule in rules}
            self._scratch = {}

    def reset(self) -> None:
        """Zero the counts and forget the event log; the rules stay."""
        with self._lock:
            self._stats = {rule.name: RuleStats() for rule in self._rules}
            self._events.clear()
            self._internal_errors.clear()
            self._scratch.clear()

    def hits(self, name: str) -> int:
        with self._lock:
            if name not in self._stats:
                raise KeyError(f"no rule named {name!r}")
            return self._stats[name].fired

    def stats(self) -> dict[str, RuleStats]:
        with self._lock:
            return {name: s.snapshot() for name, s in self._stats.items()}

    def unfired(self) -> list[str]:
        """Names of rules that never fired: faults that proved nothing."""
        with self._lock:
            return [name for name, s in self._stats.items() if s.fired == 0]

    def errors(self) -> list[str]:
        """`rule: problem` for every action that could not apply, and any proxy failure."""
        with self._lock:
            found = [f"{name}: {e}" for name, s in self._stats.items() for e in s.errors]
            return found + list(self._internal_errors)

    def events(self, check: str | None = None) -> list[ProxyEvent]:
        with self._lock:
            return [e for e in self._events if check is None or e.check == check]

    # -- one request ----------------------------------------------------------------------------

    def _fire(self, rules: Iterable[Rule]) -> list[Rule]:
        """Count the fully matching rules; those past `skip` and within `limit` fire."""
        fired: list[Rule] = []
        with self._lock:
            for rule in rules:
                stats = self._stats[rule.name]
                stats.seen += 1
                if stats.seen <= rule.skip:
                    continue
                if rule.limit is not None and stats.fired >= rule.limit:
                    continue
                stats.fired += 1
                fired.append(rule)
        return fired

    def handle(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        client: str = "",
    ) -> ProxyResponse:
        """Decide, forward (or not) and edit one request's answer. Used by the HTTP handler."""
        path, _, query = target.partition("?")
        check = next((v for k, v in headers if k.lower() == self.check_header.lower()), None)
        request = ProxyRequest(method, path, query, tuple(headers), body, check)
        candidates = [r for r in self._rules if r.matches(method, path, query, check, body)]
        before = self._fire(r for r in candidates if r.statuses is None)
        responder = next((r for r in before if r.answer is not None), None)
        error: str | None = None
        if responder is not None and responder.answer is not None:
            try:
                response = responder.answer.respond(request, _UpstreamCall(self, request))
            except ActionError as exc:
                message = f"{responder.answer!r} on {method} {target}: {exc}"
                self._note_error(responder.name, message)
                response = _error_response(502, f"faultproxy: {message}")
        else:
            rewrite = next((r for r in before if r.changes_request), None)
            forward_path, forward_query = path, query
            if rewrite is not None:
                forward_path = rewrite.upstream_path(path)
                forward_query = rewrite.upstream_query(query)
            upstream_target = f"{forward_path}?{forward_query}" if forward_query else forward_path
            response, error = self._forward(method, upstream_target, headers, body)
        after = self._fire(
            r for r in candidates if r.statuses is not None and response.status in r.statuses
        )
        chosen = set(id(r) for r in (*before, *after))
        rules = [r for r in candidates if id(r) in chosen]  # in the order they were given
        response.request = request
        with self._lock:
            response.state = self._scratch.setdefault(check or "", {})
        for rule in rules:
            for action in rule.actions:
                try:
                    action.apply(response)
                except ActionError as exc:
                    self._note_error(rule.name, f"{action!r} on {method} {target}: {exc}")
        with self._lock:
            self._events.append(
                ProxyEvent(
                    method,
                    target,
                    check,
                    response.status,
                    tuple(r.name for r in rules),
                    forwarded=responder is None,
                    error=error,
                )
            )
        return response

    def note_internal_error(self, message: str) -> None:
        with self._lock:
            self._internal_errors.append(message)

    def _note_error(self, name: str, message: str) -> None:
        with self._lock:
            self._stats[name].errors.append(message)

    def _forward(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> tuple[ProxyResponse, str | None]:
        http = self._http
        if http is None:
            raise RuntimeError("the proxy is not running")
        connection_tokens = {
            token.strip().lower()
            for k, v in headers
            if k.lower() == "connection"
            for token in v.split(",")
        }
        extra = {k.lower() for k in self.add_request_headers}
        forwarded = [
            (k, v)
            for k, v in headers
            if (k.lower() not in _NOT_FORWARDED_UP or (self.preserve_host and k.lower() == "host"))
            and k.lower() not in connection_tokens
            and k.lower() not in extra
        ]
        forwarded += list(self.add_request_headers.items())
        # A bare Request: Client.request would add httpx's default headers and cookies.
        framed = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers)
        request = httpx.Request(
            method,
            f"{self.upstream}{target}",
            headers=forwarded,
            content=body if (body or framed) else None,
        )
        try:
            upstream = http.send(request, stream=True)
            try:
                raw = b"".join(upstream.iter_raw())
            finally:
                upstream.close()
        except httpx.HTTPError as exc:
            message = f"faultproxy: upstream {self.upstream} failed: {exc!r}"
            return _error_response(502, message), message
        down_tokens = {
            token.strip().lower()
            for token in ",".join(upstream.headers.get_list("connection")).split(",")
            if token.strip()
        }
        response_headers = [
            (k, v)
            for k, v in upstream.headers.multi_items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in down_tokens
        ]
        return (
            ProxyResponse(upstream.status_code, response_headers, raw, upstream.reason_phrase),
            None,
        )
