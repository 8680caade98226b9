"""The whole path on real parts: simulator -> pty -> driver -> bus -> store -> HTTP/WebSocket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import MS
from tests.liveserver import LiveServer


@pytest.fixture
async def unit_with_simulator(tmp_path: Path):
    port = PtyPort(link=str(tmp_path / "ttyBED1"))
    sim = asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["desaturation"],
                                           port, patient=Patient(spo2=97, hr=70)))
    unit = UnitConfig(name="test unit", beds=[
        BedConfig(id="bed-1", label="Bed 1", devices=[
            DeviceConfig(id="bed-1-ox", protocol="masimo", port=port.path)]),
        BedConfig(id="bed-2", label="Bed 2", devices=[
            DeviceConfig(id="bed-2-ox", protocol="masimo", port=str(tmp_path / "absent"))]),
    ])
    yield unit, port
    sim.cancel()
    await asyncio.gather(sim, return_exceptions=True)
    port.close()


@pytest.fixture
async def server(unit_with_simulator, tmp_path: Path):
    unit, port = unit_with_simulator
    live = LiveServer(unit, db=str(tmp_path / "e2e.db"), reconnect_max_s=0.5)
    await asyncio.to_thread(live.start)
    yield live, port
    await asyncio.to_thread(live.stop)


async def test_e2e_serial_bytes_reach_api_store_and_websocket(server) -> None:
    live, _port = server
    async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        async with connect(live.ws_url + "/ws/live", additional_headers=live.headers) as ws:
            first = json.loads(await ws.recv())
            assert first["type"] == "snapshot"
            assert {b["id"] for b in first["beds"]} == {"bed-1", "bed-2"}
            vitals = None
            async with asyncio.timeout(5000 * MS):
                while vitals is None:
                    msg = json.loads(await ws.recv())
                    if msg["type"] == "vitals" and "SPO2" in msg["values"]:
                        vitals = msg
            assert vitals["bed_id"] == "bed-1"
            assert 90 <= vitals["values"]["SPO2"]["value"] <= 100
            assert vitals["values"]["SPO2"]["unit"] == "%"

        beds = {b["id"]: b for b in (await http.get("/api/beds")).json()}
        assert beds["bed-1"]["connection"] == "connected"
        assert beds["bed-1"]["latest"]["SPO2"]["time"] > 0
        assert beds["bed-1"]["devices"][0]["info"]["model"] == "rad8"
        # The unplugged bed says so instead of showing nothing.
        assert beds["bed-2"]["connection"] == "disconnected"
        assert beds["bed-2"]["latest"] == {}

        stored = []
        async with asyncio.timeout(5000 * MS):
            while not stored:
                stored = (await http.get("/api/beds/bed-1/observations",
                                         params={"metric": "SPO2"})).json()
                await asyncio.sleep(0.2)
        assert all(o["metric"] == "SPO2" and o["code"] == "MDC_PULS_OXIM_SAT_O2" for o in stored)


async def test_e2e_websocket_reports_unplug_and_replug(server) -> None:
    live, port = server
    async with connect(live.ws_url + "/ws/live", additional_headers=live.headers) as ws:
        await ws.recv()  # snapshot

        async def wait_state(state: str) -> dict:
            async with asyncio.timeout(5000 * MS):
                while True:
                    msg = json.loads(await ws.recv())
                    if msg["type"] == "device" and msg["bed_id"] == "bed-1" \
                            and msg["state"] == state:
                        return msg

        await asyncio.sleep(1.0)
        port.unplug()
        await wait_state("disconnected")
        port.plug()
        await wait_state("connected")


async def test_e2e_heartbeat_arrives_every_second(server) -> None:
    live, _ = server
    async with connect(live.ws_url + "/ws/live", additional_headers=live.headers) as ws:
        beats = 0
        async with asyncio.timeout(4000 * MS):
            while beats < 2:
                if json.loads(await ws.recv())["type"] == "heartbeat":
                    beats += 1


async def test_e2e_live_stream_and_api_require_sign_in(server) -> None:
    live, _ = server
    with pytest.raises(InvalidStatus) as refused:
        async with connect(live.ws_url + "/ws/live"):
            pass
    assert refused.value.response.status_code == 401
    async with httpx.AsyncClient(base_url=live.url) as http:
        assert (await http.get("/api/beds")).status_code == 401
        assert (await http.get("/healthz")).status_code == 200
