"""The hash chain that makes the audit trail and the alarm log tamper-evident.

Every entry of ``audit_log`` and ``alarm_log`` carries ``prev_hash`` (the hash of the entry
before it in its table, or :data:`GENESIS` for the first) and ``hash`` = SHA-256 of
``prev_hash`` and the entry's canonical content (its table, id and the columns of
:data:`CHAINED_COLUMNS`). ``chain_heads`` keeps each chain's last id, last hash and length,
so entries deleted from the end are found too. An entry changed, deleted or slipped in
afterwards breaks the chain at that entry: :func:`verify` names the first broken one.

Appending takes the chain's head row for update first (a write: SQLite's write lock, a
PostgreSQL row lock), so concurrent writers, several processes included, chain in turn.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.storage.tables import AlarmLogRow, AuditRow, ChainHeadRow

GENESIS = "0" * 64

CHAINED_COLUMNS: dict[str, tuple[str, ...]] = {
    "audit_log": ("time", "user", "action", "bed_id", "detail"),
    "alarm_log": ("bed_id", "alarm_id", "rule", "priority", "technical", "event", "time",
                  "value", "threshold", "baseline", "delay", "worst_value", "message", "user",
                  "reason", "target", "session_id"),
}
"""What each entry's hash covers (fixed: a column added later is not part of the chain)."""

_TABLES: dict[str, Table] = {"audit_log": cast(Table, AuditRow.__table__),
                             "alarm_log": cast(Table, AlarmLogRow.__table__)}
_HEADS = cast(Table, ChainHeadRow.__table__)


def _plain(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def digest(previous: str, table: str, entry_id: int, content: Mapping[Any, Any]) -> str:
    """The hash of one entry: its predecessor's hash, its table, id and chained columns."""
    body = {name: _plain(content.get(name)) for name in CHAINED_COLUMNS[table]}
    text = json.dumps([table, entry_id, body], sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)
    return hashlib.sha256((previous + text).encode("utf-8")).hexdigest()


async def append(session: AsyncSession, table: str, rows: Sequence[Mapping[str, Any]]
                 ) -> list[int]:
    """Insert ``rows`` into ``table`` (``audit_log`` or ``alarm_log``) at the end of its
    chain, inside the caller's transaction; return their ids."""
    if not rows:
        return []
    model = _TABLES[table]
    heads = _HEADS
    # A write first: from here on no other writer can chain in between.
    await session.execute(update(heads).where(heads.c.name == table)
                          .values(entries=heads.c.entries))
    head = (await session.execute(select(heads).where(heads.c.name == table))).one()
    previous, count, ids = head.last_hash, int(head.entries), []
    for values in rows:
        new_id = int((await session.execute(insert(model).values(
            **values, prev_hash=previous, hash="").returning(model.c.id))).scalar_one())
        stored = (await session.execute(select(model).where(model.c.id == new_id))).one()
        previous = digest(previous, table, new_id, stored._mapping)
        await session.execute(update(model).where(model.c.id == new_id).values(hash=previous))
        ids.append(new_id)
    await session.execute(update(heads).where(heads.c.name == table).values(
        last_id=ids[-1], last_hash=previous, entries=count + len(ids)))
    return ids


@dataclass(frozen=True, slots=True)
class Break:
    """Where a chain is broken."""

    table: str
    entry_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.table} entry {self.entry_id}" if self.entry_id is not None \
            else self.table
        return f"{where}: {self.problem}"


async def verify(session: AsyncSession, table: str, batch: int = 5000) -> tuple[int, Break | None]:
    """Check ``table``'s chain; return the entries checked and the first break (or None)."""
    model = _TABLES[table]
    heads = _HEADS
    head = (await session.execute(select(heads).where(heads.c.name == table))).first()
    previous, last_id, checked = GENESIS, 0, 0
    while True:
        rows = (await session.execute(select(model).where(model.c.id > last_id)
                                      .order_by(model.c.id).limit(batch))).all()
        for row in rows:
            entry = row._mapping
            if entry["prev_hash"] != previous:
                return checked, Break(table, entry["id"], "the entry before it is missing or "
                                      "was changed (its link does not match)")
            if entry["hash"] != digest(previous, table, entry["id"], entry):
                return checked, Break(table, entry["id"], "the entry was changed after it "
                                      "was written")
            previous, last_id = entry["hash"], entry["id"]
            checked += 1
        if len(rows) < batch:
            break
    if head is None:
        return checked, Break(table, None, "the chain's head is missing")
    if (head.last_hash, int(head.entries)) != (previous, checked):
        total = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        return checked, Break(table, int(head.last_id), f"entries were deleted from the end "
                              f"(the chain recorded {head.entries}, {total} remain)")
    return checked, None
