"""The recovery drill's copies, damage, restore and judgement on real SQLite files.

A small database with SkillMeat's three tables (memory_items, context_modules,
module_memory_items) in WAL mode, written by a connection that keeps its WAL unchecked-pointed,
stands in for the live service: a `cp` of the .db alone then misses committed rows (the backup
is inconsistent and the drill FAILs), SQLite's online backup does not, a restore that drops a
row FAILs, and a deleted item that comes back FAILs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from phasegate.drills import dataset, recover
from phasegate.drills.model import BUDGETS
from phasegate.outcomes import Outcome

PROJECT = "cHJvamVjdA=="
SCHEMA = """
CREATE TABLE memory_items (id TEXT PRIMARY KEY, project_id TEXT, type TEXT, content TEXT,
  status TEXT, confidence REAL, content_hash TEXT);
CREATE TABLE context_modules (id TEXT PRIMARY KEY, project_id TEXT, name TEXT,
  description TEXT, priority INTEGER);
CREATE TABLE module_memory_items (module_id TEXT, memory_id TEXT,
  PRIMARY KEY (module_id, memory_id));
"""


def fill(conn: sqlite3.Connection, first: int, count: int) -> None:
    for n in range(first, first + count):
        conn.execute(
            "INSERT INTO memory_items VALUES (?, ?, 'decision', ?, 'active', 0.7, ?)",
            (f"item{n}", PROJECT, f"memory {n}", f"hash{n}"),
        )
    conn.commit()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection, dataset.Dataset]]:
    """A WAL database whose recorded rows still sit in the -wal (the writer stays open)."""
    db = tmp_path / "cache.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # like a busy server between checkpoints
    conn.executescript(SCHEMA)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the schema is in the .db itself
    fill(conn, 0, 6)
    conn.execute("INSERT INTO context_modules VALUES ('mod1', ?, 'm', 'd', 5)", (PROJECT,))
    conn.execute("INSERT INTO module_memory_items VALUES ('mod1', 'item0')")
    conn.execute("INSERT INTO module_memory_items VALUES ('mod1', 'item1')")
    conn.commit()
    record = dataset.read_sqlite(db, PROJECT)
    assert record.problem is None and record.counts() == {"items": 6, "modules": 1, "links": 2}
    stored = dataset.Dataset(PROJECT, "selftest", record, frozenset({"item-deleted"}))
    try:
        yield db, conn, stored
    finally:
        conn.close()


def test_file_copy_while_writing_misses_the_wal_and_online_backup_does_not(live, tmp_path):
    db, _conn, stored = live
    wal = db.with_name("cache.db-wal").stat().st_size
    assert wal > 0
    recover.file_copy(db, tmp_path / "cp.db")
    recover.online_backup(db, tmp_path / "online.db")
    copied = recover.judge_copy("cp", tmp_path / "cp.db", stored, wal)
    online = recover.judge_copy("online", tmp_path / "online.db", stored, wal)
    assert not copied.consistent
    assert copied.diff is not None and len(copied.diff.missing["items"]) == 6
    assert online.consistent, online.describe()


def test_an_inconsistent_plan_backup_fails_the_drill(live, tmp_path):
    db, _conn, stored = live
    recover.file_copy(db, tmp_path / "bak.db")
    m = recover.RecoverMeasurement(
        budget=BUDGETS["recover"],
        plan_backup=recover.judge_copy("plan", tmp_path / "bak.db", stored, 4096),
    )
    conclusion = recover.judge(m)
    assert conclusion.outcome is Outcome.FAIL
    assert "the plan's backup (cp of the stopped database) is inconsistent" in conclusion.reason
    assert "-wal of 4096 bytes" in conclusion.reason


def test_a_restore_that_drops_a_row_fails(live, tmp_path):
    db, conn, stored = live
    backup = tmp_path / "good.bak"
    recover.online_backup(db, backup)
    good = recover.judge_copy("plan", backup, stored, None)
    assert good.consistent
    conn.close()
    done = recover.damage(db, stored)
    assert done["items_deleted"] == 2 and done["links_deleted"] == 2
    damaged = recover.judge_copy("damaged", db, stored, None)
    assert not damaged.consistent
    recover.restore(backup, db)
    with sqlite3.connect(db) as bad:  # the faulty restore: one recorded row does not come back
        bad.execute("DELETE FROM memory_items WHERE id = 'item3'")
    bad.close()
    restored = recover.judge_copy("restored", db, stored, None)
    m = recover.RecoverMeasurement(
        budget=BUDGETS["recover"],
        plan_backup=good,
        damaged=damaged,
        restored=restored,
        served=restored.diff,
        recovered_s=1.0,
    )
    conclusion = recover.judge(m)
    assert conclusion.outcome is Outcome.FAIL
    assert "after the restore the API serves: 1 items missing" in conclusion.reason


def test_a_good_restore_passes_and_a_resurrection_fails(live, tmp_path):
    db, conn, stored = live
    backup = tmp_path / "good.bak"
    recover.online_backup(db, backup)
    conn.close()
    damaged = recover.judge_copy("damaged", db, stored, None)
    recover.damage(db, stored)
    damaged = recover.judge_copy("damaged", db, stored, None)
    moved = recover.restore(backup, db)
    assert all(".db-" in name for name in moved)
    restored = recover.judge_copy("restored", db, stored, None)
    assert restored.consistent and restored.integrity == "ok"
    good = recover.RecoverMeasurement(
        budget=BUDGETS["recover"],
        plan_backup=restored,
        damaged=damaged,
        restored=restored,
        served=restored.diff,
        recovered_s=1.0,
    )
    assert recover.judge(good).outcome is Outcome.PASS
    with sqlite3.connect(db) as again:  # the item deleted before the record comes back
        again.execute(
            "INSERT INTO memory_items VALUES "
            "('item-deleted', ?, 'decision', 'x', 'active', 1, 'h')",
            (PROJECT,),
        )
    again.close()
    back = recover.judge_copy("restored", db, stored, None)
    good.served = back.diff
    resurrected = recover.judge(good)
    assert resurrected.outcome is Outcome.FAIL
    assert "1 deleted item(s) came back" in resurrected.reason


def test_damage_that_did_not_take_is_inconclusive(live):
    _db, _conn, stored = live
    same = recover.Copy("damaged", "ok", dataset.compare(stored.record, stored.record))
    m = recover.RecoverMeasurement(budget=BUDGETS["recover"], damaged=same)
    assert recover.judge(m).outcome is Outcome.INCONCLUSIVE
