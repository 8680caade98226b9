"""HTTP and WebSocket API (FastAPI), and the dashboard's static files.

``create_app(settings, unit)`` builds the app; its lifespan opens the store and runs the
:class:`~monitor.service.Service`. Routes:

- ``GET /healthz``: liveness and counters (the only route open without sign-in).
- ``GET|POST /login``, ``POST /logout``: sign-in (see :mod:`monitor.api.auth`).
- ``GET /api/beds``: every bed with its devices, connection state and latest values.
- ``GET /api/beds/{bed_id}/observations``: stored history of a bed.
- ``WS /ws/live``: a snapshot, then ``vitals``, ``device``, ``waveform`` and
  ``heartbeat`` messages as JSON.
- ``/``: the nurses' dashboard (``web/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from monitor.api import auth as api_auth
from monitor.api.auth import WS_SIGNED_OUT, ChargeNurse, CurrentUser
from monitor.auth.accounts import Accounts
from monitor.config import Settings, UnitConfig
from monitor.domain.errors import RuleError
from monitor.domain.models import AlarmEvent, BedUpdate, DeviceStatus, Observation, Waveform
from monitor.live.alarm_service import UnknownAlarmError
from monitor.records.sessions import EVENT_KINDS, AdmissionError, clinical_events
from monitor.service import Service
from monitor.storage.database import Store, safe_url

_LOGGER = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

LIVE_FLUSH_S = 0.1
"""How often the live stream sends what accumulated: 10 messages a second at most."""
HEARTBEAT_S = 1.0


# -- response models (kept apart from domain objects and tables) ------------------------


class LatestValue(BaseModel):
    """The latest reading of one metric."""

    value: float | None
    unit: str
    time: float
    flags: list[str]
    device_id: str


class DeviceView(BaseModel):
    """A device plugged into a bed."""

    id: str
    protocol: str
    port: str
    state: str
    since: float | None
    detail: str
    info: dict[str, Any]


class BedView(BaseModel):
    """A bed: devices, connection state, latest values, admission, baselines, alarms."""

    id: str
    label: str
    connection: str
    devices: list[DeviceView]
    latest: dict[str, LatestValue]
    admission: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    alarms: list[dict[str, Any]] = []
    audio_paused_until: float | None = None
    monitoring: bool = False
    infusion_start: float | None = None
    nibp_due_at: float | None = None
    artifacts: dict[str, int] = {}


class Acting(BaseModel):
    """An action. Who acts is the signed-in user, never a field of the body: unknown
    fields (an old client's ``"user"``) are refused with a 422 that names them."""

    model_config = ConfigDict(extra="forbid")


class AcknowledgeBody(Acting):
    """Acknowledge an alarm."""

    reason: str | None = Field(None, max_length=500)


class AudioPauseBody(Acting):
    """Pause a bed's alarm audio."""

    seconds: float = Field(120, ge=60, le=180)


class AdmitBody(Acting):
    """Assign a patient to a bed."""

    patient_label: str = Field(min_length=1, max_length=120)
    patient_ref: str | None = Field(None, max_length=64)
    infusion_day: int | None = Field(None, ge=1, le=10)
    dose_mg: float | None = Field(None, gt=0, le=200)


class ChartBody(Acting):
    """Chart a clinical event."""

    kind: str = Field(description=f"one of {', '.join(EVENT_KINDS)}")
    detail: dict[str, Any] = {}
    time: float | None = Field(None, description="when it happened (default now)")


class AlarmSettingsBody(Acting):
    """Per-patient alarm settings: delays and thresholds only (see docs/alarms.md)."""

    reason: str = Field(min_length=3, max_length=500)
    settings: dict[str, Any] = Field(
        description='e.g. {"rules": {"SPO2_LOW": {"threshold": 92, "delay": 20}}}; {} resets')


class RebaselineBody(Acting):
    """Set or recompute a baseline."""

    reason: str = Field(min_length=3, max_length=500)
    hr: float | None = Field(None, ge=20, le=250)
    sys: float | None = Field(None, ge=50, le=260)
    dia: float | None = Field(None, ge=20, le=200)


class ObservationView(BaseModel):
    """A stored reading."""

    device_id: str
    code: str
    metric: str
    value: float | None
    unit: str
    time: float
    flags: list[str]


def get_service(request: Request) -> Service:
    """The running service."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def create_app(
    settings: Settings | None = None,
    unit: UnitConfig | None = None,
    on_started: Callable[[Service], Awaitable[None]] | None = None,
) -> FastAPI:
    """Build the application.

    Args:
        settings: service settings (environment defaults when None).
        unit: beds and devices (from ``settings.config`` when None, else an empty unit).
        on_started: run once the service is up (the demo admits its patients here).
    """
    settings = settings or Settings()
    if unit is None:
        unit = UnitConfig.load(settings.config) if settings.config else UnitConfig()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await Store.open(settings.db_url)
        service = Service(settings, unit, store)
        app.state.service = service
        app.state.accounts = Accounts(store, settings.session_idle_minutes * 60)
        if not await app.state.accounts.users():
            # There is no default account, on purpose; say how to make the first one.
            _LOGGER.warning("no user accounts yet: nobody can sign in. Create the first "
                            "with `spu-monitor users add NAME --role admin --db %s` "
                            "(the password is read from standard input)", safe_url(settings.db))
        task = asyncio.create_task(service.run(), name="service")
        await service.started.wait()
        if on_started is not None:
            await on_started(service)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await store.close()

    app = FastAPI(
        title="SPU Monitor",
        version="0.1.0",
        summary="Secondary alarm display and vital-sign central station for a short "
        "procedure unit. Not a certified medical device.",
        lifespan=lifespan,
        # The API's description is behind sign-in too (monitor.api.auth.install_pages).
        docs_url=None, redoc_url=None, openapi_url=None,
    )
    api = APIRouter(dependencies=[Depends(api_auth.current_user)])

    @app.get("/healthz", tags=["service"])
    async def healthz(service: ServiceDep) -> dict[str, Any]:
        """Liveness and counters (no patient data)."""
        return {"status": "ok", "time": time.time(), **service.health()}

    @api.get("/api/beds", tags=["beds"], response_model=list[BedView])
    async def list_beds(service: ServiceDep) -> list[dict[str, Any]]:
        """Every bed with its devices, connection state and latest values with times."""
        return service.snapshot()

    @api.get("/api/beds/{bed_id}", tags=["beds"], response_model=BedView)
    async def get_bed(bed_id: str, service: ServiceDep) -> dict[str, Any]:
        """One bed."""
        _bed(service, bed_id)
        return service.bed_snapshot(bed_id)

    # -- alarms -----------------------------------------------------------------------

    @api.get("/api/alarms", tags=["alarms"])
    async def list_alarms(service: ServiceDep, bed_id: str | None = None
                          ) -> list[dict[str, Any]]:
        """Active alarms, highest priority then newest first."""
        if bed_id is not None:
            _bed(service, bed_id)
        return service.alarms.active(bed_id)

    @api.get("/api/alarms/log", tags=["alarms"])
    async def alarm_log(service: ServiceDep, bed_id: str | None = None,
                        since: float | None = None,
                        limit: Annotated[int, Query(ge=1, le=10_000)] = 500
                        ) -> list[dict[str, Any]]:
        """The append-only alarm log, newest first."""
        if bed_id is not None:
            _bed(service, bed_id)
        return await service.store.alarm_log(bed_id, limit, since)

    @api.post("/api/alarms/{alarm_id:path}/acknowledge", tags=["alarms"])
    async def acknowledge(alarm_id: str, body: AcknowledgeBody, service: ServiceDep,
                          user: CurrentUser) -> dict[str, Any]:
        """Acknowledge an alarm: its audio stops until it clears or worsens."""
        try:
            return service.alarms.acknowledge(alarm_id, user.username, body.reason)
        except UnknownAlarmError:
            raise HTTPException(404, f"no active alarm {alarm_id!r} (it may have ended)"
                                ) from None

    @api.post("/api/beds/{bed_id}/audio-pause", tags=["alarms"])
    async def audio_pause(bed_id: str, body: AudioPauseBody, service: ServiceDep,
                          user: CurrentUser) -> dict[str, Any]:
        """Pause the bed's alarm audio (visual signals stay)."""
        _bed(service, bed_id)
        until = service.alarms.pause_audio(bed_id, user.username, body.seconds)
        return {"bed_id": bed_id, "audio_paused_until": until}

    # -- sessions -----------------------------------------------------------------------

    @api.post("/api/beds/{bed_id}/admit", tags=["sessions"], status_code=201)
    async def admit(bed_id: str, body: AdmitBody, service: ServiceDep, user: CurrentUser
                    ) -> dict[str, Any]:
        """Assign a patient to the bed; monitoring and baseline collection start."""
        _bed(service, bed_id)
        a = await service.admit(bed_id, user.username, body.patient_label, body.patient_ref,
                                body.infusion_day, body.dose_mg)
        return a.to_dict()

    @api.post("/api/beds/{bed_id}/infusion/start", tags=["sessions"])
    async def infusion_start(bed_id: str, service: ServiceDep, user: CurrentUser,
                             _body: Acting | None = None) -> dict[str, Any]:
        """Start the infusion now: the baselines freeze."""
        _bed(service, bed_id)
        return (await service.start_infusion(bed_id, user.username)).to_dict()

    @api.post("/api/beds/{bed_id}/infusion/stop", tags=["sessions"])
    async def infusion_stop(bed_id: str, service: ServiceDep, user: CurrentUser,
                            _body: Acting | None = None) -> dict[str, Any]:
        """Stop the infusion."""
        _bed(service, bed_id)
        return (await service.stop_infusion(bed_id, user.username)).to_dict()

    @api.post("/api/beds/{bed_id}/discharge", tags=["sessions"])
    async def discharge(bed_id: str, service: ServiceDep, user: CurrentUser,
                        _body: Acting | None = None) -> dict[str, Any]:
        """Close the session: alarms end, monitoring stops, the bed is free."""
        _bed(service, bed_id)
        return (await service.discharge(bed_id, user.username)).to_dict()

    @api.get("/api/beds/{bed_id}/events", tags=["sessions"])
    async def list_events(bed_id: str, service: ServiceDep) -> list[dict[str, Any]]:
        """Events charted in the bed's current session."""
        _bed(service, bed_id)
        admission = service.admissions.get(bed_id)
        return [] if admission is None else await clinical_events(service.store, admission.id)

    @api.post("/api/beds/{bed_id}/events", tags=["sessions"], status_code=201)
    async def chart_event(bed_id: str, body: ChartBody, service: ServiceDep,
                          user: CurrentUser) -> dict[str, Any]:
        """Chart premedication given, a side effect observed, or a note."""
        from monitor.records import sessions as records

        _bed(service, bed_id)
        now = time.time()
        event = await records.chart(service.store, bed_id, body.kind, body.detail, user.username,
                                    body.time if body.time is not None else now, now)
        service.bus.publish(BedUpdate(bed_id, now, "event"))
        return event

    @api.get("/api/beds/{bed_id}/alarm-settings", tags=["alarms"])
    async def get_alarm_settings(bed_id: str, service: ServiceDep) -> dict[str, Any]:
        """The rules in force on the bed (site rules plus the patient's overrides)."""
        _bed(service, bed_id)
        admission = service.admissions.get(bed_id)
        return {"patient_overrides": None if admission is None else admission.alarm_settings,
                "effective": service.alarms.rules_for(bed_id).to_mapping()}

    @api.post("/api/beds/{bed_id}/alarm-settings", tags=["alarms"])
    async def set_alarm_settings(bed_id: str, body: AlarmSettingsBody, service: ServiceDep,
                                 user: ChargeNurse) -> dict[str, Any]:
        """Set the patient's own alarm delays and thresholds (audited; 422 names a bad one).
        Charge nurses and admins only."""
        _bed(service, bed_id)
        try:
            admission = await service.set_alarm_settings(bed_id, user.username, body.reason,
                                                         body.settings)
        except RuleError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"patient_overrides": admission.alarm_settings,
                "effective": service.alarms.rules_for(bed_id).to_mapping()}

    @api.get("/api/beds/{bed_id}/baseline", tags=["sessions"])
    async def get_baseline(bed_id: str, service: ServiceDep) -> dict[str, Any] | None:
        """The bed's baselines with provenance (a preview before the infusion starts)."""
        _bed(service, bed_id)
        baseline: dict[str, Any] | None = service.alarms.bed_view(bed_id)["baseline"]
        return baseline

    @api.post("/api/beds/{bed_id}/baseline", tags=["sessions"])
    async def set_baseline(bed_id: str, body: RebaselineBody, service: ServiceDep,
                           user: CurrentUser) -> dict[str, Any] | None:
        """Re-baseline (with a reason, audited): given values, or recomputed from data."""
        _bed(service, bed_id)
        if body.dia is not None and body.sys is None:
            raise HTTPException(422, "a diastolic baseline needs a systolic one")
        await service.rebaseline(bed_id, user.username, body.reason, body.hr, body.sys, body.dia)
        baseline: dict[str, Any] | None = service.alarms.bed_view(bed_id)["baseline"]
        return baseline

    @api.get("/api/beds/{bed_id}/observations", tags=["beds"],
             response_model=list[ObservationView])
    async def bed_observations(
        bed_id: str,
        service: ServiceDep,
        metric: Annotated[list[str] | None, Query(description="metric aliases")] = None,
        since: Annotated[float | None, Query(description="POSIX seconds")] = None,
        until: Annotated[float | None, Query(description="POSIX seconds")] = None,
        limit: Annotated[int, Query(ge=1, le=50_000)] = 5000,
    ) -> list[dict[str, Any]]:
        """Stored readings of a bed, oldest first."""
        _bed(service, bed_id)
        if since is not None and until is not None and since > until:
            raise HTTPException(422, "since must not be after until")
        rows = await service.store.recent_observations(bed_id, metric, since, until, limit)
        return [o.to_dict() for o in rows]

    @app.websocket("/ws/live")
    async def live(websocket: WebSocket, waveforms: str = "") -> None:
        """Live stream: snapshot first, then changes. ``?waveforms=all`` or a comma list of
        bed ids adds waveform messages for those beds."""
        service: Service = websocket.app.state.service
        auth = await api_auth.websocket_auth(websocket)
        if auth is None:
            return
        await websocket.accept()
        wanted = _waveform_beds(waveforms, service)
        types: tuple[type, ...] = (Observation, DeviceStatus, AlarmEvent, BedUpdate)
        if wanted:
            types += (Waveform,)
        sub = service.bus.subscribe(*types, maxsize=20_000, name="websocket")
        # Reading is what notices a browser that went away; clients send nothing we need yet.
        reader = asyncio.create_task(_drain_client(websocket))
        try:
            await websocket.send_text(json.dumps({
                "type": "snapshot", "unit": service.unit.name, "time": time.time(),
                "beds": service.snapshot(),
            }))
            last_beat = 0.0
            while not reader.done():
                if not await auth.still_valid():
                    await websocket.close(WS_SIGNED_OUT, "signed out")
                    break
                await sub.wait(LIVE_FLUSH_S)
                messages = _live_messages(sub.drain(), service, wanted)
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    last_beat = now
                    messages.append({"type": "heartbeat", "time": time.time(),
                                     "dropped": sub.dropped})
                for message in messages:
                    await websocket.send_text(json.dumps(message))
                await asyncio.sleep(LIVE_FLUSH_S)
        except (WebSocketDisconnect, ConnectionError, RuntimeError):
            pass  # the browser left mid-send
        finally:
            sub.close()
            reader.cancel()

    @app.exception_handler(AdmissionError)
    async def admission_error(_request: Request, exc: AdmissionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(ValueError)
    async def value_error(_request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    api.include_router(api_auth.router())
    app.include_router(api)
    api_auth.install_pages(app, settings, WEB_DIR)
    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


def _bed(service: Service, bed_id: str) -> None:
    if bed_id not in service.board.beds:
        raise HTTPException(404, f"no bed {bed_id!r}")


async def _drain_client(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _waveform_beds(param: str, service: Service) -> set[str]:
    if not param:
        return set()
    if param == "all":
        return set(service.board.beds)
    return {b for b in param.split(",") if b in service.board.beds}


def _live_messages(events: list[Any], service: Service,
                   wave_beds: set[str]) -> list[dict[str, Any]]:
    """Group a burst of bus events into stream messages: one ``vitals`` per device."""
    vitals: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    updated: set[str] = set()
    for e in events:
        if isinstance(e, AlarmEvent):
            view = service.alarms.bed_view(e.bed_id)
            out.append({"type": "alarm", "bed_id": e.bed_id, "event": e.to_dict(),
                        "alarms": view["alarms"],
                        "audio_paused_until": view["audio_paused_until"]})
            continue
        if isinstance(e, BedUpdate):
            updated.add(e.bed_id)
            continue
        bed_id = service.board.bed_of(e.device_id)
        if bed_id is None:
            continue
        if isinstance(e, Observation):
            msg = vitals.setdefault(e.device_id, {
                "type": "vitals", "bed_id": bed_id, "device_id": e.device_id,
                "time": e.time, "values": {},
            })
            msg["time"] = max(msg["time"], e.time)
            msg["values"][e.metric] = {"value": e.value, "unit": e.unit, "time": e.time,
                                       "flags": sorted(e.flags)}
        elif isinstance(e, DeviceStatus):
            out.append({"type": "device", "bed_id": bed_id, **e.to_dict()})
        elif isinstance(e, Waveform) and bed_id in wave_beds:
            out.append({"type": "waveform", "bed_id": bed_id, "device_id": e.device_id,
                        "metric": e.metric, "time": e.time, "sample_rate": e.sample_rate,
                        "unit": e.unit, "samples": list(e.samples)})
    out += [{"type": "bed", "bed": service.bed_snapshot(b)} for b in sorted(updated)]
    return list(vitals.values()) + out
