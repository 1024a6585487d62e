"""A drill's timeline as a picture, and its result in the Allure results directory.

A reader of the report should see at a glance when the command ran, when the service came back,
where the budget ends and for how long the traffic failed; the facts hold the numbers, the SVG
shows their shape. Drills run outside pytest (`phasegate drill`), so their Allure result files
are written here directly, in Allure 2's result format, beside a phase run's.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from phasegate.outcomes import CheckResult, Outcome

PREFIX = "drill-"  # our files in a shared results directory; a new drill run replaces them
WIDTH, ROW, LEFT, TOP = 900, 18, 250, 64
STATUS = {
    Outcome.PASS: "passed",
    Outcome.FAIL: "failed",
    Outcome.ERROR: "broken",
    Outcome.WARN: "passed",
    Outcome.INCONCLUSIVE: "skipped",
    Outcome.SKIPPED: "skipped",
}


def timeline_svg(drill: Mapping[str, Any], title: str) -> str:
    """Events as labelled ticks on a seconds axis; failing traffic red; the budget dashed."""
    events: Sequence[Mapping[str, Any]] = drill.get("timeline") or []
    budget = (drill.get("budget") or {}).get("seconds")
    traffic = drill.get("traffic") or {}
    command = next((e["t_s"] for e in events if "command" in str(e.get("event"))), 0.0)
    end = max([float(e["t_s"]) for e in events] + [1.0])
    if budget is not None and command + budget <= end * 1.5:
        end = max(end, command + float(budget))
    scale = (WIDTH - LEFT - 20) / end

    def x(t: float) -> float:
        return LEFT + t * scale

    height = TOP + ROW * (len(events) + 2)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP - 8}" x2="{WIDTH - 20}" y2="{TOP - 8}" stroke="#555"/>',
    ]
    first, last = traffic.get("first_failure_s"), traffic.get("last_failure_s")
    if first is not None and last is not None:
        parts.append(
            f'<rect x="{x(first):.1f}" y="{TOP - 4}" width="{max(2.0, (last - first) * scale):.1f}"'
            f' height="{height - TOP}" fill="#e53935" opacity="0.18"/>'
            f'<text x="{x(first):.1f}" y="{TOP - 12}" fill="#c62828">'
            f"{traffic.get('failed')} failed requests over {last - first:.1f} s</text>"
        )
    if budget is not None and command + float(budget) > end:
        parts.append(
            f'<text x="{WIDTH - 20}" y="{height - 4}" fill="#1e88e5" text-anchor="end">'
            f"budget {budget:.0f} s from the command: beyond the chart</text>"
        )
    elif budget is not None:
        bx = x(command + float(budget))
        parts.append(
            f'<line x1="{bx:.1f}" y1="{TOP - 8}" x2="{bx:.1f}" y2="{height}" stroke="#1e88e5" '
            f'stroke-dasharray="4,3"/><text x="{bx + 3:.1f}" y="{height - 4}" fill="#1e88e5">'
            f"budget {budget:.0f} s</text>"
        )
    for step in range(0, int(end) + 1, max(1, int(end / 10))):
        parts.append(f'<text x="{x(step):.1f}" y="{TOP - 28}" fill="#777">{step}s</text>')
    for row, event in enumerate(events):
        y = TOP + ROW * (row + 1)
        t = float(event["t_s"])
        label = f"+{t:.1f} s  {event.get('event')}"
        parts.append(
            f'<circle cx="{x(t):.1f}" cy="{y - 4}" r="4" fill="#333"/>'
            f'<line x1="{x(t):.1f}" y1="{TOP - 8}" x2="{x(t):.1f}" y2="{y - 4}" stroke="#ccc"/>'
            f'<text x="10" y="{y}">{escape(label[:40])}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def write_allure(results: Iterable[CheckResult], directory: Path) -> list[Path]:
    """One Allure result per drill, its evidence and its timeline picture attached."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{PREFIX}*"):
        old.unlink()
    written: list[Path] = []
    now = int(time.time() * 1000)
    for result in results:
        key = uuid.uuid4().hex
        facts = result.evidence.get("facts", {})
        drill = facts.get("drill") if isinstance(facts, dict) else None
        attachments = []
        evidence_name = f"{PREFIX}{key}-evidence.json"
        (directory / evidence_name).write_text(json.dumps(result.evidence, indent=2), "utf-8")
        attachments.append(
            {"name": "evidence", "source": evidence_name, "type": "application/json"}
        )
        if isinstance(drill, dict):
            svg_name = f"{PREFIX}{key}-timeline.svg"
            (directory / svg_name).write_text(timeline_svg(drill, result.title), "utf-8")
            attachments.append({"name": "timeline", "source": svg_name, "type": "image/svg+xml"})
        document = {
            "uuid": key,
            "historyId": result.id,
            "name": result.title,
            "fullName": result.id,
            "status": STATUS[result.outcome],
            "statusDetails": {"message": result.reason},
            "stage": "finished",
            "description": result.description,
            "start": now - int(result.duration_s * 1000),
            "stop": now,
            "labels": [
                {"name": "severity", "value": "blocker" if result.blocking else "normal"},
                {"name": "tag", "value": result.kind.value},
                {"name": "suite", "value": "drills"},
            ],
            "parameters": [{"name": "check", "value": result.id}],
            "attachments": attachments,
        }
        path = directory / f"{PREFIX}{key}-result.json"
        path.write_text(json.dumps(document, indent=2), "utf-8")
        written.append(path)
    return written
