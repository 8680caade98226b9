"""The alarm system live, on real parts: simulator -> pty -> rules -> API/WebSocket -> store,
nurses' actions (recorded under the signed-in user), and survival across a server restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import MS, invalid_fields
from tests.liveserver import LiveServer

# A short SPO2_LOW delay keeps the test fast; the default delays are tested in virtual
# time in test_rules.
FAST = {"rules": {"SPO2_LOW": {"delay": 2}}}
USERS = {"nurse.ada": "nurse", "dr.lee": "charge_nurse"}
"""Who signs in: the first is the default (``live.headers``)."""


@pytest.fixture
async def hypoxic_bed(tmp_path: Path):
    """Bed 1's oximeter reads about 90 % (below 93 %); bed 2 is empty."""
    port = PtyPort(link=str(tmp_path / "ttyBED1"))
    sim = asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"], port,
                                           patient=Patient(spo2=90.4)))
    unit = UnitConfig(name="alarm test", alarms=FAST, beds=[
        BedConfig(id="bed-1", devices=[
            DeviceConfig(id="bed-1-ox", protocol="masimo", port=port.path)]),
        BedConfig(id="bed-2"),
    ])
    yield unit, tmp_path / "alarms.db"
    sim.cancel()
    await asyncio.gather(sim, return_exceptions=True)
    port.close()


async def start(unit: UnitConfig, db: Path) -> LiveServer:
    live = LiveServer(unit, db=str(db), users=USERS, reconnect_max_s=0.5)
    await asyncio.to_thread(live.start)
    return live


async def wait_for(predicate, timeout: float, every: float = 0.2):
    async with asyncio.timeout(timeout):
        while True:
            result = await predicate()
            if result:
                return result
            await asyncio.sleep(every)


async def test_alarm_onset_ack_log_and_restart(hypoxic_bed) -> None:
    unit, db = hypoxic_bed
    live = await start(unit, db)
    try:
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
            r = await http.post("/api/beds/bed-1/admit",
                                json={"patient_label": "Test patient", "infusion_day": 3,
                                      "dose_mg": 50})
            assert r.status_code == 201, r.text
            assert r.json()["phase"] == "pre_infusion"

            async with connect(live.ws_url + "/ws/live", additional_headers=live.headers) as ws:
                await ws.recv()

                async def onset():
                    msg = json.loads(await ws.recv())
                    return msg if msg["type"] == "alarm" and msg["event"]["event"] == "onset" \
                        and msg["event"]["rule"] == "SPO2_LOW" else None

                msg = await wait_for(onset, 15000 * MS, every=0)
            assert msg["bed_id"] == "bed-1"
            assert msg["event"]["priority"] == "medium"
            assert msg["event"]["value"] < 93 and msg["event"]["threshold"] == 93
            assert any(a["rule"] == "SPO2_LOW" for a in msg["alarms"])

            active = (await http.get("/api/alarms")).json()
            spo2 = next(a for a in active if a["rule"] == "SPO2_LOW")
            assert spo2["acknowledged"] is False

            r = await http.post(f"/api/alarms/{spo2['alarm_id']}/acknowledge", json={})
            assert r.status_code == 200, r.text
            assert r.json()["acknowledged"] is True and r.json()["acked_by"] == "nurse.ada"

            r = await http.post("/api/beds/bed-1/audio-pause", json={})
            assert r.status_code == 200
            bed = (await http.get("/api/beds/bed-1")).json()
            assert bed["audio_paused_until"] > 0
            assert bed["admission"]["patient_label"] == "Test patient"

            async def logged():
                log = (await http.get("/api/alarms/log", params={"bed_id": "bed-1"})).json()
                events = {(e["rule"], e["event"]) for e in log}
                wanted = {("SPO2_LOW", "onset"), ("SPO2_LOW", "acknowledged"),
                          (None, "audio_paused")}
                return log if wanted <= events else None

            log = await wait_for(logged, 5000 * MS)
            ack = next(e for e in log if e["event"] == "acknowledged")
            assert ack["user"] == "nurse.ada"
            assert any(e["event"] == "audio_paused" and e["user"] == "nurse.ada" for e in log)

            r = await http.post("/api/beds/bed-1/baseline",
                                json={"reason": "clinic values", "hr": 70, "sys": 124,
                                      "dia": 78})
            assert r.status_code == 200

            async def rebaselined():
                log = (await http.get("/api/alarms/log", params={"bed_id": "bed-1"})).json()
                return [e for e in log if e["event"] == "rebaseline"]

            assert {e["user"] for e in await wait_for(rebaselined, 5000 * MS)} == {"nurse.ada"}
            r = await http.post("/api/beds/bed-1/infusion/start",
                                headers=live.headers_for("dr.lee"))
            assert r.status_code == 200
            assert r.json()["infusion_started_by"] == "dr.lee"
    finally:
        await asyncio.to_thread(live.stop)

    # A restart keeps the admission, the active (acknowledged) alarm and the pause.
    live = await start(unit, db)
    try:
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
            bed = (await http.get("/api/beds/bed-1")).json()
            assert bed["admission"]["patient_label"] == "Test patient"
            spo2 = next(a for a in bed["alarms"] if a["rule"] == "SPO2_LOW")
            assert spo2["acknowledged"] is True and spo2["acked_by"] == "nurse.ada"
            assert bed["audio_paused_until"] is not None
            # The frozen baselines too, with their provenance.
            assert bed["baseline"]["preview"] is False
            assert bed["baseline"]["hr"]["hr"] == 70
            assert bed["baseline"]["bp"]["systolic"] == 124
            assert bed["baseline"]["bp"]["confirmed_by"] == "dr.lee"
            assert bed["admission"]["phase"] == "infusion"
    finally:
        await asyncio.to_thread(live.stop)


async def test_session_flow_and_errors(hypoxic_bed) -> None:
    unit, db = hypoxic_bed
    live = await start(unit, db)
    try:
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
            # Nothing to start before a patient is admitted.
            r = await http.post("/api/beds/bed-2/infusion/start", json={})
            assert r.status_code == 409 and "no patient" in r.json()["detail"]
            r = await http.post("/api/beds/bed-2/admit", json={})
            assert r.status_code == 422  # patient_label missing
            # Who acts is the signed-in user, never a field of the body.
            r = await http.post("/api/beds/bed-2/admit",
                                json={"user": "someone.else", "patient_label": "P"})
            assert r.status_code == 422 and "user" in r.text
            r = await http.post("/api/beds/bed-2/admit",
                                json={"patient_label": "P", "infusion_day": 11})
            assert r.status_code == 422 and "infusion_day" in r.text
            r = await http.post("/api/beds/bed-9/admit", json={"patient_label": "P"})
            assert r.status_code == 404
            r = await http.post("/api/beds/bed-2/admit", json={"patient_label": "P"})
            assert r.status_code == 201
            r = await http.post("/api/beds/bed-2/admit", json={"patient_label": "Q"})
            assert r.status_code == 409 and "already has a patient" in r.json()["detail"]

            r = await http.post("/api/beds/bed-2/events",
                                json={"kind": "premedication",
                                      "detail": {"drug": "clonidine", "dose_mg": 0.1}})
            assert r.status_code == 201
            r = await http.post("/api/beds/bed-2/events", json={"kind": "dance"})
            assert "unknown event kind" in invalid_fields(r)["kind"]
            journal = {"pain": 7, "worst_pain": 9, "least_pain": 5, "pain_24h": 8,
                       "affective": 2, "movement": 6, "character": ["burning"]}
            r = await http.post("/api/beds/bed-2/events",
                                json={"kind": "journal", "detail": journal})
            assert r.status_code == 201, r.text
            for bad, field in [({"pain": 11}, "detail.pain"),
                               ({"affective": 5}, "detail.affective"),
                               ({"mood": 3}, "detail.mood"), ({}, "detail")]:
                r = await http.post("/api/beds/bed-2/events",
                                    json={"kind": "journal", "detail": bad})
                assert field in invalid_fields(r), (bad, r.text)
            r = await http.post("/api/beds/bed-2/events",
                                json={"kind": "side_effect",
                                      "detail": {"effect": "headache"}})
            assert r.status_code == 201
            r = await http.post("/api/beds/bed-2/baseline",
                                json={"reason": "clinic reading", "sys": 128,
                                      "dia": 80, "hr": 70})
            assert r.status_code == 200, r.text
            assert r.json()["bp"]["systolic"] == 128 and r.json()["hr"]["method"] == "manual"
            r = await http.post("/api/beds/bed-2/baseline", json={"reason": "x"})
            assert r.status_code == 422

            dr_lee = live.headers_for("dr.lee")
            r = await http.post("/api/beds/bed-2/infusion/start", json={}, headers=dr_lee)
            assert r.status_code == 200 and r.json()["phase"] == "infusion"
            assert r.json()["infusion_started_by"] == "dr.lee"
            r = await http.post("/api/beds/bed-2/infusion/start", headers=dr_lee)
            assert r.status_code == 409
            bed = (await http.get("/api/beds/bed-2")).json()
            assert bed["baseline"]["preview"] is False
            # Frozen and confirmed by whoever started the infusion; the reason is kept.
            assert bed["baseline"]["bp"]["confirmed_by"] == "dr.lee"
            assert bed["baseline"]["bp"]["reason"] == "clinic reading"
            events = (await http.get("/api/beds/bed-2/events")).json()
            assert [e["kind"] for e in events] == ["premedication", "journal", "side_effect"]
            assert events[1]["detail"]["pain"] == 7

            r = await http.post("/api/beds/bed-2/infusion/stop", headers=dr_lee)
            assert r.json()["phase"] == "post_infusion"
            r = await http.post("/api/beds/bed-2/discharge")
            assert r.json()["phase"] == "discharged"
            bed = (await http.get("/api/beds/bed-2")).json()
            assert bed["admission"] is None and bed["alarms"] == []

            r = await http.post("/api/alarms/nope/acknowledge", json={})
            assert r.status_code == 404
            r = await http.post("/api/beds/bed-1/audio-pause", json={"seconds": 600})
            assert r.status_code == 422
    finally:
        await asyncio.to_thread(live.stop)


async def test_patient_alarm_settings_validated_applied_and_kept(hypoxic_bed) -> None:
    unit, db = hypoxic_bed
    live = await start(unit, db)
    try:
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
            # Patient alarm settings are a charge nurse's (or an admin's) decision.
            dr_lee = live.headers_for("dr.lee")
            body = {"reason": "chronic lung disease, usual SpO2 91-92 %",
                    "settings": {"rules": {"SPO2_LOW": {"threshold": 90, "delay": 20}}}}
            r = await http.post("/api/beds/bed-2/alarm-settings", json=body, headers=dr_lee)
            assert r.status_code == 409  # no patient yet
            await http.post("/api/beds/bed-2/admit", json={"patient_label": "P"})
            r = await http.post("/api/beds/bed-2/alarm-settings", json=body)  # a nurse
            assert r.status_code == 403 and "charge_nurse" in r.json()["detail"]
            bad = {**body, "settings": {"rules": {"SPO2_LOW": {"priority": "low"}}}}
            r = await http.post("/api/beds/bed-2/alarm-settings", json=bad, headers=dr_lee)
            assert "priority" in invalid_fields(r)["settings.rules.SPO2_LOW.priority"]
            bad = {**body, "settings": {"rules": {"SPO2_LOW": {"delay": -1}}}}
            r = await http.post("/api/beds/bed-2/alarm-settings", json=bad, headers=dr_lee)
            assert "negative" in invalid_fields(r)["settings.rules.SPO2_LOW.delay"]
            r = await http.post("/api/beds/bed-2/alarm-settings", json=body, headers=dr_lee)
            assert r.status_code == 200, r.text
            assert r.json()["effective"]["rules"]["SPO2_LOW"]["threshold"] == 90
            # Other beds keep the site's rules.
            r = await http.get("/api/beds/bed-1/alarm-settings")
            assert r.json()["effective"]["rules"]["SPO2_LOW"]["threshold"] == 93
    finally:
        await asyncio.to_thread(live.stop)
    live = await start(unit, db)
    try:
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
            r = await http.get("/api/beds/bed-2/alarm-settings")
            assert r.json()["effective"]["rules"]["SPO2_LOW"]["threshold"] == 90
            await http.post("/api/beds/bed-2/discharge", json={})
            r = await http.get("/api/beds/bed-2/alarm-settings")
            assert r.json()["effective"]["rules"]["SPO2_LOW"]["threshold"] == 93
    finally:
        await asyncio.to_thread(live.stop)
