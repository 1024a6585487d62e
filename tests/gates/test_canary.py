"""Phase 3: the canary (flag ON) beside the stable instance (flag OFF), judged against it.

The plan's phase-3 gate: canary error rate < 0.1%, canary p95 < 500 ms, no divergence in
behaviour between canary and stable, no P0, user-facing impact zero or positive; and a rollback
that takes the canary out of rotation. The split is judged through the balancer (the run's
target); the comparisons talk to each side directly (--stable-url / --canary-url, or the embedded
stack's own), with the same requests interleaved, their number fixed before the first is sent.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from phasegate.canary import compare
from phasegate.canary.divergence import FLAG_FIELD, Answer, Pair, judge_divergence
from phasegate.canary.probe import Attempt, Sender, interleaved, paths, roles, summary
from phasegate.canary.rollback import judge_rollback, run_rollback
from phasegate.canary.verdicts import (
    client_gate,
    gate_conclusion,
    judge_impact,
    judge_memory_difference,
)
from phasegate.client import SkillMeatClient
from phasegate.fixtures import PROJECTS_ROOT
from phasegate.gates import load_catalog
from phasegate.gates.design import design_for
from phasegate.gates.run import run_gates
from phasegate.outcomes import Inconclusive, conclude
from phasegate.resources import Ledger, Registry, Resource
from phasegate.stack.nginx import NginxSplit

SPLIT_REQUESTS = 400  # through the balancer; fixed before the first request
DIVERGENCE_SEED = "phase3-divergence"
USER_SESSIONS = 12  # write-then-read sessions through the balancer, fixed in advance
READS_PER_SESSION = 3


def _needs(sides, *what):
    problem = sides.missing(*what)
    if problem:
        raise Inconclusive(problem)


def _catalog_row(gate_id):
    return next(spec for spec in load_catalog().specs if spec.id == gate_id)


def _side_client(client_config, role_url, evidence, check_id):
    config = dataclasses.replace(client_config, api_url=role_url)
    return SkillMeatClient(config, recorder=evidence.record, check_id=check_id)


# -- the samples both arms share, sent once per process -------------------------------------------

ARM_DESIGNS = compare.direct_designs()


@pytest.fixture(scope="session")
def arm_samples(canary_sides, client_config, pytestconfig):
    """The same fixed sample, interleaved, straight to stable and to canary.

    Its size is the largest of the error-rate row's fixed design (so the canary's client-side
    error gate can decide from it) and the 1:1 comparison designs, decided before the first
    request; the same n goes to stable for the comparisons.
    """
    _needs(canary_sides, "stable", "canary")
    n = max(
        design_for(_catalog_row("error-rate")).n,
        *(max(d.canary_n, d.stable_n) for d in ARM_DESIGNS.values()),
    )
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def say(message):
        if reporter is not None:
            reporter.write_line(f"phasegate: {message}")

    senders = {
        role: Sender(canary_sides.url_of(role), client_config, f"arms-{role}", "canary.sample")
        for role in ("stable", "canary")
    }
    say(f"canary sample: {n} requests to each side, interleaved (fixed design of error-rate)")
    started = time.time()
    try:
        sample = interleaved(senders, paths(client_config.api_version, n), say)
    finally:
        for sender in senders.values():
            sender.close()
    return {"attempts": sample, "n": n, "started": started, "ended": time.time()}


def _arm(role, attempts):
    answered = [a for a in attempts if not a.limited]
    return compare.ArmSample(
        role=role,
        requests=len(answered),
        errors=sum(a.failed for a in answered),
        latencies_s=tuple(a.latency_s for a in answered if a.status is not None),
    )


# -- the split ------------------------------------------------------------------------------------


@pytest.mark.check("canary.split", kind="canary")
@pytest.mark.phase3
def test_split_holds(canary_sides, client_config, evidence):
    """The canary's share of the balancer's responses is consistent with 10%, not 0% or 50%.

    Blocking (rule: plan-criterion): every other phase-3 number assumes the plan's 9:1 split; a
    canary that takes no traffic, or half of it, is not the phase the plan describes. Each
    response names its side in the attribution header; a response without one decides nothing.
    """
    sender = Sender(canary_sides.balancer_url, client_config, "split", "canary.split")
    try:
        attempts = [sender.send("/health") for _ in range(SPLIT_REQUESTS)]
    finally:
        sender.close()
    counted = roles(attempts)
    evidence.note("responses_by_side", dict(counted))
    evidence.note("sample", summary(attempts))
    attributed = counted.get("stable", 0) + counted.get("canary", 0)
    if attributed < len(attempts):
        raise Inconclusive(
            f"{len(attempts) - attributed} of {len(attempts)} responses name no side "
            "(no attribution header, or no answer): the split cannot be counted"
        )
    conclude(compare.split_share(counted.get("canary", 0), attributed), evidence)


# -- the canary's own gates -----------------------------------------------------------------------


@pytest.mark.check("canary.client-error-rate", kind="canary")
@pytest.mark.phase3
def test_canary_error_rate_client_side(arm_samples, evidence):
    """Canary error rate < 0.1%, from the client's side (5xx and transport failures).

    Blocking (rule: plan-criterion): the plan's phase-3 gate, judged with the error-rate row's
    fixed design and binomial bound on the requests sent straight to the canary.
    """
    conclude(client_gate("error-rate", arm_samples["attempts"]["canary"], _catalog_row), evidence)


@pytest.mark.check("canary.client-latency-p95", kind="canary")
@pytest.mark.phase3
def test_canary_p95_client_side(arm_samples, evidence):
    """Canary p95 < 500 ms, from the client's side (share of requests at or over 500 ms < 5%).

    Blocking (rule: plan-criterion): the plan's phase-3 gate, judged like the latency-p95 row.
    """
    conclude(client_gate("latency-p95", arm_samples["attempts"]["canary"], _catalog_row), evidence)


@pytest.mark.check("canary.server-gates", kind="canary")
@pytest.mark.phase3
def test_canary_gates_from_its_own_series(arm_samples, canary_sides, monitoring, evidence):
    """Canary error rate < 0.1% and p95 < 500 ms from the canary's own Prometheus series.

    Blocking (rule: plan-criterion): the plan says to watch canary metrics separately; the
    catalog's error-rate and latency-p95 rows are judged with the canary's selector
    (--canary-selector), after the fixed sample reached it.
    """
    _needs(canary_sides, "prometheus")
    time.sleep(3.0)  # two scrapes at the embedded 1 s interval: the sample's tail is counted
    window = time.time() - (monitoring.since or arm_samples["started"]) + 1.0
    results = run_gates(
        "phase3",
        prometheus_url=canary_sides.prometheus_url,
        selector=canary_sides.canary_selector,
        ids=["error-rate", "latency-p95"],
        window_s=window,
    )
    conclude(gate_conclusion(results, canary_sides.canary_selector), evidence)


# -- canary against stable ------------------------------------------------------------------------


def _compare(arm_samples, evidence, judge, **kwargs):
    attempts = arm_samples["attempts"]
    evidence.note("stable", summary(attempts["stable"]))
    evidence.note("canary", summary(attempts["canary"]))
    stable, canary = _arm("stable", attempts["stable"]), _arm("canary", attempts["canary"])
    design = ARM_DESIGNS[judge]
    evidence.note("design", {"canary_n": design.canary_n, "stable_n": design.stable_n})
    conclude(getattr(compare, judge)(stable, canary, design=design, **kwargs), evidence)


@pytest.mark.check("canary.vs-stable.error-rate", kind="canary")
@pytest.mark.phase3
def test_canary_errors_against_stable(arm_samples, evidence):
    """The canary errs no more than stable, by an exact two-sample test with a 0.1% margin.

    Blocking (rule: plan-criterion): "compare error rates between canary and stable".
    """
    _compare(arm_samples, evidence, "compare_error_rates")


@pytest.mark.check("canary.vs-stable.latency", kind="canary")
@pytest.mark.phase3
def test_canary_latency_against_stable(arm_samples, evidence):
    """The canary is not slower than stable (Mann-Whitney U with an effect-size floor).

    Blocking (rule: plan-criterion): "compare latency percentiles between canary and stable".
    """
    _compare(arm_samples, evidence, "compare_latency")


@pytest.mark.check("canary.vs-stable.slow-share", kind="canary")
@pytest.mark.phase3
def test_canary_slow_share_against_stable(arm_samples, evidence):
    """The canary's share of requests over 500 ms is no larger than stable's (1% margin).

    Blocking (rule: plan-criterion): the p95 comparison in the plan's own unit, the 500 ms limit.
    """
    _compare(arm_samples, evidence, "compare_slow_share")


# -- no divergence --------------------------------------------------------------------------------


def _both(clients, name, method, path, aside=frozenset(), **kwargs):
    answers = {}
    for role, client in clients.items():
        try:
            response = client.request(method, path, **kwargs)
            answers[role] = Answer(response.status_code, response.text)
        except httpx.HTTPError as exc:
            answers[role] = Answer(None, repr(exc))
    return Pair(name, method, path, answers["stable"], answers["canary"], aside)


@pytest.fixture
def side_clients(canary_sides, client_config, evidence, check_meta):
    _needs(canary_sides, "stable", "canary")
    clients = {
        role: _side_client(client_config, canary_sides.url_of(role), evidence, check_meta.id)
        for role in ("stable", "canary")
    }
    yield clients
    for client in clients.values():
        client.close()


@pytest.fixture
def side_cleanup(side_clients, ledger_dir, target, pytestconfig) -> Iterator[dict[str, Registry]]:
    """Per side, what a check created there, deleted there (never through the balancer)."""
    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "main")
    registries = {
        role: Registry(client, Ledger(ledger_dir / "sides", target.run_id, f"{worker}-{role}"))
        for role, client in side_clients.items()
    }
    yield registries
    failures = [f for registry in registries.values() for f in registry.cleanup()]
    if failures:
        shown = "; ".join(f"{f.resource.kind} {f.resource.id}: {f.detail}" for f in failures)
        pytest.fail(f"cleanup failed: {shown}", pytrace=False)


def _project_on_both(side_clients, side_cleanup, target, label):
    name = f"{target.run_id}-{label}"
    path = str(PROJECTS_ROOT / target.run_id / name)
    created = {}
    for role, client in side_clients.items():
        response = client.create_project(name, path)
        created[role] = Answer(response.status_code, response.text)
        if response.status_code == 201:
            side_cleanup[role].add(Resource("project", response.json()["id"], name))
    return name, path, created


@pytest.mark.check("canary.no-divergence", kind="canary", writes=True)
@pytest.mark.phase3
def test_no_divergence(side_clients, side_cleanup, target, evidence):
    """The same seeded requests answer alike on stable and canary, ids and timestamps aside.

    Blocking (rule: plan-criterion): the plan's gate "no divergence in behaviour between canary
    and stable" on the endpoints both serve: service, version, projects (valid and invalid
    input). The flag's own field is the intended difference and is set aside by name.
    """
    version = side_clients["stable"].config.api_version
    _, _, created = _project_on_both(side_clients, side_cleanup, target, "diverge")
    pairs = [
        Pair(
            "create project",
            "POST",
            f"/api/{version}/projects",
            created["stable"],
            created["canary"],
        ),
        _both(side_clients, "root", "GET", "/"),
        _both(side_clients, "health", "GET", "/health"),
        _both(side_clients, "version", "GET", f"/api/{version}/version"),
        _both(
            side_clients,
            "feature flags",
            "GET",
            f"/api/{version}/config/feature-flags",
            aside=frozenset({FLAG_FIELD}),
        ),
        _both(
            side_clients, "invalid project", "POST", f"/api/{version}/projects", json={"name": ""}
        ),
        _both(
            side_clients,
            "unknown project",
            "GET",
            f"/api/{version}/projects/{DIVERGENCE_SEED}-missing",
        ),
    ]
    if created["stable"].status == 201 and created["canary"].status == 201:
        project_id = httpx.Response(201, text=created["canary"].body).json()["id"]
        pairs.append(
            _both(side_clients, "read project", "GET", f"/api/{version}/projects/{project_id}")
        )
    conclude(judge_divergence(pairs), evidence)


@pytest.mark.check("canary.memory-difference", kind="canary", writes=True)
@pytest.mark.phase3
def test_memory_endpoints_are_the_difference(side_clients, side_cleanup, target, evidence):
    """The memory endpoints are the intended difference: served by canary, refused by stable.

    Blocking (rule: plan-criterion): with the flag OFF, stable must refuse memory writes (404,
    403 or 503) while the canary accepts them; a stable that accepts them holds memory data the
    flag says does not exist. Anything accepted is deleted at teardown on its own side.
    """
    _, _, created = _project_on_both(side_clients, side_cleanup, target, "memdiff")
    if any(a.status != 201 for a in created.values()):
        raise Inconclusive(f"setup: projects not created on both sides ({created})")
    seen = {}
    for role, client in side_clients.items():
        project_id = httpx.Response(201, text=created[role].body).json()["id"]
        response = client.create_item(
            project_id, {"type": "decision", "content": f"{target.run_id} {role} canary diff"}
        )
        if response.status_code in (200, 201) and "id" in (response.json() or {}):
            side_cleanup[role].add(Resource("item", response.json()["id"], "memdiff", project_id))
        listed = client.list_items(project_id)
        seen[role] = {"write": response.status_code, "list": listed.status_code}
    conclude(judge_memory_difference(seen), evidence)


# -- user-facing impact ---------------------------------------------------------------------------


@pytest.mark.check("canary.user-impact", kind="canary", writes=True)
@pytest.mark.phase3
def test_user_facing_impact(
    canary_sides, client_config, side_clients, side_cleanup, target, evidence
):
    """A user behind the balancer reads back what it wrote, as it would from stable alone.

    Blocking (rule: plan-criterion): the plan's gate "user-facing impact zero or positive". A
    fixed number of sessions each create a project and a memory item through the balancer, then
    read the item back through it; the same sessions against stable alone are the baseline.
    Errors, read-backs that miss and the latency of each path are the evidence.
    """
    version = client_config.api_version
    results = {}
    for via, url in (("stable-alone", canary_sides.stable_url), ("balancer", target.api_url)):
        sender = Sender(url, client_config, f"impact-{via}", "canary.user-impact")
        sessions = []
        try:
            for i in range(USER_SESSIONS):
                name = f"{target.run_id}-impact-{via}-{i}"
                path = str(PROJECTS_ROOT / target.run_id / name)
                made = sender.send(f"/api/{version}/projects", "POST", {"name": name, "path": path})
                session = {"project": made.status, "project_side": made.role or "stable"}
                project_id = _register(made, sender, side_cleanup, "project", name, None)
                item = None
                if project_id:
                    wrote = sender.send(
                        f"/api/{version}/memory-items?project_id={project_id}",
                        "POST",
                        {"type": "learning", "content": f"{name} note"},
                    )
                    session["write"], session["write_side"] = wrote.status, wrote.role or "stable"
                    item = _register(wrote, sender, side_cleanup, "item", name, project_id)
                if item:
                    reads = [
                        sender.send(f"/api/{version}/memory-items/{item}")
                        for _ in range(READS_PER_SESSION)
                    ]
                    session["reads"] = [r.status for r in reads]
                    session["read_sides"] = [r.role or "stable" for r in reads]
                sessions.append(session)
        finally:
            sender.close()
        results[via] = sessions
    evidence.note("sessions", results)
    conclude(judge_impact(results, READS_PER_SESSION), evidence)


def _register(attempt: Attempt, sender, side_cleanup, kind, label, project_id):
    """Record what a write through the balancer created, on the side that answered it."""
    body = sender.last_body
    if attempt.status != 201 or not isinstance(body, dict) or "id" not in body:
        return None
    side = attempt.role or "stable"
    side_cleanup[side].add(Resource(kind, body["id"], label, project_id))
    return body["id"]


# -- rollback -------------------------------------------------------------------------------------


@pytest.mark.check("canary.rollback", kind="canary")
@pytest.mark.phase3
def test_rollback_for_real(rollback_control, canary_sides, client_config, evidence):
    """The plan's rollback while traffic runs: canary out of the upstream, reload, canary stopped.

    Blocking (rule: plan-criterion): the plan's way back from phase 3. Measured: the time until
    every response comes from stable, and the requests that failed meanwhile (none is the goal).
    Runs last (it takes the canary away); only on the embedded stack, whose balancer is ours.
    """
    if rollback_control is None:
        raise Inconclusive(
            "the rollback is only done on the embedded stack: a deployment's balancer is not "
            "phasegate's to change"
        )
    split = NginxSplit.attach(rollback_control.balancer_dir)
    sender = Sender(canary_sides.balancer_url, client_config, "rollback", "canary.rollback")

    def stop_canary():
        # The controller started it and reaps it at the end; stopped means it no longer answers.
        os.killpg(rollback_control.canary_pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{canary_sides.canary_url}/health", timeout=1.0)
            except httpx.TransportError:
                return
            time.sleep(0.05)
        raise RuntimeError("the canary still answered 15 s after SIGTERM")

    try:
        run = run_rollback(
            lambda: sender.send("/health"),
            [
                ("canary out of the upstream, nginx reloaded", lambda: split.remove("canary")),
                ("canary stopped", stop_canary),
            ],
        )
    finally:
        sender.close()
    conclude(judge_rollback(run), evidence)
