"""A phase check that does not declare itself properly stops the run before anything is asked."""

from __future__ import annotations

import pytest

from support.http_double import HttpDouble
from support.phase_runs import HEADER, RunPytest, check, suite

NO_MARKER = (
    HEADER
    + '''

@pytest.mark.phase1
def test_undeclared(api):
    """A phase test without a check id.

    Blocking: it would be anonymous in the verdict.
    """
'''
)
NO_DOCSTRING = (
    HEADER
    + """

@pytest.mark.check("svc.silent")
@pytest.mark.phase1
def test_silent(api):
    assert api.health().status_code == 200
"""
)
TITLE_ONLY = (
    HEADER
    + '''

@pytest.mark.check("svc.terse")
@pytest.mark.phase1
def test_terse(api):
    """Health answers 200."""
'''
)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        pytest.param(
            NO_MARKER,
            "test_checks.py::test_undeclared: a phase check needs @pytest.mark.check('id')",
            id="no-check-marker",
        ),
        pytest.param(
            suite(check("svc.dup", name="test_first"), check("svc.dup", name="test_second")),
            "test_checks.py::test_second: check id svc.dup is also used by "
            "test_checks.py::test_first",
            id="duplicate-id",
        ),
        pytest.param(
            NO_DOCSTRING,
            "test_checks.py::test_silent: a check needs a docstring (its title)",
            id="no-docstring",
        ),
        pytest.param(
            TITLE_ONLY,
            "test_checks.py::test_terse: the docstring must say why the check is blocking or a "
            "warning",
            id="no-severity-paragraph",
        ),
        pytest.param(
            suite(check("Svc Bad", name="test_bad_id")),
            "check id 'Svc Bad' must match",
            id="bad-id",
        ),
        pytest.param(
            suite(check("svc.kind", kwargs="kind='gates'")),
            "test_checks.py::test_svc_kind: kind 'gates' is not one of smoke, gate, load",
            id="unknown-kind",
        ),
    ],
)
def test_bad_declaration_is_a_usage_error(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    double: HttpDouble,
    source: str,
    problem: str,
) -> None:
    pytester.makepyfile(test_checks=source)
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    run.assert_usage_error("ERROR: phasegate: bad check declarations:", problem)
    assert double.received == [], "nothing may be asked of the target"


def test_every_bad_declaration_is_listed_at_once(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(
        test_checks=suite(check("svc.fine"), check("svc.fine", name="test_again")),
        test_more=NO_DOCSTRING,
    )
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    run.assert_usage_error(
        "check id svc.fine is also used by test_checks.py::test_svc_fine",
        "test_more.py::test_silent: a check needs a docstring",
    )


def test_declarations_of_other_phases_are_checked_too(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    """A broken phase-4 check is found by a phase-1 run, long before phase 4 is due."""
    pytester.makepyfile(test_checks=suite(check("svc.one"), check("svc.later", phases=("phase4",))))
    pytester.makepyfile(test_later=NO_MARKER.replace("phase1", "phase4"))
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    run.assert_usage_error("test_later.py::test_undeclared: a phase check needs")


def test_tests_without_a_phase_need_no_declaration(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(
        test_checks=suite(check("svc.one"))
        + "\n\ndef test_plain_helper():\n    assert sum([1, 2]) == 3\n"
    )
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    run.result.assert_outcomes(passed=2)
    assert set(run.outcomes()) == {"svc.one", "run.cleanup.orphans"}
