"""Full disclosure: waveforms cut into blocks, stored and read back sample for sample; a
real GE S/5 stream through the whole path; a real MIT-BIH ECG within the size budget."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import httpx
import pytest

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from monitor.domain.models import Waveform
from monitor.live.bus import Bus
from monitor.live.disclosure import DisclosureWriter
from monitor.live.views import SessionChanged
from monitor.storage import disclosure
from monitor.storage.database import Store
from simulators.ge_s5 import GeS5DeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import MS, recordings_dir
from tests.liveserver import LiveServer

T0 = 1_700_000_000.0


def chunks(metric: str, rate: float, values: list[float | None], start: float,
           size: int) -> list[Waveform]:
    return [Waveform("dev", metric, start + i / rate, rate, tuple(values[i:i + size]), "mV",
                     bed_id="bed-1") for i in range(0, len(values), size)]


@pytest.fixture
async def store(tmp_path: Path):
    s = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    yield s
    await s.close()


async def _write(store: Store, events: list[Waveform | SessionChanged]) -> DisclosureWriter:
    writer = DisclosureWriter(Bus(), store)
    for event in events:
        writer.feed(event)
    writer.close_all()
    await writer.flush()
    return writer


async def test_blocks_read_back_sample_for_sample_with_gaps(store: Store) -> None:
    values = [round(math.sin(i / 7) * 1.5, 2) for i in range(7000)]
    values[100:130] = [None] * 30  # a gap the device reported
    first = chunks("ECG", 300.0, values[:4000], T0, 25)
    # Chunk times jitter with the link (tens of ms): still one block on the sample clock.
    first = [Waveform(w.device_id, w.metric, w.time + (0.0, 0.03, -0.04)[i % 3],
                      w.sample_rate, w.samples, w.unit, bed_id=w.bed_id)
             for i, w in enumerate(first)]
    # The device goes silent for 2 s, then resumes: a new block, not invented samples.
    later = chunks("ECG", 300.0, values[4000:], T0 + 4000 / 300 + 2.0, 25)
    session = SessionChanged("bed-1", T0, "admit", {"id": 7})
    writer = await _write(store, [session, *first, *later])
    assert writer.blocks_written >= 3
    got = await disclosure.window(store, "bed-1", T0 - 1, T0 + 60)
    assert [len(s["samples"]) for s in got] == [4000, 3000]
    assert got[0]["samples"] == values[:4000] and got[1]["samples"] == values[4000:]
    assert got[1]["time"] == pytest.approx(T0 + 4000 / 300 + 2.0)
    # A window cuts blocks at sample boundaries.
    part = await disclosure.window(store, "bed-1", T0 + 10.0, T0 + 11.0)
    assert part[0]["samples"] == values[3000:3300]
    assert part[0]["time"] == pytest.approx(T0 + 10.0)
    used = await disclosure.session_bytes(store, 7)
    assert used["metrics"]["ECG"]["samples"] == 7000 and used["bytes"] > 0


async def test_a_window_includes_the_seconds_not_written_yet(store: Store) -> None:
    writer = DisclosureWriter(Bus(), store)
    values = [float(i % 50) for i in range(4500)]  # 15 s at 300 Hz: one block and a half
    for w in chunks("ECG", 300.0, values, T0, 30):
        writer.feed(w)
    await writer.flush()  # the full block is written; 5 s are still open in memory
    stored = await disclosure.window(store, "bed-1", T0, T0 + 15)
    assert [len(s["samples"]) for s in stored] == [3000]
    merged = disclosure.merge_segments(stored + writer.recent("bed-1", T0, T0 + 15))
    assert len(merged) == 1 and merged[0]["samples"] == values
    writer._open[("dev", "ECG")].grown_at -= 10  # the monitor went silent
    writer.close_idle()
    await writer.flush()
    assert (await disclosure.window(store, "bed-1", T0, T0 + 15))[0]["samples"] == values


async def test_retention_deletes_old_blocks(store: Store) -> None:
    await _write(store, chunks("PLETH", 100.0, [1.0] * 2000, T0, 100))
    assert await disclosure.delete_before(store, T0 + 5) == 0
    assert await disclosure.delete_before(store, T0 + 10.5) == 1
    assert [len(s["samples"]) for s in await disclosure.window(store, "bed-1", T0, T0 + 30)] \
        == [1000]


async def test_real_ecg_is_stored_bit_exact(store: Store) -> None:
    # The size budget (<= 3 MB per 4-hour session, ECG 300 Hz + pleth 100 Hz as a GE
    # monitor sends them) is checked on these records in test_waveform_codec.
    wfdb = pytest.importorskip("wfdb")
    record_path = recordings_dir() / "mitdb" / "100"
    if not record_path.with_suffix(".hea").exists():
        pytest.skip(f"real recordings not found at {recordings_dir()}")
    record = wfdb.rdrecord(str(record_path), sampto=360 * 600, physical=False)
    # As a driver delivers them: mV in the device's 5 uV steps (200 adu/mV).
    ecg = [int(v) / 200 for v in record.d_signal[:, 0]]
    writer = await _write(store, chunks("ECG", 360.0, ecg, T0, 36))
    got = await disclosure.window(store, "bed-1", T0, T0 + 600)
    assert len(got) == 1 and got[0]["samples"] == ecg
    assert writer.bytes_written < len(ecg)  # well under a byte a sample


async def test_a_ge_stream_is_stored_as_the_driver_decoded_it(tmp_path: Path) -> None:
    port = PtyPort(link=str(tmp_path / "ttyGE"))
    sim = asyncio.create_task(run_scenario(GeS5DeviceCodec(), SCENARIOS["stable"], port,
                                           patient=Patient()))
    unit = UnitConfig(name="disclosure", beds=[BedConfig(id="bed-1", devices=[
        DeviceConfig(id="bed-1-ge", protocol="ge_s5", port=port.path)])])
    live = LiveServer(unit, db=str(tmp_path / "ge.db"), reconnect_max_s=0.5)
    await asyncio.to_thread(live.start)
    try:
        service = live.app.state.service
        tap = service.bus.subscribe(Waveform, name="test-tap")
        before = service.disclosure.blocks_written
        async with httpx.AsyncClient(base_url=live.url, headers=live.headers) as http:
            async with asyncio.timeout(60_000 * MS):  # two 10-s blocks of ECG and pleth
                while service.disclosure.blocks_written < before + 4:
                    await asyncio.sleep(0.5)
            sent = [w for w in tap.drain() if w.metric == "ECG"]
            assert sent, "the GE simulator sends ECG"
            since, until = sent[0].time - 1, sent[-1].time + 1
            r = await http.get("/api/beds/bed-1/waveforms",
                               params={"since": since, "until": until, "metric": "ECG"})
            assert r.status_code == 200, r.text
            segments = r.json()["segments"]
            assert len(segments) == 1, "one continuous stream, one segment"
            stored = segments[0]["samples"]
            expected = [v for w in sent for v in w.samples]
            # Stored up to the last block written: every sample the driver decoded is
            # there, in order, none changed, none added.
            start = next(i for i in range(len(stored))
                         if stored[i:i + 300] == expected[:300])
            overlap = min(len(expected), len(stored) - start)
            assert overlap >= 3000
            assert stored[start:start + overlap] == expected[:overlap]
            r = await http.get("/api/beds/bed-1/waveforms",
                               params={"since": until, "until": since})
            assert r.status_code == 422
    finally:
        await asyncio.to_thread(live.stop)
        sim.cancel()
        await asyncio.gather(sim, return_exceptions=True)
        port.close()
