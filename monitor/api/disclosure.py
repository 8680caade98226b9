"""Full disclosure: a bed's stored waveforms for any window, an alarm's strip (10 s before
its onset to 20 s after), and what a session's waveforms take."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from monitor.api.deps import BedId, ServiceDep
from monitor.api.errors import invalid
from monitor.records import sessions
from monitor.service import Service
from monitor.storage import disclosure

router = APIRouter(tags=["disclosure"])

STRIP_BEFORE_S = 10.0
STRIP_AFTER_S = 20.0
MAX_WINDOW_S = 600.0
"""The longest window one request returns (10 minutes)."""


@router.get("/api/beds/{bed_id}/waveforms",
            responses={404: {"description": "no such bed"}})
async def bed_waveforms(
    bed_id: BedId, service: ServiceDep,
    since: Annotated[float, Query(description="POSIX seconds")],
    until: Annotated[float, Query(description="POSIX seconds")],
    metric: Annotated[list[str] | None, Query(description="ECG, PLETH")] = None,
) -> dict[str, Any]:
    """The bed's stored waveforms between ``since`` and ``until`` (at most 10 minutes), as
    contiguous segments per device and metric; ``null`` samples are gaps."""
    if until <= since:
        raise invalid(("query", "until"), "until must be after since", until)
    if until - since > MAX_WINDOW_S:
        raise invalid(("query", "until"), f"at most {MAX_WINDOW_S:g} s at a time", until)
    segments = await _window(service, bed_id, since, until, metric)
    return {"bed_id": bed_id, "since": since, "until": until, "segments": segments}


async def _window(service: Service, bed_id: str, since: float, until: float,
                  metrics: list[str] | None = None) -> list[dict[str, Any]]:
    """Stored segments, and after them the seconds the writer holds in memory still (the
    last seconds of an alarm a nurse opens at once)."""
    segments = await disclosure.window(service.store, bed_id, since, until, metrics)
    if service.disclosure is None:
        return segments
    stored_until: dict[tuple[str, str], float] = {}
    for s in segments:
        key = (s["device_id"], s["metric"])
        stored_until[key] = max(stored_until.get(key, since),
                                s["time"] + len(s["samples"]) / s["sample_rate"])
    for s in service.disclosure.recent(bed_id, since, until):
        if metrics and s["metric"] not in metrics:
            continue
        key = (s["device_id"], s["metric"])
        if s["time"] >= stored_until.get(key, since) - 0.5 / s["sample_rate"]:
            segments.append(s)
    return disclosure.merge_segments(segments)


@router.get("/api/alarms/{alarm_id:path}/strip",
            responses={404: {"description": "no alarm with this id"}})
async def alarm_strip(alarm_id: str, service: ServiceDep) -> dict[str, Any]:
    """The waveforms around an alarm: 10 s before its onset to 20 s after, with the alarm
    (for a strip printed at 25 mm/s)."""
    onset = await disclosure.alarm_onset(service.store, alarm_id)
    if onset is None:
        raise HTTPException(404, f"no alarm {alarm_id!r} in the alarm log")
    since, until = onset["time"] - STRIP_BEFORE_S, onset["time"] + STRIP_AFTER_S
    segments = await _window(service, onset["bed_id"], since, until)
    return {"alarm_id": alarm_id, "alarm": onset, "since": since, "until": until,
            "segments": segments}


@router.get("/api/sessions/{session_id}/disclosure",
            responses={404: {"description": "no such session"}})
async def session_disclosure(session_id: int, service: ServiceDep) -> dict[str, Any]:
    """What the session's full disclosure takes: blocks, samples and bytes per metric."""
    await sessions.get(service.store, session_id)
    return {"session_id": session_id, **await disclosure.session_bytes(service.store,
                                                                       session_id)}
