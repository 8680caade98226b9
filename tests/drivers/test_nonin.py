"""Nonin DF#2/#7/#8: golden frames, flags, auto-detection, set-format, resync, splits, pty."""

from __future__ import annotations

import asyncio
import random

import pytest

import drivers
from drivers.nonin import frames
from drivers.nonin.frames import Frame, Packet, Record, SetFormat
from drivers.nonin.host import NoninHostCodec
from drivers.nonin.packets import ClosedPacket, PacketAssembler
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceStatus, Flag, Observation, Waveform
from simulators import scenarios
from simulators.nonin import NoninDeviceCodec
from simulators.scenarios import Vitals
from tests.conftest import MS

# Constructed DF#8 examples from the research notes (docs/devices/nonin.md).
DF8_NORMAL = bytes.fromhex("80 48 62 00")  # HR 72, SpO2 98, no flags
DF8_FINGER_OUT = bytes.fromhex("83 7F 7F 08")  # missing markers with the sensor alarm

# Public DF#2 capture (mattjlewis/NoninPulseOx, comment in DataFormat2FrameSerialiser.java):
# 30 frames; SYNC on frames 5 and 30, so frames 5-29 are one whole packet (HR 74, SpO2 96).
DF2_CAPTURE = bytes.fromhex(
    "01804900CA 0180464A11 01804400C5 01804300C4 01814300C5 0180434A0E 0180436024"
    " 0180439458 01804300C4 01804100C2 01803E17D6 01803C04C1 018039601A 0180366017"
    " 0180356016 01803400B5 01803400B5 01803400B5 0180354A00 0180366017 0180376018"
    " 01803A00BB 01804000C1 01804A00CB 0180574A22 01806900EA 01807C4A47 0180900011"
    " 0180A10022 0181AF0031"
)


def simulate(device: NoninDeviceCodec, seconds: float, vitals: Vitals | None = None,
             t0: float = 1_000_000.0, step: float = 0.05) -> bytes:
    """Run the simulated device for ``seconds`` and return what it sent."""
    v = vitals or Vitals(pr=72.0, spo2=97.0)
    out = bytearray()
    for i in range(round(seconds / step) + 1):
        device.advance(t0 + i * step, v)
        out += b"".join(device.data_to_send())
    return bytes(out)


def decode(data: bytes, now: float | None = None, **options: object) -> tuple[
        NoninHostCodec, list[object]]:
    codec = drivers.codec("nonin", device_id="bed-1", **options)
    assert isinstance(codec, NoninHostCodec)
    codec.receive_data(data, now)
    return codec, codec.events_received()


def observations(events: list[object]) -> list[Observation]:
    return [e for e in events if isinstance(e, Observation)]


def waveforms(events: list[object]) -> list[Waveform]:
    return [e for e in events if isinstance(e, Waveform)]


def statuses(events: list[object]) -> list[DeviceStatus]:
    return [e for e in events if isinstance(e, DeviceStatus)]


def last(events: list[object], metric: str) -> Observation:
    return [o for o in observations(events) if o.metric == metric][-1]


# -- golden units, both ways -----------------------------------------------------------------

GOLDEN_RECORDS = [
    (DF8_NORMAL, Record(72, 98)),
    (DF8_FINGER_OUT, Record(511, 127, 0, frames.S2_SNSA)),
    (bytes.fromhex("A5 1E 5A 21"), Record(158, 90, frames.S8_OOT | frames.S8_ARTF,
                                          frames.S2_SPA | frames.S2_LOW_BATTERY)),
]


@pytest.mark.parametrize(("data", "record"), GOLDEN_RECORDS)
def test_record_golden_both_ways(data: bytes, record: Record) -> None:
    assert Record.parse(data) == record
    assert record.serialize() == data


GOLDEN_FRAMES = [
    (bytes.fromhex("01 81 43 00 C5"), Frame(0x81, 0x43, 0x00, 2)),  # from the capture
    (bytes.fromhex("01 80 43 94 58"), Frame(0x80, 0x43, 0x94, 2)),
    (bytes.fromhex("81 12 34 4A 11"), Frame(0x81, 0x1234, 0x4A, 7)),  # constructed DF#7
    (bytes.fromhex("A8 FF FF 7F 25"), Frame(0xA8, 0xFFFF, 0x7F, 7)),
]


@pytest.mark.parametrize(("data", "frame"), GOLDEN_FRAMES)
def test_frame_golden_both_ways(data: bytes, frame: Frame) -> None:
    assert Frame.parse(data, frame.data_format) == frame
    assert frame.serialize() == data


GOLDEN_COMMANDS = [
    (bytes.fromhex("02 70 02 02 02 03"), SetFormat(2)),
    (bytes.fromhex("02 70 02 02 08 03"), SetFormat(8)),
    (bytes.fromhex("02 70 04 02 07 01 7E 03"), SetFormat(7, 0x01)),
    (bytes.fromhex("02 70 04 02 07 61 DE 03"), SetFormat(7, 0x61)),
]


@pytest.mark.parametrize(("data", "command"), GOLDEN_COMMANDS)
def test_set_format_golden_both_ways(data: bytes, command: SetFormat) -> None:
    assert SetFormat.parse(data) == command
    assert command.serialize() == data


def test_checksum_is_sum_mod_256() -> None:
    assert frames.checksum(b"\x01\x80\x49\x00") == 0xCA
    assert frames.checksum(bytes([0xFF] * 4)) == 0xFC
    for i in range(0, len(DF2_CAPTURE), 5):
        assert frames.checksum(DF2_CAPTURE[i : i + 4]) == DF2_CAPTURE[i + 4]


@pytest.mark.parametrize("data", [
    bytes.fromhex("01 81 43 00 C6"),  # bad checksum
    bytes.fromhex("02 81 43 00 C6"),  # no 0x01 start byte
    bytes.fromhex("01 01 43 00 45"),  # status without bit 7
    bytes.fromhex("01 81 43 00"),  # short
])
def test_frame_parse_rejects_malformed(data: bytes) -> None:
    with pytest.raises(FrameError):
        Frame.parse(data, 2)


@pytest.mark.parametrize("data", [
    bytes.fromhex("00 48 62 00"), bytes.fromhex("80 C8 62 00"), bytes.fromhex("80 48 62 80"),
    bytes.fromhex("80 48 62"),
])
def test_record_parse_rejects_malformed(data: bytes) -> None:
    with pytest.raises(FrameError):
        Record.parse(data)


def _parsed_or_none(parse, data: bytes):
    try:
        return parse(data)
    except FrameError:
        return None


@pytest.mark.parametrize("data_format", [2, 7])
def test_frame_fields_agree_with_frame_parse(data_format: int) -> None:
    rng = random.Random(data_format)
    valid = [f.serialize() for f in Packet.build(72, 97).frames([0x80] * 25, range(25),
                                                                data_format)]
    samples = valid + [bytes(rng.randrange(256) for _ in range(5)) for _ in range(3000)]
    # Valid frames with one byte changed, and random frames with a right checksum.
    samples += [v[:k] + bytes([rng.randrange(256)]) + v[k + 1:] for v in valid for k in range(5)]
    for _ in range(3000):
        body = bytes(rng.choice((1, 0x81, rng.randrange(256))) for _ in range(4))
        samples.append(body + bytes([frames.checksum(body)]))
    for data in samples:
        frame = _parsed_or_none(lambda d: Frame.parse(d, data_format), data)
        want = None if frame is None else (frame.status, frame.pleth, frame.value)
        assert frames.frame_fields(data, 0, data_format) == want, data.hex()
        assert frames.frame_fields(b"xx" + data, 2, data_format) == want
    assert frames.frame_fields(valid[0][:4], 0, data_format) is None


def test_record_fields_agree_with_record_parse() -> None:
    rng = random.Random(8)
    for _ in range(5000):
        data = bytes(rng.choice((0x80 | rng.randrange(128), rng.randrange(128),
                                 rng.randrange(256))) for _ in range(4))
        record = _parsed_or_none(Record.parse, data)
        want = None if record is None else (record.pulse_rate, record.spo2, record.status,
                                            record.status2)
        assert frames.record_fields(data) == want, data.hex()
        assert frames.record_fields(b"\x00" + data, 1) == want
    assert frames.record_fields(DF8_NORMAL[:3]) is None


def test_set_format_rejects_bad_checksum_and_garbage() -> None:
    with pytest.raises(FrameError):
        SetFormat.parse(bytes.fromhex("02 70 04 02 07 01 7F 03"))
    with pytest.raises(FrameError):
        SetFormat.parse(bytes.fromhex("02 71 02 02 02 03"))


def test_packet_map_round_trip() -> None:
    packet = Packet.build(300, 95, 298, 96, firmware=0x94, stat2=frames.S2_LOW_BATTERY,
                          timer=0x1234)
    built = packet.frames([0x80] * 25, list(range(25)), 2)
    assert [f.sync for f in built] == [True] + [False] * 24
    again = Packet.from_frames([Frame.parse(f.serialize(), 2) for f in built])
    assert again == packet
    assert (again.pulse_rate, again.spo2, again.pulse_rate_d, again.spo2_d) == (300, 95, 298, 96)
    assert (again.firmware, again.stat2, again.timer) == (0x94, frames.S2_LOW_BATTERY, 0x1234)


# -- decoding --------------------------------------------------------------------------------

def test_df8_constructed_examples_decode() -> None:
    # The last record waits for the first byte of the next one, which confirms it.
    _, events = decode(DF8_NORMAL + DF8_FINGER_OUT + DF8_NORMAL * 3 + DF8_NORMAL[:1],
                       data_format=None)
    obs = observations(events)
    assert [(o.metric, o.value, o.flags) for o in obs[:4]] == [
        ("SPO2", 98.0, frozenset()), ("PR", 72.0, frozenset()),
        ("SPO2", None, {Flag.INVALID, Flag.SENSOR_OFF}),
        ("PR", None, {Flag.INVALID, Flag.SENSOR_OFF}),
    ]
    assert [o.time for o in obs[::2]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert obs[0].code == "MDC_PULS_OXIM_SAT_O2" and obs[1].code == "MDC_PULS_OXIM_PULS_RATE"


def test_df2_real_capture_decodes_display_values_and_pleth() -> None:
    codec, events = decode(DF2_CAPTURE)
    assert statuses(events)[0].info["data_format"] == 2
    assert [(o.metric, o.value) for o in observations(events)] == [("SPO2", 96.0), ("PR", 74.0)]
    (wave,) = waveforms(events)
    assert wave.metric == "PLETH" and wave.sample_rate == 75.0 and wave.unit == "1"
    assert wave.samples[:3] == (0x43, 0x43, 0x43) and len(wave.samples) == 25
    assert wave.time == pytest.approx(4 / 75)  # frame 5 of the stream, counted from 0.0
    # The last frame is used only once a next one confirms it (none here).
    assert codec.frames_bad == 0 and codec.frames_ok == 29


@pytest.mark.parametrize(("status", "status2", "flags"), [
    (frames.S8_OOT, 0, {Flag.OUT_OF_TRACK}),
    (frames.S8_ARTF, 0, {Flag.ARTIFACT}),
    (frames.S8_LPRF, 0, {Flag.LOW_PERFUSION}),
    (frames.S8_MPRF, 0, {Flag.MARGINAL_PERFUSION}),
    (frames.S8_LPRF | frames.S8_MPRF, 0, {Flag.LOW_PERFUSION}),
    (0, frames.S2_SNSA, {Flag.SENSOR_OFF, Flag.INVALID}),  # held values are not readings
    (0, frames.S2_LOW_BATTERY, {Flag.LOW_BATTERY}),
    (0, frames.S2_SPA, set()),
])
def test_df8_every_flag(status: int, status2: int, flags: set[str]) -> None:
    data = Record(80, 95, status, status2).serialize() * 4
    _, events = decode(data, data_format=None)
    assert last(events, "SPO2").flags == flags
    assert last(events, "PR").flags == flags


@pytest.mark.parametrize("data_format", [2, 7])
@pytest.mark.parametrize(("status", "stat2", "flags"), [
    (frames.ST_ARTF, 0, {Flag.ARTIFACT}),
    (frames.ST_OOT, 0, {Flag.OUT_OF_TRACK}),
    (frames.ST_SNSA, 0, {Flag.SENSOR_OFF, Flag.INVALID}),
    (frames.ST_RPRF, 0, {Flag.LOW_PERFUSION}),
    (frames.ST_RPRF | frames.ST_GPRF, 0, {Flag.MARGINAL_PERFUSION}),
    (frames.ST_GPRF, 0, set()),
    (0, frames.S2_LOW_BATTERY, {Flag.LOW_BATTERY}),
])
def test_df2_df7_every_flag(data_format: int, status: int, stat2: int, flags: set[str]) -> None:
    packet = Packet.build(80, 95, stat2=stat2)
    data = b"".join(f.serialize() for f in packet.frames([0x80 | status] * 25, [9] * 25,
                                                         data_format)) * 2
    _, events = decode(data)
    assert last(events, "SPO2").flags == flags
    assert last(events, "PR").flags == flags
    assert waveforms(events)[0].flags == flags - {Flag.INVALID}


@pytest.mark.parametrize("data_format", [2, 7, 8])
def test_missing_markers_become_invalid(data_format: int) -> None:
    if data_format == 8:
        data = Record(511, 127).serialize() * 4
    else:
        packet = Packet.build(511, 127)
        # Twice: a packet is complete when the next one's SYNC frame follows it.
        data = b"".join(f.serialize() for f in packet.frames([0x80] * 25, [0] * 25,
                                                             data_format)) * 2
    _, events = decode(data)
    for metric in ("SPO2", "PR"):
        obs = last(events, metric)
        assert obs.value is None and obs.flags == {Flag.INVALID}


def test_numerics_once_a_second_and_waveform_every_packet() -> None:
    _, events = decode(simulate(NoninDeviceCodec(2), 3.0))
    waves = waveforms(events)
    spo2 = [o for o in observations(events) if o.metric == "SPO2"]
    assert len(waves) >= 8 and len(spo2) == (len(waves) + 2) // 3
    assert all(len(w.samples) == 25 for w in waves)
    starts = [w.time for w in waves]
    assert [round(b - a, 6) for a, b in zip(starts, starts[1:], strict=False)] == \
        [round(25 / 75, 6)] * (len(starts) - 1)


def test_times_computed_back_from_now() -> None:
    data = simulate(NoninDeviceCodec(2), 1.0)
    _, events = decode(data, now=5000.0)
    waves = waveforms(events)
    # The last frame of the chunk arrived at ``now``; earlier ones 1/75 s apart before it.
    frames_after_last_packet = (len(data) // 5) % 25  # the stream starts with a SYNC
    last_packet_end = 5000.0 - frames_after_last_packet / 75
    assert waves[-1].time == pytest.approx(last_packet_end - 24 / 75)
    assert observations(events)[0].time <= 5000.0


# -- auto-detection and resync ------------------------------------------------------------------

@pytest.mark.parametrize("data_format", [2, 7, 8])
@pytest.mark.parametrize("offset", [0, 1, 2, 3, 4])
def test_autodetect_each_format_from_any_offset(data_format: int, offset: int) -> None:
    data = simulate(NoninDeviceCodec(data_format), 6.0)[offset:]
    codec, events = decode(data)
    assert codec.data_format == data_format
    assert statuses(events)[0].info["data_format"] == data_format
    assert (last(events, "SPO2").value, last(events, "PR").value) == (97.0, 72.0)
    assert codec.frames_bad == 0


def test_autodetect_prefers_df2_for_a_quiet_stream_entered_mid_frame() -> None:
    # 01 80 00 00 81 read from byte 1 also passes as DF#7 frames: DF#2 must win.
    packet = Packet.build(0, 0)
    data = b"".join(f.serialize() for f in packet.frames([0x80] * 25, [0] * 25, 2)) * 3
    codec, _ = decode(data[1:])
    assert codec.data_format == 2


def test_autodetect_follows_a_format_change() -> None:
    data = simulate(NoninDeviceCodec(8), 4.0) + simulate(NoninDeviceCodec(7), 2.0)
    codec, events = decode(data)
    assert [s.info["data_format"] for s in statuses(events) if "firmware_revision" not in
            s.info or s.detail.startswith("data")] == [8, 7]
    assert codec.data_format == 7
    assert waveforms(events) and last(events, "PR").value == 72.0


@pytest.mark.parametrize("data_format", [2, 7])
def test_bad_checksum_counted_and_resync_within_one_frame(data_format: int) -> None:
    packet = Packet.build(72, 97)
    one = b"".join(f.serialize() for f in packet.frames([0x80] * 25, list(range(25)),
                                                        data_format))
    damaged = bytearray(one)
    damaged[5 * 10 + 4] ^= 0x55  # checksum of frame 11
    # Then the next packet's SYNC frame and the frame that confirms it.
    codec, events = decode(one + bytes(damaged) + one + one + one[:10])
    assert codec.frames_bad == 1
    # Every other frame decoded (the last awaits a next one): resynchronised at the next one.
    assert codec.frames_ok == 100
    waves = waveforms(events)
    assert len(waves) == 4 and codec.data_format == data_format
    # Frames after the gap are placed by counting back from the next SYNC: one sample lost.
    assert waves[1].samples == tuple(None if i == 10 else float(i) for i in range(25))
    assert waves[2].samples == waves[0].samples == tuple(float(i) for i in range(25))


def _df2_stream(data_format: int, packets: int) -> bytes:
    packet = Packet.build(72, 97)
    return b"".join(f.serialize() for f in packet.frames([0x80] * 25, list(range(25)),
                                                         data_format)) * packets


@pytest.mark.parametrize("data_format", [2, 7])
def test_frames_lost_whole_drop_their_packet_not_shift_its_items(data_format: int) -> None:
    # Five bytes lost exactly on frame boundaries leave a clean stream: only the count
    # between two SYNC frames shows it. Read shifted, HR-D MSB (item 19) would be the LSB
    # (72) and the LSB item 21 (0): a pulse rate of 0. The packet is dropped and counted.
    data = _df2_stream(data_format, 4)
    cut = 25 * 5 + 15 * 5  # frame 16 of the second packet
    codec, events = decode(data[:cut] + data[cut + 5 :] + data[:10])
    assert {o.value for o in observations(events)} == {72.0, 97.0}
    assert codec.frames_bad == 1 and len(waveforms(events)) == 3


@pytest.mark.parametrize("data_format", [2, 7])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 6, 7, 11, 16])
def test_lost_bytes_inside_frames_never_misread(data_format: int, size: int) -> None:
    data = _df2_stream(data_format, 6) + _df2_stream(data_format, 1)[:10]
    for start in range(25 * 5, 50 * 5, 3):
        codec, events = decode(data[:start] + data[start + size :])
        assert {o.value for o in observations(events)} <= {72.0, 97.0}
        assert codec.frames_bad >= 1
        for wave in waveforms(events):  # samples 0..24 in place, lost ones None
            assert all(v is None or v == i for i, v in enumerate(wave.samples))


def _df8_host() -> NoninHostCodec:
    """A host that asked for DF#8 and got the ACK."""
    codec = NoninHostCodec("bed-1", data_format=8)
    codec.start()
    codec.receive_data(bytes([frames.ACK]), now=9.0)
    codec.events_received()
    return codec


def test_df8_record_spliced_across_a_loss_is_rejected() -> None:
    # Records 80 48 62 00 (PR 72, SpO2 98) a second apart, and 62 00 80 lost: the first
    # two bytes of one record and the next two make 80 48 48 62, which passes the sync
    # bit check as PR 72, SpO2 72. Its bytes came a second apart: it is rejected.
    codec = _df8_host()
    codec.receive_data(bytes.fromhex("80 48 62 00 80 48"), now=10.0)
    codec.receive_data(bytes.fromhex("48 62 00"), now=11.0)  # lost: 62 00 80
    codec.receive_data(bytes.fromhex("80 48 62 00"), now=12.0)
    obs = observations(codec.events_received())
    assert [(o.metric, o.value, o.time) for o in obs] == [
        ("SPO2", 98.0, 10.0), ("PR", 72.0, 10.0), ("SPO2", 98.0, 12.0), ("PR", 72.0, 12.0)]
    assert codec.frames_bad == 1


def test_df8_record_is_used_at_once_when_its_bytes_came_together() -> None:
    codec = _df8_host()
    codec.receive_data(DF8_NORMAL[:2], now=10.0)
    codec.receive_data(DF8_NORMAL[2:], now=10.004)
    assert [o.value for o in observations(codec.events_received())] == [98.0, 72.0]
    # Without read times, a record waits for the first byte of the next one.
    codec = _df8_host()
    codec.receive_data(DF8_NORMAL)
    assert codec.events_received() == []
    codec.receive_data(DF8_NORMAL[:1])
    assert [o.value for o in observations(codec.events_received())] == [98.0, 72.0]


@pytest.mark.parametrize("record", ["80 00 62 00", "82 7F 62 00", "80 48 70 00"])
def test_df8_implausible_values_are_rejected(record: str) -> None:
    # PR 0, PR 383 (neither in 18..321 nor the 511 marker), SpO2 112: no module sends them.
    codec, events = decode((bytes.fromhex(record) + DF8_NORMAL) * 4, data_format=8)
    assert {o.value for o in observations(events)} <= {98.0, 72.0}
    assert codec.frames_bad >= 1


def test_garbage_between_packets_resyncs() -> None:
    clean = simulate(NoninDeviceCodec(2), 2.0)
    cut = 5 * 40
    codec, events = decode(clean[:cut] + b"\x01\xff\x13garbage\x00" + clean[cut:])
    assert codec.frames_bad == 1 and codec.bytes_discarded > 0
    assert last(events, "SPO2").value == 97.0


@pytest.mark.parametrize("data_format", [None, 2, 7, 8])
def test_random_garbage_never_raises_and_stays_bounded(data_format: int | None) -> None:
    rng = random.Random(8)
    codec = NoninHostCodec(data_format=data_format)
    codec.start()
    for _ in range(40):
        codec.receive_data(rng.randbytes(rng.randint(1, 500)))
        assert len(codec._buf) < 64
    codec.receive_eof()
    codec.events_received()
    # and still decodes a clean stream afterwards
    codec.receive_data(simulate(NoninDeviceCodec(8), 5.0))
    assert last(codec.events_received(), "SPO2").value == 97.0


def test_random_bytes_mixed_into_a_stream_never_raise() -> None:
    rng = random.Random(3)
    clean = simulate(NoninDeviceCodec(7), 3.0)
    noisy = bytearray()
    for i in range(0, len(clean), 97):
        noisy += clean[i : i + 97] + rng.randbytes(rng.randint(0, 7))
    codec, events = decode(bytes(noisy))
    # Every packet is hit, yet damaged packets still give pleth (with gaps) and numerics.
    # Each of the 10 bursts inside the stream is counted.
    assert codec.frames_bad >= 10 and last(events, "SPO2").value == 97.0
    assert any(None in w.samples for w in waveforms(events))


@pytest.mark.parametrize("data_format", [2, 7, 8])
def test_every_single_byte_split_gives_the_same_events(data_format: int) -> None:
    data = (b"\xffjunk" + simulate(NoninDeviceCodec(data_format), 4.0 if data_format == 8
                                   else 1.0) + b"\x00\x01")
    whole, expected = decode(data)
    codec = NoninHostCodec("bed-1")
    for i in range(len(data)):
        codec.receive_data(data[i : i + 1])
    assert codec.events_received() == expected
    assert codec.stats == whole.stats


def test_random_splits_give_the_same_events() -> None:
    rng = random.Random(11)
    data = simulate(NoninDeviceCodec(2), 1.5)
    _, expected = decode(data)
    for _ in range(5):
        codec = NoninHostCodec("bed-1")
        i = 0
        while i < len(data):
            n = rng.randint(1, 40)
            codec.receive_data(data[i : i + n])
            i += n
        assert codec.events_received() == expected


# -- set-format handshake -------------------------------------------------------------------------

def exchange(host: NoninHostCodec, device: NoninDeviceCodec, seconds: float,
             vitals: Vitals | None = None) -> list[object]:
    """Run host and device against each other (host bytes delivered before each tick)."""
    events: list[object] = []
    t0 = 2_000_000.0
    for i in range(round(seconds / 0.05) + 1):
        for chunk in host.data_to_send():
            device.receive_data(chunk)
        device.advance(t0 + i * 0.05, vitals or Vitals(pr=72.0, spo2=97.0))
        for chunk in device.data_to_send():
            host.receive_data(chunk)
        events += host.events_received()
    return events


def test_set_format_ack_switches_and_locks() -> None:
    host = NoninHostCodec("bed-1", data_format=2)
    host.start()
    assert host.data_to_send() == [bytes.fromhex("02 70 02 02 02 03")]
    host.start()
    device = NoninDeviceCodec(data_format=8)
    device.advance(0.0, Vitals())  # the device already talks DF#8 when the host opens
    host.receive_data(b"".join(device.data_to_send()))
    events = exchange(host, device, 2.0)
    assert device.events_received() == [SetFormat(2)] and device.data_format == 2
    acked = [s for s in statuses(events) if "acknowledged" in s.detail]
    assert acked and acked[0].info["data_format"] == 2
    assert host.data_format == 2 and waveforms(events)
    assert last(events, "SPO2").value == 97.0 and host.frames_bad == 0


def test_set_format_nak_reported_and_decoding_goes_on() -> None:
    host = NoninHostCodec("bed-1", data_format=7)
    host.start()
    device = NoninDeviceCodec(data_format=8, supported_formats=(8,))
    events = exchange(host, device, 5.0)
    (nak,) = [s for s in statuses(events) if "NAK" in s.detail]
    assert nak.state == "info" and nak.info["data_format_refused"] == 7
    assert host.data_format == 8 and last(events, "PR").value == 72.0


def test_reply_bytes_without_request_are_junk_not_replies() -> None:
    codec, events = decode(bytes([frames.NAK, frames.ACK]) + DF8_NORMAL * 4)
    assert not [s for s in statuses(events) if "NAK" in s.detail or "ack" in s.detail]
    assert codec.bytes_discarded == 2


def test_unsupported_format_argument_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        NoninHostCodec(data_format=13)


def test_serial_settings_are_9600_8n1() -> None:
    assert NoninHostCodec.serial_settings.describe() == "9600 8N1"
    assert NoninDeviceCodec.serial_settings == NoninHostCodec.serial_settings


# -- simulator round trip -------------------------------------------------------------------------

@pytest.mark.parametrize("data_format", [2, 7, 8])
@pytest.mark.parametrize(("vitals", "spo2", "pr", "flags"), [
    (Vitals(pr=64.0, spo2=99.0), 99.0, 64.0, set()),
    (Vitals(pr=190.0, spo2=84.0, flags=frozenset({Flag.MOTION})), 84.0, 190.0,
     {Flag.ARTIFACT}),
    (Vitals(pr=55.0, spo2=93.0, flags=frozenset({Flag.LOW_PERFUSION, Flag.LOW_BATTERY})),
     93.0, 55.0, {Flag.LOW_PERFUSION, Flag.LOW_BATTERY}),
    (Vitals(pr=None, spo2=None, flags=frozenset({Flag.SENSOR_OFF})), None, None,
     {Flag.SENSOR_OFF, Flag.INVALID}),
])
def test_simulator_round_trip(data_format: int, vitals: Vitals, spo2: float | None,
                              pr: float | None, flags: set[str]) -> None:
    device = NoninDeviceCodec(data_format, display_hold=0.0)
    _, events = decode(simulate(device, 5.0, vitals))
    assert (last(events, "SPO2").value, last(events, "PR").value) == (spo2, pr)
    assert last(events, "SPO2").flags == flags


def test_held_display_values_are_not_reported_as_readings() -> None:
    # Like the real device, the simulator holds the display values for 10 s with SNSA set
    # (80 50 5F 08), then sends the missing markers (83 7F 7F 08); both decode to None.
    device = NoninDeviceCodec(8, display_hold=10.0)
    off = Vitals(pr=None, spo2=None, flags=frozenset({Flag.SENSOR_OFF}))
    data = simulate(device, 3.0, Vitals(pr=80.0, spo2=95.0), t0=100.0)
    data += simulate(device, 15.0, off, t0=104.0)
    records = [Record.parse(data[i : i + 4]) for i in range(0, len(data), 4)]
    assert [(r.pulse_rate, r.spo2) for r in records].count((80, 95)) == 4 + 10
    assert records[-1].serialize() == DF8_FINGER_OUT
    _, events = decode(data + DF8_FINGER_OUT[:1])  # a next record confirms the last one
    spo2 = [o for o in observations(events) if o.metric == "SPO2"]
    assert [o.value for o in spo2] == [95.0] * 4 + [None] * 16
    assert all(o.flags == {Flag.SENSOR_OFF, Flag.INVALID} for o in spo2[4:])


def test_simulator_naks_garbled_and_unknown_commands() -> None:
    device = NoninDeviceCodec(8)
    device.receive_data(b"\x02\x70\x04\x02\x07\x01\x00\x03")  # bad checksum: ignored
    device.receive_data(b"junk" + SetFormat(13).serialize()[:3])
    device.receive_data(SetFormat(13).serialize()[3:])
    assert device.data_to_send() == [bytes([frames.NAK])]
    assert device.events_received() == [SetFormat(13)] and device.data_format == 8


# -- end to end over a pty ------------------------------------------------------------------------

async def test_nonin_end_to_end_over_pty(pty_port: object) -> None:
    from simulators.port import PtyPort, run_scenario

    assert isinstance(pty_port, PtyPort)
    task = asyncio.create_task(run_scenario(NoninDeviceCodec(data_format=8),
                                            scenarios.SCENARIOS["stable"], pty_port,
                                            speed=1.0, duration=10.0))
    seen: list[object] = []
    try:
        device = await drivers.open_device(pty_port.path, "nonin", device_id="bed-1",
                                           data_format=2)
        async with device:
            async with asyncio.timeout(3000 * MS):
                while not (waveforms(seen) and any(o.metric == "PR" for o in
                                                   observations(seen))):
                    seen += await device.read_events()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Close inside the loop: the fixture's synchronous teardown cannot remove the loop
        # reader, and a stale one silently deafens the next pty that reuses the fd number.
        pty_port.close()
    assert any("acknowledged" in s.detail for s in statuses(seen))
    assert all(o.device_id == "bed-1" for o in observations(seen))
    assert 90 <= last(seen, "SPO2").value <= 100  # type: ignore[operator]
    assert 60 <= last(seen, "PR").value <= 85  # type: ignore[operator]
    assert len(waveforms(seen)[-1].samples) == 25


# 30 consecutive DF#2 frames captured from a real Nonin module, as published in a comment of
# mattjlewis/NoninPulseOx (DataFormat2FrameSerialiser.java). The packet starts at the 5th
# frame (SYNC): HR 74 (frames 1-2), SpO2 96 (frame 3), display values 96 % and 74 /min.
REAL_DF2 = bytes.fromhex(
    "01804900CA0180464A1101804400C501804300C401814300C50180434A0E0180436024"
    "018043945801804300C401804100C201803E17D601803C04C1018039601A0180366017"
    "018035601601803400B501803400B501803400B50180354A000180366017"
    "018037601801803A00BB01804000C101804A00CB0180574A2201806900EA"
    "01807C4A4701809000110180A100220181AF0031"
)


@pytest.mark.parametrize("options", [{}, {"data_format": 2}])
def test_nonin_real_df2_capture(options: dict) -> None:
    codec = drivers.codec("nonin", device_id="bed-1", **options)
    # The capture is 1.2 packets; a device repeats packets, so feed its one whole packet
    # (frames 5-29) a few times.
    codec.receive_data(REAL_DF2[4 * 5 : 29 * 5] * 4, now=100.0)
    events = codec.events_received()
    numerics = {(e.metric, e.value) for e in events if isinstance(e, Observation)}
    assert numerics == {("SPO2", 96.0), ("PR", 74.0)}
    assert all(not e.flags for e in events if isinstance(e, Observation))
    pleth = [e for e in events if isinstance(e, Waveform)]
    assert pleth and all(e.sample_rate == 75.0 and e.metric == "PLETH" for e in pleth)
    assert codec.frames_bad == 0


# -- packet assembly ----------------------------------------------------------------------------


def _feed_packet(assembler: PacketAssembler, count: int, first: int = 0, sync_first: bool = True,
                 next_sync_last: bool = False) -> list[object]:
    out = []
    for i in range(first, first + count):
        sync = sync_first and i == first
        last = next_sync_last and i == first + count - 1
        out.append(assembler.frame((0x81 if sync else 0x80, i, i), sync, float(i), last))
    return out


def test_packet_assembler_closes_25_frames_followed_by_sync() -> None:
    assembler = PacketAssembler()
    got = _feed_packet(assembler, 25, next_sync_last=True)
    assert got[:24] == [None] * 24
    closed = got[24]
    assert isinstance(closed, ClosedPacket)
    assert [f[1] for f in closed.slots if f is not None] == list(range(25))
    assert (closed.start, closed.end) == (0.0, 24.0)


def test_packet_assembler_frames_lost_whole_give_up_the_packet() -> None:
    assembler = PacketAssembler()
    _feed_packet(assembler, 24)
    reason = assembler.frame((0x81, 0, 0), True, 30.0, False)
    assert isinstance(reason, str) and "24 frames" in reason


def test_packet_assembler_places_frames_after_a_gap_from_the_next_sync() -> None:
    assembler = PacketAssembler()
    _feed_packet(assembler, 10)
    assert assembler.gap() is None
    _feed_packet(assembler, 14, first=11, sync_first=False)
    closed = assembler.frame((0x81, 99, 99), True, 40.0, False)
    assert isinstance(closed, ClosedPacket)
    assert closed.slots[10] is None
    assert [f[1] for f in closed.slots if f is not None] == list(range(10)) + list(range(11, 25))
    assert assembler.frame((0x80, 0, 0), False, 41.0, False) is None  # the next packet goes on
