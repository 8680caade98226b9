"""The decoder throughput measurement returns sane numbers for every protocol variant
(speed itself is measured by benchmarks/decoders.py, never asserted)."""

from __future__ import annotations

import math

import pytest

import drivers
import simulators
from drivers.base import SerialSettings
from drivers.conformance import Variant
from simulators.throughput import LATENCY, decode, device_stream, line_rate, measure


def _variants() -> list[object]:
    return [pytest.param(name, v, id=f"{name}-{v.id}" if v.id else name)
            for name in sorted(set(drivers.PROTOCOLS) & set(simulators.DEVICE_CODECS))
            for v in drivers.codec_class(name).conformance.variants]


def test_throughput_line_rate_counts_every_bit_of_a_character():
    assert line_rate(SerialSettings(9600)) == 960.0
    assert line_rate(SerialSettings(19200, parity="E")) == pytest.approx(19200 / 11)
    assert line_rate(SerialSettings(9600, bytesize=7, parity="O", stopbits=2)) == 872.7272727272727


@pytest.mark.parametrize(("name", "variant"), _variants())
def test_throughput_measure_is_sane(name: str, variant: Variant):
    t = measure(name, variant, seconds=20.0, repeat=1)
    assert (t.protocol, t.variant) == (name, variant.id)
    settings = drivers.codec_class(name).serial_settings
    assert t.line_rate == line_rate(settings)
    assert t.bytes > 0 and t.chunks > 0 and t.events > 0 and t.frames_ok > 0
    assert t.frames_bad == 0, "the benchmark stream is clean"
    assert t.cpu_seconds > 0 and t.rate == t.bytes / t.cpu_seconds
    assert t.ratio == pytest.approx(t.rate / t.line_rate)
    assert 0 < t.stream_rate <= t.line_rate


def test_throughput_stream_never_outruns_the_line():
    stream = device_stream("masimo", seconds=10.0)
    biggest = max(len(chunk) for _, chunk in stream)
    per_read = line_rate(drivers.codec_class("masimo").serial_settings) * LATENCY  # 15.36
    assert biggest == math.ceil(per_read)  # a Masimo line is longer: it takes many reads
    times = [now for now, _ in stream]
    assert times == sorted(times)
    _, events, host = decode("masimo", None, stream)
    assert events > 0 and host.frames_bad == 0


def test_throughput_rejects_bad_arguments():
    with pytest.raises(ValueError):
        measure("masimo", repeat=0)
    with pytest.raises(ValueError, match="scenario"):
        device_stream("masimo", scenario="nope", seconds=1.0)
