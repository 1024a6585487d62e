"""The one traffic model: the mix as data, the request builders, the users' bookkeeping.

Both drivers (tests/load for locust, `traffic.threaded` for the gates' top-up) send only what
these modules build, so the mix is pinned here, every operation is shown to build a request
SkillMeat serves, and the bookkeeping is shown to follow the answers.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import httpx
import pytest

from phasegate import ratelimit
from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.contract.operations import OPERATIONS as API_OPERATIONS
from phasegate.load.profiles import JUDGED_GROUPS, UNGATED_GROUPS
from phasegate.resources import Ledger, Registry
from phasegate.traffic import mix, operations, threaded, top_up
from phasegate.traffic.content import TYPES
from phasegate.traffic.model import (
    Project,
    Request,
    SameKeyBudget,
    UserData,
    client_address,
    create_project,
    request_key,
    retry_after_s,
)

# The traffic's groups: the judged ones plus the production mix's health probes.
GROUPS = ("service", *JUDGED_GROUPS)

# -- the mix ----------------------------------------------------------------------------------

# The weights the load profiles were tuned with; a change here changes what the gate measures.
PINNED = {
    "InternalTeamUser": (3, (0.5, 2.0), {
        "list-items": 6, "get-item": 3, "count-items": 2, "search-items": 2, "create-item": 4,
        "update-item": 2, "promote-item": 2, "deprecate-item": 1, "delete-item": 2,
        "bulk-promote": 1, "merge-items": 1, "create-module": 2, "list-modules": 2,
        "module-memories": 2, "update-module": 1, "pack-preview": 2, "extract-preview": 4,
    }),
    "AgentPackUser": (2, (0.5, 2.0), {
        "pack-preview": 5, "pack-generate": 3, "list-items": 2, "search-items": 1,
        "record-learning": 1, "list-modules": 1,
    }),
    "ProductionReaderUser": (5, (0.5, 2.5), {
        "list-items": 8, "get-item": 4, "count-items": 2, "search-items": 3, "pack-preview": 3,
        "pack-generate": 1, "module-memories": 2, "create-item": 1, "update-item": 1,
        "promote-item": 1, "delete-item": 1, "health": 2,
    }),
}  # fmt: skip
PHASE2_ONLY = {"bulk-promote", "merge-items", "update-module", "extract-preview"}


@pytest.mark.parametrize("user", mix.USER_PROFILES, ids=lambda u: u.name)
def test_every_user_profile_keeps_its_weights_and_phases(user: mix.UserProfile) -> None:
    weight, wait_s, weights = PINNED[user.name]
    assert (user.weight, user.wait_s) == (weight, wait_s)
    assert {task.operation: task.weight for task in user.mix} == weights
    assert len({task.operation for task in user.mix}) == len(user.mix)  # one row per operation
    for task in user.mix:
        if user is mix.PRODUCTION_READER:
            assert task.phases == mix.PRODUCTION
        elif user is mix.INTERNAL_TEAM and task.operation in PHASE2_ONLY:
            assert task.phases == mix.PHASE2
        else:
            assert task.phases == mix.ALL_PHASES
        assert task.tags == (*task.phases, mix.OPERATIONS[task.operation].function)


def test_user_data_limits_per_profile() -> None:
    assert mix.INTERNAL_TEAM.projects_per_user == (1, 2)
    assert mix.INTERNAL_TEAM.seed_items == (2, 4)
    assert mix.AGENT_PACK.seed_items == (3, 6)
    assert mix.PRODUCTION_READER.projects_per_user == (1, 1)
    assert {u.max_items_per_project for u in mix.USER_PROFILES} == {14}


def test_the_production_readers_have_no_phase2_traffic() -> None:
    # Under `--tags phase2` the locust driver drops them instead of starting idle users.
    assert not mix.PRODUCTION_READER.tasks_for("phase2")
    assert mix.INTERNAL_TEAM.tasks_for("phase2") and mix.AGENT_PACK.tasks_for("phase2")
    assert sum(t.weight for t in mix.INTERNAL_TEAM.tasks_for("phase3")) == 39 - 7


def test_every_operation_has_a_builder_and_a_gated_group() -> None:
    assert set(operations.BUILDERS) == set(mix.OPERATIONS)
    used = {task.operation for user in mix.USER_PROFILES for task in user.mix}
    assert used == set(mix.OPERATIONS)
    assert {op.group for op in mix.OPERATIONS.values()} == set(GROUPS)


def expected_phase2_share(operation: str) -> Fraction:
    """By hand: 3 internal-team users to 2 agents, each operation by its task weight."""
    team = dict(PINNED["InternalTeamUser"][2])
    agents = dict(PINNED["AgentPackUser"][2])
    return Fraction(3, 5) * Fraction(team.get(operation, 0), sum(team.values())) + Fraction(
        2, 5
    ) * Fraction(agents.get(operation, 0), sum(agents.values()))


def test_the_top_up_sends_the_phase2_load_profiles_mix_exactly() -> None:
    top = top_up.mix_for_phase("phase2")
    assert (top.profile, top.users) == ("internal", (("InternalTeamUser", 3), ("AgentPackUser", 2)))
    total = sum(top.weights.values())
    phase2_operations = set(PINNED["InternalTeamUser"][2]) | set(PINNED["AgentPackUser"][2])
    assert set(top.weights) == phase2_operations  # writes, lifecycle, merge, modules, packs
    for operation, weight in top.weights.items():
        assert Fraction(weight, total) == expected_phase2_share(operation), operation
    assert len(top.order) == total
    assert Counter(top.order) == Counter(top.weights)
    # The stated shares are the rotation's and add up to one.
    assert sum(top.shares().values()) == pytest.approx(1.0, abs=1e-3)
    assert "merge-items" in top.describe() and "internal" in top.describe()


@pytest.mark.parametrize("phase", ["phase2", "phase4"])
def test_the_rotation_interleaves_every_stretch_near_its_shares(phase: str) -> None:
    top = top_up.mix_for_phase(phase)
    total = sum(top.weights.values())
    for length in (50, 200, 1000):
        seen = Counter(top.operation(step) for step in range(1, length + 1))
        for operation, weight in top.weights.items():
            assert abs(seen[operation] - length * weight / total) < 2, (length, operation)


def test_phase1_has_no_load_profile_and_tops_up_with_the_production_mix() -> None:
    assert top_up.mix_for_phase("phase1").weights == top_up.mix_for_phase("phase4").weights
    assert top_up.mix_for_phase("phase1").profile == "production"
    assert "health" in top_up.mix_for_phase("phase4").weights


def test_operation_weights_refuse_a_phase_without_traffic() -> None:
    with pytest.raises(ValueError, match="no user profile"):
        mix.operation_weights((mix.PRODUCTION_READER,), "phase2")


def test_merges_use_every_strategy_the_failing_keep_source_included() -> None:
    assert set(operations.STRATEGIES) == {"keep_target", "keep_source", "combine"}
    data = user(5, items=8)
    for project in data.projects:
        project.items = dict.fromkeys(project.items, "active")
    strategies = {operations.build("merge-items", data).body["strategy"] for _ in range(60)}
    assert strategies == set(operations.STRATEGIES)


# -- every operation builds a request SkillMeat serves ----------------------------------------

KNOWN = {(op.method, op.path) for op in API_OPERATIONS} | {
    ("POST", "/projects"),
    ("DELETE", "/projects/{project_id}"),
    ("GET", "/health"),
}


def template(request: Request) -> tuple[str, str]:
    """The request's operation as the API declares it: ids replaced by their parameter names."""
    path = re.sub(r"^/memory-items/(?!count$|search$|bulk-promote$|merge$|extract/)[^/]+",
                  "/memory-items/{item_id}", request.path)  # fmt: skip
    path = re.sub(r"^/context-modules/[^/]+", "/context-modules/{module_id}", path)
    path = re.sub(r"^/projects/[^/]+$", "/projects/{project_id}", path)
    return request.method, path


def assert_valid(request: Request) -> None:
    assert template(request) in KNOWN, request
    assert request.group in GROUPS or request.group in UNGATED_GROUPS
    assert request.name == f"{request.group} {request.action}"
    assert request.api == (request.path != "/health")
    assert request.expect and all(100 <= s < 600 for s in request.expect)
    for key, value in (request.params or {}).items():
        assert isinstance(key, str) and isinstance(value, str | int | float), (key, value)
    json.dumps(request.body)  # a JSON body, or none
    if request.method in ("POST", "PUT"):
        assert isinstance(request.body, dict)
    if request.method == "DELETE":
        assert request.body is None


def user(seed: int, *, projects: int = 1, items: int = 0, modules: int = 0) -> UserData:
    data = UserData(random.Random(seed), "pg-unit", "cafe01")
    statuses = ("candidate", "active", "stable", "deprecated")
    for p in range(projects):
        project = Project(f"cHJvamVjdC{p}=", f"pg-unit-load-cafe01-p{p}")
        project.items = {f"item-{p}-{i}": statuses[i % 4] for i in range(items)}
        project.modules = [f"mod-{p}-{m}" for m in range(modules)]
        data.projects.append(project)
    return data


STATES = {
    "no project": {"projects": 0},
    "empty project": {"projects": 1},
    "a few items": {"projects": 1, "items": 3},
    "full projects": {"projects": 2, "items": 14, "modules": 3},
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("operation", sorted(mix.OPERATIONS))
def test_every_operation_builds_a_valid_request(operation: str, state: str) -> None:
    built = 0
    for seed in range(40):
        request = operations.build(operation, user(seed, **STATES[state]))
        if request is None:
            # Nothing to act on: only without a project (or, for a delete, without spare items).
            assert state in ("no project", "empty project") or operation == "delete-item"
            continue
        built += 1
        assert_valid(request)
        follow_up = request.after({"id": "new-1", "status": "active"})
        if follow_up is not None:
            assert_valid(follow_up)
    if state == "full projects" or (state == "a few items" and operation != "delete-item"):
        assert built == 40
    if operation == "health":
        assert built == 40


def test_operations_fall_back_when_there_is_nothing_to_act_on() -> None:
    lonely = user(1)  # one project, no items, no modules
    assert operations.build("get-item", lonely).name == "memory.read list"
    assert operations.build("promote-item", lonely).name == "memory.write create"
    assert operations.build("module-memories", lonely).name == "modules create"
    assert operations.build("delete-item", lonely) is None
    for operation in ("create-item", "record-learning"):
        full = user(1, items=14)
        assert operations.build(operation, full).name == "memory.write delete"


def test_ids_in_paths_are_percent_encoded() -> None:
    data = user(3, items=0)
    data.projects[0].id = "L3RtcC94=/"
    data.projects[0].items = {"a/b": "active"}
    paths = {r.path for r in data.cleanup()}
    assert paths == {"/memory-items/a%2Fb", "/projects/L3RtcC94%3D%2F"}


# -- bookkeeping follows the answers ----------------------------------------------------------


def test_a_created_item_is_kept_with_the_status_the_server_gave() -> None:
    data = user(5)
    request = operations.build("create-item", data)
    assert request is not None and request.expect == (201,)
    assert request.params == {"project_id": data.projects[0].id}
    assert request.body["type"] in TYPES and "[pg-unit:cafe01:" in request.body["content"]
    assert request.after({"id": "m1", "status": "stable"}) is None
    assert data.projects[0].items == {"m1": "stable"}
    assert request.after(None) is None  # a failed create books nothing
    assert data.projects[0].items == {"m1": "stable"}


def test_a_failed_delete_keeps_the_item_for_the_cleanup() -> None:
    data = user(2, items=4)
    before = dict(data.projects[0].items)
    request = operations.build("delete-item", data)
    assert request is not None and request.method == "DELETE" and request.expect == (204,)
    item_id = request.path.rsplit("/", 1)[-1]
    assert item_id == "item-0-3"  # the deprecated one goes first
    assert item_id not in data.projects[0].items
    request.after(None)
    assert data.projects[0].items == before
    again = operations.build("delete-item", data)
    assert again is not None
    again.after({})
    assert len(data.projects[0].items) == 3


def test_a_new_module_is_kept_and_linked_to_a_memory() -> None:
    data = user(4, items=3)
    request = operations.build("create-module", data)
    assert request is not None and request.name == "modules create"
    assert request.body["name"] == "pg-unit-mod-cafe01-0"
    link = request.after({"id": "mod-9"})
    assert data.projects[0].modules == ["mod-9"]
    assert link is not None and link.name == "modules link"
    assert link.path == "/context-modules/mod-9/memories"
    assert link.body["memory_id"] in data.projects[0].items
    assert link.expect == (200, 201)
    assert operations.build("create-module", user(4, items=3)).after(None) is None


def test_merge_and_bulk_promote_book_the_new_statuses() -> None:
    data = user(6, items=6)
    items = data.projects[0].items
    merge = operations.build("merge-items", data)
    assert merge is not None and merge.body["strategy"] in operations.STRATEGIES
    merge.after({"item": {"id": "merged", "status": "active"}})
    assert items[merge.body["source_id"]] == "deprecated"
    assert items["merged"] == "active"
    bulk = operations.build("bulk-promote", data)
    assert bulk is not None and 2 <= len(bulk.body["item_ids"]) <= 4
    promoted = bulk.body["item_ids"]
    was = {i: items[i] for i in promoted}
    bulk.after({"succeeded": promoted})
    assert all(items[i] == ("active" if was[i] == "candidate" else "stable") for i in promoted)


def test_the_cleanup_deletes_modules_then_items_then_the_project() -> None:
    data = user(7, projects=2, items=2, modules=1)
    names = [r.name for r in data.cleanup()]
    per_project = ["cleanup delete-module", "cleanup delete-item", "cleanup delete-item",
                   "cleanup delete-project"]  # fmt: skip
    assert names == per_project * 2
    assert data.projects == []
    assert data.cleanup() == []


def test_a_new_project_is_adopted_only_when_created() -> None:
    data = UserData(random.Random(1), "pg-unit", "beef02")
    name, path = data.project_name_and_path(0, "/srv/projects")
    assert (name, path) == (
        "pg-unit-load-beef02-p0",
        "/srv/projects/pg-unit/pg-unit-load-beef02-p0",
    )
    request = create_project(name, path)
    assert_valid(request)
    assert request.body == {"name": name, "path": path}
    assert data.adopt_project(name, None) is None
    assert data.adopt_project(name, {"detail": "conflict"}) is None
    assert data.adopt_project(name, {"id": "cA=="}) == Project("cA==", name)
    assert [p.id for p in data.projects] == ["cA=="]
    seeded = operations.seed_item(data, data.projects[0])
    assert seeded.name == "setup seed-item" and seeded.body["status"] in operations.SEED_STATUSES


# -- the top-up's requests --------------------------------------------------------------------


def test_top_up_requests_follow_the_rotation_as_the_model_builds_them() -> None:
    top = top_up.mix_for_phase("phase2")
    data = top_up.user("pg-unit-1700000000", 1, "pg-unit")
    project = Project("cHg=", "pg-unit-traffic-1")
    data.projects.append(project)
    for seed in top_up.seed_items(data, project):
        assert_valid(seed)
        seed.after({"id": f"s{len(project.items)}", "status": seed.body["status"]})
    groups: Counter[str] = Counter()
    for step in range(1, 601):
        request = top_up.request(step, top, data)
        assert request is not None
        assert_valid(request)
        groups[request.group] += 1
        follow = request.after(
            {"id": f"new-{step}", "status": "active", "item": {"id": f"m{step}"}}
        )
        if follow is not None:
            assert_valid(follow)
    assert set(groups) == {"memory.read", "memory.write", "modules", "packs"}


def test_top_up_seed_items_are_eight_memories_of_the_model() -> None:
    data = top_up.user("pg-unit-1700000000", 2, "pg-unit")
    assert data.rng.random() == top_up.user("pg-unit-1700000000", 2, "pg-unit").rng.random()
    project = Project("cHg=", top_up.project_name("pg-unit-1700000000", 2))
    assert project.name == "pg-unit-1700000000-traffic-2"
    seeds = top_up.seed_items(data, project)
    assert len(seeds) == top_up.SEED_ITEMS == 8
    for seed in seeds:
        assert_valid(seed)
        assert seed.name == "setup seed-item"
    assert len({seed.body["content"] for seed in seeds}) == 8
    seeds[0].after({"id": "s0", "status": "active"})
    seeds[1].after(None)
    assert project.items == {"s0": "active"}


# -- the rules every driver follows -----------------------------------------------------------


def test_the_traffic_waits_by_the_suites_one_rate_limit_policy() -> None:
    assert retry_after_s is ratelimit.retry_after_s  # both drivers import it from the model
    assert retry_after_s({"Retry-After": "10"}) == 10.0  # what SkillMeat 0.74.0 sends


def test_same_key_budget_paces_a_repeated_request() -> None:
    budget = SameKeyBudget()
    for n in range(12):
        assert budget.wait_s("GET /a", 100.0 + n * 0.1) == 0.0
        budget.sent("GET /a", 100.0 + n * 0.1)
    assert budget.wait_s("GET /b", 101.3) == 0.0  # another key has its own budget
    assert budget.wait_s("GET /a", 101.3) == pytest.approx(10.0 - 1.3 + 0.05)
    assert budget.wait_s("GET /a", 111.0) == 0.0  # the window has passed


def test_request_key_is_method_full_path_and_sorted_query() -> None:
    request = Request("memory.read", "list", "GET", "/memory-items", {"limit": 5, "b": "x"})
    assert request_key(request, "/api/v1") == "GET /api/v1/memory-items?[('b', 'x'), ('limit', 5)]"
    health = Request("service", "health", "GET", "/health", api=False)
    assert request_key(health, "/api/v1") == "GET /health?[]"


def test_client_addresses_are_private_and_vary() -> None:
    rng = random.Random(9)
    addresses = {client_address(rng) for _ in range(200)}
    assert len(addresses) > 190
    assert all(re.fullmatch(r"10\.\d+\.\d+\.[1-9]\d*", a) for a in addresses)


def test_the_model_imports_neither_httpx_nor_locust() -> None:
    code = (
        "import sys; import phasegate.traffic.model, phasegate.traffic.operations, "
        "phasegate.traffic.top_up, phasegate.traffic.mix; "
        "print(sorted(m for m in ('httpx', 'locust', 'gevent') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# -- the threaded driver sends the model's top-up -----------------------------------------------


class FakeTarget:
    """Answers the top-up like SkillMeat would; the first project create is rate-limited."""

    def __init__(self) -> None:
        self.seen: list[httpx.Request] = []
        self.ids = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        creates = [r for r in self.seen if r.method == "POST" and r.url.path == "/api/v1/projects"]
        if request.method == "POST" and path == "/api/v1/projects":
            if len(creates) == 1:
                return httpx.Response(429, headers={"Retry-After": "3"}, json={})
            return httpx.Response(201, json={"id": "cHJvag=="})
        if request.method == "POST" and path in ("/api/v1/memory-items", "/api/v1/context-modules"):
            self.ids += 1
            return httpx.Response(201, json={"id": f"new-{self.ids}", "status": "active"})
        if request.method == "POST" and path == "/api/v1/memory-items/merge":
            return httpx.Response(500, json={"detail": "UNIQUE constraint failed"})
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json={})


def test_the_threaded_worker_is_a_paced_user_of_the_phase_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(threaded.time, "sleep", pauses.append)
    target = FakeTarget()
    tally = threaded.Tally()
    api = SkillMeatClient(
        ClientConfig("http://skillmeat.test", run_id="pg-unit"),
        recorder=tally.record,
        transport=httpx.MockTransport(target),
    )
    registry = Registry(api, Ledger(tmp_path, "pg-unit", "main"))
    top = top_up.mix_for_phase("phase2")
    worker = threaded._Worker(1, api, registry, "pg-unit-1700000000", top, tally)
    worker.setup("/srv/projects")
    assert pauses[0] == 3.0  # the limiter's Retry-After, then one retry
    create = json.loads(target.seen[1].content)
    assert create == {"name": "pg-unit-1700000000-traffic-1",
                      "path": "/srv/projects/pg-unit-1700000000-traffic-1"}  # fmt: skip
    assert [r.kind for r in registry] == ["project"]
    assert worker.project is not None and len(worker.project.items) == 8
    for _ in range(top_up.mix_for_phase("phase2").order.__len__() * 2):
        worker.one()
    # Exactly the rotation's operations, every one of the phase's, each its share.
    assert tally.by_operation == Counter(top.operation(n) for n in range(1, 2 * len(top.order) + 1))
    # One client address per simulated user, on every request after the project create.
    addresses = {r.headers.get("X-Forwarded-For") for r in target.seen[1:]}
    assert len(addresses) == 1 and None not in addresses
    assert {r.method for r in target.seen} == {"GET", "POST", "PUT", "DELETE"}
    # The merges' 500s are counted as what they are: 5xx failures, never dropped.
    assert tally.by_class["5xx"] == tally.server_errors == tally.failures > 0
    assert tally.requests == len(target.seen) and tally.rate_limited == 1
    worker.cleanup()
    deletes = [r for r in target.seen if r.method == "DELETE"]
    assert deletes and not any("/projects/" in r.url.path for r in deletes)  # the registry's
    api.close()


def test_the_tally_counts_an_unanswered_request_as_a_failed_request() -> None:
    tally = threaded.Tally()
    for status in (200, 201, 404, 429, 500, None, None):
        tally.add(status, 0.01)
    tally.add(None, 10.0)  # a timeout
    assert tally.requests == 8 and tally.answered == 5
    assert tally.transport_errors == 3 and tally.server_errors == 1 and tally.failures == 4
    assert tally.slow == 1
    assert tally.to_dict()["by_class"] == {"2xx": 2, "4xx": 1, "429": 1, "5xx": 1, "transport": 3}
    assert set(tally.to_dict()["by_class"]) == set(threaded.CLASSES)
    assert threaded.answer_class(302) == "3xx"


def test_the_model_is_what_the_locust_driver_imports() -> None:
    """The locust driver builds nothing itself (checked on the text: pytest never imports it)."""
    source = (Path(__file__).resolve().parents[2] / "tests/load/_skillmeat_traffic.py").read_text()
    assert "from phasegate.traffic.operations import build, seed_item" in source
    assert "retry_after_s(response.headers)" in source
    assert not re.search(r"\"/memory-items|\"/context-", source)
