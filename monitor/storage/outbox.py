"""The HL7 outbox: every outgoing message, stored when it is made, until its receiver
acknowledges it (table ``hl7_outbox``; named queries for the sender and the screens).

A message is ``waiting`` until an ACK with MSA-1 ``AA``/``CA`` makes it ``sent``, or an
answer the rules give up on makes it ``parked`` (kept with the answer; an admin can queue
it again). Messages go out in the order they were made (their id), which keeps each bed's
messages in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Float, Integer, String, Text, func, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from monitor.storage.database import Store
from monitor.storage.tables import Base

WAITING = "waiting"
SENT = "sent"
PARKED = "parked"
STATES = (WAITING, SENT, PARKED)

_ID = BigInteger().with_variant(Integer(), "sqlite")


class OutboxRow(Base):
    """One outgoing HL7 message and what became of it."""

    __tablename__ = "hl7_outbox"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(_ID, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    control_id: Mapped[str] = mapped_column(String(64), unique=True)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(8), default=WAITING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    ack_code: Mapped[str | None] = mapped_column(String(2), nullable=True)
    ack_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    acked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A stored message."""

    id: int
    bed_id: str
    session_id: int | None
    kind: str
    control_id: str
    message: str
    created_at: float
    state: str
    attempts: int
    last_error: str | None = None
    ack_code: str | None = None
    ack_text: str | None = None
    acked_at: float | None = None

    def to_dict(self, with_message: bool = True) -> dict[str, Any]:
        """JSON-ready form (the message names the patient: signed-in screens only)."""
        out = {"id": self.id, "bed_id": self.bed_id, "session_id": self.session_id,
               "kind": self.kind, "control_id": self.control_id,
               "created_at": self.created_at, "state": self.state, "attempts": self.attempts,
               "last_error": self.last_error, "ack_code": self.ack_code,
               "ack_text": self.ack_text, "acked_at": self.acked_at}
        if with_message:
            out["message"] = self.message
        return out


def _message(r: OutboxRow) -> OutboxMessage:
    return OutboxMessage(r.id, r.bed_id, r.session_id, r.kind, r.control_id, r.message,
                         r.created_at, r.state, r.attempts, r.last_error, r.ack_code,
                         r.ack_text, r.acked_at)


async def enqueue(store: Store, bed_id: str, session_id: int | None, kind: str,
                  control_id: str, message: str, time: float) -> int:
    """Store a new message, waiting; return its id."""
    async with store.session() as session, session.begin():
        result = await session.execute(insert(OutboxRow).values(
            bed_id=bed_id, session_id=session_id, kind=kind, control_id=control_id,
            message=message, created_at=time, state=WAITING, attempts=0)
            .returning(OutboxRow.id))
        return int(result.scalar_one())


async def next_waiting(store: Store) -> OutboxMessage | None:
    """The oldest waiting message (the next to send), if any."""
    q = select(OutboxRow).where(OutboxRow.state == WAITING).order_by(OutboxRow.id).limit(1)
    async with store.session() as session:
        row = (await session.execute(q)).scalars().first()
    return None if row is None else _message(row)


async def record_attempt(store: Store, message_id: int, time: float, error: str | None,
                         ack_code: str | None = None, ack_text: str | None = None) -> None:
    """Count a failed attempt (no answer, or an answer to retry), keeping why."""
    async with store.session() as session, session.begin():
        await session.execute(update(OutboxRow).where(OutboxRow.id == message_id).values(
            attempts=OutboxRow.attempts + 1, last_attempt_at=time, last_error=error,
            **({"ack_code": ack_code, "ack_text": ack_text} if ack_code else {})))


async def mark_sent(store: Store, message_id: int, time: float, ack_code: str,
                    ack_text: str | None) -> None:
    """The receiver accepted the message."""
    async with store.session() as session, session.begin():
        await session.execute(update(OutboxRow).where(OutboxRow.id == message_id).values(
            state=SENT, attempts=OutboxRow.attempts + 1, last_attempt_at=time,
            ack_code=ack_code, ack_text=ack_text, acked_at=time))


async def park(store: Store, message_id: int, time: float, ack_code: str | None,
               ack_text: str | None, error: str) -> None:
    """Give up on a message: it stays, with the answer and why."""
    async with store.session() as session, session.begin():
        await session.execute(update(OutboxRow).where(OutboxRow.id == message_id).values(
            state=PARKED, attempts=OutboxRow.attempts + 1, last_attempt_at=time,
            ack_code=ack_code, ack_text=ack_text, last_error=error))


async def requeue(store: Store, message_id: int) -> bool:
    """Queue a parked message again; False when there is no parked message with that id."""
    async with store.session() as session, session.begin():
        result = await session.execute(
            update(OutboxRow).where(OutboxRow.id == message_id, OutboxRow.state == PARKED)
            .values(state=WAITING, attempts=0))
        return bool(getattr(result, "rowcount", 0))


async def waiting_stats(store: Store) -> tuple[int, float | None]:
    """How many messages wait, and when the oldest was made."""
    q = select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
        OutboxRow.state == WAITING)
    async with store.session() as session:
        count, oldest = (await session.execute(q)).one()
    return int(count or 0), None if oldest is None else float(oldest)


async def count_by_state(store: Store) -> dict[str, int]:
    """Messages per state."""
    q = select(OutboxRow.state, func.count(OutboxRow.id)).group_by(OutboxRow.state)
    async with store.session() as session:
        rows = (await session.execute(q)).all()
    return {**dict.fromkeys(STATES, 0), **{str(s): int(n) for s, n in rows}}


async def messages(store: Store, state: str | None = None, bed_id: str | None = None,
                   limit: int = 100, newest_first: bool = True) -> list[OutboxMessage]:
    """Stored messages, filtered by state and bed."""
    q = select(OutboxRow)
    if state is not None:
        q = q.where(OutboxRow.state == state)
    if bed_id is not None:
        q = q.where(OutboxRow.bed_id == bed_id)
    q = q.order_by(OutboxRow.id.desc() if newest_first else OutboxRow.id).limit(limit)
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [_message(r) for r in rows]
