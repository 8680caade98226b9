"""Storage of every vital and event through SQLAlchemy (async); SQLite file by default.

The schema is created and upgraded by the Alembic migrations in ``monitor/migrations``
when the store opens, never by ``create_all``. SQLite runs in WAL mode so the dashboard's
reads do not block the writer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from monitor.domain.errors import StoreError
from monitor.domain.models import AlarmEvent, DeviceStatus, Observation
from monitor.storage import chain, trends
from monitor.storage.tables import AlarmLogRow, DeviceEventRow, ObservationRow

_LOGGER = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x5350554D  # "SPUM": the PostgreSQL advisory lock taken while migrating


def alembic_config() -> AlembicConfig:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; NORMAL is durable across app crashes in WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Store:
    """The database. Open with :meth:`open`; close with :meth:`close`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.session = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Store:
        """Connect to ``url`` (a SQLAlchemy async URL) and bring the schema up to date.

        Raises:
            StoreError: the database cannot be opened or migrated.
        """
        try:
            engine = create_async_engine(url)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise StoreError(f"cannot use database {safe_url(url)}: {exc}") from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        try:
            if engine.dialect.name == "sqlite":
                _ensure_sqlite_dir(url)
            await store.migrate()
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            raise StoreError(f"cannot open database {safe_url(url)}: {exc}") from exc
        return store

    async def migrate(self) -> None:
        """Run every pending migration."""
        cfg = alembic_config()

        def upgrade(connection: Any) -> None:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        async with self.engine.begin() as conn:
            if self.engine.dialect.name == "postgresql":
                # Several servers may start together on one database: one migrates, the
                # others wait for it (the lock ends with this transaction).
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        """Release every connection."""
        await self.engine.dispose()

    # -- writes ---------------------------------------------------------------------------

    async def write_batch(
        self,
        observations: Sequence[Observation] = (),
        device_events: Sequence[DeviceStatus] = (),
        alarm_events: Sequence[AlarmEvent] = (),
        alarm_sessions: Sequence[int | None] | None = None,
        trend_minutes: Sequence[tuple[str, str, float, float, int]] = (),
    ) -> None:
        """Insert observations, device events and alarm log records in one transaction:
        all or nothing. Each event carries its bed; ``alarm_sessions`` gives the session
        each alarm record belongs to (in the same order); ``trend_minutes`` are closed
        trend minutes (:mod:`monitor.storage.trends`)."""
        if not observations and not device_events and not alarm_events \
                and not trend_minutes:
            return
        async with self.session() as session, session.begin():
            if observations:
                await session.execute(insert(ObservationRow), [
                    {"bed_id": o.bed_id, "device_id": o.device_id, "metric": o.metric,
                     "code": o.code, "value": o.value, "unit": o.unit, "time": o.time,
                     "flags": o.flags}
                    for o in observations
                ])
            if device_events:
                await session.execute(insert(DeviceEventRow), [
                    {"bed_id": s.bed_id, "device_id": s.device_id, "state": str(s.state),
                     "time": s.time, "detail": s.detail, "info": dict(s.info)}
                    for s in device_events
                ])
            if trend_minutes:
                await trends.write_minutes(session, trend_minutes)
            if alarm_events:
                owners = alarm_sessions or [None] * len(alarm_events)
                await chain.append(session, "alarm_log", [
                    {**e.to_dict(), "session_id": owner}
                    for e, owner in zip(alarm_events, owners, strict=True)])

    # -- queries --------------------------------------------------------------------------

    async def recent_observations(
        self,
        bed_id: str,
        metrics: Iterable[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 5000,
    ) -> list[Observation]:
        """Observations of a bed, oldest first, optionally filtered by metric and time."""
        q = select(ObservationRow).where(ObservationRow.bed_id == bed_id)
        if metrics is not None:
            q = q.where(ObservationRow.metric.in_(list(metrics)))
        if since is not None:
            q = q.where(ObservationRow.time >= since)
        if until is not None:
            q = q.where(ObservationRow.time <= until)
        q = q.order_by(ObservationRow.time.desc(), ObservationRow.id.desc()).limit(limit)
        async with self.session() as session:
            rows = (await session.execute(q)).scalars().all()
        return [
            Observation(r.device_id, r.code, r.metric, r.value, r.unit, r.time, r.flags,
                        r.bed_id)
            for r in reversed(rows)
        ]

    async def alarm_log(self, bed_id: str | None = None, limit: int = 500,
                        since: float | None = None, session_id: int | None = None
                        ) -> list[dict[str, Any]]:
        """Alarm log records, newest first (of a bed, a session, or all)."""
        q = select(AlarmLogRow).order_by(AlarmLogRow.time.desc(), AlarmLogRow.id.desc())
        if bed_id is not None:
            q = q.where(AlarmLogRow.bed_id == bed_id)
        if session_id is not None:
            q = q.where(AlarmLogRow.session_id == session_id)
        if since is not None:
            q = q.where(AlarmLogRow.time >= since)
        async with self.session() as session:
            rows = (await session.execute(q.limit(limit))).scalars().all()
        return [
            {c: getattr(r, c) for c in ("bed_id", "alarm_id", "rule", "priority", "technical",
                                        "event", "time", "value", "threshold", "baseline",
                                        "delay", "worst_value", "message", "user", "reason",
                                        "target", "session_id")}
            for r in rows
        ]

    async def device_events(self, bed_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """A bed's device events, newest first."""
        q = (
            select(DeviceEventRow)
            .where(DeviceEventRow.bed_id == bed_id)
            .order_by(DeviceEventRow.time.desc(), DeviceEventRow.id.desc())
            .limit(limit)
        )
        async with self.session() as session:
            rows = (await session.execute(q)).scalars().all()
        return [
            {"device_id": r.device_id, "state": r.state, "time": r.time, "detail": r.detail,
             "info": r.info}
            for r in rows
        ]


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
