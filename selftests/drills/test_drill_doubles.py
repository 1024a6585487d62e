"""The disable and rollback drills on a stateful double whose restarts the test controls.

Each drill runs whole (dataset, traffic, command, polling, data read back) against
`support.memory_double`: it PASSes on a double that keeps the plan's promises and FAILs on one
that is slow to come back (a budget of one second, a restart of three), that keeps accepting
memory writes with the flag OFF, or that loses an item on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phasegate.client import ClientConfig
from phasegate.drills import disable, rollback
from phasegate.drills.common import DrillContext
from phasegate.drills.model import BUDGETS, Budget
from phasegate.outcomes import Outcome
from phasegate.resources import Ledger
from support.memory_double import MemoryDouble, running

TIGHT = Budget("disable", 1.0, "self-test: one second")


@pytest.fixture
def double() -> Iterator[MemoryDouble]:
    with running() as target:
        yield target


def context(url: str, tmp_path: Path) -> DrillContext:
    return DrillContext(
        ClientConfig(api_url=url, run_id="pg-selftest-drill", timeout_s=3.0),
        Ledger(tmp_path, "pg-selftest-drill", "t"),
        "/tmp/phasegate-projects/pg-selftest-drill",
        progress=lambda _: None,
    )


def run_disable(
    target: MemoryDouble, tmp_path: Path, budget: Budget = BUDGETS["disable"], **restart: Any
) -> tuple[Outcome, str, dict[str, object]]:
    conclusion = disable.run(
        context(target.url, tmp_path),
        disable=lambda: target.restart(flag_on=False, **restart),
        enable=lambda: target.restart(flag_on=True),
        budget=budget,
    )
    return conclusion.outcome, conclusion.reason, dict(conclusion.facts["drill"])


def test_disable_passes_on_a_target_that_keeps_the_plan(double, tmp_path):
    outcome, reason, facts = run_disable(double, tmp_path)
    assert outcome is Outcome.PASS, reason
    measured = facts["measured"]
    assert measured["flag_off_s"] is not None and measured["memory_refused_s"] is not None
    assert facts["data_after_reenable"]["identical"] is True
    assert [e["event"] for e in facts["timeline"]][:3] == [
        "dataset stored",
        "traffic running",
        "disable command",
    ]
    # The 503s while the double "restarted" are failed requests the drill counted and timed.
    assert facts["traffic"]["tally"]["requests"] > 0


def test_disable_fails_when_over_budget(double, tmp_path):
    outcome, reason, facts = run_disable(double, tmp_path, budget=TIGHT, down_s=3.0)
    assert outcome is Outcome.FAIL
    assert "over the plan's 1 s" in reason
    assert facts["measured"]["disabled_s"] > 1.0


def test_disable_fails_when_the_disable_does_not_disable(tmp_path):
    with running(refuse_when_off=False) as target:
        outcome, reason, facts = run_disable(target, tmp_path)
    assert outcome is Outcome.FAIL
    assert reason.startswith("the disable does not disable")
    probes = facts["write_probes"]
    assert len(probes) == disable.REFUSAL_PROBES
    assert all(p["status"] == 201 and p["deleted_again"] == 204 for p in probes)


def test_disable_fails_when_data_is_lost(double, tmp_path):
    conclusion = disable.run(
        context(double.url, tmp_path),
        disable=lambda: double.restart(flag_on=False),
        enable=lambda: double.restart(flag_on=True, lose_one_item=True),
    )
    assert conclusion.outcome is Outcome.FAIL
    assert "1 items missing" in conclusion.reason


def test_disable_inconclusive_when_the_command_fails(double, tmp_path):
    def broken() -> None:
        raise RuntimeError("--disable-cmd exited 3")

    enabled: list[bool] = []
    conclusion = disable.run(
        context(double.url, tmp_path), disable=broken, enable=lambda: enabled.append(True)
    )
    assert conclusion.outcome is Outcome.INCONCLUSIVE
    assert "--disable-cmd exited 3" in conclusion.reason
    # A drill that stops half-way still switches the feature back on.
    assert enabled == [True]


def run_rollback(target: MemoryDouble, tmp_path: Path, budget: Budget, **restart: Any):
    return rollback.run(
        context(target.url, tmp_path),
        rollback=lambda: target.restart(flag_on=True, version="0.61.0", **restart),
        forward=lambda: target.restart(flag_on=True, version="0.74.0"),
        versions=("0.74.0", "0.61.0"),
        budget=budget,
    )


def test_rollback_passes_and_fails_on_budget(double, tmp_path):
    kept = run_rollback(double, tmp_path, BUDGETS["rollback"])
    assert kept.outcome is Outcome.PASS, kept.reason
    assert kept.facts["drill"]["measured"]["served_version"] == "0.61.0"
    slow = run_rollback(double, tmp_path, Budget("rollback", 1.0, "self-test"), down_s=3.0)
    assert slow.outcome is Outcome.FAIL
    assert "over the plan's 1 s" in slow.reason


def test_rollback_fails_when_the_previous_release_loses_data(double, tmp_path):
    lost = run_rollback(double, tmp_path, BUDGETS["rollback"], lose_one_item=True)
    assert lost.outcome is Outcome.FAIL
    assert "data on 0.61.0: 1 items missing" in lost.reason


def test_disable_inconclusive_when_the_flag_is_not_reported(double, tmp_path):
    def hide_flag() -> None:
        double.restart(flag_on=False)
        double.hide_flags = True

    conclusion = disable.run(
        context(double.url, tmp_path),
        disable=hide_flag,
        enable=lambda: double.restart(flag_on=True),
        budget=Budget("disable", 2.0, "self-test: two seconds"),
    )
    assert conclusion.outcome is Outcome.INCONCLUSIVE
    assert "never reported memory_context_enabled" in conclusion.reason


def test_rollback_that_stops_half_way_rolls_forward(double, tmp_path):
    def broken() -> None:
        double.restart(flag_on=True, version="0.61.0")
        raise RuntimeError("--rollback-cmd exited 2")

    conclusion = rollback.run(
        context(double.url, tmp_path),
        rollback=broken,
        forward=lambda: double.restart(flag_on=True, version="0.74.0"),
        versions=("0.74.0", "0.61.0"),
    )
    assert conclusion.outcome is Outcome.INCONCLUSIVE
    assert "--rollback-cmd exited 2" in conclusion.reason
    assert double.version == "0.74.0"
