"""The sweep after a load run: finds what users left, removes it, and says so."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import httpx
import pytest

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.load.sweep import read_ledger, sweep
from phasegate.ratelimit import RateLimitPolicy

sweep_mod = importlib.import_module("phasegate.load.sweep")

PREFIX = "pg-run-load-"


class Target:
    """A SkillMeat stand-in at the transport level: what is left, and what gets deleted."""

    def __init__(self) -> None:
        self.items = {"p1": ["i1", "i2"], "p2": []}
        self.modules = {"p1": ["m1"], "p2": []}
        self.projects = {"p3": f"{PREFIX}abc-p0", "px": "someone-elses"}
        self.deleted: list[str] = []
        self.refuse_delete: set[str] = set()
        self.limit_everything = False
        self.broken_lists: dict[str, int] = {}  # listing path -> status it answers
        self.endless_items = False  # every item page points at the same next page

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.limit_everything:
            return httpx.Response(429, json={"error": "RATE_LIMIT_EXCEEDED"})
        path = request.url.path
        project = request.url.params.get("project_id", "")
        if request.method == "GET" and path in self.broken_lists:
            return httpx.Response(self.broken_lists[path], json={"detail": "unavailable"})
        if request.method == "GET" and path == "/api/v1/projects":
            items = [{"id": k, "name": v} for k, v in self.projects.items()]
            return httpx.Response(200, json={"items": items, "page_info": {}})
        if request.method == "GET" and path == "/api/v1/memory-items":
            ids = self.items.get(project, [])
            more = {"has_more": True, "next_cursor": "again"} if self.endless_items else {}
            return httpx.Response(200, json={"items": [{"id": i} for i in ids], **more})
        if request.method == "GET" and path == "/api/v1/context-modules":
            ids = self.modules.get(project, [])
            return httpx.Response(200, json={"items": [{"id": i} for i in ids]})
        if request.method == "DELETE":
            thing = path.rsplit("/", 1)[1]
            if thing in self.refuse_delete:
                return httpx.Response(500, json={"detail": "boom"})
            self.deleted.append(thing)
            return httpx.Response(204)
        return httpx.Response(404)


def client(target: Target) -> SkillMeatClient:
    return SkillMeatClient(
        ClientConfig(api_url="http://sm.test"), transport=httpx.MockTransport(target.handle)
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.jsonl"
    lines = [
        json.dumps({"kind": "project", "id": "p1", "name": f"{PREFIX}u1-p0"}),
        json.dumps({"kind": "project", "id": "p2", "name": f"{PREFIX}u2-p0"}),
        '{"kind": "project", "id": "p9", "na',  # a line cut by a killed process
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(sweep_mod, "PATIENCE", RateLimitPolicy(sleep=slept.append))
    return slept


def test_ledger_reading_survives_a_cut_line(ledger: Path, tmp_path: Path) -> None:
    assert read_ledger(ledger) == {"p1": f"{PREFIX}u1-p0", "p2": f"{PREFIX}u2-p0"}
    assert read_ledger(tmp_path / "missing.jsonl") == {}


def test_leftovers_are_found_removed_and_reported(ledger: Path) -> None:
    target = Target()
    with client(target) as api:
        report = sweep(api, ledger, PREFIX)
    assert report.projects_checked == 3  # two from the ledger, one still listed by name
    assert sorted(target.deleted) == ["i1", "i2", "m1", "p3"]
    assert report.removed == 4
    assert len(report.leftovers) == 4
    assert not report.problems and not report.unverified
    assert not report.clean  # something had been left
    assert "someone-elses" not in json.dumps(report.to_dict())


def test_nothing_left_is_clean(tmp_path: Path) -> None:
    target = Target()
    target.items, target.modules, target.projects = {}, {}, {}
    with client(target) as api:
        report = sweep(api, tmp_path / "none.jsonl", PREFIX)
    assert report.clean and report.projects_checked == 0


def test_a_delete_that_fails_is_a_problem(ledger: Path) -> None:
    target = Target()
    target.refuse_delete = {"i2"}
    with client(target) as api:
        report = sweep(api, ledger, PREFIX)
    assert report.problems == ["DELETE item i2 answered 500"]


def test_a_target_that_keeps_answering_429_leaves_it_unverified(
    ledger: Path, waits: list[float]
) -> None:
    target = Target()
    target.limit_everything = True
    with client(target) as api:
        report = sweep(api, ledger, PREFIX)
    assert report.unverified and not report.problems
    assert not target.deleted
    assert waits and all(w == 1.0 for w in waits), "no Retry-After: the policy's default wait"


@pytest.mark.parametrize("path", ["/api/v1/projects", "/api/v1/memory-items"])
@pytest.mark.parametrize("status", [500, 401])
def test_a_list_the_target_cannot_show_is_unverified_never_clean(
    ledger: Path, path: str, status: int
) -> None:
    target = Target()
    target.broken_lists = {path: status}
    with client(target) as api:
        report = sweep(api, ledger, PREFIX)
    assert not report.clean
    assert any(f"answered {status}" in line for line in report.unverified), report.unverified


def test_a_cursor_that_repeats_stops_the_walk_and_is_reported(ledger: Path) -> None:
    target = Target()
    target.endless_items = True
    with client(target) as api:
        report = sweep(api, ledger, PREFIX)
    assert not report.clean
    assert any("repeats the cursor 'again'" in line for line in report.unverified)
