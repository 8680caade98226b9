"""The ``servers`` table: the ``spu-monitor serve`` processes that share one database.

Each server keeps one row: its name, the instance now running under that name (a new one at
every start), the address nurses use for it, its beds, a heartbeat and a recent snapshot of
its beds (the live stream's bed form), so that a server starting later, or one that missed
messages, has every bed at once. Live changes travel by PostgreSQL notifications
(:mod:`monitor.live.cluster`), not through this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.database import Store
from monitor.storage.tables import Base


class ServerRow(Base):
    """One server sharing the database."""

    __tablename__ = "servers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    instance: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(500))
    beds: Mapped[list[str]] = mapped_column(JSON)
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    snapshot: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    snapshot_at: Mapped[float | None] = mapped_column(Float, nullable=True)


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """A server as its row says (``snapshot``: its beds, as ``/api/beds`` shows them)."""

    name: str
    instance: str
    url: str
    beds: list[str]
    pid: int
    started_at: float
    heartbeat_at: float
    snapshot: list[dict[str, Any]] | None
    snapshot_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, without the snapshot."""
        return {"name": self.name, "instance": self.instance, "url": self.url,
                "beds": list(self.beds), "pid": self.pid, "started_at": self.started_at,
                "heartbeat_at": self.heartbeat_at, "snapshot_at": self.snapshot_at}


def _record(r: ServerRow) -> ServerRecord:
    return ServerRecord(r.name, r.instance, r.url, list(r.beds or []), r.pid, r.started_at,
                        r.heartbeat_at, r.snapshot, r.snapshot_at)


async def register(store: Store, record: ServerRecord) -> None:
    """Create or take over the row of ``record.name`` (a server starting)."""
    async with store.session() as session, session.begin():
        await session.merge(ServerRow(
            name=record.name, instance=record.instance, url=record.url,
            beds=list(record.beds), pid=record.pid, started_at=record.started_at,
            heartbeat_at=record.heartbeat_at, snapshot=record.snapshot,
            snapshot_at=record.snapshot_at))


async def heartbeat(store: Store, name: str, instance: str, now: float,
                    snapshot: list[dict[str, Any]] | None = None) -> bool:
    """Say that the server is alive (and store its beds' snapshot, when given).

    Returns:
        False when the row is not this instance's any more (it was removed, or another
        process started under the same name): the caller registers again.
    """
    values: dict[str, Any] = {"heartbeat_at": now}
    if snapshot is not None:
        values.update(snapshot=snapshot, snapshot_at=now)
    async with store.session() as session, session.begin():
        result = await session.execute(
            update(ServerRow).where(ServerRow.name == name, ServerRow.instance == instance)
            .values(**values))
    return bool(getattr(result, "rowcount", 0))


async def servers(store: Store) -> list[ServerRecord]:
    """Every server's row, by name."""
    async with store.session() as session:
        rows = (await session.execute(select(ServerRow).order_by(ServerRow.name))).scalars()
        return [_record(r) for r in rows]


async def server(store: Store, name: str) -> ServerRecord | None:
    """One server's row, or None."""
    async with store.session() as session:
        row = await session.get(ServerRow, name)
        return None if row is None else _record(row)
