"""The traffic model shared by the SkillMeat locustfiles (a helper: locust skips `_` files).

Every simulated user behaves like one person or agent behind a proxy:

- its own client address in `X-Forwarded-For` (SkillMeat's burst limiter keys on it), so the
  limiter sees many clients, as it would behind a real load balancer;
- its own projects (one or two), named with the run's prefix, seeded with a few memories of
  varied types, lengths and confidences, and everything it creates is deleted again in
  `on_stop` (items, modules, then projects); the projects also go to a ledger file
  (`PHASEGATE_LOAD_LEDGER`) so the gate can prove afterwards that nothing was left;
- varied requests: filters, sort orders, limits, search words and pack budgets change from call
  to call, and a client never sends the same method+path+query more than `SAME_KEY_BUDGET`
  times in 10 s (it paces itself, as a well-behaved client would);
- request names are `"<group> <operation>"`; the group is what the gate judges p95 by.
- a 429 is recorded under the request type "429" (a row of its own, marked failed so locust
  never counts it as a success) and the user honours Retry-After before its next request.

Environment: PHASEGATE_RUN_ID (name prefix; default `pg-load-<time>-<random>`),
PHASEGATE_LOAD_LEDGER (ledger path; unset: none), SKILLMEAT_API_VERSION (default v1),
PHASEGATE_PROJECTS_ROOT (server-side folder for project paths; default /tmp/phasegate-projects),
SKILLMEAT_API_KEY / SKILLMEAT_API_TOKEN (sent as X-API-Key / Bearer when set).
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import random
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import quote

import gevent
from locust import HttpUser, between, events

API = f"/api/{os.environ.get('SKILLMEAT_API_VERSION', 'v1')}"
RUN_ID = os.environ.get("PHASEGATE_RUN_ID") or (
    f"pg-load-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
)
PROJECTS_ROOT = os.environ.get("PHASEGATE_PROJECTS_ROOT", "/tmp/phasegate-projects")
LEDGER = os.environ.get("PHASEGATE_LOAD_LEDGER") or None

LIMITER_WINDOW_S = 10.0
SAME_KEY_BUDGET = 12  # SkillMeat blocks a client at about 20 identical requests in 10 s
RETRY_AFTER_CAP_S = 15.0

TYPES = ("decision", "constraint", "gotcha", "style_rule", "learning")
PROMOTABLE = ("candidate", "active")
# keep_source is left out on purpose: on 0.74.0 it always answers 500 (the target takes the
# source's content while the deprecated source keeps it: UNIQUE content_hash). The smoke check
# lifecycle.merge[keep_source] reports that defect; here it would only swamp the failure ratio
# with a functional bug that has nothing to do with load.
STRATEGIES = ("keep_target", "combine")
SORT_FIELDS = ("created_at", "updated_at", "confidence")

_TECH = (
    "PostgreSQL", "SQLite", "Redis", "the job queue", "FastAPI", "SQLAlchemy", "pytest",
    "the CDN", "Kafka", "the feature-flag service", "nginx", "the auth middleware",
    "Alembic", "the search index", "gRPC", "the metrics exporter", "Celery", "uvicorn",
)  # fmt: skip
_AREA = (
    "billing", "the import pipeline", "onboarding", "the admin UI", "the public API",
    "nightly reports", "the mobile sync", "search", "audit logging", "the webhook relay",
    "invoicing", "the data export", "session handling", "rate limiting", "the CLI",
)  # fmt: skip
_REASON = (
    "it keeps deploys reversible", "the team already operates it", "it halves p95 latency",
    "compliance requires it", "it failed twice in production", "reviews got shorter",
    "it removes a network hop", "the old path leaked connections", "tests became deterministic",
)  # fmt: skip
_DETAIL = (
    "Measured over two sprints with the staging dataset.",
    "See the incident review for the timeline and the follow-up actions.",
    "Applies to new code; old modules migrate when they are touched.",
    "Exceptions need a short note in the pull request description.",
    "The benchmark ran on the shared CI runners, so expect some noise.",
    "Owners: the platform team, with the on-call engineer as backup.",
    "Revisit when the traffic doubles or the schema changes again.",
)
_WORDS = tuple(
    sorted({w.strip(".,;:").lower() for s in _TECH + _AREA + _REASON for w in s.split()})
)


@events.test_start.add_listener
def _drop_users_without_tasks(environment, **_kwargs) -> None:
    """`--tags phase2` leaves the production readers without tasks: run without them.

    Locust would otherwise start them and log "No tasks defined" for each one.
    """
    classes = environment.user_classes
    keep = [user for user in classes if user.tasks]
    if keep and len(keep) < len(classes):
        dropped = sorted(user.__name__ for user in classes if not user.tasks)
        classes[:] = keep
        logging.getLogger(__name__).info("no tasks for the chosen tags, not run: %s", dropped)


def client_address(rng: random.Random) -> str:
    """A private address per simulated user, as a proxy would put in X-Forwarded-For."""
    value = rng.getrandbits(24)
    return f"10.{value >> 16 & 255}.{value >> 8 & 255}.{max(1, value & 255)}"


def project_id_for(path: str) -> str:
    return base64.b64encode(path.encode()).decode()


def memory_text(rng: random.Random, kind: str, marker: str, length: int) -> str:
    tech, area, reason = rng.choice(_TECH), rng.choice(_AREA), rng.choice(_REASON)
    lead = {
        "decision": f"Use {tech} for {area} because {reason}.",
        "constraint": f"Never bypass {tech} in {area}; {reason}.",
        "gotcha": f"{tech} in {area} times out under load unless warmed up first.",
        "style_rule": f"In {area}, wrap {tech} calls in one small adapter module.",
        "learning": f"{area.capitalize()} got faster after moving to {tech}: {reason}.",
    }[kind]
    parts = [lead]
    while sum(len(p) + 1 for p in parts) < length:
        parts.append(rng.choice(_DETAIL))
    return f"{' '.join(parts)} [{marker}]"


@dataclass
class Project:
    id: str
    name: str
    items: dict[str, str] = field(default_factory=dict)  # id -> status
    modules: list[str] = field(default_factory=list)

    @property
    def query_id(self) -> str:
        return self.id


class SkillMeatUser(HttpUser):
    """Base class: identity, data of its own, varied requests, cleanup. Not run by itself."""

    abstract = True
    wait_time = between(0.5, 2.0)
    projects_per_user = (1, 2)
    seed_items = (2, 4)
    max_items_per_project = 14

    # -- lifecycle --------------------------------------------------------------------------

    def on_start(self) -> None:
        self.rng = random.Random(secrets.randbits(64))
        self.tag = secrets.token_hex(4)
        self.address = client_address(self.rng)
        self.client.headers.update(
            {
                "X-Forwarded-For": self.address,
                "X-Phasegate-Run": RUN_ID,
                "User-Agent": f"phasegate-locust/{type(self).__name__}",
                "Accept": "application/json",
            }
        )
        if os.environ.get("SKILLMEAT_API_KEY"):
            self.client.headers["X-API-Key"] = os.environ["SKILLMEAT_API_KEY"]
        if os.environ.get("SKILLMEAT_API_TOKEN"):
            self.client.headers["Authorization"] = f"Bearer {os.environ['SKILLMEAT_API_TOKEN']}"
        self.projects: list[Project] = []
        self._seq = 0
        self._recent: dict[str, collections.deque[float]] = {}
        for index in range(self.rng.randint(*self.projects_per_user)):
            project = self._create_project(index)
            if project is None:
                continue
            for _ in range(self.rng.randint(*self.seed_items)):
                status = self.rng.choice(("active", "active", "stable", "candidate"))
                self._create_item(project, "setup", "seed-item", status=status)

    def on_stop(self) -> None:
        for project in list(getattr(self, "projects", [])):
            for module_id in list(project.modules):
                self.call(
                    "cleanup", "delete-module", "DELETE",
                    f"/context-modules/{quote(module_id, safe='')}", expect=(204, 200, 404),
                )  # fmt: skip
            for item_id in list(project.items):
                self.call(
                    "cleanup", "delete-item", "DELETE",
                    f"/memory-items/{quote(item_id, safe='')}", expect=(204, 200, 404),
                )  # fmt: skip
            self.call(
                "cleanup", "delete-project", "DELETE",
                f"/projects/{quote(project.id, safe='')}", expect=(200, 204, 404),
            )  # fmt: skip
        self.projects = []

    # -- plumbing ---------------------------------------------------------------------------

    def marker(self) -> str:
        self._seq += 1
        return f"{RUN_ID}:{self.tag}:{self._seq}"

    def _pace(self, key: str) -> None:
        """Never let one request key reach the limiter's burst threshold from this client."""
        now = time.monotonic()
        recent = self._recent.setdefault(key, collections.deque())
        while recent and now - recent[0] > LIMITER_WINDOW_S:
            recent.popleft()
        if len(recent) >= SAME_KEY_BUDGET:
            gevent.sleep(LIMITER_WINDOW_S - (now - recent[0]) + 0.05)
            recent.popleft()
        recent.append(time.monotonic())

    def call(
        self,
        group: str,
        operation: str,
        method: str,
        path: str,
        *,
        params: dict[str, object] | None = None,
        body: object = None,
        expect: tuple[int, ...] = (200,),
        api: bool = True,
    ) -> dict | list | None:
        """One request, named `"<group> <operation>"`; the parsed body on success, else None."""
        url = f"{API}{path}" if api else path
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        key = f"{method} {url}?{sorted(clean.items())}"
        self._pace(key)
        with self.client.request(
            method,
            url,
            params=clean or None,
            json=body,
            name=f"{group} {operation}",
            catch_response=True,
        ) as response:
            if response.status_code == 429:
                response.request_meta["request_type"] = "429"
                retry = response.headers.get("Retry-After", "10")
                response.failure(f"429 rate limited (Retry-After {retry})")
                try:
                    pause = min(RETRY_AFTER_CAP_S, float(retry))
                except ValueError:
                    pause = 10.0
                gevent.sleep(pause)
                return None
            if response.status_code not in expect:
                text = (response.text or "")[:160].replace("\n", " ")
                response.failure(f"HTTP {response.status_code}: {text}")
                return None
            response.success()
            if response.status_code == 204 or not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                return {}

    def pick_project(self) -> Project | None:
        return self.rng.choice(self.projects) if self.projects else None

    def pick_item(self, project: Project, statuses: tuple[str, ...] = ()) -> str | None:
        ids = [i for i, s in project.items.items() if not statuses or s in statuses]
        return self.rng.choice(ids) if ids else None

    # -- data -------------------------------------------------------------------------------

    def _create_project(self, index: int) -> Project | None:
        name = f"{RUN_ID}-load-{self.tag}-p{index}"
        path = f"{PROJECTS_ROOT}/{RUN_ID}/{name}"
        answer = self.call(
            "setup", "create-project", "POST", "/projects",
            body={"name": name, "path": path}, expect=(201,),
        )  # fmt: skip
        project_id = answer.get("id") if isinstance(answer, dict) else None
        if not project_id:
            # The create may have happened even though it answered an error: record the id it
            # would have, so the sweep after the run can check it.
            project_id = project_id_for(path)
            self._ledger(project_id, name)
            return None
        project = Project(str(project_id), name)
        self._ledger(project.id, name)
        self.projects.append(project)
        return project

    def _ledger(self, project_id: str, name: str) -> None:
        if not LEDGER:
            return
        line = json.dumps({"kind": "project", "id": project_id, "name": name, "run": RUN_ID})
        # One short append per line: atomic on a local file system, safe across processes.
        fd = os.open(LEDGER, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def _create_item(
        self,
        project: Project,
        group: str,
        operation: str,
        *,
        kind: str | None = None,
        status: str | None = None,
    ) -> str | None:
        kind = kind or self.rng.choice(TYPES)
        length = int(self.rng.choice((80, 160, 400, 900, 2000, 4000)) * self.rng.uniform(0.7, 1.3))
        body = {
            "type": kind,
            "content": memory_text(self.rng, kind, self.marker(), length),
            "confidence": round(self.rng.uniform(0.3, 0.98), 2),
        }
        if status:
            body["status"] = status
        answer = self.call(
            group, operation, "POST", "/memory-items",
            params={"project_id": project.id}, body=body, expect=(201,),
        )  # fmt: skip
        item_id = answer.get("id") if isinstance(answer, dict) else None
        if item_id:
            project.items[str(item_id)] = str(answer.get("status") or status or "candidate")
            return str(item_id)
        return None

    # -- memory reads -----------------------------------------------------------------------

    def list_items(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        params: dict[str, object] = {
            "project_id": project.id,
            "limit": self.rng.choice((10, 20, 50, 100)),
        }
        choice = self.rng.random()
        if choice < 0.3:
            params["status"] = self.rng.choice(("active", "candidate", "stable"))
        elif choice < 0.5:
            params["type"] = self.rng.choice(TYPES)
        elif choice < 0.65:
            params["min_confidence"] = self.rng.choice((0.3, 0.5, 0.7, 0.9))
        elif choice < 0.8:
            params["search"] = self.rng.choice(_WORDS)
        if self.rng.random() < 0.5:
            params["sort_by"] = self.rng.choice(SORT_FIELDS)
            params["sort_order"] = self.rng.choice(("asc", "desc"))
        self.call("memory.read", "list", "GET", "/memory-items", params=params)

    def get_item(self) -> None:
        project = self.pick_project()
        item_id = self.pick_item(project) if project else None
        if item_id is None:
            return self.list_items()
        self.call("memory.read", "get", "GET", f"/memory-items/{item_id}")
        return None

    def count_items(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        params: dict[str, object] = {"project_id": project.id}
        if self.rng.random() < 0.6:
            if self.rng.random() < 0.5:
                params["status"] = self.rng.choice(("active", "candidate", "stable", "deprecated"))
            else:
                params["type"] = self.rng.choice(TYPES)
        self.call("memory.read", "count", "GET", "/memory-items/count", params=params)

    def search_items(self) -> None:
        project = self.pick_project()
        words = " ".join(self.rng.sample(_WORDS, self.rng.choice((1, 1, 2))))
        params: dict[str, object] = {"query": words, "limit": self.rng.choice((10, 25, 50))}
        if project is not None and self.rng.random() < 0.8:
            params["project_id"] = project.id
        self.call("memory.read", "search", "GET", "/memory-items/search", params=params)

    # -- memory writes and lifecycle --------------------------------------------------------

    def create_item(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        if len(project.items) >= self.max_items_per_project:
            return self.delete_item()
        status = self.rng.choice((None, None, "active"))
        self._create_item(project, "memory.write", "create", status=status)
        return None

    def update_item(self) -> None:
        project = self.pick_project()
        item_id = self.pick_item(project) if project else None
        if project is None or item_id is None:
            return
        body: dict[str, object] = {"confidence": round(self.rng.uniform(0.3, 0.99), 2)}
        if self.rng.random() < 0.4:
            kind = self.rng.choice(TYPES)
            body["content"] = memory_text(self.rng, kind, self.marker(), self.rng.randint(60, 600))
        answer = self.call("memory.write", "update", "PUT", f"/memory-items/{item_id}", body=body)
        if isinstance(answer, dict) and answer.get("status"):
            project.items[item_id] = str(answer["status"])

    def promote_item(self) -> None:
        project = self.pick_project()
        item_id = self.pick_item(project, PROMOTABLE) if project else None
        if project is None or item_id is None:
            return self.create_item()
        answer = self.call(
            "memory.write", "promote", "POST", f"/memory-items/{item_id}/promote",
            body={"reason": "load: reviewed by the team"} if self.rng.random() < 0.5 else {},
        )  # fmt: skip
        if isinstance(answer, dict) and answer.get("status"):
            project.items[item_id] = str(answer["status"])
        return None

    def deprecate_item(self) -> None:
        project = self.pick_project()
        item_id = self.pick_item(project, ("candidate", "active", "stable")) if project else None
        if project is None or item_id is None:
            return
        answer = self.call(
            "memory.write", "deprecate", "POST", f"/memory-items/{item_id}/deprecate",
            body={"reason": "load: superseded"},
        )  # fmt: skip
        if isinstance(answer, dict) and answer.get("status"):
            project.items[item_id] = str(answer["status"])

    def delete_item(self) -> None:
        project = self.pick_project()
        if project is None or len(project.items) <= 2:
            return
        item_id = self.pick_item(project, ("deprecated",)) or self.pick_item(project)
        if item_id is None:
            return
        # Forget it first: the item is gone or the delete failed loudly; either way on_stop
        # must not count it twice. A failed delete shows in the stats and the sweep finds it.
        status = project.items.pop(item_id)
        answer = self.call(
            "memory.write", "delete", "DELETE", f"/memory-items/{item_id}", expect=(204,)
        )
        if answer is None:
            project.items[item_id] = status  # keep it for on_stop to retry

    def bulk_promote(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        ids = [i for i, s in project.items.items() if s in PROMOTABLE][: self.rng.randint(2, 4)]
        if len(ids) < 2:
            return self.create_item()
        answer = self.call(
            "memory.write", "bulk-promote", "POST", "/memory-items/bulk-promote",
            body={"item_ids": ids},
        )  # fmt: skip
        if isinstance(answer, dict):
            for item_id in answer.get("succeeded") or []:
                if item_id in project.items:
                    project.items[item_id] = (
                        "active" if project.items[item_id] == "candidate" else "stable"
                    )
        return None

    def merge_items(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        ids = [i for i, s in project.items.items() if s != "deprecated"]
        if len(ids) < 3:
            return self.create_item()
        source, target = self.rng.sample(ids, 2)
        strategy = self.rng.choice(STRATEGIES)
        body: dict[str, object] = {"source_id": source, "target_id": target, "strategy": strategy}
        if strategy == "combine":
            body["merged_content"] = memory_text(
                self.rng, "learning", self.marker(), self.rng.randint(100, 800)
            )
        answer = self.call("memory.write", "merge", "POST", "/memory-items/merge", body=body)
        if isinstance(answer, dict):
            project.items[source] = "deprecated"  # the source stays, deprecated
            item = answer.get("item")
            if isinstance(item, dict) and item.get("id"):
                project.items[str(item["id"])] = str(item.get("status") or "candidate")
        return None

    def extract_preview(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        sentences = [
            memory_text(self.rng, self.rng.choice(TYPES), self.marker(), 60)
            for _ in range(self.rng.randint(2, 8))
        ]
        self.call(
            "memory.write", "extract-preview", "POST", "/memory-items/extract/preview",
            params={"project_id": project.id},
            body={
                "text_corpus": "\n".join(sentences),
                "profile": self.rng.choice(("strict", "balanced", "aggressive")),
            },
        )  # fmt: skip

    # -- context modules --------------------------------------------------------------------

    def create_module(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        if len(project.modules) >= 3:
            return self.module_memories()
        body = {
            "name": f"{RUN_ID}-mod-{self.tag}-{self._seq}",
            "description": "load-test module",
            "selectors": {
                "memory_types": self.rng.sample(TYPES, self.rng.randint(1, 3)),
                "min_confidence": self.rng.choice((0.3, 0.5, 0.7)),
            },
            "priority": self.rng.randint(1, 9),
        }
        self._seq += 1
        answer = self.call(
            "modules", "create", "POST", "/context-modules",
            params={"project_id": project.id}, body=body, expect=(201,),
        )  # fmt: skip
        module_id = answer.get("id") if isinstance(answer, dict) else None
        if module_id:
            project.modules.append(str(module_id))
            item_id = self.pick_item(project)
            if item_id:
                self.call(
                    "modules", "link", "POST", f"/context-modules/{module_id}/memories",
                    body={"memory_id": item_id}, expect=(200, 201),
                )  # fmt: skip
        return None

    def list_modules(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        self.call(
            "modules", "list", "GET", "/context-modules",
            params={"project_id": project.id, "limit": self.rng.choice((10, 20, 50))},
        )  # fmt: skip

    def module_memories(self) -> None:
        project = self.pick_project()
        if project is None or not project.modules:
            return self.create_module()
        module_id = self.rng.choice(project.modules)
        if self.rng.random() < 0.5:
            self.call(
                "modules", "get", "GET", f"/context-modules/{module_id}",
                params={"include_items": self.rng.choice(("true", "false"))},
            )  # fmt: skip
        else:
            self.call(
                "modules", "memories", "GET", f"/context-modules/{module_id}/memories",
                params={"limit": self.rng.choice((10, 50))},
            )  # fmt: skip
        return None

    def update_module(self) -> None:
        project = self.pick_project()
        if project is None or not project.modules:
            return self.create_module()
        module_id = self.rng.choice(project.modules)
        self.call(
            "modules", "update", "PUT", f"/context-modules/{module_id}",
            body={"priority": self.rng.randint(1, 9), "description": f"tuned {self.marker()}"},
        )  # fmt: skip
        return None

    # -- context packs ----------------------------------------------------------------------

    def pack_body(self, project: Project) -> dict[str, object]:
        # Budgets from 500 to 100,000 tokens, spread evenly on a log scale.
        budget = int(round(10 ** self.rng.uniform(2.699, 5.0), -1))
        body: dict[str, object] = {"budget_tokens": max(500, min(100_000, budget))}
        if project.modules and self.rng.random() < 0.3:
            body["module_id"] = self.rng.choice(project.modules)
        elif self.rng.random() < 0.3:
            body["filters"] = {"type": self.rng.choice(TYPES)}
        return body

    def pack_preview(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        self.call(
            "packs", "preview", "POST", "/context-packs/preview",
            params={"project_id": project.id}, body=self.pack_body(project),
        )  # fmt: skip

    def pack_generate(self) -> None:
        project = self.pick_project()
        if project is None:
            return
        self.call(
            "packs", "generate", "POST", "/context-packs/generate",
            params={"project_id": project.id}, body=self.pack_body(project),
        )  # fmt: skip

    # -- service ----------------------------------------------------------------------------

    def health(self) -> None:
        self.call("service", "health", "GET", "/health", api=False)
