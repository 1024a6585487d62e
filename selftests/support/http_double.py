"""A tiny SkillMeat stand-in: stdlib http.server on 127.0.0.1 in a background thread.

Each route answers a fixed status, body and headers; `/echo` answers with the request's own
headers (the way a debugging proxy would) and `/whoami` refuses with a 401 that quotes the API
key, which is how the redaction tests put a secret into a response body. Every request is
recorded so a test can see what the client really sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.loopback import LoopbackServer

FLAGS_OFF = {"memory_context_enabled": False, "memory_auto_extract": False}


@dataclass(frozen=True)
class Route:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]


def default_routes() -> dict[tuple[str, str], Route]:
    return {
        ("GET", "/health"): Route(200, {"status": "healthy", "version": "0.74.0"}),
        ("GET", "/api/v1/config/feature-flags"): Route(200, FLAGS_OFF),
        ("GET", "/api/v1/version"): Route(200, {"version": "0.74.0"}),
        ("GET", "/limited"): Route(429, {"detail": "slow down"}, {"Retry-After": "7"}),
        ("GET", "/broken"): Route(500, {"detail": "boom"}),
        ("GET", "/api/v1/projects"): Route(
            200, {"items": [], "page_info": {"has_next_page": False}}
        ),
    }


class HttpDouble(LoopbackServer):
    """Routes keyed by (method, path without query); unknown routes answer 404."""

    def __init__(self) -> None:
        self.routes = default_routes()
        self.received: list[Received] = []
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                headers = {k: v for k, v in self.headers.items()}
                with double._lock:
                    double.received.append(Received(self.command, self.path, headers))
                if path == "/echo":
                    route = Route(200, {"headers": headers})
                elif path == "/whoami":
                    # Some servers quote the credential they refuse; the reports must not.
                    key = self.headers.get("X-API-Key")
                    route = Route(401, {"detail": f"API key {key!r} is not valid here"})
                else:
                    route = double.routes.get((self.command, path), Route(404, {"detail": "nope"}))
                payload = b"" if route.body is None else json.dumps(route.body).encode()
                self.send_response(route.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._listen(Handler)


@contextmanager
def running() -> Iterator[HttpDouble]:
    double = HttpDouble().start()
    try:
        yield double
    finally:
        double.stop()
