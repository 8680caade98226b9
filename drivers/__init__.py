"""Device drivers: a registry of protocols, each a sans-I/O codec, opened by URL.

>>> import drivers
>>> codec = drivers.codec("masimo", device_id="bed-1")
>>> codec.receive_data(b"02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% "
...                    b"SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\\r\\n")
>>> [(e.metric, e.value) for e in codec.events_received() if hasattr(e, "metric")][:2]
[('SPO2', 98.0), ('PR', 97.0)]
"""

from __future__ import annotations

import dataclasses
from typing import Any

from drivers.base import Device, HostCodec, SerialSettings
from drivers.registry import load_class
from drivers.transport import open_with

__all__ = [
    "PROTOCOLS",
    "Device",
    "HostCodec",
    "SerialSettings",
    "codec",
    "codec_class",
    "open_device",
]

PROTOCOLS: dict[str, str] = {
    "masimo": "drivers.masimo.host:MasimoHostCodec",
    "nonin": "drivers.nonin.host:NoninHostCodec",
    "nellcor": "drivers.nellcor.host:NellcorHostCodec",
    "ge_s5": "drivers.ge_s5.host:GeS5HostCodec",
    "hl7": "drivers.hl7.host:Hl7HostCodec",
    "intellivue": "drivers.intellivue.host:IntelliVueHostCodec",
}
"""Protocol name -> ``module:Class`` of its host codec, imported lazily."""


def codec_class(name: str) -> type[HostCodec]:
    """Return the host codec class registered as ``name``.

    Raises:
        UnknownProtocolError: no such protocol.
        DriverUnavailableError: its module cannot be imported.
    """
    cls: type[HostCodec] = load_class(PROTOCOLS, name, HostCodec)
    return cls


def codec(name: str, device_id: str = "device", **options: Any) -> HostCodec:
    """Create the host codec of protocol ``name``.

    Args:
        name: registry name (``masimo``...).
        device_id: stamped on every event.
        options: protocol options (``data_format=2`` for Nonin...).
    """
    return codec_class(name)(device_id=device_id, **options)


async def open_device(
    url: str, protocol: str, device_id: str = "device", **options: Any
) -> Device:
    """Open the device at ``url`` speaking ``protocol`` and run its handshake.

    Args:
        url: a serial device path or ``socket://host:port``.
        protocol: registry name.
        device_id: stamped on every event.
        options: protocol options; ``baudrate`` overrides the protocol's default.

    Raises:
        UnknownProtocolError, DriverUnavailableError, DeviceOpenError.
    """
    baudrate = options.pop("baudrate", None)
    host = codec(protocol, device_id=device_id, **options)
    settings = host.serial_settings
    if baudrate is not None:
        settings = dataclasses.replace(settings, baudrate=int(baudrate))
    return await open_with(host, url, settings)
