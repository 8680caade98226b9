"""Alarms: the active ones (from the board), the alarm log, acknowledgement, audio pause,
and a patient's own alarm settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from monitor.api.auth import ChargeNurse, CurrentUser
from monitor.api.deps import AnyBedId, BedId, ServiceDep, known_bed
from monitor.api.schemas import AcknowledgeBody, AlarmSchema, AlarmSettingsBody, AudioPauseBody

router = APIRouter(tags=["alarms"])


AlarmId = Annotated[str, Path(min_length=1, max_length=200,
                              description="bed/sequence/rule, as the alarm gives it")]

_NO_BED: dict[int | str, dict[str, Any]] = {404: {"description": "no such bed"}}


@router.get("/api/alarms", response_model=list[AlarmSchema], responses=_NO_BED)
async def list_alarms(service: ServiceDep, bed_id: str | None = None) -> list[dict[str, Any]]:
    """Active alarms, highest priority then newest first."""
    if bed_id is not None:
        known_bed(service, bed_id)
    return [a.to_dict() for a in service.board.alarms(bed_id)]


@router.get("/api/alarms/log", responses=_NO_BED)
async def alarm_log(service: ServiceDep, bed_id: str | None = None,
                    since: float | None = None,
                    limit: Annotated[int, Query(ge=1, le=10_000)] = 500
                    ) -> list[dict[str, Any]]:
    """The append-only alarm log, newest first."""
    if bed_id is not None:
        known_bed(service, bed_id)
    return await service.store.alarm_log(bed_id, limit, since)


@router.post("/api/alarms/{alarm_id:path}/acknowledge", response_model=AlarmSchema,
             responses={404: {"description": "no active alarm has this id"}})
async def acknowledge(alarm_id: AlarmId, body: AcknowledgeBody, service: ServiceDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Acknowledge an alarm: its audio stops until it clears or worsens."""
    return await service.acknowledge(alarm_id, user.username, body.reason)


@router.post("/api/beds/{bed_id}/audio-pause",
             responses={404: {"description": "no such bed"}})
async def audio_pause(bed_id: AnyBedId, body: AudioPauseBody, service: ServiceDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Pause the bed's alarm audio (visual signals stay); another server's bed: done there."""
    until = await service.pause_audio(bed_id, user.username, body.seconds)
    return {"bed_id": bed_id, "audio_paused_until": until}


@router.get("/api/beds/{bed_id}/alarm-settings",
            responses={404: {"description": "no such bed"}})
async def get_alarm_settings(bed_id: BedId, service: ServiceDep) -> dict[str, Any]:
    """The rules in force on the bed (site rules plus the patient's overrides)."""
    admission = service.admissions.get(bed_id)
    return {"patient_overrides": None if admission is None else admission.alarm_settings,
            "effective": service.rules.rules_for(bed_id).to_mapping()}


@router.post("/api/beds/{bed_id}/alarm-settings",
             responses={403: {"description": "needs a charge nurse or admin"},
                        404: {"description": "no such bed"},
                        409: {"description": "no patient in the bed"}})
async def set_alarm_settings(bed_id: BedId, body: AlarmSettingsBody, service: ServiceDep,
                             user: ChargeNurse) -> dict[str, Any]:
    """Set the patient's own alarm delays and thresholds (audited; 422 names a bad one).
    Charge nurses and admins only."""
    admission = await service.set_alarm_settings(bed_id, user.username, body.reason,
                                                 body.settings)
    return {"patient_overrides": admission.alarm_settings,
            "effective": service.rules.rules_for(bed_id).to_mapping()}
