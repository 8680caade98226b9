"""The audit trail and the alarm log are hash-chained: ``spu-monitor audit verify`` finds an
entry changed, deleted or slipped in afterwards, as an operator with the database file
could do it (plain SQL on the SQLite file)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command

from monitor.domain.models import AlarmEvent
from monitor.records import audit
from monitor.storage import chain
from monitor.storage.database import Store, alembic_config

CLI = [sys.executable, "-m", "monitor"]


def verify(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + ["audit", "verify", "--db", str(db)], capture_output=True,
                          text=True, timeout=60)


def _alarm(i: int) -> AlarmEvent:
    return AlarmEvent(f"bed-1/{i}/SPO2_LOW", "bed-1", "SPO2_LOW", "medium", False, "onset",
                      1000.0 + i, 90.5, threshold=93.0, message="SpO2 90.5 %")


@pytest.fixture
async def trail(tmp_path: Path) -> Path:
    db = tmp_path / "trail.db"
    store = await Store.open(f"sqlite+aiosqlite:///{db}")
    try:
        # Concurrent writers chain in turn.
        await asyncio.gather(*(audit.audit(store, 1000.0 + i, "ada", "chart_note", "bed-1",
                                           note=f"entry {i}", score=i / 3) for i in range(20)))
        await store.write_batch(alarm_events=[_alarm(i) for i in range(5)],
                                alarm_sessions=[None, 1, 1, None, 2])
    finally:
        await store.close()
    return db


def test_an_intact_trail_verifies(trail: Path) -> None:
    out = verify(trail)
    assert out.returncode == 0, out.stderr
    assert "audit_log: 20 entries, intact" in out.stdout
    assert "alarm_log: 5 entries, intact" in out.stdout


@pytest.mark.parametrize(("sql", "table", "entry", "problem"), [
    ("UPDATE audit_log SET user = 'mallory' WHERE id = 7", "audit_log", 7, "changed"),
    ("UPDATE audit_log SET detail = '{\"note\": \"x\"}' WHERE id = 3", "audit_log", 3,
     "changed"),
    ("DELETE FROM audit_log WHERE id = 12", "audit_log", 13, "missing"),
    ("DELETE FROM audit_log WHERE id = 20", "audit_log", 20, "deleted from the end"),
    ("UPDATE alarm_log SET technical = 1 WHERE id = 2", "alarm_log", 2, "changed"),
    ("UPDATE alarm_log SET value = 95 WHERE id = 4", "alarm_log", 4, "changed"),
    ("INSERT INTO audit_log (time, user, action, bed_id, detail, prev_hash, hash) "
     "SELECT time, 'mallory', 'admit', bed_id, detail, prev_hash, hash FROM audit_log "
     "WHERE id = 20", "audit_log", 21, "changed"),
])
def test_an_altered_trail_names_the_first_broken_entry(trail: Path, sql: str, table: str,
                                                       entry: int, problem: str) -> None:
    with sqlite3.connect(trail) as conn:
        conn.execute(sql)
    out = verify(trail)
    assert out.returncode == 1
    assert f"{table} entry {entry}:" in out.stderr and problem in out.stderr, out.stderr


async def test_entries_written_before_the_chain_are_chained_by_the_migration(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{db}"
    store = await Store.open(url)
    await store.close()
    with sqlite3.connect(db) as conn:  # back to the schema before the chain
        conn.execute("DELETE FROM chain_heads")
    cfg = alembic_config()
    engine = sqlalchemy.create_engine(f"sqlite:///{db}")

    def migrate(target: str, up: bool) -> None:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            (command.upgrade if up else command.downgrade)(cfg, target)

    def downgrade_insert_upgrade() -> None:
        migrate("0005_patients_courses", up=False)
        with sqlite3.connect(db) as conn:
            for i in range(3):
                conn.execute("INSERT INTO audit_log (time, user, action, bed_id, detail) "
                             "VALUES (?, 'ada', 'admit', 'bed-1', '{\"n\": 1}')", (1.0 + i,))
        migrate("head", up=True)
        engine.dispose()

    await asyncio.to_thread(downgrade_insert_upgrade)
    out = verify(db)
    assert out.returncode == 0 and "audit_log: 3 entries, intact" in out.stdout, out.stderr


def test_the_hash_covers_the_previous_entry() -> None:
    content = {"time": 1.0, "user": "ada", "action": "admit", "bed_id": None, "detail": {}}
    first = chain.digest(chain.GENESIS, "audit_log", 1, content)
    assert chain.digest(first, "audit_log", 2, content) != chain.digest(
        chain.GENESIS, "audit_log", 2, content)
    assert chain.digest(chain.GENESIS, "audit_log", 1, {**content, "user": "eve"}) != first
