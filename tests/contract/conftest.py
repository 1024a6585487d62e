"""Fixtures of the contract suite: the target's own schema, the profile, and real values to pin.

The schema is loaded through a fixture, from the target the run decided on (`--api-url` or the
embedded stack), so the contract fuzzed is always the one the target publishes. Each operation
gets a project of its own, two items and a module that cases may point at; whatever the
fuzzing created in that project is swept into the cleanup registry before it is deleted.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from phasegate.cleanup import ITEMS, MODULES, Unverified
from phasegate.client import SkillMeatClient, request_headers
from phasegate.contract import Pins, SchemaUnavailable, Sender, load_schema
from phasegate.contract.tally import record_traffic
from phasegate.evidence import Redactor
from phasegate.fixtures import PROJECTS_ROOT, contract_profile_of, unique
from phasegate.outcomes import Inconclusive
from phasegate.phases import Phase
from phasegate.ratelimit import client_network
from phasegate.resources import Registry, Resource

CONTRACT_DIR = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    """A read-only profile deselects what writes through the API (not skips: skips block GO)."""
    profile = contract_profile_of(config)
    if profile is None or not profile.read_only:
        return

    def writes(item) -> bool:
        params = getattr(getattr(item, "callspec", None), "params", {})
        operation = params.get("operation")
        return "resource" in params or (operation is not None and not operation.read_only)

    dropped = [item for item in items if item.path.parent == CONTRACT_DIR and writes(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def client_config(client_config, settings, canary_sides):
    """The contract's target: in phase 3 the canary directly, the side whose contract changed.

    Through the balancer nine requests in ten would fuzz the flag-OFF stable, and the pins (a
    project, items, a module) would land on either side at random. Without --canary-url the
    contract cannot be aimed at the canary and says so.
    """
    if settings.phase is not Phase.PHASE3:
        return client_config
    if not canary_sides.canary_url:
        raise Inconclusive(
            "phase 3 fuzzes the canary's contract directly: pass --canary-url (the canary "
            "instance beside the balancer)"
        )
    return dataclasses.replace(client_config, api_url=canary_sides.canary_url)


@pytest.fixture(scope="session")
def contract_schema(client_config, settings):
    try:
        return load_schema(client_config, settings.contract_schema)
    except SchemaUnavailable as exc:
        raise Inconclusive(f"no contract to fuzz: {exc}") from None


@pytest.fixture
def contract_sender(
    request, target, evidence, contract_profile, check_meta, client_config, settings, ledger_dir
):
    """Requests of one check: its headers, its own client network for the burst limiter."""
    check_id = check_meta.id if check_meta else "contract"
    headers = request_headers(client_config, check_id)
    sender = Sender(
        client_config.api_url,
        headers,
        redactor=Redactor(client_config.secrets),
        timeout_s=settings.request_timeout,
        recorder=evidence.record,
        max_requests_per_s=contract_profile.max_requests_per_s,
        client_network=client_network(f"{check_id}-{os.getpid()}"),
    )
    yield sender
    sender.close()
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    record_traffic(ledger_dir, target.run_id, worker, check_id, sender.sent, sender.server_errors)


def sweep_project(api: SkillMeatClient, cleanup: Registry, project_id: str) -> int:
    """Register for deletion whatever the fuzzing created in the project (imports, merges...)."""
    known = {resource.id for resource in cleanup}
    added = 0
    for service in (MODULES, ITEMS):
        try:
            listed = service.listed(api, project_id)
        except Unverified as exc:
            raise Unverified(f"sweep: {exc}") from None
        for entry in listed:
            if str(entry.get("id")) not in known:
                label = str(entry.get("name") or entry.get("content") or "")[:60]
                cleanup.add(
                    Resource(service.kind, str(entry["id"]), f"contract: {label}", project_id)
                )
                added += 1
    return added


@pytest.fixture
def contract_pins(api, cleanup, project, make_item, make_module, target, evidence):
    items = tuple(
        make_item(project.id, content=f"contract pin {n}", status="active")["id"] for n in (1, 2)
    )
    module = make_module(project.id)["id"]
    server_dir = str(PROJECTS_ROOT / target.run_id / unique(target, "files"))
    yield Pins(project.id, items, (module,), server_dir)
    evidence.note("swept", sweep_project(api, cleanup, project.id))
