"""The plan's phase-3 rollback done while traffic runs, and what users saw during it.

Traffic goes through the balancer at a steady pace on its own thread; the rollback (canary out of
the upstream, balancer reloaded, canary stopped) runs beside it. What counts: how long after the
rollback began a canary-attributed response was last seen (the rollback time), and how many
requests failed from the start of the rollback to the end of the traffic (the plan wants none).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from phasegate.canary.probe import Attempt
from phasegate.outcomes import Conclusion, Outcome


@dataclass(frozen=True)
class RollbackRun:
    attempts: tuple[Attempt, ...]
    began: float  # monotonic: the rollback's first step
    reloaded: float  # the first step returned (the embedded reload returns once new workers serve)
    finished: float  # the canary was stopped
    error: str = ""  # the rollback itself raised


def run_rollback(
    send: Callable[[], Attempt],
    steps: Sequence[tuple[str, Callable[[], None]]],
    *,
    before_s: float = 1.0,
    after_s: float = 3.0,
    interval_s: float = 0.01,
) -> RollbackRun:
    """Traffic before, during and after `steps` (name, action); the times of the steps."""
    attempts: list[Attempt] = []
    stop = threading.Event()

    def traffic() -> None:
        while not stop.is_set():
            attempts.append(send())
            stop.wait(interval_s)

    thread = threading.Thread(target=traffic, name="rollback-traffic", daemon=True)
    thread.start()
    time.sleep(before_s)
    began = time.monotonic()
    marks: dict[str, float] = {}
    error = ""
    try:
        for name, action in steps:
            action()
            marks[name] = time.monotonic()
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    finished = time.monotonic()
    time.sleep(after_s)
    stop.set()
    thread.join(timeout=30)
    reloaded = next(iter(marks.values()), finished)
    return RollbackRun(tuple(attempts), began, reloaded, finished, error)


def judge_rollback(run: RollbackRun) -> Conclusion:
    """PASS: after the rollback every answer came from stable, and no request failed during it."""
    before = [a for a in run.attempts if a.started < run.began]
    during = [a for a in run.attempts if a.started >= run.began]
    canary_after = [a for a in during if a.role == "canary"]
    last_canary = max((a.started + a.latency_s for a in canary_after), default=run.began)
    failed = [a for a in during if a.failed]
    after_stop = [a for a in during if a.started >= run.finished]
    not_stable = [a for a in after_stop if a.role != "stable"]
    facts: dict[str, Any] = {
        "requests_before": len(before),
        "canary_before": sum(a.role == "canary" for a in before),
        "requests_during_and_after": len(during),
        "failed_during_and_after": len(failed),
        "failures": [f"{a.path}: {a.status or a.error}" for a in failed][:10],
        # Until the new workers serve, the canary may still answer; after, it cannot: the time
        # until every response comes from stable is the later of the two.
        "rollback_time_s": round(max(last_canary, run.reloaded) - run.began, 3),
        "last_canary_answer_after_s": round(last_canary - run.began, 3),
        "reload_signalled_after_s": round(run.reloaded - run.began, 3),
        "canary_stopped_after_s": round(run.finished - run.began, 3),
        "requests_after_canary_stopped": len(after_stop),
        "not_from_stable_after_stop": len(not_stable),
    }
    if run.error:
        return Conclusion(Outcome.FAIL, f"the rollback itself failed: {run.error}", facts)
    if not before or sum(a.role == "canary" for a in before) == 0:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            "no response came from the canary before the rollback: nothing was rolled back",
            facts,
        )
    if not after_stop:
        return Conclusion(
            Outcome.INCONCLUSIVE, "no request was answered after the canary stopped", facts
        )
    problems = []
    if failed:
        problems.append(f"{len(failed)} of {len(during)} requests failed during the rollback")
    if not_stable:
        problems.append(
            f"{len(not_stable)} responses after the canary stopped did not come from stable"
        )
    if problems:
        return Conclusion(Outcome.FAIL, "; ".join(problems), facts)
    summary = (
        f"every response from stable {facts['rollback_time_s']:.3f} s after the rollback began; "
        f"0 of {len(during)} requests failed; {len(after_stop)} answers after the stop, all stable"
    )
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})
