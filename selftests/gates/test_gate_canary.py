"""Phase 3's checks fail on an injected divergence and pass on two identical backends.

The backends are small doubles (`ArmDouble`: a status, a delay, an error every Nth request, a
body per path) behind a real nginx split built by phasegate.stack.nginx, so attribution,
reload and rollback are nginx's own behaviour, not a simulation of it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from phasegate.canary.divergence import FLAG_FIELD, Answer, Pair, judge_divergence
from phasegate.canary.probe import Attempt, Sender, interleaved, paths, roles
from phasegate.canary.rollback import judge_rollback, run_rollback
from phasegate.canary.verdicts import (
    client_counts,
    client_gate,
    judge_impact,
    judge_memory_difference,
)
from phasegate.client import ClientConfig
from phasegate.gates import load_catalog
from phasegate.gates.design import design_for
from phasegate.outcomes import Outcome
from phasegate.settings import SettingsError, resolve
from phasegate.stack.nginx import Backend, NginxSplit, render_config
from support.loopback import LoopbackServer

CONFIG = ClientConfig(api_url="", api_version="v1", timeout_s=5.0, run_id="pg-selftest")


def row(gate_id):
    return next(spec for spec in load_catalog().specs if spec.id == gate_id)


class ArmDouble(LoopbackServer):
    """One side: 200 with a fixed body per path; optionally slower, or a 500 every Nth request."""

    def __init__(self, *, delay_s=0.0, error_every=0, bodies=None):
        self.delay_s = delay_s
        self.error_every = error_every
        self.bodies = {"/": {"name": "SkillMeat", "version": "0.74.0"}, **(bodies or {})}
        self.count = 0
        self._lock = threading.Lock()
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with double._lock:
                    double.count += 1
                    n = double.count
                if double.delay_s:
                    time.sleep(double.delay_s)
                path = self.path.split("?", 1)[0]
                failing = double.error_every and n % double.error_every == 0
                status = 500 if failing else 200
                body = {"detail": "boom"} if failing else double.bodies.get(path, {"ok": True})
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):
                pass

        self._listen(Handler)


@pytest.fixture
def arms():
    made = []

    def make(**kwargs):
        double = ArmDouble(**kwargs).start()
        made.append(double)
        return double

    yield make
    for double in made:
        double.stop()


@pytest.fixture
def split(tmp_path):
    started = []

    def make(stable, canary, weights=(9, 1)):
        nginx = NginxSplit(
            tmp_path / f"nginx-{len(started)}",
            (Backend("stable", stable.url, weights[0]), Backend("canary", canary.url, weights[1])),
            progress=lambda _: None,
        )
        nginx.start()
        started.append(nginx)
        return nginx

    yield make
    for nginx in started:
        nginx.stop()


def sample(stable, canary, n):
    senders = {
        "stable": Sender(stable.url, CONFIG, "s", "t"),
        "canary": Sender(canary.url, CONFIG, "c", "t"),
    }
    try:
        return interleaved(senders, paths("v1", n))
    finally:
        for sender in senders.values():
            sender.close()


# -- the stack's balancer --------------------------------------------------------------------------


def test_config_is_the_plans_upstream_on_loopback(tmp_path):
    text = render_config(
        tmp_path,
        8080,
        (Backend("stable", "http://127.0.0.1:1", 9), Backend("canary", "http://127.0.0.1:2", 1)),
    )
    assert "server 127.0.0.1:1 weight=9;" in text
    assert "server 127.0.0.1:2 weight=1;" in text
    assert "listen 127.0.0.1:8080;" in text
    assert str(tmp_path / "nginx.pid") in text and "/var/" not in text


def test_every_response_names_its_side_and_the_split_is_nine_to_one(arms, split):
    nginx = split(arms(), arms())
    sender = Sender(nginx.url, CONFIG, "split", "t")
    counted = roles(sender.send("/") for _ in range(200))
    sender.close()
    assert counted == {"stable": 180, "canary": 20}


def test_a_half_split_is_counted_as_half(arms, split):
    nginx = split(arms(), arms(), weights=(1, 1))
    sender = Sender(nginx.url, CONFIG, "split", "t")
    counted = roles(sender.send("/") for _ in range(200))
    sender.close()
    assert counted == {"stable": 100, "canary": 100}
    compare = pytest.importorskip("phasegate.canary.compare")
    assert compare.split_share(counted["canary"], 200).outcome is Outcome.FAIL
    assert compare.split_share(20, 200).outcome is not Outcome.FAIL


# -- the canary's own gates (client side) ----------------------------------------------------------
# The gates judge attempts; the doubles show attempts are counted right (a 500 every 100th
# request is 1%, a delay shows in the latency), then the judgement runs on attempts of the
# design's size made as data, so the file does not send tens of thousands of requests.


def test_the_sample_counts_failures_and_latency_per_side(arms):
    attempts = sample(arms(), arms(error_every=50, delay_s=0.01), 200)
    assert sum(a.failed for a in attempts["canary"]) == 4
    assert sum(a.failed for a in attempts["stable"]) == 0
    assert min(a.latency_s for a in attempts["canary"]) >= 0.01
    assert len(attempts["stable"]) == len(attempts["canary"]) == 200


def made(n, *, error_every=0, latency_s=0.01):
    start = time.monotonic() - 60
    return [
        Attempt(
            "/api/v1/version",
            500 if error_every and (i + 1) % error_every == 0 else 200,
            latency_s,
            "canary",
            started=start + i * 0.01,
        )
        for i in range(n)
    ]


def test_canary_erring_one_percent_fails_its_error_gate():
    n = design_for(row("error-rate")).n
    assert client_gate("error-rate", made(n, error_every=100), row).outcome is Outcome.FAIL
    assert client_gate("error-rate", made(n), row).outcome is Outcome.PASS


def test_identical_backends_pass_both_client_gates():
    n = design_for(row("error-rate")).n
    for gate in ("error-rate", "latency-p95"):
        assert client_gate(gate, made(n), row).outcome is Outcome.PASS, gate


def test_below_the_design_the_error_gate_says_how_many_more():
    conclusion = client_gate("error-rate", made(200), row)
    assert conclusion.outcome is Outcome.INCONCLUSIVE
    assert "more requests" in conclusion.reason


def test_a_canary_over_500ms_fails_its_p95_gate():
    n = max(design_for(row("latency-p95")).n, row("latency-p95").min_samples)
    assert client_gate("latency-p95", made(n, latency_s=0.31), row).outcome is Outcome.PASS
    assert client_gate("latency-p95", made(n, latency_s=0.61), row).outcome is Outcome.FAIL


def test_health_probes_and_429s_are_not_counted():
    attempts = [*made(50), Attempt("/health", 500, 0.01, "canary"), Attempt("/", 429, 0.01, "")]
    counts = client_counts("error-rate", attempts)
    assert (counts.events, counts.total) == (0, 50)


# -- canary against stable: the checks' own 1:1 designs ------------------------------------------


def test_comparisons_fail_on_a_worse_canary_and_pass_on_identical_ones():
    from phasegate.canary import compare

    designs = compare.direct_designs()
    n = max(design_for(row("error-rate")).n, *(d.canary_n for d in designs.values()))

    def arm(role, attempts):
        return compare.ArmSample(
            role=role,
            requests=len(attempts),
            errors=sum(a.failed for a in attempts),
            latencies_s=tuple(a.latency_s + (i % 7) * 0.001 for i, a in enumerate(attempts)),
        )

    def judge(name, canary):
        return getattr(compare, name)(stable, canary, design=designs[name]).outcome

    stable = arm("stable", made(n))
    for name in designs:
        assert judge(name, arm("canary", made(n))) is Outcome.PASS, name
    assert judge("compare_error_rates", arm("canary", made(n, error_every=100))) is Outcome.FAIL
    assert judge("compare_latency", arm("canary", made(n, latency_s=0.31))) is Outcome.FAIL
    assert judge("compare_slow_share", arm("canary", made(n, latency_s=0.6))) is Outcome.FAIL


# -- no divergence ---------------------------------------------------------------------------------


def pairs_from(stable, canary):
    found = []
    for path in ("/", "/api/v1/version", "/api/v1/config/feature-flags"):
        a = Sender(stable.url, CONFIG, "s", "t")
        b = Sender(canary.url, CONFIG, "c", "t")
        left, right = a.send(path), b.send(path)
        found.append(
            Pair(
                path,
                "GET",
                path,
                Answer(left.status, json.dumps(a.last_body)),
                Answer(right.status, json.dumps(b.last_body)),
                frozenset({FLAG_FIELD}),
            )
        )
        a.close()
        b.close()
    return found


def test_a_core_endpoint_answered_differently_fails(arms):
    stable = arms(bodies={"/api/v1/version": {"version": "0.74.0"}})
    canary = arms(bodies={"/api/v1/version": {"version": "0.74.0-canary"}})
    conclusion = judge_divergence(pairs_from(stable, canary))
    assert conclusion.outcome is Outcome.FAIL
    assert "/api/v1/version" in conclusion.reason


def test_ids_timestamps_and_the_flag_itself_are_not_divergence(arms):
    stable = arms(
        bodies={
            "/api/v1/version": {"version": "0.74.0", "id": "a" * 32, "at": "2026-12-02T10:00:00"},
            "/api/v1/config/feature-flags": {FLAG_FIELD: False, "other": True},
        }
    )
    canary = arms(
        bodies={
            "/api/v1/version": {"version": "0.74.0", "id": "b" * 32, "at": "2026-12-02T11:00:00"},
            "/api/v1/config/feature-flags": {FLAG_FIELD: True, "other": True},
        }
    )
    assert judge_divergence(pairs_from(stable, canary)).outcome is Outcome.PASS


def test_memory_endpoints_must_be_refused_by_stable_only():
    good = {"canary": {"write": 201, "list": 200}, "stable": {"write": 503, "list": 503}}
    assert judge_memory_difference(good).outcome is Outcome.PASS
    accepted = {"canary": {"write": 201, "list": 200}, "stable": {"write": 201, "list": 200}}
    assert judge_memory_difference(accepted).outcome is Outcome.FAIL
    canary_off = {"canary": {"write": 503, "list": 503}, "stable": {"write": 503, "list": 503}}
    assert judge_memory_difference(canary_off).outcome is Outcome.FAIL


def test_user_impact_fails_when_reads_land_on_the_other_side():
    alone = [{"project": 201, "write": 201, "reads": [200, 200, 200]}] * 3
    split_reads = [
        {
            "project": 201,
            "write": 201,
            "write_side": "stable",
            "project_side": "stable",
            "reads": [200, 404, 200],
            "read_sides": ["stable", "canary", "stable"],
        },
        *alone[:2],
    ]
    assert judge_impact({"stable-alone": alone, "balancer": alone}, 3).outcome is Outcome.PASS
    failed = judge_impact({"stable-alone": alone, "balancer": split_reads}, 3)
    assert failed.outcome is Outcome.FAIL and "1 of 3 sessions" in failed.reason
    broken_base = judge_impact({"stable-alone": split_reads, "balancer": alone}, 3)
    assert broken_base.outcome is Outcome.INCONCLUSIVE


# -- rollback --------------------------------------------------------------------------------------


def test_rollback_by_reload_drops_nothing_and_ends_on_stable(arms, split):
    canary = arms()
    nginx = split(arms(), canary)
    sender = Sender(nginx.url, CONFIG, "rb", "t")
    run = run_rollback(
        lambda: sender.send("/"),
        [("out of rotation", lambda: nginx.remove("canary")), ("stopped", canary.stop)],
        before_s=0.5,
        after_s=1.0,
    )
    sender.close()
    conclusion = judge_rollback(run)
    assert conclusion.outcome is Outcome.PASS, conclusion.reason
    assert conclusion.facts["failed_during_and_after"] == 0
    assert conclusion.facts["rollback_time_s"] >= 0


def test_a_reload_that_drops_requests_fails(arms, split):
    canary = arms()
    nginx = split(arms(), canary)
    sender = Sender(nginx.url, CONFIG, "rb", "t")

    def restart_instead_of_reload():
        port = nginx.port
        nginx.stop()
        time.sleep(0.3)  # the listening socket is gone: new connections are refused
        nginx.backends = nginx.backends[:1]
        nginx.start(port=port)

    run = run_rollback(
        lambda: sender.send("/"),
        [("restart", restart_instead_of_reload), ("stopped", canary.stop)],
        before_s=0.5,
        after_s=1.0,
    )
    sender.close()
    conclusion = judge_rollback(run)
    assert conclusion.outcome is Outcome.FAIL
    assert conclusion.facts["failed_during_and_after"] > 0


def test_a_canary_left_in_rotation_fails(arms, split):
    canary = arms()
    nginx = split(arms(), canary)
    sender = Sender(nginx.url, CONFIG, "rb", "t")
    run = run_rollback(
        lambda: sender.send("/"), [("stopped only", canary.stop)], before_s=0.5, after_s=1.0
    )
    sender.close()
    assert judge_rollback(run).outcome is Outcome.FAIL


# -- options ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [("canary_url", "not-a-url"), ("stable_url", "ftp://x"), ("canary_selector", "role=canary")],
)
def test_bad_phase3_options_are_usage_errors_naming_the_option(option, value):
    with pytest.raises(SettingsError, match="--" + option.replace("_", "-")):
        resolve({option: value}, {}, {})


def test_selectors_default_to_the_role_label():
    settings = resolve({}, {}, {})
    assert settings.stable_selector == 'role="stable"'
    assert settings.canary_selector == 'role="canary"'
    custom = resolve({"canary_selector": 'instance="api-canary:8080",job="api"'}, {}, {})
    assert custom.canary_selector == 'instance="api-canary:8080",job="api"'


def test_a_missing_side_makes_the_check_say_which_option(tmp_path: Path):
    from phasegate.canary.sides import CanarySides

    sides = CanarySides("http://lb", None, "http://c", 'role="stable"', 'role="canary"', False)
    assert "--stable-url" in (sides.missing("stable", "canary") or "")
    assert sides.missing("canary") is None
    assert "--prometheus-url" in (sides.missing("prometheus") or "")
