"""Simulated bedside devices: the exact inverse of ``drivers``, for tests and demos.

Each protocol has a device codec that formats scenario vitals (or replayed recordings)
into byte-exact device output; :mod:`simulators.port` writes it onto a pty or serial port.
"""

from __future__ import annotations

from typing import Any

from drivers.registry import load_class
from simulators.base import DeviceCodec

DEVICE_CODECS: dict[str, str] = {
    "masimo": "simulators.masimo:MasimoDeviceCodec",
    "nonin": "simulators.nonin:NoninDeviceCodec",
    "nellcor": "simulators.nellcor:NellcorDeviceCodec",
    "ge_s5": "simulators.ge_s5:GeS5DeviceCodec",
    "hl7": "simulators.hl7:Hl7DeviceCodec",
    "intellivue": "simulators.intellivue:IntelliVueDeviceCodec",
}
"""Protocol name -> ``module:Class`` of its simulated device."""


def device_codec_class(name: str) -> type[DeviceCodec]:
    """Return the simulated device class registered as ``name``.

    Raises:
        UnknownProtocolError: no simulator for that protocol.
        DriverUnavailableError: its module cannot be imported.
    """
    cls: type[DeviceCodec] = load_class(DEVICE_CODECS, name, DeviceCodec,
                                        what="simulated protocol")
    return cls


def device_codec(name: str, **options: Any) -> DeviceCodec:
    """Create the simulated device of protocol ``name``.

    Args:
        name: registry name (``masimo``...).
        options: device options (``data_format=2`` for Nonin...).

    Raises:
        UnknownProtocolError: no simulator for that protocol.
        DriverUnavailableError: its module cannot be imported.
    """
    return device_codec_class(name)(**options)
