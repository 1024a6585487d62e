"""Phase 1: with the flag OFF the Memory & Context feature must refuse work.

The plan's emergency procedure is "turn the flag off". These checks are what make that procedure
trustworthy: if a disabled feature still accepts writes, turning it off stops nothing.
"""

from __future__ import annotations

import pytest

from phasegate import expect
from phasegate.resources import Resource

REFUSED = (404, 403, 503)


@pytest.mark.check("flagoff.memory-write-refused", writes=True)
@pytest.mark.phase1
def test_memory_write_refused(api, project, cleanup, evidence):
    """Creating a memory item with the flag OFF is refused with 404, 403 or 503.

    Blocking (rule: plan-criterion; the plan's script only warns on 200/201): a disabled feature
    that still accepts writes means the emergency disable would not stop it. Anything that got
    through is deleted at teardown and named in the evidence.
    """
    response = api.create_item(
        project.id, {"type": "decision", "content": f"{project.name} off", "confidence": 0.5}
    )
    if response.status_code in (200, 201):
        created = response.json().get("id")
        if created:
            cleanup.add(Resource("item", created, "flag-off write", project.id))
            evidence.note("accepted_item_id", created)
    evidence.note("status", response.status_code)
    expect.status(response, *REFUSED, why="the flag is OFF")


@pytest.mark.check("flagoff.plan-request-refused", writes=True)
@pytest.mark.phase1
def test_plan_literal_request_refused(api, cleanup, evidence):
    """The plan's own step-5 request (project_id "test" in the body) answers 404, 403 or 503.

    Warning (rule: moved-path): this is the exact command operators run. If it answers anything
    else, the runbook reports a failure (or a false pass) for reasons unrelated to the flag; the
    real refusal is judged by flagoff.memory-write-refused.
    """
    response = api.api(
        "POST", "/memory-items", json={"project_id": "test", "type": "decision", "content": "test"}
    )
    if response.status_code in (200, 201) and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        created = response.json().get("id")
        if created:
            cleanup.add(Resource("item", created, "plan literal write", "test"))
    evidence.note("status", response.status_code)
    expect.status(response, *REFUSED, why="the plan expects a disabled answer")


@pytest.mark.check("flagoff.memory-list")
@pytest.mark.phase1
def test_memory_list_with_flag_off(api, project, evidence):
    """Listing memory items with the flag OFF answers 404, 403, 503 or 200, never an error.

    Blocking (rule: server-error): reads may stay open while disabled (the script allows 200), but a
    5xx here would be a server error on production traffic.
    """
    response = api.list_items(project.id)
    evidence.note("status", response.status_code)
    expect.status(response, *REFUSED, 200)


@pytest.mark.check("flagoff.module-write-refused", writes=True)
@pytest.mark.phase1
def test_module_write_refused(api, project, cleanup, evidence):
    """Creating a context module with the flag OFF is refused with 404, 403 or 503.

    Blocking (rule: plan-criterion), for the same reason as memory writes: modules are part of the
    disabled feature.
    """
    response = api.create_module(
        project.id, {"name": f"{project.name}-module", "selectors": {"memory_types": ["decision"]}}
    )
    if response.status_code in (200, 201):
        created = response.json().get("id")
        if created:
            cleanup.add(Resource("module", created, "flag-off module", project.id))
            evidence.note("accepted_module_id", created)
    evidence.note("status", response.status_code)
    expect.status(response, *REFUSED, why="the flag is OFF")


@pytest.mark.check("flagoff.pack-refused", writes=True)
@pytest.mark.phase1
def test_context_pack_refused(api, project, evidence):
    """Generating a context pack with the flag OFF is refused with 404, 403 or 503.

    Blocking (rule: plan-criterion): pack generation is the feature's main output; serving it while
    disabled means the flag does not gate the feature.
    """
    response = api.pack_generate(project.id, {"budget_tokens": 1000})
    evidence.note("status", response.status_code)
    expect.status(response, *REFUSED, why="the flag is OFF")
