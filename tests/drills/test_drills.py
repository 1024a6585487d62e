"""The plan's emergency procedures as timed drills, in phase 4 on the embedded default (#13).

Each drill starts a SkillMeat of its own (private HOME, free loopback port) and restarts it as
the plan's command would, so the phase's own stack is never disturbed. The same drills run on
their own with `make drill` / `phasegate drill`; against a deployment only that way, with the
user's commands (see tests/drills/conftest.py).
"""

from __future__ import annotations

import allure
import pytest

from phasegate.drills.allure_timeline import timeline_svg
from phasegate.drills.runner import DrillRun
from phasegate.outcomes import Conclusion, conclude


def _drill(name: str, settings, evidence) -> None:
    run = DrillRun(
        report_dir=settings.report_dir,
        progress=lambda message: print(f"phasegate drill: {message}", flush=True),
        skillmeat_version=settings.skillmeat_version,
    )
    result = run.embedded(name)
    facts = result.evidence.get("facts", {})
    drill = facts.get("drill") if isinstance(facts, dict) else None
    if isinstance(drill, dict):
        allure.attach(
            timeline_svg(drill, result.title),
            name="timeline",
            attachment_type=allure.attachment_type.SVG,
        )
    conclude(Conclusion(result.outcome, result.reason, facts), evidence)


@pytest.mark.check("drill.disable", kind="drill", writes=True)
@pytest.mark.phase4
def test_immediate_disable(settings, evidence):
    """The plan's immediate disable switches the feature off in under a minute, data kept.

    Blocking (rule: plan-criterion): "Immediate Disable (< 1 minute)" is the plan's safety net
    for every phase with the flag on; a disable that leaves the memory endpoints serving, or
    takes longer, or loses data on re-enable, is a safety net that does not hold.
    """
    _drill("disable", settings, evidence)


@pytest.mark.check("drill.rollback", kind="drill", writes=True)
@pytest.mark.phase4
def test_full_rollback(settings, evidence):
    """The previous release comes back healthy over the same data in under five minutes.

    Blocking (rule: plan-criterion): "Full Rollback (< 5 minutes)"; whether the older release
    starts on the database the newer one migrated, and what data it keeps, is part of it.
    """
    _drill("rollback", settings, evidence)


@pytest.mark.check("drill.recover", kind="drill", writes=True)
@pytest.mark.phase4
def test_data_recovery(settings, evidence):
    """The plan's data recovery (stop, back up, restore, restart) brings every record back.

    Blocking (rule: plan-criterion): the plan's "Data Recovery" procedure; a backup that misses
    committed data, or a restore that loses or resurrects rows, fails it.
    """
    _drill("recover", settings, evidence)
