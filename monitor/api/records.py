"""Sessions read back (open or long after discharge): the session, its trends, its alarm
log and charted entries; corrections of charted entries; the records' vocabulary."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from monitor.api.auth import CurrentUser
from monitor.api.deps import RecordId, ServiceDep
from monitor.api.errors import invalid
from monitor.api.schemas import CorrectionBody
from monitor.records import charting, courses, history, patients, sessions
from monitor.records.vocabulary import vocabulary
from monitor.service import Service

router = APIRouter(tags=["records"])

HR_EPISODE_FACTOR = 1.20
"""The study's tachycardia: heart rate more than 20 % over baseline."""

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such session"}}


@router.get("/api/vocabulary")
async def get_vocabulary() -> dict[str, Any]:
    """The records' coded lists and scales (side effects, routes, journal scales with
    their anchors, the premedication plan)."""
    return vocabulary()


@router.get("/api/sessions/{session_id}", responses=_NOT_FOUND)
async def get_session(session_id: RecordId, service: ServiceDep) -> dict[str, Any]:
    """A session: patient, course day, doses, infusion steps, devices, the frozen baseline
    with its provenance, the nurses who acted, and its charted entries."""
    admission = await sessions.get(service.store, session_id)
    entries = await charting.clinical_events(service.store, session_id)
    steps = await sessions.steps(service.store, session_id)
    log = await service.store.alarm_log(session_id=session_id, limit=10_000)
    patient = (None if admission.patient_id is None
               else (await patients.get(service.store, admission.patient_id)).to_dict())
    course = (None if admission.course_id is None
              else (await courses.get(service.store, admission.course_id)).to_dict())
    nurses = sorted({u for u in (admission.admitted_by, admission.infusion_started_by,
                                 admission.infusion_stopped_by, admission.discharged_by,
                                 *(s["user"] for s in steps),
                                 *(e["recorded_by"] for e in entries),
                                 *(a["user"] for a in log)) if u})
    return {**admission.to_dict(), "patient": patient, "course": course, "steps": steps,
            "nurses": nurses, "events": entries}


@router.get("/api/sessions/{session_id}/trends", responses=_NOT_FOUND)
async def session_trends(session_id: RecordId, service: ServiceDep) -> dict[str, Any]:
    """The session's trends: continuous parameters as 1-minute medians, every NIBP
    reading, and the baseline band (HR x 1.2, systolic x the site's BP factor, SpO2 93 %)."""
    admission = await sessions.get(service.store, session_id)
    return await history.trends(service.store, admission, time.time(), HR_EPISODE_FACTOR,
                                _bp_factor(service, admission.bed_id))


def _bp_factor(service: Service, bed_id: str) -> float:
    return service.rules.rules.rules["BP_RISE"].p("factor")


@router.get("/api/sessions/{session_id}/alarms", responses=_NOT_FOUND)
async def session_alarms(session_id: RecordId, service: ServiceDep,
                         limit: Annotated[int, Query(ge=1, le=10_000)] = 2000
                         ) -> list[dict[str, Any]]:
    """The session's alarm log with the users' actions, newest first."""
    await sessions.get(service.store, session_id)
    return await service.store.alarm_log(session_id=session_id, limit=limit)


@router.get("/api/sessions/{session_id}/events", responses=_NOT_FOUND)
async def session_events(session_id: RecordId, service: ServiceDep, history: bool = False
                         ) -> list[dict[str, Any]]:
    """The session's charted entries (``history``: amended and voided versions too)."""
    await sessions.get(service.store, session_id)
    return await charting.clinical_events(service.store, session_id, history)


@router.post("/api/events/{event_id}/amend", status_code=201,
             responses={404: {"description": "no such entry"},
                        409: {"description": "already corrected"}})
async def amend_event(event_id: RecordId, body: CorrectionBody, service: ServiceDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Correct a charted entry: a new entry replaces it; the original stays, with who
    changed what, when and why."""
    if body.detail is None:
        raise invalid(("body", "detail"), "an amendment needs the corrected detail")
    old = await charting.entry(service.store, event_id)
    course = None if old["course_id"] is None else await courses.get(service.store,
                                                                     old["course_id"])
    new = await charting.amend(service.store, event_id, body.detail, body.reason,
                               user.username, time.time(), course)
    _refresh(service, old["bed_id"])
    return new


@router.post("/api/events/{event_id}/void",
             responses={404: {"description": "no such entry"},
                        409: {"description": "already corrected"}})
async def void_event(event_id: RecordId, body: CorrectionBody, service: ServiceDep,
                     user: CurrentUser) -> dict[str, Any]:
    """Void a charted entry (charted in error): it stays readable, marked void."""
    entry = await charting.void(service.store, event_id, body.reason, user.username,
                                time.time())
    _refresh(service, entry["bed_id"])
    return entry


def _refresh(service: Service, bed_id: str | None) -> None:
    if bed_id is not None and bed_id in service.admissions:
        service.charted(bed_id)
