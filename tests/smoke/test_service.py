"""Service-level checks from both plan scripts: health, flags, metrics."""

from __future__ import annotations

import pytest

from phasegate import expect


@pytest.mark.check("service.health")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_health_is_healthy(api, evidence):
    """GET /health answers 200 with status healthy.

    Blocking (rule: plan-criterion): both plan scripts stop here; nothing else is worth reading from
    an unhealthy target.
    """
    body = expect.json_object(api.health(), 200)
    evidence.note("status", body.get("status"))
    evidence.note("version", body.get("version"))
    assert body.get("status") == "healthy", f"/health status is {body.get('status')!r}"


@pytest.mark.check("service.health-detailed")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_detailed_health_reports_memory_system(api, evidence):
    """GET /health/detailed lists components, the memory system among them.

    Blocking (rule: plan-criterion): the plan's monitoring relies on this endpoint to see the memory
    system at all.
    """
    body = expect.json_object(api.health_detailed(), 200)
    components = expect.field(body, "components", "/health/detailed")
    assert isinstance(components, dict), "components is not an object"
    evidence.note("components", {k: (v or {}).get("status") for k, v in components.items()})
    memory = components.get("memory_system")
    assert isinstance(memory, dict) and memory.get("status"), (
        f"/health/detailed has no memory_system status (components: {sorted(components)})"
    )


@pytest.mark.check("service.memory-system-disabled")
@pytest.mark.phase1
def test_detailed_health_shows_memory_disabled(api, evidence):
    """With the flag OFF, /health/detailed reports the memory system as disabled.

    Warning (rule: script-warning), as in the plan's production script: a wrong status here misleads
    people reading dashboards, but the refusal checks decide whether the feature is really off.
    """
    body = expect.json_object(api.health_detailed(), 200)
    memory = (body.get("components") or {}).get("memory_system") or {}
    evidence.note("memory_system", memory)
    assert memory.get("status") == "disabled", (
        f"flag OFF but memory_system reports {memory.get('status')!r} ({memory.get('details')})"
    )


@pytest.mark.check("config.flag-present")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_config_carries_memory_flag(api, evidence):
    """The feature-flag endpoint answers 200 and carries memory_context_enabled as a boolean.

    Blocking (rule: plan-criterion): every flag check of the plan reads this field; without it
    nobody can tell whether the rollout switch is on. (The plan's `GET /api/v1/config` is 404 on
    0.74.0; the flags live at `/api/v1/config/feature-flags`, which this check reads.)
    """
    body = expect.json_object(api.feature_flags(), 200)
    flag = expect.field(body, "memory_context_enabled", "feature flags")
    evidence.note("memory_context_enabled", flag)
    assert isinstance(flag, bool), f"memory_context_enabled is {flag!r}, not a boolean"


@pytest.mark.check("config.plan-config-path")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase4
def test_plan_config_endpoint_exists(api, evidence):
    """The plan's own command, GET /api/v1/config, shows memory_context_enabled.

    Warning (rule: moved-path): the operators' runbook (steps 3 and the rollback checks) greps this
    path; if it is 404 the runbook's verification step silently shows nothing, though the flag is
    readable elsewhere (config.flag-present).
    """
    response = api.api("GET", "/config")
    evidence.note("status", response.status_code)
    body = expect.json_object(response, 200, why="the rollout plan's flag check reads it")
    assert "memory_context_enabled" in body, "GET /api/v1/config has no memory_context_enabled"


@pytest.mark.check("config.flag-off")
@pytest.mark.phase1
def test_flag_reads_off(api, evidence):
    """The Memory & Context flag reads OFF.

    Blocking (rule: plan-criterion): phase 1 verifies the deployment with the feature disabled.
    """
    body = expect.json_object(api.feature_flags(), 200)
    evidence.note("memory_context_enabled", body.get("memory_context_enabled"))
    assert body.get("memory_context_enabled") is False, (
        f"memory_context_enabled is {body.get('memory_context_enabled')!r} in phase 1"
    )


@pytest.mark.check("config.flag-on")
@pytest.mark.phase2
@pytest.mark.phase4
def test_flag_reads_on(api, evidence):
    """The Memory & Context flag reads ON.

    Blocking (rule: plan-criterion): phases 2 and 4 test the enabled feature; with the flag off they
    would test nothing.
    """
    body = expect.json_object(api.feature_flags(), 200)
    evidence.note("memory_context_enabled", body.get("memory_context_enabled"))
    assert body.get("memory_context_enabled") is True, (
        f"memory_context_enabled is {body.get('memory_context_enabled')!r}"
    )


@pytest.mark.check("config.auto-extract-off")
@pytest.mark.phase1
@pytest.mark.phase3
@pytest.mark.phase4
def test_auto_extract_not_on(api, evidence):
    """Automatic memory extraction is not switched on in production.

    Blocking (rule: plan-criterion): extraction writes memories without a person; the production
    script requires it off. A missing field leaves it unknown: INCONCLUSIVE, never a pass
    (config.auto-extract-reported warns about the missing field as such).
    """
    body = expect.json_object(api.feature_flags(), 200)
    evidence.note("memory_auto_extract", body.get("memory_auto_extract", "<missing>"))
    value = expect.reported(
        body, "memory_auto_extract", "feature flags", "whether automatic extraction is off"
    )
    assert value is False, f"memory_auto_extract is {value!r}, not false"


@pytest.mark.check("config.auto-extract-reported")
@pytest.mark.phase1
@pytest.mark.phase3
@pytest.mark.phase4
def test_auto_extract_flag_reported(api, evidence):
    """The flags report memory_auto_extract at all.

    Warning (rule: script-warning), as in the production script: without the field nobody can
    confirm extraction is off.
    """
    body = expect.json_object(api.feature_flags(), 200)
    evidence.note("fields", sorted(body))
    assert "memory_auto_extract" in body, "feature flags carry no memory_auto_extract field"


@pytest.mark.check("service.metrics")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_metrics_exposition(api, evidence):
    """The metrics endpoint serves skillmeat_ series, the request counter among them.

    Blocking (rule: plan-criterion): every metric gate of the plan reads these series; a target
    without them cannot be gated. (0.74.0 serves /metrics/ with a trailing slash; see
    service.metrics-plan-path.)
    """
    names = _series(api, evidence)
    assert names, "no skillmeat_ series in the exposition"
    assert "skillmeat_api_requests_total" in names, "exposition lacks skillmeat_api_requests_total"


@pytest.mark.check("service.metrics-memory-items")
@pytest.mark.phase2
@pytest.mark.phase4
def test_metrics_memory_items_series(api, make_item, shared_project, evidence):
    """With the feature on and an item stored, the exposition carries skillmeat_memory_items_total.

    Warning (rule: unset-gauge): the plan's "Memory items created" dashboard (Monitoring
    Checklist, alert on "Unusual spike") and the staging script read this gauge, but no success
    or gate criterion of the plan gates on it: a blank dashboard panel, not a broken feature.
    (With the flag OFF its absence is expected, so phase 1 does not ask.)
    """
    make_item(shared_project.id, content="metrics probe")
    names = _series(api, evidence)
    declared = "# TYPE skillmeat_memory_items_total" in api.metrics().text
    evidence.note("memory_items_total_declared", declared)
    assert "skillmeat_memory_items_total" in names, (
        "exposition has no skillmeat_memory_items_total sample although an item is stored"
        + (" (the gauge is declared by HELP/TYPE but never set)" if declared else "")
    )


def _series(api, evidence) -> set[str]:
    response = expect.status(api.metrics(), 200)
    names = {
        line.split("{")[0].split(" ")[0]
        for line in response.text.splitlines()
        if line.startswith("skillmeat_")
    }
    evidence.note("skillmeat_series", sorted(names)[:40])
    return names


@pytest.mark.check("service.metrics-plan-path")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase4
def test_metrics_at_plan_path(api, evidence):
    """GET /metrics (no trailing slash, as the plan's scripts and default scrapes use) works.

    Warning (rule: moved-path): a scrape job configured with the usual `metrics_path: /metrics` gets
    404 and the dashboards go blank, but Prometheus can be pointed at /metrics/ instead.
    """
    response = api.request("GET", "/metrics", headers={"Accept": "text/plain"})
    evidence.note("status", response.status_code)
    expect.status(response, 200, why="the plan's scripts read /metrics")
    assert "skillmeat_" in response.text
