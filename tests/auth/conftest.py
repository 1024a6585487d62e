"""Fixtures of the authentication checks: which subjects a run judges, and the mode servers.

A run judges either the deployment it was given (`--api-url`) or, on the embedded default,
SkillMeat started with each of its own authentication modes; the other parameters are
deselected at collection (not skipped: a skipped blocking check would hold the phase
INCONCLUSIVE forever).
"""

from __future__ import annotations

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
    """Each mode's server runs once per process, when a check first asks for it, then stops."""
    runs: dict[str, ModeRun] = {}
    by_name = {mode.name: mode for mode in MODES}

    def get(name: str) -> ModeRun:
        if name not in runs:
            python = ensure_skillmeat(settings.skillmeat_version)
            runs[name] = run_mode(
                by_name[name],
                python=python,
                log_dir=settings.report_dir,
                api_version=settings.api_version,
                timeout_s=settings.request_timeout,
                run_id=target.run_id,
                check_id=f"auth.{name}",
            )
        return runs[name]

    return get
