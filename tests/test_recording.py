"""Raw recordings and the pacer: file format, timing, record from a pty, replay byte-exact."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import pathlib

import pytest

import drivers
from drivers.transport import open_transport
from monitor.domain.models import Observation
from simulators import device_codec
from simulators.pacer import Pacer
from simulators.port import PtyPort, run_scenario
from simulators.recording import (
    RAW_FORMAT,
    RawChunk,
    RawRecorder,
    configure_record_parser,
    read_raw,
    read_raw_header,
    record,
    replay_options,
    replay_raw,
    run_replay,
)
from simulators.scenarios import SCENARIOS
from tests.conftest import MS

# -- file format --------------------------------------------------------------------------------


def test_raw_recorder_round_trip(tmp_path: pathlib.Path):
    path = tmp_path / "x.raw.jsonl"
    chunks = [b"\x00\x01hello", b"\r\n", bytes(range(256))]
    with RawRecorder(path, "masimo") as rec:
        for i, data in enumerate(chunks):
            rec.write(data, t=100.0 + i * 0.5, started=1_700_000_000.25)
        rec.write(b"")  # empty reads are not chunks
    assert rec.chunks == 3 and rec.bytes == sum(map(len, chunks))
    header = read_raw_header(path)
    assert header == {"format": RAW_FORMAT, "version": 1, "protocol": "masimo",
                      "started": 1_700_000_000.25, "direction": "device"}
    assert list(read_raw(path)) == [RawChunk(i * 0.5, d) for i, d in enumerate(chunks)]
    first = path.read_text().splitlines()[1]
    assert json.loads(first) == {"t": 0.0, "hex": "000168656c6c6f"}


def test_raw_recorder_empty_recording_has_a_header(tmp_path: pathlib.Path):
    path = tmp_path / "empty.raw.jsonl"
    RawRecorder(path, "masimo").close()
    assert read_raw_header(path)["protocol"] == "masimo"
    assert list(read_raw(path)) == []


def test_read_raw_skips_a_truncated_last_line(tmp_path: pathlib.Path):
    path = tmp_path / "cut.raw.jsonl"
    with RawRecorder(path, "masimo") as rec:
        rec.write(b"ab", t=0.0)
        rec.write(b"cd", t=1.0)
    path.write_text(path.read_text() + '{"t": 2.0, "hex": "65')
    assert [c.data for c in read_raw(path)] == [b"ab", b"cd"]


def test_read_raw_rejects_bad_files(tmp_path: pathlib.Path):
    bad = tmp_path / "bad.raw.jsonl"
    bad.write_text('{"format": "something-else", "version": 1}\n')
    with pytest.raises(ValueError, match="not a spu-monitor-raw"):
        list(read_raw(bad))
    bad.write_text('{"format": "spu-monitor-raw", "version": 99}\n')
    with pytest.raises(ValueError, match="version"):
        read_raw_header(bad)
    bad.write_text('{"format": "spu-monitor-raw", "version": 1}\n{"t": 0, "hex": "zz"}\n'
                   '{"t": 1, "hex": "00"}\n')
    with pytest.raises(ValueError, match="line 2"):
        list(read_raw(bad))


# -- pacer --------------------------------------------------------------------------------------


async def _collect(pacer: Pacer, limit: int | None = None) -> list:
    out = []
    async for item in pacer:
        out.append(item)
        if limit is not None and len(out) >= limit:
            break
    return out


async def test_pacer_speed_zero_keeps_order_and_never_sleeps():
    items = [(t, f"item{t}") for t in (0.0, 1000.0, 1000.0, 5000.0, 4000.0, 9000.0)]
    got = await asyncio.wait_for(_collect(Pacer(items, speed=0)), 500 * MS)
    assert got == items


async def test_pacer_paces_in_order_and_never_early():
    loop = asyncio.get_running_loop()
    items = [RawChunk(i * 0.02, bytes([i])) for i in range(10)]
    speed = 4.0
    start = loop.time()
    seen = []
    async for item in Pacer(items, speed=speed):
        seen.append((loop.time() - start, item))
    assert [item for _, item in seen] == items
    times = [t for t, _ in seen]
    assert times == sorted(times)
    for t, item in seen:
        assert t >= item.t / speed - 0.002, (t, item)


async def test_pacer_max_gap_shortens_pauses():
    items = [(0.0, "a"), (3600.0, "b"), (7200.0, "c")]
    got = await asyncio.wait_for(_collect(Pacer(items, speed=1.0, max_gap=0.001)), 2000 * MS)
    assert [x for _, x in got] == ["a", "b", "c"]


async def test_pacer_loop_repeats_sequences_and_generators():
    items = [(0.0, 1), (0.5, 2), (1.0, 3)]
    got = await _collect(Pacer(items, speed=0, loop=True), limit=8)
    assert [x for _, x in got] == [1, 2, 3, 1, 2, 3, 1, 2]
    got = await _collect(Pacer((i for i in items), speed=0, loop=True), limit=7)
    assert [x for _, x in got] == [1, 2, 3, 1, 2, 3, 1]
    assert await _collect(Pacer([], speed=0, loop=True)) == []


def test_pacer_rejects_negative_speed():
    with pytest.raises(ValueError):
        Pacer([], speed=-1)


# -- record from a pty, replay into another ------------------------------------------------------


class TappedPty(PtyPort):
    """A pty that keeps a copy of everything the simulator wrote."""

    def __init__(self, link: str | None = None) -> None:
        self.sent = bytearray()
        super().__init__(link)

    def write(self, data: bytes) -> None:
        before = self.written
        super().write(data)
        self.sent += data[: self.written - before]


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


def _decode(data: bytes) -> list[tuple[str, float | None, frozenset[str]]]:
    host = drivers.codec("masimo")
    host.receive_data(data)
    return [(e.metric, e.value, e.flags) for e in host.events_received()
            if isinstance(e, Observation)]


@pytest.fixture
async def masimo_recording(tmp_path: pathlib.Path):
    """Record ~3 s of a simulated Masimo from a pty; returns (path, bytes the sim sent)."""
    source = TappedPty()
    sim = asyncio.create_task(
        run_scenario(device_codec("masimo"), SCENARIOS["sensor_off"], source, speed=15.0,
                     tick=0.02)
    )
    out = tmp_path / "masimo.raw.jsonl"
    status = io.StringIO()
    try:
        rc = await record("masimo", source.path, str(out), duration=2.5, status_every=1.0,
                          stream=status)
    finally:
        await _stop(sim)
        source.close()
    assert rc == 0, status.getvalue()
    assert "frames ok" in status.getvalue()
    return out, bytes(source.sent), status.getvalue()


async def test_record_from_pty_is_byte_exact(masimo_recording):
    path, sent, status = masimo_recording
    recorded = b"".join(c.data for c in read_raw(path))
    assert len(recorded) > 200, status
    assert recorded in sent  # a contiguous run of what the device wrote, nothing added
    chunks = list(read_raw(path))
    assert [c.t for c in chunks] == sorted(c.t for c in chunks)
    assert read_raw_header(path)["protocol"] == "masimo"
    assert "(done)" in status


async def _read_all(reader: asyncio.StreamReader, n: int, limit: float) -> bytes:
    data = bytearray()
    while len(data) < n:
        data += await asyncio.wait_for(reader.read(4096), limit)
    return bytes(data)


async def test_replay_raw_is_byte_exact_over_a_pty(masimo_recording, pty_port: PtyPort):
    path, _, _ = masimo_recording
    recorded = b"".join(c.data for c in read_raw(path))
    reader, writer = await open_transport(pty_port.path, drivers.codec_class("masimo")
                                          .serial_settings)
    try:
        written = await replay_raw(path, pty_port, speed=0)
        got = await _read_all(reader, len(recorded), 2000 * MS)
    finally:
        writer.close()
    assert written == len(recorded)
    assert got == recorded


async def test_replay_raw_driver_decodes_the_same_observations(masimo_recording,
                                                               pty_port: PtyPort):
    path, _, _ = masimo_recording
    recorded = b"".join(c.data for c in read_raw(path))
    want = _decode(recorded)
    assert want, "the recording holds no observations"
    got: list = []
    async with await drivers.open_device(pty_port.path, "masimo") as device:
        replay = asyncio.create_task(replay_raw(path, pty_port, speed=8.0))

        async def read() -> None:
            async for event in device:
                if isinstance(event, Observation):
                    got.append((event.metric, event.value, event.flags))
                    if len(got) >= len(want):
                        return

        try:
            await asyncio.wait_for(read(), 5000 * MS)
        finally:
            await _stop(replay)
    assert got == want


async def test_replay_raw_loops(tmp_path: pathlib.Path, pty_port: PtyPort):
    path = tmp_path / "tiny.raw.jsonl"
    with RawRecorder(path, "masimo") as rec:
        rec.write(b"abc", t=0.0)
        rec.write(b"def", t=0.01)
    reader, writer = await open_transport(pty_port.path, drivers.codec_class("masimo")
                                          .serial_settings)
    replay = asyncio.create_task(replay_raw(path, pty_port, speed=1.0, loop=True))
    try:
        got = await _read_all(reader, 18, 2000 * MS)
    finally:
        await _stop(replay)
        writer.close()
    assert got.startswith(b"abcdef" * 3)


async def test_record_reports_a_missing_port(tmp_path: pathlib.Path):
    err = io.StringIO()
    rc = await record("masimo", str(tmp_path / "no-such-tty"), str(tmp_path / "x.raw.jsonl"),
                      duration=1.0, stream=err)
    assert rc == 1
    assert "cannot open" in err.getvalue()


async def test_record_stops_on_unplug_and_keeps_the_file(tmp_path: pathlib.Path):
    source = PtyPort()
    sim = asyncio.create_task(
        run_scenario(device_codec("masimo"), SCENARIOS["stable"], source, speed=20.0, tick=0.02)
    )
    out = tmp_path / "unplugged.raw.jsonl"
    err = io.StringIO()
    task = asyncio.create_task(record("masimo", source.path, str(out), stream=err))
    try:
        await asyncio.sleep(0.5)
        await _stop(sim)
        source.unplug()
        rc = await asyncio.wait_for(task, 2000 * MS)
    finally:
        source.close()
    assert rc == 1, err.getvalue()
    assert "disconnected" in err.getvalue() or "closed" in err.getvalue()
    assert read_raw_header(out)["protocol"] == "masimo"
    assert _decode(b"".join(c.data for c in read_raw(out)))


async def test_record_answers_a_device_that_talks_only_when_asked(tmp_path: pathlib.Path):
    # GE S/5 sends nothing until the host codec's requests reach it through the shell.
    source = PtyPort()
    sim = asyncio.create_task(
        run_scenario(device_codec("ge_s5"), SCENARIOS["stable"], source, tick=0.02))
    out = tmp_path / "ge.raw.jsonl"
    err = io.StringIO()
    try:
        rc = await record("ge_s5", source.path, str(out), duration=1.5, stream=err)
    finally:
        await _stop(sim)
        source.close()
    assert rc == 0, err.getvalue()
    host = drivers.codec("ge_s5")
    host.receive_data(b"".join(c.data for c in read_raw(out)))
    assert host.frames_ok > 0 and host.frames_bad == 0, err.getvalue()
    assert "(19200 8E1, RTS/CTS)" in err.getvalue()


async def test_record_unknown_protocol(tmp_path: pathlib.Path):
    err = io.StringIO()
    rc = await record("nope", str(tmp_path / "tty"), str(tmp_path / "x.raw.jsonl"), stream=err)
    assert rc == 1 and "unknown protocol 'nope'" in err.getvalue()
    assert not (tmp_path / "x.raw.jsonl").exists()


async def test_record_cancelled_closes_the_file(tmp_path: pathlib.Path, pty_port: PtyPort):
    out = tmp_path / "cancelled.raw.jsonl"
    task = asyncio.create_task(record("masimo", pty_port.path, str(out),
                                      stream=io.StringIO()))
    await asyncio.sleep(0.2)
    pty_port.write(b"hello\r\n")
    await asyncio.sleep(0.2)
    await _stop(task)
    assert [c.data for c in read_raw(out)] == [b"hello\r\n"]


# -- CLI glue -----------------------------------------------------------------------------------


def test_configure_record_parser():
    p = configure_record_parser(argparse.ArgumentParser())
    args = p.parse_args(["--protocol", "masimo", "--port", "/dev/ttyUSB0", "--out", "a.raw.jsonl",
                         "--duration", "60"])
    assert (args.protocol, args.port, args.out, args.duration) == (
        "masimo", "/dev/ttyUSB0", "a.raw.jsonl", 60.0)
    assert p.parse_args(["--protocol", "m", "--port", "p", "--out", "o"]).duration is None


def test_replay_options_share_speed_and_loop():
    p = replay_options(argparse.ArgumentParser())
    args = p.parse_args(["--replay", "x.raw.jsonl", "--speed", "0", "--loop"])
    assert (args.replay, args.speed, args.loop) == ("x.raw.jsonl", 0.0, True)
    q = argparse.ArgumentParser()
    q.add_argument("--speed", type=float, default=2.0)
    replay_options(q)  # no clash with simulate's own --speed
    assert q.parse_args([]).speed == 2.0 and q.parse_args([]).replay is None


async def test_run_replay(tmp_path: pathlib.Path, pty_port: PtyPort):
    path = tmp_path / "r.raw.jsonl"
    with RawRecorder(path, "masimo") as rec:
        rec.write(b"0123456789", t=0.0)
    reader, writer = await open_transport(pty_port.path, drivers.codec_class("masimo")
                                          .serial_settings)
    try:
        args = argparse.Namespace(replay=str(path), speed=0.0, loop=False)
        await run_replay(args, pty_port)
        assert await _read_all(reader, 10, 2000 * MS) == b"0123456789"
    finally:
        writer.close()
