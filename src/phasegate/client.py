"""A typed httpx client for SkillMeat's Memory & Context API.

Methods return the raw `httpx.Response`: the checks judge status codes and bodies themselves, and
a client that hid a 404 or a 409 behind an exception would hide exactly what a rollout must see.
Three things are handled here once, for every caller: evidence recording (with credentials
redacted), the burst limiter's 429, which makes a check undecidable rather than failed, and
walking a cursor-paged listing to its end (`walk`).
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from phasegate.evidence import Exchange, Redactor, trim
from phasegate.ratelimit import RateLimited as RateLimited  # where the checks have met it
from phasegate.ratelimit import RateLimitPolicy, is_limited, retry_after_s

JSON = dict[str, Any]
Params = Mapping[str, str | int | float | bool | None]
MAX_PAGES = 50  # pages a walk reads before it stops and says the listing has no end


@dataclass(frozen=True)
class ClientConfig:
    api_url: str
    api_version: str = "v1"
    timeout_s: float = 10.0
    api_key: str | None = None
    api_token: str | None = None
    run_id: str = ""

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.api_token) if s)


@dataclass(frozen=True)
class CursorStyle:
    """Where a listing keeps its next-page cursor; SkillMeat 0.74.0 uses two styles.

    A page without the "more" field (or without the object holding it) is the last page.
    """

    param: str  # query parameter that carries the cursor on the next request
    cursor_field: str
    more_field: str
    holder: str | None = None  # object of the body holding both fields, if not the body itself

    def next_page(self, body: JSON) -> tuple[bool, Any]:
        """(more pages follow, the cursor of the next one)."""
        holder = body.get(self.holder) if self.holder else body
        if not isinstance(holder, dict):
            return False, None
        return bool(holder.get(self.more_field)), holder.get(self.cursor_field)


# Memory items and context modules: {"items", "next_cursor", "has_more"}, next page ?cursor=.
ITEM_PAGES = CursorStyle("cursor", "next_cursor", "has_more")
# Projects: {"items", "page_info": {"end_cursor", "has_next_page"}}, next page ?after=.
PROJECT_PAGES = CursorStyle("after", "end_cursor", "has_next_page", holder="page_info")


class ListingIncomplete(RuntimeError):
    """A listing could not be read to its end: whatever was read is not the whole list.

    An error answer, a page that is not an object with an "items" list of objects, a page that
    says more follow without a cursor, a cursor seen before (a walk that would never end), or
    still more after `MAX_PAGES` pages. In a check that is the target's failure; in cleanup it
    means "unverified", never "nothing there".
    """


def _path_id(value: str) -> str:
    # Project ids are base64 and may end in "="; ids in a path must be percent-encoded.
    return quote(value, safe="")


def request_headers(config: ClientConfig, check_id: str | None = None) -> dict[str, str]:
    """The headers every request of a check carries, whichever HTTP library sends it."""
    headers = {"User-Agent": "phasegate", "Accept": "application/json"}
    if config.run_id:
        headers["X-Phasegate-Run"] = config.run_id
    if check_id:
        # Ties a request to its check in server logs and in the fault-injecting proxy.
        headers["X-Phasegate-Check"] = check_id
    if config.api_key:
        headers["X-API-Key"] = config.api_key
    if config.api_token:
        headers["Authorization"] = f"Bearer {config.api_token}"
    return headers


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, shared by every client.

    Building one loads the CA bundle (about 85 ms here); a smoke run makes a client per check, so
    a context per client cost seconds of CPU a run for nothing.
    """
    return httpx.create_ssl_context()


class SkillMeatClient:
    def __init__(
        self,
        config: ClientConfig,
        *,
        recorder: Callable[[Exchange], None] | None = None,
        check_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = request_headers(config, check_id)
        self.config = config
        self._redactor = Redactor(config.secrets)
        self._recorder = recorder
        self._http = httpx.Client(
            base_url=config.api_url.rstrip("/"),
            headers=headers,
            timeout=config.timeout_s,
            transport=transport,
            follow_redirects=False,
            verify=_tls_context(),
        )

    # -- plumbing -----------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SkillMeatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_prefix(self) -> str:
        return f"/api/{self.config.api_version}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        allow_429: bool = False,
    ) -> httpx.Response:
        """Send and record one request; a 429 raises RateLimited unless the caller wants it."""
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        started = time.perf_counter()
        try:
            response = self._http.request(
                method, path, params=clean_params or None, json=json, headers=headers
            )
        except httpx.HTTPError as exc:
            self._record(method, path, clean_params, json, None, started, error=repr(exc))
            raise
        self._record(method, path, clean_params, json, response, started)
        if is_limited(response.status_code) and not allow_429:
            retry_after = response.headers.get("Retry-After", "?")
            raise RateLimited(
                f"target rate-limited {method} {path} (429, Retry-After {retry_after}s); "
                "the check could not decide",
                retry_after_s(response.headers),
            )
        return response

    def walk(
        self,
        path: str,
        style: CursorStyle,
        *,
        params: Params | None = None,
        limit: int = 100,
        max_pages: int = MAX_PAGES,
        rate_limit: RateLimitPolicy | None = None,
    ) -> Iterator[JSON]:
        """Every entry of a cursor-paged API listing, page after page, to the end.

        The one way the suite pages (the smoke check of paging itself walks by hand). Raises
        `ListingIncomplete` when the listing cannot be read to its end, so no caller mistakes
        part of a list for all of it. `rate_limit` resends a page the burst limiter refused.
        """
        seen: set[str] = set()
        cursor: Any = None
        where = f"GET {self.api_prefix}{path}"
        for page in range(1, max_pages + 1):
            query: dict[str, Any] = {**(params or {}), "limit": limit, style.param: cursor}

            def fetch(query: dict[str, Any] = query) -> httpx.Response:
                return self.api("GET", path, params=query)

            response = rate_limit.call(fetch) if rate_limit is not None else fetch()
            body = _page(response, where, page)
            yield from body["items"]
            more, cursor = style.next_page(body)
            if not more:
                return
            if not cursor:
                raise ListingIncomplete(f"{where}: page {page} says more follow but has no cursor")
            if str(cursor) in seen:
                raise ListingIncomplete(
                    f"{where}: page {page} repeats the cursor {cursor!r}; stopped walking"
                )
            seen.add(str(cursor))
        raise ListingIncomplete(f"{where} still had more after {max_pages} pages")

    def walk_items(
        self, project_id: str, *, filters: Params | None = None, **kwargs: Any
    ) -> Iterator[JSON]:
        params = {**(filters or {}), "project_id": project_id}
        return self.walk("/memory-items", ITEM_PAGES, params=params, **kwargs)

    def _record(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        body: Any,
        response: httpx.Response | None,
        started: float,
        error: str | None = None,
    ) -> None:
        if self._recorder is None:
            return
        duration_ms = (time.perf_counter() - started) * 1000
        query = str(httpx.QueryParams({k: str(v) for k, v in params.items()}))
        shown_path = f"{path}?{query}" if query else path
        request_body = None
        if body is not None:
            request_body = trim(self._redactor.text(_json_text(body)))
        response_body = None
        if response is not None:
            response_body = trim(self._redactor.text(response.text))
        self._recorder(
            Exchange(
                method=method,
                url=self._redactor.text(str(self._http.base_url)),
                path=self._redactor.text(shown_path),
                status=response.status_code if response is not None else None,
                duration_ms=duration_ms,
                request_body=request_body,
                response_body=response_body,
                error=error,
            )
        )

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(method, f"{self.api_prefix}{path}", **kwargs)

    # -- service ------------------------------------------------------------------------------

    def root(self) -> httpx.Response:
        return self.request("GET", "/")

    def health(self) -> httpx.Response:
        return self.request("GET", "/health")

    def health_detailed(self) -> httpx.Response:
        return self.request("GET", "/health/detailed")

    def version(self) -> httpx.Response:
        return self.api("GET", "/version")

    def feature_flags(self) -> httpx.Response:
        return self.api("GET", "/config/feature-flags")

    def metrics(self) -> httpx.Response:
        # 0.74.0 serves the exposition at /metrics/ only (no redirect from /metrics).
        return self.request("GET", "/metrics/", headers={"Accept": "text/plain"})

    # -- projects -----------------------------------------------------------------------------

    def create_project(self, name: str, path: str) -> httpx.Response:
        return self.api("POST", "/projects", json={"name": name, "path": path})

    def delete_project(self, project_id: str) -> httpx.Response:
        return self.api("DELETE", f"/projects/{_path_id(project_id)}")

    # -- memory items -------------------------------------------------------------------------

    def list_items(self, project_id: str, **filters: Any) -> httpx.Response:
        return self.api("GET", "/memory-items", params={"project_id": project_id, **filters})

    def create_item(self, project_id: str, body: JSON) -> httpx.Response:
        return self.api("POST", "/memory-items", params={"project_id": project_id}, json=body)

    def count_items(self, project_id: str, **filters: Any) -> httpx.Response:
        return self.api("GET", "/memory-items/count", params={"project_id": project_id, **filters})

    def search_items(self, query: str, **params: Any) -> httpx.Response:
        return self.api("GET", "/memory-items/search", params={"query": query, **params})

    def get_item(self, item_id: str) -> httpx.Response:
        return self.api("GET", f"/memory-items/{_path_id(item_id)}")

    def update_item(self, item_id: str, body: JSON) -> httpx.Response:
        return self.api("PUT", f"/memory-items/{_path_id(item_id)}", json=body)

    def delete_item(self, item_id: str) -> httpx.Response:
        return self.api("DELETE", f"/memory-items/{_path_id(item_id)}")

    def promote_item(self, item_id: str, reason: str | None = None) -> httpx.Response:
        body = {"reason": reason} if reason else {}
        return self.api("POST", f"/memory-items/{_path_id(item_id)}/promote", json=body)

    def deprecate_item(self, item_id: str, reason: str | None = None) -> httpx.Response:
        body = {"reason": reason} if reason else {}
        return self.api("POST", f"/memory-items/{_path_id(item_id)}/deprecate", json=body)

    def bulk_promote(self, item_ids: Sequence[str]) -> httpx.Response:
        return self.api("POST", "/memory-items/bulk-promote", json={"item_ids": list(item_ids)})

    def bulk_deprecate(self, item_ids: Sequence[str]) -> httpx.Response:
        return self.api("POST", "/memory-items/bulk-deprecate", json={"item_ids": list(item_ids)})

    def merge_items(
        self, source_id: str, target_id: str, strategy: str, merged_content: str | None = None
    ) -> httpx.Response:
        body: JSON = {"source_id": source_id, "target_id": target_id, "strategy": strategy}
        if merged_content is not None:
            body["merged_content"] = merged_content
        return self.api("POST", "/memory-items/merge", json=body)

    def extract_preview(
        self, project_id: str, text_corpus: str, profile: str = "balanced"
    ) -> httpx.Response:
        return self.api(
            "POST",
            "/memory-items/extract/preview",
            params={"project_id": project_id},
            json={"text_corpus": text_corpus, "profile": profile},
        )

    def extract_apply(
        self, project_id: str, text_corpus: str, profile: str = "balanced"
    ) -> httpx.Response:
        return self.api(
            "POST",
            "/memory-items/extract/apply",
            params={"project_id": project_id},
            json={"text_corpus": text_corpus, "profile": profile},
        )

    # -- context modules ----------------------------------------------------------------------

    def list_modules(self, project_id: str, **params: Any) -> httpx.Response:
        return self.api("GET", "/context-modules", params={"project_id": project_id, **params})

    def create_module(self, project_id: str, body: JSON) -> httpx.Response:
        return self.api("POST", "/context-modules", params={"project_id": project_id}, json=body)

    def get_module(self, module_id: str) -> httpx.Response:
        return self.api("GET", f"/context-modules/{_path_id(module_id)}")

    def update_module(self, module_id: str, body: JSON) -> httpx.Response:
        return self.api("PUT", f"/context-modules/{_path_id(module_id)}", json=body)

    def delete_module(self, module_id: str) -> httpx.Response:
        return self.api("DELETE", f"/context-modules/{_path_id(module_id)}")

    def module_memories(self, module_id: str) -> httpx.Response:
        return self.api("GET", f"/context-modules/{_path_id(module_id)}/memories")

    def link_memory(self, module_id: str, memory_id: str) -> httpx.Response:
        return self.api(
            "POST",
            f"/context-modules/{_path_id(module_id)}/memories",
            json={"memory_id": memory_id},
        )

    def unlink_memory(self, module_id: str, memory_id: str) -> httpx.Response:
        return self.api(
            "DELETE",
            f"/context-modules/{_path_id(module_id)}/memories/{_path_id(memory_id)}",
        )

    # -- context packs ------------------------------------------------------------------------

    def pack_preview(self, project_id: str, body: JSON | None = None) -> httpx.Response:
        return self.api(
            "POST", "/context-packs/preview", params={"project_id": project_id}, json=body or {}
        )

    def pack_generate(self, project_id: str, body: JSON | None = None) -> httpx.Response:
        return self.api(
            "POST", "/context-packs/generate", params={"project_id": project_id}, json=body or {}
        )


def _page(response: httpx.Response, where: str, page: int) -> JSON:
    """One page's body, or ListingIncomplete saying why the page cannot be read."""
    if response.status_code != 200:
        raise ListingIncomplete(
            f"{where} answered {response.status_code} on page {page}: {response.text[:200]}"
        )
    try:
        body = response.json()
    except ValueError:
        raise ListingIncomplete(
            f"{where} answered a body that is not JSON on page {page}: {response.text[:200]!r}"
        ) from None
    entries = body.get("items") if isinstance(body, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ListingIncomplete(f'{where}: page {page} has no "items" list of objects')
    page_body: JSON = body
    return page_body


def _json_text(body: Any) -> str:
    import json

    try:
        return json.dumps(body, sort_keys=True)
    except (TypeError, ValueError):
        return repr(body)
