"""The live picture of the unit: each bed's devices and latest values, kept from the bus.

The API's ``/api/beds`` and the WebSocket's first message read it; it never touches the
database, so the dashboard stays fast however long the history grows.
"""

from __future__ import annotations

from typing import Any

from monitor.config import UnitConfig
from monitor.domain.models import DeviceState, DeviceStatus, Observation
from monitor.live.bus import Subscription


class Board:
    """Latest values and device states per bed."""

    def __init__(self, unit: UnitConfig) -> None:
        self.unit = unit
        self.device_beds = unit.device_beds()
        self.beds: dict[str, dict[str, Any]] = {}
        for bed in unit.beds:
            self.beds[bed.id] = {
                "id": bed.id,
                "label": bed.title,
                "devices": {
                    d.id: {
                        "id": d.id,
                        "protocol": d.protocol,
                        "port": d.port,
                        "state": DeviceState.CONNECTING.value,
                        "since": None,
                        "detail": "",
                        "info": {},
                    }
                    for d in bed.devices
                },
                "latest": {},
            }

    def bed_of(self, device_id: str) -> str | None:
        """The bed a device is plugged into, or None for an unknown device."""
        return self.device_beds.get(device_id)

    def apply(self, event: object) -> None:
        """Fold one bus event into the picture."""
        if isinstance(event, Observation):
            bed = self.beds.get(self.device_beds.get(event.device_id, ""))
            if bed is None:
                return
            previous = bed["latest"].get(event.metric)
            if previous is not None and previous["time"] > event.time:
                return  # an older reading (a replayed NIBP) never hides a newer one
            bed["latest"][event.metric] = {
                "value": event.value,
                "unit": event.unit,
                "time": event.time,
                "flags": sorted(event.flags),
                "device_id": event.device_id,
            }
        elif isinstance(event, DeviceStatus):
            bed = self.beds.get(self.device_beds.get(event.device_id, ""))
            if bed is None:
                return
            dev = bed["devices"][event.device_id]
            if event.state == DeviceState.INFO:
                dev["info"].update(event.info)
            else:
                if dev["state"] != event.state:
                    dev["since"] = event.time
                dev["state"] = str(event.state)
                dev["detail"] = event.detail

    async def follow(self, subscription: Subscription) -> None:
        """Apply events from ``subscription`` until it closes."""
        async with subscription:
            async for event in subscription:
                self.apply(event)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every bed, JSON-ready: devices as a list, latest values by metric."""
        out = []
        for bed in self.beds.values():
            devices = [dict(d, info=dict(d["info"])) for d in bed["devices"].values()]
            out.append({
                "id": bed["id"],
                "label": bed["label"],
                "devices": devices,
                "connection": _worst_state(devices),
                "latest": {k: dict(v) for k, v in bed["latest"].items()},
            })
        return out


_SEVERITY = {
    DeviceState.DISCONNECTED.value: 4,
    DeviceState.STALE.value: 3,
    DeviceState.SENSOR_OFF.value: 2,
    DeviceState.CONNECTING.value: 1,
    DeviceState.CONNECTED.value: 0,
}


def _worst_state(devices: list[dict[str, Any]]) -> str:
    if not devices:
        return "no_device"
    return str(max((d["state"] for d in devices), key=lambda s: _SEVERITY.get(s, 0)))
