"""--soak and the coverage of span-based gates, on a fake clock and a fake traffic driver.

No timed asserts: the soak's clock is a counter the fake driver advances by exactly the seconds
it was asked to run, so the minute-by-minute plan is checked as arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from phasegate.gates.soak import (
    AUTO_SOAK_MAX_S,
    MINUTE_S,
    auto_soak_s,
    coverage_note,
    soak,
)
from phasegate.gates.spec import load_catalog

CATALOG = load_catalog()
PHASE2 = CATALOG.for_phase("phase2")


@dataclass
class FakeTally:
    requests: int
    server_errors: int = 0


class FakeDriver:
    """Sends 'traffic' by advancing the clock by the seconds it was given, 4 requests a second."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.asked: list[float] = []

    def clock(self) -> float:
        return self.now

    def burst(self, seconds: float) -> FakeTally:
        self.asked.append(seconds)
        self.now += seconds
        return FakeTally(requests=int(seconds * 4), server_errors=0)


@pytest.mark.parametrize(("seconds", "bursts"), [(3.0, [3.0]), (150.0, [60.0, 60.0, 30.0])])
def test_a_soak_runs_traffic_for_its_whole_duration_a_minute_at_a_time(
    seconds: float, bursts: list[float]
) -> None:
    driver = FakeDriver()
    lines: list[str] = []
    report = soak(seconds, driver.burst, lines.append, clock=driver.clock)
    assert driver.asked == bursts
    assert sum(driver.asked) == seconds == report.covered_s
    assert all(b <= MINUTE_S for b in driver.asked)
    assert report.requests == int(seconds * 4)
    # One line up front, then one per minute of traffic.
    assert len(lines) == 1 + len(bursts)
    assert lines[-1].startswith(f"soak: {'3s' if seconds == 3 else '2m30s'} of ")
    assert report.to_dict()["minutes"] == [
        {"requests": int(b * 4), "server_errors": 0} for b in bursts
    ]


def test_no_soak_sends_nothing() -> None:
    driver = FakeDriver()
    report = soak(0.0, driver.burst, lambda _: None, clock=driver.clock)
    assert driver.asked == [] and report.requests == 0


def test_the_embedded_run_closes_only_a_small_gap_to_the_cpu_window() -> None:
    cpu = CATALOG.get("cpu")
    assert cpu.min_span_s == 300
    assert auto_soak_s(PHASE2, 270.0) == pytest.approx(45.0)
    assert auto_soak_s(PHASE2, 300.0 - AUTO_SOAK_MAX_S + 15.0) == pytest.approx(AUTO_SOAK_MAX_S)
    assert auto_soak_s(PHASE2, 120.0) == 0.0, "3 minutes short is not cheap: INCONCLUSIVE"
    assert auto_soak_s(PHASE2, 400.0) == 0.0
    # The hour-long slopes are closed by themselves only when the run is nearly an hour.
    assert auto_soak_s([CATALOG.get("memory-leak")], 600.0) == 0.0
    assert auto_soak_s([CATALOG.get("memory-leak")], 3600 - 60.0) == pytest.approx(75.0)


def test_an_uncovered_window_says_how_much_was_covered_and_what_would_do() -> None:
    cpu = CATALOG.get("cpu")
    assert coverage_note(cpu, 200.0) == (
        "the run covered 3m20s of the 5m window this gate needs; use --soak 5m"
    )
    assert coverage_note(cpu, 301.0) is None
    leak = CATALOG.get("memory-leak")
    assert coverage_note(leak, 400.0) == (
        "the run covered 6m40s of the 1h window this gate needs; use --soak 1h"
    )
    assert coverage_note(CATALOG.get("error-rate"), 10.0) is None
