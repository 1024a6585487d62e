"""Fixtures of the authentication checks: which subjects a run judges, and the mode servers.

A run judges either the deployment it was given (`--api-url`) or, on the embedded default,
SkillMeat started with each of its own authentication modes; the other parameters are
deselected at collection (not skipped: a skipped blocking check would hold the phase
INCONCLUSIVE forever).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from phasegate.auth import MODES, ModeRun, run_mode
from phasegate.fixtures import settings_of
from phasegate.stack.venv import ensure_skillmeat

AUTH_DIR = Path(__file__).parent
DEPLOYMENT = "deployment"


def pytest_collection_modifyitems(config, items):
    embedded = settings_of(config).embedded

    def other_subject(item) -> bool:
        subject = getattr(getattr(item, "callspec", None), "params", {}).get("subject")
        return subject is not None and (subject == DEPLOYMENT) == embedded

    dropped = [item for item in items if item.path.parent == AUTH_DIR and other_subject(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def auth_mode_runs(settings, target):
    """Every mode's server runs once per process, all started together when a check first asks.

    Each mode is a SkillMeat start (about 10 s of mostly import time) plus its probe; started
    one after another they would be most of a phase-4 run. Two at a time keeps the wall time
    short without starving the phase's own stack on a small machine.
    """
    runs: dict[str, ModeRun] = {}

    def run(mode, python) -> ModeRun:
        return run_mode(
            mode,
            python=python,
            log_dir=settings.report_dir,
            api_version=settings.api_version,
            timeout_s=settings.request_timeout,
            run_id=target.run_id,
            check_id=f"auth.{mode.name}",
        )

    def get(name: str) -> ModeRun:
        if not runs:
            python = ensure_skillmeat(settings.skillmeat_version)
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="auth-mode") as pool:
                runs.update(
                    zip(
                        (m.name for m in MODES),
                        pool.map(lambda mode: run(mode, python), MODES),
                        strict=True,
                    )
                )
        return runs[name]

    return get
