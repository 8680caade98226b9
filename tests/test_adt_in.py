"""ADT in over MLLP: a real listener on loopback creates and updates patients, records a
discharge without discharging the bed, and acknowledges every message (read back with
the ``hl7`` package)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import hl7
import pytest

from monitor.interop.adt_in import AdtListener
from monitor.records import audit, charting, courses, patients, sessions
from monitor.storage.database import Store
from tests.conftest import MS

MSH = "MSH|^~\\&|HIS|HOSP|SPU_MONITOR|SPU|20260105081500+0100||ADT^{t}^ADT_{s}|{c}|P|2.5"


def _adt(trigger: str, control: str, pid: str, *extra: str) -> bytes:
    structure = {"A01": "A01", "A04": "A01", "A08": "A01", "A03": "A03"}.get(trigger, "A01")
    segments = [MSH.format(t=trigger, s=structure, c=control),
                f"EVN|{trigger}|20260105081500+0100", pid, "PV1|1|O|SPU^^bed-1", *extra]
    return b"\x0b" + "\r".join(segments).encode() + b"\r\x1c\r"


PID = "PID|1||998877^^^HOSP^PI~MRN-0042^^^HOSP^MR||Rivera^Ana^M||19810412|F"


@pytest.fixture
async def adt(tmp_path: Path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'adt.db'}")
    charted: list[str] = []
    listener = AdtListener(store, "127.0.0.1", 0, charted.append)
    task = asyncio.create_task(listener.run())
    while listener.address is None:
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection(*listener.address)

    async def send(payload: bytes) -> hl7.Message:
        writer.write(payload)
        await writer.drain()
        data = await asyncio.wait_for(reader.readuntil(b"\x1c\r"), 5000 * MS)
        return hl7.parse(data.strip(b"\x0b\x1c\r").decode())

    yield store, send, charted
    writer.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await store.close()


def _msa(ack: hl7.Message) -> tuple[str, str, str]:
    msa = ack.segment("MSA")
    return str(msa[1]), str(msa[2]), str(msa[3]) if len(msa) > 3 else ""


async def test_adt_register_update_and_refuse(adt):
    store, send, _ = adt
    ack = await send(_adt("A04", "C1", PID))
    assert _msa(ack)[:2] == ("AA", "C1") and str(ack.segment("MSH")[9]) == "ACK^A04^ACK"
    p = await patients.by_identifier(store, "MRN-0042")  # the MR repetition of PID-3
    assert p is not None and (p.family_name, p.given_name) == ("Rivera", "Ana")
    assert (p.birth_date, p.sex, p.source, p.created_by) == ("1981-04-12", "F", "adt",
                                                             "hl7-adt")
    weight = "OBX|1|NM|29463-7^Body weight^LN||71500|g|||||F"
    height = "OBX|2|NM|8302-2^Body height^LN||1.65|m|||||F"
    ack = await send(_adt("A08", "C2", PID.replace("Rivera^Ana", "Rivera-Lopez^Ana"),
                          weight, height))
    assert _msa(ack)[0] == "AA"
    p = await patients.get(store, p.id)
    assert (p.family_name, p.weight_kg, p.height_cm) == ("Rivera-Lopez", 71.5, 165.0)
    log = await audit.audit_log(store)
    assert log[0]["action"] == "patient_changed" and log[0]["user"] == "hl7-adt"

    code, control, text = _msa(await send(_adt("A01", "C3", "PID|1||||Nobody")))
    assert (code, control) == ("AE", "C3") and "PID-3" in text
    code, _, text = _msa(await send(_adt("A01", "C4", "PID|1||MRN-9^^^HOSP^MR||Doe||18000101")))
    assert code == "AE" and "birth_date" in text  # the records refuse the date
    code, _, text = _msa(await send(_adt("A02", "C5", PID)))
    assert code == "AR" and "unsupported" in text
    assert await patients.by_identifier(store, "MRN-9") is None


async def test_adt_discharge_is_recorded_not_applied_to_the_bed(adt):
    store, send, charted = adt
    assert _msa(await send(_adt("A01", "C1", PID)))[0] == "AA"
    p = await patients.by_identifier(store, "MRN-0042")
    assert p is not None
    course = await courses.create(store, p.id, courses.DosePlan(), "nurse", 1.0)
    admission = await sessions.admit(store, "bed-1", p, course, "nurse", 2.0)
    assert _msa(await send(_adt("A03", "C2", PID)))[0] == "AA"
    still = await sessions.current_admission(store, "bed-1")
    assert still is not None and still.id == admission.id  # the nurse discharges
    [entry] = await charting.clinical_events(store, admission.id)
    assert entry["kind"] == "note" and "ADT A03" in entry["detail"]["note"]
    assert charted == ["bed-1"]
    [record] = [r for r in await audit.audit_log(store) if r["action"] == "adt_discharge"]
    assert record["action"] == "adt_discharge" and record["bed_id"] == "bed-1"
    assert record["detail"]["session_id"] == admission.id
