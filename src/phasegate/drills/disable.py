"""The plan's Immediate Disable (< 1 minute), timed with data stored and traffic running.

The plan's command re-creates the API with `SKILLMEAT_MEMORY_CONTEXT_ENABLED=false`. The drill
counts the disable done when three things hold, each timed from the command: the config reports
the flag OFF, a memory write is refused (403, 404 or 503, phase 1's rule), and `/health`
answers 200. A disable whose config says OFF while writes still land does not disable: that
FAILs with the accepted write as evidence. Then the flag goes back ON and every item, module
and link stored before must be there, identical.

Blocking (rule: plan-criterion): the plan's safety net is this command; if it is slow, stops
nothing, or loses data, the rollout has no way back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from phasegate.drills import dataset
from phasegate.drills.common import (
    Action,
    DrillContext,
    DrillSession,
    flag_state,
    refused,
    seconds,
    write_probe,
)
from phasegate.drills.model import (
    BUDGETS,
    Budget,
    TrafficWindow,
    rounded,
)
from phasegate.drills.model import seen as traffic_seen
from phasegate.drills.server import healthy, wait_until
from phasegate.outcomes import Conclusion, Outcome

CHECK_ID = "drill.disable"
REFUSAL_PROBES = 3  # writes tried once the flag reads OFF before "the disable does not disable"


@dataclass
class DisableMeasurement:
    budget: Budget
    flag_off_s: float | None = None  # seconds after the command
    healthy_s: float | None = None
    refused_s: float | None = None
    command_s: float | None = None  # how long the command itself ran
    probes: list[dict[str, Any]] = field(default_factory=list)
    traffic: TrafficWindow | None = None
    data: dataset.Diff | None = None
    data_problem: str | None = None
    reenable_healthy_s: float | None = None
    flag_reported: bool = False  # the config answered the flag as a boolean at least once
    disabled: bool = False  # the disable command ran
    enabled: bool = False  # the enable command ran (after it)
    problem: str | None = None  # the drill could not be carried out
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done_s(self) -> float | None:
        marks = (self.flag_off_s, self.healthy_s, self.refused_s)
        return None if any(m is None for m in marks) else max(m for m in marks if m is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget.to_dict(),
            "measured": {
                "command_s": rounded(self.command_s),
                "flag_off_s": rounded(self.flag_off_s),
                "healthy_s": rounded(self.healthy_s),
                "memory_refused_s": rounded(self.refused_s),
                "disabled_s": rounded(self.done_s),
                "reenable_healthy_s": rounded(self.reenable_healthy_s),
            },
            "flag_reported": self.flag_reported,
            "write_probes": self.probes,
            "traffic": self.traffic.to_dict() if self.traffic else None,
            "data_after_reenable": self.data.to_dict() if self.data else None,
            "data_problem": self.data_problem,
            "timeline": self.timeline,
        }


def judge(m: DisableMeasurement) -> Conclusion:
    """FAIL on: flag never OFF, service not healthy, writes not refused, over budget, data lost."""
    facts: dict[str, Any] = {"drill": m.to_dict()}
    if m.problem:
        return Conclusion(
            Outcome.INCONCLUSIVE, f"disable drill not carried out: {m.problem}", facts
        )
    if m.flag_off_s is None and not m.flag_reported:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            "GET /config/feature-flags never reported memory_context_enabled after the disable: "
            "whether the flag is OFF cannot be known",
            facts,
        )
    failures: list[str] = []
    if m.flag_off_s is None:
        failures.append("the config never reported the flag OFF")
    if m.healthy_s is None:
        failures.append("/health never answered 200 after the disable")
    if m.refused_s is None:
        accepted = [p.get("status") for p in m.probes]
        failures.append(
            "the disable does not disable: with the flag reported OFF, memory writes were "
            f"not refused (POST /memory-items answered {accepted}, expected 403, 404 or 503)"
        )
    budget = m.budget.seconds
    if m.done_s is not None and budget is not None and m.done_s > budget:
        failures.append(f"disabled after {m.done_s:.1f} s, over the plan's {budget:.0f} s")
    if m.data is not None and not m.data.identical:
        failures.append(f"data after re-enable: {m.data.describe()}")
    seen = traffic_seen(m.traffic)
    timing = (
        f"flag OFF {seconds(m.flag_off_s)}, healthy {seconds(m.healthy_s)}, "
        f"writes refused {seconds(m.refused_s)} after the command"
    )
    if failures:
        return Conclusion(Outcome.FAIL, f"{'; '.join(failures)} ({timing}; {seen})", facts)
    if m.data is None:
        why = m.data_problem or "the data was not read back after re-enable"
        return Conclusion(Outcome.INCONCLUSIVE, f"{why} ({timing}; {seen})", facts)
    summary = (
        f"disabled in {m.done_s:.1f} s (budget {budget:.0f} s): {timing}; {seen}; "
        f"every item, module and link back after re-enable"
    )
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})


def run(
    context: DrillContext,
    *,
    disable: Action,
    enable: Action,
    budget: Budget = BUDGETS["disable"],
) -> Conclusion:
    """Store data, start traffic, disable, time it, re-enable, read the data back."""
    session = DrillSession(context, CHECK_ID, "drill disable")
    m = DisableMeasurement(budget=budget)
    try:
        _drive(session, m, disable=disable, enable=enable)
    finally:
        if m.disabled and not m.enabled:
            # Whatever stopped the drill, the target is not left with the feature switched off.
            session.timeline.mark("re-enable command (drill interrupted)")
            try:
                enable()
            except Exception as exc:
                session.timeline.mark("re-enable failed", error=repr(exc)[:300])
        m.timeline = session.close()
    return judge(m)


def _drive(
    session: DrillSession, m: DisableMeasurement, *, disable: Action, enable: Action
) -> None:
    context, timeline, api = session.context, session.timeline, session.api
    url = context.config.api_url.rstrip("/")
    observe_s = max(2 * (m.budget.seconds or 60.0), 10.0)
    try:
        stored, traffic = session.prepare("disable", observe_s + 120)
    except dataset.DatasetError as exc:
        m.problem = f"the dataset could not be stored: {exc}"
        return
    command_at = timeline.mark("disable command")
    try:
        m.disabled = True
        disable()
    except Exception as exc:
        m.problem = f"the disable command failed: {exc}"
        return
    m.command_s = timeline.now() - command_at
    timeline.mark("disable command returned")
    with httpx.Client(timeout=3.0) as http:

        def settled() -> bool:
            now = timeline.now() - command_at
            if m.flag_off_s is None:
                flag = flag_state(http, url, context.config.api_version)
                m.flag_reported = m.flag_reported or flag is not None
                if flag is False:
                    m.flag_off_s = now
                    timeline.mark("config reports the flag OFF")
            if m.healthy_s is None and healthy(http, url):
                m.healthy_s = now
                timeline.mark("/health 200")
            if m.flag_off_s is not None and m.refused_s is None:
                probe = write_probe(api, stored.project_id, stored.project_name)
                probe["t_s"] = round(now, 3)
                m.probes.append(probe)
                if refused(probe):
                    m.refused_s = now
                    timeline.mark("memory write refused", status=probe["status"])
                else:
                    timeline.mark("memory write NOT refused", status=probe["status"])
            return m.done_s is not None

        def hopeless() -> bool:
            # Writes still land with the flag reported OFF: more probes would only add rows.
            return len(m.probes) >= REFUSAL_PROBES and m.refused_s is None

        wait_until(
            settled,
            timeout_s=observe_s,
            interval_s=0.5,
            gave_up=hopeless,
            progress=context.progress,
            waiting="the flag OFF, /health 200 and a refused write",
        )
        end = timeline.now()
        time.sleep(2.0)  # the traffic's view a moment past the switch
        traffic.stop()
        m.traffic = traffic.window(timeline, command_at, end + 2.0)
        timeline.mark("traffic stopped", failed=m.traffic.failures)
        enable_at = timeline.mark("re-enable command")
        try:
            m.enabled = True
            enable()
        except Exception as exc:
            m.data_problem = f"the enable command failed: {exc}"
            return
        if wait_until(
            lambda: healthy(http, url),
            timeout_s=observe_s,
            progress=context.progress,
            waiting="/health after re-enabling",
        ):
            m.reenable_healthy_s = timeline.now() - enable_at
            timeline.mark("re-enabled, /health 200")
        after = dataset.read_back(api, stored.project_id)
        if after.problem:
            m.data_problem = f"the data could not be read after re-enable: {after.problem}"
        else:
            m.data = dataset.compare(stored.record, after, stored.deleted)
            timeline.mark("data read back", **after.counts(), diff=m.data.describe())
