"""Beds: the live picture of each bed (from the board) and its stored readings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from monitor.api.deps import AnyBedId, ServiceDep
from monitor.api.errors import invalid
from monitor.api.schemas import BedSchema, ObservationSchema

router = APIRouter(tags=["beds"])


@router.get("/api/beds", response_model=list[BedSchema])
async def list_beds(service: ServiceDep) -> list[dict[str, Any]]:
    """Every bed with its devices, connection state, latest values, session and alarms."""
    return service.board.snapshot()


@router.get("/api/beds/{bed_id}", response_model=BedSchema,
            responses={404: {"description": "no such bed"}})
async def get_bed(bed_id: AnyBedId, service: ServiceDep) -> dict[str, Any]:
    """One bed (another server's too, when several share the database)."""
    return service.board.bed_dict(bed_id)


@router.get("/api/beds/{bed_id}/observations", response_model=list[ObservationSchema],
            responses={404: {"description": "no such bed"}})
async def bed_observations(
    bed_id: AnyBedId,
    service: ServiceDep,
    metric: Annotated[list[str] | None, Query(description="metric aliases")] = None,
    since: Annotated[float | None, Query(description="POSIX seconds")] = None,
    until: Annotated[float | None, Query(description="POSIX seconds")] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
) -> list[dict[str, Any]]:
    """Stored readings of a bed, oldest first."""
    if since is not None and until is not None and since > until:
        raise invalid(("query", "since"), "since must not be after until", since)
    rows = await service.store.recent_observations(bed_id, metric, since, until, limit)
    return [o.to_dict() for o in rows]
