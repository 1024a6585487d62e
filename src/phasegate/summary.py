"""The terminal's view of a verdict: the decision first, then one line per problem."""

from __future__ import annotations

from pathlib import Path

from phasegate.outcomes import CheckResult, Outcome
from phasegate.verdict import Verdict

_SHOWN = (Outcome.FAIL, Outcome.ERROR, Outcome.INCONCLUSIVE, Outcome.WARN, Outcome.SKIPPED)


def phrase(check: CheckResult, width: int = 150) -> str:
    text = " ".join((check.reason or check.title).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def summary_lines(verdict: Verdict, path: Path | None) -> list[str]:
    counts = verdict.counts()
    tally = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    lines = [f"phasegate {verdict.phase}: {verdict.decision.value}  ({tally or 'no checks'})"]
    for outcome in _SHOWN:
        for check in verdict.checks:
            if check.outcome is outcome and (check.blocking or outcome is not Outcome.SKIPPED):
                severity = "" if check.blocking else " (warning)"
                if check.rule and not check.blocking:
                    severity = f" (warning, rule {check.rule})"
                lines.append(f"  {outcome.value.upper():<12} {check.id}{severity}: {phrase(check)}")
    for reason in verdict.reasons:
        if not any(reason.startswith(c.id + ":") for c in verdict.checks):
            lines.append(f"  RUN          {reason}")
    if path is not None:
        lines.append(f"verdict written to {path} (exit status {verdict.exit_code})")
    return lines
