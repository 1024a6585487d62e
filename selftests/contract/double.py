"""A small memory-items API and the OpenAPI 3.1 document it honours, for the contract self-tests.

The double validates every request against the document itself (jsonschema), so it is
compliant by construction: 422 with the documented error body for invalid input, 201 on
create, 404 for an unknown id, 204 on delete. Each `Fault` breaks exactly one promise, which is
how a test shows the matching contract check fails. Every request is recorded (method, path,
query, body, headers) and every `out_dir` an export received is kept.
"""

from __future__ import annotations

import enum
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema

from support.loopback import LoopbackServer

PREFIX = "/api/v1"
ITEMS = f"{PREFIX}/memory-items"
ITEM = f"{ITEMS}/{{item_id}}"
EXPORT = f"{ITEMS}/export"
TYPES = ["decision", "constraint", "gotcha"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_ITEM = {"$ref": "#/components/schemas/MemoryItem"}


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_INVALID = _json(_ERROR, "invalid input")
_NOT_FOUND = _json(_ERROR, "unknown id")
_PROJECT = {
    "name": "project_id",
    "in": "query",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
}
_ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi() -> dict[str, Any]:
    """List, create, read, delete memory items, and an export that writes to a server folder."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "contract double", "version": "1.0.0"},
        "paths": {
            ITEMS: {
                "get": {
                    "operationId": "list_items",
                    "parameters": [
                        _PROJECT,
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["items"],
                                "properties": {"items": {"type": "array", "items": _ITEM}},
                            }
                        ),
                        "422": _INVALID,
                    },
                },
                "post": {
                    "operationId": "create_item",
                    "parameters": [_PROJECT],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/MemoryCreate"}
                            }
                        },
                    },
                    "responses": {"201": _json(_ITEM, "created"), "422": _INVALID},
                },
            },
            ITEM: {
                "get": {
                    "operationId": "get_item",
                    "parameters": [_ITEM_ID],
                    "responses": {"200": _json(_ITEM), "404": _NOT_FOUND, "422": _INVALID},
                },
                "delete": {
                    "operationId": "delete_item",
                    "parameters": [_ITEM_ID],
                    "responses": {
                        "204": {"description": "deleted"},
                        "404": _NOT_FOUND,
                        "422": _INVALID,
                    },
                },
            },
            EXPORT: {
                "post": {
                    "operationId": "export_items",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ExportRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["written"],
                                "properties": {"written": {"type": "integer", "minimum": 0}},
                            }
                        ),
                        "422": _INVALID,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "MemoryCreate": {
                    "type": "object",
                    "required": ["type", "content", "confidence"],
                    "properties": {
                        "type": {"type": "string", "enum": TYPES},
                        "content": {"type": "string", "minLength": 1},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                    "additionalProperties": False,
                },
                "MemoryItem": {
                    "type": "object",
                    "required": ["id", "project_id", "type", "content", "confidence"],
                    "properties": {
                        "id": {"type": "string"},
                        "project_id": {"type": "string"},
                        "type": {"type": "string", "enum": TYPES},
                        "content": {"type": "string"},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    },
                },
                "ExportRequest": {
                    "type": "object",
                    "required": ["out_dir"],
                    "properties": {
                        "out_dir": {"type": "string", "minLength": 1},
                        "project_id": {"type": ["string", "null"]},
                    },
                    "additionalProperties": False,
                },
                "Error": {
                    "type": "object",
                    "required": ["detail"],
                    "properties": {"detail": {"type": "string"}},
                },
            }
        },
    }


class Fault(enum.Enum):
    """One broken promise each; the double is compliant with none set."""

    SERVER_ERROR = "500 on every valid create"
    BAD_BODY = "201 whose confidence is a string"
    UNDOCUMENTED_STATUS = "418 on every valid create"
    ACCEPTS_INVALID = "201 for a create body that breaks its schema"
    DELETE_KEEPS = "204 on delete, but the item stays readable"
    CREATE_LOST = "201 on create, but no read finds the item"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] | None = None


class ContractDouble(LoopbackServer):
    """`fault`, `rate_limit` and `quote_api_key` may change while it runs; `items` is the store."""

    def __init__(self, fault: Fault | None = None) -> None:
        self.fault = fault
        self.rate_limit: list[str] = []  # Retry-After values of the next answers, each a 429
        self.quote_api_key = False  # every error body quotes the caller's X-API-Key, as some do
        self.items: dict[str, dict[str, Any]] = {}
        self.received: list[Request] = []
        self.out_dirs: list[Any] = []
        self._lock = threading.Lock()
        document = openapi()
        self._validators = {
            name: jsonschema.Draft202012Validator({**schema, "components": document["components"]})
            for name, schema in document["components"]["schemas"].items()
        }
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                try:
                    body = json.loads(raw) if raw else None
                    parsed = True
                except ValueError:
                    body, parsed = raw.decode("utf-8", "replace"), False
                request = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query, keep_blank_values=True),
                    body,
                    dict(self.headers.items()),
                )
                with double._lock:
                    double.received.append(request)
                    answer = double._answer(request, parsed)
                if double.quote_api_key and answer.status >= 400 and isinstance(answer.body, dict):
                    caller = self.headers.get("X-API-Key")
                    answer.body = {**answer.body, "detail": f"{answer.body['detail']} ({caller})"}
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                if answer.body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (answer.headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._listen(Handler)

    # -- the API ---------------------------------------------------------------------------------

    def _invalid(self, detail: str) -> Answer:
        return Answer(422, {"detail": detail})

    def _errors(self, schema: str, value: Any) -> str:
        return "; ".join(e.message for e in self._validators[schema].iter_errors(value))

    def _project(self, request: Request) -> str | None:
        values = request.query.get("project_id", [])
        return values[0] if len(values) == 1 and values[0] else None

    def _answer(self, request: Request, parsed: bool) -> Answer:
        if self.rate_limit:
            return Answer(429, {"detail": "slow down"}, {"Retry-After": self.rate_limit.pop(0)})
        route = (request.method, request.path)
        if route == ("GET", ITEMS):
            return self._list(request)
        if route == ("POST", EXPORT):
            return self._export(request, parsed)
        if route == ("POST", ITEMS):
            return self._create(request, parsed)
        if request.path.startswith(f"{ITEMS}/") and request.path.count("/") == 4:
            item_id = request.path.rsplit("/", 1)[1]
            if request.method == "GET":
                found = self.items.get(item_id)
                return Answer(200, found) if found else Answer(404, {"detail": "no such item"})
            if request.method == "DELETE":
                if item_id not in self.items:
                    return Answer(404, {"detail": "no such item"})
                if self.fault is not Fault.DELETE_KEEPS:
                    del self.items[item_id]
                return Answer(204)
        return Answer(405 if request.path.startswith(ITEMS) else 404, {"detail": "no route"})

    def _list(self, request: Request) -> Answer:
        project = self._project(request)
        if project is None:
            return self._invalid("project_id is required")
        limits = request.query.get("limit", ["100"])
        try:
            limit = int(limits[0]) if len(limits) == 1 else 0
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return self._invalid("limit must be a whole number from 1 to 100")
        mine = [item for item in self.items.values() if item["project_id"] == project]
        return Answer(200, {"items": mine[:limit]})

    def _create(self, request: Request, parsed: bool) -> Answer:
        project = self._project(request)
        problem = "" if parsed else "body is not JSON"
        problem = problem or (self._errors("MemoryCreate", request.body) if parsed else "")
        if project is None:
            problem = problem or "project_id is required"
        if problem and self.fault is Fault.ACCEPTS_INVALID:
            item = {"type": TYPES[0], "content": "accepted anyway", "confidence": 0.5}
            return Answer(201, self._store(project or "unknown", item))
        if problem:
            return self._invalid(problem)
        if self.fault is Fault.SERVER_ERROR:
            return Answer(500, {"detail": "Internal Server Error"})
        if self.fault is Fault.UNDOCUMENTED_STATUS:
            return Answer(418, {"detail": "I'm a teapot"})
        assert project is not None
        created = self._store(project, request.body)
        if self.fault is Fault.BAD_BODY:
            return Answer(201, {**created, "confidence": str(created["confidence"])})
        if self.fault is Fault.CREATE_LOST:
            del self.items[created["id"]]
        return Answer(201, created)

    def _store(self, project: str, fields: dict[str, Any]) -> dict[str, Any]:
        item = {"id": uuid.uuid4().hex, "project_id": project, **fields}
        self.items[item["id"]] = item
        return item

    def _export(self, request: Request, parsed: bool) -> Answer:
        if isinstance(request.body, dict) and "out_dir" in request.body:
            self.out_dirs.append(request.body["out_dir"])
        problem = self._errors("ExportRequest", request.body) if parsed else "body is not JSON"
        if problem:
            return self._invalid(problem)
        return Answer(200, {"written": len(self.items)})

    # -- lifecycle -------------------------------------------------------------------------------


@contextmanager
def running(fault: Fault | None = None) -> Iterator[ContractDouble]:
    double = ContractDouble(fault).start()
    try:
        yield double
    finally:
        double.stop()
