"""The full-disclosure writer: every bed's waveforms cut into blocks and stored, losslessly.

Chunks of one device's metric (ECG, pleth) are appended to a block while they follow on
from each other: the next chunk starts within :data:`JITTER_S` of where the block's sample
clock says it should, at the same rate and unit. A device samples at a steady rate; the
times a driver puts on its chunks jitter with the serial link by tens of milliseconds, so
a block keeps the device's sample clock from its first sample. A longer jump (the device
went silent, a frame was lost) or a change of rate closes the block and starts another,
so what is read back is, sample for sample, what the device sent, its gaps (None)
included, never a sample invented to fill a silence. A block is closed at
:data:`~monitor.storage.waveform_codec.BLOCK_SECONDS` of signal, encoded in a worker thread
and written with others every few seconds. Blocks carry the bed's open session. Blocks
older than the retention period are deleted once an hour.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from time import monotonic
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from monitor.domain.models import Waveform
from monitor.live.bus import Bus
from monitor.live.views import SessionChanged
from monitor.storage import disclosure
from monitor.storage.database import Store
from monitor.storage.disclosure import StoredBlock
from monitor.storage.waveform_codec import block_length, encode_block

_LOGGER = logging.getLogger(__name__)

FLUSH_S = 3.0
IDLE_S = 2.0
"""A block that has not grown for this long is closed (its device went silent)."""
JITTER_S = 0.2
"""How far a chunk's time may stray from the block's sample clock and still continue it."""
RETENTION_CHECK_S = 3600.0


@dataclass(slots=True)
class _Open:
    """A block being filled."""

    bed_id: str
    device_id: str
    metric: str
    sample_rate: float
    unit: str
    time: float
    session_id: int | None
    samples: list[float | None] = field(default_factory=list)
    grown_at: float = field(default_factory=monotonic)

    @property
    def next_time(self) -> float:
        return self.time + len(self.samples) / self.sample_rate


@dataclass(slots=True)
class _Closed:
    block: _Open
    samples: tuple[float | None, ...]


class DisclosureWriter:
    """Cuts waveform chunks from the bus into blocks and stores them.

    Args:
        bus: where waveforms (and session changes) come from.
        store: the database.
        retention_days: blocks older than this are deleted (0 keeps them for ever).
    """

    def __init__(self, bus: Bus, store: Store, retention_days: float = 90.0) -> None:
        self.store = store
        self.retention_days = retention_days
        self.subscription = bus.subscribe(Waveform, SessionChanged, maxsize=400_000,
                                          name="disclosure")
        self._open: dict[tuple[str, str], _Open] = {}
        self._closed: list[_Closed] = []
        self._sessions: dict[str, int] = {}
        self.blocks_written = 0
        self.bytes_written = 0
        self.failures = 0
        self._next_retention = 0.0

    def feed(self, event: Waveform | SessionChanged) -> None:
        """Fold one event into the open blocks (pure bookkeeping, no I/O)."""
        if isinstance(event, SessionChanged):
            session_id = event.admission.get("id") if event.admission else None
            if isinstance(session_id, int):
                self._sessions[event.bed_id] = session_id
            else:
                self._sessions.pop(event.bed_id, None)
            return
        if not event.samples:
            return
        key = (event.device_id, event.metric)
        current = self._open.get(key)
        if current is not None and not self._continues(current, event):
            self._close(key)
            current = None
        if current is None:
            current = _Open(event.bed_id, event.device_id, event.metric, event.sample_rate,
                            event.unit, event.time, self._sessions.get(event.bed_id))
            self._open[key] = current
        current.samples.extend(event.samples)
        current.grown_at = time.monotonic()
        full = block_length(current.sample_rate)
        while len(current.samples) >= full:
            rest = current.samples[full:]
            del current.samples[full:]
            self._close(key)
            current = _Open(current.bed_id, current.device_id, current.metric,
                            current.sample_rate, current.unit,
                            current.time + full / current.sample_rate,
                            self._sessions.get(current.bed_id), rest)
            self._open[key] = current

    @staticmethod
    def _continues(block: _Open, chunk: Waveform) -> bool:
        return (chunk.sample_rate == block.sample_rate and chunk.unit == block.unit
                and chunk.bed_id == block.bed_id
                and abs(chunk.time - block.next_time) < max(JITTER_S,
                                                            0.5 / block.sample_rate))

    def _close(self, key: tuple[str, str]) -> None:
        block = self._open.pop(key, None)
        if block is not None and block.samples:
            self._closed.append(_Closed(block, tuple(block.samples)))

    def close_all(self) -> None:
        """Close every open block (at shutdown: a partial block is kept too)."""
        for key in list(self._open):
            self._close(key)

    def close_idle(self, idle_s: float = IDLE_S) -> None:
        """Close the blocks of devices that stopped sending (a lost monitor's last seconds
        are stored, not held until it comes back)."""
        now = time.monotonic()
        for key, block in list(self._open.items()):
            if now - block.grown_at >= idle_s:
                self._close(key)

    def recent(self, bed_id: str, since: float, until: float) -> list[dict[str, Any]]:
        """The bed's samples not written yet (open and closed blocks in memory) between
        ``since`` and ``until``, as :func:`monitor.storage.disclosure.window` segments."""
        pending = [c.block for c in self._closed] + list(self._open.values())
        out = []
        for b in sorted((b for b in pending if b.bed_id == bed_id),
                        key=lambda b: (b.device_id, b.metric, b.time)):
            first = max(0, int((since - b.time) * b.sample_rate + 0.5 - 1e-9))
            last = min(len(b.samples), int((until - b.time) * b.sample_rate + 0.5 + 1e-9))
            if first < last:
                out.append({"device_id": b.device_id, "metric": b.metric,
                            "time": b.time + first / b.sample_rate,
                            "sample_rate": b.sample_rate, "unit": b.unit,
                            "samples": list(b.samples[first:last])})
        return out

    async def run(self) -> None:
        """Cut and write until cancelled; write what is open on the way out."""
        sub = self.subscription
        loop = asyncio.get_running_loop()
        next_flush = loop.time() + FLUSH_S
        try:
            while not sub.closed:
                await sub.wait(max(0.0, next_flush - loop.time()))
                for event in sub.drain():
                    self.feed(event)
                if loop.time() >= next_flush:
                    self.close_idle()
                    await self.flush()
                    await self._retention()
                    next_flush = loop.time() + FLUSH_S
        finally:
            for event in sub.drain():
                self.feed(event)
            self.close_all()
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        """Encode (in a worker thread) and write the closed blocks; kept for the next try
        when the database fails."""
        if not self._closed:
            return
        closed, self._closed = self._closed, []
        blocks = await asyncio.to_thread(_encode, closed)
        try:
            await disclosure.add_blocks(self.store, blocks)
        except SQLAlchemyError as exc:
            self.failures += 1
            self._closed = closed + self._closed
            if self.failures == 1 or self.failures % 30 == 0:
                _LOGGER.error("waveform blocks not written, retrying (%d): %s",
                              self.failures, exc)
            return
        self.blocks_written += len(blocks)
        self.bytes_written += sum(len(b.payload) for b in blocks)

    async def _retention(self) -> None:
        now = time.time()
        if self.retention_days <= 0 or now < self._next_retention:
            return
        self._next_retention = now + RETENTION_CHECK_S
        try:
            gone = await disclosure.delete_before(self.store, now - self.retention_days * 86400)
        except SQLAlchemyError as exc:
            _LOGGER.error("old waveform blocks not deleted: %s", exc)
            return
        if gone:
            _LOGGER.info("deleted %d waveform blocks older than %g days", gone,
                         self.retention_days)


def _encode(closed: list[_Closed]) -> list[StoredBlock]:
    return [StoredBlock(c.block.bed_id, c.block.session_id, c.block.device_id, c.block.metric,
                        c.block.time, c.block.sample_rate, c.block.unit, len(c.samples),
                        encode_block(c.samples)) for c in closed]
