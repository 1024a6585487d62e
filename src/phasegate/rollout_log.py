"""Fill the rollout plan's "Rollout Log" table from saved verdicts, as pure text in, text out.

The plan is a document people own and review; a tool that records progress in it must change
the few cells it owns and nothing else. So the plan is handled as lines: only the rows of phases
with a verdict are rewritten, and every other byte (line endings included) is passed through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from phasegate.phases import Phase

NOTES_LIMIT = 600
_ELLIPSIS = "..."

# The header names the tool writes under (Planned Date is kept, so it need not be there).
_PHASE, _ACTUAL, _STATUS, _NOTES = "phase", "actual date", "status", "notes"
_REQUIRED = (_PHASE, _ACTUAL, _STATUS, _NOTES)

_DELIMITER_CELL = re.compile(r"^:?-+:?$")
_ROW_PHASE = re.compile(r"^phase\s+(\d+)\b", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

# Readable, with the decision word verbatim first so a grep for "NO_GO" still finds it.
_STATUS_TEXT = {
    "GO": "GO",
    "NO_GO": "NO_GO (blocked)",
    "INCONCLUSIVE": "INCONCLUSIVE (on hold)",
}


class RolloutLogError(ValueError):
    """The plan or a verdict cannot be logged; the message says which and why, in one line."""


@dataclass(frozen=True)
class Entry:
    """What one verdict puts into its phase's row."""

    phase: int
    actual_date: str
    status: str
    notes: str
    source: str


def _timestamp(value: Any, field: str, source: str) -> datetime:
    """Parse a verdict timestamp; naive ones count as UTC so any two can be compared."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise RolloutLogError(f"{source}: {field} {value!r} is not an ISO date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _one_line(text: str) -> str:
    """Collapse newlines and runs of whitespace: a table cell has to stay on its row."""
    return " ".join(str(text).split())


def escape_cell(text: str) -> str:
    """Make text safe inside a table cell.

    `|` becomes `\\|` so it cannot end the cell; a backslash is doubled as well, because
    otherwise a reason ending in `\\` would turn the escape into `\\\\|` and split the row.
    """
    return _one_line(text).replace("\\", "\\\\").replace("|", "\\|")


def _trim(head: str, tail: str, limit: int) -> str:
    """Join head and tail with "; ", cutting head (never tail, which names the run) to fit."""
    joined = f"{head}; {tail}" if head else tail
    if len(joined) <= limit:
        return joined
    room = max(limit - len(tail) - len("; ") - len(_ELLIPSIS), 0)
    cut = head[:room].rstrip()
    # Escaped text holds backslashes only in pairs; a cut through a pair leaves a dangling one
    # that would escape the next character, so drop it.
    trailing = len(cut) - len(cut.rstrip("\\"))
    if trailing % 2:
        cut = cut[:-1]
    return f"{cut}{_ELLIPSIS}; {tail}"


def entry_for(verdict: Mapping[str, Any], source: str, limit: int = NOTES_LIMIT) -> Entry:
    """The cells one (already schema-valid) verdict contributes to the Rollout Log.

    `source` is how the verdict is named in Notes (its file name), next to the run id, so a
    reader of the plan can find the evidence behind a row.
    """
    try:
        phase = Phase(verdict["phase"]).number
    except (KeyError, ValueError):
        raise RolloutLogError(f"{source}: unknown phase {verdict.get('phase')!r}") from None
    started = _timestamp(verdict.get("started_at"), "started_at", source)
    finished = _timestamp(verdict.get("finished_at"), "finished_at", source)
    # The dates as the run wrote them (its own offset), not converted: that is the day people saw.
    actual = started.date().isoformat()
    if finished.date() != started.date():
        actual += f"..{finished.date().isoformat()}"
    decision = str(verdict.get("decision", ""))
    status = _STATUS_TEXT.get(decision, decision)
    reasons = [escape_cell(r) for r in verdict.get("reasons", []) if _one_line(r)]
    if not reasons and decision == "GO":
        reasons = ["all blocking checks passed"]
    count = len(verdict.get("warnings", []))
    warnings = "no warnings" if count == 0 else f"{count} warning{'s' if count != 1 else ''}"
    run = f"run {escape_cell(str(verdict.get('run_id', '?')))} ({escape_cell(source)})"
    notes = _trim("; ".join(reasons), f"{warnings}; {run}", limit)
    return Entry(phase, actual, escape_cell(status), notes, source)


def select_latest(verdicts: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[int, Entry]:
    """One entry per phase: the verdict that finished last wins (a later argument breaks ties).

    Re-running a phase is normal; the log should show where the phase stands now, not the
    first attempt, whatever order the files were given in.
    """
    chosen: dict[int, tuple[datetime, Entry]] = {}
    for source, verdict in verdicts:
        entry = entry_for(verdict, source)
        finished = _timestamp(verdict.get("finished_at"), "finished_at", source)
        if entry.phase not in chosen or finished >= chosen[entry.phase][0]:
            chosen[entry.phase] = (finished, entry)
    return {phase: entry for phase, (_, entry) in sorted(chosen.items())}


def _split_row(line: str) -> list[str] | None:
    """The cells of a pipe table row (stripped), or None when the line is not one.

    A backslash escapes the next character, as in GitHub's table parser, so `\\|` stays inside
    its cell.
    """
    body = line.strip()
    if not body.startswith("|"):
        return None
    cells: list[str] = []
    current: list[str] = []
    index = 1
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            current.append(body[index : index + 2])
            index += 2
            continue
        if char == "|":
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    rest = "".join(current).strip()
    if rest:  # a row without the closing pipe
        cells.append(rest)
    return cells


def _header_name(cell: str) -> str:
    return " ".join(cell.split()).lower()


@dataclass(frozen=True)
class _Table:
    columns: dict[str, int]
    width: int
    rows: range  # line indexes of the body rows


def _find_table(lines: Sequence[str]) -> _Table:
    """The last table whose header names Phase, Actual Date, Status and Notes.

    Found by its header, not by position or heading text, so the plan can be reworded around
    it; the last one because the Rollout Log is the plan's closing section. Lines inside fenced
    code blocks are not tables.
    """
    found: _Table | None = None
    fence: str | None = None
    for index, line in enumerate(lines):
        marker = _FENCE.match(line)
        if marker:
            char = marker.group(1)[0]
            if fence is None:
                fence = char
                continue
            if char == fence:
                fence = None
                continue
        if fence is not None or index + 1 >= len(lines):
            continue
        header = _split_row(line)
        delimiter = _split_row(lines[index + 1])
        if not header or not delimiter or len(delimiter) != len(header):
            continue
        if not all(_DELIMITER_CELL.match(cell) for cell in delimiter):
            continue
        names = [_header_name(cell) for cell in header]
        if not all(name in names for name in _REQUIRED):
            continue
        end = index + 2
        while end < len(lines) and _split_row(lines[end]) is not None:
            end += 1
        columns = {name: names.index(name) for name in _REQUIRED}
        found = _Table(columns, len(header), range(index + 2, end))
    if found is None:
        raise RolloutLogError(
            "no Rollout Log table (a header row with Phase | Actual Date | Status | Notes)"
        )
    return found


def _line_ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def fill_rollout_log(plan: str, verdicts: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """The plan with its Rollout Log rows filled from `verdicts` ((source name, document) pairs).

    Only the Actual Date, Status and Notes cells of phases with a verdict change; those rows are
    rewritten as `| a | b | ... |` and every other line is returned exactly as given. A phase
    without a row, or with two, is an error rather than a silent skip: the log would otherwise
    claim less (or something else) than the verdicts say.
    """
    entries = select_latest(verdicts)
    # Split at "\n" only (str.splitlines also splits at form feeds and U+2028), keeping the ends.
    lines = re.findall(r"[^\n]*\n|[^\n]+$", plan)
    table = _find_table(lines)
    rows: dict[int, list[int]] = {}
    for index in table.rows:
        cells = _split_row(lines[index]) or []
        title = cells[table.columns[_PHASE]] if len(cells) > table.columns[_PHASE] else ""
        match = _ROW_PHASE.match(title)
        if match:
            rows.setdefault(int(match.group(1)), []).append(index)
    for phase, entry in entries.items():
        found = rows.get(phase, [])
        if len(found) != 1:
            problem = "no row" if not found else f"{len(found)} rows"
            raise RolloutLogError(
                f"{problem} for Phase {phase} in the Rollout Log table ({entry.source})"
            )
        index = found[0]
        line = lines[index]
        cells = _split_row(line) or []
        cells += [""] * (table.width - len(cells))
        cells[table.columns[_ACTUAL]] = entry.actual_date
        cells[table.columns[_STATUS]] = entry.status
        cells[table.columns[_NOTES]] = entry.notes
        indent = line[: len(line) - len(line.lstrip())]
        lines[index] = f"{indent}| {' | '.join(cells)} |{_line_ending(line)}"
    return "".join(lines)
