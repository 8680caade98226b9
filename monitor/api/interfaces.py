"""The interfaces' state for screens and admins: the HL7 outbox (what waits, what was
parked with the receiver's answer) and queueing a parked message again."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from monitor.api.auth import Admin
from monitor.api.deps import ServiceDep
from monitor.storage import outbox

router = APIRouter(tags=["interfaces"])


@router.get("/api/interfaces")
async def interfaces(service: ServiceDep) -> dict[str, Any]:
    """Which interfaces run, the HL7 sender's counters and the outbox by state."""
    adt = service.interfaces.adt
    return {"hl7_out": service.interfaces.hl7_health(),
            "outbox": await outbox.count_by_state(service.store),
            "adt_in": None if adt is None else {"address": adt.address,
                                                 "received": adt.received,
                                                 "refused": adt.refused}}


@router.get("/api/interfaces/hl7-out/messages")
async def messages(service: ServiceDep,
                   state: Literal["waiting", "sent", "parked"] | None = None,
                   bed_id: Annotated[str | None, Query(max_length=64)] = None,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                   ) -> list[dict[str, Any]]:
    """Outbox messages, newest first, with the receiver's answer (the message text names
    the patient: signed-in users only)."""
    return [m.to_dict() for m in await outbox.messages(service.store, state, bed_id, limit)]


@router.post("/api/interfaces/hl7-out/messages/{message_id}/retry",
             responses={404: {"description": "no parked message with that id"}})
async def retry(message_id: int, service: ServiceDep, _user: Admin) -> dict[str, Any]:
    """Queue a parked message again (admins): it goes next, whatever its age."""
    if not await outbox.requeue(service.store, message_id):
        raise HTTPException(404, f"no parked message {message_id}")
    if service.interfaces.sender is not None:
        service.interfaces.sender.notify()
    return {"id": message_id, "state": outbox.WAITING}
