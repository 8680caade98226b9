"""Lossless codec for full-disclosure waveform blocks: samples in, compact bytes out.

Pure: no I/O, no clock, no logging. :func:`encode_block` and :func:`decode_block` are
exact inverses: every float comes back bit for bit (``-0.0``, NaN payloads, infinities
included) and every ``None`` (a gap) at the same place.

Method, per block:

1. **Gaps.** ``None`` positions become a run-length mask; the present values are coded
   as one sequence (prediction runs across a gap).
2. **Quantum.** Drivers publish device counts scaled to floats: the GE S/5 sends ECG in
   10 µV steps and pleth in 1/100 (``round(raw * 0.01, 6)``, which is ``raw / 100`` bit
   for bit), Nonin sends raw counts, WFDB records are ``adc / gain``. The encoder looks
   for a divisor ``d`` (:data:`DIVISORS`, smallest first) such that every value is
   exactly ``float(k) / d`` for an integer ``k``, checked with the very operation the
   decoder uses, so the check is the proof. Up to one value in :data:`EXCEPTION_SHARE`
   may be off the grid (NaN, infinities, ``-0.0``, a stray value): those are stored
   apart as exceptions (position and float64 bits) and the integer sequence holds the
   previous value there. When no divisor fits that well, the block keeps the raw
   float64 bit patterns of all its values instead.
3. **Prediction.** Integer samples are replaced by their first or second differences
   (order 0, 1 or 2, whichever gives the smallest residuals for this block), then
   zigzag-coded to unsigned.
4. **Entropy coding.** The residuals are stored in the fewest bytes each needs, split
   into byte planes (all low bytes, then the next ones...) and compressed with Zstandard
   (level 12 for small bodies, its fast strategy for large ones: :data:`_SMALL_BODY`).

Block layout (all integers little-endian)::

    offset size field
    0      1    version        FORMAT_VERSION (1)
    1      1    kind           0: integers k / divisor, 1: raw float64 bit patterns
    2      1    order          prediction order, 0..2 (0 for raw floats)
    3      1    width          bytes per residual, 1..8 (8 for raw floats)
    4      4    count          samples in the block, gaps included (u32)
    8      4    runs           run lengths in the gap mask (u32); 0: no gap
    12     4    exceptions     values stored apart from the grid (u32; 0 for raw floats)
    16     8    divisor        float64, finite and > 0 (1.0 for raw floats)
    24     n    body           one Zstandard frame of: runs x u32 (the gap mask);
                               exceptions x u32 (their positions among the present
                               values, increasing); exceptions x u64 (their bits); then
                               width byte planes of the present values' residuals
    24+n   4    crc32          of every byte before it

The gap mask alternates present and missing runs, starting with a present run (which
may be empty): ``[3, 2, 5]`` is 3 values, 2 gaps, 5 values; an all-``None`` block of 7 is
``[0, 7]``. A block that fails any check (length, checksum, version, field ranges, sizes)
raises :class:`~monitor.domain.errors.StoreError`, and nothing else.

Block size: :data:`BLOCK_SECONDS` (10 s). Each block is coded on its own (Zstandard learns
its statistics afresh, and the 28 bytes of header and checksum plus the frame header are
paid again), so longer blocks are smaller: on MIT-BIH record 106 as a GE S/5 sends it,
5-s blocks cost 6 % more than 10-s ones, 30-s blocks save 4 % and 60-s blocks 4.5 %
(100-Hz pleth: +22 % at 5 s, -7 % at 30 s, but pleth is a sixth of the total). Reads,
though, decode whole blocks: a 30-s alarm window touches 3 or 4 blocks of 10 s (at most
40 s decoded, about 0.1 ms each), where 60-s blocks would decode up to 120 s, and a
writer holds up to a block of signal in memory before it is stored. A writer that stops
flushes a shorter last block; any length decodes.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import zstandard

from monitor.domain.errors import StoreError

FORMAT_VERSION = 1
"""Written as the first byte of every block; :func:`decode_block` refuses others."""

BLOCK_SECONDS = 10.0
"""Seconds of signal per stored block (see the module docstring for the trade-off)."""

DIVISORS: tuple[float, ...] = (1.0, 10.0, 100.0, 200.0, 1000.0, 10000.0)
"""Quanta tried, smallest first: raw counts (Nonin), 1/10, 1/100 (GE S/5 ECG in 10 µV and
pleth), 1/200 (MIT-BIH's 200 adu/mV), 1/1000, and 1/10000 (values rounded to 4 places,
as the simulators produce them)."""

EXCEPTION_SHARE = 8
"""At most one value in this many may be an exception on the integer grid: an exception
costs 12 bytes, a block of raw float64 values about 5 bytes a value."""

MAX_SAMPLES = 1 << 24
"""Most samples in one block (15 h at 300 Hz): bounds what a corrupt header can ask for."""

_SMALL_BODY = 2048
"""Bodies up to this size (a 10-s block of 100-Hz pleth) get Zstandard's optimal parser
(level 12): its short matches make slow, smooth signals 10 % smaller than the fast
strategy does, for about 10 µs per second of pleth. Larger bodies (300-Hz ECG) are
noise-like residuals whose coding is all in the literals: the fast strategy with long
minimum matches codes them as small as level 12 does (within 1 %) in a tenth of the time."""

_LARGE_PARAMS = zstandard.ZstdCompressionParameters(
    window_log=17, chain_log=17, hash_log=17, search_log=1, min_match=7,
    strategy=zstandard.STRATEGY_FAST)

KIND_INT = 0
"""Block kind: integers ``k`` stored, samples are ``float(k) / divisor``."""
KIND_FLOAT = 1
"""Block kind: the samples' float64 bit patterns, stored as they are."""

_HEADER = struct.Struct("<BBBBIIId")
_CRC = struct.Struct("<I")
_MAX_ORDER = 2
_PROBE = 32
_EXACT_INT = float(1 << 53)  # beyond this, float(k) is not every integer k


@dataclass(frozen=True, slots=True)
class Block:
    """A stored block of one waveform: where it sits in time, and its encoded samples.

    Storage keeps ``time``, ``sample_rate``, ``unit`` and ``count`` as columns, so a time
    range is found without decoding; ``payload`` is what :func:`encode_block` returns.

    Attributes:
        time: POSIX seconds of the first sample.
        sample_rate: samples per second.
        unit: UCUM unit of the samples.
        count: samples in the block, gaps included.
        payload: the encoded samples.
    """

    time: float
    sample_rate: float
    unit: str
    count: int
    payload: bytes

    @classmethod
    def encode(cls, time: float, sample_rate: float, unit: str,
               samples: Sequence[float | None]) -> Block:
        """Encode ``samples`` starting at ``time`` into a block.

        Raises:
            ValueError: ``sample_rate`` is not positive, or as :func:`encode_block`.
        """
        if not sample_rate > 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        return cls(time, sample_rate, unit, len(samples), encode_block(samples))

    @property
    def end(self) -> float:
        """POSIX seconds just after the last sample (the next block's ``time``)."""
        return self.time + self.count / self.sample_rate

    def samples(self) -> tuple[float | None, ...]:
        """The decoded samples.

        Raises:
            StoreError: the payload is corrupt, or holds another number of samples.
        """
        samples = decode_block(self.payload)
        if len(samples) != self.count:
            raise StoreError(f"waveform block holds {len(samples)} samples, "
                             f"its row says {self.count}")
        return samples


def block_length(sample_rate: float) -> int:
    """Samples in a full block of :data:`BLOCK_SECONDS` at ``sample_rate`` (3000 at 300 Hz)."""
    if not sample_rate > 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return max(1, round(BLOCK_SECONDS * sample_rate))


# -- encoding --------------------------------------------------------------------------------


def encode_block(samples: Sequence[float | None],
                 divisors: Sequence[float] = DIVISORS) -> bytes:
    """Encode samples losslessly (see the module docstring for the layout).

    Args:
        samples: the values; ``None`` marks a missing sample.
        divisors: quanta to try, in order; the first that reproduces every value exactly
            is used. Pass a device's own (``adc_gain``) when it is not in :data:`DIVISORS`.

    Returns:
        The block's bytes, for :func:`decode_block`.

    Raises:
        ValueError: more than :data:`MAX_SAMPLES` samples, a divisor that is not a finite
            positive number, nested sequences, or a sample that is not a number or
            ``None``.
        TypeError: a sample of a type NumPy cannot read as a float.
    """
    n = len(samples)
    if n > MAX_SAMPLES:
        raise ValueError(f"a block holds at most {MAX_SAMPLES} samples, got {n}")
    for d in divisors:
        if not (math.isfinite(d) and d > 0):
            raise ValueError(f"divisors must be finite and positive, got {d}")
    values, runs = _split_gaps(samples)
    found = _quantise(values, divisors)
    if found is None:
        kind, order, width, divisor = KIND_FLOAT, 0, 8, 1.0
        stored = values.view(np.uint64)
        where = np.zeros(0, dtype=np.int64)
    else:
        ints, divisor, off = found
        kind = KIND_INT
        order, residuals = _predict(ints)
        stored = _zigzag(residuals)
        width = _width(stored)
        where = np.flatnonzero(off)
    exceptions = values.view(np.uint64)[where]
    body = b"".join((runs.astype("<u4").tobytes(), where.astype("<u4").tobytes(),
                     exceptions.astype("<u8").tobytes(), _planes(stored, width)))
    header = _HEADER.pack(FORMAT_VERSION, kind, order, width, n, len(runs), len(where),
                          divisor)
    block = header + _compressor(len(body)).compress(body)
    return block + _CRC.pack(zlib.crc32(block))


def _compressor(size: int) -> zstandard.ZstdCompressor:
    # A new one per block (some µs): a compressor must not be shared between threads.
    if size <= _SMALL_BODY:
        return zstandard.ZstdCompressor(level=12)
    return zstandard.ZstdCompressor(compression_params=_LARGE_PARAMS)


def _split_gaps(samples: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    """The present values as float64, and the gap mask's run lengths."""
    # NumPy reads None as NaN: only NaN positions need a look at the Python objects.
    allv = np.array(samples, dtype=np.float64)
    if allv.ndim != 1:
        raise ValueError(f"samples must be a flat sequence, got shape {allv.shape}")
    nan = np.flatnonzero(np.isnan(allv))
    gap = np.zeros(len(allv), dtype=bool)
    if len(nan):
        gap[nan] = [samples[i] is None for i in nan.tolist()]
    if not gap.any():
        return allv, np.zeros(0, dtype=np.int64)
    # Run boundaries: where the mask changes, plus a leading present run (maybe empty).
    edges = np.flatnonzero(np.diff(gap)) + 1
    bounds = np.concatenate(([0], edges, [len(gap)]))
    runs = np.diff(bounds)
    if gap[0]:
        runs = np.concatenate(([0], runs))
    return allv[~gap], runs.astype(np.int64)


def _quantise(values: np.ndarray,
              divisors: Sequence[float]) -> tuple[np.ndarray, float, np.ndarray] | None:
    """Integers ``k``, the divisor, and the exceptions' mask: elsewhere, ``float(k) /
    divisor`` is bit-identical to the value. The first exact divisor wins, else the one
    with the fewest exceptions (at most one in :data:`EXCEPTION_SHARE`)."""
    bits = values.view(np.uint64)
    best: tuple[np.ndarray, float, np.ndarray] | None = None
    fewest = len(values) // EXCEPTION_SHARE
    with np.errstate(over="ignore"):  # a huge value times d is inf: an exception, not an error
        for d in divisors:
            # A wrong divisor nearly always fails on the first values: try those first.
            _, head_off = _on_grid(values[:_PROBE], bits[:_PROBE], d)
            if int(head_off.sum()) > len(head_off) // EXCEPTION_SHARE:
                continue
            ints, off = _on_grid(values, bits, d)
            n_off = int(off.sum())
            if n_off == 0:
                return ints, float(d), off
            if n_off <= fewest and (best is None or n_off < int(best[2].sum())):
                best = ints, float(d), off
    if best is None:
        return None
    ints, d, off = best
    return _hold(ints, off), d, off


def _on_grid(values: np.ndarray, bits: np.ndarray,
             divisor: float) -> tuple[np.ndarray, np.ndarray]:
    """The nearest integers ``k`` (0 past 2**53 or for NaN) and where ``float(k) / divisor``
    is not bit-identical to the value."""
    scaled = np.rint(values * divisor)
    ints = np.where(np.abs(scaled) < _EXACT_INT, scaled, 0.0).astype(np.int64)
    return ints, _dequantise(ints, divisor).view(np.uint64) != bits


def _hold(ints: np.ndarray, off: np.ndarray) -> np.ndarray:
    """``ints`` with each exception replaced by the value before it (leading ones by the
    first good value), so an exception costs the predictor nothing."""
    index = np.where(off, 0, np.arange(len(ints)))
    np.maximum.accumulate(index, out=index)
    first_good = int(np.argmin(off))
    index[:first_good] = first_good
    out: np.ndarray = ints[index]
    return out


def _dequantise(ints: np.ndarray, divisor: float) -> np.ndarray:
    """The decoder's reconstruction; the encoder checks its candidates with it."""
    out: np.ndarray = ints.astype(np.float64) / divisor
    return out


def _predict(ints: np.ndarray) -> tuple[int, np.ndarray]:
    """The prediction order with the smallest residuals, and those residuals."""
    best_order, best = 0, ints
    best_cost = float(np.abs(ints).sum(dtype=np.float64))
    residuals = ints
    for order in range(1, _MAX_ORDER + 1):
        # np.diff wraps in int64 like the decoder's cumsum, so the pair is exact.
        residuals = np.diff(residuals, prepend=0)
        cost = float(np.abs(residuals).sum(dtype=np.float64))
        if cost < best_cost:
            best_order, best, best_cost = order, residuals, cost
    return best_order, best


def _zigzag(residuals: np.ndarray) -> np.ndarray:
    signed = residuals.astype(np.int64)
    out: np.ndarray = ((signed << 1) ^ (signed >> 63)).view(np.uint64)
    return out


def _width(stored: np.ndarray) -> int:
    top = int(stored.max()) if len(stored) else 0
    return max(1, (top.bit_length() + 7) // 8)


def _planes(stored: np.ndarray, width: int) -> bytes:
    """Byte planes: the low byte of every value, then the next byte of every value..."""
    as_bytes = stored.astype("<u8").view(np.uint8).reshape(-1, 8)
    return as_bytes[:, :width].T.tobytes()


# -- decoding --------------------------------------------------------------------------------


def decode_block(data: bytes) -> tuple[float | None, ...]:
    """Decode a block made by :func:`encode_block`.

    Args:
        data: the block's bytes.

    Returns:
        The samples, bit-identical to those encoded, with ``None`` for gaps.

    Raises:
        StoreError: the block is truncated, corrupt, or of an unknown format version.
    """
    data = bytes(data)
    minimum = _HEADER.size + _CRC.size
    if len(data) < minimum:
        raise StoreError(f"waveform block truncated: {len(data)} bytes, "
                         f"a block has at least {minimum}")
    if data[0] != FORMAT_VERSION:
        raise StoreError(f"waveform block of unknown format version {data[0]} "
                         f"(this build reads version {FORMAT_VERSION})")
    (crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
    if zlib.crc32(data[: -_CRC.size]) != crc:
        raise StoreError("waveform block corrupt or truncated: checksum mismatch")
    _, kind, order, width, count, nruns, nexc, divisor = _HEADER.unpack_from(data)
    _check_header(kind, order, width, count, nruns, nexc, divisor)
    lists = 4 * nruns + 12 * nexc
    body = _decompress(data[_HEADER.size : -_CRC.size], lists + width * count)
    if len(body) < lists:
        raise StoreError(f"waveform block corrupt: body too short for {nruns} gap runs "
                         f"and {nexc} exceptions")
    runs = np.frombuffer(body, dtype="<u4", count=nruns).astype(np.int64)
    present = _check_runs(runs, count)
    where = np.frombuffer(body, dtype="<u4", count=nexc, offset=4 * nruns).astype(np.int64)
    if nexc and (int(where[-1]) >= present or not (np.diff(where) > 0).all()):
        raise StoreError("waveform block corrupt: exception positions out of order or range")
    exceptions = np.frombuffer(body, dtype="<u8", count=nexc, offset=4 * (nruns + nexc))
    payload = body[lists:]
    if len(payload) != width * present:
        raise StoreError(f"waveform block corrupt: {len(payload)} bytes of samples "
                         f"for {present} samples of {width} bytes")
    stored = _unplanes(payload, width, present)
    if kind == KIND_FLOAT:
        values = stored.astype(np.uint64).view(np.float64)  # '<u8' to native, then bits
    else:
        ints = _unzigzag(stored)
        for _ in range(order):
            ints = np.cumsum(ints, dtype=np.int64)
        values = _dequantise(ints, divisor)
        values[where] = exceptions.astype(np.uint64).view(np.float64)
    return _merge_gaps(values.tolist(), runs, count)


def _check_header(kind: int, order: int, width: int, count: int, nruns: int, nexc: int,
                  divisor: float) -> None:
    if kind not in (KIND_INT, KIND_FLOAT):
        raise StoreError(f"waveform block corrupt: unknown kind {kind}")
    if not 0 <= order <= _MAX_ORDER or (kind == KIND_FLOAT and order):
        raise StoreError(f"waveform block corrupt: prediction order {order}")
    if not 1 <= width <= 8 or (kind == KIND_FLOAT and width != 8):
        raise StoreError(f"waveform block corrupt: sample width {width}")
    if count > MAX_SAMPLES or nruns > count + 1:
        raise StoreError(f"waveform block corrupt: {count} samples in {nruns} runs")
    if nexc > count or (kind == KIND_FLOAT and nexc):
        raise StoreError(f"waveform block corrupt: {nexc} exceptions in {count} samples")
    if not (math.isfinite(divisor) and divisor > 0):
        raise StoreError(f"waveform block corrupt: divisor {divisor}")


def _decompress(frame: bytes, expected: int) -> bytes:
    try:
        body = zstandard.ZstdDecompressor().decompress(frame, max_output_size=expected)
    except zstandard.ZstdError as exc:
        raise StoreError(f"waveform block corrupt: {exc}") from exc
    if len(body) > expected:
        raise StoreError("waveform block corrupt: body larger than its header allows")
    return body


def _check_runs(runs: np.ndarray, count: int) -> int:
    """The number of present samples the gap mask describes (``count`` if no gaps)."""
    if not len(runs):
        return count
    if int(runs.sum()) != count or (len(runs) > 1 and not runs[1:].all()):
        raise StoreError("waveform block corrupt: gap mask does not match the sample count")
    return int(runs[0::2].sum())


def _unplanes(payload: bytes, width: int, present: int) -> np.ndarray:
    as_bytes = np.zeros((present, 8), dtype=np.uint8)
    as_bytes[:, :width] = np.frombuffer(payload, dtype=np.uint8).reshape(width, present).T
    out: np.ndarray = as_bytes.view("<u8").reshape(-1)
    return out


def _unzigzag(stored: np.ndarray) -> np.ndarray:
    unsigned = stored.astype(np.uint64)
    half = (unsigned >> np.uint64(1)).view(np.int64)
    sign = (unsigned & np.uint64(1)).view(np.int64)
    out: np.ndarray = half ^ -sign
    return out


def _merge_gaps(values: list[float], runs: np.ndarray, count: int) -> tuple[float | None, ...]:
    if not len(runs):
        return tuple(values)
    out: list[float | None] = [None] * count
    pos = taken = 0
    for i, run in enumerate(runs.tolist()):
        if i % 2 == 0:
            out[pos : pos + run] = values[taken : taken + run]
            taken += run
        pos += run
    return tuple(out)
