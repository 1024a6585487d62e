"""Triangulation catches a monitoring blind spot, end to end.

A real SkillMeat 0.74.0 (flag ON) is scraped directly by the real Prometheus, while the suite's
traffic reaches it through phasegate's fault proxy. With no rule the proxy is transparent and the
server counts everything the client saw, its own cleanup included: gate.client-server-agree
PASSes with equal counts. With a rule that answers a share of memory requests (the listings,
about a sixth of the phase-2 mix) with 500 by itself, never calling SkillMeat, the client sees
answers (and 5xx) that SkillMeat's own counters never recorded. Every metric gate built on
those counters would judge a server that looks healthier than what its users get; the
comparison must say FAIL, "monitoring blind spot". The same share answered 429 is counted
apart and is no disagreement there; per class (gate.blind-spots) it is a blind spot.

Slow (about a minute): a real SkillMeat, Prometheus and Alertmanager, and ~240 requests per run.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gate_support import leftovers

from phasegate.client import ClientConfig
from phasegate.gates.session import GatePlan, evaluate_gates
from phasegate.gates.triangulate import SLACK
from phasegate.resources import Ledger, read_ledgers
from phasegate.stack.monitoring import MonitoringStack, ScrapeTarget
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat
from support.faultproxy import Answer, FaultProxy, Rule

pytestmark = pytest.mark.selftest_slow

REQUESTS = 200
# GET /api/v1/memory-items: the listings, about a sixth of the phase-2 mix, answered 500 by the
# proxy itself and never seen by SkillMeat.
HIDDEN = Rule(
    "memory-list-answered-by-the-proxy",
    method="GET",
    path=r"/api/v1/memory-items",
    answer=Answer(500, {"detail": "injected by faultproxy: SkillMeat never saw this request"}),
)
# The same share refused with 429, as a burst limiter in front of SkillMeat would.
LIMITED = Rule(
    "memory-list-rate-limited",
    method="GET",
    path=r"/api/v1/memory-items",
    answer=Answer(429, {"detail": "Too many requests"}, headers={"Retry-After": "1"}),
)


@dataclass
class Stack:
    server: SkillMeatServer
    monitoring: MonitoringStack
    proxy: FaultProxy
    work: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("blind-spot")
    server = SkillMeatServer(
        ServerSpec(
            python=ensure_skillmeat("0.74.0"), flag_on=True, log_path=work / "skillmeat.log"
        ),
        progress=lambda _: None,
    )
    monitoring: MonitoringStack | None = None
    proxy = FaultProxy("http://127.0.0.1:1")  # upstream set once SkillMeat has its port
    ports: list[int] = []
    try:
        server.start()
        ports.append(server.port)
        monitoring = MonitoringStack(
            [ScrapeTarget(server.url)], log_dir=work, progress=lambda _: None
        )
        monitoring.start()
        ports += [monitoring.prometheus_port, monitoring.alertmanager_port]
        proxy = FaultProxy(server.url)
        proxy.start()
        yield Stack(server, monitoring, proxy, work)
    finally:
        proxy.stop()
        if monitoring is not None:
            monitoring.stop()
        server.stop()
        shutil.rmtree(work / "projects", ignore_errors=True)
    assert not leftovers(ports), leftovers(ports)


def evaluate_through_the_proxy(stack: Stack, name: str) -> tuple[dict[str, Any], list[str]]:
    messages: list[str] = []
    run_id = f"pg-blind-{name}-{time.time_ns() % 10**6}"
    ledger_dir = stack.work / "ledgers"
    plan = GatePlan(
        phase="phase2",
        prometheus_url=stack.monitoring.prometheus_url,
        alertmanager_url=stack.monitoring.alertmanager_url,
        client=ClientConfig(api_url=stack.proxy.url, run_id=run_id),
        ledger=Ledger(ledger_dir, run_id, "gates"),
        projects_root=str(stack.work / "projects" / run_id),
        window_s=None,
        monitoring_since=stack.monitoring.first_sample_at,
        overrides=None,
        top_up=False,
        writes_allowed=True,
        triangulation_requests=REQUESTS,
    )
    started = time.monotonic()
    out = evaluate_gates(plan, messages.append)
    messages.append(f"evaluate_gates took {time.monotonic() - started:.1f} s")
    # The suite's traffic cleaned up after itself, through the proxy as well.
    events = read_ledgers(ledger_dir, run_id)
    created = {(e["kind"], e["id"]) for e in events if e["event"] == "created"}
    deleted = {(e["kind"], e["id"]) for e in events if e["event"] == "deleted"}
    assert created and created == deleted, (created - deleted, messages)
    return out, messages


def test_a_transparent_proxy_lets_client_and_server_agree(stack: Stack) -> None:
    stack.proxy.set_rules([])
    out, messages = evaluate_through_the_proxy(stack, "clean")
    triangulation = out["triangulation"]
    print("\n" + "\n".join(messages) + f"\ntriangulation: {triangulation}")
    assert triangulation["outcome"] == "pass", triangulation
    facts = triangulation["facts"]
    assert facts["client"]["requests"] >= REQUESTS
    # Nothing else talks to this SkillMeat, and the client counts its own cleanup too: the two
    # counts agree exactly (up to the slack), not merely "server at least client".
    assert abs(facts["server_requests_non_429"] - facts["client_requests_non_429"]) <= SLACK
    assert facts["client"]["by_status"].get("204", 0) > 0, "the cleanup's deletes are counted"
    assert not stack.proxy.errors()
    assert len(out["traffic"]["bursts"]) == 1  # no top-up: one burst only
    assert out["traffic"]["planned"] == REQUESTS
    # The gates were evaluated after the traffic, on the same Prometheus.
    assert {"error-rate", "latency-p95", "alerts-p0"} <= set(out["gates"])
    assert out["gates"]["error-rate"]["evidence"]["samples"] >= facts["client_requests_non_429"]
    # Per class, the server's request counter saw every answer the client met.
    counter = out["blind_spots"]["facts"]["views"]["skillmeat_api_requests_total"]["classes"]
    assert set(counter.values()) <= {"counted", "not exercised", "none seen"}, counter


def test_answers_the_server_never_counted_are_a_blind_spot(stack: Stack) -> None:
    stack.proxy.set_rules([HIDDEN])
    try:
        out, messages = evaluate_through_the_proxy(stack, "fault")
        fired = stack.proxy.hits(HIDDEN.name)
        problems = stack.proxy.errors()
    finally:
        stack.proxy.set_rules([])
    triangulation = out["triangulation"]
    print("\n" + "\n".join(messages) + f"\ntriangulation: {triangulation}; fault fired {fired}x")
    assert not problems, problems
    facts = triangulation["facts"]
    assert triangulation["outcome"] == "fail", triangulation
    assert "blind spot" in triangulation["reason"]
    # The fault really happened: the client saw the proxy's 500s, the server none of them.
    assert fired > 0
    assert facts["client"]["by_status"].get("500", 0) >= fired
    assert facts["client_5xx"] == facts["client"]["server_errors"] >= fired
    missing = facts["client_requests_non_429"] - facts["server_requests_non_429"]
    assert fired - SLACK <= missing <= fired + SLACK, facts
    assert facts["server_5xx"] < facts["client_5xx"]
    spots = out["blind_spots"]["facts"]["blind_spots"]
    assert any(s.startswith("skillmeat_api_requests_total counted") and "5xx" in s for s in spots)
    # SkillMeat's own counters saw none of those errors: the error-rate gate alone cannot tell.
    error_rate = out["gates"]["error-rate"]["evidence"]
    assert error_rate["details"]["events"] < fired, error_rate["reason"]


def test_429s_are_counted_apart_and_the_traffic_goes_on(stack: Stack) -> None:
    """A 429 is the burst limiter's answer: counted apart on both sides, never a disagreement,
    and no reason for the traffic to stop (each worker meets one on its first listing)."""
    stack.proxy.set_rules([LIMITED])
    try:
        out, messages = evaluate_through_the_proxy(stack, "limited")
        fired = stack.proxy.hits(LIMITED.name)
    finally:
        stack.proxy.set_rules([])
    triangulation = out["triangulation"]
    print("\n" + "\n".join(messages) + f"\ntriangulation: {triangulation}; 429 fired {fired}x")
    facts = triangulation["facts"]
    assert triangulation["outcome"] == "pass", triangulation
    assert fired > 10
    assert facts["client_429"] == facts["client"]["rate_limited"] == fired
    assert facts["client"]["requests"] >= REQUESTS, "the traffic stopped at a 429"
    assert facts["client_requests_non_429"] == facts["client"]["requests"] - fired
    # A limiter in front of SkillMeat answers 429s its counters never see: a per-class blind spot.
    spots = out["blind_spots"]["facts"]["blind_spots"]
    assert any(s.startswith("skillmeat_api_requests_total counted") and "429" in s for s in spots)
