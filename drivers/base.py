"""The shape every protocol shares: serial settings, the sans-I/O host codec, the async Device.

A protocol module provides a :class:`HostCodec` subclass: bytes in with
:meth:`HostCodec.receive_data`, decoded events out with :meth:`HostCodec.events_received`,
bytes to send out with :meth:`HostCodec.data_to_send`. It does no I/O, never sleeps and
never raises on bad input: a corrupt frame is counted in :attr:`HostCodec.frames_bad` and
skipped.

:class:`Device` is the one generic asyncio shell around any codec.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar

from drivers.conformance import BlindSpot, Conformance
from monitor.domain.errors import DeviceDisconnected, DriverError
from monitor.domain.models import DeviceEvent

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Line parameters a device needs. Applied when the port is a serial line."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # N, E, O
    stopbits: float = 1
    rtscts: bool = False

    def describe(self) -> str:
        """Short form such as ``9600 8N1``."""
        stop = int(self.stopbits) if self.stopbits == int(self.stopbits) else self.stopbits
        flow = ", RTS/CTS" if self.rtscts else ""
        return f"{self.baudrate} {self.bytesize}{self.parity}{stop}{flow}"


class HostCodec(ABC):
    """Base class of the driver side of a protocol (sans-I/O).

    Subclasses implement :meth:`_feed` and may override :meth:`start`.

    Args:
        device_id: put on every event this codec produces.
    """

    name: ClassVar[str] = ""
    """Registry name of the protocol."""

    serial_settings: ClassVar[SerialSettings] = SerialSettings()
    """Default line parameters."""

    conformance: ClassVar[Conformance] = Conformance()
    """Option variants and limits the conformance suite must know (:mod:`drivers.conformance`)."""

    can_start_nibp: ClassVar[bool] = False
    """Whether the protocol lets the host start an NIBP measurement (:meth:`request_nibp`).
    None of the supported protocols does; see docs/devices/README.md."""

    def __init__(self, device_id: str = "device") -> None:
        self.device_id = device_id
        self.frames_ok = 0
        self.frames_bad = 0
        self.bytes_discarded = 0
        self._events: list[DeviceEvent] = []
        self._outgoing: list[bytes] = []
        self._last_time = 0.0

    # -- the five methods -----------------------------------------------------------------

    def start(self) -> None:
        """Queue whatever the host must send first (association, data requests)."""
        return  # an optional hook: most devices need nothing here

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        """Feed bytes read from the device.

        Args:
            data: any number of bytes, split anywhere.
            now: POSIX time the bytes were read. When ``None``, times come from the frames
                themselves where they carry one.
        """
        if now is not None:
            self._last_time = now
        self._feed(bytes(data), now)

    def receive_eof(self) -> None:
        """The device closed the stream. Any partial frame is dropped and counted."""
        return  # an optional hook: most devices need nothing here

    def close(self) -> None:
        """The host is about to close the port: queue what it sends last (a release)."""
        return  # an optional hook: most devices need nothing here

    def events_received(self) -> list[DeviceEvent]:
        """Return and clear the events decoded so far."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> list[bytes]:
        """Return and clear the bytes the host must send to the device."""
        out, self._outgoing = self._outgoing, []
        return out

    def request_nibp(self) -> None:
        """Queue the command that starts an NIBP measurement (only if :attr:`can_start_nibp`).

        Raises:
            DriverError: the protocol has no such command (every protocol here).
        """
        raise DriverError(
            f"{self.name or type(self).__name__}: the protocol has no command to start an "
            "NIBP measurement")

    # -- for subclasses -------------------------------------------------------------------

    @abstractmethod
    def _feed(self, data: bytes, now: float | None) -> None:
        """Decode ``data``: emit events, count bad frames, queue replies."""

    def _emit(self, event: DeviceEvent) -> None:
        self._events.append(event)

    def _send(self, data: bytes) -> None:
        self._outgoing.append(data)

    def _bad_frame(self, reason: str, discarded: int = 0) -> None:
        self.frames_bad += 1
        self.bytes_discarded += discarded
        _LOGGER.debug("%s: bad frame skipped: %s", self.name, reason)

    def lost_bytes_blind_spot(self, stream: bytes, pos: int, size: int) -> BlindSpot | None:
        """Why losing ``stream[pos:pos + size]`` may go uncounted, or None: it must be seen.

        Called on a codec that has decoded the whole undamaged ``stream`` (so it knows
        the format it locked on). Subclasses name the losses their wire format cannot
        reveal, as documented in ``docs/devices/<protocol>.md``; by default there are none.
        """
        return None

    @property
    def stats(self) -> dict[str, int]:
        """Counters: frames decoded, frames rejected, bytes discarded."""
        return {
            "frames_ok": self.frames_ok,
            "frames_bad": self.frames_bad,
            "bytes_discarded": self.bytes_discarded,
        }


Tap = Callable[[bytes, float], None]
"""``tap(data, now)``: sees every chunk a :class:`Device` reads, as read, with its POSIX read
time, before the codec does (``spu-monitor record`` writes them to a file)."""


class Device:
    """An open device: a transport plus a codec, iterated for events.

    Use ``async with await open_device(...) as device: async for event in device: ...``.
    Iteration ends quietly after :meth:`aclose` and raises
    :class:`~monitor.domain.errors.DeviceDisconnected` when the port goes away.

    This is the one read loop of the project: it reads, feeds the codec, writes what the
    codec has to send (:meth:`HostCodec.data_to_send`) and turns end of stream and I/O
    errors into :class:`~monitor.domain.errors.DeviceDisconnected`.

    Args:
        codec: the protocol's host codec.
        reader, writer: the open byte stream (:func:`drivers.transport.open_transport`).
        url: where the stream comes from, for messages.
        settings: the line settings it was opened with, if a serial line.
        tap: called with each chunk read and its read time (:data:`Tap`); may also be
            set later as :attr:`tap`, before reading.
    """

    def __init__(
        self,
        codec: HostCodec,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        url: str,
        settings: SerialSettings | None = None,
        tap: Tap | None = None,
    ) -> None:
        self.codec = codec
        self.url = url
        self.settings = settings if settings is not None else codec.serial_settings
        self.tap = tap
        self._reader = reader
        self._writer = writer
        self._closing = False
        self._pending: list[DeviceEvent] = []

    @property
    def device_id(self) -> str:
        """The configured id the codec stamps on events."""
        return self.codec.device_id

    async def __aenter__(self) -> Device:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Run the codec's opening handshake."""
        self.codec.start()
        await self._flush()

    async def _flush(self) -> None:
        out = self.codec.data_to_send()
        if not out:
            return
        try:
            for chunk in out:
                self._writer.write(chunk)
            await self._writer.drain()
        except (OSError, ConnectionError) as exc:
            raise DeviceDisconnected(f"write to {self.url} failed: {exc}") from exc
        except Exception as exc:  # pyserial raises SerialException, a plain IOError subclass
            if _is_serial_error(exc):
                raise DeviceDisconnected(f"write to {self.url} failed: {exc}") from exc
            raise

    async def request_nibp(self) -> None:
        """Ask the monitor to start an NIBP measurement now.

        Raises:
            DriverError: the protocol cannot (see :attr:`HostCodec.can_start_nibp`).
            DeviceDisconnected: the command could not be written.
        """
        self.codec.request_nibp()
        await self._flush()

    async def read_events(self, max_bytes: int = 4096) -> list[DeviceEvent]:
        """Read once from the port and return the events decoded (maybe none).

        Raises:
            DeviceDisconnected: end of stream or I/O error.
        """
        try:
            data = await self._reader.read(max_bytes)
        except (OSError, ConnectionError) as exc:
            if self._closing:
                return []
            raise DeviceDisconnected(f"{self.url}: {exc}") from exc
        except Exception as exc:
            if _is_serial_error(exc):
                if self._closing:
                    return []
                raise DeviceDisconnected(f"{self.url}: {exc}") from exc
            raise
        if not data:
            self.codec.receive_eof()
            if self._closing:
                return []
            raise DeviceDisconnected(f"{self.url}: end of stream")
        now = time.time()
        if self.tap is not None:
            self.tap(data, now)
        self.codec.receive_data(data, now)
        await self._flush()
        return self.codec.events_received()

    def __aiter__(self) -> AsyncIterator[DeviceEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[DeviceEvent]:
        while not self._closing:
            events = await self.read_events()
            for event in events:
                yield event

    async def aclose(self) -> None:
        """Close the port. Safe to call twice."""
        if self._closing:
            return
        self._closing = True
        self._farewell()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, ConnectionError):
            pass
        except Exception as exc:
            if not _is_serial_error(exc):
                raise

    def _farewell(self) -> None:
        """Write what the codec sends before the port closes, without waiting for it: the
        transport flushes it on close, and a port already gone just loses it."""
        self.codec.close()
        try:
            for chunk in self.codec.data_to_send():
                self._writer.write(chunk)
        except (OSError, ConnectionError, RuntimeError):
            pass
        except Exception as exc:
            if not _is_serial_error(exc):
                raise


def _is_serial_error(exc: BaseException) -> bool:
    # Imported lazily: pyserial is only needed for real serial ports.
    try:
        import serial
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return False
    return isinstance(exc, serial.SerialException)
