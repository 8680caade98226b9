"""The service's snapshot, as a live client takes it right after subscribing."""

from __future__ import annotations

from pathlib import Path

from monitor.config import BedConfig, DeviceConfig, Settings, UnitConfig
from monitor.domain.models import DeviceStatus, Observation
from monitor.service import Service
from monitor.storage.database import Store


async def test_snapshot_includes_events_published_just_before(tmp_path: Path) -> None:
    # A client subscribes, then takes the snapshot: whatever was published before it
    # subscribed must be in the snapshot, even if the board's task has not run since.
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    try:
        unit = UnitConfig(beds=[BedConfig(id="bed-1", devices=[
            DeviceConfig(id="ox", protocol="masimo", port=str(tmp_path / "tty"))])])
        service = Service(Settings(db=":memory:"), unit, store)
        service.bus.publish(DeviceStatus("ox", "connected", 1.0, "", {}, "bed-1"))
        service.bus.publish(Observation.of("SPO2", 91, 2.0, "ox", bed_id="bed-1"))
        service.bus.publish(DeviceStatus("ox", "disconnected", 3.0, "unplugged", {}, "bed-1"))
        (bed,) = service.board.snapshot()  # no await in between: the board task never ran
        assert bed["connection"] == "disconnected"
        assert bed["latest"]["SPO2"]["value"] == 91
        assert service.board.snapshot()[0]["connection"] == "disconnected"
    finally:
        await store.close()


async def test_a_failing_part_is_restarted_and_never_stops_the_others(tmp_path: Path,
                                                                       caplog) -> None:
    import asyncio

    from monitor.service.supervisor import Supervisor

    sup = Supervisor()
    beats: list[str] = []
    failures = 0

    async def flaky() -> None:
        nonlocal failures
        failures += 1
        if failures == 1:
            raise RuntimeError("subscriber bug")
        while True:
            beats.append("flaky")
            await asyncio.sleep(0.01)

    async def device() -> None:
        while True:
            beats.append("device")
            await asyncio.sleep(0.01)

    import monitor.service.supervisor as supervision

    supervision.RESTART_FIRST_S, saved = 0.05, supervision.RESTART_FIRST_S
    try:
        sup.start("flaky", flaky)
        sup.start("device", device)
        await asyncio.sleep(0.3)
    finally:
        supervision.RESTART_FIRST_S = saved
        await sup.stop()
    assert "flaky" in beats and beats.count("device") > 10
    assert sup.health() == {"flaky": {"running": False, "failures": 1,
                                      "last_error": "RuntimeError: subscriber bug"}}
    logged = [r for r in caplog.records if "flaky failed" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None


async def test_storage_failing_raises_a_unit_wide_technical_condition(tmp_path: Path) -> None:
    import asyncio

    from sqlalchemy import text

    from monitor.live.bus import Bus
    from monitor.live.views import SystemCondition
    from monitor.live.writer import StoreWriter

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    bus = Bus()
    conditions = bus.subscribe(SystemCondition, name="test")
    writer = StoreWriter(bus, store, flush_s=0.01, down_after_s=0.2)
    task = asyncio.create_task(writer.run())
    try:
        async with store.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE observations RENAME TO observations_away"))
        bus.publish(Observation.of("SPO2", 97, 1.0, "ox", bed_id="bed-1"))
        async with asyncio.timeout(5):
            raised = await conditions.get()
        assert raised.key == "storage" and raised.active
        async with store.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE observations_away RENAME TO observations"))
        async with asyncio.timeout(10):
            cleared = await conditions.get()
        assert cleared.key == "storage" and not cleared.active
        assert [o.value for o in await store.recent_observations("bed-1")] == [97]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()
