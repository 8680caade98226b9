"""Dependencies shared by the routers: the running service, a bed that exists, a record id
the database can hold.

With several servers on one database (docs/deployment.md) a bed is either this server's
or another server's. Reads take either (:data:`AnyBedId`); an action on another server's
bed answers 409 naming the server to use (:data:`BedId`), except the acknowledgement and
the audio pause, which are forwarded to it.
"""

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
    """The ``bed_id`` of the path, this server's or another server's; 404 when no server
    has such a bed."""
    if not service.board.knows_bed(bed_id):
        raise HTTPException(404, f"no bed {bed_id!r}")
    return bed_id


def local_bed(service: ServiceDep, bed_id: Annotated[str, Path(max_length=64)]) -> str:
    """The ``bed_id`` of the path when it is this server's bed: 404 when no server has it,
    409 naming the server to use when another server has it."""
    known_bed(service, bed_id)
    where = service.server_of(bed_id)
    if where is not None:
        name, url = where
        at = f" ({url})" if url else ""
        raise HTTPException(409, f"bed {bed_id} is served by server {name}{at}: do this "
                                 "on that server")
    return bed_id


BedId = Annotated[str, Depends(local_bed)]
"""A bed id from the path that names a bed of this server (else 404, or 409 naming the
server that has it)."""

AnyBedId = Annotated[str, Depends(known_bed)]
"""A bed id from the path that names a bed of any server sharing the database (else 404)."""


MAX_RECORD_ID = 2**63 - 1
"""The largest id a record can have (a 64-bit column): a larger one is a 422, not a 500."""

RecordId = Annotated[int, Path(ge=1, le=MAX_RECORD_ID)]
"""A record's id in the path (patient, course, session, charted entry)."""
