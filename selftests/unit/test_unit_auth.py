"""The authentication checks: the probe covers every operation, and the judgement can fail.

Pure judgements on hand-made answers, then the probe against small doubles that refuse, serve
or fail (selftests/support/auth_double.py), then the checks themselves in a phase run against
those doubles through `--api-url`: they FAIL on a target that serves without credentials and on
one that answers 500, and pass on one that refuses (selftests/plugin/test_plugin_auth.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phasegate.auth import (
    MODES,
    NONE,
    RIGHT,
    WRONG,
    WRONG_API_KEY,
    Answer,
    ModeRun,
    credential_config,
    judge,
    probe_project_id,
    probe_requests,
    send_probe,
)
from phasegate.client import ClientConfig
from phasegate.contract.operations import OPERATIONS
from phasegate.outcomes import Outcome
from support.auth_double import RIGHT_KEY, AuthDouble


def answers(kind: str, *statuses: int | None) -> list[Answer]:
    return [Answer(f"GET /x{i}", kind, f"GET /api/v1/x{i}", s) for i, s in enumerate(statuses)]


def test_probe_covers_every_operation_once_and_names_nothing_that_exists() -> None:
    requests = probe_requests(probe_project_id("pg-run"), "/tmp/phasegate-projects/pg-run/a")
    assert [r.operation for r in requests] == list(OPERATIONS)
    assert len(requests) == 27
    for request in requests:
        assert "{" not in request.path, request.path
        project = request.params.get("project_id")
        assert project in (None, probe_project_id("pg-run"))


def test_all_refused_with_the_right_credential_served_passes() -> None:
    done = judge("t", answers(NONE, 401, 403, 401), answers(RIGHT, 200, 404, 400))
    assert done.outcome is Outcome.PASS
    assert "all 3" in done.reason and done.facts["summary"] == done.reason


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (200, "served without credentials (rule cross-project)"),
        (500, "answered 5xx (rule server-error)"),
        (404, "reached the operation"),
    ],
)
def test_any_operation_not_refused_fails(status: int, phrase: str) -> None:
    done = judge("t", answers(NONE, 401, status, 403), answers(RIGHT, 200, 200, 200))
    assert done.outcome is Outcome.FAIL
    assert phrase in done.reason
    assert f"GET /api/v1/x1 -> {status}" in done.reason
    assert [a["status"] for a in done.facts["answers"]] == [401, status, 403]


def test_a_failure_wins_over_undecided_answers() -> None:
    assert judge("t", answers(WRONG, 429, None, 200), None).outcome is Outcome.FAIL


def test_rate_limited_or_unanswered_is_inconclusive_never_pass() -> None:
    assert judge("t", answers(NONE, 401, 429), None).outcome is Outcome.INCONCLUSIVE
    assert judge("t", answers(NONE, 401, None), None).outcome is Outcome.INCONCLUSIVE
    assert judge("t", [], None).outcome is Outcome.INCONCLUSIVE


def test_a_server_refusing_the_right_credential_too_proves_nothing() -> None:
    done = judge("t", answers(NONE, 401, 401), answers(RIGHT, 200, 401))
    assert done.outcome is Outcome.INCONCLUSIVE
    assert "refuses everyone" in done.reason


def test_without_a_right_credential_the_reason_says_so() -> None:
    done = judge("t", answers(WRONG, 403), None, "the local provider takes no credential")
    assert done.outcome is Outcome.PASS
    assert "not confirmed (the local provider takes no credential)" in done.reason


def test_a_mode_that_cannot_run_is_inconclusive_with_its_reason() -> None:
    enterprise = next(mode for mode in MODES if mode.unrunnable)
    done = ModeRun(enterprise, problem=enterprise.unrunnable).conclusion(NONE)
    assert done.outcome is Outcome.INCONCLUSIVE
    assert enterprise.unrunnable in done.reason


@pytest.fixture
def double(request: pytest.FixtureRequest) -> Iterator[AuthDouble]:
    server = AuthDouble(request.param).start()
    yield server
    server.stop()


def probe(double: AuthDouble, kind: str) -> list[Answer]:
    base = ClientConfig(double.url, run_id="pg-selftest")
    right = ClientConfig(double.url, api_key=RIGHT_KEY, run_id="pg-selftest")
    config = credential_config(base, kind, right)
    requests = probe_requests(probe_project_id("pg-selftest"), "/tmp/nowhere")
    return send_probe(config, kind, requests, secrets_to_hide=(RIGHT_KEY,))


@pytest.mark.parametrize(
    ("double", "outcome"),
    [
        ("refuse", Outcome.PASS),
        ("serve", Outcome.FAIL),
        ("error", Outcome.FAIL),
        ("refuse-all", Outcome.INCONCLUSIVE),
    ],
    indirect=["double"],
)
def test_probe_against_doubles(double: AuthDouble, outcome: Outcome) -> None:
    for kind in (NONE, WRONG):
        done = judge("double", probe(double, kind), probe(double, RIGHT))
        assert done.outcome is outcome, done.reason
    sent = {key for _, _, key in double.family_requests}
    assert sent == {None, WRONG_API_KEY, RIGHT_KEY}
    assert len(double.family_requests) == 27 * 4
