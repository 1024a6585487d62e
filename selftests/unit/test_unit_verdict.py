"""verdict: the rollout rule, exit codes, and the JSON document with its schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.outcomes import CheckResult, Outcome
from phasegate.verdict import EXIT_CODES, Decision, decide, load_schema, validate, write
from support.results import check, verdict

# -- decide --------------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", [Outcome.FAIL, Outcome.ERROR])
def test_blocking_failure_is_no_go(outcome: Outcome) -> None:
    checks = [
        check("a.ok"),
        check("b.bad", outcome, reason="answered 500"),
        check("c.undecided", Outcome.INCONCLUSIVE, reason="rate limited"),
    ]
    decision, reasons, _ = decide(checks, ["the run was interrupted"])
    assert decision is Decision.NO_GO
    # A NO_GO names the failures only: they are what stopped the phase.
    assert reasons == ["b.bad: answered 500"]


@pytest.mark.parametrize("outcome", [Outcome.INCONCLUSIVE, Outcome.SKIPPED])
def test_blocking_undecided_is_inconclusive(outcome: Outcome) -> None:
    decision, reasons, _ = decide([check("a.ok"), check("b.open", outcome, reason="")])
    assert decision is Decision.INCONCLUSIVE
    assert reasons == [f"b.open: {outcome.value}"]


def test_all_blocking_pass_is_go_with_warnings_listed() -> None:
    checks = [
        check("a.ok"),
        check("b.warn", Outcome.WARN, blocking=False, reason="slow dashboard"),
        check("c.nonblocking-fail", Outcome.FAIL, blocking=False, reason="404"),
        check("d.nonblocking-error", Outcome.ERROR, blocking=False, reason="setup broke"),
        check("e.nonblocking-skip", Outcome.SKIPPED, blocking=False),
        check("f.nonblocking-open", Outcome.INCONCLUSIVE, blocking=False),
    ]
    decision, reasons, warnings = decide(checks)
    assert decision is Decision.GO
    assert reasons == []
    assert warnings == [
        "b.warn: slow dashboard",
        "c.nonblocking-fail: 404",
        "d.nonblocking-error: setup broke",
    ]


def test_warnings_are_kept_with_a_no_go() -> None:
    _, _, warnings = decide(
        [check("a.bad", Outcome.FAIL), check("b.warn", Outcome.WARN, blocking=False)]
    )
    assert warnings == ["b.warn: warn"]


@pytest.mark.parametrize(
    "checks",
    [
        [],
        [check("a.warn", Outcome.WARN, blocking=False)],
        [check("a.pass", Outcome.PASS, blocking=False)],
    ],
)
def test_no_blocking_check_is_inconclusive(checks: list[CheckResult]) -> None:
    decision, reasons, _ = decide(checks)
    assert decision is Decision.INCONCLUSIVE
    assert reasons == ["no blocking check ran, so nothing supports a GO"]


def test_run_level_reasons_make_an_all_pass_run_inconclusive() -> None:
    decision, reasons, _ = decide([check("a.ok")], ["the run was interrupted"])
    assert decision is Decision.INCONCLUSIVE
    assert reasons == ["the run was interrupted"]


def test_exit_codes() -> None:
    assert EXIT_CODES == {Decision.GO: 0, Decision.NO_GO: 1, Decision.INCONCLUSIVE: 6}
    assert verdict([check("a.ok")]).exit_code == 0
    assert verdict([check("a.bad", Outcome.FAIL)]).exit_code == 1
    assert verdict([check("a.open", Outcome.INCONCLUSIVE)]).exit_code == 6


outcomes = st.sampled_from(list(Outcome))
results = st.builds(
    lambda i, outcome, blocking: check(f"c.n{i}", outcome, blocking=blocking),
    st.integers(0, 10_000),
    outcomes,
    st.booleans(),
)


@settings(database=None)  # leave no .hypothesis folder in the checkout
@given(st.lists(results, max_size=12), st.lists(st.text(min_size=1), max_size=2))
def test_decide_never_lets_a_blocking_failure_through(
    checks: list[CheckResult], extra: list[str]
) -> None:
    decision, reasons, _ = decide(checks, extra)
    blocking = [c for c in checks if c.blocking]
    if any(c.outcome in (Outcome.FAIL, Outcome.ERROR) for c in blocking):
        assert decision is Decision.NO_GO
    if decision is Decision.GO:
        assert blocking, "GO without a single blocking check"
        assert not extra
        assert all(c.outcome in (Outcome.PASS, Outcome.WARN) for c in blocking)
        assert reasons == []
    else:
        assert reasons, "a decision other than GO must say why"


@settings(database=None)  # leave no .hypothesis folder in the checkout
@given(st.lists(results, max_size=8), outcomes)
def test_a_non_blocking_check_never_changes_a_decided_run(
    checks: list[CheckResult], outcome: Outcome
) -> None:
    before, _, _ = decide(checks)
    after, _, _ = decide([*checks, check("z.extra", outcome, blocking=False)])
    assert after is before


# -- the document --------------------------------------------------------------------------------


def test_write_produces_a_schema_valid_document(tmp_path: Path) -> None:
    checks = [
        check("a.ok", evidence={"facts": {"status": "healthy"}, "exchanges": []}),
        check("b.warn", Outcome.WARN, blocking=False, reason="slow"),
        check("c.open", Outcome.INCONCLUSIVE, reason="429"),
    ]
    path = write(verdict(checks), tmp_path / "nested" / "reports")
    assert path == tmp_path / "nested" / "reports" / "verdict-phase1.json"
    assert not path.with_suffix(".json.tmp").exists()
    document = json.loads(path.read_text("utf-8"))
    jsonschema.validate(document, load_schema())
    assert document["decision"] == "INCONCLUSIVE"
    assert document["exit_code"] == 6
    assert document["reasons"] == ["c.open: 429"]
    assert document["warnings"] == ["b.warn: slow"]
    assert document["counts"]["pass"] == 1
    assert document["counts"]["warn"] == 1
    assert document["counts"]["inconclusive"] == 1
    assert document["counts"]["fail"] == 0
    assert [c["id"] for c in document["checks"]] == ["a.ok", "b.warn", "c.open"]
    assert document["checks"][0]["evidence"] == {"facts": {"status": "healthy"}, "exchanges": []}


def test_schema_file_is_the_published_one() -> None:
    packaged = load_schema()
    in_repo = json.loads(
        (Path(__file__).parents[2] / "src/phasegate/verdict.schema.json").read_text("utf-8")
    )
    assert packaged == in_repo
    jsonschema.Draft202012Validator.check_schema(packaged)


def _good() -> dict[str, object]:
    return verdict([check("a.ok")]).to_dict()


def _without(key: str) -> dict[str, object]:
    document = _good()
    del document[key]
    return document


def _with(**changes: object) -> dict[str, object]:
    return {**_good(), **changes}


def _with_check(**changes: object) -> dict[str, object]:
    document = _good()
    checks = document["checks"]
    assert isinstance(checks, list)
    checks[0] = {**checks[0], **changes}
    return document


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(_with(decision="MAYBE"), id="unknown-decision"),
        pytest.param(_with(exit_code=2), id="exit-code-outside-0-1-6"),
        pytest.param(_with(phase="phase9"), id="unknown-phase"),
        pytest.param(_with(schema_version=2), id="other-schema-version"),
        pytest.param(_with(run_id=""), id="empty-run-id"),
        pytest.param(_with(surprise=True), id="extra-property"),
        pytest.param(_with(target={"api_url": "http://x"}), id="target-without-version"),
        pytest.param(_with(counts={"pass": -1}), id="negative-count"),
        pytest.param(_without("checks"), id="no-checks"),
        pytest.param(_without("finished_at"), id="no-finished-at"),
        pytest.param(_with_check(id="Bad Id"), id="bad-check-id"),
        pytest.param(_with_check(outcome="passed"), id="unknown-outcome"),
        pytest.param(_with_check(kind="unit"), id="unknown-kind"),
        pytest.param(_with_check(title=""), id="empty-title"),
        pytest.param(_with_check(blocking="yes"), id="blocking-not-boolean"),
    ],
)
def test_schema_rejects_a_bad_document(document: dict[str, object]) -> None:
    validate(_good())  # the unmodified document is fine
    with pytest.raises(jsonschema.ValidationError):
        validate(document)
