"""Nellcor ASCII printout: the real N-560 capture, headers, status codes, garbage, splits, pty."""

from __future__ import annotations

import asyncio
import calendar
import random

import pytest

import drivers
from drivers.nellcor import frames
from drivers.nellcor.frames import ColumnsLine, DataLine, SettingsLine, VersionLine
from drivers.nellcor.host import NellcorHostCodec
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceStatus, Flag, Observation
from simulators import scenarios
from simulators.nellcor import NellcorDeviceCodec
from simulators.scenarios import Vitals
from tests.conftest import MS

# Verbatim public capture of an N-560 (hansmuc/NellcorN560Seriell, AsixReader.java comments).
VERSION = b"N-560    VERSION 1.61.00    CRC:XXXX  SpO2 Limit: 95-100%    PR Limit: 59-148BPM"
SETTINGS = b"                             ADULT           25SAT-S"
COLUMNS = b"TIME                 %SpO2   BPM     PA     Status"
LINE_1 = b"07-Jan-04 11:24:50   100     105      88                   AO"
LINE_2 = b"07-Jan-04 11:24:54   100     102      36    MO             AO"
CAPTURE = b"\r\n".join([VERSION, SETTINGS, COLUMNS, LINE_1, LINE_2]) + b"\r\n"
T_LINE_1 = float(calendar.timegm((2004, 1, 7, 11, 24, 50, 0, 0, 0)))


def decode(data: bytes, now: float | None = None) -> tuple[NellcorHostCodec, list[object]]:
    codec = drivers.codec("nellcor", device_id="bed-1")
    assert isinstance(codec, NellcorHostCodec)
    codec.receive_data(data, now)
    return codec, codec.events_received()


def observations(events: list[object]) -> list[Observation]:
    return [e for e in events if isinstance(e, Observation)]


def statuses(events: list[object]) -> list[DeviceStatus]:
    return [e for e in events if isinstance(e, DeviceStatus)]


def by_metric(events: list[object], metric: str) -> Observation:
    return [o for o in observations(events) if o.metric == metric][-1]


# -- golden lines, both ways ---------------------------------------------------------------------

GOLDEN = [
    (VERSION, VersionLine.build("N-560", "1.61.00", (95, 100), (59, 148))),
    (SETTINGS, SettingsLine.build("ADULT", 25)),
    (COLUMNS, ColumnsLine()),
    (LINE_1, DataLine.build(T_LINE_1, 100, 105, 88, ("AO",))),
    (LINE_2, DataLine.build(T_LINE_1 + 4, 100, 102, 36, ("MO", "AO"))),
]


@pytest.mark.parametrize(("data", "line"), GOLDEN)
def test_real_lines_golden_both_ways(data: bytes, line: frames.Line) -> None:
    # The builders (used by the simulator) reproduce the real capture byte for byte.
    assert frames.parse_line(data) == line
    assert line.serialize() == data


@pytest.mark.parametrize("data", [
    b"12-NOV-97 14:00:05 100 120 50",  # NPB-290/295 manual example, single spaces
    b"07-Jan-04 11:24:50   ---     ---     ---    SO   ",
    b"  07-Jan-04 11:24:50   85*     190*      3    MO SL PH LB AS",
    b"N-595 VERSION 1.61.00 CRC:XXXX SpO2 Limit: 85-100% PR Limit: 40-170BPM",
    b"                             NEO           0SAT-S   SPO2 RESP MODE: FAST ",
])
def test_other_layouts_parse_and_serialize_exactly(data: bytes) -> None:
    assert frames.parse_line(data).serialize() == data


def test_header_fields() -> None:
    version = VersionLine.parse(VERSION)
    assert (version.model, version.version) == ("N-560", "1.61.00")
    assert version.spo2_limits == (95, 100) and version.pr_limits == (59, 148)
    settings = SettingsLine.parse(b"  NEO   0SAT-S  SPO2 RESP MODE: fast")
    assert (settings.limit_set, settings.sat_seconds, settings.resp_mode) == ("NEO", 0, "FAST")


def test_data_line_fields_and_clock() -> None:
    line = DataLine.parse(b"12-NOV-97 14:00:05 98* --- 50 SO")
    assert line.device_time == calendar.timegm((1997, 11, 12, 14, 0, 5, 0, 0, 0))
    assert DataLine.number(line.spo2) == 98.0 and DataLine.starred(line.spo2)
    assert DataLine.number(line.bpm) is None and line.status == ("SO",)


@pytest.mark.parametrize("data", [
    b"07-Jan-04 11:24:50   100     105",  # too few fields
    b"07-Jxx-04 11:24:50   100     105      88",  # no such month
    b"07-Jan-04 11:24:5x   100     105      88",
    b"07-Jan-04 11:24:50   1000    105      88",
    b"07-Jan-04 11:24:50   100     105      88    mo",
    b"07-Jan-04 11:24:50   100     105      88    M\xd6",
    b"TIME %SpO2 BPM",
])
def test_malformed_lines_rejected(data: bytes) -> None:
    with pytest.raises(FrameError):
        frames.parse_line(data)


# -- decoding ------------------------------------------------------------------------------------

def test_real_capture_decodes() -> None:
    codec, events = decode(CAPTURE)
    (info,) = statuses(events)
    assert info.state == "info" and info.time == T_LINE_1
    assert info.info == {"protocol": "nellcor", "model": "N-560", "firmware": "1.61.00",
                         "spo2_limits": [95, 100], "pr_limits": [59, 148],
                         "limit_set": "ADULT", "sat_seconds": 25}
    obs = observations(events)
    assert [(o.metric, o.value, o.time) for o in obs] == [
        ("SPO2", 100.0, T_LINE_1), ("PR", 105.0, T_LINE_1),
        ("SPO2", 100.0, T_LINE_1 + 4), ("PR", 102.0, T_LINE_1 + 4),
    ]
    assert obs[0].flags == {Flag.ALARM_SILENCED}
    assert obs[3].flags == {Flag.ALARM_SILENCED, Flag.MOTION}
    assert obs[1].code == "MDC_PULS_OXIM_PULS_RATE" and obs[1].device_id == "bed-1"
    assert codec.stats == {"frames_ok": 5, "frames_bad": 0, "bytes_discarded": 0}


def test_header_status_only_when_it_changes() -> None:
    changed = VERSION.replace(b"59-148", b"50-150")
    data = CAPTURE + CAPTURE + changed + b"\r\n" + LINE_1 + b"\r\n"
    _, events = decode(data, now=42.0)
    infos = statuses(events)
    assert [s.info["pr_limits"] for s in infos] == [[59, 148], [50, 150]]
    assert all(o.time == 42.0 for o in observations(events))


@pytest.mark.parametrize(("code", "spo2_flags", "pr_flags"), [
    ("AO", {Flag.ALARM_SILENCED}, {Flag.ALARM_SILENCED}),
    ("AS", {Flag.ALARM_SILENCED}, {Flag.ALARM_SILENCED}),
    ("LB", {Flag.LOW_BATTERY}, {Flag.LOW_BATTERY}),
    ("LM", {Flag.LOSS_OF_PULSE, Flag.MOTION}, {Flag.LOSS_OF_PULSE, Flag.MOTION}),
    ("LP", {Flag.LOSS_OF_PULSE}, {Flag.LOSS_OF_PULSE}),
    ("MO", {Flag.MOTION}, {Flag.MOTION}),
    ("PH", set(), {Flag.OUT_OF_LIMIT}),
    ("PL", set(), {Flag.OUT_OF_LIMIT}),
    ("PS", {Flag.PULSE_SEARCH}, {Flag.PULSE_SEARCH}),
    ("SH", {Flag.OUT_OF_LIMIT}, set()),
    ("SL", {Flag.OUT_OF_LIMIT}, set()),
    ("SD", {Flag.SENSOR_DISCONNECT}, {Flag.SENSOR_DISCONNECT}),
    ("SO", {Flag.SENSOR_OFF}, {Flag.SENSOR_OFF}),
    ("XY", set(), set()),  # an unknown code from another model is ignored
])
def test_every_status_code(code: str, spo2_flags: set[str], pr_flags: set[str]) -> None:
    assert code in frames.STATUS_CODES or code == "XY"
    _, events = decode(b"07-Jan-04 11:24:50   97     80      50    " + code.encode() + b"\r\n")
    assert by_metric(events, "SPO2").flags == spo2_flags
    assert by_metric(events, "PR").flags == pr_flags


def test_invalid_and_starred_values() -> None:
    # Values right-aligned in the N-560's columns, as the device prints them: a line in
    # other columns is held back as damaged until another line confirms them.
    _, events = decode(b"07-Jan-04 11:24:50   ---     190*    ---   SO PH\r\n"
                       b"07-Jan-04 11:24:52    84*    ---*     12\r\n")
    obs = observations(events)
    assert [(o.metric, o.value, o.flags) for o in obs] == [
        ("SPO2", None, {Flag.INVALID, Flag.SENSOR_OFF}),
        ("PR", 190.0, {Flag.OUT_OF_LIMIT, Flag.SENSOR_OFF}),
        ("SPO2", 84.0, {Flag.OUT_OF_LIMIT}),
        ("PR", None, {Flag.INVALID, Flag.OUT_OF_LIMIT}),
    ]


def test_data_line_that_lost_bytes_is_dropped_not_misread() -> None:
    # "100" that lost a 0 reads 10: its column moved, so the line is held back, then
    # dropped and counted when the next line keeps the old columns.
    damaged = LINE_1.replace(b"   100", b"   10")
    codec, events = decode(LINE_1 + b"\r\n" + damaged + b"\r\n" + LINE_2 + b"\r\n")
    assert [o.value for o in observations(events)] == [100.0, 105.0, 100.0, 102.0]
    assert codec.frames_bad == 1


def test_new_columns_confirmed_by_the_next_line() -> None:
    # A model printing single spaces moves a column when a value gains a digit.
    codec, events = decode(b"12-NOV-97 14:00:05 99 120 50\r\n12-NOV-97 14:00:07 100 120 50\r\n")
    assert [o.value for o in observations(events)] == [99.0, 120.0]
    codec.receive_data(b"12-NOV-97 14:00:09 100 121 50\r\n")
    assert [o.value for o in observations(codec.events_received())] == [100, 120, 100, 121]
    assert codec.frames_bad == 0


@pytest.mark.parametrize("ending", [b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\n\n\n"])
def test_line_endings_and_blank_lines(ending: bytes) -> None:
    lines = [VERSION, SETTINGS, COLUMNS, LINE_1, LINE_2]
    codec, events = decode(ending.join(lines) + ending)
    assert len(observations(events)) == 4 and codec.frames_bad == 0


def test_garbled_line_counted_and_data_line_inside_recovered() -> None:
    codec, events = decode(b"\x00\xffnoise" + LINE_1 + b"\r\nrubbish line\r\n" + LINE_2 + b"\r\n")
    assert codec.frames_bad == 2
    assert [o.value for o in observations(events)] == [100.0, 105.0, 100.0, 102.0]


def test_overlong_line_is_dropped_and_buffer_bounded() -> None:
    codec = NellcorHostCodec()
    codec.receive_data(b"x" * 5000)
    assert len(codec._buffer) <= frames.MAX_LINE and codec.frames_bad >= 1
    codec.receive_data(b"\r\n" + LINE_1 + b"\r\n")
    assert by_metric(codec.events_received(), "PR").value == 105.0


def test_partial_line_at_eof_is_counted() -> None:
    codec = NellcorHostCodec()
    codec.receive_data(LINE_1[:20])
    codec.receive_eof()
    assert codec.frames_bad == 1 and codec.events_received() == []


def test_every_single_byte_split_gives_the_same_events() -> None:
    data = b"\xfe\r" + CAPTURE.replace(b"\r\n", b"\n", 2) + b"junk\r" + LINE_2 + b"\r\n\r"
    whole, expected = decode(data)
    codec = NellcorHostCodec("bed-1")
    for i in range(len(data)):
        codec.receive_data(data[i : i + 1])
    assert codec.events_received() == expected and codec.stats == whole.stats
    assert len(observations(expected)) == 6


def test_random_garbage_never_raises() -> None:
    rng = random.Random(5)
    codec = NellcorHostCodec()
    for _ in range(50):
        chunk = rng.randbytes(rng.randint(1, 400))
        if rng.random() < 0.3:
            chunk += rng.choice([LINE_1, VERSION, b"\r\n", b"\r", b"---*"])
        codec.receive_data(chunk)
        assert len(codec._buffer) <= frames.MAX_LINE
    codec.receive_eof()
    codec.events_received()
    codec.receive_data(CAPTURE)
    assert by_metric(codec.events_received(), "SPO2").value == 100.0


def test_serial_settings_are_9600_8n1() -> None:
    assert NellcorHostCodec.serial_settings.describe() == "9600 8N1"
    assert NellcorDeviceCodec.serial_settings == NellcorHostCodec.serial_settings


# -- simulator ------------------------------------------------------------------------------------

def simulate(device: NellcorDeviceCodec, seconds: float, vitals: Vitals,
             t0: float = T_LINE_1) -> bytes:
    device.start()
    out = bytearray()
    for i in range(round(seconds * 2) + 1):
        device.advance(t0 + i * 0.5, vitals)
        out += b"".join(device.data_to_send())
    return bytes(out)


def test_simulator_prints_like_the_real_capture() -> None:
    device = NellcorDeviceCodec(spo2_limits=(95, 100), pr_limits=(59, 148), sat_seconds=25,
                                alarm_audio="off")
    device.start()
    device.advance(T_LINE_1, Vitals(pr=105.0, spo2=100.0, pi=3.52))
    assert b"".join(device.data_to_send()) == b"\r\n".join(
        [VERSION, SETTINGS, COLUMNS, LINE_1]) + b"\r\n"


def test_simulator_header_every_n_lines_and_every_two_seconds() -> None:
    data = simulate(NellcorDeviceCodec(header_every=3), 13.0, Vitals())
    lines = data.split(b"\r\n")[:-1]
    kinds = [type(frames.parse_line(line)).__name__[0] for line in lines]
    assert "".join(kinds) == "VSC" + "DDD" + "VSC" + "DDD" + "VSC" + "D"
    times = [DataLine.parse(line).device_time for line in lines if line[:1].isdigit()]
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [2.0] * 6


@pytest.mark.parametrize(("vitals", "spo2", "pr", "spo2_flags", "pr_flags"), [
    (Vitals(pr=72.0, spo2=98.0), 98.0, 72.0, set(), set()),
    (Vitals(pr=None, spo2=None, flags=frozenset({Flag.SENSOR_OFF})), None, None,
     {Flag.SENSOR_OFF, Flag.INVALID}, {Flag.SENSOR_OFF, Flag.INVALID}),
    (Vitals(pr=180.0, spo2=80.0, flags=frozenset({Flag.MOTION})), 80.0, 180.0,
     {Flag.MOTION, Flag.OUT_OF_LIMIT}, {Flag.MOTION, Flag.OUT_OF_LIMIT}),
    (Vitals(pr=60.0, spo2=95.0, flags=frozenset({Flag.LOW_BATTERY, Flag.PULSE_SEARCH})),
     95.0, 60.0, {Flag.LOW_BATTERY, Flag.PULSE_SEARCH}, {Flag.LOW_BATTERY, Flag.PULSE_SEARCH}),
])
def test_simulator_round_trip(vitals: Vitals, spo2: float | None, pr: float | None,
                              spo2_flags: set[str], pr_flags: set[str]) -> None:
    codec, events = decode(simulate(NellcorDeviceCodec(model="N-595"), 6.0, vitals))
    assert statuses(events)[0].info["model"] == "N-595"
    assert (by_metric(events, "SPO2").value, by_metric(events, "PR").value) == (spo2, pr)
    assert by_metric(events, "SPO2").flags == spo2_flags
    assert by_metric(events, "PR").flags == pr_flags
    assert codec.frames_bad == 0


# -- end to end over a pty ------------------------------------------------------------------------

async def test_nellcor_end_to_end_over_pty(pty_port: object) -> None:
    from simulators.port import PtyPort, run_scenario

    assert isinstance(pty_port, PtyPort)
    task = asyncio.create_task(run_scenario(NellcorDeviceCodec(),
                                            scenarios.SCENARIOS["stable"], pty_port,
                                            speed=1.0, duration=10.0))
    seen: list[object] = []
    try:
        device = await drivers.open_device(pty_port.path, "nellcor", device_id="bed-1")
        async with device:
            async with asyncio.timeout(3000 * MS):
                while not any(o.metric == "PR" for o in observations(seen)):
                    seen += await device.read_events()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Close inside the loop: the fixture's synchronous teardown cannot remove the loop
        # reader, and a stale one silently deafens the next pty that reuses the fd number.
        pty_port.close()
    assert all(o.device_id == "bed-1" for o in observations(seen))
    assert 90 <= by_metric(seen, "SPO2").value <= 100  # type: ignore[operator]
    assert 60 <= by_metric(seen, "PR").value <= 85  # type: ignore[operator]
