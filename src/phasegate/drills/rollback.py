"""The plan's Full Rollback (< 5 minutes): the previous release over the same data, timed.

The drill stores a dataset on the release under test, starts traffic, runs the rollback and
times two things from the command: `/health` answering 200, and a smoke subset passing (the
service root, the project list, and memory reads of the stored dataset: its items, one item by
id, its modules). It then reads the dataset through the older release (what the rollback keeps)
and rolls forward again to the release under test, where every item, module and link must be
back identical. An older release that does not start on the database the newer one migrated,
a smoke subset that never passes, a rollback over budget, or data lost either way FAILs.

Blocking (rule: plan-criterion): a rollback that takes longer than the plan's five minutes, or
that cannot serve the data it rolled back to, is not the safety net the plan promises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from phasegate.client import SkillMeatClient
from phasegate.drills import dataset
from phasegate.drills.common import Action, DrillContext, DrillSession, seconds
from phasegate.drills.model import BUDGETS, Budget, TrafficWindow, rounded
from phasegate.drills.model import seen as traffic_seen
from phasegate.drills.server import healthy, wait_until
from phasegate.outcomes import Conclusion, Outcome

CHECK_ID = "drill.rollback"


@dataclass
class RollbackMeasurement:
    budget: Budget
    versions: tuple[str, str]  # (under test, rolled back to)
    healthy_s: float | None = None
    smoke_s: float | None = None
    served_version: str | None = None
    last_smoke: list[dict[str, Any]] = field(default_factory=list)
    exited: str | None = None  # the older release stopped by itself (code and log tail)
    kept: dataset.Diff | None = None  # the dataset as the older release serves it
    kept_problem: str | None = None
    forward: dataset.Diff | None = None  # back on the release under test
    forward_problem: str | None = None
    traffic: TrafficWindow | None = None
    problem: str | None = None
    rolled_back: bool = False  # the rollback command ran
    rolled_forward: bool = False  # the roll-forward command ran (after it)
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget.to_dict(),
            "versions": {"under_test": self.versions[0], "rolled_back_to": self.versions[1]},
            "measured": {
                "healthy_s": rounded(self.healthy_s),
                "smoke_subset_s": rounded(self.smoke_s),
                "served_version": self.served_version,
            },
            "smoke_subset_last": self.last_smoke,
            "exited": self.exited,
            "data_on_previous_release": self.kept.to_dict() if self.kept else None,
            "data_on_previous_release_problem": self.kept_problem,
            "data_after_roll_forward": self.forward.to_dict() if self.forward else None,
            "data_after_roll_forward_problem": self.forward_problem,
            "traffic": self.traffic.to_dict() if self.traffic else None,
            "timeline": self.timeline,
        }


def judge(m: RollbackMeasurement) -> Conclusion:
    facts: dict[str, Any] = {"drill": m.to_dict()}
    if m.problem:
        return Conclusion(
            Outcome.INCONCLUSIVE, f"rollback drill not carried out: {m.problem}", facts
        )
    failures: list[str] = []
    old = m.versions[1]
    if m.healthy_s is None:
        why = f" ({m.exited})" if m.exited else ""
        failures.append(f"{old} never answered /health 200 on the migrated database{why}")
    elif m.smoke_s is None:
        failing = [f"{p['probe']} -> {p['status']}" for p in m.last_smoke if not p.get("ok")]
        failures.append(f"the smoke subset never passed on {old}: {', '.join(failing)}")
    budget = m.budget.seconds
    if m.smoke_s is not None and budget is not None and m.smoke_s > budget:
        failures.append(
            f"smoke subset passed after {m.smoke_s:.1f} s, over the plan's {budget:.0f} s"
        )
    if m.kept is not None and not m.kept.identical:
        failures.append(f"data on {old}: {m.kept.describe()}")
    if m.forward is not None and not m.forward.identical:
        failures.append(f"data after rolling forward: {m.forward.describe()}")
    seen = traffic_seen(m.traffic)
    timing = f"healthy {seconds(m.healthy_s)}, smoke subset {seconds(m.smoke_s)} after the command"
    if failures:
        return Conclusion(Outcome.FAIL, f"{'; '.join(failures)} ({timing}; {seen})", facts)
    if m.kept is None or m.forward is None:
        why = m.kept_problem or m.forward_problem or "the data was not read back"
        return Conclusion(Outcome.INCONCLUSIVE, f"{why} ({timing}; {seen})", facts)
    summary = (
        f"rolled back to {old} in {m.smoke_s:.1f} s (budget {budget:.0f} s): {timing}; {seen}; "
        "the data identical on the previous release and after rolling forward"
    )
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})


def smoke_subset(api: SkillMeatClient, stored: dataset.Dataset) -> list[dict[str, Any]]:
    """A few core and memory reads of the stored dataset; each {probe, status, ok}."""
    item_id = next(iter(sorted(stored.record.items)), "")
    probes: list[tuple[str, Callable[[], httpx.Response]]] = [
        ("GET /", api.root),
        ("GET /api/v1/projects", lambda: api.api("GET", "/projects")),
        ("GET /memory-items", lambda: api.list_items(stored.project_id)),
        ("GET /memory-items/{id}", lambda: api.get_item(item_id)),
        ("GET /context-modules", lambda: api.list_modules(stored.project_id)),
    ]
    results: list[dict[str, Any]] = []
    for label, call in probes:
        try:
            status: int | None = call().status_code
        except httpx.HTTPError:
            status = None
        results.append({"probe": label, "status": status, "ok": status == 200})
    return results


def run(
    context: DrillContext,
    *,
    rollback: Action,
    forward: Action,
    versions: tuple[str, str],
    budget: Budget = BUDGETS["rollback"],
    exited: Callable[[], str | None] = lambda: None,
) -> Conclusion:
    session = DrillSession(context, CHECK_ID, "drill rollback")
    m = RollbackMeasurement(budget=budget, versions=versions)
    try:
        _drive(session, m, rollback, forward, exited)
    finally:
        if m.rolled_back and not m.rolled_forward:
            # Whatever stopped the drill, the target is not left on the older release.
            session.timeline.mark("roll-forward command (drill interrupted)")
            try:
                forward()
            except Exception as exc:
                session.timeline.mark("roll-forward failed", error=repr(exc)[:300])
        m.timeline = session.close()
    return judge(m)


def _drive(
    session: DrillSession,
    m: RollbackMeasurement,
    rollback: Action,
    forward: Action,
    exited: Callable[[], str | None],
) -> None:
    context, timeline, api = session.context, session.timeline, session.api
    url = context.config.api_url.rstrip("/")
    observe_s = (m.budget.seconds or 300.0) + 30.0
    try:
        stored, traffic = session.prepare("rollback", observe_s + 120)
    except dataset.DatasetError as exc:
        m.problem = f"the dataset could not be stored: {exc}"
        return
    command_at = timeline.mark(f"rollback command ({m.versions[0]} -> {m.versions[1]})")
    try:
        m.rolled_back = True
        rollback()
    except Exception as exc:
        m.problem = f"the rollback command failed: {exc}"
        return
    timeline.mark("rollback command returned")
    with httpx.Client(timeout=3.0) as http:

        def up() -> bool:
            if m.healthy_s is None and healthy(http, url):
                m.healthy_s = timeline.now() - command_at
                timeline.mark("/health 200")
            if m.healthy_s is None:
                return False
            m.last_smoke = smoke_subset(api, stored)
            if all(p["ok"] for p in m.last_smoke):
                m.smoke_s = timeline.now() - command_at
                timeline.mark("smoke subset passed")
                return True
            return False

        def dead() -> bool:
            m.exited = exited()
            return m.exited is not None

        wait_until(
            up,
            timeout_s=observe_s,
            interval_s=1.0,
            gave_up=dead,
            progress=context.progress,
            waiting=f"{m.versions[1]}: /health 200 and the smoke subset",
        )
        if m.exited:
            timeline.mark("previous release exited", exited=m.exited[:200])
        end = timeline.now()
        traffic.stop()
        m.traffic = traffic.window(timeline, command_at, end)
        timeline.mark("traffic stopped", failed=m.traffic.failures)
        try:
            m.served_version = str(http.get(f"{url}/").json().get("version"))
        except (httpx.HTTPError, ValueError, AttributeError):
            m.served_version = None
        if m.healthy_s is not None:
            kept = dataset.read_back(api, stored.project_id)
            if kept.problem:
                m.kept_problem = f"{m.versions[1]} does not serve the dataset: {kept.problem}"
                m.kept = dataset.compare(stored.record, dataset.Snapshot(), stored.deleted)
            else:
                m.kept = dataset.compare(stored.record, kept, stored.deleted)
            timeline.mark("data read on the previous release", diff=m.kept.describe())
        timeline.mark(f"roll-forward command ({m.versions[1]} -> {m.versions[0]})")
        try:
            m.rolled_forward = True
            forward()
        except Exception as exc:
            m.forward_problem = f"the roll-forward command failed: {exc}"
            return
        if not wait_until(
            lambda: healthy(http, url),
            timeout_s=observe_s,
            progress=context.progress,
            waiting=f"{m.versions[0]}: /health after rolling forward",
        ):
            m.forward_problem = f"{m.versions[0]} did not come back after the roll-forward"
            return
        timeline.mark("rolled forward, /health 200")
        after = dataset.read_back(api, stored.project_id)
        if after.problem:
            m.forward_problem = f"the data could not be read after rolling forward: {after.problem}"
        else:
            m.forward = dataset.compare(stored.record, after, stored.deleted)
            timeline.mark("data read back", **after.counts(), diff=m.forward.describe())
