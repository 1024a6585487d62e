"""The gates against real services: SkillMeat 0.74.0, Prometheus and Alertmanager.

Slow (about a minute): each test starts real processes on 127.0.0.1 and stops them, leaving no
process and no temp folder behind.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gate_support import by_severity

from phasegate.gates.alertmanager import AlertmanagerClient
from phasegate.gates.evaluate import Observation, Window, evaluate
from phasegate.gates.prometheus import PrometheusSource, combine_alerts
from phasegate.gates.run import run_gates
from phasegate.gates.spec import load_catalog
from phasegate.outcomes import Outcome
from phasegate.stack.monitoring import (
    FileSizeExporter,
    MonitoringStack,
    ScrapeTarget,
    packaged_rules,
    sqlite_files,
)
from phasegate.stack.skillmeat import ServerSpec, SkillMeatServer
from phasegate.stack.venv import ensure_skillmeat

pytestmark = pytest.mark.selftest_slow

APP_REQUESTS = 'sum(skillmeat_api_requests_total{endpoint!~"/metrics.*|/health.*"})'


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie still answers kill(0); it is no longer running.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def query_value(prometheus: str, promql: str) -> float:
    data = httpx.get(
        f"{prometheus}/api/v1/query", params={"query": promql, "time": f"{time.time():.3f}"}
    ).json()
    result = data["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


def send_varied_traffic(url: str, requests: int) -> Counter[int]:
    """Memory-API traffic shaped like real use: many clients, projects, items and queries.

    SkillMeat's burst limiter blocks a client after ~20 identical requests in 10 s, so every
    request differs (path, query or body) and clients differ by X-Forwarded-For.
    """
    statuses: Counter[int] = Counter()
    stamp = time.time_ns()
    with httpx.Client(base_url=url, timeout=30) as http:
        projects = []
        for i in range(3):
            response = http.post(
                "/api/v1/projects",
                json={"name": f"pg-gates-{stamp}-{i}", "path": f"/tmp/pg-gates-{stamp}-{i}"},
                headers={"X-Forwarded-For": f"10.9.0.{i}"},
            )
            statuses[response.status_code] += 1
            assert response.status_code == 201, response.text
            projects.append(response.json()["id"])
        for i in range(requests - len(projects)):
            project = projects[i % len(projects)]
            headers = {"X-Forwarded-For": f"10.10.{i // 200}.{i % 200}"}
            params: dict[str, str | int | float] = {"project_id": project}
            kind = i % 5
            if kind == 0:
                response = http.post(
                    "/api/v1/memory-items",
                    params=params,
                    json={
                        "type": ["decision", "gotcha", "learning"][i % 3],
                        "content": f"gate traffic {stamp} {i}",
                        "confidence": 0.5 + (i % 5) / 10,
                        "status": "active",
                    },
                    headers=headers,
                )
            elif kind == 1:
                params["limit"] = 1 + i % 50
                response = http.get("/api/v1/memory-items", params=params, headers=headers)
            elif kind == 2:
                params["min_confidence"] = (i % 10) / 10
                response = http.get("/api/v1/memory-items/count", params=params, headers=headers)
            elif kind == 3:
                response = http.post(
                    "/api/v1/context-packs/preview",
                    params=params,
                    json={"budget_tokens": 200 + i},
                    headers=headers,
                )
            else:
                response = http.post(
                    "/api/v1/context-packs/generate",
                    params=params,
                    json={"budget_tokens": 300 + i},
                    headers=headers,
                )
            statuses[response.status_code] += 1
    return statuses


@pytest.fixture
def skillmeat(tmp_path: Path) -> Iterator[SkillMeatServer]:
    python = ensure_skillmeat("0.74.0")
    server = SkillMeatServer(
        ServerSpec(python=python, flag_on=True, log_path=tmp_path / "skillmeat.log")
    )
    try:
        server.start()
        yield server
    finally:
        pid = server.process.pid if server.process else None
        server.stop()
        if pid is not None:
            assert gone(pid)


def test_gates_from_a_real_prometheus_scraping_a_real_skillmeat(
    skillmeat: SkillMeatServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert skillmeat.root is not None
    db = skillmeat.root / "home" / ".skillmeat" / "cache" / "cache.db"
    stack = MonitoringStack(
        [ScrapeTarget(skillmeat.url)], log_dir=tmp_path, files={"skillmeat": sqlite_files(db)}
    )
    stack.start()
    pids = [p.pid for p in (stack.prometheus, stack.alertmanager) if p is not None]
    root = stack.root
    try:
        timings = dict(stack.timings)
        assert timings["prometheus_ready_s"] < timings["first_sample_s"] < 30
        sent_from = time.time()
        statuses = send_varied_traffic(skillmeat.url, 300)
        traffic_s = time.time() - sent_from
        assert 429 not in statuses, statuses
        client_total = sum(statuses.values())
        # Poll (never sleep for) Prometheus until it has scraped everything the client sent.
        deadline = time.monotonic() + 30
        while query_value(stack.prometheus_url, APP_REQUESTS) < client_total:
            assert time.monotonic() < deadline, "Prometheus never saw all requests"
            time.sleep(0.2)
        seen_after_s = time.time() - sent_from - traffic_s

        end = time.time()
        window = end - stack.first_sample_at
        results = {
            r.id: r
            for r in run_gates(
                "phase2",
                prometheus_url=stack.prometheus_url,
                alertmanager_url=stack.alertmanager_url,
                window_s=window,
                end=end,
            )
        }
        with capsys.disabled():
            print(
                f"\nmonitoring timings: { ({k: round(v, 2) for k, v in timings.items()}) }; "
                f"{client_total} requests in {traffic_s:.1f} s {dict(statuses)}; "
                f"all scraped {seen_after_s:.1f} s later"
            )
            for result in results.values():
                print("  " + result.line())

        errors = results["error-rate"]
        # Server and client agree on the request count (no monitoring blind spot).
        assert errors.samples == client_total
        assert errors.outcome is Outcome.INCONCLUSIVE, errors.reason
        assert errors.more_needed is not None and errors.more_needed > 0
        assert "complete the design's sample" in errors.reason
        assert errors.details["freshness"]["problems"] == []
        latency = results["latency-p95"]
        assert latency.outcome in (Outcome.PASS, Outcome.INCONCLUSIVE), latency.reason
        assert latency.samples == client_total
        assert 'le="0.5"' in latency.query
        assert results["alerts-p0"].outcome is Outcome.PASS, results["alerts-p0"].reason
        assert results["memory-rss"].outcome is Outcome.PASS, results["memory-rss"].reason
        for result in results.values():
            assert result.outcome is not Outcome.ERROR or result.id == "context-pack-p95"
            assert result.query and result.window is not None and result.reason
    finally:
        stack.stop()
    assert all(gone(pid) for pid in pids)
    assert root is not None and not root.exists()


def test_a_silenced_p0_in_a_real_alertmanager_fails_the_gate(tmp_path: Path) -> None:
    """A P0 rule that always fires reaches Alertmanager; silenced, it still fails alerts-p0."""
    exporter = FileSizeExporter({"probe": [tmp_path / "probe.db"]})
    exporter.start()
    rules = packaged_rules().replace(
        "    rules:\n",
        "    rules:\n"
        "      - alert: PhasegateSelfTestP0\n"
        "        expr: vector(1)\n"
        "        labels:\n"
        "          severity: P0\n",
        1,
    )
    stack = MonitoringStack(
        [ScrapeTarget(exporter.url, job="probe", metrics_path="/metrics")],
        log_dir=tmp_path,
        rules=rules,
    )
    try:
        stack.start()
        client = AlertmanagerClient(stack.alertmanager_url)
        deadline = time.monotonic() + 30
        while not by_severity(client).get("P0"):
            assert time.monotonic() < deadline, "the P0 alert never reached Alertmanager"
            time.sleep(0.2)
        silence = httpx.post(
            f"{stack.alertmanager_url}/api/v2/silences",
            json={
                "matchers": [
                    {"name": "alertname", "value": "PhasegateSelfTestP0", "isRegex": False}
                ],
                "startsAt": "2000-01-01T00:00:00Z",
                "endsAt": "2999-01-01T00:00:00Z",
                "createdBy": "phasegate selftest",
                "comment": "a silenced P0 still counts",
            },
        )
        assert silence.status_code == 200, silence.text
        silence_id = silence.json()["silenceID"]
        deadline = time.monotonic() + 30
        while by_severity(client)["P0"][0].state != "suppressed":
            assert time.monotonic() < deadline, "the silence never applied"
            time.sleep(0.2)

        spec = load_catalog().get("alerts-p0")
        end = time.time()
        window = Window(stack.first_sample_at - 1, end)
        prometheus = PrometheusSource(stack.prometheus_url, selector='job="probe"')
        result = evaluate(spec, combine_alerts(window, prometheus.alert_history(window), client))
        assert result.outcome is Outcome.FAIL
        assert f"silenced by {silence_id}" in result.reason
        # Alertmanager gone: the P0 that Prometheus saw fire still fails the gate.
        stack.alertmanager.stop() if stack.alertmanager else None
        dead = AlertmanagerClient(stack.alertmanager_url, attempts=1)
        obs: Observation = combine_alerts(window, prometheus.alert_history(window), dead)
        assert evaluate(spec, obs).outcome is Outcome.FAIL
    finally:
        stack.stop()
        exporter.stop()
