"""Raw byte recordings (``*.raw.jsonl``): record a real device, replay it onto a port.

Format (documented in ``docs/recordings.md``): JSON Lines, UTF-8. The first line is a
header, every other line one chunk of bytes as read from the port::

    {"format": "spu-monitor-raw", "version": 1, "protocol": "masimo",
     "started": 1700000000.5, "direction": "device"}      (one line in the file)
    {"t": 0.0, "hex": "30322f32322f..."}
    {"t": 1.0021, "hex": "0d0a"}

``t`` is seconds since the first chunk (monotonic clock), ``started`` the POSIX time of
that first chunk, ``direction`` whose bytes these are (``device``: device to host).
Replays are byte-exact: the chunks are written as recorded, at their recorded pace.

The CLI glue at the bottom (:func:`configure_record_parser`, :func:`run_record`,
:func:`replay_options`, :func:`run_replay`) is what ``spu-monitor record`` and
``spu-monitor simulate --replay`` call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, TextIO

import drivers
from monitor.domain.errors import DeviceDisconnected, DriverError
from monitor.domain.models import Observation
from simulators.pacer import Pacer
from simulators.port import PtyPort, SerialPort

_LOGGER = logging.getLogger(__name__)

RAW_FORMAT = "spu-monitor-raw"
RAW_VERSION = 1
DIRECTIONS = ("device", "host")


class RawChunk(NamedTuple):
    """One recorded read: ``t`` seconds after the first chunk, the bytes read."""

    t: float
    data: bytes


class RawRecorder:
    """Write a ``*.raw.jsonl`` recording, one line per chunk, flushed as it goes.

    The header is written with the first chunk (its ``started`` is that chunk's POSIX
    time), or on :meth:`close` if no chunk came, so an empty recording is still valid.

    Args:
        path: the file to create (overwritten).
        protocol: registry name of the protocol spoken on the line.
        direction: ``device`` (bytes from the device) or ``host``.
        flush: flush after every chunk, so a killed recorder loses nothing.

    Raises:
        ValueError: unknown ``direction``.
    """

    def __init__(
        self, path: str | os.PathLike[str], protocol: str, direction: str = "device",
        flush: bool = True,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        self.path = Path(path)
        self.protocol = protocol
        self.direction = direction
        self.chunks = 0
        self.bytes = 0
        self._flush = flush
        self._file: TextIO | None = self.path.open("w", encoding="utf-8")
        self._t0: float | None = None

    def write(self, data: bytes, t: float | None = None, started: float | None = None) -> None:
        """Append one chunk.

        Args:
            data: the bytes as read (empty chunks are skipped).
            t: monotonic seconds of the read (``time.monotonic()`` by default); only the
                differences between chunks matter.
            started: POSIX time of the first chunk (``time.time()`` by default); used only
                on the first call.
        """
        if not data:
            return
        if self._file is None:
            raise ValueError("recorder is closed")
        mono = time.monotonic() if t is None else t
        if self._t0 is None:
            self._t0 = mono
            self._header(time.time() if started is None else started)
        line = {"t": round(mono - self._t0, 6), "hex": bytes(data).hex()}
        self._file.write(json.dumps(line) + "\n")
        if self._flush:
            self._file.flush()
        self.chunks += 1
        self.bytes += len(data)

    def _header(self, started: float) -> None:
        assert self._file is not None
        header = {"format": RAW_FORMAT, "version": RAW_VERSION, "protocol": self.protocol,
                  "started": round(started, 6), "direction": self.direction}
        self._file.write(json.dumps(header) + "\n")

    def close(self) -> None:
        """Finish the file. Safe to call twice."""
        if self._file is None:
            return
        if self._t0 is None:
            self._header(time.time())
        self._file.close()
        self._file = None

    def __enter__(self) -> RawRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _parse_header(line: str, path: object) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: line 1 is not JSON: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != RAW_FORMAT:
        raise ValueError(f"{path}: not a {RAW_FORMAT} recording (bad header line)")
    if header.get("version") != RAW_VERSION:
        raise ValueError(f"{path}: unsupported version {header.get('version')!r} "
                         f"(this reader knows {RAW_VERSION})")
    return header


def read_raw_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The header of a ``*.raw.jsonl`` recording (format, version, protocol, started...).

    Raises:
        ValueError: not a raw recording, or an unknown version.
    """
    with open(path, encoding="utf-8") as f:
        return _parse_header(f.readline(), path)


def read_raw(path: str | os.PathLike[str]) -> Iterator[RawChunk]:
    """Yield the chunks of a ``*.raw.jsonl`` recording in order.

    A truncated last line (a recorder killed mid-write) is skipped with a warning.

    Raises:
        ValueError: bad header, or a malformed line before the last one.
    """
    with open(path, encoding="utf-8") as f:
        _parse_header(f.readline(), path)
        pending: tuple[int, str, Exception] | None = None
        for number, line in enumerate(f, start=2):
            if pending is not None:
                raise ValueError(f"{path}: line {pending[0]}: {pending[2]}")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                chunk = RawChunk(float(obj["t"]), bytes.fromhex(obj["hex"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                pending = (number, line, exc)
                continue
            yield chunk
        if pending is not None:
            _LOGGER.warning("%s: line %d is truncated or malformed, skipped", path, pending[0])


# -- recording a device -----------------------------------------------------------------------


async def record(
    protocol: str,
    url: str,
    out: str,
    duration: float | None = None,
    *,
    options: dict[str, Any] | None = None,
    status_every: float = 5.0,
    stream: IO[str] | None = None,
) -> int:
    """Record what the device at ``url`` sends into the raw recording ``out``.

    The device is opened like any other (:func:`drivers.open_device`, the protocol's
    serial settings and handshake) and read through the one device loop,
    :class:`drivers.base.Device`, whose tap writes each chunk to the file as read. Its
    host codec decodes the stream as it goes so that the operator sees, on ``stream``
    (stderr) every ``status_every`` seconds, that frames are arriving and decoding; its
    requests (handshakes, polls: GE S/5 only talks when asked) go to the device.

    Args:
        protocol: registry name (``masimo``...).
        url: serial device path or ``socket://host:port``.
        out: the ``*.raw.jsonl`` file to write.
        duration: seconds to record; ``None`` records until cancelled (Ctrl-C). On
            cancellation the file is closed and complete, and ``CancelledError`` propagates.
        options: protocol options for the host codec (``baudrate`` overrides the line speed).
        status_every: seconds between status lines.
        stream: where status lines go (default ``sys.stderr``).

    Returns:
        0 when the duration elapsed; 1 when the protocol is unknown, the port could not
        be opened or the device went away (what was read so far is kept).
    """
    err = stream if stream is not None else sys.stderr
    try:
        device = await drivers.open_device(url, protocol, device_id="record", **(options or {}))
    except (DriverError, ValueError) as exc:
        print(f"record: {exc}", file=err)
        return 1
    recorder = RawRecorder(out, protocol)
    device.tap = lambda data, now: recorder.write(data, started=now)
    observations = 0

    def report(final: bool = False) -> None:
        s = device.codec.stats
        print(f"record: {recorder.bytes} bytes in {recorder.chunks} chunks, "
              f"{s['frames_ok']} frames ok, {s['frames_bad']} bad, "
              f"{observations} observations{' (done)' if final else ''}", file=err)

    async def report_every() -> None:
        while True:
            await asyncio.sleep(status_every)
            report()

    print(f"record: {protocol} from {url} ({device.settings.describe()}) into {out}",
          file=err)
    status = 0
    reporter = asyncio.create_task(report_every())
    try:
        async with asyncio.timeout(duration):
            async for event in device:
                if isinstance(event, Observation):
                    observations += 1
    except TimeoutError:
        pass  # the duration elapsed
    except DeviceDisconnected as exc:
        if exc.__cause__ is None:
            print(f"record: {url} closed the connection", file=err)
        else:
            print(f"record: {url} disconnected: {exc.__cause__}", file=err)
        status = 1
    finally:
        reporter.cancel()
        recorder.close()
        with contextlib.suppress(Exception):
            await device.aclose()
        report(final=True)
    return status


# -- replaying onto a port ------------------------------------------------------------------------


async def replay_raw(
    path: str | os.PathLike[str],
    port: PtyPort | SerialPort,
    speed: float = 1.0,
    loop: bool = False,
    max_gap: float | None = None,
) -> int:
    """Write a raw recording onto ``port`` byte for byte, at its recorded pace.

    What the driver sends back is read and ignored (a replay cannot answer), so that a
    polling driver never blocks on a full port.

    Args:
        path: a ``*.raw.jsonl`` recording.
        port: where to write (the device end).
        speed: recorded seconds per wall-clock second; 0 is as fast as the reader takes.
        loop: start again at the end, until cancelled.
        max_gap: shorten pauses longer than this many recorded seconds.

    Returns:
        The number of bytes written.

    Raises:
        ValueError: not a raw recording.
    """
    header = read_raw_header(path)
    if header.get("direction", "device") != "device":
        _LOGGER.warning("%s holds %s bytes, replaying them as device output", path,
                        header.get("direction"))
    port.on_receive(lambda data: None)
    written = 0
    async for chunk in Pacer(read_raw(path), speed=speed, max_gap=max_gap, loop=loop):
        await port.write_all(chunk.data)
        written += len(chunk.data)
    return written


# -- CLI glue ------------------------------------------------------------------------------


def configure_record_parser(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the options of ``spu-monitor record`` to ``p``."""
    p.add_argument("--protocol", required=True, help="protocol name (masimo, nonin, ...)")
    p.add_argument("--port", required=True, metavar="URL",
                   help="serial device path or socket://host:port")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="recording to write, conventionally NAME.raw.jsonl")
    p.add_argument("--duration", type=float, default=None, metavar="S",
                   help="seconds to record (default: until Ctrl-C)")
    p.add_argument("--baudrate", type=int, default=None,
                   help="override the protocol's line speed")
    p.add_argument("--status-every", type=float, default=5.0, metavar="S",
                   help="seconds between progress lines on stderr (default 5)")
    return p


def run_record(args: argparse.Namespace) -> int:
    """Run ``spu-monitor record`` from parsed arguments; returns the exit status."""
    options: dict[str, Any] = {}
    if getattr(args, "baudrate", None):
        options["baudrate"] = args.baudrate
    try:
        return asyncio.run(record(args.protocol, args.port, args.out, args.duration,
                                  options=options,
                                  status_every=getattr(args, "status_every", 5.0)))
    except KeyboardInterrupt:
        return 0  # the recorder closed its file on the way out


def replay_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--replay FILE --speed X --loop`` to ``spu-monitor simulate``.

    ``--speed`` and ``--loop`` are only added if the parser lacks them, so they can be
    shared with scenario playback.
    """
    p.add_argument("--replay", metavar="FILE", default=None,
                   help="replay a raw recording (*.raw.jsonl) instead of a scenario")
    known = {s for action in p._actions for s in action.option_strings}
    if "--speed" not in known:
        p.add_argument("--speed", type=float, default=1.0, metavar="X",
                       help="playback speed factor, 0 = as fast as possible (default 1)")
    if "--loop" not in known:
        p.add_argument("--loop", action="store_true", help="start again at the end")
    return p


async def run_replay(args: argparse.Namespace, port: PtyPort | SerialPort) -> None:
    """Replay ``args.replay`` onto ``port`` with ``args.speed`` and ``args.loop``."""
    written = await replay_raw(args.replay, port, speed=getattr(args, "speed", 1.0),
                               loop=getattr(args, "loop", False))
    _LOGGER.info("replayed %d bytes of %s onto %s", written, args.replay, port.path)
