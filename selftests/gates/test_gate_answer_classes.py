"""Every failure counts, per answer class: blind spots of the plan's metrics, a target that hangs.

- `blind_spots`: which classes (2xx, 4xx, 429, 5xx) each metric the plan relies on reads, from
  the expressions themselves (the plan's error rate, the alert rules, the gate catalog); a
  Prometheus double whose metrics skip a class makes that class a reported blind spot, read
  through the same `Counter` the gate session uses; transport failures are reported as
  invisible to the server.
- A target that hangs (a loopback double that sleeps past the client's timeout once the
  top-up's projects exist): the threaded top-up counts the timeouts as failed requests, and the
  error-rate gate FAILs on them although the server's own counters show no error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from conftest import FakePrometheus, vector
from phasegate.client import ClientConfig
from phasegate.gates import blind_spots
from phasegate.gates.client_side import ClientCounts, count_client_failures
from phasegate.gates.evaluate import Counts, Observation, Window, evaluate
from phasegate.gates.spec import load_catalog
from phasegate.gates.triangulate import Counter
from phasegate.outcomes import Outcome
from phasegate.resources import Ledger
from phasegate.stack.monitoring import packaged_rules
from phasegate.traffic import threaded, top_up
from support.loopback import LoopbackServer

CATALOG = load_catalog()
T0 = 1_800_000_000.0


def views() -> dict[str, blind_spots.View]:
    found = blind_spots.plan_views(packaged_rules(), CATALOG.for_phase("phase2"))
    return {view.name: view for view in found}


# -- which classes each expression reads ----------------------------------------------------------


def test_the_views_read_the_classes_their_expressions_select() -> None:
    found = views()
    assert found["skillmeat_api_requests_total"].reads == ("2xx", "4xx", "429", "5xx")
    plan = found["plan error rate"]
    assert (plan.expression, plan.metric, plan.reads) == (
        "rate(skillmeat_api_errors_total[5m])",
        "errors",
        ("5xx",),
    )
    for alert in ("SkillMeatErrorRateHigh", "SkillMeatErrorRateCritical"):
        # 5xx over everything but 429: the limiter's answers are left out on purpose.
        assert found[f"alert {alert}"].reads == ("2xx", "4xx", "5xx")
    assert found["gate error-rate"].reads == ("2xx", "4xx", "5xx")
    for name in ("alert SkillMeatLatencyP95High", "gate latency-p95"):
        assert (found[name].metric, found[name].reads) == (
            "histogram",
            ("2xx", "4xx", "429", "5xx"),
        )
    # A rule about one endpoint is no API-wide monitor; rules on other metrics read no class.
    assert "alert SkillMeatMemoryItemsSpike" not in found
    assert "alert SkillMeatMemoryLimit" not in found


def test_the_rules_parser_reads_every_packaged_alert() -> None:
    names = [name for name, _ in blind_spots.alert_rules(packaged_rules())]
    assert names[:3] == ["SkillMeatDown", "SkillMeatErrorRateCritical", "SkillMeatErrorRateHigh"]
    assert len(names) == 10
    assert all(expression for _, expression in blind_spots.alert_rules(packaged_rules()))


# -- a double whose metrics skip a class ------------------------------------------------------


CLIENT = {"2xx": 400, "4xx": 30, "429": 5, "5xx": 20, "transport": 0}


def double(skips: tuple[str, ...] = (), errors_counted: bool = True) -> Mapping[str, float]:
    """What a server's metrics hold after the client's traffic: every class, less `skips`."""
    counted = {cls: float(CLIENT[cls]) for cls in blind_spots.SERVED_CLASSES if cls not in skips}
    after = {cls: counted.get(cls, 0.0) for cls in blind_spots.SERVED_CLASSES}
    after["errors"] = float(CLIENT["5xx"]) if errors_counted else 0.0
    after["histogram"] = sum(counted.values())
    return after


def route(fake: FakePrometheus, holding: dict[str, Mapping[str, float]]) -> None:
    """Prometheus answers each class query from what the double's metrics hold."""
    by_query = {query: name for name, query in blind_spots.CLASS_QUERIES.items()}

    def router(path: str, params: dict[str, str]) -> Any:
        name = by_query[params["query"]]
        return vector(({}, holding["now"].get(name, 0.0)), at=float(params["time"]))

    fake.router = router


def compare_through_prometheus(fake: FakePrometheus, after: Mapping[str, float]) -> Any:
    holding: dict[str, Mapping[str, float]] = {"now": dict.fromkeys(blind_spots.CLASS_QUERIES, 0)}
    route(fake, holding)
    counter = Counter(fake.url)
    try:
        before = counter.read_queries(blind_spots.CLASS_QUERIES, T0)
        holding["now"] = after
        later = counter.read_queries(blind_spots.CLASS_QUERIES, T0 + 60)
    finally:
        counter.close()
    return blind_spots.compare(CLIENT, before, later, list(views().values()))


def test_metrics_that_count_every_class_show_no_blind_spot(fake_prometheus) -> None:
    result = compare_through_prometheus(fake_prometheus, double())
    assert result.outcome is Outcome.PASS, result.reason
    assert result.facts["blind_spots"] == []
    assert result.facts["server"]["4xx"] == 30


@pytest.mark.parametrize("skipped", ["4xx", "429", "5xx", "2xx"])
def test_a_class_the_server_does_not_count_is_a_blind_spot(fake_prometheus, skipped) -> None:
    result = compare_through_prometheus(fake_prometheus, double(skips=(skipped,)))
    assert result.outcome is Outcome.FAIL  # gate.blind-spots is a warning: a finding, not a stop
    expected = f"skillmeat_api_requests_total counted 0 {skipped} of the client's {CLIENT[skipped]}"
    assert expected in result.facts["blind_spots"]
    assert expected in result.reason
    classes = result.facts["views"]["skillmeat_api_requests_total"]["classes"]
    assert classes[skipped] == "missed"
    assert all(
        cell == "counted" for cls, cell in classes.items() if cls not in (skipped, "transport")
    )
    # The alerts and gates reading the class are blind with it; one that leaves it out is not.
    alert = result.facts["views"]["alert SkillMeatErrorRateHigh"]["classes"][skipped]
    assert alert == ("not read" if skipped == "429" else "missed")
    # The histogram has no status label: it misses answers, of whatever class.
    assert result.facts["views"]["gate latency-p95"]["classes"][skipped] == "missed"


def test_the_plans_error_counter_missing_handled_5xx_is_a_blind_spot(fake_prometheus) -> None:
    """SkillMeat 0.74.0's skillmeat_api_errors_total counts only unhandled exceptions."""
    result = compare_through_prometheus(fake_prometheus, double(errors_counted=False))
    assert result.outcome is Outcome.FAIL
    assert result.facts["blind_spots"] == ["plan error rate counted 0 5xx of the client's 20"]
    assert result.facts["views"]["skillmeat_api_requests_total"]["classes"]["5xx"] == "counted"


def test_transport_failures_are_reported_as_invisible_to_the_server() -> None:
    client = {**CLIENT, "transport": 7}
    before = dict.fromkeys(blind_spots.CLASS_QUERIES, 0.0)
    result = blind_spots.compare(client, before, double(), list(views().values()))
    assert result.outcome is Outcome.FAIL
    assert result.facts["client"]["transport"] == 7
    assert any(
        "7 transport failures" in spot and "invisible" in spot for spot in result.reason.split("; ")
    )
    assert all(row["classes"]["transport"] == "invisible" for row in result.facts["views"].values())


def test_a_class_the_client_never_met_is_not_judged() -> None:
    client = {**CLIENT, "4xx": 0}
    before = dict.fromkeys(blind_spots.CLASS_QUERIES, 0.0)
    after = {**double(skips=("4xx",)), "histogram": 425.0}
    result = blind_spots.compare(client, before, after, list(views().values()))
    assert result.outcome is Outcome.PASS, result.reason
    assert "4xx not met by the client" in result.reason
    assert result.facts["views"]["plan error rate"]["classes"]["4xx"] == "not read"
    assert result.facts["views"]["gate latency-p95"]["classes"]["4xx"] == "not exercised"
    assert "client: 2xx 400, 4xx 0, 429 5, 5xx 20, transport 0" in result.reason


# -- a target that hangs ----------------------------------------------------------------------


class HangingTarget(LoopbackServer):
    """Creates projects and memories, then holds every other request past the client timeout."""

    def __init__(self, hang_s: float) -> None:
        self.hung = 0
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: Any = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _read(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                self._read()
                path = self.path.split("?")[0]
                if path == "/api/v1/projects":
                    return self._answer(201, {"id": f"cHJvag{time.time_ns()}=="})
                if path == "/api/v1/memory-items":
                    return self._answer(201, {"id": f"i{time.time_ns()}", "status": "active"})
                self._hang()

            def do_DELETE(self) -> None:
                self._answer(204)

            def do_GET(self) -> None:
                self._hang()

            def do_PUT(self) -> None:
                self._read()
                self._hang()

            def _hang(self) -> None:
                with target.lock:
                    target.hung += 1
                time.sleep(hang_s)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._listen(Handler)


@pytest.fixture
def hanging() -> Iterator[HangingTarget]:
    server = HangingTarget(hang_s=1.5).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_target_that_hangs_fails_the_error_gate_on_its_timeouts(
    hanging: HangingTarget, tmp_path: Path
) -> None:
    config = ClientConfig(api_url=hanging.url, run_id="pg-hang", timeout_s=0.3)
    started = time.monotonic()
    tally = threaded.send(
        config,
        Ledger(tmp_path, "pg-hang", "gates"),
        requests=40,
        max_seconds=30,
        projects_root=str(tmp_path / "projects"),
        mix=top_up.mix_for_phase("phase2"),
        threads=2,
        progress=lambda _: None,
    )
    assert time.monotonic() - started < 30
    assert hanging.hung > 0
    # Every timeout is a sent request and a failure, not a request that never happened.
    assert tally.transport_errors >= 20, tally.to_dict()
    assert tally.requests >= 40 and tally.failures == tally.transport_errors + tally.server_errors
    assert tally.to_dict()["by_class"]["transport"] == tally.transport_errors

    # The server's counters saw no error at all (it never answered those requests): on its own
    # the error-rate gate would PASS ...
    window = Window(T0, T0 + 3600)
    server_side = evaluate(
        CATALOG.get("error-rate"),
        Observation(query="q", window=window, counts=Counts(0, 5000, window.start, window.end)),
    )
    assert server_side.outcome is Outcome.PASS
    entry = {
        "outcome": server_side.outcome.value,
        "reason": server_side.reason,
        "evidence": server_side.to_dict(),
    }
    # ... but the client's failures count: the gate FAILs, and says why.
    judged = count_client_failures(entry, ClientCounts.from_tallies([tally.to_dict()]))
    assert judged["outcome"] == "fail", judged["reason"]
    assert "without an answer" in judged["reason"] or "transport failures" in judged["reason"]
    assert judged["evidence"]["client_side"]["transport_failures"] == tally.transport_errors

    # With no server data at all (Prometheus had nothing), the client's own requests still FAIL.
    nothing = {"outcome": "inconclusive", "reason": "no data", "evidence": {"threshold": 0.001}}
    alone = count_client_failures(nothing, ClientCounts.from_tallies([tally.to_dict()]))
    assert alone["outcome"] == "fail", alone["reason"]


def server_entry(events: int, total: int) -> dict[str, Any]:
    window = Window(T0, T0 + 3600)
    obs = Observation(query="q", window=window, counts=Counts(events, total, T0, T0 + 3600))
    result = evaluate(CATALOG.get("error-rate"), obs)
    return {"outcome": result.outcome.value, "reason": result.reason, "evidence": result.to_dict()}


def test_a_pass_holds_only_while_the_client_failures_keep_the_bound_under() -> None:
    # 4,000 clean requests: the error-rate design's sample (3,922) is complete and passes.
    entry = server_entry(0, 4000)
    assert entry["outcome"] == "pass"
    judged = count_client_failures(entry, ClientCounts(requests=4000, failures=3, transport=3))
    assert judged["outcome"] == "inconclusive", judged["reason"]
    side = judged["evidence"]["client_side"]
    assert (side["events"], side["total"]) == (3, 4003)
    # Under the fixed design no number of further requests is offered: optional stopping.
    assert side["more_needed"] is None
    assert "the fixed design's sample is undecided" in judged["reason"]
    # Nothing lost on the way: the same entry stays a PASS.
    clean = count_client_failures(entry, ClientCounts(requests=4000, failures=0, transport=0))
    assert clean["outcome"] == "pass"


def test_the_embedded_error_gate_says_it_judges_a_synthetic_mix_and_states_it() -> None:
    mix = top_up.mix_for_phase("phase2").to_dict()
    judged = count_client_failures(server_entry(0, 3100), ClientCounts(3100, 0, 0), mix)
    assert judged["reason"].startswith("synthetic mix (the suite's own traffic: the internal")
    shares = judged["evidence"]["mix"]["shares"]
    assert {"merge-items", "bulk-promote", "pack-generate", "create-module"} <= set(shares)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
