"""A tiny stdlib upstream for the proxy's own tests: it echoes, serves fixed bodies, and counts.

Routes:
    /echo...          JSON of what arrived: method, path, query, headers (as pairs), body
    /doc              a nested JSON document (see DOC)
    /gzip             DOC gzip-encoded, with Content-Encoding: gzip
    /text             a few lines of Prometheus-like text
    /status/<code>    an empty answer with that status ({} for codes that carry a body)
    /cookies          two Set-Cookie headers and a Connection-named header
    anything else     404 {"detail": "Not Found"}
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DOC: dict[str, Any] = {
    "status": "healthy",
    "components": {"memory_system": {"status": "healthy", "details": "ok"}},
    "items": [
        {"id": "a", "type": "decision", "confidence": 0.9, "meta": {"tag": "x"}},
        {"id": "b", "type": "gotcha", "confidence": 0.4},
        {"id": "c", "type": "decision", "confidence": 0.7},
    ],
    "a/b": 1,
    "m~n": 2,
}
TEXT = '# HELP demo\nskillmeat_api_requests_total{a="1"} 3\nskillmeat_other 1\n'


@dataclass
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class StubUpstream:
    url: str
    seen: list[Seen] = field(default_factory=list)

    def count(self, path_prefix: str = "") -> int:
        return sum(1 for s in self.seen if s.path.startswith(path_prefix))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _answer(
        self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in headers or [("Content-Type", "application/json")]:
            self.send_header(name, value)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)
        self.wfile.flush()

    def _serve(self) -> None:
        body = self._body()
        seen: list[Seen] = self.server.seen  # type: ignore[attr-defined]
        seen.append(Seen(self.command, self.path, list(self.headers.items()), body))
        parts = urlsplit(self.path)
        path = parts.path
        if path.startswith("/echo"):
            echo = {
                "method": self.command,
                "path": path,
                "query": parts.query,
                "headers": list(self.headers.items()),
                "body": body.decode("utf-8", errors="replace"),
            }
            self._answer(200, json.dumps(echo).encode())
        elif path == "/doc":
            self._answer(200, json.dumps(DOC).encode())
        elif path == "/gzip":
            self._answer(
                200,
                gzip.compress(json.dumps(DOC).encode()),
                [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
            )
        elif path == "/text":
            self._answer(200, TEXT.encode(), [("Content-Type", "text/plain; version=0.0.4")])
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._answer(code, b"{}")
        elif path == "/cookies":
            self._answer(
                200,
                b"{}",
                [
                    ("Content-Type", "application/json"),
                    ("Set-Cookie", "a=1; Path=/"),
                    ("Set-Cookie", "b=2; Path=/"),
                    ("Connection", "X-Private"),
                    ("X-Private", "hop"),
                    ("X-Ratelimit-Threshold", "20"),
                ],
            )
        else:
            self._answer(404, b'{"detail":"Not Found"}')


@contextmanager
def upstream() -> Iterator[StubUpstream]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = StubUpstream(f"http://127.0.0.1:{server.server_address[1]}")
    server.seen = state.seen  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
