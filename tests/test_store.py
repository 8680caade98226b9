"""Storage on a real SQLite file: migrations, WAL, batched writes, queries."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.domain.errors import StoreError
from monitor.domain.models import DeviceStatus, Flag, Observation
from monitor.live.bus import Bus
from monitor.live.writer import StoreWriter
from monitor.storage.database import Store


@pytest.fixture
async def store(tmp_path: Path):
    s = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}")
    yield s
    await s.close()


async def test_store_schema_comes_from_migrations(store: Store) -> None:
    async with store.engine.connect() as conn:
        version = (await conn.execute(text("select version_num from alembic_version"))).scalar()
        mode = (await conn.execute(text("pragma journal_mode"))).scalar()
    assert version is not None
    assert mode == "wal"


async def test_store_reopen_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    s = await Store.open(url)
    await s.write_batch([Observation.of("SPO2", 95, 10.0, "d1", bed_id="bed-1")])
    await s.close()
    s = await Store.open(url)
    assert [o.value for o in await s.recent_observations("bed-1")] == [95]
    await s.close()


async def test_store_round_trips_values_flags_and_none(store: Store) -> None:
    rows = [
        Observation.of("SPO2", None, 1.0, "d1", {Flag.SENSOR_OFF, Flag.INVALID}, "bed-1"),
        Observation.of("PR", 71, 2.0, "d1", bed_id="bed-1"),
        Observation.of("SPO2", 99, 3.0, "d2", bed_id="bed-2"),
    ]
    await store.write_batch(rows)
    got = await store.recent_observations("bed-1")
    assert got == [rows[0], rows[1]]
    assert await store.recent_observations("bed-1", ["PR"]) == [rows[1]]
    assert await store.recent_observations("bed-1", since=1.5) == [rows[1]]
    assert await store.recent_observations("bed-1", limit=1) == [rows[1]]


async def test_store_device_events(store: Store) -> None:
    await store.write_batch(device_events=[DeviceStatus("d1", "disconnected", 5.0, "unplugged",
                                                        bed_id="bed-1")])
    events = await store.device_events("bed-1")
    assert events[0]["state"] == "disconnected" and events[0]["detail"] == "unplugged"


async def test_store_writer_batches_everything_from_the_bus(store: Store) -> None:
    bus = Bus()
    writer = StoreWriter(bus, store, batch_rows=7, flush_s=0.02)
    task = asyncio.create_task(writer.run())
    for i in range(100):
        bus.publish(Observation.of("SPO2", 90 + i % 10, float(i), "d1", bed_id="bed-1"))
    bus.publish(DeviceStatus("d1", "connected", 0.5, bed_id="bed-1"))
    for _ in range(200):
        if writer.written == 101:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(await store.recent_observations("bed-1")) == 100
    assert len(await store.device_events("bed-1")) == 1


async def test_store_writer_flushes_pending_rows_on_shutdown(store: Store) -> None:
    bus = Bus()
    writer = StoreWriter(bus, store, flush_s=60)
    task = asyncio.create_task(writer.run())
    await asyncio.sleep(0)
    for i in range(5):
        bus.publish(Observation.of("PR", 60 + i, float(i), "d1", bed_id="bed-1"))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(await store.recent_observations("bed-1")) == 5


async def test_store_open_bad_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot"):
        await Store.open(f"sqlite+aiosqlite:///{blocker / 'sub' / 'm.db'}")
