"""The audit trail, for admins: every user action with who and when, and whether the
hash chains of the audit trail and the alarm log are intact."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from monitor.api.auth import Admin
from monitor.api.deps import ServiceDep
from monitor.records import audit

router = APIRouter(tags=["audit"])

_ADMINS: dict[int | str, dict[str, Any]] = {403: {"description": "admins only"}}


@router.get("/api/audit", responses=_ADMINS)
async def audit_trail(service: ServiceDep, _admin: Admin,
                      limit: Annotated[int, Query(ge=1, le=5000)] = 200,
                      action: Annotated[str | None, Query(max_length=48)] = None,
                      user: Annotated[str | None, Query(max_length=64)] = None,
                      bed_id: Annotated[str | None, Query(max_length=64)] = None,
                      before_id: Annotated[int | None, Query(ge=1)] = None
                      ) -> list[dict[str, Any]]:
    """Audit entries, newest first; ``before_id`` pages back (admins only)."""
    return await audit.audit_log(service.store, bed_id, limit, action, user, before_id)


@router.get("/api/audit/verify", responses=_ADMINS)
async def audit_verify(service: ServiceDep, _admin: Admin) -> dict[str, Any]:
    """Check the audit trail's and the alarm log's hash chains (admins only)."""
    return await audit.verify(service.store)
