"""Targets for the load self-tests: a stdlib SkillMeat stand-in with injectable faults.

`FakeSkillMeat` answers every call the locustfiles make with the status and the fields they
read (ids for created projects, items and modules; empty lists for reads), on 127.0.0.1 only.
Faults: `delay_s` sleeps before each answer (a slow target), `error_ratio` answers that share
of API calls with 500 (an erroring target), `limit_ratio` answers that share with 429 and
Retry-After: 1 (a target whose limiter refuses traffic). /health is never faulted.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from support.loopback import LoopbackServer


class FakeSkillMeat(LoopbackServer):
    def __init__(
        self, delay_s: float = 0.0, error_ratio: float = 0.0, limit_ratio: float = 0.0
    ) -> None:
        self.delay_s = delay_s
        self.error_ratio = error_ratio
        self.limit_ratio = limit_ratio
        self.requests = 0
        self.forwarded_for: set[str] = set()
        self._lock = threading.Lock()
        self._rng = random.Random(7)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, body, headers = fake.route(
                    self.command, self.path, raw, self.headers.get("X-Forwarded-For")
                )
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._listen(Handler)

    def route(
        self, method: str, target: str, raw: bytes, forwarded: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        path = target.split("?", 1)[0]
        with self._lock:
            self.requests += 1
            if forwarded:
                self.forwarded_for.add(forwarded)
            roll = self._rng.random()
        if path == "/health":
            return 200, {"status": "healthy"}, {}
        if self.delay_s:
            time.sleep(self.delay_s)
        if roll < self.limit_ratio:
            return 429, {"error": "RATE_LIMIT_EXCEEDED"}, {"Retry-After": "1"}
        if roll < self.limit_ratio + self.error_ratio:
            return 500, {"detail": "Internal server error"}, {}
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        new_id = uuid.uuid4().hex
        if method == "POST" and path == "/api/v1/projects":
            project_id = base64.b64encode(str(body.get("path", new_id)).encode()).decode()
            return 201, {"id": project_id, "name": body.get("name")}, {}
        if method == "GET" and path == "/api/v1/projects":
            return 200, {"items": [], "page_info": {"has_next_page": False}}, {}
        if method == "POST" and path == "/api/v1/memory-items":
            return 201, {"id": new_id, "status": body.get("status") or "candidate"}, {}
        if method == "POST" and path == "/api/v1/context-modules":
            return 201, {"id": new_id, "name": body.get("name")}, {}
        if method == "POST" and path.endswith("/promote"):
            return 200, {"id": path.split("/")[-2], "status": "active"}, {}
        if method == "POST" and path.endswith("/deprecate"):
            return 200, {"id": path.split("/")[-2], "status": "deprecated"}, {}
        if method == "POST" and path.endswith("/bulk-promote"):
            return 200, {"succeeded": body.get("item_ids", []), "failed": []}, {}
        if method == "POST" and path.endswith("/merge"):
            return 200, {"item": {"id": body.get("target_id"), "status": "active"}}, {}
        if method == "DELETE" and path.startswith("/api/v1/projects/"):
            return 200, {}, {}
        if method == "DELETE":
            return 204, None, {}
        if method == "GET":
            return 200, {"items": [], "has_more": False, "next_cursor": None, "count": 0}, {}
        return 200, {}, {}


@pytest.fixture
def fake_skillmeat() -> Iterator[Callable[..., FakeSkillMeat]]:
    """A factory: `fake_skillmeat(delay_s=0.6)` returns a started double, stopped at teardown."""
    started: list[FakeSkillMeat] = []

    def make(**faults: float) -> FakeSkillMeat:
        double = FakeSkillMeat(**faults).start()
        started.append(double)
        return double

    yield make
    for double in started:
        double.stop()


@pytest.fixture(scope="session")
def fake_skillmeat_class() -> type[FakeSkillMeat]:
    """The class itself, for module-scoped fixtures that manage their own doubles."""
    return FakeSkillMeat
