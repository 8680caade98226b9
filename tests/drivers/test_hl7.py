"""HL7 v2 ORU^R01 over MLLP: public sample, code families, times, ACKs, robustness, TCP."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

import drivers
from drivers import transport
from drivers.hl7 import frames
from drivers.hl7.frames import Message, MllpDeframer
from drivers.hl7.host import Hl7HostCodec
from monitor.domain.errors import DeviceOpenError
from monitor.domain.models import DeviceStatus, Flag, Observation
from simulators.hl7 import Hl7DeviceCodec
from simulators.scenarios import SCENARIOS, Vitals
from tests.conftest import MS

# The Comen sample from protocols.md section 6; the elided OBX-14 ("...") are completed
# with the message time.
COMEN = "\r".join([
    "MSH|^~\\&|NC_Monitor|KC261551373G|||20250610015127+0800||ORU^R01^ORU_R01|"
    "202506100151270003|P|2.6||||||UNICODE UTF-8",
    "PID|||10006||lee|||M||Unknown",
    "PV1||I|^^&10|R",
    "OBR||||1^MON_PARAM^99COMEN|||20250610015127+0800",
    "OBX||NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.3.1.150456|97|262688^MDC_DIM_PERCENT^MDC|||||F"
    "|||20250610015127+0800",
    "OBX||NM|149522^MDC_PULS_RATE^MDC|1.0.0.149522|59|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F"
    "|||20250610015127+0800",
    "OBX||NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.9.150021|120|266016^MDC_DIM_MMHG^MDC"
    "|||||F|||20250610015127+0800",
    "OBX||NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.1.9.150022|80|266016^MDC_DIM_MMHG^MDC"
    "|||||F|||20250610015127+0800",
    "OBX||NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.1.9.150023|90|266016^MDC_DIM_MMHG^MDC"
    "|||||F|||20250610015127+0800",
]) + "\r"
COMEN_TIME = frames.to_posix_utc(2025, 6, 9, 17, 51, 27)  # 01:51:27 at +08:00


def oru(*obx: str, msh7: str = "20250610015127+0800", obr7: str = "", control: str = "C1"
        ) -> bytes:
    segs = [f"MSH|^~\\&|MON|BED1|||{msh7}||ORU^R01^ORU_R01|{control}|P|2.6",
            f"OBR||||1^MON_PARAM^99X|||{obr7}", *obx]
    return frames.wrap(("\r".join(segs) + "\r").encode())


def decode(data: bytes, **options: object) -> tuple[list[object], Hl7HostCodec]:
    codec = Hl7HostCodec("bed-2", timezone="UTC", **options)  # type: ignore[arg-type]
    codec.receive_data(data)
    return codec.events_received(), codec


def values(events: list[object]) -> dict[str, float | None]:
    return {e.metric: e.value for e in events if isinstance(e, Observation)}


# -- framing and messages -------------------------------------------------------------------


def test_hl7_message_parse_serialize_are_inverses() -> None:
    msg = Message.parse(COMEN)
    assert msg.serialize() == COMEN
    assert msg.control_id == "202506100151270003"
    assert msg.message_type == ("ORU", "R01") and msg.version == "2.6"
    assert msg.msh.field(1) == "|" and msg.msh.field(2) == "^~\\&"
    assert len(msg.all("OBX")) == 5
    lf = COMEN.replace("\r", "\n")
    assert Message.parse(lf).serialize() == lf


def test_hl7_mllp_wrap_golden_and_deframe() -> None:
    assert frames.wrap(b"MSH|x") == b"\x0bMSH|x\x1c\x0d"
    out = MllpDeframer().feed(b"\r\n\x0bA\x1c\x0d\x0bB\x1c\x0d")
    assert out == [b"A", b"B"]


def test_hl7_escape_sequences() -> None:
    enc = frames.Encoding()
    assert enc.unescape("a\\F\\b\\S\\c\\E\\") == "a|b^c\\"
    assert enc.unescape(enc.escape_text("x|y^z&w~v\\")) == "x|y^z&w~v\\"


@pytest.mark.parametrize(("text", "expected"), [
    ("20250610015127+0800", COMEN_TIME),
    ("20250609175127", COMEN_TIME),  # no zone: the codec's zone (UTC here)
    ("20250609125127-0500", COMEN_TIME),
    ("20250609175127.25+0000", COMEN_TIME + 0.25),
    ("202506091751", COMEN_TIME - 27),
    ("2025", frames.to_posix_utc(2025, 1, 1)),
    ("", None), ("garbage", None), ("20251340000000", None), ("20250610015127+9900", None),
])
def test_hl7_timestamps(text: str, expected: float | None) -> None:
    assert frames.parse_ts(text) == expected


# -- decoding -----------------------------------------------------------------------------------


def test_hl7_decodes_comen_sample() -> None:
    events, codec = decode(frames.wrap(COMEN.encode()))
    assert isinstance(events[0], DeviceStatus)
    assert events[0].info["application"] == "NC_Monitor"
    assert values(events) == {"SPO2": 97, "PR": 59, "NIBP_SYS": 120, "NIBP_DIA": 80,
                              "NIBP_MEAN": 90}
    assert {e.time for e in events if isinstance(e, Observation)} == {COMEN_TIME}
    assert {e.device_id for e in events if isinstance(e, Observation)} == {"bed-2"}
    assert codec.frames_ok == 1 and codec.frames_bad == 0


@pytest.mark.parametrize("family", [("150021", "150022", "150023"),
                                    ("150301", "150302", "150303")])
def test_hl7_both_nibp_code_families(family: tuple[str, str, str]) -> None:
    obx = [f"OBX|{i}|NM|{code}^^MDC||{v}|266016^MDC_DIM_MMHG^MDC|||||F"
           for i, (code, v) in enumerate(zip(family, (118, 76, 90), strict=True))]
    events, _ = decode(oru(*obx))
    assert values(events) == {"NIBP_SYS": 118, "NIBP_DIA": 76, "NIBP_MEAN": 90}


def test_hl7_match_by_name_only_and_other_codes() -> None:
    events, _ = decode(oru(
        "OBX|1|NM|^MDC_PRESS_CUFF_SYS^MDC||130|^MDC_DIM_MMHG^MDC|||||F",
        "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC||66||||||F",
        "OBX|3|NM|149530^^MDC||64||||||F",
        "OBX|4|NM|150488^MDC_BLD_PERF_INDEX^MDC||1.76||||||F",  # not read
    ))
    assert values(events) == {"NIBP_SYS": 130, "HR": 66, "PR": 64}


# -- capnography ----------------------------------------------------------------------------

MMHG = "266016^MDC_DIM_MMHG^MDC"
RPM = "264928^MDC_DIM_RESP_PER_MIN^MDC"


def test_hl7_decodes_capnography_and_both_respiration_rates() -> None:
    events, codec = decode(oru(
        f"OBX|1|NM|151708^MDC_CONC_AWAY_CO2_ET^MDC|1.5.1.151708|38|{MMHG}|||||F",
        f"OBX|2|NM|151716^MDC_CONC_AWAY_CO2_INSP^MDC|1.5.1.151716|0|{MMHG}|||||F",
        f"OBX|3|NM|151594^MDC_CO2_RESP_RATE^MDC|1.5.1.151594|14|{RPM}|||||F",
        # the Mindray eGateway sample's impedance rate (MDC_DIM_RESP_PER_MIN)
        f"OBX|4|NM|151578^MDC_TTHOR_RESP_RATE^MDC|1.7.1.151578|17|{RPM}|||||R",
    ))
    got = {e.metric: e for e in events if isinstance(e, Observation)}
    assert {m: o.value for m, o in got.items()} == {"ETCO2": 38, "FICO2": 0, "AWRR": 14,
                                                    "RR": 17}
    assert (got["ETCO2"].code, got["ETCO2"].unit) == ("MDC_AWAY_CO2_ET", "mm[Hg]")
    assert (got["AWRR"].code, got["AWRR"].unit) == ("MDC_AWAY_RESP_RATE", "/min")
    assert got["RR"].code == "MDC_RESP_RATE"
    assert all(not o.flags for o in got.values()) and codec.frames_bad == 0


@pytest.mark.parametrize(("code", "name", "metric"), [
    ("151708", "MDC_AWAY_CO2_ET", "ETCO2"),   # 151708 under the name some senders give it
    ("151728", "MDC_AWAY_CO2_ET", "ETCO2"),   # Philips' NOM_AWAY_CO2_ET (term 20656)
    ("", "MDC_AWAY_CO2_ET", "ETCO2"),
    ("151718", "MDC_CONC_AWAY_CO2_INSP_MIN", "FICO2"),
    ("151738", "MDC_AWAY_CO2_INSP_MIN", "FICO2"),
    ("151570", "MDC_AWAY_RESP_RATE", "AWRR"),
    ("151594", "MDC_AWAY_RESP_RATE", "AWRR"),  # code and name differ, both airway rates
    ("151562", "MDC_RESP_RATE", "RR"),
])
def test_hl7_capnography_code_variants(code: str, name: str, metric: str) -> None:
    unit = RPM if metric.endswith("RR") else MMHG
    events, codec = decode(oru(f"OBX|1|NM|{code}^{name}^MDC||12|{unit}|||||F"))
    assert values(events) == {metric: 12} and codec.frames_bad == 0


def test_hl7_co2_in_kilopascal_is_converted_and_in_percent_is_not_a_value() -> None:
    events, codec = decode(oru(
        "OBX|1|NM|151708^MDC_CONC_AWAY_CO2_ET^MDC||5.1|265987^MDC_DIM_KILO_PASCAL^MDC|||||F",
        "OBX|2|NM|151716^MDC_CONC_AWAY_CO2_INSP^MDC||0.4|262688^MDC_DIM_PERCENT^MDC|||||F",
        "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97|262688^MDC_DIM_PERCENT^MDC|||||F",
    ))
    got = {e.metric: e for e in events if isinstance(e, Observation)}
    assert got["ETCO2"].value == 38.3  # 5.1 kPa x 7.50062
    # a fraction needs the ambient pressure, which the message does not carry
    assert got["FICO2"].value is None and Flag.INVALID in got["FICO2"].flags
    assert got["SPO2"].value == 97 and codec.frames_bad == 0


def test_hl7_capnography_invalid_marker_and_sampling_line_alert() -> None:
    events, _ = decode(oru(
        f"OBX|1|NM|151708^MDC_CONC_AWAY_CO2_ET^MDC||-100|{MMHG}|||||F",
        f"OBX|2|NM|151594^MDC_CO2_RESP_RATE^MDC||-100|{RPM}|||||F",
        "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97||||||F",
        "OBX|4|ST|^MDC_EVT_CO2_SAMPLE_LINE_OCCL^MDC||CO2 line blocked||||||F",
    ))
    got = {e.metric: e for e in events if isinstance(e, Observation)}
    assert got["ETCO2"].value is None
    assert got["ETCO2"].flags == got["AWRR"].flags == {Flag.INVALID, Flag.SENSOR_OFF}
    assert got["SPO2"].flags == frozenset()  # the oximeter is not concerned


@pytest.mark.parametrize("obx", [
    f"OBX|1|NM|151708^MDC_CONC_AWAY_CO2_ET^MDC||380|{MMHG}|||||F",
    f"OBX|1|NM|151594^MDC_CO2_RESP_RATE^MDC||14|{MMHG}|||||F",
    f"OBX|1|NM|151708^MDC_CO2_RESP_RATE^MDC||14|{RPM}|||||F",
])
def test_hl7_damaged_capnography_rejects_the_message(obx: str) -> None:
    events, codec = decode(oru(obx, control="L2"))
    assert not [e for e in events if isinstance(e, Observation)] and codec.frames_bad == 1


def test_hl7_nibp_in_kilopascal_converted() -> None:
    events, _ = decode(
        oru("OBX|1|NM|150301^MDC_PRESS_CUFF_SYS^MDC||16|265987^MDC_DIM_KILO_PASCAL^MDC"))
    assert values(events) == {"NIBP_SYS": 120.0}


def test_hl7_time_obx14_then_obr7_then_msh7() -> None:
    events, _ = decode(oru(
        "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||70||||||F|||20250609180000+0000",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F",
        obr7="20250609170000+0000",
    ))
    times = {e.metric: e.time for e in events if isinstance(e, Observation)}
    assert times == {"HR": COMEN_TIME + 513, "SPO2": COMEN_TIME - 3087}
    events, _ = decode(oru("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F"))
    assert [e.time for e in events if isinstance(e, Observation)] == [COMEN_TIME]


def test_hl7_naive_times_use_configured_zone() -> None:
    data = oru("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F|||20250610015127",
               msh7="20250610015127")
    codec = Hl7HostCodec("bed-2", timezone="Asia/Shanghai")
    codec.receive_data(data)
    assert [e.time for e in codec.events_received() if isinstance(e, Observation)] == [COMEN_TIME]
    with pytest.raises(ValueError):
        Hl7HostCodec(timezone="Mars/Olympus")


@pytest.mark.parametrize("raw", ["-100", "", "abc", "nan", "1e999"])
def test_hl7_invalid_values(raw: str) -> None:
    events, _ = decode(oru(f"OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||{raw}||||||F"))
    (o,) = [e for e in events if isinstance(e, Observation)]
    assert o.value is None and Flag.INVALID in o.flags


def test_hl7_status_x_abnormal_flags_and_probe_off() -> None:
    events, _ = decode(oru(
        "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||150|||H||F",
        "OBX|2|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||97||||||X",
        "OBX|3|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC||-100||||||F",
        "OBX|4|ST|^MDC_EVT_PROBE_DISCONN^MDC||SpO2 probe off||||||F",
    ))
    got = {e.metric: e for e in events if isinstance(e, Observation)}
    assert got["HR"].value == 150 and got["HR"].flags == {Flag.OUT_OF_LIMIT}
    assert got["SPO2"].value is None and got["SPO2"].flags == {Flag.INVALID, Flag.SENSOR_OFF}
    assert got["PR"].flags == {Flag.INVALID, Flag.SENSOR_OFF}


def test_hl7_nibp_repeat_with_same_time_published_once() -> None:
    obx = "OBX|1|NM|150301^MDC_PRESS_CUFF_SYS^MDC||120||||||F|||20250610010000+0800|||APERIODIC"
    codec = Hl7HostCodec("bed-2")
    codec.receive_data(oru(obx, control="1") + oru(obx, control="2"))
    assert len(codec.events_received()) == 2  # INFO + one NIBP_SYS
    assert len(codec.data_to_send()) == 2  # but both messages are acknowledged


def test_hl7_other_message_types_acknowledged_not_decoded() -> None:
    msg = b"MSH|^~\\&|MON|BED1|||20250610015127||ADT^A01|X9|P|2.5\rPID|||1\r"
    events, codec = decode(frames.wrap(msg))
    assert events == []
    (ack,) = codec.data_to_send()
    assert b"MSA|AA|X9" in ack and b"ACK^A01^ACK" in ack


# -- acknowledgements ------------------------------------------------------------------------


def test_hl7_ack_content() -> None:
    codec = Hl7HostCodec("bed-2")
    codec.receive_data(frames.wrap(COMEN.encode()), now=COMEN_TIME + 1)
    (ack,) = codec.data_to_send()
    assert ack.startswith(b"\x0b") and ack.endswith(b"\x1c\x0d")
    text = ack[1:-2].decode()
    assert text == ("MSH|^~\\&|SPU_MONITOR||NC_Monitor|KC261551373G|20250609175128+0000||"
                    "ACK^R01^ACK|ACK202506100151270003|P|2.6\rMSA|AA|202506100151270003\r")
    assert Message.parse(text).serialize() == text


def test_hl7_malformed_message_with_control_id_gets_ae() -> None:
    bad = b"MSH|^~\\&|MON|BED1|||20250610015127||ORU^R01|BAD7|P|2.6\rthis is not a segment\r"
    events, codec = decode(frames.wrap(bad))
    assert events == [] and codec.frames_bad == 1
    (ack,) = codec.data_to_send()
    msa = Message.parse(ack[1:-2].decode()).all("MSA")[0]
    assert msa.field(1) == "AE" and msa.field(2) == "BAD7" and msa.field(3)


def test_hl7_garbage_without_control_id_not_acknowledged() -> None:
    events, codec = decode(frames.wrap(b"hello") + b"junk")
    codec.receive_eof()
    assert events == [] and codec.data_to_send() == [] and codec.frames_bad == 2


@pytest.mark.parametrize(("obx", "why"), [
    # "|73|" lost: the unit code runs into OBX-5 (HR 264864).
    ("OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.2.1.147842264864^MDC_DIM_BEAT_PER_MIN^MDC"
     "|||||F", "OBX-4"),
    ("OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC||73264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
     "one value"),
    ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||-10|262688^MDC_DIM_PERCENT^MDC|||||F",
     "negative"),
    ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||-00|262688^MDC_DIM_PERCENT^MDC|||||F",
     "negative"),
    ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||988|262688^MDC_DIM_PERCENT^MDC|||||F",
     "outside"),
    ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F",
     "unit"),
    ("OBX|1|NM|150456^MDC_PULS_OXIM_PULS_RATE^MDC||98||||||F", "disagree"),
    ("OBX|1|NM|150M_SAT_O2^MDC||98||||||F", "MDC identifier"),
    ("OBX|1NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F", "set id"),
    ("OBX|1|NM150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F", "value type"),
    ("OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F|||2025061001512+0800", "OBX-14"),
    ("ONM|150456^MDC_PULS_OXIM_SAT_O2^MDC||98||||||F", "no place"),
])
def test_hl7_message_that_lost_bytes_is_rejected(obx: str, why: str) -> None:
    events, codec = decode(oru(obx, control="L1"))
    assert not [e for e in events if isinstance(e, Observation)] and codec.frames_bad == 1
    (ack,) = codec.data_to_send()
    msa = Message.parse(ack[1:-2].decode()).all("MSA")[0]
    assert msa.field(1) == "AE" and msa.field(2) == "L1" and why in msa.field(3)


def test_hl7_lost_end_marker_resyncs() -> None:
    data = b"\x0bMSH|^~\\&|partial" + frames.wrap(COMEN.encode())
    events, codec = decode(data)
    assert values(events)["SPO2"] == 97 and codec.frames_bad == 1


# -- robustness -----------------------------------------------------------------------------


def simulated_stream(scenario: str = "sensor_off", start: float = 25.0,
                     seconds: float = 10.0, **options: object) -> bytes:
    device = Hl7DeviceCodec(start_time=1_700_000_000.0, **options)  # type: ignore[arg-type]
    out = bytearray()
    for i in range(int(seconds / 0.25)):
        t = start + i * 0.25
        device.advance(1_700_000_000.0 + t, SCENARIOS[scenario].at(t))
        out += b"".join(device.data_to_send())
    return bytes(out)


def feed(stream: bytes, size: int | None) -> tuple[list[object], list[bytes], dict]:
    codec = Hl7HostCodec("bed-2", timezone="UTC")
    events: list[object] = []
    step = size or len(stream)
    for pos in range(0, len(stream), step):
        codec.receive_data(stream[pos : pos + step])
        events += codec.events_received()
    codec.receive_eof()
    return events, codec.data_to_send(), codec.stats


def test_hl7_every_single_byte_split_gives_same_events_and_acks() -> None:
    stream = b"noise\r\n" + simulated_stream(seconds=4.0) + b"\x0bMSH|trunc"
    whole = feed(stream, None)
    assert values(whole[0]) and len(whole[1]) == 4
    assert feed(stream, 1) == whole
    assert feed(stream, 13) == whole


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hl7_random_garbage_never_raises(seed: int) -> None:
    rng = random.Random(seed)
    alphabet = b"\x0b\x1c\x0dMSH|^~\\&OBX0123456789"
    noise = bytes(rng.choice((rng.choice(alphabet), rng.randrange(256))) for _ in range(30_000))
    codec = Hl7HostCodec("bed-2")
    for pos in range(0, len(noise), 101):
        codec.receive_data(noise[pos : pos + 101], float(pos))
        codec.events_received()
        codec.data_to_send()
    codec.receive_eof()
    codec.receive_data(frames.wrap(COMEN.encode()))
    assert values(codec.events_received())["SPO2"] == 97


def test_hl7_deframer_memory_is_bounded() -> None:
    deframer = MllpDeframer()
    assert deframer.feed(b"\x0b" + b"A" * (frames.MAX_MESSAGE + 10)) == []
    assert len(deframer._buf) <= frames.MAX_MESSAGE
    (bad,) = deframer.feed(b"\x1c\x0d")
    assert bad.discarded == frames.MAX_MESSAGE + 10  # type: ignore[union-attr]


# -- simulator ------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["noninv", "cuff"])
def test_hl7_simulator_round_trip_with_acks(family: str) -> None:
    device = Hl7DeviceCodec(nibp_codes=family, utc_offset_minutes=480)
    codec = Hl7HostCodec("bed-2")
    script = SCENARIOS["stable"]
    events: list[object] = []
    for i in range(12):
        device.advance(1_700_000_000.0 + i * 0.5, script.at(i * 0.5))
        for chunk in device.data_to_send():
            codec.receive_data(chunk)
        for ack in codec.data_to_send():
            device.receive_data(ack)
        events += codec.events_received()
    acks = device.events_received()
    assert len(acks) == 6 and all(code == "AA" for code, _ in acks)
    assert device.unacked == {}
    got = [(e.metric, e.value, e.time) for e in events if isinstance(e, Observation)]
    v = script.at(0)
    assert ("HR", v.hr, 1_700_000_000.0) in got and ("SPO2", v.spo2, 1_700_000_000.0) in got
    assert [m for m, _, _ in got].count("NIBP_SYS") == 1
    assert ("NIBP_MEAN", v.nibp[2], 1_700_000_000.0) in got  # type: ignore[index]


def test_hl7_simulator_sensor_off() -> None:
    events = feed(simulated_stream("sensor_off", 35.0, 2.0), None)[0]
    spo2 = [e for e in events if isinstance(e, Observation) and e.metric == "SPO2"]
    assert spo2 and all(e.value is None and Flag.SENSOR_OFF in e.flags for e in spo2)


def test_hl7_simulator_rejects_unknown_code_family() -> None:
    with pytest.raises(ValueError):
        Hl7DeviceCodec(nibp_codes="kpa")


# -- real I/O: the monitor connects to us over TCP ------------------------------------------


async def monitor_client(port: int, device: Hl7DeviceCodec, messages: int) -> None:
    """A simulated monitor that connects, pushes messages and reads the ACKs."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        t = 1_700_000_000.0
        for i in range(messages):
            device.advance(t + i, Vitals(nibp=(120.0, 80.0, 93.0), nibp_time=0.0))
            for chunk in device.data_to_send():
                writer.write(chunk)
            await writer.drain()
            data = await reader.read(4096)
            device.receive_data(data)
    finally:
        writer.close()
        await writer.wait_closed()


async def test_hl7_end_to_end_over_tcp_listener() -> None:
    url = "tcp-listen://127.0.0.1:0"
    try:
        _, port = await transport.start_listener(url)
        device = Hl7DeviceCodec(nibp_codes="cuff")
        client = asyncio.create_task(monitor_client(port, device, 3))
        seen: list[Observation] = []
        async with await drivers.open_device(url, "hl7", device_id="bed-3") as dev:
            async with asyncio.timeout(5000 * MS):
                # Reading ends when the monitor hangs up after its 3 messages.
                with contextlib.suppress(drivers.base.DeviceDisconnected):
                    while True:
                        seen += [e for e in await dev.read_events() if isinstance(e, Observation)]
        await client
        assert {e.metric for e in seen} == {"HR", "SPO2", "PR", "NIBP_SYS", "NIBP_DIA",
                                            "NIBP_MEAN"}
        assert {e.device_id for e in seen} == {"bed-3"}
        acks = device.events_received()
        assert [code for code, _ in acks] == ["AA"] * 3 and device.unacked == {}
        # The listener stays up: the monitor can reconnect and a new open takes it.
        client = asyncio.create_task(monitor_client(port, Hl7DeviceCodec(), 1))
        async with await drivers.open_device(url, "hl7", device_id="bed-3") as dev:
            async with asyncio.timeout(5000 * MS):
                while not any(isinstance(e, Observation) for e in await dev.read_events()):
                    pass
        await client
    finally:
        await transport.close_listeners()


async def test_hl7_listener_open_times_out_without_peer() -> None:
    try:
        with pytest.raises(DeviceOpenError):
            await transport.open_transport("tcp-listen://127.0.0.1:0", drivers.SerialSettings(),
                                           timeout=0.05)
    finally:
        await transport.close_listeners()


@pytest.mark.parametrize(("scenario", "t"), [("capnography", 10.0), ("capno_line", 40.0),
                                             ("stable", 10.0)])
def test_hl7_simulator_capnography_round_trip(scenario: str, t: float) -> None:
    device = Hl7DeviceCodec(start_time=1_700_000_000.0)
    codec = Hl7HostCodec("bed-2")
    v = SCENARIOS[scenario].at(t)
    device.advance(1_700_000_000.0 + t, v)
    for chunk in device.data_to_send():
        codec.receive_data(chunk)
    got = {e.metric: e for e in codec.events_received() if isinstance(e, Observation)}
    if scenario == "stable":  # no capnograph on this bed: nothing about it is sent
        assert not {"ETCO2", "FICO2", "AWRR", "RR"} & set(got)
        return
    if v.capno_off:
        assert all(got[m].value is None and Flag.SENSOR_OFF in got[m].flags
                   for m in ("ETCO2", "FICO2", "AWRR"))
        assert got["SPO2"].value == v.spo2
    else:
        assert (got["ETCO2"].value, got["FICO2"].value, got["AWRR"].value) == (
            v.etco2, v.fico2, v.rr)
