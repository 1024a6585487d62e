"""Evidence: what a check asked, what came back, and what it concluded from that.

Every HTTP exchange is recorded with credentials removed before it is stored, so nothing secret
can reach a report no matter which report writer picks the record up later.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REDACTED = "***redacted***"
BODY_LIMIT = 1500
KEEP_EXCHANGES = 12
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "cookie", "set-cookie", "proxy-authorization"}
)


def trim(text: str, limit: int = BODY_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters]"


@dataclass
class Redactor:
    """Removes known secret values wherever they appear, plus sensitive headers by name."""

    secrets: tuple[str, ...] = ()

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret:
                value = value.replace(secret, REDACTED)
        return value

    def data(self, value: Any) -> Any:
        """A JSON-like value (facts, a failure message) with secrets removed from its strings."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(item) for item in value)
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        return {
            name: REDACTED if name.lower() in SENSITIVE_HEADERS else self.text(value)
            for name, value in headers
        }


@dataclass(frozen=True)
class Exchange:
    method: str
    url: str
    path: str
    status: int | None
    duration_ms: float
    request_body: str | None = None
    response_body: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": round(self.duration_ms, 1),
        }
        if self.request_body is not None:
            data["request_body"] = self.request_body
        if self.response_body is not None:
            data["response_body"] = self.response_body
        if self.error is not None:
            data["error"] = self.error
        return data

    def line(self) -> str:
        status = self.status if self.status is not None else self.error
        return f"{self.method} {self.path} -> {status} ({self.duration_ms:.0f} ms)"


@dataclass
class Evidence:
    """The record one check accumulates: exchanges plus named facts it established."""

    exchanges: list[Exchange] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    total_exchanges: int = 0

    def record(self, exchange: Exchange) -> None:
        self.total_exchanges += 1
        self.exchanges.append(exchange)

    def note(self, name: str, value: Any) -> None:
        """Keep a fact a reader needs to judge the outcome (a count, an id, a status)."""
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        self.facts[name] = value

    def to_dict(self) -> dict[str, Any]:
        """The last exchanges matter most when a check fails; keep those, count the rest."""
        kept = self.exchanges[-KEEP_EXCHANGES:]
        return {
            "facts": dict(self.facts),
            "exchanges": [exchange.to_dict() for exchange in kept],
            "exchanges_total": self.total_exchanges,
        }

    def headline(self) -> str:
        if not self.exchanges:
            return ""
        return self.exchanges[-1].line()
