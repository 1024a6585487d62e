"""The traffic's requests as data, a user's own data, and the rules every driver follows.

A `Request` is what one operation sends: method, path under the API prefix, query, body, the
statuses it expects and its name `"<group> <action>"` (the group is what the load gate judges
p95 by). The builders (`operations`, `top_up`) make requests; a driver sends them (threads with
httpx for the gates, locust for the load profiles) and hands the parsed answer back to
`Request.after`, which updates the user's data and may return a follow-up request (a new
module is linked to a memory). An answer of None means the request failed or was refused.

`UserData` is one simulated user's bookkeeping: its projects, their items (with status) and
modules, and the deletes that clean them up. The rules every driver follows are here too:
the 429 pause (`retry_after_s`: `phasegate.ratelimit`'s, the suite's one reading of
Retry-After), the client address (`client_address`) and the per-key pacing under SkillMeat's
burst limiter (`SameKeyBudget`).

Pure: no HTTP library, no locust, no clock; everything random comes from the user's generator.
"""

from __future__ import annotations

import base64
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

# Re-exported: the drivers take the suite's one 429 rule from the traffic model.
from phasegate.ratelimit import LIMITER_WINDOW_S as LIMITER_WINDOW_S
from phasegate.ratelimit import retry_after_s as retry_after_s

JSON = dict[str, Any]
Answer = JSON | list[Any] | None
Params = dict[str, str | int | float | bool]


# Stricter than ratelimit.SAME_REQUEST_BUDGET: a locust user paces itself well below the
# limiter's threshold (about 20 identical requests in 10 s), whatever else shares its address.
SAME_KEY_BUDGET = 12
GONE = (204, 200, 404)  # a cleanup delete: done, or already gone


def client_address(rng: random.Random) -> str:
    """A private address per simulated user, as a proxy would put in X-Forwarded-For."""
    value = rng.getrandbits(24)
    return f"10.{value >> 16 & 255}.{value >> 8 & 255}.{max(1, value & 255)}"


def project_id_for(path: str) -> str:
    """The id SkillMeat gives a project at `path` (base64 of the path)."""
    return base64.b64encode(path.encode()).decode()


def path_id(value: str) -> str:
    # Project ids are base64 and may hold "/" or "="; ids in a path are percent-encoded.
    return quote(value, safe="")


@dataclass(frozen=True)
class Request:
    """One request as data; `then` books its answer (None: failed) and may return a follow-up."""

    group: str
    action: str
    method: str
    path: str  # under the API prefix unless `api` is False
    params: Params | None = None
    body: Any = None
    expect: tuple[int, ...] = (200,)
    api: bool = True
    then: Callable[[Answer], Request | None] | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        """Locust's request name; its first word is the group the load gate judges."""
        return f"{self.group} {self.action}"

    def after(self, answer: Answer) -> Request | None:
        return self.then(answer) if self.then is not None else None


@dataclass
class Project:
    id: str
    name: str
    items: dict[str, str] = field(default_factory=dict)  # id -> status
    modules: list[str] = field(default_factory=list)


def create_project(name: str, path: str) -> Request:
    return Request(
        "setup", "create-project", "POST", "/projects",
        body={"name": name, "path": path}, expect=(201,),
    )  # fmt: skip


def answer_id(answer: Answer) -> str | None:
    value = answer.get("id") if isinstance(answer, dict) else None
    return str(value) if value else None


@dataclass
class UserData:
    """One simulated user's own data: projects, their items (with status) and modules."""

    rng: random.Random
    run_id: str
    tag: str
    max_items_per_project: int = 14
    projects: list[Project] = field(default_factory=list)
    seq: int = 0

    def marker(self) -> str:
        """A unique suffix for what this user writes: run, user and a sequence number."""
        self.seq += 1
        return f"{self.run_id}:{self.tag}:{self.seq}"

    def pick_project(self) -> Project | None:
        return self.rng.choice(self.projects) if self.projects else None

    def pick_item(self, project: Project, statuses: tuple[str, ...] = ()) -> str | None:
        ids = [i for i, s in project.items.items() if not statuses or s in statuses]
        return self.rng.choice(ids) if ids else None

    # -- setup and cleanup --------------------------------------------------------------------

    def project_name_and_path(self, index: int, projects_root: str) -> tuple[str, str]:
        """`<run>-load-<user>-p<n>` in a folder of the run: the sweep and orphan scan know it."""
        name = f"{self.run_id}-load-{self.tag}-p{index}"
        return name, f"{projects_root}/{self.run_id}/{name}"

    def adopt_project(self, name: str, answer: Answer) -> Project | None:
        """The project a create answered with, now this user's; None if it was not created."""
        project_id = answer_id(answer)
        if project_id is None:
            return None
        project = Project(project_id, name)
        self.projects.append(project)
        return project

    def cleanup(self) -> list[Request]:
        """Deletes for everything this user still has (modules, items, then each project)."""
        requests: list[Request] = []
        for project in self.projects:
            for module_id in project.modules:
                path = f"/context-modules/{path_id(module_id)}"
                requests.append(Request("cleanup", "delete-module", "DELETE", path, expect=GONE))
            for item_id in project.items:
                path = f"/memory-items/{path_id(item_id)}"
                requests.append(Request("cleanup", "delete-item", "DELETE", path, expect=GONE))
            path = f"/projects/{path_id(project.id)}"
            requests.append(
                Request("cleanup", "delete-project", "DELETE", path, expect=(200, 204, 404))
            )
        self.projects = []
        return requests


# -- pacing -----------------------------------------------------------------------------------


class SameKeyBudget:
    """Never let one request key reach the limiter's burst threshold from one client.

    `wait_s(key, now)` is how long to wait before sending; `sent(key, at)` records the send.
    """

    def __init__(self, budget: int = SAME_KEY_BUDGET, window_s: float = LIMITER_WINDOW_S) -> None:
        self.budget = budget
        self.window_s = window_s
        self._recent: dict[str, deque[float]] = {}

    def wait_s(self, key: str, now: float) -> float:
        recent = self._recent.setdefault(key, deque())
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if len(recent) < self.budget:
            return 0.0
        pause = self.window_s - (now - recent[0]) + 0.05
        recent.popleft()
        return pause

    def sent(self, key: str, at: float) -> None:
        self._recent.setdefault(key, deque()).append(at)


def request_key(request: Request, api_prefix: str) -> str:
    """Method, full path and query: what SkillMeat's burst limiter counts as one request."""
    url = f"{api_prefix}{request.path}" if request.api else request.path
    clean = {k: v for k, v in (request.params or {}).items() if v is not None}
    return f"{request.method} {url}?{sorted(clean.items())}"
