"""Authentication of every Memory & Context operation (issue #11, part 5).

Blocking (rule: cross-project): a request served without valid credentials discloses or changes
data to anyone who can reach the port. Blocking (rule: server-error): a 5xx on such a request.
401 and 403 are both a refusal; any other answer means the request reached the operation.

Against a deployment (`--api-url`) the checks run when the user says it authenticates
(`--auth-expected=yes`, or `auto` with `--api-key` / `--api-token` given); the given
credential is also sent, to tell authentication from a server that refuses everyone. On the
embedded default they probe SkillMeat started with each of its own authentication modes.

Phase 4 only: the plan turns the feature on for production there, and production is where
authentication is expected (issue #11: "against a deployment that has it (phase 4 in
production)"); each mode costs a SkillMeat start, which phase 2 need not repeat.
"""

from __future__ import annotations

import pytest

from phasegate.auth import (
    MODE_NAMES,
    NONE,
    RIGHT,
    WRONG,
    credential_config,
    judge,
    probe_project_id,
    probe_requests,
    send_probe,
)
from phasegate.fixtures import PROJECTS_ROOT
from phasegate.outcomes import Inconclusive, conclude

SUBJECTS = ("deployment", *MODE_NAMES)


def _judge_deployment(kind, settings, client_config, target, evidence, check_meta):
    has_credential = bool(client_config.api_key or client_config.api_token)
    if settings.auth_expected == "no":
        raise Inconclusive(
            "not judged: --auth-expected=no states the deployment has no authentication, so "
            "every caller is served"
        )
    if settings.auth_expected == "auto" and not has_credential:
        raise Inconclusive(
            "not judged: no credentials given (--api-key / --api-token) and no statement "
            "(--auth-expected=yes|no), so whether this deployment must authenticate is unknown"
        )
    check_id = check_meta.id if check_meta else None
    requests = probe_requests(
        probe_project_id(target.run_id), f"{PROJECTS_ROOT}/{target.run_id}/auth-probe"
    )
    probed = send_probe(
        credential_config(client_config, kind, None),
        kind,
        requests,
        check_id=check_id,
        recorder=evidence.record,
        secrets_to_hide=client_config.secrets,
    )
    right = (
        send_probe(client_config, RIGHT, requests, check_id=check_id, recorder=evidence.record)
        if has_credential
        else None
    )
    conclude(
        judge(
            f"the deployment at {target.api_url}",
            probed,
            right,
            None if has_credential else "no --api-key or --api-token given",
        ),
        evidence,
    )


def _judge(kind, subject, settings, client_config, target, evidence, check_meta, auth_mode_runs):
    if subject == "deployment":
        _judge_deployment(kind, settings, client_config, target, evidence, check_meta)
        return
    run = auth_mode_runs(subject)
    if run.log:
        evidence.note("server_log", run.log)
    conclude(run.conclusion(kind), evidence)


@pytest.mark.check("auth.refused-without-credentials", writes=True)
@pytest.mark.phase4
@pytest.mark.parametrize("subject", SUBJECTS, ids=SUBJECTS)
def test_refused_without_credentials(
    subject, settings, client_config, target, evidence, check_meta, auth_mode_runs
):
    """Every Memory & Context operation refuses a request without credentials (401 or 403).

    Blocking (rule: cross-project): a 2xx without credentials serves the feature's data to
    anyone who reaches the port; blocking (rule: server-error) on a 5xx. Writes: the probe's
    requests (one per operation) name a project and ids that do not exist, so even a target
    that serves them changes nothing; it is marked as writing because it sends POST, PUT and
    DELETE to the target.
    """
    _judge(NONE, subject, settings, client_config, target, evidence, check_meta, auth_mode_runs)


@pytest.mark.check("auth.refused-wrong-credentials", writes=True)
@pytest.mark.phase4
@pytest.mark.parametrize("subject", SUBJECTS, ids=SUBJECTS)
def test_refused_wrong_credentials(
    subject, settings, client_config, target, evidence, check_meta, auth_mode_runs
):
    """Every Memory & Context operation refuses wrong credentials (401 or 403).

    Blocking (rule: cross-project): a 2xx with a wrong API key and a wrong bearer token means
    the credential is not checked; blocking (rule: server-error) on a 5xx. The same
    never-writing probe as auth.refused-without-credentials.
    """
    _judge(WRONG, subject, settings, client_config, target, evidence, check_meta, auth_mode_runs)
