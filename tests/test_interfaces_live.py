"""The interfaces end to end: a real server, a simulated GE S/5 on a pty (HR, SpO2, NIBP),
ADT in to register the patient, HL7 results out to a real MLLP receiver that goes away
and comes back, the outbox across a server restart, and the FHIR API read back with the
R4 models of ``fhir.resources``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import hl7
import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from monitor.config.interfaces import AdtInConfig, Hl7OutConfig
from simulators.ge_s5 import GeS5DeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import MS
from tests.liveserver import LiveServer, free_port
from tests.mllp_peer import MllpPeer, field

ADT_A04 = ("MSH|^~\\&|HIS|HOSP|SPU_MONITOR|SPU|20260105081500||ADT^A04^ADT_A01|ADT1|P|2.5\r"
           "EVN|A04|20260105081500\r"
           "PID|1||MRN-0042^^^HOSP^MR||Rivera^Ana||19810412|F\r"
           "OBX|1|NM|29463-7^Body weight^LN||70.5|kg|||||F\r")


def _unit(tmp: Path, port: PtyPort, peer_port: int, adt_port: int) -> UnitConfig:
    return UnitConfig(
        name="SPU", beds=[BedConfig(id="bed-1", devices=[
            DeviceConfig(id="bed-1-mon", protocol="ge_s5", port=port.path,
                         options={"interval": 5})])],
        hl7_out=Hl7OutConfig(host="127.0.0.1", port=peer_port, interval_s=2,
                             stall_after_s=5),
        adt_in=AdtInConfig(port=adt_port))


@contextlib.asynccontextmanager
async def _server(unit: UnitConfig, db: Path) -> AsyncIterator[LiveServer]:
    server = LiveServer(unit, db=str(db), users={"nurse.ada": "admin"},
                        reconnect_max_s=0.5)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@contextlib.asynccontextmanager
async def _bed(port: PtyPort, scenario: str = "hypertension") -> AsyncIterator[None]:
    sim = asyncio.create_task(run_scenario(GeS5DeviceCodec(), SCENARIOS[scenario], port,
                                           patient=Patient(hr=72, spo2=97), speed=10))
    try:
        yield
    finally:
        sim.cancel()
        await asyncio.gather(sim, return_exceptions=True)


async def _until(check: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s * 1000 * MS
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _adt(adt_port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", adt_port)
    writer.write(b"\x0b" + ADT_A04.encode() + b"\x1c\r")
    ack = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5000 * MS)
    writer.close()
    return str(hl7.parse(ack.strip(b"\x0b\x1c\r").decode()).segment("MSA")[1])


async def _admit(http: httpx.AsyncClient, adt_port: int) -> dict[str, Any]:
    assert await _adt(adt_port) == "AA"
    [patient] = (await http.get("/api/patients", params={"q": "MRN-0042"})).json()
    assert patient["source"] == "adt" and patient["weight_kg"] == 70.5
    r = await http.post("/api/beds/bed-1/admit", json={"patient_id": patient["id"]})
    assert r.status_code == 201, r.text
    return r.json()


async def _health(http: httpx.AsyncClient) -> dict[str, Any]:
    return (await http.get("/healthz")).json()


def _kinds(peer: MllpPeer) -> dict[str, int]:
    out = {"vitals": 0, "nibp": 0, "alarm": 0}
    for m in peer.received:
        codes = {str(s[3][0][0]) for s in m.segments("OBX")}
        out["alarm" if field(m, "MSH", 9).startswith("ORU^R40") else
            "nibp" if "150021" in codes else "vitals"] += 1
    return out


async def _made(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await http.get("/api/interfaces/hl7-out/messages", params={"limit": 1000})
    return sorted(r.json(), key=lambda m: m["id"])


def _in_order_without_repeats(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]  # type: ignore[func-returns-value]


def _valid(resource: dict[str, Any]) -> dict[str, Any]:
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


@pytest.fixture
async def rig(tmp_path: Path):
    port = PtyPort(link=str(tmp_path / "ttyBED1"))
    first_nibp: list[str] = []

    def answer(message: hl7.Message) -> str:
        # The first NIBP reading is refused with AE: kept, parked, and the rest flows.
        codes = {str(s[3][0][0]) for s in message.segments("OBX")}
        if "150021" in codes and not first_nibp:
            first_nibp.append(field(message, "MSH", 10))
            return "AE"
        return "AA"

    peer = await MllpPeer(answer=answer).start()
    adt_port = free_port()
    try:
        yield port, peer, adt_port, first_nibp, tmp_path
    finally:
        await peer.stop()
        port.close()


async def test_interfaces_results_out_through_an_outage_and_fhir_back(rig):
    port, peer, adt_port, refused, tmp = rig
    async with _server(_unit(tmp, port, peer.port, adt_port), tmp / "a.db") as live, \
            httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        session = await _admit(http, adt_port)
        r = await http.post("/api/beds/bed-1/events", json={
            "kind": "premedication", "detail": {"drug": "midazolam", "dose_mg": 2}})
        assert r.status_code == 201, r.text
        r = await http.post("/api/beds/bed-1/events", json={
            "kind": "journal", "detail": {"pain": 6, "worst_pain": 8, "least_pain": 3,
                                          "character": ["burning"]}})
        assert r.status_code == 201, r.text
        assert (await http.post("/api/beds/bed-1/infusion/start", json={})).status_code == 200
        async with _bed(port):
            await _until(lambda: _nibp_and_vitals(peer, 2, 2), 40, "results at the peer")
            _check_results(peer, session["id"])
            health = (await _health(http))["hl7_out"]
            assert set(health) >= {"depth", "oldest_age_s", "sent", "errors", "last_ack_at"}
            parked = (await http.get("/api/interfaces/hl7-out/messages",
                                     params={"state": "parked"})).json()
            assert [(m["control_id"], m["ack_code"]) for m in parked] == [(refused[0], "AE")]

            await peer.stop()  # the receiver goes away for a while
            await _until(lambda: _system(http, True), 30, "the hl7_out condition")
            await peer.start()
            await _until(lambda: _system(http, False), 60, "the condition to clear")
        assert (await http.post("/api/beds/bed-1/discharge", json={})).status_code == 200
        await _until(lambda: _drained(http), 60, "the outbox to drain")
        made = [m["control_id"] for m in await _made(http)]
        assert _in_order_without_repeats(peer.control_ids()) == made  # nothing lost, in order
        await _fhir(http, session)


async def _nibp_and_vitals(peer: MllpPeer, nibp: int, vitals: int) -> bool:
    kinds = _kinds(peer)
    return kinds["nibp"] >= nibp and kinds["vitals"] >= vitals


async def _system(http: httpx.AsyncClient, active: bool) -> bool:
    keys = [c["key"] for c in (await _health(http))["system"]]
    return ("hl7_out" in keys) == active


async def _drained(http: httpx.AsyncClient) -> bool:
    """Nothing waits in the outbox, and nothing new was made for a second and a half (the
    producer takes the bus each second: a discharge's last interval is made by then)."""
    before = (await http.get("/api/interfaces")).json()["outbox"]
    await asyncio.sleep(1.5)
    after = (await http.get("/api/interfaces")).json()["outbox"]
    return after["waiting"] == 0 and before == after


def _check_results(peer: MllpPeer, session_id: int) -> None:
    units = {"147842": "264864", "150456": "262688", "149530": "264864",
             "150021": "266016", "150022": "266016", "150023": "266016"}
    for m in peer.of_type("R01"):
        assert field(m, "MSH", 21) == "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
        assert field(m, "PID", 3).split("^")[0] == "MRN-0042"
        assert field(m, "PV1", 3).split("^")[2] == "bed-1"
        assert field(m, "PV1", 19).split("^")[0] == str(session_id)
        for obx in m.segments("OBX"):
            code = str(obx[3][0][0])
            assert str(obx[6][0][0]) == units[code], str(obx)
            assert str(obx[11]) in ("F", "R", "X")
            if str(obx[11]) != "X":
                float(str(obx[5]))
    nibp = [m for m in peer.of_type("R01") if "150021" in str(m)]
    sys_ = [float(str(o[5])) for m in nibp for o in m.segments("OBX")
            if str(o[3][0][0]) == "150021" and str(o[5])]
    assert sys_ and all(90 < v < 200 for v in sys_)
    hr = [float(str(o[5])) for m in peer.of_type("R01") for o in m.segments("OBX")
          if str(o[3][0][0]) == "147842" and str(o[5])]
    assert hr and all(50 < v < 130 for v in hr)


async def _fhir(http: httpx.AsyncClient, session: dict[str, Any]) -> None:
    pid = session["patient_id"]
    r = await http.get("/fhir/metadata")
    assert r.headers["content-type"].startswith("application/fhir+json")
    _valid(r.json())
    patient = _valid((await http.get(f"/fhir/Patient/{pid}")).json())
    assert patient["identifier"][0]["value"] == "MRN-0042" and patient["gender"] == "female"
    enc = _valid((await http.get(f"/fhir/Encounter/{session['id']}")).json())
    assert enc["status"] == "finished" and enc["subject"]["reference"] == f"Patient/{pid}"

    hr = (await http.get("/fhir/Observation", params={
        "patient": f"Patient/{pid}", "code": "http://loinc.org|8867-4"})).json()
    _valid(hr)
    assert hr["total"] >= 1
    first = hr["entry"][0]["resource"]
    assert first["meta"]["profile"] == ["http://hl7.org/fhir/StructureDefinition/heartrate"]
    assert first["valueQuantity"]["code"] == "/min" and first["category"][0]["coding"][0][
        "code"] == "vital-signs"
    read = _valid((await http.get(f"/fhir/Observation/{first['id']}")).json())
    assert read == first
    bundle = (await http.get("/fhir/Observation", params={
        "patient": f"Patient/{pid}", "_count": 2})).json()
    _valid(bundle)
    assert bundle["total"] >= 4 and len(bundle["entry"]) == 2
    [nxt] = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
    page2 = (await http.get(nxt)).json()
    assert {e["resource"]["id"] for e in page2["entry"]}.isdisjoint(
        e["resource"]["id"] for e in bundle["entry"])

    all_obs = (await http.get("/fhir/Observation", params={
        "encounter": session["id"], "_count": 1000})).json()["entry"]
    kinds = {tuple(c["code"] for c in e["resource"]["code"]["coding"]) for e in all_obs}
    assert ("59408-5", "2708-6", "150456") in kinds and ("85354-9", "150020") in kinds
    bp = [e["resource"] for e in all_obs
          if e["resource"]["code"]["coding"][0]["code"] == "85354-9"][-1]
    _valid(bp)
    assert [c["code"]["coding"][0]["code"] for c in bp["component"]] == [
        "8480-6", "8462-4", "8478-0"]
    assert bp["component"][0]["valueQuantity"]["code"] == "mm[Hg]"
    spo2 = [e["resource"] for e in all_obs
            if e["resource"]["code"]["coding"][0]["code"] == "59408-5"][0]
    assert spo2["valueQuantity"]["unit"] == "%"
    when = spo2["effectivePeriod"]["start"]
    dated = (await http.get("/fhir/Observation", params=[
        ("encounter", session["id"]), ("code", "59408-5"), ("date", f"ge{when}"),
        ("date", f"le{when}")])).json()
    assert [e["resource"]["id"] for e in dated["entry"]] == [spo2["id"]]
    bad = await http.get("/fhir/Observation", params={"date": "ge2026-01-01"})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    assert (await http.get("/fhir/Patient/999")).status_code == 404

    qr = (await http.get("/fhir/QuestionnaireResponse", params={"patient": pid})).json()
    [response] = [_valid(e["resource"]) for e in qr["entry"]]
    assert {i["linkId"]: i["answer"][0] for i in response["item"]}["pain"] == {
        "valueInteger": 6}
    _valid((await http.get("/fhir/Questionnaire/pain-journal")).json())
    meds = (await http.get("/fhir/MedicationAdministration", params={
        "encounter": session["id"]})).json()
    by_drug = {e["resource"]["medicationCodeableConcept"]["text"]: _valid(e["resource"])
               for e in meds["entry"]}
    assert by_drug["ketamine"]["dosage"]["dose"] == {
        "value": 40, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}
    assert by_drug["midazolam"]["dosage"]["route"]["coding"][0]["code"] == "47625008"
    ket = (await http.get("/fhir/MedicationAdministration", params={
        "patient": pid, "code": "ketamine"})).json()
    assert ket["total"] == 1

    r = await http.get(f"/fhir/Patient/{pid}/$export", params={"course": session["course_id"]})
    assert r.headers["content-type"].startswith("application/fhir+ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert lines[0]["resourceType"] == "Patient"
    assert {x["resourceType"] for x in lines} == {
        "Patient", "Encounter", "Observation", "QuestionnaireResponse",
        "MedicationAdministration"}
    for resource in lines:
        _valid(resource)


async def test_interfaces_outbox_survives_a_server_restart(rig):
    port, peer, adt_port, _, tmp = rig
    await peer.stop()  # nobody receives while the first server runs
    unit = _unit(tmp, port, peer.port, adt_port)
    async with _server(unit, tmp / "b.db") as live, \
            httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        await _admit(http, adt_port)
        async with _bed(port, "stable"):
            await _until(lambda: _waiting(http, 3), 40, "messages waiting")
        waiting = [m["control_id"] for m in await _made(http)]
    peer.answer = lambda _m: "AA"
    await peer.start()
    async with _server(unit, tmp / "b.db") as live, \
            httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
        await _until(lambda: _delivered(peer, waiting), 60, "the waiting messages")
        await _until(lambda: _drained(http), 30, "the outbox to drain")
        arrived = _in_order_without_repeats(peer.control_ids())
        made = [m["control_id"] for m in await _made(http)]
    assert made[:len(waiting)] == waiting  # the stored messages, then those made at the stop
    assert arrived == made[:len(arrived)] and len(arrived) > len(waiting)


async def _waiting(http: httpx.AsyncClient, n: int) -> bool:
    return (await _health(http))["hl7_out"]["depth"] >= n


async def _delivered(peer: MllpPeer, ids: list[str]) -> bool:
    return set(ids) <= set(peer.control_ids())
