"""The HL7 sender: delivers the outbox to the receiver over MLLP, one message at a time,
in the order the messages were made, each until its ACK (a supervised part).

Rules (docs/interfaces.md, "The outbox"):

- ``AA``/``CA``: delivered; the next message goes.
- No connection, a refused or broken one, no ACK within ``ack_timeout_s``: the message
  stays first in line and is sent again after a back-off of 1 s doubling to 60 s (reset
  by the next ACK). A receiver that got the message but whose ACK was lost gets it again:
  delivery is at least once, and MSH-10 names the duplicate.
- ``AE``/``CE`` (the receiver found an error in the message): sending the same bytes again
  would get the same answer, so the message is parked at once, kept with the answer,
  logged, and the next message goes (an admin can queue it again).
- ``AR``/``CR`` (rejected, often a receiver that cannot take it now) or an answer without
  a known code: retried with the back-off, parked after :data:`MAX_REJECTS` answers.

Messages waiting longer than ``stall_after_s`` raise the unit-wide technical condition
``hl7_out`` (a banner on every screen) until they flow again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from drivers.hl7.frames import BadBlock, Message, MllpDeframer, wrap
from monitor.domain.errors import FrameError
from monitor.interop.hl7_messages import ack_code
from monitor.live.bus import Bus
from monitor.live.views import SystemCondition
from monitor.storage import outbox
from monitor.storage.database import Store
from monitor.storage.outbox import OutboxMessage

_LOGGER = logging.getLogger(__name__)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
MAX_REJECTS = 5
"""``AR`` answers to one message before it is parked."""
ACCEPTED = frozenset({"AA", "CA"})
ERRORS = frozenset({"AE", "CE"})
CONDITION = "hl7_out"


class _Answer(Exception):
    """The peer answered in a way that ends this attempt (no ACK, the connection lost)."""


class MllpSender:
    """Sends what waits in the outbox to ``host:port``.

    Args:
        bus: where the ``hl7_out`` condition goes.
        store: the database holding the outbox.
        host: the receiver.
        port: its MLLP port.
        stall_after_s: waiting this long raises the ``hl7_out`` condition.
        ack_timeout_s: how long an ACK may take.
        backoff_s: the first and the longest wait between attempts (1 s doubling to 60 s).
    """

    def __init__(self, bus: Bus, store: Store, host: str, port: int,
                 stall_after_s: float = 120.0, ack_timeout_s: float = 10.0,
                 backoff_s: tuple[float, float] = (BACKOFF_FIRST_S, BACKOFF_MAX_S)) -> None:
        self.bus = bus
        self.store = store
        self.host = host
        self.port = port
        self.stall_after_s = stall_after_s
        self.ack_timeout_s = ack_timeout_s
        self.sent = 0
        self.errors = 0
        self.parked = 0
        self.last_ack_at: float | None = None
        self.depth = 0
        self.oldest_at: float | None = None
        self.connected = False
        self.stalled = False
        self._wake = asyncio.Event()
        self._backoff_first, self._backoff_max = backoff_s
        self._backoff = self._backoff_first
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._deframer = MllpDeframer()
        self._failing = False

    def notify(self) -> None:
        """A new message waits (called by the producer)."""
        self._wake.set()

    def health(self) -> dict[str, Any]:
        """The ``hl7_out`` entry of ``/healthz`` (no patient data)."""
        oldest = None if self.oldest_at is None else max(0.0, time.time() - self.oldest_at)
        return {"depth": self.depth, "oldest_age_s": oldest, "sent": self.sent,
                "errors": self.errors, "last_ack_at": self.last_ack_at,
                "parked": self.parked, "connected": self.connected,
                "receiver": f"{self.host}:{self.port}"}

    async def run(self) -> None:
        """Deliver until cancelled; the condition is watched beside it."""
        self.parked = (await outbox.count_by_state(self.store))[outbox.PARKED]
        watcher = asyncio.create_task(self._watch(), name="hl7-out-watch")
        try:
            while True:
                await self._step()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self._close()

    async def _step(self) -> None:
        message = await outbox.next_waiting(self.store)
        if message is None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            return
        try:
            code, text = await self._deliver(message)
        except _Answer as exc:
            await outbox.record_attempt(self.store, message.id, time.time(), str(exc))
            await self._back_off(str(exc))
            return
        now = time.time()
        if code in ACCEPTED:
            await outbox.mark_sent(self.store, message.id, now, code, text or None)
            self.sent += 1
            self.last_ack_at = now
            self._backoff = self._backoff_first
            if self._failing:
                _LOGGER.info("HL7 receiver %s:%d accepting again", self.host, self.port)
                self._failing = False
            await self._refresh()
            return
        self.errors += 1
        _LOGGER.warning("HL7 receiver answered %s to message %s (%s): %s", code or "?",
                        message.control_id, message.kind, text or "no text")
        if code in ERRORS or message.attempts + 1 >= MAX_REJECTS:
            why = "error answer" if code in ERRORS else f"{MAX_REJECTS} rejections"
            await outbox.park(self.store, message.id, now, code or None, text or None,
                              f"parked after {why}")
            self.parked += 1
            await self._refresh()
        else:
            await outbox.record_attempt(self.store, message.id, now, f"answered {code}",
                                        code or None, text or None)
            await self._back_off(f"answered {code}")

    async def _deliver(self, message: OutboxMessage) -> tuple[str, str]:
        """Send one message and wait for its ACK: (MSA-1, MSA-3).

        Raises:
            _Answer: no connection, the connection broke, or no ACK in time.
        """
        reader, writer = await self._connect()
        try:
            writer.write(wrap(message.message.encode("utf-8")))
            await writer.drain()
            return await asyncio.wait_for(self._ack(reader, message.control_id),
                                          self.ack_timeout_s)
        except TimeoutError:
            self._close()
            raise _Answer(f"no ACK within {self.ack_timeout_s:g} s") from None
        except (OSError, EOFError) as exc:
            self._close()
            raise _Answer(f"connection lost: {exc or type(exc).__name__}") from None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            try:
                self._streams = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.ack_timeout_s)
            except (OSError, TimeoutError) as exc:
                raise _Answer(f"cannot connect: {exc or type(exc).__name__}") from None
            self._deframer = MllpDeframer()
            self.connected = True
        return self._streams

    async def _ack(self, reader: asyncio.StreamReader, control_id: str) -> tuple[str, str]:
        """The ACK of ``control_id``; ACKs of other messages (late ones) are skipped."""
        while True:
            data = await reader.read(65536)
            if not data:
                raise EOFError("the receiver closed the connection")
            for block in self._deframer.feed(data):
                if isinstance(block, BadBlock):
                    continue
                try:
                    code, acked, text = ack_code(Message.decode(block))
                except FrameError:
                    continue
                if acked == control_id:
                    return code, text

    def _close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
        self._streams = None
        self.connected = False

    async def _back_off(self, why: str) -> None:
        self.errors += 1
        if not self._failing:
            _LOGGER.error("HL7 receiver %s:%d: %s; retrying with back-off", self.host,
                          self.port, why)
            self._failing = True
        await self._refresh()
        await asyncio.sleep(self._backoff)
        self._backoff = min(self._backoff * 2, self._backoff_max)

    async def _refresh(self) -> None:
        self.depth, self.oldest_at = await outbox.waiting_stats(self.store)

    async def _watch(self) -> None:
        """Each second: the outbox's depth, and the condition when messages stall."""
        while True:
            with contextlib.suppress(SQLAlchemyError):  # the storage banner says so
                await self._refresh()
            self.check_stall(time.time())
            await asyncio.sleep(1.0)

    def check_stall(self, now: float) -> None:
        """Raise or clear the ``hl7_out`` condition from the oldest waiting message."""
        waited = 0.0 if self.oldest_at is None else now - self.oldest_at
        stalled = self.oldest_at is not None and waited > self.stall_after_s
        if stalled and not self.stalled:
            self.bus.publish(SystemCondition(
                CONDITION, True, now,
                f"Results to the HL7 receiver are not flowing: {self.depth} messages "
                f"waiting, the oldest for {waited / 60:.0f} min"))
        elif self.stalled and not stalled:
            self.bus.publish(SystemCondition(CONDITION, False, now,
                                             "Results to the HL7 receiver flow again"))
        self.stalled = stalled
