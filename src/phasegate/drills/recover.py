"""The plan's Data Recovery, followed step by step on the embedded SQLite database.

With a recorded dataset (content hashes of items, modules and links of a project of its own, one
item deleted before the record) and traffic running, the drill first takes two copies while the
API writes: the plan's kind (`cp` of the database file alone) and SQLite's online backup API, and
checks each (`PRAGMA integrity_check`, the recorded rows). Then it follows the plan: stop the
API, back up with the plan's `cp` (the .db file only; whether a -wal file still held committed
data at that moment is recorded), damage the data (delete recorded rows and links, then truncate
the file), restore the backup, restart. The restored database must pass `integrity_check`, and
the API must serve every recorded item, module and link identical, with the deleted item still
gone. Restoring moves any -wal/-shm left beside the database aside (a stale WAL replayed over a
restored file would be a second corruption); the timeline says when it does.

Blocking (rule: plan-criterion): the plan's recovery is the last line of defence for users'
memories; a backup that misses committed rows, or a restore that brings back less than was
backed up (or more than the record without saying so), loses data.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from phasegate.drills import dataset
from phasegate.drills.common import DrillContext, DrillSession, seconds
from phasegate.drills.model import BUDGETS, Budget, TrafficWindow, rounded
from phasegate.drills.model import seen as traffic_seen
from phasegate.drills.server import DrillServer, healthy, wait_until
from phasegate.outcomes import Conclusion, Outcome

CHECK_ID = "drill.recover"


@dataclass(frozen=True)
class Copy:
    """One backup file, judged like the running service: integrity and the recorded rows."""

    method: str
    integrity: str
    diff: dataset.Diff | None
    problem: str | None = None
    wal_bytes: int | None = None  # the -wal file beside the source when the copy was taken

    @property
    def consistent(self) -> bool:
        return self.integrity == "ok" and self.diff is not None and self.diff.identical

    def describe(self) -> str:
        if self.integrity != "ok":
            return f"integrity_check: {self.integrity}"
        if self.diff is None:
            return self.problem or "unreadable"
        return self.diff.describe()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "integrity_check": self.integrity,
            "consistent": self.consistent,
            "rows": self.diff.to_dict() if self.diff else None,
            "problem": self.problem,
            "wal_bytes_at_copy": self.wal_bytes,
        }


@dataclass
class RecoverMeasurement:
    budget: Budget
    live_file_copy: Copy | None = None
    live_online_backup: Copy | None = None
    plan_backup: Copy | None = None
    damaged: Copy | None = None
    restored: Copy | None = None
    served: dataset.Diff | None = None
    served_problem: str | None = None
    stopped_s: float | None = None
    recovered_s: float | None = None  # from the stop command until /health 200 after restore
    set_aside: list[str] = field(default_factory=list)
    traffic: TrafficWindow | None = None
    problem: str | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        def copy(value: Copy | None) -> dict[str, Any] | None:
            return value.to_dict() if value else None

        return {
            "budget": self.budget.to_dict(),
            "measured": {
                "recovered_s": rounded(self.recovered_s),
                "stop_s": rounded(self.stopped_s),
            },
            "copies_while_writing": {
                "file_copy": copy(self.live_file_copy),
                "online_backup": copy(self.live_online_backup),
            },
            "plan_backup": copy(self.plan_backup),
            "damaged": copy(self.damaged),
            "restored_file": copy(self.restored),
            "served_after_restore": self.served.to_dict() if self.served else None,
            "served_problem": self.served_problem,
            "set_aside_at_restore": self.set_aside,
            "traffic": self.traffic.to_dict() if self.traffic else None,
            "timeline": self.timeline,
        }


def judge(m: RecoverMeasurement) -> Conclusion:
    facts: dict[str, Any] = {"drill": m.to_dict()}
    if m.problem:
        return Conclusion(
            Outcome.INCONCLUSIVE, f"recovery drill not carried out: {m.problem}", facts
        )
    if m.damaged is not None and m.damaged.consistent:
        return Conclusion(
            Outcome.INCONCLUSIVE,
            "the damage did not take (the damaged file still held every recorded row), so the "
            "restore proved nothing",
            facts,
        )
    failures: list[str] = []
    if m.plan_backup is not None and not m.plan_backup.consistent:
        wal = m.plan_backup.wal_bytes
        beside = (
            f"; a -wal of {wal} bytes was beside it, which the plan's cp leaves out" if wal else ""
        )
        failures.append(
            f"the plan's backup (cp of the stopped database) is inconsistent: "
            f"{m.plan_backup.describe()}{beside}"
        )
    if m.restored is not None and m.restored.integrity != "ok":
        failures.append(f"restored database integrity_check: {m.restored.integrity}")
    if m.served is not None and not m.served.identical:
        failures.append(f"after the restore the API serves: {m.served.describe()}")
    if m.served is None and m.recovered_s is None:
        failures.append("the API did not come back after the restore")
    finding = ""
    if m.live_file_copy is not None and m.live_online_backup is not None:
        finding = (
            f"; copies taken while the API writes: file copy {_state(m.live_file_copy)}, "
            f"online backup {_state(m.live_online_backup)}"
        )
    seen = traffic_seen(m.traffic)
    timing = f"back {seconds(m.recovered_s)} after the stop command"
    if failures:
        return Conclusion(Outcome.FAIL, f"{'; '.join(failures)} ({timing}; {seen}){finding}", facts)
    if m.served is None:
        why = m.served_problem or "the data was not read back after the restore"
        return Conclusion(Outcome.INCONCLUSIVE, f"{why} ({timing}; {seen}){finding}", facts)
    summary = (
        f"restored: integrity ok, every recorded item, module and link identical, the deleted "
        f"item still gone ({timing}; {seen}){finding}"
    )
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})


def _state(copy: Copy) -> str:
    return "consistent" if copy.consistent else f"INCONSISTENT ({copy.describe()})"


def _wal(db: Path) -> Path:
    return db.with_name(db.name + "-wal")


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def judge_copy(method: str, path: Path, stored: dataset.Dataset, wal: int | None) -> Copy:
    check = dataset.integrity(path)
    snap = dataset.read_sqlite(path, stored.project_id)
    if snap.problem:
        return Copy(method, check, None, snap.problem, wal)
    return Copy(method, check, dataset.compare(stored.record, snap, stored.deleted), None, wal)


def file_copy(source: Path, target: Path) -> None:
    """The plan's `cp data/.../skillmeat.db data/.../skillmeat.db.bak`: the file, nothing else."""
    shutil.copyfile(source, target)


def online_backup(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent snapshot of a live database, WAL included."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def damage(db: Path, stored: dataset.Dataset) -> dict[str, Any]:
    """Delete recorded rows and links, then cut the file in half: two kinds of loss at once."""
    victims = sorted(stored.record.items)[:2]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        links = conn.execute(
            "DELETE FROM module_memory_items WHERE module_id IN "
            "(SELECT id FROM context_modules WHERE project_id = ?)",
            (stored.project_id,),
        ).rowcount
        items = conn.execute(
            f"DELETE FROM memory_items WHERE id IN ({','.join('?' * len(victims))})", victims
        ).rowcount
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = db.stat().st_size
    with db.open("r+b") as handle:
        handle.truncate(size // 2)
    return {"links_deleted": links, "items_deleted": items, "truncated_from": size, "to": size // 2}


def restore(backup: Path, db: Path) -> list[str]:
    """Copy the backup over the database; move a leftover -wal/-shm aside (named in the result)."""
    moved: list[str] = []
    for suffix in ("-wal", "-shm"):
        stale = db.with_name(db.name + suffix)
        if stale.exists():
            stale.replace(stale.with_name(stale.name + ".set-aside"))
            moved.append(
                f"{stale.name} ({_size(stale.with_name(stale.name + '.set-aside'))} bytes)"
            )
    shutil.copyfile(backup, db)
    return moved


def run(
    context: DrillContext, server: DrillServer, *, budget: Budget = BUDGETS["recover"]
) -> Conclusion:
    session = DrillSession(context, CHECK_ID, "drill recover")
    m = RecoverMeasurement(budget=budget)
    try:
        _drive(session, server, m)
    finally:
        m.timeline = session.close()
    return judge(m)


def _drive(session: DrillSession, server: DrillServer, m: RecoverMeasurement) -> None:
    timeline, api = session.timeline, session.api
    db = server.database
    if db is None or not db.exists():
        m.problem = f"the database file {db} is not there"
        return
    work = db.parent / "phasegate-drill"
    work.mkdir(exist_ok=True)
    try:
        stored, traffic = session.prepare("recover", 300)
    except dataset.DatasetError as exc:
        m.problem = f"the dataset could not be stored: {exc}"
        return
    live_copy, live_online = work / "live-file-copy.db", work / "live-online-backup.db"
    wal = _size(_wal(db))
    file_copy(db, live_copy)
    timeline.mark("file copy while writing", wal_bytes=wal)
    online_backup(db, live_online)
    timeline.mark("online backup while writing")
    m.live_file_copy = judge_copy("cp of the .db while the API writes", live_copy, stored, wal)
    m.live_online_backup = judge_copy(
        "sqlite3 backup API while the API writes", live_online, stored, wal
    )
    stop_at = timeline.mark("stop the API (plan step 1)")
    server.stop_process()
    m.stopped_s = timeline.now() - stop_at
    wal_after_stop = _size(_wal(db))
    timeline.mark("API stopped", wal_bytes=wal_after_stop)
    backup = db.with_name(db.name + ".bak")
    file_copy(db, backup)
    timeline.mark("plan's backup: cp cache.db cache.db.bak (plan step 2)")
    m.plan_backup = judge_copy("plan: cp of the stopped .db", backup, stored, wal_after_stop)
    done = damage(db, stored)
    timeline.mark("damaged: rows deleted, file truncated", **done)
    m.damaged = judge_copy("damaged file", db, stored, None)
    m.set_aside = restore(backup, db)
    timeline.mark("restored from the backup (plan step 3)", set_aside=m.set_aside)
    m.restored = judge_copy("restored file", db, stored, None)
    timeline.mark("restarting (plan step 4)", integrity=m.restored.integrity)
    server.start_process(flag_on=True)
    back, m.recovered_s, m.traffic = _back_after_restore(
        session, traffic, stop_at, timeout_s=120, gave_up=lambda: server.exited() is not None
    )
    if not back:
        m.served_problem = (
            f"the API did not come back: {server.process and server.process.log_tail()}"
        )
        return
    after = dataset.read_back(api, stored.project_id)
    if after.problem:
        m.served_problem = f"the data could not be read after the restore: {after.problem}"
        return
    m.served = dataset.compare(stored.record, after, stored.deleted)
    timeline.mark("data read back", **after.counts(), diff=m.served.describe())


# -- against a deployment: the user's own backup and restore ----------------------------------


@dataclass
class DeployedRecovery:
    """What the recovery drill saw on a deployment, through the user's commands and the API."""

    budget: Budget
    backed_up_s: float | None = None
    recovered_s: float | None = None  # from the restore command until /health 200
    served: dataset.Diff | None = None
    after_backup_item: str | None = None  # written after the backup; a restore must drop it
    after_backup_served: bool | None = None
    problem: str | None = None
    served_problem: str | None = None
    traffic: TrafficWindow | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget.to_dict(),
            "measured": {
                "backup_s": rounded(self.backed_up_s),
                "recovered_s": rounded(self.recovered_s),
            },
            "served_after_restore": self.served.to_dict() if self.served else None,
            "written_after_backup": {
                "item": self.after_backup_item,
                "served_after_restore": self.after_backup_served,
            },
            "served_problem": self.served_problem,
            "traffic": self.traffic.to_dict() if self.traffic else None,
            "timeline": self.timeline,
        }


def judge_deployed(m: DeployedRecovery) -> Conclusion:
    """Every recorded row back identical; what was written after the backup is gone, and said.

    An item written after the backup that is still served after the restore means the restore
    did not put the backup back (or merged it): the drill then cannot show a recovery and FAILs
    with that reason, since a restore that restores nothing is the failure the plan guards.
    """
    facts: dict[str, Any] = {"drill": m.to_dict()}
    if m.problem:
        return Conclusion(
            Outcome.INCONCLUSIVE, f"recovery drill not carried out: {m.problem}", facts
        )
    seen = traffic_seen(m.traffic)
    timing = f"back {seconds(m.recovered_s)} after the restore command"
    if m.recovered_s is None:
        return Conclusion(
            Outcome.FAIL, f"the API did not come back after the restore ({seen})", facts
        )
    if m.served is None:
        why = m.served_problem or "the data was not read back after the restore"
        return Conclusion(Outcome.INCONCLUSIVE, f"{why} ({timing}; {seen})", facts)
    failures: list[str] = []
    if not m.served.identical:
        failures.append(f"after the restore the API serves: {m.served.describe()}")
    if m.after_backup_served:
        failures.append(
            f"the item written after the backup ({m.after_backup_item}) is still served: the "
            "restore did not put the backup back"
        )
    if failures:
        return Conclusion(Outcome.FAIL, f"{'; '.join(failures)} ({timing}; {seen})", facts)
    summary = (
        "restored through --restore-cmd: every recorded item, module and link identical, the "
        "deleted item still gone, the item written after the backup gone with it (as a restore "
        f"must: data written after the last backup is lost) ({timing}; {seen})"
    )
    return Conclusion(Outcome.PASS, summary, {**facts, "summary": summary})


def run_deployed(
    context: DrillContext,
    *,
    backup: Callable[[], None],
    restore: Callable[[], None],
    budget: Budget = BUDGETS["recover"],
) -> Conclusion:
    """The plan's recovery with the user's commands: record, back up, write more, restore, read.

    The drill never damages a deployment's data itself: the user's restore command replaces the
    database with the backup, which is the change the plan's step 3 makes.
    """
    session = DrillSession(context, CHECK_ID, "drill recover (deployment)")
    m = DeployedRecovery(budget=budget)
    try:
        _drive_deployed(session, m, backup, restore)
    finally:
        m.timeline = session.close()
    return judge_deployed(m)


def _drive_deployed(
    session: DrillSession,
    m: DeployedRecovery,
    backup: Callable[[], None],
    restore: Callable[[], None],
) -> None:
    timeline, api = session.timeline, session.api
    try:
        stored, traffic = session.prepare("recover", 600)
    except dataset.DatasetError as exc:
        m.problem = f"the dataset could not be stored: {exc}"
        return
    backup_at = timeline.mark("backup command (--backup-cmd)")
    backup()
    m.backed_up_s = timeline.now() - backup_at
    timeline.mark("backup done")
    late = api.create_item(
        stored.project_id,
        {"type": "decision", "content": f"{stored.project_name} written after the backup"},
    )
    if late.status_code in (200, 201) and isinstance(late.json(), dict):
        m.after_backup_item = str(late.json().get("id"))
        timeline.mark("item written after the backup", item=m.after_backup_item)
    restore_at = timeline.mark("restore command (--restore-cmd)")
    restore()
    back, m.recovered_s, m.traffic = _back_after_restore(
        session, traffic, restore_at, timeout_s=max(120.0, float(m.budget.seconds or 0))
    )
    if not back:
        return
    after = dataset.read_back(api, stored.project_id)
    if after.problem:
        m.served_problem = f"the data could not be read after the restore: {after.problem}"
        return
    m.served = dataset.compare(stored.record, after, stored.deleted)
    if m.after_backup_item:
        m.after_backup_served = m.after_backup_item in after.items
    timeline.mark("data read back", **after.counts(), diff=m.served.describe())


def _back_after_restore(
    session: DrillSession,
    traffic: Any,
    since: float,
    *,
    timeout_s: float,
    gave_up: Callable[[], bool] = lambda: False,
) -> tuple[bool, float | None, TrafficWindow]:
    """Poll /health after a restore, then stop the traffic: (back?, seconds since `since`, window).

    Both recoveries (the embedded one's restart, a deployment's --restore-cmd) end this way.
    """
    context, timeline = session.context, session.timeline
    url = context.config.api_url.rstrip("/")
    with httpx.Client(timeout=3.0) as http:
        back = wait_until(
            lambda: healthy(http, url),
            timeout_s=timeout_s,
            gave_up=gave_up,
            progress=context.progress,
            waiting="/health after the restore",
        )
    end = timeline.now()
    recovered_s = end - since if back else None
    if back:
        timeline.mark("/health 200 after the restore")
    traffic.stop()
    window = traffic.window(timeline, since, end)
    timeline.mark("traffic stopped", failed=window.failures)
    return back, recovered_s, window
