"""A SkillMeat stand-in for the authentication checks: it refuses, serves or fails by policy.

`refuse`: a request without the right X-API-Key gets a 401 (none) or a 403 (wrong), with it a
200; `serve`: every request a 200 whatever it carries; `error`: every request a 500;
`refuse-all`: every request a 401, the right key too. Service paths (/health, the project
listing the orphan scan reads) always answer, so a phase run reaches the checks.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from support.loopback import LoopbackServer

RIGHT_KEY = "selftest-right-key-5b1f"
POLICIES = ("refuse", "serve", "error", "refuse-all")


class AuthDouble(LoopbackServer):
    def __init__(self, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(policy)
        self.policy = policy
        self.family_requests: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out as two writes; without this each answer waits for a
                # delayed ACK (about 40 ms), and a probe of 108 requests takes seconds.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                key = self.headers.get("X-API-Key")
                status, body = 200, {"status": "healthy"}
                if path == "/api/v1/projects":
                    body = {"items": [], "page_info": {"has_next_page": False}}
                elif path.startswith("/api/v1/"):
                    with double._lock:
                        double.family_requests.append((self.command, path, key))
                    status, body = double.decide(key)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._listen(Handler)

    def decide(self, key: str | None) -> tuple[int, Any]:
        if self.policy == "serve":
            return 200, {"items": []}
        if self.policy == "error":
            return 500, {"detail": "boom"}
        if self.policy == "refuse-all" or key is None:
            return 401, {"detail": "API key required"}
        if key != RIGHT_KEY:
            return 403, {"detail": "Invalid API key"}
        return 200, {"items": []}
