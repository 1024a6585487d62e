"""`phasegate log`: saved verdicts fill the plan's Rollout Log in a copy; nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phasegate.cli import main
from phasegate.outcomes import Outcome
from phasegate.rollout_log import NOTES_LIMIT, RolloutLogError, escape_cell, fill_rollout_log
from phasegate.verdict import validate
from support.results import check, verdict

# The tail of the real plan (spec/rollout-plan.md, not available to CI), with a table before the
# log that has a "Phase" column too and a fenced block, so the log's table is found by header.
PLAN = """\
# Memory & Context Rollout Plan

| Metric | Threshold | Measurement |
|--------|-----------|-------------|
| Error rate | < 0.1% | Prometheus: `rate(x[5m])` |

```text
| Phase | Planned Date | Actual Date | Status | Notes |
|-------|-------------|-------------|--------|-------|
| Phase 1: not this one | - | - | Pending | |
```

## Monitoring Checklist

| What to Monitor | Where | Alert Threshold |
|-----------------|-------|-----------------|
| API error rate | Grafana: API Overview | > 0.1% for 5m |

---

## Rollout Log

Track actual rollout progress here:

| Phase | Planned Date | Actual Date | Status | Notes |
|-------|-------------|-------------|--------|-------|
| Phase 1: Infrastructure | - | - | Pending | |
| Phase 2: Internal Users | - | - | Pending | |
| Phase 3: 10% Traffic | - | - | Pending | |
| Phase 4: 100% Rollout | - | - | Pending | |
"""

ROW_LINES = {1: 26, 2: 27, 3: 28, 4: 29}  # 0-based line indexes of the log's rows in PLAN


def make_verdict(phase: str = "phase1", outcome: Outcome = Outcome.PASS, **fields: Any) -> Any:
    """A schema-valid verdict document; `fields` override top-level keys (reasons, dates...)."""
    checks = [
        check("service.health"),
        check("flag.state", outcome, reason="flag read OFF"),
        check("service.metrics-plan-path", Outcome.WARN, blocking=False, reason="404"),
    ]
    document = verdict(checks, phase=phase).to_dict()
    document.update(fields)
    validate(document)
    return document


def save(directory: Path, name: str, document: Any) -> Path:
    path = directory / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    path = tmp_path / "rollout-plan.md"
    path.write_text(PLAN, encoding="utf-8", newline="")
    return path


def run_log(
    tmp_path: Path, plan: Path, *verdicts: Path, output: Path | None = None
) -> tuple[int, str | None]:
    out = output or tmp_path / "out" / "rollout-plan.md"
    code = main(["log", *map(str, verdicts), "--plan", str(plan), "--output", str(out)])
    return code, out.read_text("utf-8") if out.exists() else None


def assert_only_rows_changed(filled: str, changed: set[int]) -> list[str]:
    """Every line but the given phases' rows is the plan's own; returns the filled lines."""
    before, after = PLAN.split("\n"), filled.split("\n")
    assert len(after) == len(before)
    rows = {ROW_LINES[p] for p in changed}
    assert [b for i, b in enumerate(before) if i not in rows] == [
        a for i, a in enumerate(after) if i not in rows
    ]
    return after


def test_fills_the_rows_of_the_phases_with_verdicts(
    tmp_path: Path, plan: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    no_go = save(tmp_path, "verdict-phase1.json", make_verdict("phase1", Outcome.FAIL))
    go = save(
        tmp_path,
        "verdict-phase3.json",
        make_verdict(
            "phase3",
            run_id="pg-3",
            started_at="2026-02-01T23:50:00+00:00",
            finished_at="2026-02-02T00:20:00+00:00",
        ),
    )
    code, filled = run_log(tmp_path, plan, no_go, go)
    assert code == 0
    assert filled is not None
    lines = assert_only_rows_changed(filled, {1, 3})
    assert lines[ROW_LINES[1]] == (
        "| Phase 1: Infrastructure | - | 2026-01-02 | NO_GO (blocked) | "
        "flag.state: flag read OFF; 1 warning; "
        "run pg-20260102030405-abcdef (verdict-phase1.json) |"
    )
    assert lines[ROW_LINES[3]] == (
        "| Phase 3: 10% Traffic | - | 2026-02-01..2026-02-02 | GO | "
        "all blocking checks passed; 1 warning; run pg-3 (verdict-phase3.json) |"
    )
    assert plan.read_text("utf-8") == PLAN
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"phasegate log: wrote {tmp_path / 'out' / 'rollout-plan.md'}"


def test_inconclusive_and_no_warnings(tmp_path: Path, plan: Path) -> None:
    held = make_verdict(
        "phase2",
        Outcome.INCONCLUSIVE,
        decision="INCONCLUSIVE",
        exit_code=6,
        reasons=["flag.state: rate limited", "the run was interrupted"],
        warnings=[],
    )
    code, filled = run_log(tmp_path, plan, save(tmp_path, "v2.json", held))
    assert code == 0
    assert filled is not None
    assert assert_only_rows_changed(filled, {2})[ROW_LINES[2]] == (
        "| Phase 2: Internal Users | - | 2026-01-02 | INCONCLUSIVE (on hold) | "
        "flag.state: rate limited; the run was interrupted; no warnings; "
        "run pg-20260102030405-abcdef (v2.json) |"
    )


def test_pipes_are_escaped_and_newlines_removed(tmp_path: Path, plan: Path) -> None:
    document = make_verdict(
        "phase4", Outcome.FAIL, reasons=["a | b\nsecond line", "ends in a backslash \\"]
    )
    code, filled = run_log(tmp_path, plan, save(tmp_path, "v.json", document))
    assert code == 0
    assert filled is not None
    row = assert_only_rows_changed(filled, {4})[ROW_LINES[4]]
    assert "a \\| b second line; ends in a backslash \\\\; 1 warning" in row
    # Still five cells: no escaped pipe (nor the backslash) splits the row.
    assert fill_rollout_log(filled, []) == filled
    assert row.count("|") - row.count("\\|") == 6


def test_long_notes_are_trimmed_but_keep_the_run(tmp_path: Path, plan: Path) -> None:
    document = make_verdict(
        "phase1", Outcome.FAIL, reasons=[f"check.{i}: " + "x" * 80 for i in range(20)]
    )
    code, filled = run_log(tmp_path, plan, save(tmp_path, "verdict-phase1.json", document))
    assert code == 0
    assert filled is not None
    notes = assert_only_rows_changed(filled, {1})[ROW_LINES[1]].split(" | ")[4].removesuffix(" |")
    assert len(notes) <= NOTES_LIMIT
    assert notes.endswith("...; 1 warning; run pg-20260102030405-abcdef (verdict-phase1.json)")
    assert notes.startswith("check.0: xxx")


def test_the_latest_finished_verdict_of_a_phase_wins(tmp_path: Path, plan: Path) -> None:
    late = save(
        tmp_path,
        "late.json",
        make_verdict(
            "phase1",
            run_id="pg-late",
            started_at="2026-03-05T10:00:00+00:00",
            finished_at="2026-03-05T10:30:00+00:00",
        ),
    )
    early = save(
        tmp_path,
        "early.json",
        make_verdict(
            "phase1",
            Outcome.FAIL,
            run_id="pg-early",
            started_at="2026-03-01T10:00:00+00:00",
            finished_at="2026-03-01T10:30:00+00:00",
        ),
    )
    for order in ((late, early), (early, late)):
        code, filled = run_log(tmp_path, plan, *order)
        assert code == 0
        assert filled is not None
        assert assert_only_rows_changed(filled, {1})[ROW_LINES[1]] == (
            "| Phase 1: Infrastructure | - | 2026-03-05 | GO | "
            "all blocking checks passed; 1 warning; run pg-late (late.json) |"
        )


def test_columns_come_from_the_header_and_titles_may_vary() -> None:
    plan = (
        "intro\r\n\r\n"
        "|Notes|Status|Phase|Actual Date|Planned Date|\r\n"
        "|:--|:-:|---|---|--:|\r\n"
        "|old|Pending|phase 2 (internal)|-|2026-01-10|\r\n"
        "|keep \\| me|Pending|Phase 1 - infra|-|2026-01-01|\r\n"
        "\r\ntrailer"
    )
    filled = fill_rollout_log(plan, [("v.json", make_verdict("phase2"))])
    assert filled.split("\r\n") == [
        "intro",
        "",
        "|Notes|Status|Phase|Actual Date|Planned Date|",
        "|:--|:-:|---|---|--:|",
        "| all blocking checks passed; 1 warning; run pg-20260102030405-abcdef (v.json) | GO "
        "| phase 2 (internal) | 2026-01-02 | 2026-01-10 |",
        "|keep \\| me|Pending|Phase 1 - infra|-|2026-01-01|",
        "",
        "trailer",
    ]


def test_default_output_is_reports_rollout_plan_md(
    tmp_path: Path,
    plan: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    path = save(tmp_path, "verdict-phase1.json", make_verdict())
    assert main(["log", str(path), "--plan", str(plan)]) == 0
    written = tmp_path / "reports" / "rollout-plan.md"
    assert assert_only_rows_changed(written.read_text("utf-8"), {1})
    assert plan.read_text("utf-8") == PLAN
    assert capsys.readouterr().out.startswith("phasegate log: wrote reports/rollout-plan.md\n")


def test_the_plan_is_overwritten_only_when_output_names_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = tmp_path / "reports" / "rollout-plan.md"
    plan.parent.mkdir()
    plan.write_text(PLAN, encoding="utf-8")
    path = save(tmp_path, "verdict-phase1.json", make_verdict())
    assert main(["log", str(path), "--plan", str(plan)]) == 4
    assert "pass --output explicitly" in capsys.readouterr().err
    assert plan.read_text("utf-8") == PLAN
    assert main(["log", str(path), "--plan", str(plan), "--output", str(plan)]) == 0
    assert assert_only_rows_changed(plan.read_text("utf-8"), {1})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read", id="missing-file"),
        pytest.param("{not json", "cannot read", id="not-json"),
        pytest.param("[1]", "is not a phasegate verdict", id="not-an-object"),
        pytest.param('{"phase": "phase1"}', "is not a phasegate verdict", id="not-a-verdict"),
    ],
)
def test_a_bad_verdict_exits_4_naming_the_file(
    tmp_path: Path,
    plan: Path,
    content: str | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = save(tmp_path, "verdict-phase2.json", make_verdict("phase2"))
    bad = tmp_path / "verdict-phase1.json"
    if content is not None:
        bad.write_text(content, encoding="utf-8")
    code, filled = run_log(tmp_path, plan, good, bad)
    assert (code, filled) == (4, None)
    err = capsys.readouterr().err
    assert err.startswith("phasegate log: ")
    assert message in err
    assert str(bad) in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert plan.read_text("utf-8") == PLAN


def test_a_missing_plan_exits_4_naming_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = save(tmp_path, "verdict-phase1.json", make_verdict())
    code, filled = run_log(tmp_path, tmp_path / "nowhere.md", good)
    assert (code, filled) == (4, None)
    err = capsys.readouterr().err
    assert err.startswith(f"phasegate log: cannot read --plan {tmp_path / 'nowhere.md'}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("# plan\n\nno table here\n", "no Rollout Log table", id="no-table"),
        pytest.param(
            "| Phase | Planned Date | Actual Date | Status |\n|---|---|---|---|\n"
            "| Phase 1 | - | - | Pending |\n",
            "no Rollout Log table",
            id="no-notes-column",
        ),
        pytest.param(
            PLAN.replace("| Phase 3: 10% Traffic | - | - | Pending | |\n", ""),
            "no row for Phase 3 in the Rollout Log table (verdict-phase3.json)",
            id="missing-row",
        ),
        pytest.param(
            PLAN + "| Phase 3 again | - | - | Pending | |\n",
            "2 rows for Phase 3",
            id="duplicate-row",
        ),
    ],
)
def test_a_plan_without_the_table_or_row_exits_4(
    tmp_path: Path, text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(text, encoding="utf-8")
    verdict_file = save(tmp_path, "verdict-phase3.json", make_verdict("phase3"))
    code, filled = run_log(tmp_path, plan, verdict_file)
    assert (code, filled) == (4, None)
    err = capsys.readouterr().err
    assert err.startswith(f"phasegate log: --plan {plan}: ")
    assert message in err
    assert "Traceback" not in err
    assert plan.read_text("utf-8") == text


def test_an_unparseable_timestamp_is_an_error_naming_the_file() -> None:
    document = make_verdict(started_at="yesterday")
    with pytest.raises(RolloutLogError, match=r"^v\.json: started_at 'yesterday'"):
        fill_rollout_log(PLAN, [("v.json", document)])


def test_escape_cell() -> None:
    assert escape_cell("a|b\r\n  c\\") == "a\\|b c\\\\"


def test_a_table_in_a_fenced_block_is_not_the_log() -> None:
    example = "\n~~~markdown\n| Phase | Actual Date | Status | Notes |\n|---|---|---|---|\n"
    example += "| Phase 1 | - | - | |\n~~~\n"
    filled = fill_rollout_log(PLAN + example, [("v.json", make_verdict())])
    assert filled.endswith(example)
    assert assert_only_rows_changed(filled.removesuffix(example), {1})
