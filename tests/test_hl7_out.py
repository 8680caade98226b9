"""HL7 results and alarms out: the messages as an independent parser (``hl7`` from PyPI)
reads them, the outbox's rules, and a real MLLP receiver that goes away and comes back."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import hl7
import pytest

from drivers.hl7.host import Hl7HostCodec
from monitor.config.interfaces import Hl7OutConfig
from monitor.domain.models import AlarmEvent, Flag, Observation
from monitor.interop import hl7_messages as msgs
from monitor.interop.hl7_out import Hl7Producer
from monitor.interop.mllp_sender import MAX_REJECTS, MllpSender
from monitor.live.bus import Bus
from monitor.live.views import SessionChanged, SystemCondition
from monitor.records import courses, patients, sessions
from monitor.storage import outbox
from monitor.storage.database import Store
from tests.conftest import MS
from tests.mllp_peer import MllpPeer, field

T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC, on a minute


@pytest.fixture
async def store(tmp_path: Path):
    s = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'out.db'}")
    yield s
    await s.close()


async def _admitted(store: Store, bed: str = "bed-1") -> sessions.Admission:
    p = await patients.create(store, {"identifier": "MRN-0042", "family_name": "Rivera",
                                      "given_name": "Ana", "birth_date": "1981-04-12",
                                      "sex": "F"}, "nurse", T0)
    course = await courses.create(store, p.id, courses.DosePlan(), "nurse", T0)
    return await sessions.admit(store, bed, p, course, "nurse", T0)


async def _producer(store: Store, bus: Bus, interval: float = 60.0
                    ) -> tuple[Hl7Producer, sessions.Admission]:
    admission = await _admitted(store)
    producer = Hl7Producer(bus, store, Hl7OutConfig(host="127.0.0.1", port=1,
                                                    interval_s=interval), "SPU")
    await producer.handle(SessionChanged("bed-1", T0, "admit", admission.to_dict()))
    return producer, admission


def _obs(metric: str, value: float | None, t: float, *flags: str) -> Observation:
    return Observation.of(metric, value, t, "bed-1-mon", frozenset(flags), "bed-1")


async def _made(store: Store) -> list[hl7.Message]:
    return [hl7.parse(m.message)
            for m in await outbox.messages(store, newest_first=False, limit=1000)]


def _obx(message: hl7.Message) -> dict[str, tuple[str, str, str, str]]:
    """OBX-3 code -> (OBX-5 value, OBX-6 unit code, OBX-11 status, OBX-4 sub-id)."""
    out = {}
    for seg in message.segments("OBX"):
        out[str(seg[3][0][0])] = (str(seg[5]), str(seg[6][0][0]) if str(seg[6]) else "",
                                  str(seg[11]), str(seg[4]))
    return out


async def test_hl7_out_minute_medians_of_valid_samples_with_codes_and_units(store, bus):
    producer, admission = await _producer(store, bus)
    for i, (hr, spo2) in enumerate([(70, 97), (72, 96), (200, 50), (74, 98)]):
        flags = (Flag.MOTION,) if hr == 200 else ()
        await producer.handle(_obs("HR", hr, T0 + i * 10, *flags))
        await producer.handle(_obs("SPO2", spo2, T0 + i * 10, *flags))
    await producer.handle(_obs("PR", None, T0 + 5, Flag.SENSOR_OFF))
    await producer.handle(_obs("HR", 80, T0 + 61))  # the next minute closes the first
    producer.subscription.close()
    [msg] = await _made(store)
    assert field(msg, "MSH", 9) == "ORU^R01^ORU_R01" and field(msg, "MSH", 12) == "2.6"
    assert field(msg, "MSH", 21) == "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
    assert field(msg, "PID", 3).split("^")[0] == "MRN-0042"
    assert field(msg, "PID", 5).startswith("Rivera^Ana") and field(msg, "PID", 7) == "19810412"
    assert field(msg, "PV1", 3).split("^")[2] == "bed-1"
    assert field(msg, "PV1", 19).split("^")[0] == str(admission.id)
    assert field(msg, "OBR", 7).startswith("20260101000000")
    obx = _obx(msg)
    assert obx["147842"][:3] == ("72", "264864", "F")  # median of 70, 72, 74: artifact out
    assert obx["150456"][:3] == ("97", "262688", "F")
    assert obx["149530"][:3] == ("", "264864", "X")  # measured, nothing valid: no number
    codes = {str(s[3]) for s in msg.segments("OBX")}
    assert codes == {"147842^MDC_ECG_HEART_RATE^MDC", "150456^MDC_PULS_OXIM_SAT_O2^MDC",
                     "149530^MDC_PULS_OXIM_PULS_RATE^MDC"}


async def test_hl7_out_every_nibp_reading_and_the_partial_minute_at_discharge(store, bus):
    producer, _ = await _producer(store, bus)
    for metric, value in (("NIBP_SYS", 131), ("NIBP_DIA", 82), ("NIBP_MEAN", 98)):
        await producer.handle(_obs(metric, value, T0 + 20))
    for metric, value in (("NIBP_SYS", 60), ("NIBP_DIA", 90), ("NIBP_MEAN", 80)):
        await producer.handle(_obs(metric, value, T0 + 200))  # systolic below diastolic
    await producer.handle(_obs("SPO2", 95, T0 + 201))
    await producer.handle(SessionChanged("bed-1", T0 + 230, "discharge", None))
    producer.subscription.close()
    first, artifact, partial = await _made(store)
    assert _obx(first) == {"150021": ("131", "266016", "F", "1.3.1.1"),
                           "150022": ("82", "266016", "F", "1.3.1.2"),
                           "150023": ("98", "266016", "F", "1.3.1.3")}
    assert {v[0] for v in _obx(artifact).values()} == {""}  # not sent as numbers
    assert {v[2] for v in _obx(artifact).values()} == {"X"}
    assert _obx(partial)["150456"][:3] == ("95", "262688", "R")


async def test_hl7_out_alarms_as_pcd04_with_the_user_who_acknowledged(store, bus):
    producer, _ = await _producer(store, bus)
    base = {"alarm_id": "bed-1:SPO2_LOW:1", "bed_id": "bed-1", "rule": "SPO2_LOW",
            "priority": "medium", "technical": False, "value": 89.0, "threshold": 93.0,
            "message": "SpO2 89 % < 93 %"}
    for event, t, user in (("onset", T0, None), ("acknowledged", T0 + 20, "nurse.ada"),
                           ("reannounce", T0 + 25, None), ("end", T0 + 40, None)):
        await producer.handle(AlarmEvent(**base, event=event, time=t, user=user))
    await producer.handle(AlarmEvent(alarm_id="bed-1:DEVICE_LOST:2", bed_id="bed-1",
                                     rule="DEVICE_LOST", priority="high", technical=True,
                                     event="onset", time=T0 + 50, message="Device lost"))
    producer.subscription.close()
    onset, ack, end, lost = await _made(store)
    for m in (onset, ack, end):
        assert field(m, "MSH", 9) == "ORU^R40^ORU_R40"
        assert field(m, "MSH", 21).startswith("IHE_PCD_ACM_001^IHE PCD^")
        assert field(m, "OBR", 3).split("^")[0] == "bed-1:SPO2_LOW:1"  # one alarm, 3 phases
        assert field(m, "OBR", 4) == "196616^MDC_EVT_ALARM^MDC"
        ident = m.segments("OBX")[0]
        assert str(ident[3]) == "196670^MDC_EVT_LO^MDC^SPO2_LOW^SPO2_LOW^99SPU"
        assert str(ident[8]) == "L~PM~SP"
    assert _obx(onset)["150456"][:3] == ("89", "262688", "F")
    assert str(onset.segments("OBX")[1][7]) == ">93"
    phases = [_obx(m)["68481"][0] for m in (onset, ack, end)]
    assert phases == ["start", "update", "end"]
    assert [_obx(m)["68482"][0] for m in (onset, ack, end)] == ["active", "active", "inactive"]
    inactivation = [s for s in ack.segments("OBX") if str(s[3][0][0]) == "68483"][0]
    assert str(inactivation[5]) == "alert-acknowledged" and str(inactivation[16]) == "nurse.ada"
    assert _obx(end)["68483"][0] == "alert-acknowledged"
    assert _obx(lost)["196616"][0] == "Device lost" and _obx(lost)["68485"][0] == "ST"
    assert _obx(lost)["68484"][0] == "PH"


async def test_hl7_out_results_read_back_by_the_inbound_driver(store, bus):
    producer, _ = await _producer(store, bus)
    await producer.handle(_obs("HR", 71, T0 + 1))
    await producer.handle(_obs("SPO2", 96, T0 + 1))
    await producer.flush_all()
    producer.subscription.close()
    [stored] = await outbox.messages(store)
    codec = Hl7HostCodec()
    codec.receive_data(b"\x0b" + stored.message.encode() + b"\x1c\r")
    values = {o.metric: o.value for o in codec.events_received() if isinstance(o, Observation)}
    assert values == {"HR": 71, "SPO2": 96}
    assert b"MSA|AA|" in b"".join(codec.data_to_send())


async def _sender_until(store: Store, bus: Bus, peer: MllpPeer, done, timeout: float = 10.0
                        ) -> MllpSender:
    sender = MllpSender(bus, store, "127.0.0.1", peer.port, stall_after_s=5,
                        ack_timeout_s=2, backoff_s=(0.05, 0.2))
    task = asyncio.create_task(sender.run())
    deadline = time.monotonic() + timeout * 1000 * MS
    try:
        while not await done(sender):
            assert time.monotonic() < deadline, sender.health()
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return sender


async def test_hl7_out_error_answers_are_kept_and_parked_rejections_retried(store, bus):
    for i in range(4):
        await outbox.enqueue(store, "bed-1", None, "vitals", f"C{i}", _message(f"C{i}"), T0)
    answers = {"C1": ["AE"], "C2": ["AR"] * MAX_REJECTS}

    def answer(message: hl7.Message) -> str:
        queue = answers.get(field(message, "MSH", 10), [])
        return queue.pop(0) if queue else "AA"

    peer = await MllpPeer(answer=answer).start()
    try:
        async def drained(_s: MllpSender) -> bool:
            return (await outbox.waiting_stats(store))[0] == 0

        sender = await _sender_until(store, bus, peer, drained, timeout=60)
    finally:
        await peer.stop()
    states = {m.control_id: m for m in await outbox.messages(store)}
    assert states["C0"].state == states["C3"].state == "sent"
    assert states["C1"].state == "parked" and states["C1"].ack_code == "AE"
    assert states["C1"].ack_text == "refused by the peer"
    assert states["C2"].state == "parked" and states["C2"].attempts == MAX_REJECTS
    assert peer.control_ids() == ["C0", "C1", *["C2"] * MAX_REJECTS, "C3"]  # in order
    assert sender.sent == 2 and sender.parked == 2
    assert await outbox.requeue(store, states["C1"].id)
    assert (await outbox.next_waiting(store)).control_id == "C1"  # type: ignore[union-attr]


def _message(control: str) -> str:
    ctx = msgs.PatientContext("bed-1", 1, "MRN-1", "Test")
    return msgs.oru_r01(msgs.Sender(), ctx, control, [msgs.Result("HR", 70, T0)], T0,
                        T0 + 60, T0).serialize()


async def test_hl7_out_stalled_messages_raise_the_condition_until_they_flow(store, bus):
    conditions = bus.subscribe(SystemCondition, name="test")
    await outbox.enqueue(store, "bed-1", None, "vitals", "OLD", _message("OLD"),
                         time.time() - 10)
    peer = MllpPeer()
    await peer.start()
    port = peer.port
    await peer.stop()  # the receiver is down
    sender = MllpSender(bus, store, "127.0.0.1", port, stall_after_s=5, ack_timeout_s=1)
    task = asyncio.create_task(sender.run())
    try:
        raised = await asyncio.wait_for(conditions.get(), 5000 * MS)
        assert raised.key == "hl7_out" and raised.active
        assert sender.health()["depth"] == 1 and sender.health()["oldest_age_s"] >= 5
        assert sender.errors >= 1
        peer = await MllpPeer(port=port).start()  # back: the back-off retries reach it
        cleared = await asyncio.wait_for(conditions.get(), 10000 * MS)
        assert not cleared.active and peer.control_ids() == ["OLD"]
        assert sender.health()["last_ack_at"] is not None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        conditions.close()
        await peer.stop()
