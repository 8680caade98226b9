"""GE S/5 computer interface: golden frames, escaping, special values, NIBP, waves, real I/O."""

from __future__ import annotations

import asyncio
import random
import struct

import pytest

import drivers
from drivers.ge_s5 import frames
from drivers.ge_s5.frames import (
    AuxInfo,
    Deframer,
    Group,
    Phdb,
    PhdbRequest,
    Record,
    WaveRequest,
    WaveSubrecord,
)
from drivers.ge_s5.host import GeS5HostCodec, scaled_samples
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceStatus, Flag, Observation, Waveform
from simulators.ge_s5 import GeS5DeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Vitals
from tests.conftest import MS

# M1017617 Appendix A: start displayed values every 10 s, all classes.
OFFICIAL_START = bytes.fromhex(
    "7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00 00 00 00 00 00"
    " 00 00 00 00 00 00 00 00 00 00 00 00 01 0a 00 0e 00 00 00 00 00 49 7e"
)
# Same layout with tx_ival 0 and class 0: 0x31 + 0xFF + 0x01 = 0x131 -> checksum 0x31.
OFFICIAL_STOP = OFFICIAL_START[:42] + bytes(8) + b"\x31\x7e"
T0 = 1_700_000_000


def host(**options: object) -> GeS5HostCodec:
    codec = GeS5HostCodec("bed-1", **options)  # type: ignore[arg-type]
    return codec


def obs(events: list[object]) -> dict[str, Observation]:
    return {e.metric: e for e in events if isinstance(e, Observation)}


def displayed(
    when: int = T0,
    hr: int = 72,
    hr_source: int = frames.HR_SOURCE_ECG,
    nibp: tuple[int, int, int] = (12000, 8000, 9300),
    nibp_label: int = 0,
    spo2: tuple[int, int] = (9700, 71),
    spo2_status: int = 3,
    ecg_status: int = 3,
    co2: tuple[int, int, int, int] | None = None,
    co2_status: int = 3,
    co2_label: int = frames.CO2_RR_SOURCE_CO2,
    level: int = 10,
) -> bytes:
    """A displayed-values frame with the given raw values (a CO2 group when ``co2``)."""
    groups = {
        frames.OFF_ECG: Group(ecg_status | hr_source << 3, 0, (hr,)),
        frames.OFF_NIBP: Group(3, nibp_label, nibp),
        frames.OFF_SPO2: Group(spo2_status, 0, spo2),
    }
    if co2 is not None:
        groups[frames.OFF_CO2] = Group(co2_status, co2_label, co2)
    phdb = Phdb.build_basic(when, groups, dri_level=level)
    return Record.build(frames.MT_PHDB, [(frames.PH_DISPL, phdb.serialize())], r_time=when,
                        dri_level=level).to_frame()


def aux(nibp_time: int, when: int = T0) -> bytes:
    return Record.build(frames.MT_PHDB, [(frames.PH_AUX_INFO, AuxInfo(nibp_time).serialize())],
                        r_time=when).to_frame()


def wave(samples: dict[int, tuple[int, ...]], when: int = T0) -> bytes:
    subs = [(i, WaveSubrecord(s).serialize()) for i, s in samples.items()]
    return Record.build(frames.MT_WAVE, subs, r_time=when).to_frame()


# -- golden frames ------------------------------------------------------------------------------


def test_ge_s5_official_start_request_parses() -> None:
    record = Record.from_frame(OFFICIAL_START)
    assert record.maintype == frames.MT_PHDB
    assert record.descriptors[0] == (0, frames.PH_XMIT_REQ)
    assert record.descriptors[1][1] == frames.DESC_END
    assert record.subrecords() == [(0, record.data)]
    assert PhdbRequest.parse(record.data) == PhdbRequest(frames.PH_DISPL, 10, 0x0E)


def test_ge_s5_official_frames_serialize_byte_exact() -> None:
    assert PhdbRequest(frames.PH_DISPL, 10, 0x0E).record().to_frame() == OFFICIAL_START
    assert PhdbRequest(frames.PH_DISPL, 0, 0).record().to_frame() == OFFICIAL_STOP
    assert Record.from_frame(OFFICIAL_STOP).to_frame() == OFFICIAL_STOP


def test_ge_s5_start_queues_requests() -> None:
    codec = host(interval=10)
    codec.start()
    out = codec.data_to_send()
    assert out[0] == PhdbRequest(frames.PH_DISPL, 10, 0).record().to_frame()
    assert PhdbRequest.parse(Record.from_frame(out[1]).data).rcrd_type == frames.PH_AUX_INFO
    wreq = WaveRequest.parse(Record.from_frame(out[2]).data)
    assert Record.from_frame(out[2]).maintype == frames.MT_WAVE
    assert wreq.req_type == frames.WF_REQ_CONT_START
    assert wreq.ids == (frames.WF_ECG1, frames.WF_PLETH)
    no_waves = host(waveforms=False)
    no_waves.start()
    assert len(no_waves.data_to_send()) == 2


def test_ge_s5_interval_below_five_seconds_is_refused() -> None:
    with pytest.raises(ValueError):
        host(interval=2)


def test_ge_s5_displayed_values_at_documented_record_offsets() -> None:
    record = Record.from_frame(displayed(hr=61, nibp=(12100, 7800, 9000), spo2=(9650, 64)))
    raw = record.serialize()
    assert len(raw) == frames.HEADER_SIZE + frames.PHDB_SIZE
    assert struct.unpack_from("<I", raw, 40)[0] == T0
    assert struct.unpack_from("<h", raw, 50)[0] == 61
    assert struct.unpack_from("<3h", raw, 122) == (12100, 7800, 9000)
    assert struct.unpack_from("<2h", raw, 168) == (9650, 64)
    phdb = Phdb.parse(record.subrecords()[0][1])
    assert phdb.serialize() == record.data and phdb.phdb_class == 0


@pytest.mark.parametrize("sub", [
    PhdbRequest(4, -1, 8, 0),
    WaveRequest.start([1, 8]),
    AuxInfo(T0, bytes(range(110))),
    WaveSubrecord((1, -32767, 32767), status=5, reserved=2, padding=b"\x00\x01"),
])
def test_ge_s5_subrecords_parse_serialize_are_inverses(sub: object) -> None:
    data = sub.serialize()  # type: ignore[attr-defined]
    assert type(sub).parse(data) == sub  # type: ignore[attr-defined]
    assert type(sub).parse(data).serialize() == data  # type: ignore[attr-defined]


# -- escaping and checksum ----------------------------------------------------------------------


def test_ge_s5_escape_golden() -> None:
    assert frames.escape(b"\x7e\x7d\x01") == b"\x7d\x5e\x7d\x5d\x01"
    assert frames.unescape(b"\x7d\x5e\x7d\x5d\x01") == b"\x7e\x7d\x01"
    with pytest.raises(FrameError):
        frames.unescape(b"\x01\x7d")


@pytest.mark.parametrize("target", [0x7E, 0x7D])
def test_ge_s5_checksum_byte_is_escaped(target: int) -> None:
    base = Record.build(frames.MT_PHDB, [(0, b"\x7e\x7d\x00")])
    filler = (target - frames.checksum(base.serialize())) & 0xFF
    record = Record.build(frames.MT_PHDB, [(0, bytes((0x7E, 0x7D, filler)))])
    raw = record.serialize()
    assert frames.checksum(raw) == target
    wire = record.to_frame()
    assert wire.endswith(bytes((0x7D, target ^ 0x20, 0x7E)))
    assert wire.count(0x7E) == 2  # only the flags
    assert Record.from_frame(wire) == record


def test_ge_s5_checksum_error_counted_and_resync() -> None:
    good = displayed()
    bad = bytearray(displayed(hr=99))
    bad[60] ^= 0x01
    codec = host()
    codec.receive_data(good + bytes(bad) + displayed(hr=80, when=T0 + 10))
    hrs = [e.value for e in codec.events_received()
           if isinstance(e, Observation) and e.metric == "HR"]
    assert hrs == [72, 80]
    assert codec.frames_bad == 1 and codec.frames_ok == 2


def test_ge_s5_bad_length_rejected() -> None:
    raw = bytearray(Record.from_frame(displayed()).serialize())
    raw[0] += 2  # r_len says 2 bytes more than sent; checksum recomputed, so only r_len is bad
    codec = host()
    codec.receive_data(frames.frame(bytes(raw)))
    assert codec.events_received() == [] and codec.frames_bad == 1


def test_ge_s5_leading_partial_frame_is_dropped() -> None:
    codec = host()
    frame = displayed()
    codec.receive_data(frame[30:] + frame)
    assert obs(codec.events_received())["HR"].value == 72
    assert codec.frames_bad == 1


# -- displayed values -----------------------------------------------------------------------------


def test_ge_s5_decodes_displayed_values() -> None:
    codec = host()
    codec.receive_data(displayed())
    events = codec.events_received()
    assert isinstance(events[0], DeviceStatus) and events[0].info["dri_level"] == 10
    got = {k: (v.value, v.time, v.flags) for k, v in obs(events).items()}
    assert got == {
        "HR": (72, T0, frozenset()), "SPO2": (97.0, T0, frozenset()),
        "PR": (71, T0, frozenset()), "NIBP_SYS": (120.0, T0, frozenset()),
        "NIBP_DIA": (80.0, T0, frozenset()), "NIBP_MEAN": (93.0, T0, frozenset()),
    }


@pytest.mark.parametrize("special", sorted(frames.SPECIAL_VALUES))
def test_ge_s5_special_values_are_none_and_invalid(special: int) -> None:
    codec = host()
    codec.receive_data(displayed(hr=special, spo2=(special, special),
                                 nibp=(special, special, special)))
    for metric, o in obs(codec.events_received()).items():
        assert o.value is None and Flag.INVALID in o.flags, metric


def test_ge_s5_smallest_valid_value_is_kept() -> None:
    codec = host()
    codec.receive_data(displayed(hr=-32000))
    assert obs(codec.events_received())["HR"].value == -32000


def test_ge_s5_absent_modules_are_skipped() -> None:
    codec = host()
    codec.receive_data(displayed(ecg_status=0, spo2_status=0))
    assert set(obs(codec.events_received())) == {"NIBP_SYS", "NIBP_DIA", "NIBP_MEAN"}


def test_ge_s5_inactive_oximeter_means_sensor_off() -> None:
    codec = host()
    codec.receive_data(displayed(spo2_status=frames.STATUS_EXISTS,
                                 spo2=(frames.DATA_INVALID, frames.DATA_INVALID)))
    spo2 = obs(codec.events_received())["SPO2"]
    assert spo2.value is None and {Flag.SENSOR_OFF, Flag.INVALID} <= spo2.flags


@pytest.mark.parametrize(("source", "has_hr"), [(1, True), (6, False), (2, False), (0, False)])
def test_ge_s5_hr_only_from_ecg_source(source: int, has_hr: bool) -> None:
    codec = host()
    codec.receive_data(displayed(hr_source=source))
    got = obs(codec.events_received())
    assert ("HR" in got) is has_hr
    assert got["PR"].value == 71  # the oximeter's rate is always there


def test_ge_s5_nibp_repeat_suppressed_and_new_result_emitted() -> None:
    codec = host()
    for i in range(3):
        codec.receive_data(displayed(when=T0 + 10 * i))
    codec.receive_data(displayed(when=T0 + 30, nibp=(13000, 8500, 10000)))
    nibp = [e for e in codec.events_received()
            if isinstance(e, Observation) and e.metric == "NIBP_SYS"]
    assert [(e.value, e.time) for e in nibp] == [(120.0, T0), (130.0, T0 + 30)]


def test_ge_s5_nibp_time_from_aux_and_same_values_remeasured() -> None:
    codec = host()
    codec.receive_data(aux(T0 - 40) + displayed())
    codec.receive_data(aux(T0 - 40, T0 + 10) + displayed(when=T0 + 10))
    codec.receive_data(aux(T0 + 15, T0 + 20) + displayed(when=T0 + 20))
    times = [e.time for e in codec.events_received()
             if isinstance(e, Observation) and e.metric == "NIBP_MEAN"]
    assert times == [T0 - 40, T0 + 15]


def test_ge_s5_nibp_older_than_60_s_is_stale() -> None:
    codec = host()
    codec.receive_data(displayed(nibp_label=frames.NIBP_LABEL_OLD))
    assert all(Flag.STALE in o.flags for m, o in obs(codec.events_received()).items()
               if m.startswith("NIBP"))


def test_ge_s5_times_follow_host_clock_when_given() -> None:
    codec = host()
    codec.receive_data(displayed(), now=T0 + 3600.5)  # the monitor clock is an hour slow
    assert obs(codec.events_received())["HR"].time == T0 + 3600.5


# -- capnography (the CO2 group) ---------------------------------------------------------------

CO2_38 = (500, 0, 14, 7600)  # EtCO2 5.00 % and FiCO2 0 at 760.0 mmHg, 14 /min


def test_ge_s5_co2_group_at_documented_record_offsets() -> None:
    raw = Record.from_frame(displayed(co2=CO2_38, co2_status=0x23)).serialize()
    # record 40 + time 4 + union offset 132 (VSCapture co2_group_type / 8005313 §3.5.6)
    assert struct.unpack_from("<IH", raw, 40 + 4 + 132) == (0x23, frames.CO2_RR_SOURCE_CO2)
    assert struct.unpack_from("<4h", raw, 182) == CO2_38


def test_ge_s5_decodes_capnography_in_mmhg_at_the_ambient_pressure() -> None:
    got = obs(host_events(displayed(co2=CO2_38)))
    assert {m: (got[m].value, got[m].flags) for m in ("ETCO2", "FICO2", "AWRR")} == {
        "ETCO2": (38.0, frozenset()), "FICO2": (0.0, frozenset()), "AWRR": (14, frozenset())}
    assert (got["ETCO2"].unit, got["AWRR"].unit) == ("mm[Hg]", "/min")
    # the same 5 % at 630 mmHg (1500 m above sea level) is 31.5 mmHg
    got = obs(host_events(displayed(co2=(500, 30, 14, 6300))))
    assert (got["ETCO2"].value, got["FICO2"].value) == (31.5, 1.9)


@pytest.mark.parametrize("special", [frames.DATA_INVALID, frames.DATA_NOT_CALIBRATED])
def test_ge_s5_co2_special_values_and_unknown_pressure(special: int) -> None:
    got = obs(host_events(displayed(co2=(special, special, special, 7600))))
    assert all(got[m].value is None and Flag.INVALID in got[m].flags
               for m in ("ETCO2", "FICO2", "AWRR"))
    got = obs(host_events(displayed(co2=(500, 0, 14, special))))
    assert got["ETCO2"].value is None and got["AWRR"].value == 14  # the rate needs no mmHg


@pytest.mark.parametrize(("bits", "flag"), [
    (frames.CO2_OCCLUSION, Flag.SENSOR_DISCONNECT), (frames.CO2_AIR_LEAK, Flag.SENSOR_DISCONNECT),
    (frames.CO2_ZEROING, Flag.INVALID), (frames.CO2_CALIBRATING, Flag.INVALID),
    (frames.CO2_APNEA, Flag.APNEA),
])
def test_ge_s5_co2_status_bits(bits: int, flag: str) -> None:
    got = obs(host_events(displayed(co2=CO2_38, co2_status=3 | bits)))
    assert all(flag in got[m].flags for m in ("ETCO2", "FICO2", "AWRR"))


def test_ge_s5_impedance_apnea_bit_is_not_a_capnography_apnea() -> None:
    got = obs(host_events(displayed(co2=CO2_38, co2_status=3 | frames.CO2_APNEA_RESP)))
    assert not any(Flag.APNEA in o.flags for o in got.values())


@pytest.mark.parametrize("status", [0, frames.STATUS_EXISTS])
def test_ge_s5_absent_or_idle_gas_module_publishes_nothing(status: int) -> None:
    got = obs(host_events(displayed(co2=CO2_38, co2_status=status)))
    assert not {"ETCO2", "FICO2", "AWRR", "RR"} & set(got)


@pytest.mark.parametrize(("level", "source", "metric"), [
    (10, frames.CO2_RR_SOURCE_IMPEDANCE, "AWRR"),  # '03 and later: always from CO2
    (8, frames.CO2_RR_SOURCE_NONE, "AWRR"),
    (7, frames.CO2_RR_SOURCE_CO2, "AWRR"),
    (7, frames.CO2_RR_SOURCE_IMPEDANCE, "RR"),
    (7, frames.CO2_RR_SOURCE_NONE, None),
])
def test_ge_s5_rate_source_by_interface_level(level: int, source: int, metric: str | None
                                              ) -> None:
    got = obs(host_events(displayed(co2=CO2_38, co2_label=source, level=level)))
    rates = {m: o.value for m, o in got.items() if m in ("AWRR", "RR")}
    assert rates == ({} if metric is None else {metric: 14})


def test_ge_s5_simulator_writes_no_co2_group_without_a_capnograph() -> None:
    phdb = GeS5DeviceCodec().displayed(T0, Vitals())
    assert phdb.union[frames.OFF_CO2:frames.OFF_CO2 + 14] == bytes(14)


@pytest.mark.parametrize(("scenario", "t"), [
    ("capnography", 10.0), ("hypoventilation", 150.0), ("capno_line", 40.0), ("apnea", 90.0),
])
def test_ge_s5_simulator_capnography_round_trip(scenario: str, t: float) -> None:
    v = SCENARIOS[scenario].at(t)
    frame = Record.build(frames.MT_PHDB, [(frames.PH_DISPL, GeS5DeviceCodec().displayed(
        T0, v).serialize())], r_time=T0, dri_level=10).to_frame()
    got = obs(host_events(frame))
    if v.capno_off:
        assert all(got[m].value is None and Flag.SENSOR_DISCONNECT in got[m].flags
                   for m in ("ETCO2", "FICO2", "AWRR"))
        return
    assert (got["ETCO2"].value, got["FICO2"].value, got["AWRR"].value) == (
        v.etco2, v.fico2, v.rr)
    assert (Flag.APNEA in got["ETCO2"].flags) is v.apnea


def host_events(data: bytes) -> list[object]:
    codec = host()
    codec.receive_data(data)
    return codec.events_received()


# -- waveforms --------------------------------------------------------------------------------


def test_ge_s5_waveforms_scaled_with_gaps() -> None:
    codec = host()
    # ECG in 10 µV units, pleth in 1/100 (the scaling VSCapture uses on real monitors).
    ecg = (100, -50, frames.DATA_INVALID) + (0,) * 27
    pleth = (50, frames.DATA_DISCONT) + (100,) * 8
    codec.receive_data(wave({frames.WF_ECG1: ecg, frames.WF_PLETH: pleth}))
    codec.receive_data(wave({frames.WF_ECG1: ecg}, when=T0))
    w = [e for e in codec.events_received() if isinstance(e, Waveform)]
    assert [(e.metric, e.sample_rate, e.unit) for e in w] == [
        ("ECG", 300.0, "mV"), ("PLETH", 100.0, "1"), ("ECG", 300.0, "mV")]
    assert w[0].samples[:4] == (1.0, -0.5, None, 0.0)
    assert w[1].samples[:3] == (0.5, None, 1.0)
    # Without a host clock the chunks form one continuous timeline.
    assert w[2].time == pytest.approx(w[0].time + 0.1)


def test_ge_s5_unknown_waves_ignored() -> None:
    codec = host()
    codec.receive_data(wave({frames.WF_CO2: (1, 2, 3)}))
    assert codec.events_received() == [] and codec.frames_ok == 1


# -- robustness -----------------------------------------------------------------------------


def simulated_stream(seconds: float = 12.0, scenario: str = "sensor_off",
                     start: float = 25.0) -> bytes:
    codec = host(interval=5)
    codec.start()
    device = GeS5DeviceCodec(start_time=T0)
    for req in codec.data_to_send():
        device.receive_data(req)
    out = bytearray()
    steps = int(seconds / 0.05)
    for i in range(steps):
        t = start + i * 0.05
        device.advance(T0 + t, SCENARIOS[scenario].at(t))
        out += b"".join(device.data_to_send())
    return bytes(out)


def decode_all(stream: bytes, sizes: list[int] | None = None) -> tuple[list[object], dict]:
    codec = host()
    events: list[object] = []
    pos = 0
    i = 0
    while pos < len(stream):
        n = len(stream) if sizes is None else sizes[i % len(sizes)]
        codec.receive_data(stream[pos : pos + n])
        events += codec.events_received()
        pos += n
        i += 1
    codec.receive_eof()
    return events, codec.stats


def test_ge_s5_every_single_byte_split_gives_same_events() -> None:
    stream = b"\x00garbage\x7e\x7d" + simulated_stream(6.0)
    whole = decode_all(stream)
    assert any(isinstance(e, Waveform) for e in whole[0])
    assert decode_all(stream, [1]) == whole
    assert decode_all(stream, [3, 1, 7, 64]) == whole


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ge_s5_random_garbage_never_raises(seed: int) -> None:
    rng = random.Random(seed)
    codec = host()
    noise = bytes(rng.choice((0x7E, 0x7D, rng.randrange(256))) for _ in range(30_000))
    for pos in range(0, len(noise), 97):
        codec.receive_data(noise[pos : pos + 97], float(pos))
        codec.events_received()
    codec.receive_eof()
    # Then a real frame still decodes.
    codec.receive_data(displayed())
    assert "HR" in obs(codec.events_received())


def test_ge_s5_deframer_memory_is_bounded() -> None:
    deframer = Deframer()
    out = deframer.feed(b"\x7e" + b"\x01" * 100_000)
    assert out == [] and len(deframer._buf) <= Deframer._LIMIT
    bad = deframer.feed(b"\x7e")
    assert len(bad) == 1 and bad[0].discarded == 100_000


# -- simulator ------------------------------------------------------------------------------


def test_ge_s5_simulator_silent_until_requested() -> None:
    device = GeS5DeviceCodec()
    device.advance(T0, Vitals())
    assert device.data_to_send() == []
    device.receive_data(OFFICIAL_START)
    assert device.events_received() == [PhdbRequest(1, 10, 0x0E)]
    device.advance(T0 + 0.1, Vitals())
    first = device.data_to_send()
    device.advance(T0 + 9.0, Vitals())
    assert len(first) == 1 and device.data_to_send() == []
    device.advance(T0 + 10.2, Vitals())
    assert len(device.data_to_send()) == 1
    device.receive_data(OFFICIAL_STOP)
    device.advance(T0 + 30, Vitals())
    assert device.data_to_send() == []


def test_ge_s5_simulator_round_trip() -> None:
    codec = host(interval=5)
    codec.start()
    device = GeS5DeviceCodec(start_time=T0)
    for req in codec.data_to_send():
        device.receive_data(req)
    assert len(device.events_received()) == 3
    script = SCENARIOS["stable"]
    events: list[object] = []
    for i in range(int(11 / 0.05)):
        t = i * 0.05
        device.advance(T0 + t, script.at(t))
        for chunk in device.data_to_send():
            codec.receive_data(chunk)
        events += codec.events_received()
    got = [(e.metric, e.value) for e in events if isinstance(e, Observation)]
    v0 = script.at(0)
    assert ("HR", v0.hr) in got and ("SPO2", v0.spo2) in got and ("PR", v0.pr) in got
    assert [m for m, _ in got].count("NIBP_SYS") == 1  # one measurement, published once
    assert ("NIBP_MEAN", v0.nibp[2]) in got  # type: ignore[index]
    waves = [e for e in events if isinstance(e, Waveform)]
    ecg = [s for w in waves if w.metric == "ECG" for s in w.samples]
    pleth = [s for w in waves if w.metric == "PLETH" for s in w.samples]
    assert abs(len(ecg) - 3300) <= 30 and abs(len(pleth) - 1100) <= 10
    assert max(s for s in ecg if s is not None) > 0.8  # R waves in mV
    assert 0.0 <= min(s for s in pleth if s is not None) < max(pleth) <= 1.0  # type: ignore


def test_ge_s5_simulator_sensor_off_sends_gaps() -> None:
    codec = host()
    codec.receive_data(simulated_stream(6.0, "sensor_off", 35.0))
    events = codec.events_received()
    pleth = [s for e in events if isinstance(e, Waveform) and e.metric == "PLETH"
             for s in e.samples]
    assert pleth and all(s is None for s in pleth)
    spo2 = obs(events)["SPO2"]
    assert spo2.value is None and Flag.SENSOR_OFF in spo2.flags


# -- real I/O -------------------------------------------------------------------------------


async def test_ge_s5_end_to_end_over_pty(pty_port: PtyPort) -> None:
    device_codec = GeS5DeviceCodec()
    sim = asyncio.create_task(
        run_scenario(device_codec, SCENARIOS["stable"], pty_port, duration=30.0, tick=0.02))
    seen: set[str] = set()
    try:
        async with await drivers.open_device(pty_port.path, "ge_s5", device_id="bed-1",
                                             interval=5) as device:
            assert device.codec.serial_settings.describe() == "19200 8E1, RTS/CTS"
            async with asyncio.timeout(5000 * MS):
                while not {"HR", "NIBP_SYS", "SPO2", "PR", "ECG", "PLETH"} <= seen:
                    for event in await device.read_events():
                        if isinstance(event, Observation | Waveform):
                            assert event.device_id == "bed-1"
                            seen.add(event.metric)
    finally:
        sim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sim
        # Stop polling the pty from inside the loop (see the report on PtyPort.close()).
        pty_port.unplug()
    requests = device_codec.events_received()
    assert PhdbRequest(frames.PH_DISPL, 5, 0) in requests


def test_unescape_matches_a_byte_by_byte_reading() -> None:
    def reference(data: bytes) -> bytes:
        out, it = bytearray(), iter(data)
        for b in it:
            if b == frames.FLAG:
                raise FrameError("flag")
            if b == frames.ESCAPE:
                nxt = next(it, None)
                if nxt is None:
                    raise FrameError("escape at end")
                out.append(nxt ^ 0x20)
            else:
                out.append(b)
        return bytes(out)

    rng = random.Random(5)
    for _ in range(3000):
        data = bytes(rng.choice((0x7D, 0x7E, 0x5D, 0x5E, rng.randrange(256)))
                     for _ in range(rng.randrange(12)))
        try:
            want: bytes | str = reference(data)
        except FrameError as exc:
            want = "flag" if "flag" in str(exc) else "escape"
        try:
            got: bytes | str = frames.unescape(data)
        except FrameError as exc:
            got = "flag" if "flag" in str(exc) else "escape"
        assert got == want, data.hex()


def test_scaled_samples_are_value_or_none_of_each() -> None:
    raw = [0, 1, -1, 32767, -32768, -32001, -32000, 123, 123, 40000]
    for scale in (frames.ECG_MV_PER_UNIT, frames.PLETH_PER_UNIT, 1.0):
        assert scaled_samples(raw, scale) == tuple(
            frames.value_or_none(v, scale) for v in raw)
        assert scaled_samples(raw, scale) == scaled_samples(raw, scale)
