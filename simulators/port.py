"""Put a simulated device on a port: a new pty pair, or an existing serial port.

A pty pair stands in for the USB-serial cable: the simulator writes the master side and
the driver opens the slave path like any ``/dev/ttyUSB*``. With ``link`` the slave is also
reachable through a stable symlink, like ``/dev/serial/by-id/...``: the same path after an
unplug and replug (which recreates the pty behind it), and absent while the cable is out,
as udev removes a by-id link when the adapter is pulled.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import time
import tty
from collections.abc import Callable, Coroutine
from typing import Any

from simulators.base import DeviceCodec
from simulators.scenarios import Patient, Scenario

_LOGGER = logging.getLogger(__name__)


class PtyPort:
    """The device end of a pseudo-terminal pair.

    Args:
        link: optional path of a symlink to keep pointing at the current slave.
    """

    def __init__(self, link: str | None = None) -> None:
        self.link = link
        self.master_fd = -1
        self.slave_fd = -1
        self.slave_path = ""
        self.written = 0
        self.dropped = 0
        self._on_receive: Callable[[bytes], None] | None = None
        self._reading = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.plug()

    @property
    def path(self) -> str:
        """The path a driver should open: the stable link if any, else the slave."""
        return self.link or self.slave_path

    @property
    def plugged(self) -> bool:
        """True while the cable is in."""
        return self.master_fd >= 0

    def plug(self) -> None:
        """Create a fresh pty pair (plugging the cable in) and point the link at it."""
        if self.plugged:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # before anything is written: no echo, no line discipline
        os.set_blocking(master, False)
        self.master_fd, self.slave_fd = master, slave
        self.slave_path = os.ttyname(slave)
        if self.link:
            tmp = f"{self.link}.new"
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            os.symlink(self.slave_path, tmp)
            os.replace(tmp, self.link)
        if self._on_receive is not None:
            self._start_reading()

    def unplug(self) -> None:
        """Close the pty pair: the driver's next read fails, as when a USB cable is pulled.

        The link goes first, while this pty still holds its number. The kernel gives a freed
        ``/dev/pts/N`` to the next pty opened anywhere on the machine, so a link left behind
        would lead a runner that keeps reopening it (as runners do) into another
        simulator's pty, another test process's included, where it would read that
        device's bytes from under its driver.
        """
        if not self.plugged:
            return
        self._remove_link()
        self._stop_reading()
        for fd in (self.master_fd, self.slave_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.master_fd = self.slave_fd = -1

    def write_some(self, data: bytes | memoryview) -> int:
        """Write what the pty takes now and return how many bytes that was (0 when
        unplugged or full)."""
        if not self.plugged:
            return 0
        try:
            n = os.write(self.master_fd, data)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            if exc.errno not in (errno.EIO, errno.EAGAIN):
                raise
            n = 0
        self.written += n
        return n

    def write(self, data: bytes) -> None:
        """Write device output; bytes nobody can take (port not open, buffer full) are lost,
        as on a real serial line."""
        self.dropped += len(data) - self.write_some(data)

    async def write_all(self, data: bytes, patience: float = 1.0) -> None:
        """Write ``data``, waiting (up to ``patience`` s per stall) while the pty is full.

        For replay as fast as possible, which outruns any reader: wait for room instead of
        losing bytes. A reader stalled longer than ``patience`` loses the rest, counted in
        ``dropped``.
        """
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            if not self.plugged:
                self.dropped += len(view)
                return
            view = view[self.write_some(view):]
            if not view:
                return
            ready: asyncio.Future[None] = loop.create_future()
            fd = self.master_fd
            loop.add_writer(fd, _wake, ready)
            try:
                async with asyncio.timeout(patience):
                    await ready
            except TimeoutError:
                self.dropped += len(view)
                return
            finally:
                with contextlib.suppress(ValueError, OSError):
                    loop.remove_writer(fd)

    def on_receive(self, callback: Callable[[bytes], None]) -> None:
        """Call ``callback`` with bytes the driver writes to the device."""
        self._on_receive = callback
        if self.plugged:
            self._start_reading()

    def _start_reading(self) -> None:
        if self._reading:
            return
        # Keep the loop: close() may run outside it (a sync fixture teardown) and must still
        # unregister the fd, or the loop keeps watching a number the next pty reuses.
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master_fd, self._readable)
        self._reading = True

    def _stop_reading(self) -> None:
        if self._reading and self._loop is not None:
            with contextlib.suppress(RuntimeError, ValueError, OSError):
                self._loop.remove_reader(self.master_fd)
        self._reading = False

    def _readable(self) -> None:
        try:
            data = os.read(self.master_fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            # EIO: the other side is not open. Back off instead of spinning on the fd.
            self._stop_reading()
            if self._loop is not None and self.plugged:
                self._loop.call_later(0.5, self._resume_reading)
            return
        if data and self._on_receive is not None:
            self._on_receive(data)

    def _resume_reading(self) -> None:
        if self.plugged and self._on_receive is not None:
            self._start_reading()

    def _remove_link(self) -> None:
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)

    def close(self) -> None:
        """Unplug and remove the link."""
        self.unplug()
        self._remove_link()


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SerialPort:
    """The device end on an existing serial port (a real cable, or one end of socat)."""

    def __init__(self, path: str, writer: asyncio.StreamWriter, reader: asyncio.StreamReader):
        self.path = path
        self._writer = writer
        self._reader = reader
        self.written = 0
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str, codec: DeviceCodec) -> SerialPort:
        """Open ``path`` with ``codec``'s line settings."""
        import serial_asyncio_fast

        s = codec.serial_settings
        reader, writer = await serial_asyncio_fast.open_serial_connection(
            url=path, baudrate=s.baudrate, bytesize=s.bytesize, parity=s.parity,
            stopbits=s.stopbits, rtscts=s.rtscts,
        )
        return cls(path, writer, reader)

    @property
    def plugged(self) -> bool:
        """Always True: a real port cannot be unplugged from software."""
        return True

    def plug(self) -> None:
        """Nothing to do on a real port."""

    def unplug(self) -> None:
        """A real port cannot be unplugged from software: go quiet instead."""

    def write(self, data: bytes) -> None:
        """Queue device output."""
        self._writer.write(data)
        self.written += len(data)

    async def write_all(self, data: bytes, patience: float = 1.0) -> None:
        """Write ``data`` and wait until the port has taken it."""
        self.write(data)
        async with asyncio.timeout(patience):
            await self._writer.drain()

    def on_receive(self, callback: Callable[[bytes], None]) -> None:
        """Call ``callback`` with bytes the host writes."""

        async def pump() -> None:
            while data := await self._reader.read(4096):
                callback(data)

        self._task = asyncio.get_running_loop().create_task(pump())

    def close(self) -> None:
        """Close the port."""
        if self._task is not None:
            self._task.cancel()
        self._writer.close()


DevicePort = PtyPort | SerialPort

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""What stops a simulator process from outside: ``kill``, the demo's ``terminate()``, Ctrl-C."""


def run_until_stopped(main: Coroutine[Any, Any, object]) -> None:
    """Run ``main`` in a new event loop until it returns or a :data:`STOP_SIGNALS` arrives.

    A signal cancels ``main``, so its ``finally`` clauses close the ports it opened and
    remove their stable links, and the call returns quietly. Python's default SIGTERM
    would end the process at once instead, leaving a link to a freed ``/dev/pts/N`` that
    the kernel hands to the next pty opened (see :meth:`PtyPort.unplug`).
    """

    async def guarded() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        stopped = False

        def stop() -> None:
            nonlocal stopped
            stopped = True
            task.cancel()

        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop)
        try:
            await main
        except asyncio.CancelledError:
            if not stopped:
                raise
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    asyncio.run(guarded())


async def run_scenario(
    codec: DeviceCodec,
    scenario: Scenario | Any,
    port: DevicePort,
    patient: Patient | None = None,
    speed: float = 1.0,
    tick: float = 0.05,
    duration: float | None = None,
    start_time: float | None = None,
) -> None:
    """Drive ``codec`` through ``scenario`` in real time and write its output to ``port``.

    Args:
        speed: scenario seconds per wall-clock second.
        tick: how often to write; device codecs emit whatever fell due since the last tick.
        duration: stop after this many scenario seconds (run for ever when None).
        start_time: device clock at scenario time 0 (now by default).
    """
    loop = asyncio.get_running_loop()
    port.on_receive(codec.receive_data)
    codec.start()
    t0 = loop.time()
    clock0 = time.time() if start_time is None else start_time
    samples = getattr(scenario, "samples", None)
    if callable(samples):
        # A recorded patient: waveform-capable devices send the real waveforms.
        codec.waveform_source = samples
        codec.scenario_clock0 = clock0
    while True:
        t = (loop.time() - t0) * speed
        if duration is not None and t > duration:
            break
        vitals = scenario.at(t, patient)
        if vitals.connected != port.plugged:
            _LOGGER.info("simulated %s of %s", "replug" if vitals.connected else "unplug",
                         port.path)
            port.plug() if vitals.connected else port.unplug()
        # The device keeps running while its cable is out; what it sends then is lost.
        codec.advance(clock0 + t, vitals)
        for chunk in codec.data_to_send():
            port.write(chunk)
        await asyncio.sleep(tick)
