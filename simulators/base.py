"""The device side of a protocol: the exact inverse of a driver's host codec.

A :class:`DeviceCodec` is sans-I/O like the host codec: :meth:`advance` moves its clock and
queues the bytes its device would have sent by then; :meth:`receive_data` takes the host's
requests (handshakes, format commands) and may queue replies. It serializes with the same
``drivers.<proto>.frames`` module the driver parses with, so the two cannot drift apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from drivers.base import SerialSettings
from simulators.scenarios import Vitals

WaveformSource = Callable[[str, float, float, float], "list[float | None] | None"]
"""``source(metric, t0, t1, rate)``: real samples for scenario times [t0, t1) at ``rate`` Hz,
or None when the source has no such waveform (the device then synthesises one)."""


class DeviceCodec(ABC):
    """Base class of simulated devices.

    Subclasses implement :meth:`advance` and, where the device listens, :meth:`_feed`.
    """

    name: ClassVar[str] = ""
    serial_settings: ClassVar[SerialSettings] = SerialSettings()

    def __init__(self) -> None:
        self._outgoing: list[bytes] = []
        self._requests: list[Any] = []
        self.waveform_source: WaveformSource | None = None
        """Real waveforms to send instead of synthetic ones (a replayed PhysioNet record)."""
        self.scenario_clock0: float | None = None
        """Device clock at scenario time 0, to map device times onto the source's times."""

    def start(self) -> None:
        """Queue what the device sends when switched on (a banner, a header)."""
        return  # an optional hook: most devices need nothing here

    @abstractmethod
    def advance(self, now: float, vitals: Vitals) -> None:
        """Queue every byte the device would have sent up to ``now``.

        Args:
            now: POSIX seconds of the device clock.
            vitals: what the patient and sensors show at ``now``.
        """

    def receive_data(self, data: bytes) -> None:
        """Feed bytes the host sent to the device."""
        self._feed(bytes(data))

    def receive_eof(self) -> None:
        """The host closed the link."""
        return  # an optional hook: most devices need nothing here

    def events_received(self) -> list[Any]:
        """Return and clear the host requests parsed so far (for tests)."""
        out, self._requests = self._requests, []
        return out

    def data_to_send(self) -> list[bytes]:
        """Return and clear the bytes the device must write."""
        out, self._outgoing = self._outgoing, []
        return out

    def _feed(self, data: bytes) -> None:
        # Free-running devices ignore what the host sends.
        return

    def _send(self, data: bytes) -> None:
        self._outgoing.append(data)
