"""Conformance suite run against every protocol that has both a driver and a simulator.

python-can's Back2Back pattern: one set of checks, parametrized over the registries at
collection time, so a protocol added to ``drivers.PROTOCOLS`` and
``simulators.DEVICE_CODECS`` is covered without touching this file.

Checks, per protocol, and per option variant the protocol declares next to its codec
(``HostCodec.conformance``, :mod:`drivers.conformance`), as it declares the losses its
wire format cannot reveal (``HostCodec.lost_bytes_blind_spot``):

- round trip: simulator bytes for scripted vitals decode to the same values;
- every split: whole, random chunks and single bytes give the same events;
- garbage: injected random bytes never raise, are counted, and the decoder resyncs
  within one frame;
- random noise never raises;
- lost bytes (single bytes, runs up to 16) never give a value the device did not send,
  are counted, and decoding resumes after them;
- end to end over a real pty, and unplug / replug through a stable symlink.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import drivers
import simulators
from drivers.base import HostCodec
from drivers.conformance import BlindSpot
from monitor.domain.errors import DeviceDisconnected
from monitor.domain.models import SENSOR_OFF_FLAGS, DeviceState, DeviceStatus, Observation, Waveform
from simulators.base import DeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Vitals
from tests.conftest import MS

# -- which protocols, with which options ----------------------------------------------------


def _params() -> list[Any]:
    """One param per protocol variant (``HostCodec.conformance.variants``)."""
    params = []
    for name in sorted(set(drivers.PROTOCOLS) & set(simulators.DEVICE_CODECS)):
        for variant in drivers.codec_class(name).conformance.variants:
            pid = f"{name}-{variant.id}" if variant.id else name
            params.append(pytest.param((name, variant.host, variant.device), id=pid))
    return params


@dataclass
class Proto:
    """One protocol variant under test."""

    name: str
    host_options: dict[str, Any]
    device_options: dict[str, Any]

    def host(self) -> HostCodec:
        return drivers.codec(self.name, device_id="conformance", **self.host_options)

    def device(self) -> DeviceCodec:
        return simulators.device_codec(self.name, **self.device_options)

    @property
    def first_value(self) -> float:
        """Seconds a pty may take to deliver the first value (the protocol declares it)."""
        return drivers.codec_class(self.name).conformance.first_value

    @property
    def over_serial(self) -> bool:
        """False when the driver declares a non-serial transport (``transport = "tcp"``)."""
        cls = drivers.codec_class(self.name)
        return getattr(cls, "transport", "serial") == "serial"


@pytest.fixture(params=_params())
def proto(request: pytest.FixtureRequest) -> Proto:
    name, host_opts, dev_opts = request.param
    return Proto(name, dict(host_opts), dict(dev_opts))


# -- driving a device codec ---------------------------------------------------------------

CLOCK0 = 1_700_000_000.0
"""Device clock at scenario time 0 (a whole second, 2023-11-14 22:13:20 UTC)."""
TICK = 0.25
"""Device seconds between two ``advance`` calls."""
HOLD = 2.0
"""Vitals are held constant for this long, so a frame cannot straddle two values."""


@dataclass
class Chunk:
    """Bytes the device sent during one ``advance`` call."""

    now: float
    data: bytes
    vitals: Vitals
    previous: Vitals


def _loopback(host: HostCodec, device: DeviceCodec, now: float) -> list[bytes]:
    """Exchange bytes both ways until quiet; return what the device sent."""
    sent: list[bytes] = []
    for _ in range(100):
        moved = False
        for data in host.data_to_send():
            device.receive_data(data)
            moved = True
        for data in device.data_to_send():
            if data:
                sent.append(data)
                host.receive_data(data, now)
            moved = True
        if not moved:
            break
    return sent


@dataclass
class Timeline:
    """The vitals the simulator was given, by device time (each held ``HOLD`` s)."""

    starts: list[float]
    vitals: list[Vitals]

    def at(self, when: float) -> Vitals | None:
        """Vitals in force at device time ``when``, None outside the run."""
        i = bisect.bisect_right(self.starts, when) - 1
        if i < 0 or when > self.starts[-1] + HOLD:
            return None
        return self.vitals[i]


def generate(
    proto: Proto, scenario: str, t_start: float, t_end: float
) -> tuple[list[Chunk], list[Any], Timeline]:
    """Run the simulator against a live host codec over a loopback.

    Returns the device's output chunks (one per frame as the device codec queued them)
    with the vitals in force when each was sent, the events the live host decoded, and
    the timeline of vitals.
    """
    host, device = proto.host(), proto.device()
    host.start()
    device.start()
    script = SCENARIOS[scenario]
    chunks: list[Chunk] = []
    events: list[Any] = []
    timeline = Timeline([], [])
    previous = script.at(t_start)
    held = previous
    hold_until = -math.inf
    steps = round((t_end - t_start) / TICK)
    for i in range(steps + 1):
        t = t_start + i * TICK
        now = CLOCK0 + t
        if t >= hold_until:
            previous, held = held, script.at(t)
            hold_until = t + HOLD
            timeline.starts.append(now)
            timeline.vitals.append(held)
        device.advance(now, held)
        for data in _loopback(host, device, now):
            chunks.append(Chunk(now, data, held, previous))
        events.extend(host.events_received())
    return chunks, events, timeline


EXPECTED = {
    "SPO2": lambda v: v.spo2,
    "PR": lambda v: v.pr,
    "HR": lambda v: v.hr,
    "NIBP_SYS": lambda v: None if v.nibp is None else v.nibp[0],
    "NIBP_DIA": lambda v: None if v.nibp is None else v.nibp[1],
    "NIBP_MEAN": lambda v: None if v.nibp is None else v.nibp[2],
}
"""Decoded metric -> the Vitals value it must equal."""


def _decode_per_chunk(proto: Proto, chunks: list[Chunk]) -> list[list[Any]]:
    """Feed ``chunks`` one by one to a fresh host; the events after each one."""
    host = proto.host()
    host.start()
    host.data_to_send()
    out = []
    for chunk in chunks:
        host.receive_data(chunk.data, chunk.now)
        out.append(host.events_received())
    return out


def _observations(events: list[Any]) -> list[Observation]:
    return [e for e in events if isinstance(e, Observation)]


# -- (a) round trip -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "t_start", "t_end"),
    [("stable", 0.0, 12.0), ("desaturation", 40.0, 70.0), ("sensor_off", 24.0, 40.0)],
)
def test_conformance_round_trip(proto: Proto, scenario: str, t_start: float, t_end: float):
    chunks, live_events, timeline = generate(proto, scenario, t_start, t_end)
    assert chunks, f"{proto.name}: the simulator sent nothing in {t_end - t_start} s"
    per_chunk = _decode_per_chunk(proto, chunks)
    checked: dict[str, int] = {}
    sensor_off_seen = False
    mismatches = []
    for chunk, events in zip(chunks, per_chunk, strict=True):
        for event in events:
            if isinstance(event, DeviceStatus) and event.state == DeviceState.SENSOR_OFF:
                sensor_off_seen = True
            if not isinstance(event, Observation) or event.metric not in EXPECTED:
                continue
            if event.value is None and event.flags & SENSOR_OFF_FLAGS:
                sensor_off_seen = True
            # A frame fed just after a change may still show the previous vitals; a host
            # that decodes a frame late (sync hunting) dates it back to when it was sent.
            candidates = [chunk.vitals, chunk.previous, timeline.at(event.time)]
            want = {EXPECTED[event.metric](v) for v in candidates if v is not None}
            if event.value not in want:
                mismatches.append(f"t={chunk.now - CLOCK0:.2f} {event.metric}={event.value}, "
                                  f"vitals say {' or '.join(sorted(map(str, want)))}")
            checked[event.metric] = checked.get(event.metric, 0) + 1
    assert not mismatches, f"{proto.name}: decoded values differ from the vitals: " + "; ".join(
        mismatches[:8]
    )
    assert checked.get("SPO2", 0) + checked.get("PR", 0) + checked.get("HR", 0) > 0, (
        f"{proto.name}: no SPO2, PR or HR observation decoded from {len(chunks)} chunks"
    )
    if any(c.vitals.sensor_off for c in chunks):
        assert sensor_off_seen, (
            f"{proto.name}: sensor off in the vitals but no SENSOR_OFF-type flag "
            f"({sorted(SENSOR_OFF_FLAGS)}) nor DeviceStatus(SENSOR_OFF) was decoded"
        )
    # The live loopback host decoded the same observations as the replayed bytes.
    assert _observations(live_events) == _observations([e for es in per_chunk for e in es])


def test_conformance_sensor_off_values_are_none(proto: Proto):
    chunks, _, _ = generate(proto, "sensor_off", 30.0, 40.0)
    per_chunk = _decode_per_chunk(proto, chunks)
    off = [e for c, es in zip(chunks, per_chunk, strict=True)
           if c.vitals.sensor_off and c.previous.sensor_off
           for e in _observations(es) if e.metric in ("SPO2", "PR")]
    assert all(e.value is None for e in off), [e for e in off if e.value is not None][:3]


# -- (b) every split ------------------------------------------------------------------------


def _canonical(events: list[Any]) -> tuple[list[Any], dict[str, list[Any]]]:
    """Events in order, waveforms merged into one sample stream per metric.

    Waveform chunking may follow read sizes, so only the sample streams must agree.
    """
    others, waves = [], {}
    for e in events:
        if isinstance(e, Waveform):
            waves.setdefault(e.metric, []).extend(e.samples)
        else:
            others.append(e)
    return others, waves


def _feed(proto: Proto, stream: bytes, sizes: Iterator[int] | None) -> list[Any]:
    host = proto.host()
    host.start()
    host.data_to_send()
    events: list[Any] = []
    pos = 0
    while pos < len(stream):
        n = len(stream) if sizes is None else next(sizes)
        host.receive_data(stream[pos : pos + n], None)
        events.extend(host.events_received())
        pos += n
    host.receive_eof()
    events.extend(host.events_received())
    return events


def _random_sizes(seed: int, top: int) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.randint(1, top)


def test_conformance_every_split(proto: Proto):
    chunks, _, _ = generate(proto, "sensor_off", 26.0, 36.0)
    stream = b"".join(c.data for c in chunks)
    whole = _canonical(_feed(proto, stream, None))
    assert whole[0] or whole[1], f"{proto.name}: nothing decoded from {len(stream)} bytes"
    for seed, top in ((1, 7), (2, 64), (3, 300)):
        assert _canonical(_feed(proto, stream, _random_sizes(seed, top))) == whole, (
            f"{proto.name}: random chunks up to {top} bytes (seed {seed}) decode differently"
        )
    assert _canonical(_feed(proto, stream, iter(lambda: 1, 0))) == whole, (
        f"{proto.name}: byte-at-a-time feeding decodes differently"
    )


# -- (c) garbage injection ------------------------------------------------------------------


WARM_UP = 5.0
"""Device seconds before the first injection: a host may hunt for sync at first."""
SPACING = 3.0
"""Device seconds of clean frames between two injections (and at the end)."""
EXCUSE = 0.5
"""Frames sent this long after a damage may be lost with it (a wire format may resync only
on a unit that lasts that long)."""


def _garbage(rng: random.Random) -> bytes:
    return bytes(rng.randrange(256) for _ in range(rng.randint(3, 40)))


@dataclass
class GarbageRun:
    """A stream with garbage injected, and what the host made of it."""

    chunks: list[Chunk]
    reference: list[list[Any]]  # events per chunk without garbage
    got: list[Observation]
    injected: list[str]
    after: set[int]  # chunks that may be lost because garbage hit them or came just before
    before: set[int]  # chunks sent within a second before a damage

    def spans(self, indexes: set[int]) -> list[tuple[float, float]]:
        return [(self.chunks[j].now - TICK - 1e-6, self.chunks[j].now + 1e-6) for j in indexes]

    def expected(self, excused: set[int]) -> list[tuple[int, Observation]]:
        """Reference observations not produced by, nor dated within, ``excused`` chunks.

        The date matters because a host may decode a frame only when the next one arrives.
        """
        spans = self.spans(excused)
        return [(i, e) for i, es in enumerate(self.reference) if i not in excused
                for e in _observations(es) if not any(lo < e.time <= hi for lo, hi in spans)]

    def describe(self) -> str:
        return "; ".join(self.injected)


def _garbage_run(proto: Proto, seed: int) -> GarbageRun:
    chunks, _, _ = generate(proto, "stable", 0.0, 30.0)
    reference = _decode_per_chunk(proto, chunks)
    rng = random.Random(seed)
    host = proto.host()
    host.start()
    host.data_to_send()
    run = GarbageRun(chunks, reference, [], [], set(), set())
    last = -math.inf
    got: list[Any] = []
    end = chunks[-1].now
    for i, chunk in enumerate(chunks):
        data = chunk.data
        t = chunk.now - CLOCK0
        if t >= WARM_UP and chunk.now - last >= SPACING and chunk.now <= end - SPACING:
            where = rng.choice(("between", "inside", "none"))
            if where == "between":
                host.receive_data(_garbage(rng), chunk.now)
            elif where == "inside" and len(data) > 1:
                cut = rng.randrange(1, len(data))
                data = data[:cut] + _garbage(rng) + data[cut:]
            else:
                where = "none"
            if where != "none":
                run.injected.append(f"{where} frame {i} (t={t:.2f})")
                last = chunk.now
                lost = {i, i + 1} if where == "inside" else {i}
                lost |= {j for j in range(i, len(chunks)) if chunks[j].now <= chunk.now + EXCUSE}
                run.after |= lost
                run.before |= {j for j in range(i) if chunks[j].now >= chunk.now - 1.0}
        host.receive_data(data, chunk.now)
        got.extend(host.events_received())
    assert run.injected, "the seed injected nothing"
    assert host.frames_bad + host.bytes_discarded > 0, (
        f"{proto.name}: garbage injected ({run.describe()}), yet frames_bad and "
        "bytes_discarded stayed 0"
    )
    run.got = _observations(got)
    return run


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_conformance_garbage_resync(proto: Proto, seed: int):
    """Garbage never raises, is counted, and the decoder resyncs within one frame.

    Garbage goes either between two frames (before frame k: frame k, the first after it,
    may be lost) or inside frame k (frame k and the next one may be lost); frames sent
    within ``EXCUSE`` s of the damage may be lost too, for chunks shorter than the
    protocol's decoding unit. Every later observation must decode, in order.
    (Frames just *before* the garbage are checked by the next test.)
    """
    run = _garbage_run(proto, seed)
    have = run.got
    pos = 0
    for i, event in run.expected(run.after | run.before):
        while pos < len(have) and not _same_reading(have[pos], event):
            pos += 1
        assert pos < len(have), (
            f"{proto.name}: after garbage ({run.describe()}) the frame sent at "
            f"t={event.time - CLOCK0:.2f} (decoded with frame {i} at "
            f"t={run.chunks[i].now - CLOCK0:.2f}) was lost: {event.metric}={event.value}"
        )
        pos += 1


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_conformance_garbage_spares_earlier_frames(proto: Proto, seed: int):
    """Good frames received just before the garbage are not thrown away with it."""
    run = _garbage_run(proto, seed)
    only_before = run.before - run.after
    spans = run.spans(only_before)
    lost = [e for i, e in run.expected(run.after)
            if i in only_before or any(lo < e.time <= hi for lo, hi in spans)
            if not any(_same_reading(h, e) for h in run.got)]
    assert not lost, (
        f"{proto.name}: garbage ({run.describe()}) destroyed good frames received before "
        "it: " + ", ".join(f"{e.metric}={e.value} sent at t={e.time - CLOCK0:.2f}"
                           for e in lost[:6])
    )


def _same_reading(a: Observation, b: Observation) -> bool:
    """Same reading; the time may differ a little where a host dates frames by arrival."""
    return ((a.metric, a.value, a.unit, a.flags) == (b.metric, b.value, b.unit, b.flags)
            and abs(a.time - b.time) <= 1.0)


# -- (d) pure noise -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_conformance_random_bytes_never_raise(proto: Proto, seed: int):
    rng = random.Random(seed)
    noise = rng.randbytes(20_000)
    host = proto.host()
    host.start()
    pos = 0
    while pos < len(noise):
        n = rng.randint(1, 512)
        host.receive_data(noise[pos : pos + n], CLOCK0 + pos / 1000)
        host.events_received()
        host.data_to_send()
        pos += n
    host.receive_eof()
    host.events_received()


# -- (e) lost bytes -------------------------------------------------------------------------

DELETION_SCENARIO = ("sensor_off", 50.0, 110.0)
"""Missing values (a sensor off), then the sensor back on and values that vary."""
DELETION_SEEDS = range(16)
DELETION_WARM_UP = 4.0
"""Device seconds before the first loss: a host may hunt for sync at first."""
LOST_MAX = 16
"""Longest run of bytes lost at once (a USB-serial buffer overrun, a cable wiggle)."""

VALID_RANGE = {"SPO2": (0.0, 100.0), "PR": (0.0, 350.0), "HR": (0.0, 350.0),
               "NIBP_SYS": (0.0, 400.0), "NIBP_DIA": (0.0, 400.0), "NIBP_MEAN": (0.0, 400.0)}
"""What a device can measure, for losses a wire format cannot see (:func:`_blind_spot`)."""


@dataclass
class Deletion:
    """A run of ``size`` bytes lost at ``pos`` of the stream, in chunks ``chunk``..``last``."""

    pos: int
    size: int
    chunk: int
    last: int

    def describe(self, chunks: list[Chunk]) -> str:
        return f"{self.size} byte(s) at {self.pos} (t={chunks[self.chunk].now - CLOCK0:.2f})"


@dataclass
class Clean:
    """A protocol's undamaged stream and what a fresh host decodes from it."""

    chunks: list[Chunk]
    stream: bytes
    per_chunk: list[list[Any]]
    bad_per_chunk: list[int]  # frames_bad after each chunk
    values: dict[str, set[float]]  # every value decoded, per metric
    samples: dict[str, list[float | None]]  # every waveform sample, per metric, in order
    sample_index: dict[str, dict[float, list[int]]]  # sample value -> its places
    spacing: float  # device seconds between two losses
    host: HostCodec  # the host that decoded it, in its final state


_CLEAN: dict[str, Clean] = {}


def _clean(proto: Proto) -> Clean:
    key = f"{proto.name}{proto.host_options}{proto.device_options}"
    if key in _CLEAN:
        return _CLEAN[key]
    chunks, _, _ = generate(proto, *DELETION_SCENARIO)
    host = proto.host()
    host.start()
    host.data_to_send()
    per_chunk: list[list[Any]] = []
    bad: list[int] = []
    for chunk in chunks:
        host.receive_data(chunk.data, chunk.now)
        per_chunk.append(host.events_received())
        bad.append(host.frames_bad)
    values: dict[str, set[float]] = {}
    samples: dict[str, list[float | None]] = {}
    decoded_at: list[float] = []
    for chunk, events in zip(chunks, per_chunk, strict=True):
        for e in events:
            if isinstance(e, Observation):
                decoded_at.append(chunk.now)
                if e.value is not None:
                    values.setdefault(e.metric, set()).add(e.value)
            elif isinstance(e, Waveform):
                samples.setdefault(e.metric, []).extend(e.samples)
    assert values, f"{proto.name}: no value decoded from the undamaged stream"
    index: dict[str, dict[float, list[int]]] = {}
    for metric, stream in samples.items():
        where = index.setdefault(metric, {})
        for k, s in enumerate(stream):
            if s is not None:
                where.setdefault(s, []).append(k)
    # Far enough apart for an observation to be decoded between two losses.
    period = max(b - a for a, b in zip(decoded_at, decoded_at[1:], strict=False))
    clean = Clean(chunks, b"".join(c.data for c in chunks), per_chunk, bad, values, samples,
                  index, 2 * period + 0.5, host)
    _CLEAN[key] = clean
    return clean


def _plan_deletions(clean: Clean, seed: int) -> list[Deletion]:
    """Losses ``clean.spacing`` apart, at random places: single bytes and runs in turn."""
    rng = random.Random(seed)
    chunks = clean.chunks
    starts = [0]
    for c in chunks:
        starts.append(starts[-1] + len(c.data))
    out: list[Deletion] = []
    t_next = chunks[0].now + DELETION_WARM_UP + rng.uniform(0, clean.spacing)
    end = chunks[-1].now - clean.spacing
    for i, chunk in enumerate(chunks):
        if chunk.now < t_next or chunk.now > end or not chunk.data:
            continue
        size = 1 if len(out) % 2 == 0 else rng.randint(2, LOST_MAX)
        pos = starts[i] + rng.randrange(len(chunk.data))
        last = bisect.bisect_right(starts, pos + size - 1) - 1
        if pos + size > starts[-1] or chunks[last].now > end:
            break
        out.append(Deletion(pos, size, i, last))
        t_next = chunks[last].now + clean.spacing
    return out


def _blind_spot(clean: Clean, d: Deletion) -> BlindSpot | None:
    """Why ``d`` may go uncounted, or None: it must raise ``frames_bad``.

    The protocol says (``HostCodec.lost_bytes_blind_spot``, asked of the host that decoded
    the undamaged stream). A loss after which the host decodes exactly what it decodes from
    the undamaged stream (a lost LF of a CR LF) need not be counted either; see the test.
    """
    return clean.host.lost_bytes_blind_spot(clean.stream, d.pos, d.size)


def _sample_run_found(clean: Clean, wave: Waveform) -> bool:
    """The waveform's samples are a contiguous run of the undamaged ones (None: a gap)."""
    ref = clean.samples.get(wave.metric, [])
    first = next((j for j, s in enumerate(wave.samples) if s is not None), None)
    if first is None:
        return True
    for k in clean.sample_index.get(wave.metric, {}).get(wave.samples[first], []):
        start = k - first
        if start < 0 or start + len(wave.samples) > len(ref):
            continue
        if all(s is None or s == ref[start + j] for j, s in enumerate(wave.samples)):
            return True
    return False


def _readings(events: list[list[Any]]) -> list[Any]:
    """What a run of chunks decoded: observations and samples, without times."""
    out: list[Any] = []
    for es in events:
        for e in es:
            if isinstance(e, Observation):
                out.append((e.metric, e.value, e.flags))
            elif isinstance(e, Waveform):
                out.append((e.metric, e.samples))
    return out


@pytest.mark.parametrize("seed", DELETION_SEEDS)
def test_conformance_lost_bytes(proto: Proto, seed: int):
    """Bytes lost from the stream never give a value the device did not send.

    Single bytes and runs of 2 to ``LOST_MAX`` bytes are deleted, far enough apart that
    something is decoded between two losses, and the damaged stream is fed in pieces of a
    size that varies with the seed (each piece read at its chunk's time). Then:

    - the host does not raise;
    - every value it decodes is one the undamaged stream gave for that metric, and every
      waveform a contiguous run of the undamaged samples (lost samples as None);
    - each loss raises ``frames_bad``, unless nothing decoded changed, or it fell in a
      documented blind spot of the wire format (:func:`_blind_spot`; a loss inside a
      value without a checksum may change it, within :data:`VALID_RANGE`);
    - after each loss, every metric decoded there from the undamaged stream is decoded.
    """
    clean = _clean(proto)
    chunks = clean.chunks
    deletions = _plan_deletions(clean, seed)
    assert len(deletions) >= 2, "the seed planned too few deletions"
    keep = bytearray(b"\x01") * len(clean.stream)
    for d in deletions:
        keep[d.pos : d.pos + d.size] = bytes(d.size)
    sizes = _random_sizes(seed, (1, 3, 7, 64, 300, 4096)[seed % 6])
    host = proto.host()
    host.start()
    host.data_to_send()
    per_chunk: list[list[Any]] = []
    bad_before: list[int] = []
    pos = 0
    for chunk in chunks:
        mask = keep[pos : pos + len(chunk.data)]
        data = bytes(b for b, k in zip(chunk.data, mask, strict=True) if k)
        pos += len(chunk.data)
        bad_before.append(host.frames_bad)
        events: list[Any] = []
        cut = 0
        while cut < len(data):
            n = next(sizes)
            host.receive_data(data[cut : cut + n], chunk.now)
            events.extend(host.events_received())
            cut += n
        per_chunk.append(events)
    bad_before.append(host.frames_bad)

    bounds = [d.chunk for d in deletions] + [len(chunks)]
    invented, uncounted, silent = [], [], []
    for k, d in enumerate(deletions):
        lo, hi = bounds[k], bounds[k + 1]
        blind = _blind_spot(clean, d)
        where = f"after {d.describe(chunks)}"
        for i in range(lo, hi):
            for e in per_chunk[i]:
                if isinstance(e, Observation) and e.value is not None and \
                        e.value not in clean.values.get(e.metric, set()):
                    bottom, top = VALID_RANGE.get(e.metric, (math.inf, -math.inf))
                    if not (blind and blind.values and bottom <= e.value <= top):
                        invented.append(f"{e.metric}={e.value} {where}")
                elif isinstance(e, Waveform) and not _sample_run_found(clean, e):
                    invented.append(f"{e.metric} samples {e.samples} {where}")
        rise = bad_before[hi] - bad_before[lo]
        base = clean.bad_per_chunk[hi - 1] - (clean.bad_per_chunk[lo - 1] if lo else 0)
        changed = _readings(per_chunk[lo:hi]) != _readings(clean.per_chunk[lo:hi])
        if rise <= base and changed and blind is None:
            uncounted.append(d.describe(chunks))
        # Metrics decoded from the clean chunks after the loss (a unit may end a chunk
        # later, and a host may decode a unit only when the next one arrives).
        want = {e.metric for es in clean.per_chunk[d.last + 2 : hi] for e in _observations(es)}
        have = {e.metric for es in per_chunk[lo:hi] for e in _observations(es)}
        if want - have:
            silent.append(f"{sorted(want - have)} {where}")
    assert _readings(per_chunk[: bounds[0]]) == _readings(clean.per_chunk[: bounds[0]])
    assert not invented, (
        f"{proto.name}: bytes lost gave values the device never sent: "
        + "; ".join(invented[:6])
    )
    assert not uncounted, (
        f"{proto.name}: bytes lost without frames_bad rising: " + "; ".join(uncounted[:6])
    )
    assert not silent, f"{proto.name}: decoding did not resume: " + "; ".join(silent[:6])


# -- (f) end to end over a pty, (g) unplug and replug ---------------------------------------


def _skip_unless_serial(proto: Proto) -> None:
    if not proto.over_serial:
        cls = drivers.codec_class(proto.name)
        pytest.skip(f"{proto.name} runs over {cls.transport!r}, not a serial "
                    "line: the pty tests do not apply")


def _scenario_values(metric: str, t_max: float) -> set[Any]:
    script = SCENARIOS["stable"]
    return {EXPECTED[metric](script.at(k * 0.05)) for k in range(int(t_max / 0.05) + 2)}


async def _first_values(device: drivers.Device, limit: float, count: int = 2) -> list[Any]:
    """Read until ``count`` observations with a value arrived."""
    found: list[Observation] = []

    async def read() -> None:
        async for event in device:
            if isinstance(event, Observation) and event.value is not None:
                found.append(event)
                if len(found) >= count:
                    return

    await asyncio.wait_for(read(), limit)
    return found


async def _start_simulator(proto: Proto, port: PtyPort) -> asyncio.Task[None]:
    return asyncio.create_task(
        run_scenario(proto.device(), SCENARIOS["stable"], port, tick=0.05)
    )


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def test_conformance_pty_end_to_end(proto: Proto, pty_port: PtyPort):
    _skip_unless_serial(proto)
    timeout = proto.first_value * 1000 * MS
    loop = asyncio.get_running_loop()
    sim = await _start_simulator(proto, pty_port)
    t0 = loop.time()
    try:
        opts = proto.host_options
        async with await drivers.open_device(pty_port.path, proto.name, **opts) as dev:
            found = await _first_values(dev, timeout)
    finally:
        await _stop(sim)
    elapsed = loop.time() - t0
    for obs in found:
        if obs.metric in EXPECTED:
            assert obs.value in _scenario_values(obs.metric, elapsed + 1), obs


async def test_conformance_unplug_replug(proto: Proto, pty_port: PtyPort):
    _skip_unless_serial(proto)
    timeout = proto.first_value * 1000 * MS
    assert pty_port.link and pty_port.path == pty_port.link
    sim = await _start_simulator(proto, pty_port)
    try:
        dev = await drivers.open_device(pty_port.path, proto.name, **proto.host_options)
        async with dev:
            await _first_values(dev, timeout, count=1)
            # run_scenario replugs a port whose vitals say "connected": stop it first.
            await _stop(sim)
            pty_port.unplug()

            async def drain() -> None:
                async for _ in dev:
                    pass

            with pytest.raises(DeviceDisconnected):
                await asyncio.wait_for(drain(), 2000 * MS)
        pty_port.plug()
        sim = await _start_simulator(proto, pty_port)
        opts = proto.host_options
        async with await drivers.open_device(pty_port.path, proto.name, **opts) as dev2:
            assert await _first_values(dev2, timeout, count=1)
    finally:
        await _stop(sim)


def test_conformance_registries_cover_every_protocol():
    both = set(drivers.PROTOCOLS) & set(simulators.DEVICE_CODECS)
    assert both, "no protocol has both a driver and a simulator"
    covered = {p.values[0][0] for p in _params()}
    assert covered == both
