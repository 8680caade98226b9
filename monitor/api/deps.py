"""Dependencies shared by the routers: the running service, a bed that exists, a record id
the database can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request

from monitor.service import Service


def get_service(request: Request) -> Service:
    """The running service."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def known_bed(service: ServiceDep, bed_id: Annotated[str, Path(max_length=64)]) -> str:
    """The ``bed_id`` of the path, 404 when the unit has no such bed."""
    if not service.board.has_bed(bed_id):
        raise HTTPException(404, f"no bed {bed_id!r}")
    return bed_id


BedId = Annotated[str, Depends(known_bed)]
"""A bed id from the path that names a bed of the unit (else 404)."""


MAX_RECORD_ID = 2**63 - 1
"""The largest id a record can have (a 64-bit column): a larger one is a 422, not a 500."""

RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID)]
"""A record's id in the path (patient, course, session, charted entry)."""
