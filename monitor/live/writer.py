"""The store writer: a bus subscriber that batch-writes every reading, device event and
alarm-log record to the database."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.exc import SQLAlchemyError

from monitor.alarms.baseline import artifact_reason
from monitor.domain.models import AlarmEvent, DeviceStatus, Observation
from monitor.live.bus import Bus
from monitor.live.views import SessionChanged, SystemCondition
from monitor.storage.database import Store
from monitor.storage.trends import TREND_METRICS, MinuteMedians

_LOGGER = logging.getLogger(__name__)

STORAGE_DOWN_AFTER_S = 5.0
"""Writes failing for this long raise the unit-wide technical condition ``storage``."""


class StoreWriter:
    """Writes what the bus carries, in batches.

    It flushes every ``batch_rows`` rows or ``flush_s`` seconds, whichever comes first. A
    failed write is retried with the same rows (nothing is dropped); the queue bounds memory
    if the database stays down, and its drop counter says so. Writes failing for
    ``down_after_s`` publish a :class:`SystemCondition` that screens show until writing
    recovers.

    Args:
        bus: where events come from (and the storage condition goes).
        store: the database.
        batch_rows: rows per transaction at most.
        flush_s: longest wait before queued rows are written.
        maxsize: queue bound.
        down_after_s: how long writes fail before the storage condition is raised.
    """

    def __init__(self, bus: Bus, store: Store, batch_rows: int = 500, flush_s: float = 1.0,
                 maxsize: int = 200_000, down_after_s: float = STORAGE_DOWN_AFTER_S) -> None:
        self.bus = bus
        self.down_after_s = down_after_s
        self.store = store
        self.batch_rows = batch_rows
        self.flush_s = flush_s
        self.subscription = bus.subscribe(Observation, DeviceStatus, AlarmEvent,
                                          SessionChanged, maxsize=maxsize, name="store")
        self.minutes = MinuteMedians()
        self.sessions: dict[str, int] = {}
        """Bed -> its open session, so each alarm-log record names its session."""
        self.written = 0
        self.failures = 0
        self.failing_since: float | None = None
        self._announced = False
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Write until cancelled; flush what is pending on the way out."""
        sub = self.subscription
        try:
            while not sub.closed:
                await sub.wait(self.flush_s)
                await self.flush()
        finally:
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        """Write everything queued now, in batches (one writer at a time, in order)."""
        async with self._lock:
            while True:
                items = self.subscription.drain(self.batch_rows)
                if not items:
                    return
                await self._write(items)
                self.written += len(items)

    async def sync(self) -> None:
        """Return once everything published before the call is committed: a user's action
        answered with success is on disk, even if the server is killed the next moment."""
        await self.flush()

    async def _write(self, items: list[object]) -> None:
        obs = [e for e in items if isinstance(e, Observation)]
        status = [e for e in items if isinstance(e, DeviceStatus)]
        alarms: list[AlarmEvent] = []
        owners: list[int | None] = []
        closed = [m for o in obs if o.metric in TREND_METRICS and o.value is not None
                  and artifact_reason(o) is None
                  and (m := self.minutes.add(o.bed_id, o.metric, o.time, o.value))]
        for e in items:  # in order: a session change applies to the records after it
            if isinstance(e, SessionChanged):
                self._follow(e)
            elif isinstance(e, AlarmEvent):
                alarms.append(e)
                owners.append(self.sessions.get(e.bed_id))
        attempt = 0
        while True:
            try:
                await self.store.write_batch(obs, status, alarms, owners, closed)
                break
            except SQLAlchemyError as exc:
                # Keep the rows and retry: a stored event is never silently dropped.
                self.failures += 1
                attempt += 1
                self._failed(attempt, exc)
                await asyncio.sleep(min(5.0, 0.2 * attempt))
        if attempt:
            _LOGGER.info("store write recovered after %d attempts", attempt + 1)
            self._recovered()

    def _follow(self, change: SessionChanged) -> None:
        session_id = change.admission.get("id") if change.admission else None
        if isinstance(session_id, int):
            self.sessions[change.bed_id] = session_id
        else:
            self.sessions.pop(change.bed_id, None)

    def _failed(self, attempt: int, exc: SQLAlchemyError) -> None:
        now = time.time()
        if self.failing_since is None:
            self.failing_since = now
        if attempt == 1 or attempt % 30 == 0:
            _LOGGER.error("store write failed, retrying (attempt %d): %s", attempt, exc)
        if not self._announced and now - self.failing_since >= self.down_after_s:
            self._announced = True
            self.bus.publish(SystemCondition(
                "storage", True, self.failing_since,
                "Storage failing: readings are held in memory and not yet saved"))

    def _recovered(self) -> None:
        if self._announced:
            self.bus.publish(SystemCondition("storage", False, time.time(),
                                             "Storage recovered"))
        self._announced = False
        self.failing_since = None
