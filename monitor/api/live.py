"""The live stream, ``/ws/live``: the board's snapshot, then its deltas as they happen.

The stream only serializes what the board built (:class:`~monitor.live.views.BedDelta`
carries its JSON text, made once for every screen); waveforms come straight from the
devices for the beds a client asked for.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from monitor.api.auth import WS_SIGNED_OUT, LiveAuth, websocket_auth
from monitor.domain.models import Waveform
from monitor.live.bus import Subscription
from monitor.live.views import BedDelta
from monitor.service import Service

COALESCE_S = 0.02
"""After the first change, how long the stream lets a burst gather before sending it: an
alarm reaches the screen within tens of milliseconds, waveforms go in bunches."""
HEARTBEAT_S = 1.0

router = APIRouter()


@router.websocket("/ws/live")
async def live(websocket: WebSocket, waveforms: str = "") -> None:
    """Live stream: snapshot first, then changes. ``?waveforms=all`` or a comma list of
    bed ids adds waveform messages for those beds."""
    service: Service = websocket.app.state.service
    auth = await websocket_auth(websocket)
    if auth is None:
        return
    await websocket.accept()
    wanted = _waveform_beds(waveforms, service)
    types: tuple[type, ...] = (BedDelta, Waveform) if wanted else (BedDelta,)
    # Snapshot, then subscribe, with no await in between: every change after the snapshot
    # reaches this client, and none before it arrives twice.
    snapshot = {"type": "snapshot", "unit": service.unit.name, "time": time.time(),
                "beds": service.board.snapshot(), "system": service.board.system_conditions()}
    sub = service.bus.subscribe(*types, maxsize=20_000, name="websocket")
    # Reading is what notices a browser that went away; clients send nothing we need yet.
    reader = asyncio.create_task(_drain_client(websocket))
    try:
        await websocket.send_text(json.dumps(snapshot))
        await _stream(websocket, sub, auth, wanted, reader)
    except (WebSocketDisconnect, ConnectionError, RuntimeError):
        pass  # the browser left mid-send
    finally:
        sub.close()
        reader.cancel()


async def _stream(websocket: WebSocket, sub: Subscription, auth: LiveAuth, wanted: set[str],
                  reader: asyncio.Task[None]) -> None:
    last_beat = 0.0
    while not reader.done():
        if not await auth.still_valid():
            await websocket.close(WS_SIGNED_OUT, "signed out")
            return
        if await sub.wait(HEARTBEAT_S):
            await asyncio.sleep(COALESCE_S)
        for item in sub.drain():
            text = _text(item, wanted)
            if text is not None:
                await websocket.send_text(text)
        now = time.monotonic()
        if now - last_beat >= HEARTBEAT_S:
            last_beat = now
            await websocket.send_text(json.dumps({"type": "heartbeat", "time": time.time(),
                                                  "dropped": sub.dropped}))


def _text(item: Any, wanted: set[str]) -> str | None:
    if isinstance(item, BedDelta):
        return item.text
    if isinstance(item, Waveform) and item.bed_id in wanted:
        return json.dumps({"type": "waveform", "bed_id": item.bed_id,
                           "device_id": item.device_id, "metric": item.metric,
                           "time": item.time, "sample_rate": item.sample_rate,
                           "unit": item.unit, "samples": list(item.samples)})
    return None


async def _drain_client(websocket: WebSocket) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


def _waveform_beds(param: str, service: Service) -> set[str]:
    if not param:
        return set()
    if param == "all":
        return set(service.board.bed_ids)
    return {b for b in param.split(",") if service.board.has_bed(b)}
