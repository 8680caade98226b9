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
        service.bus.publish(DeviceStatus("ox", "connected", 1.0, "", {}))
        service.bus.publish(Observation.of("SPO2", 91, 2.0, "ox"))
        service.bus.publish(DeviceStatus("ox", "disconnected", 3.0, "unplugged", {}))
        (bed,) = service.snapshot()  # no await in between: the board task never ran
        assert bed["connection"] == "disconnected"
        assert bed["latest"]["SPO2"]["value"] == 91
        assert service.snapshot()[0]["connection"] == "disconnected"
    finally:
        await store.close()
