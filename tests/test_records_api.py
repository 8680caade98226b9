"""The patient's course through the API, as a unit runs it: register, plan, admit, chart,
infuse, correct, discharge, and read the past session back. A real server, a real SQLite
file, and a simulated oximeter on a pty for the vitals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import MS, invalid_fields
from tests.liveserver import LiveServer

PATIENT = {"identifier": "MRN-0042", "family_name": "Rivera", "given_name": "Ana",
           "birth_date": "1981-04-12", "sex": "F", "weight_kg": 70.5, "height_cm": 165,
           "asa_class": 2, "diagnosis": "CRPS", "crps_type": "I", "affected_limb": "left_arm",
           "medications": ["gabapentin 300 mg", "amitriptyline 25 mg"]}


@pytest.fixture
async def live(tmp_path: Path):
    port = PtyPort(link=str(tmp_path / "ttyBED1"))
    sim = asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"], port,
                                           patient=Patient(spo2=97.0, hr=70)))
    unit = UnitConfig(name="records", beds=[
        BedConfig(id="bed-1", devices=[
            DeviceConfig(id="bed-1-ox", protocol="masimo", port=port.path)]),
        BedConfig(id="bed-2"),
    ])
    server = LiveServer(unit, db=str(tmp_path / "records.db"),
                        users={"nurse.ada": "nurse", "dr.lee": "charge_nurse"},
                        reconnect_max_s=0.5)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        sim.cancel()
        await asyncio.gather(sim, return_exceptions=True)
        port.close()


async def _register(http: httpx.AsyncClient) -> dict[str, Any]:
    r = await http.post("/api/patients", json=PATIENT)
    assert r.status_code == 201, r.text
    return r.json()


async def test_patients_are_registered_validated_and_found(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        patient = await _register(http)
        assert patient["display_name"] == "Rivera, Ana" and patient["created_by"] == "nurse.ada"
        r = await http.post("/api/patients", json=PATIENT)
        assert r.status_code == 409 and "identifier" in r.json()["detail"]
        for field, value in [("sex", "X"), ("birth_date", "1981-02-30"), ("asa_class", 9),
                             ("weight_kg", -3), ("affected_limb", "tail"),
                             ("identifier", "=cmd")]:
            r = await http.post("/api/patients", json={**PATIENT, "identifier": "MRN-9",
                                                       field: value})
            assert field in invalid_fields(r), (field, r.text)
        r = await http.post("/api/patients", json={"identifier": "MRN-7"})
        assert "family_name" in invalid_fields(r)
        assert [p["identifier"] for p in (await http.get(
            "/api/patients", params={"q": "river"})).json()] == ["MRN-0042"]
        assert [p["identifier"] for p in (await http.get(
            "/api/patients", params={"q": "0042"})).json()] == ["MRN-0042"]
        r = await http.patch(f"/api/patients/{patient['id']}", json={"weight_kg": 69})
        assert r.status_code == 200 and r.json()["weight_kg"] == 69
        assert (await http.get("/api/patients/999")).status_code == 404


async def test_a_course_from_admission_to_a_past_session(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        patient = await _register(http)
        pid = patient["id"]
        r = await http.post(f"/api/patients/{pid}/courses", json={})
        assert r.status_code == 201, r.text
        course = r.json()
        assert course["planned_doses_mg"] == [40, 45, 50, 55, 60, 65, 70, 75, 80, 80]
        assert (await http.post(f"/api/patients/{pid}/courses", json={})).status_code == 409

        # Admission opens the next course day; one patient is in one bed only.
        r = await http.post("/api/beds/bed-1/admit", json={"patient_id": pid})
        assert r.status_code == 201, r.text
        session = r.json()
        assert (session["course_day"], session["planned_dose_mg"]) == (1, 40)
        r = await http.post("/api/beds/bed-2/admit", json={"patient_id": pid})
        assert r.status_code == 409 and "already in bed bed-1" in r.json()["detail"]

        await _premedication_is_checked_against_the_plan(http)
        journal = await _journal_before_the_infusion(http)
        await _dose_is_checked_at_the_start(http)
        await _infusion_steps(http)
        effect = await _side_effects_and_corrections(http, journal,
                                                     live.headers_for("dr.lee"))

        # Vitals flow from the pty for a moment before discharge.
        await _wait_for_readings(http, session["id"])
        r = await http.post("/api/beds/bed-1/discharge", json={})
        assert r.status_code == 200 and r.json()["phase"] == "discharged"

        past = (await http.get(f"/api/sessions/{session['id']}")).json()
        assert past["patient"]["identifier"] == "MRN-0042"
        assert past["dose_mg"] == 40 and past["infusion_stop_reason"] == "completed"
        assert [s["step"] for s in past["steps"]] == ["start", "pause", "resume", "stop"]
        assert past["nurses"] == ["dr.lee", "nurse.ada"]
        assert past["devices"][0]["id"] == "bed-1-ox"
        kinds = sorted(e["kind"] for e in past["events"])
        assert kinds == ["journal", "premedication", "premedication"]
        assert effect["id"] not in [e["id"] for e in past["events"]]  # voided
        trends = (await http.get(f"/api/sessions/{session['id']}/trends")).json()
        assert trends["minutes"] and trends["minutes"][0]["SPO2"] == pytest.approx(97, abs=1)
        alarms = (await http.get(f"/api/sessions/{session['id']}/alarms")).json()
        assert alarms and {a["session_id"] for a in alarms} == {session["id"]}
        assert (await http.get("/api/sessions/9999")).status_code == 404

        # The next admission is day 2; cancelling it before the infusion frees the day.
        r = await http.post("/api/beds/bed-2/admit", json={"patient_id": pid})
        assert r.status_code == 201 and r.json()["course_day"] == 2
        r = await http.post("/api/beds/bed-2/discharge", json={})
        assert r.json()["phase"] == "cancelled"
        r = await http.post("/api/beds/bed-2/admit", json={"patient_id": pid})
        assert r.json()["course_day"] == 2 and r.json()["planned_dose_mg"] == 45
        r = await http.post("/api/beds/bed-1/admit", json={"patient_label": "Other",
                                                           "patient_ref": "MRN-0042"})
        assert r.status_code == 409  # the same patient, named by identifier

        # Follow-up journals after the course.
        r = await http.post(f"/api/courses/{course['id']}/follow-ups",
                            json={"week": 2, "detail": {"pain": 3, "worst_pain": 4}})
        assert r.status_code == 201 and r.json()["follow_up_week"] == 2
        r = await http.post(f"/api/courses/{course['id']}/follow-ups",
                            json={"week": 2, "detail": {"pain": 2}})
        assert r.status_code == 409
        full = (await http.get(f"/api/courses/{course['id']}")).json()
        assert [f["follow_up_week"] for f in full["follow_ups"]] == [2]
        assert full["days_done"] == [1, 2]


async def test_nibp_on_demand_is_refused_where_the_monitor_cannot(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        bed = (await http.get("/api/beds/bed-1")).json()
        assert [d["can_start_nibp"] for d in bed["devices"]] == [False]
        r = await http.post("/api/beds/bed-1/nibp", json={})
        assert r.status_code == 409 and "start it on the monitor" in r.json()["detail"]
        trail = (await http.get("/api/audit", params={"action": "nibp_requested"},
                                headers=live.headers_for("dr.lee")))
        assert trail.status_code == 403  # the trail is for admins


async def _chart(http: httpx.AsyncClient, kind: str, detail: dict[str, Any],
                 **headers: str) -> httpx.Response:
    return await http.post("/api/beds/bed-1/events", json={"kind": kind, "detail": detail},
                           headers=headers or None)


async def _premedication_is_checked_against_the_plan(http: httpx.AsyncClient) -> None:
    r = await _chart(http, "premedication", {"drug": "midazolam", "dose_mg": 40})
    assert "at most 10" in invalid_fields(r)["detail.dose_mg"]
    r = await _chart(http, "premedication", {"drug": "midazolam", "dose_mg": 5})
    assert "off the plan" in invalid_fields(r)["detail.deviation_reason"]
    r = await _chart(http, "premedication", {"drug": "midazolam", "dose_mg": 5,
                                             "deviation_reason": "very anxious today"})
    assert r.status_code == 201 and r.json()["detail"]["route"] == "IV"
    r = await _chart(http, "premedication", {"drug": "clonidine", "dose_mg": 0.1})
    assert r.status_code == 201 and r.json()["detail"]["route"] == "PO"


async def _journal_before_the_infusion(http: httpx.AsyncClient) -> dict[str, Any]:
    r = await _chart(http, "journal", {"pain": 7, "worst_pain": 4, "least_pain": 6})
    assert "below least pain" in invalid_fields(r)["detail.worst_pain"]
    r = await _chart(http, "journal", {"pain": 7, "worst_pain": 9, "least_pain": 5})
    assert r.status_code == 201 and r.json()["late"] is False
    second = await _chart(http, "journal", {"pain": 6})
    assert second.status_code == 409 and "amend" in second.json()["detail"]
    return dict(r.json())


async def _dose_is_checked_at_the_start(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/beds/bed-1/infusion/start", json={"dose_mg": 45})
    assert "deviation reason" in invalid_fields(r)["deviation_reason"]
    r = await http.post("/api/beds/bed-1/infusion/start",
                        json={"dose_mg": 90, "deviation_reason": "doctor's order"})
    assert "maximum" in invalid_fields(r)["dose_mg"]
    r = await http.post("/api/beds/bed-1/infusion/start", json={})
    assert r.status_code == 200 and r.json()["dose_mg"] == 40, r.text


async def _infusion_steps(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/beds/bed-1/infusion/pause", json={})
    assert "reason" in invalid_fields(r)
    r = await http.post("/api/beds/bed-1/infusion/pause", json={"reason": "nausea"})
    assert r.status_code == 200 and r.json()["phase"] == "paused"
    r = await http.post("/api/beds/bed-1/infusion/resume", json={})
    assert r.json()["phase"] == "infusion"
    r = await http.post("/api/beds/bed-1/infusion/stop", json={})
    assert r.json()["phase"] == "post_infusion"


async def _side_effects_and_corrections(http: httpx.AsyncClient, journal: dict[str, Any],
                                        dr_lee: dict[str, str]) -> dict[str, Any]:
    r = await _chart(http, "side_effect", {"effect": "tachycardia", "severity": "mild",
                                           "intervention": "none", "onset": 100.0,
                                           "resolved_at": 50.0})
    assert "onset" in invalid_fields(r)["detail.resolved_at"]
    r = await _chart(http, "side_effect", {"effect": "headache", "severity": "moderate",
                                           "intervention": "paracetamol 1 g PO"})
    assert r.status_code == 201
    effect = r.json()
    # The journal is amended (with a reason), the side effect voided; originals stay.
    r = await http.post(f"/api/events/{journal['id']}/amend",
                        json={"detail": {"pain": 7, "worst_pain": 9, "least_pain": 4}})
    assert "reason" in invalid_fields(r)
    r = await http.post(f"/api/events/{journal['id']}/amend",
                        json={"reason": "patient corrected least pain",
                              "detail": {"pain": 7, "worst_pain": 9, "least_pain": 4}},
                        headers=dr_lee)
    assert r.status_code == 201 and r.json()["supersedes"] == journal["id"]
    again = await http.post(f"/api/events/{journal['id']}/amend",
                            json={"reason": "twice", "detail": {"pain": 1}})
    assert again.status_code == 409
    r = await http.post(f"/api/events/{effect['id']}/void",
                        json={"reason": "charted on the wrong patient"})
    assert r.status_code == 200 and r.json()["voided"] and r.json()["voided_by"] == "nurse.ada"
    history = (await http.get("/api/beds/bed-1/events", params={"history": "true"})).json()
    old = next(e for e in history if e["id"] == journal["id"])
    assert old["amended"] and old["detail"]["least_pain"] == 5
    return effect


async def _wait_for_readings(http: httpx.AsyncClient, session_id: int) -> None:
    async with asyncio.timeout(15_000 * MS):
        while True:
            r = await http.get("/api/beds/bed-1/observations", params={"metric": "SPO2"})
            if len(r.json()) >= 3:
                return
            await asyncio.sleep(0.2)


async def test_trend_minutes_kept_by_the_writer_equal_those_from_the_readings(
    tmp_path: Path,
) -> None:
    from sqlalchemy import text

    from monitor.domain.models import Flag, Observation
    from monitor.live.bus import Bus
    from monitor.live.writer import StoreWriter
    from monitor.records import courses, history, patients, sessions
    from monitor.storage.database import Store

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    try:
        t0 = 1_700_000_000.0
        p = await patients.create(store, {"identifier": "T-1", "family_name": "T"}, "n", t0)
        c = await courses.create(store, p.id, courses.DosePlan(), "n", t0)
        a = await sessions.admit(store, "bed-1", p, c, "n", t0)
        writer = StoreWriter(Bus(), store)
        readings = []
        for s in range(0, 600):
            flags = {Flag.MOTION} if s % 17 == 0 else set()
            readings += [Observation.of("SPO2", 90 + s % 7, t0 + s, "ox", flags, "bed-1"),
                         Observation.of("HR", 60 + s % 11, t0 + s, "ecg", bed_id="bed-1")]
        for i in range(0, len(readings), 97):  # in the writer's batches
            for o in readings[i:i + 97]:
                writer.subscription.put(o)
            await writer.flush()
        a = await sessions.discharge(store, "bed-1", "n", t0 + 700)
        kept = await history.session_minutes(store, a, t0 + 700)
        computed = history.minute_medians(readings)
        assert kept == computed and len(kept) >= 10
        async with store.session() as session:
            rows = (await session.execute(text("SELECT COUNT(*) FROM trend_minutes"))).scalar()
        # All but the writer's first minute and the minute still open were kept.
        assert rows == 2 * (len(kept) - 2)
    finally:
        await store.close()


async def test_report_pdfs_are_served_beside_their_json(live: LiveServer) -> None:
    """``/api/reports/session/7.pdf`` and ``/api/reports/course/MRN-0042.pdf`` are the
    PDFs, not their JSON twins taking "7.pdf" for a session id or "MRN-0042.pdf" for an
    identifier."""
    async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        patient = await _register(http)
        r = await http.post("/api/beds/bed-2/admit", json={"patient_id": patient["id"]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        for step in ("infusion/start", "infusion/stop", "discharge"):
            assert (await http.post(f"/api/beds/bed-2/{step}", json={})).status_code == 200
        for path in (f"/api/reports/session/{sid}.pdf", "/api/reports/course/MRN-0042.pdf"):
            r = await http.get(path)
            assert r.status_code == 200, (path, r.text)
            assert r.headers["content-type"] == "application/pdf"
            assert r.content.startswith(b"%PDF")
        assert (await http.get(f"/api/reports/session/{sid}")).json()["session"]["id"] == sid
        course = (await http.get("/api/reports/course/MRN-0042")).json()
        assert course["patient"]["identifier"] == "MRN-0042"
        assert (await http.get("/api/reports/session/999.pdf")).status_code == 404
