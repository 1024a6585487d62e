"""What phasegate adds to allure-pytest's results: readable checks and the decision on top.

allure-pytest records every test; this module names each one after its check, labels it with
its phases, kind and severity, attaches the evidence the verdict holds, and writes the
environment and executor panels so the Overview page of the report leads with GO / NO_GO.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import allure
from allure_commons.types import AttachmentType, Severity

from phasegate.checks import CheckMeta
from phasegate.evidence import REDACTED, Evidence, Redactor
from phasegate.verdict import Verdict

ENVIRONMENT_FILE = "environment.properties"
EXECUTOR_FILE = "executor.json"


def reset_results(directory: Path) -> None:
    """A run's results replace the last run's: stale entries would mix two runs' checks."""
    if directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)


def label_check(meta: CheckMeta) -> None:
    """Titles come from the check (parameters are shown beside them by Allure itself)."""
    allure.dynamic.title(meta.title)
    rule = f" Severity: {meta.severity} (rule `{meta.rule}`)." if meta.rule else ""
    allure.dynamic.description(f"Check `{meta.id}`.{rule}\n\n{meta.description}")
    # Suites group by kind and check family; Behaviors stays a flat list of every check by its
    # title (feature/story labels would fold it into collapsed groups).
    allure.dynamic.parent_suite(meta.kind.value)
    allure.dynamic.suite(meta.id.split(".", 1)[0])
    allure.dynamic.severity(Severity.BLOCKER if meta.blocking else Severity.MINOR)
    allure.dynamic.label("check_id", meta.id)
    for phase in meta.phases:
        allure.dynamic.label("phase", phase)
        allure.dynamic.tag(phase)
    allure.dynamic.tag("blocking" if meta.blocking else "warning")
    if meta.rule:
        allure.dynamic.label("severity_rule", meta.rule)
        allure.dynamic.tag(f"rule:{meta.rule}")


def _json(value: Any, redactor: Redactor) -> str:
    return redactor.text(json.dumps(redactor.data(value), indent=2, default=repr))


def attach_evidence(evidence: Evidence, redactor: Redactor) -> None:
    """Every recorded exchange (not only the last few the verdict keeps) and the facts."""
    if evidence.facts:
        allure.attach(
            _json(evidence.facts, redactor), name="evidence", attachment_type=AttachmentType.JSON
        )
    contract = evidence.facts.get("contract")
    failures = contract.get("failures") if isinstance(contract, dict) else None
    if failures:
        lines = [
            f"# {f.get('check')} ({f.get('mode')}): {f.get('method')} {f.get('path')} -> "
            f"{f.get('status')}\n{f.get('curl', '')}\n"
            for f in failures
        ]
        allure.attach(
            redactor.text("\n".join(lines)),
            name=f"reproduce ({len(failures)} failing cases)",
            attachment_type=AttachmentType.TEXT,
        )
    if evidence.exchanges:
        allure.attach(
            _json([e.to_dict() for e in evidence.exchanges], redactor),
            name=f"HTTP exchanges ({evidence.total_exchanges})",
            attachment_type=AttachmentType.JSON,
        )


def scrub_results(directory: Path, secrets: tuple[str, ...]) -> int:
    """Remove credentials from every file allure-pytest wrote; returns how many files changed.

    allure-pytest builds a failed test's message and trace from the exception itself, before
    and apart from the report pytest's own writers see, so the one safe place is the files. Run
    after every process has written its results (the controller's session finish).
    """
    patterns = [s.encode() for s in secrets if s]
    patterns += [json.dumps(s)[1:-1].encode() for s in secrets if s]
    if not patterns or not directory.is_dir():
        return 0
    changed = 0
    for path in directory.iterdir():
        if not path.is_file():
            continue
        data = path.read_bytes()
        clean = data
        for pattern in patterns:
            clean = clean.replace(pattern, REDACTED.encode())
        if clean != data:
            path.write_bytes(clean)
            changed += 1
    return changed


def _property_value(text: str) -> str:
    # Java properties: one line per key; backslashes and line breaks must be escaped.
    return text.replace("\\", "\\\\").replace("\n", " ").replace("\r", " ")


def _property_key(text: str) -> str:
    return _property_value(text).replace(" ", "\\ ").replace(":", "\\:").replace("=", "\\=")


def verdict_panel(verdict: Verdict, verdict_path: Path | None) -> dict[str, str]:
    """Ordered as a reader should meet them: the decision, then why."""
    contract = verdict.run.get("contract") or {}
    panel = {
        "Decision": verdict.decision.value,
        "Phase": verdict.phase,
        "Reasons": "; ".join(verdict.reasons) or "none",
        "Warnings": f"{len(verdict.warnings)}: " + "; ".join(verdict.warnings)
        if verdict.warnings
        else "none",
        "Target": str(verdict.target.get("api_url") or "-"),
        "SkillMeat version": str(verdict.target.get("skillmeat_version") or "-"),
        "Contract profile": str(contract.get("description") or "-"),
        "Run id": verdict.run_id,
        "Finished": verdict.finished_at,
    }
    if verdict_path is not None:
        panel["Verdict file"] = str(verdict_path)
    return panel


def _properties(panel: Mapping[str, str]) -> str:
    return "".join(f"{_property_key(k)}={_property_value(v)}\n" for k, v in panel.items())


def write_verdict_panels(directory: Path, verdict: Verdict, verdict_path: Path | None) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ENVIRONMENT_FILE).write_text(
        _properties(verdict_panel(verdict, verdict_path)), encoding="utf-8"
    )
    headline = f"{verdict.phase}: {verdict.decision.value}"
    executor = {
        "name": "phasegate",
        "type": "phasegate",
        "buildName": f"{headline} ({len(verdict.reasons)} reasons)",
        "reportName": f"phasegate {headline}",
    }
    (directory / EXECUTOR_FILE).write_text(json.dumps(executor, indent=2), encoding="utf-8")
