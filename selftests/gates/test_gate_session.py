"""One gate evaluation per run: `session.shared_evaluation` and `session.evaluate_gates`.

shared_evaluation is what lets xdist workers share one top-up and one set of Prometheus queries:
the first caller computes under an exclusive flock, later callers (other processes, or other
threads with their own open file) wait on the lock and read the stored result. The tests make
the second caller really wait: the first caller's computation only finishes once the kernel
lists the second one as blocked on the lock (/proc/locks), so the overlap is certain, not timed.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from phasegate.client import ClientConfig
from phasegate.gates.design import fixed_design
from phasegate.gates.evaluate import Counts, Freshness, GateResult, Observation, Window, evaluate
from phasegate.gates.session import (
    TOP_UP_RATE_PER_S,
    GatePlan,
    entry_conclusion,
    evaluate_gates,
    plan_top_up,
    shared_evaluation,
)
from phasegate.gates.soak import SOAK_RATE_PER_S
from phasegate.gates.spec import load_catalog
from phasegate.gates.triangulate import ServerCounts
from phasegate.outcomes import Outcome
from phasegate.resources import Ledger
from phasegate.traffic.threaded import Tally

RUN = "pg-selftest-run"


def lock_path(directory: Path, run_id: str = RUN) -> Path:
    return directory / f"gates-{run_id}.lock"


def wait_for_a_waiter(lock: Path, timeout_s: float = 20.0) -> None:
    """Poll the kernel's lock table until some process or thread is blocked on `lock`."""
    inode = os.stat(lock).st_ino
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if (
                "->" in fields
                and "FLOCK" in fields
                and any(f.rsplit(":", 1)[-1] == str(inode) for f in fields)
            ):
                return
        time.sleep(0.02)
    raise AssertionError(f"nobody blocked on {lock} within {timeout_s} s")


def record(calls: Path, who: str) -> None:
    with calls.open("a", encoding="utf-8") as handle:
        handle.write(who + "\n")


def first_compute(directory: Path, calls: Path, computing: Any) -> Callable[[], dict[str, Any]]:
    def compute() -> dict[str, Any]:
        record(calls, "first")
        computing.set()
        wait_for_a_waiter(lock_path(directory))
        return {"computed_by": "first", "pid": os.getpid(), "gates": {"error-rate": "pass"}}

    return compute


def second_compute(calls: Path) -> Callable[[], dict[str, Any]]:
    def compute() -> dict[str, Any]:
        record(calls, "second")
        return {"computed_by": "second", "pid": os.getpid()}

    return compute


# -- across processes (xdist workers) ------------------------------------------------------------


def _first_process(directory: Path, calls: Path, computing: Any, out: Any) -> None:
    compute = first_compute(directory, calls, computing)
    out.put(("first", shared_evaluation(directory, RUN, compute)))


def _second_process(directory: Path, calls: Path, out: Any) -> None:
    out.put(("second", shared_evaluation(directory, RUN, second_compute(calls))))


def test_processes_compute_once_and_the_second_reads_the_stored_result(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    computing = context.Event()
    out = context.Queue()
    calls = tmp_path / "calls.txt"
    directory = tmp_path / "ledger"
    first = context.Process(target=_first_process, args=(directory, calls, computing, out))
    second = context.Process(target=_second_process, args=(directory, calls, out))
    first.start()
    try:
        assert computing.wait(30), "the first process never started computing"
        second.start()
        results = dict(out.get(timeout=60) for _ in range(2))
    finally:
        for process in (first, second):
            if process.pid is not None:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
                    process.join()
    assert first.exitcode == 0 and second.exitcode == 0
    assert results["first"]["computed_by"] == "first"
    assert results["second"] == results["first"], "the second worker must read the stored result"
    assert results["first"]["pid"] == first.pid
    assert calls.read_text().splitlines() == ["first"], "computed more than once"
    stored = json.loads((directory / f"gates-{RUN}.json").read_text())
    assert stored == results["first"]


# -- across threads (the flock is per open file, so threads exclude each other too) ---------------


def test_threads_compute_once_and_the_second_waits_for_the_first(tmp_path: Path) -> None:
    computing = threading.Event()
    calls = tmp_path / "calls.txt"
    results: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    errors: list[BaseException] = []

    def run(name: str, compute: Callable[[], dict[str, Any]]) -> None:
        try:
            results.put((name, shared_evaluation(tmp_path, RUN, compute)))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    first = threading.Thread(
        target=run, args=("first", first_compute(tmp_path, calls, computing)), daemon=True
    )
    second = threading.Thread(target=run, args=("second", second_compute(calls)), daemon=True)
    first.start()
    assert computing.wait(30)
    second.start()
    first.join(60)
    second.join(60)
    assert not errors, errors
    got = dict(results.get_nowait() for _ in range(2))
    assert got["second"] == got["first"]
    assert got["first"]["computed_by"] == "first"
    assert calls.read_text().splitlines() == ["first"]


def test_a_later_caller_reads_the_stored_result_without_computing(tmp_path: Path) -> None:
    computed = shared_evaluation(tmp_path, RUN, lambda: {"n": 1, "nested": {"ok": True}})

    def must_not_run() -> dict[str, Any]:
        raise AssertionError("the result was stored; nothing may compute again")

    assert (
        shared_evaluation(tmp_path, RUN, must_not_run)
        == computed
        == {
            "n": 1,
            "nested": {"ok": True},
        }
    )


def test_each_run_computes_its_own(tmp_path: Path) -> None:
    assert shared_evaluation(tmp_path, "run-a", lambda: {"run": "a"}) == {"run": "a"}
    assert shared_evaluation(tmp_path, "run-b", lambda: {"run": "b"}) == {"run": "b"}
    assert shared_evaluation(tmp_path, "run-a", lambda: {"run": "other"}) == {"run": "a"}


def test_a_failed_computation_stores_nothing_and_releases_the_lock(tmp_path: Path) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("Prometheus went away")

    with pytest.raises(RuntimeError, match="went away"):
        shared_evaluation(tmp_path, RUN, broken)
    assert not (tmp_path / f"gates-{RUN}.json").exists()
    # Not deadlocked, and the next caller computes for itself.
    assert shared_evaluation(tmp_path, RUN, lambda: {"second": "try"}) == {"second": "try"}


# -- evaluate_gates without a usable Prometheus ---------------------------------------------------


def closed_port_url() -> str:
    """A loopback URL nobody listens on (connection refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def plan(tmp_path: Path, prometheus_url: str | None, *, writes_allowed: bool) -> GatePlan:
    return GatePlan(
        phase="phase2",
        prometheus_url=prometheus_url,
        alertmanager_url=None,
        client=ClientConfig(api_url=closed_port_url(), run_id="pg-selftest"),
        ledger=Ledger(tmp_path / "ledger", "pg-selftest", "gates"),
        projects_root=str(tmp_path / "projects"),
        window_s=600.0,
        monitoring_since=None,
        overrides=None,
        top_up=False,
        writes_allowed=writes_allowed,
        triangulation_requests=50,
    )


def test_without_prometheus_nothing_is_evaluated(tmp_path: Path) -> None:
    messages: list[str] = []
    out = evaluate_gates(plan(tmp_path, None, writes_allowed=True), messages.append)
    assert out == {"gates": {}, "triangulation": None, "blind_spots": None, "traffic": None}
    assert messages == []


@pytest.mark.parametrize("writes_allowed", [False, True], ids=["writes-denied", "writes-allowed"])
def test_an_unreachable_prometheus_is_inconclusive_never_a_traceback(
    tmp_path: Path, writes_allowed: bool
) -> None:
    out = evaluate_gates(
        plan(tmp_path, closed_port_url(), writes_allowed=writes_allowed), lambda _: None
    )
    gates = out["gates"]
    assert {"error-rate", "latency-p95", "alerts-p0", "memory-rss"} <= set(gates)
    for gate_id, entry in gates.items():
        assert entry["outcome"] == "inconclusive", (gate_id, entry["reason"])
        assert entry["reason"], gate_id
        assert entry["evidence"]["id"] == gate_id
    assert "did not answer" in gates["error-rate"]["reason"]
    assert out["traffic"] is None, "no traffic may be sent without a server count to compare"
    if writes_allowed:
        triangulation = out["triangulation"]
        assert triangulation["outcome"] == "inconclusive"
        assert triangulation["reason"].startswith("Prometheus:")
    else:
        assert out["triangulation"] is None
    json.dumps(out)  # stored by shared_evaluation: must be JSON as it is


def test_a_stored_entry_is_its_checks_conclusion() -> None:
    gate = {"outcome": "fail", "reason": "3 errors", "evidence": {"bound": 0.004}}
    conclusion = entry_conclusion(gate)
    assert (conclusion.outcome, conclusion.reason) == (Outcome.FAIL, "3 errors")
    assert conclusion.facts == {"gate": {"bound": 0.004}, "summary": "3 errors"}
    triangulation = {"outcome": "pass", "reason": "agree", "facts": {"server_5xx": 0}}
    assert entry_conclusion(triangulation).facts["gate"] == {"server_5xx": 0}
    assert entry_conclusion({"outcome": "inconclusive", "reason": "r"}).facts["gate"] == {}


# -- the embedded top-up: a size fixed before the first request ----------------------------------


class FakeCounter:
    """The server's counts, always readable: the triangulation is not what these tests judge."""

    def __init__(self, _url: str) -> None:
        self.at = 1000.0

    def last_scrape(self) -> float:
        return self.at

    def scrape_after(self, moment: float) -> float:
        return max(self.at, moment) + 1.0

    def read(self, at: float) -> ServerCounts:
        return ServerCounts(requests=0.0, errors=0.0, rate_limited=0.0, at=at)

    def read_queries(self, queries: Mapping[str, str], at: float) -> dict[str, float]:
        return dict.fromkeys(queries, 0.0)

    def close(self) -> None:
        pass


def window_with(errors: int, requests: int) -> Callable[..., list[GateResult]]:
    """run_gates over a window that holds `errors` 5xx in `requests` requests."""
    spec = load_catalog().get("error-rate")
    start = time.time() - 600
    window = Window(start, start + 600)
    freshness = Freshness(
        selector='job="skillmeat"',
        targets=1,
        targets_up=1,
        scrapes=600,
        expected_scrapes=600,
        last_scrape_age_s=0.5,
        scrape_interval_s=1.0,
    )
    observation = Observation(
        query="q",
        window=window,
        counts=Counts(errors, requests, window.start, window.end),
        freshness=freshness,
    )

    def run_gates(phase: str, **kwargs: Any) -> list[GateResult]:
        ids = kwargs.get("ids")
        return [evaluate(spec, observation)] if ids else []

    return run_gates


def top_up_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errors: int, requests: int
) -> tuple[list[int], dict[str, Any]]:
    """Run evaluate_gates with top-up on a window of `errors` in `requests`; what was sent."""
    import phasegate.gates.session as session

    asked: list[int] = []

    def fake_send(config: ClientConfig, ledger: Ledger, *, requests: int, **_: Any) -> Tally:
        asked.append(requests)
        now = time.time()
        return Tally(requests=requests, started=now, finished=now)

    monkeypatch.setattr(session, "Counter", FakeCounter)
    monkeypatch.setattr(session, "run_gates", window_with(errors, requests))
    monkeypatch.setattr(session, "send", fake_send)
    top_up = replace(plan(tmp_path, "http://prometheus.invalid", writes_allowed=True), top_up=True)
    out = evaluate_gates(top_up, lambda _: None)
    return asked, out["traffic"]


def test_errors_in_the_window_do_not_change_the_traffic_sent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The old top-up asked the gate again after each round: every 5xx bought ~1,700 more clean
    requests until the bound passed. The size is now fixed by counts alone, in one burst."""
    clean, clean_facts = top_up_with(tmp_path, monkeypatch, 0, 1000)
    failing, failing_facts = top_up_with(tmp_path, monkeypatch, 3, 1000)
    assert len(clean) == len(failing) == 1, "one burst, never a second round"
    assert clean == failing
    design = fixed_design(0.001)
    lacking = design.n - 1000
    assert clean[0] == lacking + int(lacking * 0.02) + 50
    for facts in (clean_facts, failing_facts):
        assert facts["planned"] == facts["sent"] == clean[0]  # the fake sends exactly that
        assert facts["in_window_before"] == 1000
        assert facts["design"]["n"] == design.n
        assert (facts["design"]["alpha"], facts["design"]["beta"]) == (0.05, 0.1)
        assert len(facts["bursts"]) == 1


def test_the_top_up_is_capped_and_never_below_the_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, facts = top_up_with(tmp_path, monkeypatch, 0, 50_000)
    assert full == [50], "a window past the design's n still gets the comparison's traffic"
    assert facts["planned"] == 50
    design = fixed_design(0.001)
    assert plan_top_up(design, 0, minimum=50, cap=1000).planned == 1000
    assert plan_top_up(None, 0, minimum=300, cap=8000).planned == 300


# -- --soak through evaluate_gates -------------------------------------------------------------


def soak_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float, *, writes_allowed: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    import phasegate.gates.session as session

    calls: list[dict[str, Any]] = []

    def fake_send(config: ClientConfig, ledger: Ledger, **kwargs: Any) -> Tally:
        calls.append(kwargs)
        if kwargs.get("rate_per_s") == SOAK_RATE_PER_S:  # the soak runs for the time it was given
            time.sleep(kwargs["max_seconds"])
        now = time.time()
        return Tally(requests=4, started=now, finished=now)

    cpu = GateResult(
        id="cpu",
        title="CPU",
        outcome=Outcome.INCONCLUSIVE,
        observed=None,
        bound=None,
        threshold=0.8,
        comparator="<",
        samples=3,
        query="q",
        window=None,
        reason="3 samples over 20s: needs 10 samples over at least 5m",
    )
    monkeypatch.setattr(session, "Counter", FakeCounter)
    in_window = window_with(0, 50_000)  # the design's n is already there: no top-up to speak of
    monkeypatch.setattr(
        session, "run_gates", lambda phase, **kw: in_window(phase, **kw) if kw.get("ids") else [cpu]
    )
    monkeypatch.setattr(session, "send", fake_send)
    soaking = replace(
        plan(tmp_path, "http://prometheus.invalid", writes_allowed=writes_allowed),
        top_up=True,
        window_s=None,
        monitoring_since=time.time() - 20,
        soak_s=seconds,
    )
    return calls, evaluate_gates(soaking, lambda _: None)


def test_a_short_soak_runs_bounded_traffic_for_that_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, out = soak_with(tmp_path, monkeypatch, 1.5, writes_allowed=True)
    # Every driver call is paced: the soak at its steady rate, the top-up at its own.
    assert calls and all(c.get("rate_per_s") for c in calls), "unpaced traffic"
    soaked = [c for c in calls if c["rate_per_s"] == SOAK_RATE_PER_S]
    assert soaked, "the soak sends traffic through the threaded driver"
    assert [c for c in calls if c["rate_per_s"] == TOP_UP_RATE_PER_S], "top-up paced"
    assert sum(c["max_seconds"] for c in soaked) == pytest.approx(1.5, abs=0.5)
    assert out["soak"]["planned_s"] == 1.5 and out["soak"]["reason"] == "--soak"
    assert out["soak"]["covered_s"] >= 1.0
    # The cpu gate's window was not covered: it says how much was, and what would be.
    reason = out["gates"]["cpu"]["reason"]
    assert "the run covered" in reason and "of the 5m window this gate needs" in reason
    assert reason.endswith("use --soak 5m")


def test_a_soak_without_writes_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, out = soak_with(tmp_path, monkeypatch, 1.5, writes_allowed=False)
    assert calls == []
    assert out["soak"]["covered_s"] == 0.0
    assert "writes denied" in out["soak"]["reason"]
