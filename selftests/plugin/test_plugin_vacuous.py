"""A check whose subject is absent decides nothing: the real flag checks against an HTTP double.

`config.auto-extract-off` used to pass on a target whose flags do not report the field at all
(`.get(...) is not True`); it must be INCONCLUSIVE then, FAIL when extraction is on, PASS only
when the field reads false.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.http_double import FLAGS_OFF, HttpDouble, Route
from support.phase_runs import REPO, RunPytest

SERVICE = REPO / "tests" / "smoke" / "test_service.py"


@pytest.mark.parametrize(
    ("flags", "outcome", "fragment"),
    [
        pytest.param(
            {"memory_context_enabled": False},
            "inconclusive",
            "field 'memory_auto_extract' is missing",
            id="absent",
        ),
        pytest.param(
            {**FLAGS_OFF, "memory_auto_extract": None},
            "inconclusive",
            "field 'memory_auto_extract' is null",
            id="null",
        ),
        pytest.param(
            {**FLAGS_OFF, "memory_auto_extract": True},
            "fail",
            "memory_auto_extract is True",
            id="on",
        ),
        pytest.param(
            {**FLAGS_OFF, "memory_auto_extract": "yes"},
            "fail",
            "memory_auto_extract is 'yes', not false",
            id="not-a-boolean",
        ),
        pytest.param(FLAGS_OFF, "pass", "", id="off"),
    ],
)
def test_auto_extract_off_is_never_a_vacuous_pass(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    double: HttpDouble,
    flags: dict[str, Any],
    outcome: str,
    fragment: str,
) -> None:
    double.routes[("GET", "/api/v1/config/feature-flags")] = Route(200, flags)
    (pytester.path / "test_service.py").write_text(SERVICE.read_text("utf-8"), encoding="utf-8")
    run = run_pytest("--phase=phase1", f"--api-url={double.url}", "-k", "auto_extract_not_on")
    found = run.check("config.auto-extract-off")
    assert found["outcome"] == outcome, run.output
    assert fragment in found["reason"]
    if outcome == "inconclusive":
        assert run.verdict()["decision"] == "INCONCLUSIVE"
        assert "cannot be judged" in found["reason"]
