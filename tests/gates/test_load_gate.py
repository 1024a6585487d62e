"""The load gate: p95 under a bounded, realistic locust load, per endpoint group and overall.

Locust runs as a subprocess (importing it into pytest patches the standard library through
gevent); the phase's traffic profile comes from tests/load, its HTML, CSV and JSON reports land in
<report dir>/load/, and the judgement is phasegate.load.gate.evaluate. Size and distribution come
from the environment until the plugin grows options for them:

    PHASEGATE_LOAD_USERS (10), PHASEGATE_LOAD_DURATION (sized from the mix),
    PHASEGATE_LOAD_SPAWN_RATE (users/10), PHASEGATE_LOAD_WORKERS (0: one process; N: a master
    on 127.0.0.1 + N workers)
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from phasegate.client import SkillMeatClient
from phasegate.gates import run_gates
from phasegate.load import (
    LoadPlan,
    LoadSettings,
    LoadSettingsError,
    StatsError,
    catalog_spec,
    evaluate,
    load_settings,
    profile_for_phase,
    read_run_stats,
    run_locust,
    sweep,
)
from phasegate.load.command import project_prefix
from phasegate.load.sizing import plan_for_phase
from phasegate.outcomes import conclude

LOCUSTFILES = Path(__file__).resolve().parents[1] / "load"


@pytest.fixture
def load_size(settings) -> LoadSettings:
    """The run's size from --load-* / PHASEGATE_LOAD_* (validated when the run starts)."""
    try:
        return load_settings(settings.load)
    except LoadSettingsError as exc:
        pytest.fail(f"load settings: {exc}", pytrace=False)


@pytest.mark.check("load.p95-under-load", kind="load", writes=True)
@pytest.mark.phase2
@pytest.mark.phase4
def test_p95_under_load(target, evidence, load_size, settings, client_config, monitoring):
    """Under the phase's locust load, p95 stays under 500 ms per endpoint group and overall.

    Blocking (rule: plan-criterion): the rollout plan makes p95 < 500 ms a success criterion of
    every phase with the feature on, and single smoke requests cannot show it. Many simulated users
    and projects (internal team and agents in phase 2, the read-mostly production mix in phase 4)
    run for a bounded time; the gate fails when, with 95% confidence, more than 5% of requests in
    any endpoint group (memory.read, memory.write, modules, packs) or overall took 500 ms or more,
    or more than 1% failed. Too few requests, or more than 1% refused by the target's burst limiter
    (429, counted apart), give no verdict rather than a pass.
    """
    assert settings.phase is not None
    phase = settings.phase.value
    profile = profile_for_phase(phase)
    out_dir = settings.report_dir / "load"
    # Sized from the mix before the run: every judged group's expected count reaches its n.
    sizing = plan_for_phase(phase, settings.load, settings.gate_overrides)
    assert sizing is not None
    plan = LoadPlan(
        host=target.api_url,
        locustfiles=LOCUSTFILES,
        out_dir=out_dir,
        users=load_size.users,
        run_time_s=sizing.duration_s,
        spawn_rate=load_size.spawn_rate,
        user_classes=profile.user_classes,
        tags=profile.tags,
        workers=load_size.workers,
        run_id=target.run_id,
        api_version=target.api_version,
        name=f"locust-{phase}",
    )
    secrets = {
        name: value
        for name, value in (
            ("SKILLMEAT_API_KEY", settings.api_key),
            ("SKILLMEAT_API_TOKEN", settings.api_token),
        )
        if value
    }
    evidence.note("profile", {"name": profile.name, "description": profile.description})
    evidence.note("settings", load_size.public())
    evidence.note("plan", sizing.to_dict())
    run = run_locust(plan, env={**os.environ, **secrets})
    art = plan.artifacts
    evidence.note("locust", run.to_dict())
    evidence.note(
        "reports",
        {"html": str(art.html), "csv": str(art.stats_csv), "json": str(art.json)},
    )
    with SkillMeatClient(client_config) as api:
        swept = sweep(api, art.ledger, project_prefix(target.run_id))
    evidence.note("cleanup", swept.to_dict())
    try:
        stats = read_run_stats(art.json, art.stats_csv, run.duration_s)
    except StatsError as exc:
        raise RuntimeError(
            f"locust produced no statistics (exit {run.returncode}, timed out {run.timed_out}): "
            f"{exc}; log {art.log}:\n{run.log_tail}"
        ) from None
    result = evaluate(stats, catalog_spec(settings.gate_overrides), sizing)
    evidence.note("window", stats.summary()["window"])
    evidence.note("server_view", _server_view(monitoring, phase, run))
    conclude(result.conclusion(swept), evidence)


def _server_view(monitoring, phase, run):
    """The same window as Prometheus saw it, beside locust's numbers (None without Prometheus).

    Informative, not judged here: the metric gates judge the server side over the whole run.
    """
    if not monitoring.prometheus_url or run.finished_at <= run.started_at:
        return None
    results = run_gates(
        phase,
        prometheus_url=monitoring.prometheus_url,
        window_s=run.finished_at - run.started_at,
        end=run.finished_at + 2.0,  # one more scrape after the last request
        ids=["error-rate", "latency-p95"],
    )
    return {r.id: {"outcome": r.outcome.value, "reason": r.reason} for r in results}
