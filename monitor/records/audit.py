"""The audit trail: every user action, append-only, with who did it and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from monitor.storage.database import Store
from monitor.storage.tables import AuditRow


async def audit(store: Store, time: float, user: str, action: str, bed_id: str | None,
                **detail: Any) -> None:
    """Append a user action to the audit log."""
    async with store.session() as session, session.begin():
        await session.execute(insert(AuditRow).values(time=time, user=user, action=action,
                                                      bed_id=bed_id, detail=detail))


async def audit_log(store: Store, bed_id: str | None = None,
                    limit: int = 500) -> list[dict[str, Any]]:
    """Audit records, newest first."""
    q = select(AuditRow).order_by(AuditRow.time.desc(), AuditRow.id.desc()).limit(limit)
    if bed_id is not None:
        q = q.where(AuditRow.bed_id == bed_id)
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [{"time": r.time, "user": r.user, "action": r.action, "bed_id": r.bed_id,
             "detail": r.detail} for r in rows]
