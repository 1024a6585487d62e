"""resources: the ledger, last-in first-out cleanup, and the orphan scan against a double."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from phasegate.cleanup import Unverified
from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.resources import (
    Ledger,
    Registry,
    Resource,
    new_run_id,
    read_ledgers,
    scan_orphans,
)

RUN = "pg-20260102030405-abcdef"


def client(handler: Callable[[httpx.Request], httpx.Response]) -> SkillMeatClient:
    return SkillMeatClient(
        ClientConfig(api_url="http://sm.test"), transport=httpx.MockTransport(handler)
    )


def test_run_ids_are_unique_and_shaped() -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"pg-\d{14}-[0-9a-f]{6}", run_id) for run_id in ids)


# -- ledger --------------------------------------------------------------------------------------


def test_ledger_lines_are_read_back_across_workers_and_only_for_this_run(tmp_path: Path) -> None:
    gw0 = Ledger(tmp_path / "ledger", RUN, "gw0")
    gw1 = Ledger(tmp_path / "ledger", RUN, "gw1")
    other = Ledger(tmp_path / "ledger", "pg-other-run", "gw0")
    project = Resource("project", "p1", f"{RUN}-proj")
    item = Resource("item", "i1", "memory", project_id="p1")
    gw0.created(project)
    gw1.created(item)
    gw1.deleted(item)
    other.created(Resource("project", "p9"))

    assert gw0.path.name == f"ledger-{RUN}-gw0.jsonl"
    events = read_ledgers(tmp_path / "ledger", RUN)
    assert [(e["event"], e["kind"], e["id"]) for e in events] == [
        ("created", "project", "p1"),
        ("created", "item", "i1"),
        ("deleted", "item", "i1"),
    ]
    assert events[1]["project_id"] == "p1"
    assert events[0]["label"] == f"{RUN}-proj"
    assert all(isinstance(e["at"], float) for e in events)


def test_ledger_is_safe_against_concurrent_threads(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path, RUN, "main")

    def write(n: int) -> None:
        for k in range(25):
            ledger.created(Resource("item", f"{n}-{k}"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = ledger.path.read_text("utf-8").splitlines()
    assert len(lines) == 100
    assert len({json.loads(line)["id"] for line in lines}) == 100


# -- registry ------------------------------------------------------------------------------------


class DeleteDouble:
    """Answers DELETEs with a status per id; remembers the order they came in."""

    def __init__(self, statuses: dict[str, int | Exception] | None = None) -> None:
        self.statuses = statuses or {}
        self.deleted: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "DELETE"
        resource_id = request.url.path.rsplit("/", 1)[1]
        self.deleted.append(f"{request.url.path.split('/')[3]}:{resource_id}")
        answer = self.statuses.get(resource_id, 204)
        if isinstance(answer, Exception):
            raise answer
        return httpx.Response(answer, text=f"answer for {resource_id}")


def test_cleanup_deletes_in_reverse_order_of_creation(tmp_path: Path) -> None:
    double = DeleteDouble({"i2": 404})
    ledger = Ledger(tmp_path, RUN, "main")
    registry = Registry(client(double), ledger)
    for resource in (
        Resource("project", "p1"),
        Resource("module", "m1", project_id="p1"),
        Resource("item", "i1", project_id="p1"),
        Resource("item", "i2", project_id="p1"),
    ):
        registry.add(resource)
    assert [r.id for r in registry] == ["p1", "m1", "i1", "i2"]

    assert registry.cleanup() == []
    assert double.deleted == [
        "memory-items:i2",
        "memory-items:i1",
        "context-modules:m1",
        "projects:p1",
    ]
    deleted = [e["id"] for e in read_ledgers(tmp_path, RUN) if e["event"] == "deleted"]
    assert deleted == ["i2", "i1", "m1", "p1"], "404 means already gone: recorded as deleted"
    assert list(registry) == []
    assert registry.cleanup() == [], "a second cleanup has nothing left to do"
    assert len(double.deleted) == 4


def test_cleanup_reports_failures_and_carries_on(tmp_path: Path) -> None:
    double = DeleteDouble(
        {
            "i1": 500,
            "m1": httpx.ConnectError("refused"),
            "i3": 429,
        }
    )
    registry = Registry(client(double), Ledger(tmp_path, RUN, "main"))
    for resource in (
        Resource("project", "p1"),
        Resource("module", "m1"),
        Resource("item", "i1"),
        Resource("item", "i3"),
    ):
        registry.add(resource)

    failures = registry.cleanup()
    assert double.deleted == [
        "memory-items:i3",
        "memory-items:i1",
        "context-modules:m1",
        "projects:p1",
    ]
    by_id = {f.resource.id: f.detail for f in failures}
    assert set(by_id) == {"i3", "i1", "m1"}
    assert by_id["i1"] == "DELETE answered 500: answer for i1"
    assert "ConnectError" in by_id["m1"]
    assert "RateLimited" in by_id["i3"]
    deleted = [e["id"] for e in read_ledgers(tmp_path, RUN) if e["event"] == "deleted"]
    assert deleted == ["p1"], "only what was really deleted is recorded as deleted"


def test_forget_records_a_delete_the_check_did_itself(tmp_path: Path) -> None:
    double = DeleteDouble()
    registry = Registry(client(double), Ledger(tmp_path, RUN, "main"))
    item = registry.add(Resource("item", "i1"))
    registry.add(Resource("item", "i2"))
    registry.forget(item)
    registry.cleanup()
    assert double.deleted == ["memory-items:i2"]
    events = [(e["event"], e["id"]) for e in read_ledgers(tmp_path, RUN)]
    assert events == [("created", "i1"), ("created", "i2"), ("deleted", "i1"), ("deleted", "i2")]


# -- orphan scan ---------------------------------------------------------------------------------


class TargetDouble:
    """A target that still holds some things: GET by id and a two-page project list."""

    def __init__(
        self,
        alive: set[str],
        pages: list[list[dict[str, str]]],
        list_status: int = 200,
        failing_page: int = 0,
    ) -> None:
        self.alive = alive
        self.pages = pages
        self.list_status = list_status
        self.failing_page = failing_page
        self.cursors: list[str | None] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/v1/projects":
            after = request.url.params.get("after")
            self.cursors.append(after)
            index = int(after) if after else 0
            if self.list_status != 200 and index == self.failing_page:
                return httpx.Response(self.list_status, json={"detail": "unavailable"})
            body: dict[str, Any] = {
                "items": self.pages[index],
                "page_info": {
                    "has_next_page": index + 1 < len(self.pages),
                    "end_cursor": str(index + 1),
                },
            }
            return httpx.Response(200, json=body)
        resource_id = path.rsplit("/", 1)[1]
        return httpx.Response(200 if resource_id in self.alive else 404, json={})


def created(kind: str, resource_id: str, label: str = "") -> dict[str, Any]:
    return {"event": "created", "kind": kind, "id": resource_id, "label": label}


EVENTS = [
    created("project", "p-gone", f"{RUN}-a"),
    created("project", "p-listed", f"{RUN}-b"),
    created("item", "i-gone"),
    created("item", "i-alive"),
    created("module", "m-gone"),
    created("module", "m-alive"),
]


def test_scan_finds_what_is_left_and_nothing_else() -> None:
    double = TargetDouble(
        alive={"i-alive", "m-alive"},
        pages=[
            [{"id": "p-stranger", "name": "someone-else"}, {"id": "p-listed", "name": "renamed"}],
            [{"id": "p-unledgered", "name": f"{RUN}-created-despite-an-error"}],
        ],
    )
    orphans = scan_orphans(client(double), EVENTS, RUN)
    found = {(o.resource.kind, o.resource.id): o.detail for o in orphans}
    assert found == {
        ("item", "i-alive"): "GET answered 200, expected 404",
        ("module", "m-alive"): "GET answered 200, expected 404",
        ("project", "p-listed"): "still in the project list",
        ("project", "p-unledgered"): "still in the project list",
    }
    assert double.cursors == [None, "1"], "the scan follows the list's pages"
    listed = next(o for o in orphans if o.resource.id == "p-listed")
    assert listed.to_dict() == {
        "kind": "project",
        "id": "p-listed",
        "label": f"{RUN}-b",
        "detail": "still in the project list",
    }


def test_scan_of_a_clean_target_finds_nothing() -> None:
    double = TargetDouble(alive=set(), pages=[[{"id": "p-stranger", "name": "someone-else"}]])
    assert scan_orphans(client(double), EVENTS, RUN) == []


def test_deleted_events_do_not_hide_a_resource_that_is_still_there() -> None:
    events = [*EVENTS, {"event": "deleted", "kind": "item", "id": "i-alive", "label": ""}]
    double = TargetDouble(alive={"i-alive"}, pages=[[]])
    assert [o.resource.id for o in scan_orphans(client(double), events, RUN)] == ["i-alive"]


@pytest.mark.parametrize("failing_page", [0, 1])
@pytest.mark.parametrize("status", [500, 503, 401])
def test_scan_cannot_pass_when_the_project_list_is_unreadable(
    status: int, failing_page: int
) -> None:
    """Missing data never passes: an unreadable list must not read as "no projects left"."""
    double = TargetDouble(
        alive=set(), pages=[[], []], list_status=status, failing_page=failing_page
    )
    with pytest.raises(
        Unverified, match=f"project list cannot be read .GET /api/v1/projects answered {status}"
    ):
        scan_orphans(client(double), EVENTS, RUN)
    assert len(double.cursors) == failing_page + 1


@pytest.mark.parametrize(
    ("page", "says"),
    [
        pytest.param(
            {"items": [], "page_info": {"has_next_page": True, "end_cursor": "0"}},
            "repeats the cursor '0'",
            id="cursor-repeats",
        ),
        pytest.param({"detail": "no list here"}, 'no "items" list', id="no-items"),
    ],
)
def test_scan_cannot_pass_when_the_project_list_has_no_readable_end(
    page: dict[str, Any], says: str
) -> None:
    """A list that repeats itself or is not a list is missing data too: never "clean"."""
    asked: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/projects":
            asked.append(request.url.params.get("after"))
            return httpx.Response(200, json=page)
        return httpx.Response(404)

    with pytest.raises(Unverified, match=re.escape(says)):
        scan_orphans(client(handler), EVENTS, RUN)
    assert len(asked) <= 2, "a repeating cursor is not followed to the page cap"
