"""The interfaces a unit configures, as the service's parts: the HL7 producer and sender
(``[hl7_out]`` or ``MONITOR_HL7_OUT``) and the ADT listener (``[adt_in]``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from monitor.config import Settings, UnitConfig
from monitor.config.interfaces import Hl7OutConfig, parse_host_port
from monitor.interop.adt_in import AdtListener
from monitor.interop.hl7_out import Hl7Producer
from monitor.interop.mllp_sender import MllpSender
from monitor.live.bus import Bus
from monitor.storage.database import Store

Part = Callable[[], Coroutine[Any, Any, None]]


def hl7_out_config(settings: Settings, unit: UnitConfig) -> Hl7OutConfig | None:
    """The ``[hl7_out]`` table with ``MONITOR_HL7_OUT`` (host:port) over it, or None."""
    if settings.hl7_out:
        host, port = parse_host_port(settings.hl7_out)
        base = unit.hl7_out.model_dump() if unit.hl7_out is not None else {}
        return Hl7OutConfig(**{**base, "host": host, "port": port})
    return unit.hl7_out


class Interfaces:
    """Builds the configured interfaces (subscribing to the bus now, before the service
    publishes the sessions it restores).

    Args:
        bus: the service's bus.
        store: the database.
        settings: service settings (``hl7_out``).
        unit: the unit file (``[hl7_out]``, ``[adt_in]``).
        charted: the service's "a session got an entry" hook (the ADT A03 note).
    """

    def __init__(self, bus: Bus, store: Store, settings: Settings, unit: UnitConfig,
                 charted: Callable[[str], None] | None = None) -> None:
        self.hl7_out = hl7_out_config(settings, unit)
        self.producer: Hl7Producer | None = None
        self.sender: MllpSender | None = None
        self.adt: AdtListener | None = None
        if self.hl7_out is not None:
            cfg = self.hl7_out
            self.sender = MllpSender(bus, store, cfg.host, cfg.port, cfg.stall_after_s)
            self.producer = Hl7Producer(bus, store, cfg, unit.name, self.sender.notify)
        if unit.adt_in is not None:
            self.adt = AdtListener(store, unit.adt_in.host, unit.adt_in.port, charted)

    def parts(self) -> list[tuple[str, Part]]:
        """(name, coroutine function) of each part to supervise."""
        out: list[tuple[str, Part]] = []
        if self.producer is not None and self.sender is not None:
            out += [("hl7-out", self.producer.run), ("hl7-sender", self.sender.run)]
        if self.adt is not None:
            out.append(("adt-in", self.adt.run))
        return out

    def hl7_health(self) -> dict[str, Any] | None:
        """The ``hl7_out`` entry of ``/healthz`` (None when not configured)."""
        return None if self.sender is None else self.sender.health()
