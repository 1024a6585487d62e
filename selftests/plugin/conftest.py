"""Fixtures for the plugin tests: a pytest subprocess in a pytester dir, against a local double."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from support.http_double import HttpDouble, running
from support.phase_runs import FAST, Run, RunPytest


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runs must see only the options a test gives, never the developer's own."""
    for name in list(os.environ):
        if name.startswith(("SKILLMEAT_", "PHASEGATE_", "PYTEST_XDIST")):
            monkeypatch.delenv(name)


@pytest.fixture
def double() -> Iterator[HttpDouble]:
    with running() as started:
        yield started


@pytest.fixture
def run_pytest(pytester: pytest.Pytester) -> RunPytest:
    """Run pytest in a subprocess inside the pytester dir, reports in its own folder."""

    def run(*args: str, plugins: tuple[str, ...] = FAST, timeout: float = 120) -> Run:
        report_dir = pytester.path / "out"
        result = pytester.runpytest_subprocess(
            *plugins, f"--report-dir={report_dir}", *args, timeout=timeout
        )
        return Run(result, report_dir)

    return run
