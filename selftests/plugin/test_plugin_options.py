"""Options and phase selection: bad input is a usage error (exit 4) that names what was wrong."""

from __future__ import annotations

import pytest

from support.http_double import HttpDouble
from support.phase_runs import RunPytest, check, suite

TWO_PHASES = suite(
    check("svc.one", phases=("phase1",)),
    check("svc.two", phases=("phase2",)),
    check("svc.both", phases=("phase1", "phase2")),
)


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        pytest.param(
            ["--phase=phase1", "--request-timeout=abc"],
            {},
            "--request-timeout: invalid value 'abc' (from command line --request-timeout)",
            id="timeout-not-a-number",
        ),
        pytest.param(
            ["--phase=phase1", "--api-url=ftp://x"],
            {},
            "--api-url: invalid value 'ftp://x' (from command line --api-url): "
            "expected an http:// or https:// URL with a host",
            id="url-scheme",
        ),
        pytest.param(
            ["--phase=phase9"],
            {},
            "--phase: invalid value 'phase9' (from command line --phase)",
            id="unknown-phase",
        ),
        pytest.param(
            ["--phase=phase1"],
            {"SKILLMEAT_API_URL": "nonsense"},
            "--api-url: invalid value 'nonsense' (from environment SKILLMEAT_API_URL)",
            id="env-url",
        ),
        pytest.param(
            [],
            {"PHASEGATE_PHASE": "phase7"},
            "--phase: invalid value 'phase7' (from environment PHASEGATE_PHASE)",
            id="env-phase",
        ),
        pytest.param(
            ["--phase=phase1", "--writes=sometimes"],
            {},
            "--writes: invalid value 'sometimes' (from command line --writes)",
            id="writes",
        ),
        pytest.param(
            ["--phase=phase4", "--auth-expected=maybe"],
            {},
            "--auth-expected: invalid value 'maybe' (from command line --auth-expected)",
            id="auth-expected",
        ),
    ],
)
def test_bad_option_value_is_a_usage_error(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    run_pytest(*args).assert_usage_error(f"ERROR: {message}")


def test_bad_ini_value_names_the_ini_key(run_pytest: RunPytest, pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nphasegate_request_timeout = soon\n")
    pytester.makepyfile(test_checks=TWO_PHASES)
    run_pytest("--phase=phase1").assert_usage_error(
        "--request-timeout: invalid value 'soon' (from ini phasegate_request_timeout)"
    )


def test_command_line_beats_a_bad_env_value(
    run_pytest: RunPytest,
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    double: HttpDouble,
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    monkeypatch.setenv("SKILLMEAT_API_URL", "nonsense")
    run = run_pytest("--phase=phase1", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    assert run.verdict()["target"]["api_url"] == double.url


def test_phase_contradicting_m_is_a_usage_error(
    run_pytest: RunPytest, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    run_pytest("--phase=phase1", "-m", "phase2").assert_usage_error(
        "--phase: phase1 (from command line --phase) contradicts -m, which selects phase2"
    )


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        pytest.param([], "", id="no-m"),
        pytest.param(["-m", "phase1 or phase2"], " (-m names phase1, phase2)", id="two-phases"),
        pytest.param(["-m", "not phase1"], " (-m names phase1)", id="negated"),
    ],
)
def test_phase_checks_without_a_phase_are_a_usage_error(
    run_pytest: RunPytest, pytester: pytest.Pytester, args: list[str], hint: str
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    run_pytest(*args).assert_usage_error(
        "phasegate: which phase? pass --phase=phaseN or -m phaseN naming exactly one phase" + hint
    )


def test_phase_is_inferred_from_m(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    run = run_pytest("-m", "phase2 and not slow", f"--api-url={double.url}")
    assert run.ret == 0, run.output
    assert "phasegate: phase2, Internal / test users (flag ON)" in run.output
    verdict = run.verdict("phase2")
    assert verdict["phase"] == "phase2"
    assert set(run.outcomes("phase2")) == {"svc.two", "svc.both", "run.cleanup.orphans"}
    assert not (run.report_dir / "verdict-phase1.json").exists()


def test_other_phases_are_deselected_under_phase(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    run = run_pytest("--phase=phase1", f"--api-url={double.url}", "-v")
    assert run.ret == 0, run.output
    run.result.assert_outcomes(passed=2, deselected=1)
    assert "test_svc_two" not in run.output
    assert set(run.outcomes()) == {"svc.one", "svc.both", "run.cleanup.orphans"}


def test_a_phase_with_no_checks_is_inconclusive_not_go(
    run_pytest: RunPytest, pytester: pytest.Pytester, double: HttpDouble
) -> None:
    pytester.makepyfile(test_checks=TWO_PHASES)
    run = run_pytest("--phase=phase4", f"--api-url={double.url}")
    assert run.ret == 6, run.output
    verdict = run.verdict("phase4")
    assert verdict["decision"] == "INCONCLUSIVE"
    assert verdict["checks"] == []
    assert verdict["reasons"] == ["no blocking check ran, so nothing supports a GO"]
