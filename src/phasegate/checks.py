"""What a phase-marked test declares about itself, read from its markers and docstring.

A check's id comes from `@pytest.mark.check("family.name")`, never from the test's function name,
so the verdict history of a check survives a rename or a move to another file. Its severity comes
from the severity catalog (phasegate.severity) for the run's phase, never from the marker alone:
a marker's `blocking=` only stands in for a check the catalog has no row for yet.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from phasegate.outcomes import Kind
from phasegate.phases import PHASE_MARKS
from phasegate.severity import SeverityCatalog, load_catalog

CHECK_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class CheckMeta:
    id: str
    title: str
    description: str
    kind: Kind
    blocking: bool
    phases: tuple[str, ...]
    writes: bool
    rule: str | None = None
    severity: str = "block"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "kind": self.kind.value,
            "blocking": self.blocking,
            "phases": list(self.phases),
            "writes": self.writes,
            "rule": self.rule,
            "severity": self.severity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckMeta:
        return cls(
            id=data["id"],
            title=data["title"],
            description=data["description"],
            kind=Kind(data["kind"]),
            blocking=bool(data["blocking"]),
            phases=tuple(data["phases"]),
            writes=bool(data.get("writes", False)),
            rule=data.get("rule"),
            severity=str(data.get("severity", "block" if data["blocking"] else "warn")),
        )


class CheckDeclarationError(ValueError):
    pass


def split_docstring(function: Callable[..., Any] | None) -> tuple[str, str]:
    doc = inspect.getdoc(function) if function is not None else None
    if not doc:
        return "", ""
    first, _, rest = doc.partition("\n")
    return first.strip().rstrip("."), rest.strip()


def build_meta(
    *,
    nodeid: str,
    check_args: tuple[Any, ...],
    check_kwargs: dict[str, Any],
    marker_names: Iterable[str],
    function: Callable[..., Any] | None,
    param_id: str | None,
    phase: str | None = None,
    catalog: SeverityCatalog | None = None,
) -> CheckMeta:
    """Validate one test's declaration; parametrized tests get `id.param` ids.

    The severity is the catalog's for `phase` (the run's; None: blocking in any of its phases).
    """
    if not check_args or not isinstance(check_args[0], str):
        raise CheckDeclarationError(f"{nodeid}: @pytest.mark.check needs an id string")
    check_id = check_args[0]
    if not CHECK_ID.match(check_id):
        raise CheckDeclarationError(
            f"{nodeid}: check id {check_id!r} must match {CHECK_ID.pattern}"
        )
    if param_id:
        check_id = f"{check_id}.{re.sub(r'[^a-z0-9_.-]+', '-', param_id.lower()).strip('-')}"
    title, description = split_docstring(function)
    title = str(check_kwargs.get("title") or title)
    description = str(check_kwargs.get("description") or description)
    if not title:
        raise CheckDeclarationError(f"{nodeid}: a check needs a docstring (its title)")
    if not description:
        raise CheckDeclarationError(
            f"{nodeid}: the docstring must say why the check is blocking or a warning"
        )
    try:
        kind = Kind(check_kwargs.get("kind", "smoke"))
    except ValueError:
        raise CheckDeclarationError(
            f"{nodeid}: kind {check_kwargs.get('kind')!r} is not one of "
            f"{', '.join(k.value for k in Kind)}"
        ) from None
    names = set(marker_names)
    phases = tuple(p for p in PHASE_MARKS if p in names)
    resolved = (catalog or load_catalog()).resolve(
        check_id,
        phase,
        phases=phases,
        default_blocking=bool(check_kwargs.get("blocking", True)),
        declared_id=check_args[0],
    )
    return CheckMeta(
        id=check_id,
        title=title,
        description=description,
        kind=kind,
        blocking=resolved.blocking,
        phases=phases,
        writes=bool(check_kwargs.get("writes", False)),
        rule=resolved.rule,
        severity=resolved.severity.value,
    )
