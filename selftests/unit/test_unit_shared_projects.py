"""shared_projects: one project for many checks, never more identical requests than the limiter
allows on top of what a check sends by itself."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from phasegate.evidence import Exchange
from phasegate.shared_projects import HEADROOM, SharedProjects


@dataclass(frozen=True)
class Proj:
    id: str


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def pool(clock: Clock) -> tuple[SharedProjects[Proj], list[Proj]]:
    made: list[Proj] = []

    def create() -> Proj:
        # Real project ids are base64 paths, with characters a query string must encode.
        made.append(Proj(f"L3RtcC9w+{len(made)}/=="))
        return made[-1]

    return SharedProjects(create, window_s=10.5, clock=clock), made


def item_posts(project: Proj, n: int) -> list[Exchange]:
    path = f"/api/v1/memory-items?project_id={quote(project.id, safe='')}"
    return [Exchange("POST", "http://t", path, 201, 1.0) for _ in range(n)]


def test_projects_are_made_only_when_needed() -> None:
    shared, made = pool(Clock())
    assert made == []
    first = shared.lease()
    assert shared.lease() is first
    assert made == [first]


def test_a_busy_project_takes_no_further_check() -> None:
    clock = Clock()
    shared, made = pool(clock)
    first = shared.lease()
    shared.record(first, item_posts(first, HEADROOM))
    assert shared.lease() is first, "at the headroom a project still takes a check"
    shared.record(first, item_posts(first, 1))
    second = shared.lease()
    assert second is not first
    assert made == [first, second]
    assert shared.busiest(first) == HEADROOM + 1


def test_requests_age_out_of_the_window() -> None:
    clock = Clock()
    shared, _ = pool(clock)
    first = shared.lease()
    shared.record(first, item_posts(first, 12))
    clock.now += 10.4
    assert shared.busiest(first) == 12
    clock.now += 0.2
    assert shared.busiest(first) == 0
    assert shared.lease() is first


def test_only_requests_naming_the_project_count_and_per_shape() -> None:
    clock = Clock()
    shared, _ = pool(clock)
    first = shared.lease()
    other = [
        Exchange("GET", "http://t", f"/api/v1/memory-items/{n:032x}", 200, 1.0) for n in range(3)
    ]
    same_item = [Exchange("GET", "http://t", "/api/v1/memory-items/abc", 200, 1.0)] * 9
    listing = [
        Exchange("GET", "http://t", f"/api/v1/context-modules?project_id={first.id}", 200, 1.0)
    ] * 2
    shared.record(first, [*other, *same_item, *listing, *item_posts(first, 3)])
    assert shared.busiest(first) == 3


def test_the_same_parameters_in_another_order_are_the_same_request() -> None:
    shared, _ = pool(Clock())
    first = shared.lease()
    query = quote(first.id, safe="")
    listings = [
        Exchange("GET", "http://t", f"/api/v1/memory-items?project_id={query}&limit=100", 200, 1),
        Exchange("GET", "http://t", f"/api/v1/memory-items?limit=100&project_id={query}", 200, 1),
    ]
    shared.record(first, listings)
    assert shared.busiest(first) == 2
