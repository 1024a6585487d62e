"""The rollout plan's success criteria and monitoring checklist, judged from Prometheus.

Each row of the gate catalog (src/phasegate/gates/catalog.toml, overridable with
--gate-overrides) is one check here, with the catalog's phases and severity. The gates are
evaluated once per run, after the smoke and load checks (the plugin orders them last): on the
embedded stack the suite first sends the error-rate gate's fixed design sample (its n minus what
the window holds, decided before the first request), compares what it sent with what the server
counted, and soaks the stack for --soak before judging.
"""

from __future__ import annotations

import httpx
import pytest

from phasegate.contract.tally import annotate, read_traffic
from phasegate.fixtures import PROJECTS_ROOT
from phasegate.gates import load_catalog
from phasegate.gates.session import (
    GatePlan,
    entry_conclusion,
    evaluate_gates,
    shared_evaluation,
)
from phasegate.gates.spec import check_id_of
from phasegate.outcomes import Inconclusive, conclude
from phasegate.resources import Ledger
from phasegate.severity import load_catalog as load_severity


def severity_rule(gate_id: str) -> str:
    row = load_severity().row_for(check_id_of(gate_id))
    return row.rule if row is not None else "none"


def _gate_params():
    for spec in load_catalog().specs:
        marks = [getattr(pytest.mark, phase) for phase in spec.phases]
        marks.append(
            pytest.mark.check(
                "gate",
                kind="gate",
                title=spec.title,
                description=f"{'Blocking' if spec.blocking else 'Warning'} (rule: "
                f"{severity_rule(spec.id)}; catalog row {spec.id}): "
                f"{spec.description or spec.title}",
            )
        )
        yield pytest.param(spec.id, marks=marks, id=spec.id)


@pytest.fixture(scope="session")
def gate_evaluation(pytestconfig, target, settings, monitoring, client_config, ledger_dir):
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def say(message: str) -> None:
        if reporter is not None:
            reporter.write_line(f"phasegate: {message}")

    worker = getattr(pytestconfig, "workerinput", {}).get("workerid", "main")
    plan = GatePlan(
        phase=settings.phase.value,
        prometheus_url=monitoring.prometheus_url,
        alertmanager_url=monitoring.alertmanager_url,
        client=client_config,
        ledger=Ledger(ledger_dir, target.run_id, f"{worker}-gates"),
        projects_root=str(PROJECTS_ROOT / target.run_id),
        window_s=settings.gate_window_s,
        monitoring_since=monitoring.since,
        overrides=settings.gate_overrides,
        top_up=settings.embedded and settings.gate_window_s is None,
        writes_allowed=settings.writes_allowed,
        soak_s=settings.soak,
    )
    return shared_evaluation(ledger_dir, target.run_id, lambda: evaluate_gates(plan, say))


@pytest.mark.parametrize("gate_id", list(_gate_params()))
def test_metric_gate(gate_id, gate_evaluation, evidence, monitoring, ledger_dir, target):
    """A metric gate of the rollout plan."""
    results = gate_evaluation
    if not monitoring.prometheus_url:
        raise Inconclusive(
            f"no Prometheus to judge from ({monitoring.problem or 'pass --prometheus-url'})"
        )
    entry = results["gates"].get(gate_id)
    assert entry is not None, f"gate {gate_id} was not evaluated"
    if gate_id in ERROR_GATES:
        entry = annotate(entry, read_traffic(ledger_dir, target.run_id))
    conclude(entry_conclusion(entry), evidence)


# Gates that count the server's 5xx: the contract's provoked ones are in their window too.
ERROR_GATES = frozenset({"error-rate", "baseline-error-rate"})


@pytest.mark.check("gate.client-server-agree", kind="gate")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_client_and_server_counts_agree(gate_evaluation, evidence, monitoring):
    """The server counted every request (and every 5xx) the suite itself sent.

    Blocking (rule: plan-criterion): the gates trust SkillMeat's own counters; a server that
    under-counts would let every metric gate pass on a blind spot. Compared over a scrape-aligned
    window of the suite's own traffic (other traffic can only add to the server's side).
    """
    results = gate_evaluation
    if not monitoring.prometheus_url:
        raise Inconclusive("no Prometheus to compare with")
    entry = results["triangulation"]
    if entry is None:
        raise Inconclusive("no traffic of the suite's own to compare (--writes=deny)")
    conclude(entry_conclusion(entry), evidence)
    evidence.note("traffic", results.get("traffic"))


@pytest.mark.check("gate.blind-spots", kind="gate")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
def test_no_answer_class_escapes_the_plans_metrics(gate_evaluation, evidence, monitoring):
    """Every class of answer the suite met (2xx, 4xx, 429, 5xx) is counted by each metric the
    plan relies on (request counter, the plan's error rate, the alert rules, the gates).

    Warning (rule: monitoring-checklist): a class a metric misses is a monitoring blind spot (the
    plan's dashboards and alerts cannot see it), not a failure of the service; transport failures
    (timeouts, refused or reset connections) are invisible to every server metric and reported as
    such.
    """
    results = gate_evaluation
    if not monitoring.prometheus_url:
        raise Inconclusive("no Prometheus to compare with")
    entry = results.get("blind_spots")
    if entry is None:
        raise Inconclusive("no traffic of the suite's own to compare (--writes=deny)")
    conclude(entry_conclusion(entry), evidence)


@pytest.mark.check("monitoring.reachable", kind="gate")
@pytest.mark.phase1
@pytest.mark.phase2
@pytest.mark.phase3
@pytest.mark.phase4
@pytest.mark.parametrize("service", ["prometheus", "alertmanager"])
def test_monitoring_reachable(service, monitoring, settings, evidence):
    """The monitoring service answers ready (and Prometheus scrapes SkillMeat).

    Blocking (rule: plan-criterion): phase 1 requires an operational monitoring stack, and every
    later gate reads it.
    """
    url = monitoring.prometheus_url if service == "prometheus" else monitoring.alertmanager_url
    if not url:
        raise Inconclusive(f"no {service} URL ({monitoring.problem or 'not given'})")
    ready = httpx.get(f"{url}/-/ready", timeout=settings.request_timeout)
    evidence.note("ready_status", ready.status_code)
    assert ready.status_code == 200, f"{service} /-/ready answered {ready.status_code}"
    if service == "prometheus":
        targets = httpx.get(f"{url}/api/v1/targets", timeout=settings.request_timeout)
        active = targets.json()["data"]["activeTargets"]
        health = {t["labels"].get("job", "?"): t["health"] for t in active}
        evidence.note("targets", health)
        assert health.get("skillmeat") == "up", f"SkillMeat scrape target is {health}"


@pytest.mark.check("monitoring.grafana", kind="gate")
@pytest.mark.phase1
def test_grafana_reachable(settings, evidence):
    """Grafana answers /api/health with database ok.

    Warning (rule: monitoring-checklist): the plan's people look at Grafana, but no gate reads it;
    its absence cannot hold a phase back. (No registry here ships Grafana, so the embedded stack has
    none.)
    """
    url = settings.grafana_url
    if not url:
        pytest.skip("no --grafana-url given")
    response = httpx.get(f"{url}/api/health", timeout=settings.request_timeout)
    evidence.note("status", response.status_code)
    assert response.status_code == 200, f"Grafana /api/health answered {response.status_code}"
    assert response.json().get("database") == "ok", response.text[:200]
