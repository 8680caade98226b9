"""HTTP and WebSocket API (FastAPI), and the dashboard's static files.

``create_app(settings, unit)`` builds the app; its lifespan opens the store and runs the
:class:`~monitor.service.Service`. Routes:

- ``GET /healthz``: liveness and counters.
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
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from monitor.config import Settings, UnitConfig
from monitor.models import DeviceStatus, Observation, Waveform
from monitor.service import Service
from monitor.store import Store

_LOGGER = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

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
    """A bed: its devices, overall connection state and latest values by metric."""

    id: str
    label: str
    connection: str
    devices: list[DeviceView]
    latest: dict[str, LatestValue]


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


def create_app(settings: Settings | None = None, unit: UnitConfig | None = None) -> FastAPI:
    """Build the application.

    Args:
        settings: service settings (environment defaults when None).
        unit: beds and devices (from ``settings.config`` when None, else an empty unit).
    """
    settings = settings or Settings()
    if unit is None:
        unit = UnitConfig.load(settings.config) if settings.config else UnitConfig()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await Store.open(settings.db_url)
        service = Service(settings, unit, store)
        app.state.service = service
        task = asyncio.create_task(service.run(), name="service")
        await service.started.wait()
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
    )

    @app.get("/healthz", tags=["service"])
    async def healthz(service: ServiceDep) -> dict[str, Any]:
        """Liveness and counters (no patient data)."""
        return {"status": "ok", "time": time.time(), **service.health()}

    @app.get("/api/beds", tags=["beds"], response_model=list[BedView])
    async def list_beds(service: ServiceDep) -> list[dict[str, Any]]:
        """Every bed with its devices, connection state and latest values with times."""
        return service.board.snapshot()

    @app.get("/api/beds/{bed_id}", tags=["beds"], response_model=BedView)
    async def get_bed(bed_id: str, service: ServiceDep) -> dict[str, Any]:
        """One bed."""
        for bed in service.board.snapshot():
            if bed["id"] == bed_id:
                return bed
        raise HTTPException(404, f"no bed {bed_id!r}")

    @app.get("/api/beds/{bed_id}/observations", tags=["beds"],
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
        if bed_id not in service.board.beds:
            raise HTTPException(404, f"no bed {bed_id!r}")
        if since is not None and until is not None and since > until:
            raise HTTPException(422, "since must not be after until")
        rows = await service.store.recent_observations(bed_id, metric, since, until, limit)
        return [o.to_dict() for o in rows]

    @app.websocket("/ws/live")
    async def live(websocket: WebSocket, waveforms: str = "") -> None:
        """Live stream: snapshot first, then changes. ``?waveforms=all`` or a comma list of
        bed ids adds waveform messages for those beds."""
        service: Service = websocket.app.state.service
        await websocket.accept()
        wanted = _waveform_beds(waveforms, service)
        types: tuple[type, ...] = (Observation, DeviceStatus)
        if wanted:
            types += (Waveform,)
        sub = service.bus.subscribe(*types, maxsize=20_000, name="websocket")
        # Reading is what notices a browser that went away; clients send nothing we need yet.
        reader = asyncio.create_task(_drain_client(websocket))
        try:
            await websocket.send_text(json.dumps({
                "type": "snapshot", "unit": service.unit.name, "time": time.time(),
                "beds": service.board.snapshot(),
            }))
            last_beat = 0.0
            while not reader.done():
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

    @app.exception_handler(ValueError)
    async def value_error(_request: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    if WEB_DIR.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


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


def _live_messages(events: list[Any], service: Service, wave_beds: set[str]) -> list[dict[str, Any]]:
    """Group a burst of bus events into stream messages: one ``vitals`` per device."""
    vitals: dict[str, dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for e in events:
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
    return list(vitals.values()) + out
