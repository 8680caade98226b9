"""Sessions: admission, the infusion's start and stop, discharge, charting and baselines."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from monitor.api.auth import CurrentUser
from monitor.api.deps import BedId, ServiceDep
from monitor.api.errors import invalid
from monitor.api.schemas import (
    Acting,
    AdmitBody,
    ChartBody,
    InfusionStartBody,
    OptionalReasonBody,
    ReasonBody,
    RebaselineBody,
)
from monitor.records import charting

router = APIRouter(tags=["sessions"])

_CONFLICT: dict[int | str, dict[str, Any]] = {404: {"description": "no such bed"},
             409: {"description": "the step does not fit the session's state"}}


@router.post("/api/beds/{bed_id}/admit", status_code=201, responses=_CONFLICT)
async def admit(bed_id: BedId, body: AdmitBody, service: ServiceDep, user: CurrentUser
                ) -> dict[str, Any]:
    """Assign a patient to the bed: the next session of their course; monitoring and
    baseline collection start. 409 when the bed is taken, the patient is in another bed or
    the course day has had its session."""
    if body.patient_id is not None:
        a = await service.admit_patient(bed_id, user.username, body.patient_id,
                                        body.infusion_day)
    else:
        assert body.patient_label is not None
        a = await service.admit(bed_id, user.username, body.patient_label, body.patient_ref,
                                body.infusion_day, body.dose_mg)
    return a.to_dict()


@router.post("/api/beds/{bed_id}/infusion/start", responses=_CONFLICT)
async def infusion_start(bed_id: BedId, service: ServiceDep, user: CurrentUser,
                         body: InfusionStartBody | None = None) -> dict[str, Any]:
    """Start the infusion now: the baselines freeze. A dose off the course's plan needs a
    ``deviation_reason`` (422 names it); one above the plan's maximum is refused."""
    body = body or InfusionStartBody()
    return (await service.start_infusion(bed_id, user.username, body.dose_mg,
                                         body.deviation_reason)).to_dict()


@router.post("/api/beds/{bed_id}/infusion/pause", responses=_CONFLICT)
async def infusion_pause(bed_id: BedId, body: ReasonBody, service: ServiceDep,
                         user: CurrentUser) -> dict[str, Any]:
    """Pause the running infusion, with a reason (monitoring goes on)."""
    return (await service.pause_infusion(bed_id, user.username, body.reason)).to_dict()


@router.post("/api/beds/{bed_id}/infusion/resume", responses=_CONFLICT)
async def infusion_resume(bed_id: BedId, service: ServiceDep, user: CurrentUser,
                          body: OptionalReasonBody | None = None) -> dict[str, Any]:
    """Resume a paused infusion."""
    reason = body.reason if body else None
    return (await service.resume_infusion(bed_id, user.username, reason)).to_dict()


@router.post("/api/beds/{bed_id}/infusion/stop", responses=_CONFLICT)
async def infusion_stop(bed_id: BedId, service: ServiceDep, user: CurrentUser,
                        body: OptionalReasonBody | None = None) -> dict[str, Any]:
    """Stop the infusion (reason default ``completed``)."""
    reason = body.reason if body else None
    return (await service.stop_infusion(bed_id, user.username, reason)).to_dict()


@router.post("/api/beds/{bed_id}/discharge", responses=_CONFLICT)
async def discharge(bed_id: BedId, service: ServiceDep, user: CurrentUser,
                    _body: Acting | None = None) -> dict[str, Any]:
    """Close the session: alarms end, monitoring stops, the bed is free. A session whose
    infusion never started is cancelled and frees its course day."""
    return (await service.discharge(bed_id, user.username)).to_dict()


@router.get("/api/beds/{bed_id}/events", responses={404: {"description": "no such bed"}})
async def list_events(bed_id: BedId, service: ServiceDep, history: bool = False
                      ) -> list[dict[str, Any]]:
    """Entries charted in the bed's current session (``history``: corrected ones too)."""
    admission = service.admissions.get(bed_id)
    return [] if admission is None else await charting.clinical_events(
        service.store, admission.id, history)


@router.post("/api/beds/{bed_id}/events", status_code=201, responses=_CONFLICT)
async def chart_event(bed_id: BedId, body: ChartBody, service: ServiceDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Chart premedication given, a side effect observed, the pain journal or a note."""
    return await service.chart(bed_id, body.kind, body.detail, user.username, body.time)


@router.post("/api/beds/{bed_id}/nibp", responses=_CONFLICT)
async def start_nibp(bed_id: BedId, service: ServiceDep, user: CurrentUser,
                     _body: Acting | None = None) -> dict[str, Any]:
    """Ask the bed's monitor to measure NIBP now (audited). 409 when none of the bed's
    devices lets the station start one (no supported protocol does: see
    docs/devices/README.md); a device's view says so in ``can_start_nibp``."""
    return await service.start_nibp(bed_id, user.username)


@router.get("/api/beds/{bed_id}/baseline", responses={404: {"description": "no such bed"}})
async def get_baseline(bed_id: BedId, service: ServiceDep) -> dict[str, Any] | None:
    """The bed's baselines with provenance (a preview before the infusion starts)."""
    baseline = service.board.bed(bed_id).picture.baseline
    return None if baseline is None else baseline.to_dict()


@router.post("/api/beds/{bed_id}/baseline",
             responses={404: {"description": "no such bed"},
                        409: {"description": "no baseline can be computed from the data"}})
async def set_baseline(bed_id: BedId, body: RebaselineBody, service: ServiceDep,
                       user: CurrentUser) -> dict[str, Any] | None:
    """Re-baseline (with a reason, audited): given values, or recomputed from data."""
    if body.dia is not None and body.sys is None:
        raise invalid(("body", "dia"), "a diastolic baseline needs a systolic one", body.dia)
    if body.sys is not None and body.dia is not None and body.dia >= body.sys:
        raise invalid(("body", "dia"), "the diastolic baseline must be below the systolic",
                      body.dia)
    await service.rebaseline(bed_id, user.username, body.reason, body.hr, body.sys, body.dia)
    baseline = service.board.bed(bed_id).picture.baseline
    return None if baseline is None else baseline.to_dict()
