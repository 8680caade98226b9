"""Decoder throughput: how many times its line rate a protocol's host codec decodes.

The performance target is every decoder at 1000 times the rate its link can carry, so
one core decodes a thousand saturated lines. :func:`measure` makes a long stream with the
protocol's simulator (a scenario with waveforms where the protocol has them), passes it
through a model of the serial line, and feeds the chunks a host would read, with their
read times, to a fresh ``drivers.codec(name)``:

- the **line rate** is what the link carries, in bytes per second: the baud rate over
  the bits of one character (start bit, data bits, parity bit, stop bits), so 9600 8N1
  carries 960 B/s and GE's 19200 8E1 1745 B/s. HL7 normally comes over TCP, whose link
  carries far more than any monitor sends; its realistic rate is one ORU^R01 a second
  from each monitor (about 550 B/s from the simulator), and its serial set-up (9600 8N1,
  960 B/s) is higher, so the serial rate is used for every protocol;
- the **chunks** are what a USB-serial adapter hands the host: bytes queue on the line
  and leave it at the line rate, and the adapter delivers what arrived each 16 ms (an
  FTDI's default latency timer), so a 9600 8N1 line gives reads of 15 or 16 bytes, and
  a Masimo line of 127 bytes comes in nine reads;
- the **decode rate** is the stream's bytes over the CPU time (``time.process_time``, so
  other processes on the machine count less) the codec took: the best of ``repeat`` runs
  after a warm-up, more runs for a short stream (until :data:`MIN_CPU` adds up).

``benchmarks/decoders.py`` prints the figures; a ``spu-monitor bench`` command may import
:func:`measure_all`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import drivers
import simulators
from drivers.base import HostCodec, SerialSettings
from drivers.conformance import Variant
from simulators.base import DeviceCodec
from simulators.scenarios import SCENARIOS

CLOCK0 = 1_700_000_000.0
"""Device clock at scenario time 0 (any whole second)."""
LATENCY = 0.016
"""Seconds between two reads: the latency timer of an FTDI USB-serial adapter."""
TARGET = 1000.0
"""Times its line rate every decoder must decode."""
MIN_CPU = 0.25
"""CPU seconds the runs of one measurement add up to, at least (short streams run more)."""
MAX_RUNS = 1000


@dataclass(frozen=True, slots=True)
class Throughput:
    """How fast one protocol variant decodes.

    Attributes:
        protocol: registry name.
        variant: the variant's id (empty for a protocol's only variant).
        bytes: size of the stream decoded.
        chunks: reads it came in.
        device_seconds: device time the stream covers.
        cpu_seconds: CPU time the codec took to decode it (best run).
        events: events decoded (observations, waveform chunks, device status).
        frames_ok: frames the codec accepted.
        frames_bad: frames it rejected (0 for a clean stream).
        line_rate: bytes per second the link carries.
    """

    protocol: str
    variant: str
    bytes: int
    chunks: int
    device_seconds: float
    cpu_seconds: float
    events: int
    frames_ok: int
    frames_bad: int
    line_rate: float

    @property
    def name(self) -> str:
        """``protocol`` or ``protocol-variant``."""
        return f"{self.protocol}-{self.variant}" if self.variant else self.protocol

    @property
    def rate(self) -> float:
        """Bytes decoded per CPU second."""
        return self.bytes / self.cpu_seconds if self.cpu_seconds > 0 else math.inf

    @property
    def ratio(self) -> float:
        """The decode rate over the line rate (the target is :data:`TARGET`)."""
        return self.rate / self.line_rate

    @property
    def stream_rate(self) -> float:
        """Bytes per second the device sends (at most the line rate)."""
        return self.bytes / self.device_seconds


def line_rate(settings: SerialSettings) -> float:
    """Bytes per second a serial line carries: baud rate over the bits per character."""
    parity = 0 if settings.parity == "N" else 1
    return settings.baudrate / (1 + settings.bytesize + parity + settings.stopbits)


def device_stream(
    protocol: str, variant: Variant | None = None, *, scenario: str = "stable",
    seconds: float = 300.0, latency: float = LATENCY,
) -> list[tuple[float, bytes]]:
    """What a host reads from the simulated device: ``(read time, chunk)`` pairs.

    The simulator runs ``scenario`` for ``seconds`` against a live host codec (whose
    requests it answers: handshakes, format commands, acknowledgements), and its bytes go
    through a line that carries :func:`line_rate` bytes per second, read every
    ``latency`` seconds.

    Raises:
        UnknownProtocolError: no driver or no simulator for ``protocol``.
        ValueError: unknown scenario.
    """
    variant = variant or Variant()
    host = drivers.codec(protocol, device_id="bench", **variant.host)
    device = simulators.device_codec(protocol, **variant.device)
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}")
    script = SCENARIOS[scenario]
    per_read = line_rate(host.serial_settings) * latency
    host.start()
    device.start()
    line = bytearray()
    credit = 0.0
    out: list[tuple[float, bytes]] = []
    for i in range(round(seconds / latency)):
        t = i * latency
        now = CLOCK0 + t
        device.advance(now, script.at(t))
        _answer(host, device)
        for data in device.data_to_send():
            line += data
        credit = credit + per_read if line else 0.0
        n = min(len(line), int(credit))
        if n:
            credit -= n
            chunk = bytes(line[:n])
            del line[:n]
            out.append((now, chunk))
            host.receive_data(chunk, now)
            host.events_received()
    return out


def _answer(host: HostCodec, device: DeviceCodec) -> None:
    for data in host.data_to_send():
        device.receive_data(data)


def decode(protocol: str, variant: Variant | None,
           stream: Iterable[tuple[float, bytes]]) -> tuple[float, int, HostCodec]:
    """Feed ``stream`` to a fresh host codec as a device shell would.

    Returns:
        CPU seconds taken, events decoded, and the codec (for its counters).
    """
    variant = variant or Variant()
    host = drivers.codec(protocol, device_id="bench", **variant.host)
    host.start()
    host.data_to_send()
    events = 0
    receive, received, to_send = host.receive_data, host.events_received, host.data_to_send
    start = time.process_time()
    for now, chunk in stream:
        receive(chunk, now)
        events += len(received())
        to_send()
    return time.process_time() - start, events, host


def measure(protocol: str, variant: Variant | None = None, *, scenario: str = "stable",
            seconds: float = 300.0, repeat: int = 5) -> Throughput:
    """Measure how fast ``protocol`` (in ``variant``) decodes ``seconds`` of ``scenario``.

    Args:
        protocol: registry name.
        variant: host and device options (default: none).
        scenario: what the simulated patient does.
        seconds: device time of the stream.
        repeat: decode it this many times with fresh codecs (more while they add up to
            less than :data:`MIN_CPU`); the fastest run counts.

    Raises:
        UnknownProtocolError: no driver or no simulator for ``protocol``.
        ValueError: unknown scenario, or ``repeat`` below 1.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    variant = variant or Variant()
    stream = device_stream(protocol, variant, scenario=scenario, seconds=seconds)
    decode(protocol, variant, stream)  # warm-up: imports, caches; not counted
    runs = [decode(protocol, variant, stream) for _ in range(repeat)]
    # A slow device's stream decodes in a millisecond or two: run it until the runs add up
    # to MIN_CPU, so the fastest one is not a timer's or a scheduler's accident.
    while sum(run[0] for run in runs) < MIN_CPU and len(runs) < MAX_RUNS:
        runs.append(decode(protocol, variant, stream))
    cpu, events, host = min(runs, key=lambda run: run[0])
    return Throughput(
        protocol, variant.id, sum(len(c) for _, c in stream), len(stream), seconds, cpu,
        events, host.frames_ok, host.frames_bad, line_rate(host.serial_settings))


def measure_all(*, scenario: str = "stable", seconds: float = 300.0,
                repeat: int = 5) -> list[Throughput]:
    """:func:`measure` every variant (``HostCodec.conformance``) of every protocol that has
    a driver and a simulator."""
    out = []
    for name in sorted(set(drivers.PROTOCOLS) & set(simulators.DEVICE_CODECS)):
        for variant in drivers.codec_class(name).conformance.variants:
            out.append(measure(name, variant, scenario=scenario, seconds=seconds,
                               repeat=repeat))
    return out
