"""The locust driver of phasegate's traffic model (a helper: locust skips `_` files).

The mix (which operations each user sends, with which weights and tags) is data in
`phasegate.traffic.mix`; what each operation sends is `phasegate.traffic.operations`, and how a
user keeps track of its own data is `phasegate.traffic.model`, the model the gates' threaded
top-up uses too. This file only turns a profile into a locust user class and sends the model's
requests with locust's client.

Every simulated user behaves like one person or agent behind a proxy:

- its own client address in `X-Forwarded-For` (SkillMeat's burst limiter keys on it), so the
  limiter sees many clients, as it would behind a real load balancer;
- its own projects (one or two), named with the run's prefix, seeded with a few memories of
  varied types, lengths and confidences, and everything it creates is deleted again in
  `on_stop` (modules, items, then projects); the projects also go to a ledger file
  (`PHASEGATE_LOAD_LEDGER`) so the gate can prove afterwards that nothing was left;
- varied requests: filters, sort orders, limits, search words and pack budgets change from call
  to call, and a client never sends the same method+path+query more than
  `model.SAME_KEY_BUDGET` times in 10 s (it paces itself, as a well-behaved client would);
- request names are `"<group> <operation>"`; the group is what the gate judges p95 by.
- a request that gets no answer (timeout after PHASEGATE_REQUEST_TIMEOUT seconds, default 10,
  refused or reset connection) is a failed request in its own row, counted by the load gate;
- a 429 is recorded under the request type "429" (a row of its own, marked failed so locust
  never counts it as a success) and the user honours Retry-After (`model.retry_after_s`)
  before its next request.

Environment: PHASEGATE_RUN_ID (name prefix; default `pg-load-<time>-<random>`),
PHASEGATE_LOAD_LEDGER (ledger path; unset: none), SKILLMEAT_API_VERSION (default v1),
PHASEGATE_PROJECTS_ROOT (server-side folder for project paths; default /tmp/phasegate-projects),
PHASEGATE_REQUEST_TIMEOUT (seconds before a request without an answer fails; default 10),
SKILLMEAT_API_KEY / SKILLMEAT_API_TOKEN (sent as X-API-Key / Bearer when set).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import time
from collections.abc import Callable

import gevent
from locust import HttpUser, between, events, tag

from phasegate.load.stats import BACKEND_MARK
from phasegate.stack.nginx import UNATTRIBUTED, UPSTREAM_HEADER
from phasegate.traffic.mix import UserProfile
from phasegate.traffic.model import (
    Answer,
    Request,
    SameKeyBudget,
    UserData,
    client_address,
    create_project,
    project_id_for,
    request_key,
    retry_after_s,
)
from phasegate.traffic.operations import build, seed_item

API = f"/api/{os.environ.get('SKILLMEAT_API_VERSION', 'v1')}"
RUN_ID = os.environ.get("PHASEGATE_RUN_ID") or (
    f"pg-load-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
)
PROJECTS_ROOT = os.environ.get("PHASEGATE_PROJECTS_ROOT", "/tmp/phasegate-projects")
LEDGER = os.environ.get("PHASEGATE_LOAD_LEDGER") or None
# A request that gets no answer in this time fails (status 0 in locust's row), as a refused or
# reset connection does: a target that hangs fails the load gate instead of leaving requests in
# flight that locust would never record.
REQUEST_TIMEOUT_S = float(os.environ.get("PHASEGATE_REQUEST_TIMEOUT") or 10)


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


def locust_tasks(profile: UserProfile) -> dict[Callable[[SkillMeatUser], None], int]:
    """A profile's mix as locust tasks: one tagged function per operation, with its weight."""
    tasks: dict[Callable[[SkillMeatUser], None], int] = {}
    for row in profile.mix:

        def run(user: SkillMeatUser, operation: str = row.operation) -> None:
            user.run_operation(operation)

        run.__name__ = row.operation.replace("-", "_")
        tasks[tag(*row.tags)(run)] = row.weight
    return tasks


class SkillMeatUser(HttpUser):
    """Base class: identity, data of its own, the model's requests, cleanup. Not run by itself.

    A subclass takes everything from its profile: `profile`, `weight`, `wait_time` (the
    profile's think time) and `tasks = locust_tasks(profile)`.
    """

    abstract = True
    wait_time = between(0.5, 2.0)
    profile: UserProfile

    # -- lifecycle --------------------------------------------------------------------------

    def on_start(self) -> None:
        self.data = UserData(
            rng=random.Random(secrets.randbits(64)),
            run_id=RUN_ID,
            tag=secrets.token_hex(4),
            max_items_per_project=self.profile.max_items_per_project,
        )
        rng = self.data.rng
        self.address = client_address(rng)
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
        self.pacing = SameKeyBudget()
        for index in range(rng.randint(*self.profile.projects_per_user)):
            name, path = self.data.project_name_and_path(index, PROJECTS_ROOT)
            project = self.data.adopt_project(name, self.send(create_project(name, path)))
            # A failed create may still have happened: record the id it would have, so the
            # sweep after the run can check it.
            self._ledger(project.id if project else project_id_for(path), name)
            if project is None:
                continue
            for _ in range(rng.randint(*self.profile.seed_items)):
                self.perform(seed_item(self.data, project))

    def on_stop(self) -> None:
        data = getattr(self, "data", None)
        for request in data.cleanup() if data is not None else []:
            self.send(request)

    # -- plumbing ---------------------------------------------------------------------------

    def run_operation(self, operation: str) -> None:
        """One task: the model's request for `operation` (and any follow-up it asks for)."""
        self.perform(build(operation, self.data))

    def perform(self, request: Request | None) -> None:
        while request is not None:
            request = request.after(self.send(request))

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

    def _pace(self, key: str) -> None:
        """Never let one request key reach the limiter's burst threshold from this client."""
        pause = self.pacing.wait_s(key, time.monotonic())
        if pause:
            gevent.sleep(pause)
        self.pacing.sent(key, time.monotonic())

    def send(self, request: Request) -> Answer:
        """One request, named `"<group> <action>"`; the parsed body on success, else None."""
        url = f"{API}{request.path}" if request.api else request.path
        clean = {k: v for k, v in (request.params or {}).items() if v is not None}
        self._pace(request_key(request, API))
        with self.client.request(
            request.method,
            url,
            params=clean or None,
            json=request.body,
            name=request.name,
            catch_response=True,
            timeout=REQUEST_TIMEOUT_S,
        ) as response:
            if response.status_code == 0:  # timeout, refused or reset: a failed request
                response.failure(f"no answer: {type(response.error).__name__}")
                return None
            if response.status_code == 429:
                response.request_meta["request_type"] = "429"
                retry = response.headers.get("Retry-After", "10")
                response.failure(f"429 rate limited (Retry-After {retry})")
                gevent.sleep(retry_after_s(response.headers))
                return None
            backend = response.headers.get(UPSTREAM_HEADER)
            if backend and backend != UNATTRIBUTED:  # phase 3: which side answered, per row
                response.request_meta["request_type"] = f"{request.method}{BACKEND_MARK}{backend}"
            if response.status_code not in request.expect:
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
