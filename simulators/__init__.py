"""Simulated bedside devices: the exact inverse of ``drivers``, for tests and demos.

Each protocol has a device codec that formats scenario vitals (or replayed recordings)
into byte-exact device output; :mod:`simulators.port` writes it onto a pty or serial port.
"""

from __future__ import annotations

import importlib
from typing import Any

from monitor.domain.errors import UnknownProtocolError
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


def device_codec(name: str, **options: Any) -> DeviceCodec:
    """Create the simulated device of protocol ``name``.

    Raises:
        UnknownProtocolError: no simulator for that protocol.
    """
    try:
        target = DEVICE_CODECS[name]
    except KeyError:
        known = ", ".join(sorted(DEVICE_CODECS))
        raise UnknownProtocolError(f"no simulator for protocol {name!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    cls: type[DeviceCodec] = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)
