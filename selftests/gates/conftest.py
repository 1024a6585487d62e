"""Fixtures for the gate self-tests: a scripted stand-in for Prometheus' HTTP API.

The stand-in does not evaluate PromQL: a test routes each request (path and query parameters) to
the answer it wants, so the source's counting, retrying and error handling can be checked against
exact, hand-written Prometheus responses.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

Answer = tuple[int, Any]
Router = Callable[[str, dict[str, str]], Answer]


def vector(*samples: tuple[dict[str, str], float], at: float = 0.0) -> Answer:
    return 200, {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": labels, "value": [at, str(value)]} for labels, value in samples],
        },
    }


def matrix(*series: tuple[dict[str, str], list[tuple[float, float]]]) -> Answer:
    return 200, {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {"metric": labels, "values": [[t, str(v)] for t, v in points]}
                for labels, points in series
            ],
        },
    }


def targets(interval: str = "1s", job: str = "skillmeat") -> Answer:
    return 200, {
        "status": "success",
        "data": {
            "activeTargets": [
                {
                    "labels": {"job": job, "instance": "127.0.0.1:1"},
                    "scrapeInterval": interval,
                    "health": "up",
                }
            ],
            "droppedTargets": [],
        },
    }


@dataclass
class FakePrometheus:
    router: Router
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake_prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus(router=lambda path, params: (404, {"status": "error"}))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            fake.requests.append((parts.path, params))
            status, body = fake.router(parts.path, params)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
