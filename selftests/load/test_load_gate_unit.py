"""The pure load gate on constructed statistics, and the bounds behind it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasegate.gates.spec import CatalogError
from phasegate.gates.stats import lower_bound, more_requests_to_decide, upper_bound
from phasegate.load.gate import LoadGateSpec, catalog_spec, evaluate
from phasegate.load.stats import EntryStats, Histogram, LoadStats, parse_json
from phasegate.load.sweep import SweepReport
from phasegate.outcomes import Inconclusive, Outcome, conclude

GROUPS = ("memory.read", "memory.write", "modules", "packs")
DATA = Path(__file__).parent / "data"


def entry(name: str, times: dict[int, int], failures: int = 0, method: str = "GET") -> EntryStats:
    histogram = Histogram.from_mapping(times)
    return EntryStats(method, name, histogram.count, failures, histogram, 0.0, 60.0)


def healthy(per_group: int = 750, ms: int = 40) -> list[EntryStats]:
    """A fast target without failures, large enough (3,000 requests) that the failure share's
    upper bound can fall under the plan's 0.1% (2,995 clean requests are the least that do)."""
    return [entry(f"{group} op", {ms: per_group}) for group in GROUPS]


def stats_of(entries: list[EntryStats]) -> LoadStats:
    return LoadStats(entries=tuple(entries), source="json", started_at=0.0, finished_at=60.0)


def outcomes(result) -> dict[str, Outcome]:
    return {j.label: j.outcome for j in result.judgements}


def test_fast_target_with_enough_requests_passes():
    result = evaluate(stats_of(healthy()))
    assert result.outcome is Outcome.PASS, result.message()
    assert result.overall["requests"] == 3000
    assert result.overall["p95_ms"] == 40
    assert "p95 40 ms overall" in result.reason
    assert all(o is Outcome.PASS for o in outcomes(result).values())


def test_one_slow_group_fails_the_gate_even_when_overall_passes():
    entries = healthy(per_group=400)
    entries[3] = entry("packs generate", {60: 340, 700: 60})  # 15% of packs take 700 ms
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.FAIL
    judged = outcomes(result)
    assert judged["latency packs"] is Outcome.FAIL
    assert judged["latency overall"] is Outcome.PASS  # 60 of 1,600 is under 5%
    assert "failed: latency packs" in result.headline()
    assert "packs: p95 700 ms" in result.message()


def test_a_slow_target_fails_on_few_requests_once_the_data_prove_it():
    """Every request slow: FAIL is certain long before the volume rule is met."""
    entries = [entry(f"{group} op", {650: 5}) for group in GROUPS]
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.FAIL
    judged = outcomes(result)
    assert judged["volume overall"] is Outcome.INCONCLUSIVE
    assert judged["latency overall"] is Outcome.FAIL


def test_an_erroring_target_fails_on_the_failure_ratio():
    entries = [entry(f"{group} op", {40: 200}, failures=20) for group in GROUPS]
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.FAIL
    assert outcomes(result)["failures all requests"] is Outcome.FAIL
    failed = next(j for j in result.judgements if j.check == "failures")
    assert failed.observed == pytest.approx(0.1)
    assert failed.bound is not None and failed.bound > 0.01


def test_too_few_requests_refuse_a_verdict():
    result = evaluate(stats_of(healthy(per_group=20)))
    assert result.outcome is Outcome.INCONCLUSIVE
    judged = outcomes(result)
    assert judged["volume overall"] is Outcome.INCONCLUSIVE
    assert judged["latency packs"] is Outcome.INCONCLUSIVE
    volume = next(j for j in result.judgements if j.check == "volume")
    assert volume.more_requests == 300 - 80
    assert "only 80 answered requests" in result.message()


def test_nothing_measured_is_inconclusive_never_a_pass():
    result = evaluate(stats_of([]))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert result.overall["requests"] == 0


def test_the_straddling_bucket_never_passes():
    """Everything stored as 500 ms (really 495..505): neither a pass nor a proven fail."""
    entries = [entry(f"{group} op", {500: 300}) for group in GROUPS]
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.INCONCLUSIVE
    latency = next(j for j in result.judgements if j.label == "latency overall")
    assert latency.outcome is Outcome.INCONCLUSIVE
    assert latency.more_requests is None  # more of the same cannot decide it


def test_rounding_is_held_against_a_pass():
    """3% surely slow plus 3% in the 500 bucket: p95 might be 500, so no PASS."""
    entries = healthy(per_group=2000)
    entries[0] = entry("memory.read list", {40: 1880, 500: 60, 520: 60})
    result = evaluate(stats_of(entries))
    assert outcomes(result)["latency memory.read"] is Outcome.INCONCLUSIVE
    entries[0] = entry("memory.read list", {40: 1880, 490: 60, 520: 60})
    assert outcomes(evaluate(stats_of(entries)))["latency memory.read"] is Outcome.PASS


def test_429s_are_their_own_outcome():
    entries = healthy()
    entries.append(entry("memory.read list", {2: 100}, failures=100, method="429"))
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert outcomes(result)["rate-limit overall"] is Outcome.INCONCLUSIVE
    assert outcomes(result)["failures all requests"] is Outcome.PASS  # not failures
    assert result.overall["rate_limited"] == 100
    assert result.overall["requests"] == 3000  # nor answered requests
    assert result.groups["memory.read"]["p50_ms"] == 40  # nor latency samples
    few = [*healthy(), entry("packs preview", {2: 3}, failures=3, method="429")]
    tolerated = evaluate(stats_of(few))
    assert tolerated.outcome is Outcome.PASS
    assert "3 rate-limited" in tolerated.reason


def test_setup_and_cleanup_are_counted_but_not_latency_gated():
    entries = [
        *healthy(),
        entry("setup create-project", {2500: 40}, method="POST"),
        entry("cleanup delete-item", {1500: 100}, method="DELETE"),
    ]
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.PASS
    assert result.overall["all_requests"] == 3140
    broken = [*healthy(), entry("setup create-project", {100: 40}, failures=40, method="POST")]
    assert evaluate(stats_of(broken)).outcome is Outcome.FAIL


def test_a_judged_group_without_traffic_cannot_pass():
    entries = healthy(per_group=1000)[:3]  # no packs at all
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert outcomes(result)["latency packs"] is Outcome.INCONCLUSIVE
    custom = LoadGateSpec(judged_groups=("memory.read",))
    assert evaluate(stats_of(entries), custom).outcome is Outcome.PASS


def test_other_groups_count_in_the_overall_only():
    entries = [*healthy(), entry("service health", {5: 50})]
    result = evaluate(stats_of(entries))
    assert result.outcome is Outcome.PASS
    assert result.overall["requests"] == 3050
    assert "latency service" not in outcomes(result)


def test_saved_real_run_is_too_small_to_judge():
    result = evaluate(parse_json(DATA / "skillmeat-phase2.json"))
    assert result.outcome is Outcome.INCONCLUSIVE
    assert outcomes(result)["volume overall"] is Outcome.INCONCLUSIVE
    evidence = result.to_evidence()
    assert evidence["spec"]["latency_ms"] == 500.0
    assert set(evidence["groups"]) >= set(GROUPS)
    assert {"p50_ms", "p95_ms", "p99_ms", "rps", "requests"} <= set(evidence["groups"]["packs"])


def test_spec_rejects_nonsense():
    with pytest.raises(ValueError, match="quantile"):
        LoadGateSpec(quantile=1.5)
    with pytest.raises(ValueError, match="latency"):
        LoadGateSpec(latency_ms=0)
    with pytest.raises(ValueError, match="failure"):
        LoadGateSpec(max_failure_ratio=1.0)


def test_clopper_pearson_bounds_match_known_values():
    assert upper_bound(0, 2995) == pytest.approx(0.001, rel=1e-3)  # the rule of three
    assert upper_bound(4, 10_000) < 0.001 < upper_bound(5, 10_000)
    assert upper_bound(10, 100) == pytest.approx(0.1637, abs=1e-4)
    assert lower_bound(10, 100) == pytest.approx(0.0553, abs=1e-4)
    assert upper_bound(0, 0) == 1.0 and lower_bound(0, 0) == 0.0
    assert lower_bound(5, 5) == pytest.approx(0.05 ** (1 / 5))
    with pytest.raises(ValueError, match="k <= n"):
        upper_bound(3, 2)


def test_more_requests_to_decide():
    assert more_requests_to_decide(0, 0, 300, 0.01) == 0
    needed = more_requests_to_decide(1, 1, 85, 0.05)
    assert needed is not None and needed > 0
    total = 85 + needed
    assert upper_bound(round(total / 85), total) < 0.05 <= upper_bound(1, 85)
    assert more_requests_to_decide(5, 5, 100, 0.05) is None  # exactly on the threshold
    assert more_requests_to_decide(0, 0, 0, 0.05) is None


# -- the catalog row and its overrides ----------------------------------------------------------


def test_the_catalog_row_is_the_default_spec():
    assert catalog_spec() == LoadGateSpec()


def test_an_override_changes_the_load_gates_threshold(tmp_path):
    """7% of packs slow: passes a p90 gate, fails the catalog's p95, by override alone."""
    entries = healthy(per_group=2000)
    entries[3] = entry("packs generate", {60: 1860, 700: 140})
    stats = stats_of(entries)
    assert evaluate(stats, catalog_spec()).outcome is Outcome.FAIL
    overrides = tmp_path / "gates.toml"
    overrides.write_text("[gates.load-p95]\nthreshold = 0.10\n")
    spec = catalog_spec(overrides)
    assert spec.quantile == pytest.approx(0.90)
    assert spec.percentile_label == "p90"
    result = evaluate(stats, spec)
    assert result.outcome is Outcome.PASS, result.message()
    overrides.write_text("[gates.load-p95]\nle = 0.8\nmin_samples = 100000\n")
    raised = evaluate(stats, catalog_spec(overrides))
    assert raised.spec.latency_ms == 800.0
    assert raised.outcome is Outcome.INCONCLUSIVE  # too few requests for min_samples
    overrides.write_text("[gates.load-p95]\nmax_rate_limited_ratio = -1\n")
    with pytest.raises(CatalogError, match="max_rate_limited_ratio"):
        catalog_spec(overrides)


# -- the conclusion a check draws -----------------------------------------------------------------


class Notes:
    def __init__(self):
        self.facts = {}

    def note(self, name, value):
        self.facts[name] = value


def test_a_passing_run_concludes_pass_with_its_numbers():
    result = evaluate(stats_of(healthy()))
    notes = Notes()
    conclude(result.conclusion(SweepReport()), notes)
    assert notes.facts["summary"] == result.headline()
    assert notes.facts["load"] == result.to_evidence()
    assert notes.facts["p95_ms"]["overall"] == 40


def test_a_failing_run_fails_with_its_message():
    entries = [entry(f"{group} op", {650: 5}) for group in GROUPS]
    result = evaluate(stats_of(entries))
    with pytest.raises(AssertionError) as caught:
        conclude(result.conclusion(SweepReport()), Notes())
    assert str(caught.value) == result.message()


def test_the_sweep_fails_or_holds_back_a_passing_run():
    result = evaluate(stats_of(healthy()))
    left = SweepReport(problems=["pg-x-load-1: DELETE answered 500"])
    with pytest.raises(AssertionError, match="left data the sweep could not remove: pg-x"):
        conclude(result.conclusion(left), Notes())
    unverified = SweepReport(unverified=["pg-x-load-2"])
    with pytest.raises(Inconclusive, match="cleanup could not be verified"):
        conclude(result.conclusion(unverified), Notes())


# -- failures against the plan's 0.1%, every failure counted ------------------------------------


def spread(total: int, failures: int) -> list[EntryStats]:
    """`total` fast requests over the four groups, `failures` of them failed."""
    per_group, extra = divmod(failures, len(GROUPS))
    return [
        entry(f"{group} op", {40: total // len(GROUPS)}, failures=per_group + (i < extra))
        for i, group in enumerate(GROUPS)
    ]


def failures_judgement(result):
    return next(j for j in result.judgements if j.check == "failures")


def test_half_a_percent_failures_fail_the_plans_tenth_of_a_percent():
    result = evaluate(stats_of(spread(5000, 25)))
    judged = failures_judgement(result)
    assert result.outcome is Outcome.FAIL and judged.outcome is Outcome.FAIL
    assert judged.threshold == 0.001
    assert judged.bound == pytest.approx(lower_bound(25, 5000))  # gates.stats' own bound
    assert judged.bound > 0.001


def test_no_failure_in_5000_requests_passes():
    judged = failures_judgement(evaluate(stats_of(spread(5000, 0))))
    assert judged.outcome is Outcome.PASS
    assert judged.bound == pytest.approx(upper_bound(0, 5000)) and judged.bound < 0.001


def test_no_failure_in_500_requests_cannot_tell_and_says_how_many_more():
    result = evaluate(stats_of(spread(500, 0)))
    judged = failures_judgement(result)
    assert result.outcome is Outcome.INCONCLUSIVE and judged.outcome is Outcome.INCONCLUSIVE
    assert judged.more_requests == more_requests_to_decide(0, 0, 500, 0.001)
    assert 500 + judged.more_requests >= 2995  # the rule of three at 0.1%
    assert "more requests" in judged.reason


def test_requests_without_an_answer_are_failures_in_locusts_rows(tmp_path):
    """Locust records a timeout, a refused or a reset connection as a failed request of its row
    (status 0, the driver marks it "no answer"): the stats keep it and the gate counts it,
    though no server metric ever sees it."""
    rows = [
        {
            "method": "GET",
            "name": f"{group} op",
            "num_requests": 1500,
            "num_failures": 6 if group == "packs" else 0,  # the packs' timeouts
            "response_times": {"40": 1494, "10000": 6} if group == "packs" else {"40": 1500},
            "start_time": 0.0,
            "last_request_timestamp": 120.0,
        }
        for group in GROUPS
    ]
    path = tmp_path / "stats.json"
    path.write_text(json.dumps(rows))
    result = evaluate(parse_json(path))
    judged = failures_judgement(result)
    assert (judged.samples, result.overall["all_failures"]) == (6000, 6)
    # 6 in 6,000 straddles 0.1%: not a PASS, with the count to decide stated.
    assert judged.outcome is Outcome.INCONCLUSIVE
    assert result.outcome is not Outcome.PASS


def split(per_group: int, canary_ms: int, canary_share: float = 0.1) -> list[EntryStats]:
    """Phase 3 through nginx: every group's rows split by the backend that answered."""
    canary = int(per_group * canary_share)
    rows = []
    for group in GROUPS:
        rows.append(entry(f"{group} op", {40: per_group - canary}, method="GET @stable"))
        rows.append(entry(f"{group} op", {canary_ms: canary}, method="GET @canary"))
    return rows


def test_a_slow_canary_fails_behind_the_balancer_while_overall_passes():
    # 10% of traffic at 700 ms: the overall and every group's p95 stay under 500 ms only when
    # the slow share is under 5%; here it is 10% of each group, so judge the backends apart by
    # a canary share of 4% that hides in every group.
    result = evaluate(stats_of(split(1000, canary_ms=700, canary_share=0.04)))
    judged = outcomes(result)
    assert judged["latency backend canary"] is Outcome.FAIL, result.message()
    assert judged["latency backend stable"] is Outcome.PASS
    assert judged["latency overall"] is Outcome.PASS
    assert result.outcome is Outcome.FAIL
    assert result.backends["canary"]["p95_ms"] == 700
    assert result.to_evidence()["backends"]["stable"]["requests"] == 3840


def test_two_fast_backends_pass_and_unattributed_runs_judge_no_backend():
    result = evaluate(stats_of(split(1000, canary_ms=45)))
    judged = outcomes(result)
    assert judged["latency backend canary"] is Outcome.PASS
    assert judged["latency backend stable"] is Outcome.PASS
    assert result.outcome is Outcome.PASS, result.message()
    plain = evaluate(stats_of(healthy()))
    assert not [label for label in outcomes(plain) if "backend" in label]
    assert plain.backends == {}
