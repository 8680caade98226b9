"""The running service: the bus, one runner per device, the store writer and the board."""

from __future__ import annotations

import asyncio
import logging

from monitor.board import Board
from monitor.bus import Bus
from monitor.config import Settings, UnitConfig
from monitor.models import DeviceStatus, Observation
from monitor.runner import DeviceRunner
from monitor.store import Store, StoreWriter

_LOGGER = logging.getLogger(__name__)


class Service:
    """Wires the parts together. Start with :meth:`run` inside a task; cancel to stop.

    Args:
        settings: service settings.
        unit: beds and devices.
        store: an open store.
    """

    def __init__(self, settings: Settings, unit: UnitConfig, store: Store) -> None:
        self.settings = settings
        self.unit = unit
        self.store = store
        self.bus = Bus()
        self.board = Board(unit)
        self.runners = [
            DeviceRunner(self.bus, device, settings.stale_after_s, settings.reconnect_max_s)
            for bed in unit.beds
            for device in bed.devices
        ]
        self.writer = StoreWriter(self.bus, store, unit.device_beds(),
                                  settings.store_batch_rows, settings.store_flush_s)
        self._board_sub = self.bus.subscribe(Observation, DeviceStatus, maxsize=100_000,
                                             name="board")
        self.started = asyncio.Event()

    async def run(self) -> None:
        """Run every part until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.writer.run(), name="store-writer")
                tg.create_task(self.board.follow(self._board_sub), name="board")
                for runner in self.runners:
                    tg.create_task(runner.run(), name=f"device-{runner.device_id}")
                self.started.set()
        finally:
            self.bus.close()

    def health(self) -> dict[str, object]:
        """Counters for ``/healthz``: no patient data."""
        return {
            "devices": len(self.runners),
            "devices_connected": sum(r.state in ("connected", "sensor_off") for r in self.runners),
            "events_published": self.bus.published,
            "store_written": self.writer.written,
            "store_failures": self.writer.failures,
            "dropped": {s.name: s.dropped for s in self.bus.subscriptions if s.dropped},
        }
