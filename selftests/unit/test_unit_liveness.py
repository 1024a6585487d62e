"""The liveness probe and watchdog, and the database-size exporter's "no sample" rule.

No timed assertions (speed goals are measured by bench/dead_target.py): the probe's budget is
checked on an injected clock, the watchdog on an injected refusal function.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx

from phasegate import liveness
from phasegate.stack.monitoring import FileSizeExporter, database_size, sqlite_files


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def refusing(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def test_an_unanswered_probe_stays_inside_its_budget_and_says_so() -> None:
    clock = FakeClock()
    result = liveness.probe(
        "http://127.0.0.1:9/health",
        budget_s=10.0,
        attempts=4,
        transport=httpx.MockTransport(refusing),
        clock=clock,
        sleep=clock.sleep,
    )
    assert not result.answered
    assert result.attempts == 4
    assert sum(clock.sleeps) <= 10.0
    assert result.elapsed_s <= 10.0
    reason = result.reason()
    assert reason.startswith("target http://127.0.0.1:9/health unreachable: ConnectError")
    assert "Connection refused" in reason and "probed 4 times over" in reason


def test_any_http_answer_counts_as_answered_at_the_first_attempt() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(503))
    result = liveness.probe("http://sm.test/health", transport=transport)
    assert (result.answered, result.attempts, result.status) == (True, 1, 503)


def test_a_real_closed_port_is_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = liveness.probe_target(url, budget_s=1.0, attempts=2)
    assert not result.answered and result.attempts == 2
    assert "unreachable" in result.reason()
    assert liveness.tcp_refused(url) is not None


def test_monitoring_is_probed_once() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    result = liveness.probe_monitoring("http://prom.test", transport=httpx.MockTransport(handler))
    assert seen == ["/-/ready"]
    assert result.reason("Prometheus").startswith("Prometheus http://prom.test/-/ready unreachable")
    assert "probed 1 time over" in result.reason()


def test_the_watchdog_reports_death_once_with_the_first_refusal_and_the_running_check() -> None:
    answers = iter([None, None, "ConnectionRefusedError: refused", "refused", "refused", "x"])
    deaths: list[liveness.Death] = []
    done = threading.Event()

    def on_death(death: liveness.Death) -> None:
        deaths.append(death)
        done.set()

    dog = liveness.Watchdog(
        "http://127.0.0.1:9",
        on_death,
        period_s=0.01,
        failures=3,
        running=lambda: ("test_checks.py::test_slow",),
        refused=lambda url: next(answers),
    ).start()
    assert done.wait(5)
    dog.stop()
    [death] = deaths
    assert death.probes == 3
    assert death.error == "ConnectionRefusedError: refused"
    assert death.running == ("test_checks.py::test_slow",)
    assert death.died_at.endswith("Z") and death.died_at >= death.last_alive_at
    reason = death.reason("svc.slow")
    assert f"died at {death.died_at} while svc.slow was running" in reason


def test_a_port_that_listens_but_never_serves_is_not_dead() -> None:
    # A hanging server is judged by the error gates (timeouts), not declared dead.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        assert liveness.tcp_refused(f"http://127.0.0.1:{server.getsockname()[1]}") is None


def test_the_death_notice_round_trips(tmp_path: Path) -> None:
    death = liveness.Death("http://x", "2026-01-01T00:00:01Z", "2026-01-01T00:00:00Z", "e", 3)
    path = liveness.notice_path(tmp_path, "run-1")
    assert liveness.read_notice(path) is None
    liveness.write_notice(path, liveness.StopNotice("it died", death))
    assert liveness.read_notice(path) == liveness.StopNotice("it died", death)
    liveness.write_notice(path, liveness.StopNotice("never answered"))
    assert liveness.read_notice(path) == liveness.StopNotice("never answered")


# -- the database-size exporter ------------------------------------------------------------------


def test_a_missing_database_gets_no_sample_not_zero(tmp_path: Path) -> None:
    present = tmp_path / "cache.db"
    present.write_bytes(b"x" * 4096)
    (tmp_path / "cache.db-wal").write_bytes(b"y" * 100)  # -shm absent: a companion may be
    exporter = FileSizeExporter(
        {"present": sqlite_files(present), "gone": sqlite_files(tmp_path / "missing.db")}
    )
    text = exporter.render()
    samples = [line for line in text.splitlines() if not line.startswith("#")]
    assert samples == ['phasegate_database_size_bytes{database="present"} 4196']
    assert "# database gone: no sample, cannot read" in text
    assert database_size(sqlite_files(tmp_path / "missing.db")) == (
        f"cannot read {tmp_path / 'missing.db'}: No such file or directory"
    )


def test_the_exporter_serves_no_sample_for_an_unreadable_database(tmp_path: Path) -> None:
    exporter = FileSizeExporter({"gone": [tmp_path / "missing.db"]})
    exporter.start()
    try:
        text = httpx.get(f"{exporter.url}/metrics", timeout=5).text
    finally:
        exporter.stop()
    assert "phasegate_database_size_bytes{" not in text
    assert "# TYPE phasegate_database_size_bytes gauge" in text
