"""summary_lines: the decision first, then one line per check a person must look at."""

from __future__ import annotations

from pathlib import Path

from phasegate.outcomes import CheckResult, Outcome
from phasegate.summary import summary_lines
from support.results import check, verdict


def summary_lines_for(checks: list[CheckResult], reasons: tuple[str, ...] = ()) -> list[str]:
    return summary_lines(verdict(checks, reasons), Path("/r/verdict-phase1.json"))


def test_go_with_nothing_to_report() -> None:
    lines = summary_lines_for([check("a.ok"), check("b.ok")])
    assert lines == [
        "phasegate phase1: GO  (2 pass)",
        "verdict written to /r/verdict-phase1.json (exit status 0)",
    ]


def test_one_line_per_problem_most_serious_first() -> None:
    checks = [
        check("a.ok"),
        check("b.warn", Outcome.WARN, blocking=False, reason="dashboard path 404"),
        check("c.skip", Outcome.SKIPPED, reason="writes denied"),
        check("d.fail", Outcome.FAIL, reason="answered 500"),
        check("e.open", Outcome.INCONCLUSIVE, reason="429"),
        check("f.error", Outcome.ERROR, reason="setup: ConnectError"),
        check("g.quiet-skip", Outcome.SKIPPED, blocking=False, reason="not here"),
    ]
    lines = summary_lines_for(checks)
    assert lines[0] == (
        "phasegate phase1: NO_GO  (1 pass, 1 fail, 1 inconclusive, 2 skipped, 1 warn, 1 error)"
    )
    assert lines[1:-1] == [
        "  FAIL         d.fail: answered 500",
        "  ERROR        f.error: setup: ConnectError",
        "  INCONCLUSIVE e.open: 429",
        "  WARN         b.warn (warning): dashboard path 404",
        "  SKIPPED      c.skip: writes denied",
    ]
    assert lines[-1] == "verdict written to /r/verdict-phase1.json (exit status 1)"


def test_run_level_reasons_get_their_own_line() -> None:
    lines = summary_lines_for(
        [check("a.open", Outcome.INCONCLUSIVE, reason="429")], ("the run was interrupted",)
    )
    assert "  INCONCLUSIVE a.open: 429" in lines
    assert "  RUN          the run was interrupted" in lines
    # a check's own reason is not repeated as a run line
    assert not any(line.startswith("  RUN          a.open") for line in lines)


def test_long_or_multiline_reasons_are_one_short_line() -> None:
    reason = "first line\n   second   line " + "x" * 300
    lines = summary_lines_for([check("a.bad", Outcome.FAIL, reason=reason)])
    [line] = [ln for ln in lines if "a.bad" in ln]
    text = line.split("a.bad: ", 1)[1]
    assert "\n" not in text
    assert text.startswith("first line second line xxx")
    assert len(text) == 150
    assert text.endswith("...")


def test_title_stands_in_for_a_missing_reason() -> None:
    lines = summary_lines_for([check("a.bad", Outcome.FAIL, title="Health is healthy")])
    assert "  FAIL         a.bad: Health is healthy" in lines


def test_no_checks_and_no_path() -> None:
    lines = summary_lines(verdict([]), None)
    assert lines[0] == "phasegate phase1: INCONCLUSIVE  (no checks)"
    assert lines[1] == "  RUN          no blocking check ran, so nothing supports a GO"
    assert not any(line.startswith("verdict written") for line in lines)
