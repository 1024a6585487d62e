"""Helpers for the plugin tests: phase-check sources and a view of one pytest run's results."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "src" / "phasegate" / "verdict.schema.json"

# The repo's own config disables locust's plugin; the others are left out only for speed (they
# import hypothesis and schemathesis, ~2 s per run). One test runs with them to show they do not
# interfere.
NO_PLUGINS = ("-p", "no:cacheprovider", "-p", "no:locust")
FAST = (*NO_PLUGINS, "-p", "no:schemathesis", "-p", "no:allure_pytest")

HEADER = """\
import pytest

import phasegate
from phasegate import expect
"""


def check(
    check_id: str,
    body: str = "assert api.health().status_code == 200",
    *,
    phases: tuple[str, ...] = ("phase1",),
    blocking: bool = True,
    fixtures: str = "api",
    name: str | None = None,
    kwargs: str = "",
    doc: str | None = None,
) -> str:
    """The source of one phase check, declared the way tests/smoke declares them."""
    function = name or "test_" + check_id.replace(".", "_").replace("-", "_")
    marks = "".join(f"@pytest.mark.{phase}\n" for phase in phases)
    severity = "Blocking" if blocking else "Warning"
    if doc is None:
        doc = f'    """Check {check_id}.\n\n    {severity}: a selftest says so.\n    """\n'
    arguments = f"blocking={blocking}" + (f", {kwargs}" if kwargs else "")
    return (
        f'\n\n@pytest.mark.check("{check_id}", {arguments})\n{marks}def {function}({fixtures}):\n'
        f"{doc}{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n"
    )


def suite(*checks: str) -> str:
    return HEADER + "".join(checks)


@dataclass
class Run:
    result: pytest.RunResult
    report_dir: Path

    @property
    def ret(self) -> int:
        return int(self.result.ret)

    @property
    def output(self) -> str:
        return self.result.stdout.str() + "\n" + self.result.stderr.str()

    def verdict(self, phase: str = "phase1") -> dict[str, Any]:
        path = self.report_dir / f"verdict-{phase}.json"
        assert path.exists(), f"no {path.name}; output:\n{self.output}"
        document: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return document

    def outcomes(self, phase: str = "phase1") -> dict[str, str]:
        return {c["id"]: c["outcome"] for c in self.verdict(phase)["checks"]}

    def check(self, check_id: str, phase: str = "phase1") -> dict[str, Any]:
        [found] = [c for c in self.verdict(phase)["checks"] if c["id"] == check_id]
        return found

    def section(self, title: str = "phasegate verdict") -> list[str]:
        """The lines of one `=== title ===` section of the terminal output."""
        lines = self.result.stdout.lines
        start = next(i for i, line in enumerate(lines) if f" {title} " in line and "===" in line)
        section: list[str] = []
        for line in lines[start + 1 :]:
            if line.startswith("=") and line.endswith("="):
                break
            section.append(line)
        return section

    def assert_usage_error(self, *fragments: str) -> None:
        assert self.ret == 4, self.output
        for fragment in fragments:
            assert fragment in self.output, f"{fragment!r} not in:\n{self.output}"
        assert "Traceback" not in self.output
        assert "INTERNALERROR" not in self.output
        # An option error stops the run before it starts; a declaration error is found after
        # the session started, and its verdict then says why nothing was checked.
        for path in self.report_dir.glob("verdict-*.json"):
            verdict = json.loads(path.read_text("utf-8"))
            assert verdict["decision"] == "INCONCLUSIVE"
            assert any("usage error (pytest exit status 4)" in r for r in verdict["reasons"])


RunPytest = Callable[..., Run]
