"""A stateful SkillMeat stand-in for the drills' self-tests: a restart the test controls.

It keeps projects, memory items, modules and links in memory and answers the few routes a drill
uses. `restart(...)` stands for the plan's commands: the double answers 503 on every path for
`down_s` seconds (users meet failures, `/health` is not 200), then comes back with the new flag
value; with `refuse_when_off` False it still accepts memory writes with the flag OFF (what
SkillMeat 0.74.0 does), and `lose_one_item` drops a stored item on the way (a restart that loses
data). Unknown routes answer 404, so the drills' background traffic meets 4xx, not failures.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from support.loopback import LoopbackServer


class MemoryDouble(LoopbackServer):
    def __init__(self, *, refuse_when_off: bool = True) -> None:
        self.flag_on = True
        self.refuse_when_off = refuse_when_off
        self.down_until = 0.0
        self.hide_flags = False  # the config answers without memory_context_enabled
        self.backup: Any = None  # what /__control/backup saved
        self.version = "0.74.0"
        self.projects: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.modules: dict[str, dict[str, Any]] = {}
        self.links: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with double.lock:
                    status, payload = double.route(self.command, unquote(parts.path), query, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._listen(Handler)

    def restart(
        self,
        *,
        flag_on: bool,
        down_s: float = 0.3,
        lose_one_item: bool = False,
        version: str | None = None,
    ) -> None:
        with self.lock:
            self.down_until = time.monotonic() + down_s
            self.flag_on = flag_on
            if version:
                self.version = version
            if lose_one_item and self.items:
                # The oldest item: the drill's dataset is stored before its traffic starts.
                self.items.pop(next(iter(self.items)))

    def route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, Any]:
        if path == "/__control/restart":  # what a user's --disable-cmd would do, over HTTP
            self.down_until = time.monotonic() + float(query.get("down_s", "0.3"))
            self.flag_on = query.get("flag") == "on"
            return 200, {"flag_on": self.flag_on}
        if path == "/__control/backup":  # what a user's --backup-cmd would do
            self.backup = copy.deepcopy((self.projects, self.items, self.modules, self.links))
            return 200, {"backed_up": len(self.items)}
        if path == "/__control/restore":  # --restore-cmd: stop, put the backup back, start
            self.down_until = time.monotonic() + float(query.get("down_s", "0.3"))
            if self.backup is not None and query.get("noop") != "1":
                saved = copy.deepcopy(self.backup)
                self.projects, self.items, self.modules, self.links = saved
                if query.get("drop_one") == "1" and self.items:
                    self.items.pop(next(iter(self.items)))  # a restore that loses a row
            return 200, {"restored": len(self.items)}
        if time.monotonic() < self.down_until:
            return 503, {"detail": "restarting"}
        api = "/api/v1"
        if path == "/health":
            return 200, {"status": "healthy"}
        if path == "/":
            return 200, {"name": "double", "version": self.version}
        if path == f"{api}/config/feature-flags":
            return 200, {} if self.hide_flags else {"memory_context_enabled": self.flag_on}
        if path == f"{api}/projects":
            if method == "POST":
                pid = base64.b64encode(str(body["path"]).encode()).decode()
                self.projects[pid] = {"id": pid, "name": body["name"]}
                return 201, self.projects[pid]
            return 200, {"items": list(self.projects.values()), "page_info": {}}
        if path.startswith(f"{api}/projects/") and method == "DELETE":
            self.projects.pop(path.rsplit("/", 1)[1], None)
            return 204, None
        memory = path.startswith((f"{api}/memory-items", f"{api}/context-modules"))
        if memory and method != "GET" and not self.flag_on and self.refuse_when_off:
            return 503, {"detail": "memory context disabled"}
        if path == f"{api}/memory-items":
            if method == "POST":
                iid = uuid.uuid4().hex
                content = str(body.get("content"))
                self.items[iid] = {
                    "id": iid,
                    "project_id": query.get("project_id"),
                    "type": body.get("type"),
                    "content": content,
                    "status": body.get("status", "candidate"),
                    "confidence": body.get("confidence", 0.5),
                    "content_hash": hashlib.sha256(content.encode()).hexdigest(),
                }
                return 201, self.items[iid]
            rows = [i for i in self.items.values() if i["project_id"] == query.get("project_id")]
            return 200, {"items": rows, "has_more": False, "next_cursor": None}
        if path.startswith(f"{api}/memory-items/"):
            iid = path.rsplit("/", 1)[1]
            if iid not in self.items:
                return 404, {"detail": "not found"}
            if method == "DELETE":
                self.items.pop(iid)
                return 204, None
            return 200, self.items[iid]
        if path == f"{api}/context-modules":
            if method == "POST":
                mid = uuid.uuid4().hex
                self.modules[mid] = {"id": mid, "project_id": query.get("project_id"), **body}
                self.links[mid] = []
                return 201, self.modules[mid]
            rows = [m for m in self.modules.values() if m["project_id"] == query.get("project_id")]
            return 200, {"items": rows, "has_more": False, "next_cursor": None}
        if path.startswith(f"{api}/context-modules/") and path.endswith("/memories"):
            mid = path.split("/")[-2]
            if method == "POST":
                self.links.setdefault(mid, []).append(str(body["memory_id"]))
                return 200, {"linked": body["memory_id"]}
            linked = [self.items[i] for i in self.links.get(mid, []) if i in self.items]
            return 200, {"items": linked}
        if path.startswith(f"{api}/context-modules/") and method == "DELETE":
            self.modules.pop(path.rsplit("/", 1)[1], None)
            return 204, None
        return 404, {"detail": "no such route in the double"}


@contextmanager
def running(*, refuse_when_off: bool = True) -> Iterator[MemoryDouble]:
    double = MemoryDouble(refuse_when_off=refuse_when_off).start()
    try:
        yield double
    finally:
        double.stop()
