"""The contract the target publishes about itself: its OpenAPI document, loaded once.

The default is the target's own `/api/<version>/openapi.json`, so `--api-url` decides which
contract is fuzzed; `--contract-schema` takes a file or URL for deployments that hide it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import schemathesis

from phasegate.client import ClientConfig, request_headers

SCHEMA_TIMEOUT_S = 60.0  # SkillMeat builds its 2 MB schema on first request (about 5 s)


class SchemaUnavailable(RuntimeError):
    """The contract could not be read: nothing can be fuzzed, so nothing may pass."""


@dataclass(frozen=True)
class LoadedSchema:
    source: str
    raw: dict[str, Any]
    schema: Any  # schemathesis' BaseSchema, base URL set to the target

    @property
    def version(self) -> str:
        info = self.raw.get("info") or {}
        return (
            f"{self.raw.get('openapi', '?')} ({info.get('title', '?')} {info.get('version', '?')})"
        )


def schema_url(config: ClientConfig) -> str:
    return f"{config.api_url.rstrip('/')}/api/{config.api_version}/openapi.json"


def _read(source: str, config: ClientConfig) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        try:
            response = httpx.get(
                source,
                headers=request_headers(config, "contract.schema"),
                timeout=max(config.timeout_s, SCHEMA_TIMEOUT_S),
            )
        except httpx.HTTPError as exc:
            raise SchemaUnavailable(f"GET {source} failed: {exc!r}") from None
        if response.status_code != 200:
            raise SchemaUnavailable(
                f"GET {source} answered {response.status_code}; pass --contract-schema=FILE "
                "if the deployment does not publish its OpenAPI"
            )
        text = response.text
    else:
        try:
            text = Path(source).read_text("utf-8")
        except OSError as exc:
            raise SchemaUnavailable(f"cannot read {source}: {exc}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SchemaUnavailable(f"{source} is not JSON: {exc}") from None
    if not isinstance(document, dict) or "paths" not in document:
        raise SchemaUnavailable(f"{source} is not an OpenAPI document (no 'paths')")
    return document


def load_document(config: ClientConfig, source: str | None = None) -> dict[str, Any]:
    """The raw OpenAPI document alone, for readers that need no schemathesis (negative paths)."""
    return _read(source or schema_url(config), config)


def load_schema(config: ClientConfig, source: str | None = None) -> LoadedSchema:
    where = source or schema_url(config)
    raw = _read(where, config)
    try:
        schema = schemathesis.openapi.from_dict(raw)
    except Exception as exc:  # schemathesis rejects documents it cannot use in many ways
        raise SchemaUnavailable(f"schemathesis cannot use {where}: {exc}") from None
    schema.config.update(base_url=config.api_url.rstrip("/"))
    return LoadedSchema(source=where, raw=raw, schema=schema)
