"""The locustfiles for a few seconds against a real SkillMeat 0.74.0 (flag ON) on 127.0.0.1.

Every user class and every task runs (no tags); afterwards the run must have reached every
endpoint group, with no failure but the keep_source merges' (0.74.0 answers every one 500; the
mix sends them, as users would), no 429, and nothing left behind on the server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.fixtures import PROJECTS_ROOT
from phasegate.load.command import LoadPlan, project_prefix
from phasegate.load.profiles import JUDGED_GROUPS
from phasegate.load.runner import run_locust
from phasegate.load.stats import parse_json
from phasegate.load.sweep import read_ledger, sweep
from phasegate.settings import OPTIONS
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

pytestmark = pytest.mark.selftest_slow

REPO = Path(__file__).resolve().parents[2]
VERSION = next(o.default for o in OPTIONS if o.name == "skillmeat_version") or "0.74.0"
RUN_ID = "pg-selftest-load"


@pytest.fixture(scope="module")
def skillmeat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    python = ensure_skillmeat(VERSION, progress=lambda _message: None)
    log = tmp_path_factory.mktemp("skillmeat") / "skillmeat-load.log"
    server = SkillMeatServer(
        ServerSpec(python=python, flag_on=True, log_path=log, name="skillmeat-load"),
        progress=lambda _message: None,
    )
    try:
        yield server.start()
    finally:
        server.stop()
        # the server created the projects' folders on this machine; nothing else removes them
        shutil.rmtree(PROJECTS_ROOT / RUN_ID, ignore_errors=True)


def test_locustfiles_run_against_real_skillmeat(skillmeat: str, tmp_path: Path) -> None:
    plan = LoadPlan(
        host=skillmeat,
        locustfiles=REPO / "tests" / "load",
        out_dir=tmp_path,
        users=9,
        run_time_s=12,
        spawn_rate=9,
        run_id=RUN_ID,
    )
    run = run_locust(plan)
    assert not run.timed_out, run.log_tail
    stats = parse_json(plan.artifacts.json)
    everything = stats.combine("all", stats.groups)
    failures = plan.artifacts.failures_csv.read_text()
    failed = {e.name: e.failures for e in stats.entries if e.failures}
    assert set(failed) <= {"memory.write merge"}, failures
    assert "HTTP 500" in failures or not failed, failures
    assert everything.rate_limited == 0, failures
    assert set(JUDGED_GROUPS) <= set(stats.groups), sorted(stats.groups)
    by_name = {e.name: e.requests for e in stats.entries}
    created = by_name["setup create-project"]
    assert created == by_name["cleanup delete-project"] == len(read_ledger(plan.artifacts.ledger))
    with SkillMeatClient(ClientConfig(api_url=skillmeat)) as api:
        report = sweep(api, plan.artifacts.ledger, project_prefix(RUN_ID))
    assert report.projects_checked == created
    assert report.clean, report.to_dict()  # the users removed everything themselves
