"""The load run is sized from the mix before it starts, so every judged group can reach n.

Each group's expected count is users x steady seconds x the class's request rate x the group's
share of the class's task weights (`phasegate.load.sizing`). The sized default must give every
group its design n; a size the user chose that cannot is said up front and, when a group then
falls short, is the gate's reason.
"""

from __future__ import annotations

import pytest

from phasegate.gates.design import design_for
from phasegate.gates.spec import load_catalog
from phasegate.load.gate import catalog_spec, evaluate
from phasegate.load.profiles import JUDGED_GROUPS, PROFILES
from phasegate.load.sizing import ALL_REQUESTS, MAX_SIZED_S, allocate, group_rates, plan_run
from phasegate.load.stats import EntryStats, Histogram, LoadStats
from phasegate.outcomes import Outcome
from phasegate.traffic.mix import AGENT_PACK, INTERNAL_TEAM

ROW = load_catalog().load_gate


def entry(name: str, times: dict[int, int]) -> EntryStats:
    histogram = Histogram.from_mapping(times)
    return EntryStats("GET", name, histogram.count, 0, histogram, 0.0, 60.0)


def stats_of(entries: list[EntryStats]) -> LoadStats:
    return LoadStats(entries=tuple(entries), source="json", started_at=0.0, finished_at=60.0)


def test_the_group_minimum_is_the_designs_n() -> None:
    design = design_for(ROW)
    assert design is not None and design.n == 77
    assert catalog_spec().min_group_requests == 77


@pytest.mark.parametrize("profile", ["internal", "production"])
@pytest.mark.parametrize("users", [10, 20, 50])
def test_the_sized_duration_gives_every_group_its_n(profile: str, users: int) -> None:
    sizing = plan_run(PROFILES[profile], ROW, users=users)
    assert sizing.sized and not sizing.capped
    assert sizing.duration_s <= MAX_SIZED_S
    assert {g.name for g in sizing.groups} == {*JUDGED_GROUPS, ALL_REQUESTS}
    for group in sizing.groups:
        assert group.expected >= group.needed, (group, sizing.describe())
        assert group.needed == (3922 if group.name == ALL_REQUESTS else 77)
    assert sizing.reachable and sizing.too_small() is None
    # The shortest such duration (in 5 s steps): 5 s less would plan under the margin.
    shorter = plan_run(PROFILES[profile], ROW, users=users, duration_s=sizing.duration_s - 5)
    assert min(g.expected / (g.needed * 1.2) for g in shorter.groups) < 1


def test_the_default_run_of_phase_2() -> None:
    sizing = plan_run(PROFILES["internal"], ROW, users=10)
    # The failure share at the plan's 0.1% needs 3,922 requests over the run (its design n):
    # at 10 users (about 7 requests a second) that, not p95, sets the duration.
    assert sizing.duration_s == 700
    facts = sizing.to_dict()
    assert facts["design_n"] == 77 and facts["design"]["n"] == 77
    assert facts["failures_n"] == 3922
    assert set(facts["expected"]) == {*JUDGED_GROUPS, ALL_REQUESTS}
    assert facts["expected"][ALL_REQUESTS] >= 3922


def test_the_issues_run_of_6_users_for_120_s_is_said_to_be_too_small() -> None:
    sizing = plan_run(PROFILES["internal"], ROW, users=6, duration_s=120)
    assert not sizing.sized and not sizing.reachable
    warning = sizing.too_small()
    assert warning is not None
    assert warning.startswith(
        "this run was sized too small: group all requests expected 451 < n=3922 (also modules)"
    )
    assert warning in sizing.describe()


def test_a_run_too_small_for_a_group_is_inconclusive_with_that_reason() -> None:
    sizing = plan_run(PROFILES["internal"], ROW, users=6, duration_s=120)
    entries = [entry(f"{group} op", {40: 150}) for group in JUDGED_GROUPS]
    entries[2] = entry("modules op", {40: 60})  # fewer than n = 77, all fast
    result = evaluate(stats_of(entries), catalog_spec(), sizing)
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.reason.startswith("this run was sized too small: group all requests expected")
    assert result.judgements[0].check == "sizing"


def test_a_small_plan_that_got_enough_anyway_is_judged_on_what_it_got() -> None:
    sizing = plan_run(PROFILES["internal"], ROW, users=6, duration_s=120)
    entries = [entry(f"{group} op", {40: 1000}) for group in JUDGED_GROUPS]
    result = evaluate(stats_of(entries), catalog_spec(), sizing)
    assert result.outcome is Outcome.PASS, result.message()


def test_a_single_user_is_capped_and_says_why() -> None:
    sizing = plan_run(PROFILES["internal"], ROW, users=1)
    assert sizing.capped and sizing.duration_s == MAX_SIZED_S
    assert sizing.too_small() is not None


def test_users_are_spread_by_class_weight() -> None:
    assert allocate(10, (INTERNAL_TEAM, AGENT_PACK)) == {"InternalTeamUser": 6, "AgentPackUser": 4}
    assert allocate(6, (INTERNAL_TEAM, AGENT_PACK)) == {"InternalTeamUser": 4, "AgentPackUser": 2}
    rates = group_rates(PROFILES["internal"], 10)
    assert all(rate > 0 for rate in rates.values())
