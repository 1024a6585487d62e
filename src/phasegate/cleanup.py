"""How each kind of test data is listed, deleted and proven gone, with one rule for missing data.

After OpenStack Tempest's cleanup services: one small service per resource kind (project, item,
module), used by everything that cleans up or checks for leftovers: a check's last-in first-out
registry and the orphan scan at the end of a run (`resources.py`), the sweep after a load run
(`load/sweep.py`) and the contract suite's sweep of what fuzzing created.

The one rule for missing data:

- gone: a DELETE answered 200, 204 or 404; an item's or module's GET answered 404; a project is
  no longer in the project list (SkillMeat 0.74.0 keeps a deleted project as a tombstone whose
  GET still answers 200);
- unverified: a listing that could not be read to its end (`Unverified`) or a limiter that kept
  refusing (`RateLimited`). What could not be seen is never "clean": the orphan scan is then
  INCONCLUSIVE and the load sweep reports it as unverified;
- anything else is still there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import httpx

from phasegate.client import (
    ITEM_PAGES,
    JSON,
    PROJECT_PAGES,
    CursorStyle,
    ListingIncomplete,
    SkillMeatClient,
)
from phasegate.ratelimit import RateLimited, RateLimitPolicy

ResourceKind = Literal["project", "item", "module"]
GONE_ON_DELETE = (200, 204, 404)


class Unverified(RuntimeError):
    """The target could not show what is left; the caller must not read that as "nothing"."""


# Everything that leaves a cleanup unverified: catch these together, never as "clean".
UNVERIFIED = (Unverified, RateLimited)


@dataclass(frozen=True)
class Deletion:
    gone: bool
    status: int
    detail: str = ""  # why it is not gone


@dataclass(frozen=True)
class ResourceService:
    """List, delete and "is it gone" for one kind of resource that lives in a project."""

    kind: ResourceKind
    collection: str  # API path of the listing
    style: CursorStyle
    deleter: Callable[[SkillMeatClient, str], httpx.Response]
    getter: Callable[[SkillMeatClient, str], httpx.Response] | None = None  # GET by id

    def listed(
        self,
        api: SkillMeatClient,
        project_id: str | None = None,
        *,
        rate_limit: RateLimitPolicy | None = None,
    ) -> list[JSON]:
        """Every one the target lists (in a project); Unverified when the list has no end."""
        params = {"project_id": project_id} if project_id else None
        try:
            return list(api.walk(self.collection, self.style, params=params, rate_limit=rate_limit))
        except ListingIncomplete as exc:
            raise Unverified(str(exc)) from None

    def delete(
        self, api: SkillMeatClient, resource_id: str, *, rate_limit: RateLimitPolicy | None = None
    ) -> Deletion:
        def call() -> httpx.Response:
            return self.deleter(api, resource_id)

        response = rate_limit.call(call) if rate_limit is not None else call()
        if response.status_code in GONE_ON_DELETE:
            return Deletion(True, response.status_code)
        detail = f"DELETE answered {response.status_code}: {response.text[:200]}"
        return Deletion(False, response.status_code, detail)

    def still_there(self, api: SkillMeatClient, resource_ids: Iterable[str]) -> dict[str, str]:
        """Id -> why it is not gone, for those of `resource_ids` the target still has."""
        assert self.getter is not None, f"{self.kind} has no GET by id"
        left: dict[str, str] = {}
        for resource_id in resource_ids:
            status = self.getter(api, resource_id).status_code
            if status != 404:
                left[resource_id] = f"GET answered {status}, expected 404"
        return left


@dataclass(frozen=True)
class ProjectService(ResourceService):
    """Projects: gone means no longer listed, because a deleted project's GET still answers."""

    def names(
        self, api: SkillMeatClient, *, rate_limit: RateLimitPolicy | None = None
    ) -> dict[str, str]:
        """Every listed project: id -> name."""
        return {
            str(project.get("id")): str(project.get("name", ""))
            for project in self.listed(api, rate_limit=rate_limit)
        }

    def still_there(self, api: SkillMeatClient, resource_ids: Iterable[str]) -> dict[str, str]:
        listed = self.names(api)
        return {pid: "still in the project list" for pid in resource_ids if pid in listed}


PROJECTS = ProjectService("project", "/projects", PROJECT_PAGES, SkillMeatClient.delete_project)
ITEMS = ResourceService(
    "item", "/memory-items", ITEM_PAGES, SkillMeatClient.delete_item, SkillMeatClient.get_item
)
MODULES = ResourceService(
    "module",
    "/context-modules",
    ITEM_PAGES,
    SkillMeatClient.delete_module,
    SkillMeatClient.get_module,
)
SERVICES: dict[ResourceKind, ResourceService] = {
    service.kind: service for service in (PROJECTS, ITEMS, MODULES)
}
