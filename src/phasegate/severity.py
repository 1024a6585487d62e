"""Whether a check's failure blocks a phase or only warns: one rule per kind of finding, as data.

The catalog (`severity.toml` beside this module) holds the rules, each with its severity per
phase, and one row per check naming its rule. A check's severity is therefore decided by the
kind of finding it judges, in one reviewed place, never by each check's own marker; a row may
depart from its rule in a phase only where the rollout plan says so, and must cite the plan.
"""

from __future__ import annotations

import enum
import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasegate.phases import PHASE_MARKS

CATALOG_PATH = Path(__file__).with_name("severity.toml")


class Severity(enum.StrEnum):
    BLOCK = "block"
    WARN = "warn"


class SeverityCatalogError(ValueError):
    """The catalog itself is wrong (unknown rule, phase or severity, an override without plan)."""


@dataclass(frozen=True)
class Rule:
    name: str
    summary: str
    severities: Mapping[str, Severity]

    def severity_in(self, phase: str) -> Severity:
        return self.severities[phase]


@dataclass(frozen=True)
class CheckRow:
    """One check (or a parametrized check's declared id) and the rule it judges by."""

    id: str
    rule: str
    overrides: Mapping[str, Severity] = field(default_factory=dict)
    plan: str = ""


@dataclass(frozen=True)
class Resolved:
    """A check's severity in one run: the rule it follows (None: no row) and block or warn."""

    rule: str | None
    severity: Severity
    overridden: bool = False

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.BLOCK


@dataclass(frozen=True)
class SeverityCatalog:
    rules: Mapping[str, Rule]
    rows: tuple[CheckRow, ...]
    source: str = "severity.toml"

    def row_for(self, check_id: str, declared_id: str | None = None) -> CheckRow | None:
        """The row of this check id, else of the id its marker declares (a parametrized check:
        `items.cursor-walk` for `items.cursor-walk.confidence-desc`). Never a looser prefix: a
        new check under an existing family must get a row of its own."""
        rows = {row.id: row for row in self.rows}
        found = rows.get(check_id)
        if found is None and declared_id is not None:
            found = rows.get(declared_id)
        return found

    def severity_of(self, row: CheckRow, phase: str) -> Severity:
        if phase in row.overrides:
            return row.overrides[phase]
        return self.rules[row.rule].severity_in(phase)

    def resolve(
        self,
        check_id: str,
        phase: str | None,
        *,
        phases: Iterable[str] = (),
        default_blocking: bool = True,
        declared_id: str | None = None,
    ) -> Resolved:
        """The check's severity for the run's phase.

        Without a phase (a collection without one) a check blocks when it blocks in any of its
        phases. A check with no row keeps what its marker declares (`default_blocking`) with no
        rule: the coverage self-test fails the build for it, so that can only last until review.
        """
        row = self.row_for(check_id, declared_id)
        if row is None:
            return Resolved(None, Severity.BLOCK if default_blocking else Severity.WARN)
        if phase is not None:
            return Resolved(row.rule, self.severity_of(row, phase), phase in row.overrides)
        wanted = tuple(phases) or PHASE_MARKS
        blocks = any(self.severity_of(row, p) is Severity.BLOCK for p in wanted)
        return Resolved(row.rule, Severity.BLOCK if blocks else Severity.WARN)

    def unused_rows(self, check_ids: Iterable[str]) -> list[str]:
        """Rows naming none of these ids (check ids and the ids markers declare)."""
        ids = set(check_ids)
        return [row.id for row in self.rows if row.id not in ids]


def _severity(value: Any, where: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        raise SeverityCatalogError(
            f"{where}: severity {value!r} is not one of {', '.join(s.value for s in Severity)}"
        ) from None


def _phase_map(value: Any, where: str, *, complete: bool) -> dict[str, Severity]:
    if not isinstance(value, Mapping):
        raise SeverityCatalogError(f"{where}: expected a table of phase = severity")
    unknown = sorted(set(value) - set(PHASE_MARKS))
    if unknown:
        raise SeverityCatalogError(f"{where}: unknown phase(s) {unknown}")
    missing = [p for p in PHASE_MARKS if p not in value]
    if complete and missing:
        raise SeverityCatalogError(f"{where}: no severity for {', '.join(missing)}")
    return {phase: _severity(v, f"{where}.{phase}") for phase, v in value.items()}


def parse(data: Mapping[str, Any], source: str = "severity.toml") -> SeverityCatalog:
    if data.get("version") != 1:
        raise SeverityCatalogError(f"{source}: version must be 1")
    unknown_top = sorted(set(data) - {"version", "rules", "checks"})
    if unknown_top:
        raise SeverityCatalogError(f"{source}: unknown key(s) {unknown_top}")
    rules: dict[str, Rule] = {}
    for name, body in dict(data.get("rules", {})).items():
        where = f"{source}: rule {name!r}"
        if not isinstance(body, Mapping) or set(body) - {"summary", "severity"}:
            raise SeverityCatalogError(f"{where}: keys are summary and severity")
        if not str(body.get("summary", "")).strip():
            raise SeverityCatalogError(f"{where}: needs a summary")
        severities = _phase_map(body.get("severity"), f"{where}.severity", complete=True)
        rules[name] = Rule(name, str(body["summary"]), severities)
    rows: list[CheckRow] = []
    for check_id, body in dict(data.get("checks", {})).items():
        where = f"{source}: check {check_id!r}"
        if not isinstance(body, Mapping) or set(body) - {"rule", "override", "plan"}:
            raise SeverityCatalogError(f"{where}: keys are rule, override and plan")
        rule = body.get("rule")
        if rule not in rules:
            raise SeverityCatalogError(
                f"{where}: rule {rule!r} is not one of {', '.join(sorted(rules))}"
            )
        overrides = _phase_map(body.get("override", {}), f"{where}.override", complete=False)
        plan = str(body.get("plan", "")).strip()
        if overrides and not plan:
            raise SeverityCatalogError(
                f"{where}: a per-phase override needs the plan's words that ask for it (plan)"
            )
        rows.append(CheckRow(check_id, str(rule), overrides, plan))
    return SeverityCatalog(rules, tuple(rows), source)


@functools.cache
def _load(path: Path) -> SeverityCatalog:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    return parse(data, path.name)


def load_catalog(path: Path | None = None) -> SeverityCatalog:
    """The catalog (cached per path: it is read at collection of every check)."""
    return _load(path or CATALOG_PATH)
