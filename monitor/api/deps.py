"""Dependencies shared by the routers: the running service and a bed that exists."""

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
