"""Fixtures the phase checks use: the target, a recording client, and self-cleaning test data.

They are also how a check learns what the run decided (`settings`, `client_config`,
`monitoring`, `ledger_dir`, `contract_profile`, `check_meta`): checks never import the plugin or
its run state (selftests/unit/test_unit_layering.py holds them to that).

Each check gets its own client (its requests carry the check's id and land in its evidence) and
its own cleanup registry (what it creates is deleted at its teardown, last first, even when it
fails). Nothing here decides an outcome.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from phasegate.canary.sides import CanarySides
from phasegate.checks import CheckMeta
from phasegate.client import JSON, ClientConfig, SkillMeatClient
from phasegate.contract.profiles import ContractProfile
from phasegate.evidence import Evidence
from phasegate.outcomes import Inconclusive
from phasegate.pacing import Pacer
from phasegate.resources import Ledger, Registry, Resource
from phasegate.runstate import EVIDENCE, META, RunState, state_of
from phasegate.settings import Settings
from phasegate.shared_projects import SharedProjects

PROJECTS_ROOT = Path("/tmp/phasegate-projects")
_counter = itertools.count(1)


@dataclass(frozen=True)
class Target:
    api_url: str
    api_version: str
    embedded: bool
    run_id: str


def _state(config: pytest.Config) -> RunState:
    state = state_of(config)
    if state is None:  # pragma: no cover - the plugin always configures first
        raise RuntimeError("phasegate plugin not configured")
    return state


# -- what the run decided, for checks (a check never reads options or the plugin's state) --------


@dataclass(frozen=True)
class Monitoring:
    """The monitoring the run judges from: given URLs, or the embedded stack's own."""

    prometheus_url: str | None
    alertmanager_url: str | None
    since: float | None  # first sample the embedded Prometheus scraped (None: given URLs)
    problem: str | None  # why there is no monitoring, when there is none


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> Settings:
    """The run's resolved settings (command line, environment, ini), read-only."""
    return _state(pytestconfig).settings


@pytest.fixture(scope="session")
def client_config(pytestconfig: pytest.Config, target: Target) -> ClientConfig:
    """How to reach the target: URL, API version, credentials, timeout and the run's id."""
    return _state(pytestconfig).client_config()


@pytest.fixture(scope="session")
def monitoring(pytestconfig: pytest.Config) -> Monitoring:
    """Prometheus and Alertmanager as the run found them (or why there are none)."""
    state = _state(pytestconfig)
    return Monitoring(
        prometheus_url=state.prometheus_url,
        alertmanager_url=state.alertmanager_url,
        since=state.monitoring_since,
        problem=state.monitoring_problem,
    )


@pytest.fixture(scope="session")
def ledger_dir(pytestconfig: pytest.Config) -> Path:
    """Where every process of the run keeps its ledgers and shared files (pacing, tallies)."""
    return _state(pytestconfig).ledger_dir


def contract_profile_of(config: pytest.Config) -> ContractProfile | None:
    """The run's contract profile, for collection hooks (they run before any fixture)."""
    return _state(config).contract_profile


def settings_of(config: pytest.Config) -> Settings:
    """The run's settings, for collection hooks (they run before any fixture)."""
    return _state(config).settings


@pytest.fixture(scope="session")
def contract_profile(pytestconfig: pytest.Config) -> ContractProfile | None:
    """How hard the contract suite may push the target, decided once for the run."""
    return contract_profile_of(pytestconfig)


@pytest.fixture
def check_meta(request: pytest.FixtureRequest) -> CheckMeta | None:
    """The calling check's declaration (id, severity, phases); None for a non-phase test."""
    meta: CheckMeta | None = request.node.stash.get(META, None)
    return meta


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The SkillMeat under test: the --api-url given, or the embedded stack of this phase."""
    state = _state(pytestconfig)
    if state.stack_problem:
        raise Inconclusive(state.stack_problem)
    if not state.api_url:
        pytest.fail(
            "phasegate: no target; pass --api-url or a phase (--phase / -m phaseN) so the "
            "embedded stack starts",
            pytrace=False,
        )
    yield Target(state.api_url, state.settings.api_version, state.settings.embedded, state.run_id)
    if state.settings.embedded:
        # The embedded server created these folders on this machine; nothing else will.
        shutil.rmtree(PROJECTS_ROOT / state.run_id, ignore_errors=True)


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """The calling check's evidence record (also filled by `api`)."""
    existing: Evidence | None = request.node.stash.get(EVIDENCE, None)
    if existing is not None:
        return existing
    created = Evidence()
    request.node.stash[EVIDENCE] = created
    return created


@pytest.fixture
def api(
    client_config: ClientConfig, evidence: Evidence, check_meta: CheckMeta | None
) -> Iterator[SkillMeatClient]:
    client = SkillMeatClient(
        client_config, recorder=evidence.record, check_id=check_meta.id if check_meta else None
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def _ledger(pytestconfig: pytest.Config, target: Target, ledger_dir: Path) -> Ledger:
    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "main")
    return Ledger(ledger_dir, target.run_id, worker)


@pytest.fixture
def cleanup(api: SkillMeatClient, _ledger: Ledger) -> Iterator[Registry]:
    """Everything the check creates; deleted in reverse order at teardown, whatever happened."""
    registry = Registry(api, _ledger)
    yield registry
    failures = registry.cleanup()
    if failures:
        shown = "; ".join(f"{f.resource.kind} {f.resource.id}: {f.detail}" for f in failures)
        pytest.fail(f"cleanup failed: {shown}", pytrace=False)


def unique(target: Target, label: str) -> str:
    """A name no other run or check uses: run prefix, label, a process-wide counter."""
    import os

    return f"{target.run_id}-{label}-{os.getpid()}-{next(_counter)}"


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    path: str


ProjectFactory = Callable[..., Project]


@pytest.fixture(scope="session")
def _project_pacer(target: Target, ledger_dir: Path) -> Pacer:
    return Pacer(ledger_dir / f"pace-{target.run_id}.txt")


def _create_project(
    api: SkillMeatClient, cleanup: Registry, target: Target, pacer: Pacer, label: str
) -> Project:
    """Create a project (paced: every check repeats this one request shape), registered for
    deletion the moment it exists."""
    pacer.wait_for_slot()
    name = unique(target, label)
    path = str(PROJECTS_ROOT / target.run_id / name)
    response = api.create_project(name, path)
    if response.status_code != 201:
        raise AssertionError(
            f"setup: creating project {name} answered {response.status_code}: {response.text[:300]}"
        )
    project_id = response.json()["id"]
    cleanup.add(Resource("project", project_id, name))
    return Project(project_id, name, path)


@pytest.fixture
def make_project(
    api: SkillMeatClient, cleanup: Registry, target: Target, _project_pacer: Pacer
) -> ProjectFactory:
    def make(label: str = "proj") -> Project:
        return _create_project(api, cleanup, target, _project_pacer, label)

    return make


@pytest.fixture
def project(make_project: ProjectFactory) -> Project:
    """A fresh project of this check's own, so no check sees another's data."""
    return make_project()


# The X-Phasegate-Check value of the shared projects' own requests (creation and deletion). It
# is no check's id, so a fault rule scoped to a check never touches them: whichever check first
# needs a shared project, its faults still hit only its own requests.
SHARED_PROJECT_TAG = "run.shared-project"


@pytest.fixture(scope="session")
def _shared_projects(
    pytestconfig: pytest.Config, target: Target, _ledger: Ledger, _project_pacer: Pacer
) -> Iterator[SharedProjects[Project]]:
    """This process's shared projects: on the ledger like any other (the orphan scan sees them),
    deleted when the process ends. A failed delete is left to that scan, which names it, rather
    than failing whichever check happened to run last."""
    state = _state(pytestconfig)
    with SkillMeatClient(state.client_config(), check_id=SHARED_PROJECT_TAG) as api:
        registry = Registry(api, _ledger)
        try:
            yield SharedProjects(
                lambda: _create_project(api, registry, target, _project_pacer, "shared")
            )
        finally:
            registry.cleanup()


@pytest.fixture
def shared_project(
    _shared_projects: SharedProjects[Project], evidence: Evidence
) -> Iterator[Project]:
    """A project other checks write into too, for a check that only needs "some project".

    Creating a project is the one request the suite must pace, so a project per check is most
    of a run's time. A check may share when isolation is not what it tests: it makes its own
    items and modules (content unique to it, deleted by its own `cleanup`) and reads back only
    those, by id, by its own unique keyword, or as contained in a listing. A check that counts
    or lists a whole project exactly, packs a whole project, or compares projects keeps
    `project` / `make_project`. See shared_projects.py for how sharing stays within the
    target's burst limiter.
    """
    project = _shared_projects.lease()
    yield project
    _shared_projects.record(project, evidence.exchanges)


ItemFactory = Callable[..., JSON]


@pytest.fixture
def make_item(api: SkillMeatClient, cleanup: Registry, target: Target) -> ItemFactory:
    """Create a memory item that must succeed (201), registered for deletion.

    The content always carries the run prefix, so an orphan is recognisable and two checks never
    collide on the duplicate-content rule.
    """

    def make(project_id: str, **fields: Any) -> JSON:
        body: JSON = {"type": "decision", "confidence": 0.8, "status": "active"}
        body.update(fields)
        body["content"] = f"{fields.get('content', 'memory item')} [{unique(target, 'item')}]"
        response = api.create_item(project_id, body)
        if response.status_code != 201:
            raise AssertionError(
                f"setup: creating a memory item answered "
                f"{response.status_code}: {response.text[:300]}"
            )
        item: JSON = response.json()
        cleanup.add(Resource("item", item["id"], body["content"][:60], project_id))
        return item

    return make


ModuleFactory = Callable[..., JSON]


@pytest.fixture
def make_module(api: SkillMeatClient, cleanup: Registry, target: Target) -> ModuleFactory:
    def make(project_id: str, **fields: Any) -> JSON:
        body: JSON = {"name": unique(target, "module")}
        body.update(fields)
        response = api.create_module(project_id, body)
        if response.status_code != 201:
            raise AssertionError(
                f"setup: creating a context module answered "
                f"{response.status_code}: {response.text[:300]}"
            )
        module: JSON = response.json()
        cleanup.add(Resource("module", module["id"], body["name"], project_id))
        return module

    return make


# -- phase 3: the canary beside the stable instance ------------------------------------------------


@dataclass(frozen=True)
class RollbackControl:
    """What the rollback check may change: the run's own nginx folder and canary process group."""

    balancer_dir: Path
    canary_pid: int


@pytest.fixture(scope="session")
def canary_sides(pytestconfig: pytest.Config, target: Target) -> CanarySides:
    """The balancer (the target), each side directly when known, and their Prometheus selectors."""
    state = _state(pytestconfig)
    return CanarySides(
        balancer_url=target.api_url,
        stable_url=state.stable_url,
        canary_url=state.canary_url,
        stable_selector=state.settings.stable_selector,
        canary_selector=state.settings.canary_selector,
        embedded=target.embedded,
        prometheus_url=state.prometheus_url,
    )


@pytest.fixture(scope="session")
def rollback_control(pytestconfig: pytest.Config, target: Target) -> RollbackControl | None:
    """The embedded split's controls; None against a deployment (its balancer is not ours)."""
    state = _state(pytestconfig)
    if not state.balancer_dir or not state.canary_pid:
        return None
    return RollbackControl(Path(state.balancer_dir), state.canary_pid)
