"""The audit trail: every user action, append-only and hash-chained
(:mod:`monitor.storage.chain`), with who did it and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.storage import chain
from monitor.storage.database import Store
from monitor.storage.tables import AuditRow


async def record(session: AsyncSession, time: float, user: str, action: str,
                 bed_id: str | None, detail: dict[str, Any]) -> None:
    """Append a user action to the audit trail inside the caller's transaction (at the end
    of the trail's hash chain)."""
    await chain.append(session, "audit_log", [{"time": time, "user": user, "action": action,
                                               "bed_id": bed_id, "detail": detail}])


async def audit(store: Store, time: float, user: str, action: str, bed_id: str | None,
                **detail: Any) -> None:
    """Append a user action to the audit trail, in a transaction of its own."""
    async with store.session() as session, session.begin():
        await record(session, time, user, action, bed_id, detail)


async def audit_log(store: Store, bed_id: str | None = None, limit: int = 500,
                    action: str | None = None, user: str | None = None,
                    before_id: int | None = None) -> list[dict[str, Any]]:
    """Audit entries, newest first (filtered by bed, action, user; ``before_id`` pages)."""
    q = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if bed_id is not None:
        q = q.where(AuditRow.bed_id == bed_id)
    if action is not None:
        q = q.where(AuditRow.action == action)
    if user is not None:
        q = q.where(AuditRow.user == user)
    if before_id is not None:
        q = q.where(AuditRow.id < before_id)
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [{"id": r.id, "time": r.time, "user": r.user, "action": r.action,
             "bed_id": r.bed_id, "detail": r.detail, "hash": r.hash} for r in rows]


async def verify(store: Store) -> dict[str, Any]:
    """Both hash chains checked: per table the entries checked and the first break."""
    out: dict[str, Any] = {}
    async with store.session() as session:
        for table in chain.CHAINED_COLUMNS:
            checked, fault = await chain.verify(session, table)
            out[table] = {"entries": checked, "intact": fault is None,
                          "first_break": None if fault is None else str(fault)}
    return out
