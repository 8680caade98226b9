"""Supervision of one configured device: open, read, publish; reconnect when it goes away.

The runner is the only place that deals with a device disappearing. It publishes
``connected`` / ``disconnected`` / ``stale`` / ``sensor_off`` :class:`DeviceStatus`
events, logs an outage once at ERROR and its end at INFO, and retries with a backoff that
never waits more than ``reconnect_max_s`` (2 s by default) between attempts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import drivers
from drivers.base import Device
from monitor.config import DeviceConfig
from monitor.domain.errors import DeviceDisconnected, DeviceOpenError, DriverError
from monitor.domain.models import SENSOR_OFF_FLAGS, DeviceState, DeviceStatus, Observation
from monitor.live.bus import Bus

_LOGGER = logging.getLogger(__name__)

Opener = Callable[..., Awaitable[Device]]


class DeviceRunner:
    """Keeps one device open and its events flowing onto the bus.

    Every event it publishes carries the bed it was built for: the bed is stamped here, at
    the source, and nothing downstream looks a device up again.

    Args:
        bus: where events go.
        config: the device's id, protocol, port and options.
        bed_id: the bed the device is plugged into.
        stale_after_s: a connected device that decodes nothing for this long is stale.
        reconnect_max_s: longest wait between reconnection attempts.
        opener: how to open it (``drivers.open_device``; replaceable for tests).
    """

    def __init__(self, bus: Bus, config: DeviceConfig, bed_id: str,
                 stale_after_s: float = 10.0, reconnect_max_s: float = 2.0,
                 opener: Opener | None = None) -> None:
        self.bus = bus
        self.config = config
        self.bed_id = bed_id
        self.stale_after_s = stale_after_s
        self.reconnect_max_s = reconnect_max_s
        self._open = opener or drivers.open_device
        self.state: str = DeviceState.CONNECTING.value
        self.connects = 0
        self.outages = 0
        self._totals = {"frames_ok": 0, "frames_bad": 0, "bytes_discarded": 0}
        self._device: Device | None = None
        self._outage_logged = False

    @property
    def device_id(self) -> str:
        """The configured device id."""
        return self.config.id

    def _set(self, state: DeviceState, detail: str = "", **info: Any) -> None:
        """Publish a status change (only changes: the bus carries no repeats)."""
        if state.value == self.state:
            return
        self.state = state.value
        self.bus.publish(DeviceStatus(self.device_id, state, time.time(), detail, info,
                                      self.bed_id))

    async def run(self) -> None:
        """Run until cancelled."""
        delay = 0.25
        while True:
            try:
                device = await self._open(self.config.port, self.config.protocol,
                                          device_id=self.device_id, **self.config.options)
            except (DeviceOpenError, DeviceDisconnected) as exc:
                self._lost(f"cannot open {self.config.port}: {_short(exc)}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            except DriverError as exc:
                # A protocol that cannot load will not fix itself quickly; keep trying slowly.
                self._lost(f"driver error: {_short(exc)}")
                await asyncio.sleep(self.reconnect_max_s)
                continue
            delay = 0.25
            self._device = device
            try:
                await self._read(device)
            except DeviceDisconnected as exc:
                self._lost(_short(exc))
            finally:
                for key, value in device.codec.stats.items():
                    self._totals[key] += value
                self._device = None
                await device.aclose()
            await asyncio.sleep(0.05)  # let a replugged port settle before the next open

    async def request_nibp(self) -> None:
        """Ask the device to start an NIBP measurement now.

        Raises:
            DriverError: its protocol cannot.
            DeviceOpenError: the device is not connected.
        """
        if self._device is None:
            raise DeviceOpenError(f"device {self.device_id} is not connected")
        await self._device.request_nibp()

    @property
    def stats(self) -> dict[str, int | str]:
        """State and counters since start: frames decoded and rejected (corrupt frames are
        counted and skipped), bytes discarded, connections and outages."""
        totals = dict(self._totals)
        if self._device is not None:
            for key, value in self._device.codec.stats.items():
                totals[key] += value
        return {"state": self.state, **totals, "connects": self.connects,
                "outages": self.outages}

    def _lost(self, detail: str) -> None:
        if not self._outage_logged:
            self._outage_logged = True
            self.outages += 1
            _LOGGER.error("device %s lost: %s", self.device_id, detail)
        self._set(DeviceState.DISCONNECTED, detail)

    async def _read(self, device: Device) -> None:
        self.connects += 1
        if self._outage_logged:
            _LOGGER.info("device %s recovered", self.device_id)
            self._outage_logged = False
        self._set(DeviceState.CONNECTED, f"{self.config.protocol} on {self.config.port}")
        loop = asyncio.get_running_loop()
        last_data = loop.time()
        sensor_off = False
        while True:
            remaining = self.stale_after_s - (loop.time() - last_data)
            if remaining <= 0:
                self._set(DeviceState.STALE, f"no data for {self.stale_after_s:g} s")
                remaining = self.stale_after_s
                last_data = loop.time()  # re-arm; stays stale until data arrives
            try:
                async with asyncio.timeout(remaining):
                    events = await device.read_events()
            except TimeoutError:
                continue
            if not events:
                continue
            last_data = loop.time()
            for event in events:
                if isinstance(event, Observation) and event.metric in ("SPO2", "PR", "PI"):
                    sensor_off = bool(event.flags & SENSOR_OFF_FLAGS)
                self.bus.publish(replace(event, bed_id=self.bed_id))
            if sensor_off:
                self._set(DeviceState.SENSOR_OFF, "sensor off or disconnected")
            else:
                self._set(DeviceState.CONNECTED, f"{self.config.protocol} on {self.config.port}")


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
