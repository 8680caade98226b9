"""Open a device's byte stream from a URL.

- a plain path (``/dev/ttyUSB0``, ``/dev/serial/by-id/...``, a pty) is a serial port, opened
  with the protocol's line settings through ``serial_asyncio_fast``;
- ``socket://host:port`` is a TCP connection to a serial-to-Ethernet gateway;
- ``tcp-listen://host:port`` waits for the device to connect to us (HL7 monitors push
  results to a listening port): see :func:`start_listener`.

:func:`open_with` puts a codec on the stream opened: a started :class:`~drivers.base.Device`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from urllib.parse import urlsplit

from drivers.base import Device, HostCodec, SerialSettings, Tap
from monitor.domain.errors import DeviceDisconnected, DeviceOpenError


def parse_socket_url(url: str) -> tuple[str, int]:
    """Split ``socket://host:port`` into host and port.

    Raises:
        ValueError: not a valid socket URL.
    """
    parts = urlsplit(url)
    if parts.scheme != "socket" or not parts.hostname or parts.port is None:
        raise ValueError(f"expected socket://host:port, got {url!r}")
    return parts.hostname, parts.port


def describe_url(url: str) -> str:
    """Say what kind of port ``url`` is (for errors and the CLI)."""
    if url.startswith("socket://"):
        return "TCP serial gateway"
    if url.startswith(LISTEN_SCHEME):
        return "TCP listener"
    return "serial port"


# -- listening sockets (the device connects to us) ---------------------------------------------
#
# One server per URL lives at module level and outlives the Devices opened on it: a monitor
# that reconnects while the runner backs off is queued, not refused, and the port is never
# re-bound (no EADDRINUSE races). Each open_transport() takes the next accepted connection;
# when that peer hangs up the Device raises DeviceDisconnected and the runner opens again.

LISTEN_SCHEME = "tcp-listen://"
_MAX_WAITING = 4
"""Connections accepted but not yet taken; more are closed at once (a misbehaving peer)."""


class _Listener:
    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiting: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue(_MAX_WAITING)
        )

    def accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.waiting.put_nowait((reader, writer))
        except asyncio.QueueFull:
            writer.close()


_LISTENERS: dict[str, _Listener] = {}


def _listen_address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "tcp-listen" or not parts.hostname or parts.port is None:
        raise ValueError(f"expected tcp-listen://host:port, got {url!r}")
    return parts.hostname, parts.port


async def start_listener(url: str) -> tuple[str, int]:
    """Start listening on ``tcp-listen://host:port`` (once per URL) and return the address.

    Port 0 picks a free port; the address returned tells which (for tests).

    Raises:
        DeviceOpenError: the port cannot be bound.
        ValueError: not a listening URL.
    """
    host, port = _listen_address(url)
    loop = asyncio.get_running_loop()
    listener = _LISTENERS.get(url)
    if listener is None or listener.loop is not loop or listener.server is None:
        listener = _Listener()
        try:
            listener.server = await asyncio.start_server(listener.accepted, host, port)
        except OSError as exc:
            raise DeviceOpenError(f"cannot listen on {url}: {exc}") from exc
        listener.loop = loop
        _LISTENERS[url] = listener
    assert listener.server is not None
    bound = listener.server.sockets[0].getsockname()
    return str(bound[0]), int(bound[1])


async def close_listeners() -> None:
    """Stop every listener and close connections nobody took (service shutdown, tests)."""
    listeners = list(_LISTENERS.values())
    _LISTENERS.clear()
    for listener in listeners:
        while not listener.waiting.empty():
            listener.waiting.get_nowait()[1].close()
        if listener.server is not None and listener.loop is asyncio.get_running_loop():
            listener.server.close()
            await listener.server.wait_closed()


async def _accept(url: str, patience: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    await start_listener(url)
    listener = _LISTENERS[url]
    while True:
        try:
            reader, writer = await asyncio.wait_for(listener.waiting.get(), patience)
        except TimeoutError as exc:
            raise DeviceOpenError(f"no device connected to {url} within {patience:g} s") from exc
        if not writer.is_closing() and not reader.at_eof():
            return reader, writer
        writer.close()  # the peer gave up while queued


def _is_pty(path: str) -> bool:
    """True for a Unix98 pty slave (device majors 136-143 on Linux)."""
    try:
        return 136 <= os.major(os.stat(path).st_rdev) <= 143
    except (OSError, ValueError):
        return False


async def open_transport(
    url: str, settings: SerialSettings, timeout: float = 5.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open ``url`` and return an asyncio (reader, writer) pair.

    Raises:
        DeviceOpenError: the port is missing, busy or refused the connection.
        ValueError: the URL's form is not understood.
    """
    if "://" in url and not url.startswith(("socket://", LISTEN_SCHEME)):
        raise ValueError(f"unsupported port URL {url!r}: use a device path, socket://host:port"
                         " or tcp-listen://host:port")
    if url.startswith(LISTEN_SCHEME):
        return await _accept(url, timeout)
    try:
        if url.startswith("socket://"):
            host, port = parse_socket_url(url)
            return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        import termios  # POSIX only, like the pty handling below

        import serial
        import serial_asyncio_fast

        if settings.parity != "N" and _is_pty(url):
            # Linux ptys refuse PARENB with EINVAL, and a pty has no line to carry parity
            # bits anyway: simulators on a pty (GE S/5 is 8E1) are opened without parity.
            settings = dataclasses.replace(settings, parity="N")
        try:
            return await serial_asyncio_fast.open_serial_connection(
                url=url,
                baudrate=settings.baudrate,
                bytesize=settings.bytesize,
                parity=settings.parity,
                stopbits=settings.stopbits,
                rtscts=settings.rtscts,
                # One reader per port: a second one (a forgotten `spu-monitor record`, a
                # second service) would split the byte stream, and both would see corrupt
                # frames. Locked, the second fails to open with a clear error instead.
                exclusive=True,
            )
        except (serial.SerialException, termios.error) as exc:
            raise DeviceOpenError(f"cannot open serial port {url}: {exc}") from exc
    except (OSError, TimeoutError) as exc:
        raise DeviceOpenError(f"cannot open {describe_url(url)} {url}: {exc}") from exc


async def open_with(
    codec: HostCodec, url: str, settings: SerialSettings | None = None, timeout: float = 5.0,
    tap: Tap | None = None,
) -> Device:
    """Open ``url`` with ``codec``'s serial settings and return a started :class:`Device`.

    Args:
        codec: the host codec to put on the stream.
        url: a serial device path, ``socket://host:port`` or ``tcp-listen://host:port``.
        settings: line settings (default: the codec's).
        timeout: seconds to wait for the port (or, listening, for the device to connect).
        tap: sees every chunk read (:data:`drivers.base.Tap`).

    Raises:
        DeviceOpenError: the port cannot be opened.
        ValueError: the URL's form is not understood.
    """
    settings = settings or codec.serial_settings
    reader, writer = await open_transport(url, settings, timeout)
    device = Device(codec, reader, writer, url, settings, tap)
    try:
        await device.start()
    except DeviceDisconnected as exc:
        await device.aclose()
        raise DeviceOpenError(str(exc)) from exc
    return device
