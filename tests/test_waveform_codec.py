"""The full-disclosure waveform codec: bit-exact round trips, sizes, and corrupt blocks."""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.ge_s5 import frames
from monitor.domain.errors import StoreError
from monitor.storage import waveform_codec as codec
from monitor.storage.waveform_codec import (
    KIND_FLOAT,
    KIND_INT,
    Block,
    block_length,
    decode_block,
    encode_block,
)
from simulators.waveforms import EcgSynth, PlethSynth
from tests.conftest import recordings_dir

HEADER = struct.Struct("<BBBBIIId")  # the layout documented in the module docstring
SESSION_BYTES = 3_000_000
SESSION_SECONDS = 4 * 3600


def bits(samples: Sequence[float | None]) -> list[bytes | None]:
    """Each sample's float64 bit pattern (None stays None): equal lists are bit-identical."""
    return [None if v is None else struct.pack("<d", v) for v in samples]


def assert_round_trip(samples: Sequence[float | None]) -> bytes:
    data = encode_block(samples)
    decoded = decode_block(data)
    assert isinstance(decoded, tuple)
    assert bits(decoded) == bits(samples)
    return data


class Header(NamedTuple):
    version: int
    kind: int
    order: int
    width: int
    count: int
    runs: int
    exceptions: int
    divisor: float


def header(data: bytes) -> Header:
    """The header fields of an encoded block."""
    return Header(*HEADER.unpack_from(data))


def ge_scaled(values: Sequence[float | None], scale: float) -> list[float | None]:
    """Values as the GE S/5 driver publishes them: wire counts of ``scale``, scaled back."""
    return [frames.value_or_none(frames.to_raw(v, scale), scale) for v in values]


def blocks_of(samples: Sequence[float | None], rate: float) -> list[Sequence[float | None]]:
    n = block_length(rate)
    return [samples[i : i + n] for i in range(0, len(samples), n)]


def forge(kind: int = KIND_INT, order: int = 1, width: int = 1, count: int = 3,
          runs: Sequence[int] = (), divisor: float = 1.0, payload: bytes = b"\x02\x02\x02",
          where: Sequence[int] = (), exceptions: Sequence[int] = (),
          body: bytes | None = None, version: int = codec.FORMAT_VERSION) -> bytes:
    """A block with a valid checksum and whatever fields: for the decoder's own checks."""
    if body is None:
        body = b"".join((struct.pack(f"<{len(runs)}I", *runs),
                         struct.pack(f"<{len(where)}I", *where),
                         struct.pack(f"<{len(exceptions)}Q", *exceptions), payload))
    block = HEADER.pack(version, kind, order, width, count, len(runs), len(where), divisor)
    block += zstandard.ZstdCompressor().compress(body)
    return block + struct.pack("<I", zlib.crc32(block))


# -- real recordings ---------------------------------------------------------------------------


@pytest.mark.recordings
@pytest.mark.parametrize("record", ["100", "106", "201", "205"])
def test_codec_round_trips_mitdb_records_bit_exact(record: str) -> None:
    from simulators.physio import import_wfdb

    wfdb = import_wfdb()
    path = str(recordings_dir() / "mitdb" / record)
    raw = wfdb.rdrecord(path, physical=False)
    physical = wfdb.rdrecord(path).p_signal
    for lead in range(raw.d_signal.shape[1]):
        # A driver reading the ADC would publish (adc - baseline) / gain: wfdb's own floats.
        adc = raw.d_signal[:, lead] - raw.baseline[lead]
        values = adc.astype(np.float64) / raw.adc_gain[lead]
        assert np.array_equal(values.view(np.uint64), physical[:, lead].view(np.uint64))
        samples = values.tolist()
        for chunk in blocks_of(samples, raw.fs):
            data = assert_round_trip(chunk)
            # 200 adu/mV: the 5-µV quantum was found, every value on it
            assert header(data)[1:2] + header(data)[6:] == (KIND_INT, 0, 200.0)


@pytest.mark.recordings
def test_codec_meets_the_session_budget_on_real_ecg_and_pleth() -> None:
    """Real ECG and pleth as a GE S/5 sends them fit 3 MB per 4-hour session."""
    from simulators.physio import recording_scenario

    base = recordings_dir()
    ecg_scenario = recording_scenario(str(base / "mitdb" / "106"))  # the densest record
    ecg = ecg_scenario.ecg_samples(0.0, 120.0, 300.0)
    pleth = recording_scenario(str(base / "physionet" / "a103l")).samples(
        "PLETH", 0.0, 120.0, 100.0)
    assert ecg is not None and pleth is not None
    per_second = 0.0
    for values, rate, scale in ((ecg, 300.0, frames.ECG_MV_PER_UNIT),
                                (pleth, 100.0, frames.PLETH_PER_UNIT)):
        samples = ge_scaled(values, scale)
        size = sum(len(assert_round_trip(chunk)) for chunk in blocks_of(samples, rate))
        per_second += size / (len(samples) / rate)
    assert per_second * SESSION_SECONDS <= SESSION_BYTES * 0.9  # measured: ~170 B/s


# -- synthetic streams as the drivers publish them -----------------------------------------------


def test_codec_round_trips_ge_scaled_ecg_and_pleth() -> None:
    ecg = ge_scaled(EcgSynth(300.0).next(6000, 75.0), frames.ECG_MV_PER_UNIT)
    pleth = ge_scaled(PlethSynth(100.0).next(2000, 75.0), frames.PLETH_PER_UNIT)
    for samples, rate in ((ecg, 300.0), (pleth, 100.0)):
        for chunk in blocks_of(samples, rate):
            data = assert_round_trip(chunk)
            h = header(data)
            assert (h.kind, h.count, h.exceptions, h.divisor) == (KIND_INT, len(chunk), 0, 100.0)
            assert len(data) < len(chunk)  # under a byte a sample, from 8


def test_codec_finds_raw_counts_and_simulator_rounding() -> None:
    counts = [float(v) for v in range(-50, 200, 3)]  # Nonin: raw pleth counts
    assert header(assert_round_trip(counts)).divisor == 1.0
    rounded = EcgSynth(300.0).next(900, 60.0)  # the synthesizer's 4-decimal values
    assert header(assert_round_trip(rounded)).divisor in (1000.0, 10000.0)


def test_codec_uses_a_given_divisor() -> None:
    values = (np.arange(-500, 500, dtype=np.float64) / 7247.0).tolist()  # a103l's ECG gain
    assert header(assert_round_trip(values)).kind == KIND_FLOAT
    data = encode_block(values, divisors=(7247.0,))
    assert header(data).kind == KIND_INT and header(data).divisor == 7247.0
    assert bits(decode_block(data)) == bits(values)


def test_codec_prediction_orders() -> None:
    ramp = [k / 100 for k in range(0, 3000, 7)]  # constant slope: second order is all zeros
    data = assert_round_trip(ramp)
    assert header(data).order == 2
    noise = np.random.default_rng(1).integers(-100, 100, 500) / 10  # white: no prediction
    assert header(assert_round_trip(noise.tolist())).order == 0


# -- gaps, edge cases, floats off every grid -------------------------------------------------------


@pytest.mark.parametrize("mask", [
    "N.........", "...N......", ".........N", "NNN....NNN", "..NNNN....", "N.N.N.N.N.",
    "NNNNNNNNNN", "N", ".", "",
])
def test_codec_keeps_gaps_in_place(mask: str) -> None:
    samples = [None if m == "N" else (i - 3) / 100 for i, m in enumerate(mask)]
    data = assert_round_trip(samples)
    assert header(data).count == len(samples)


def test_codec_gap_mask_is_run_lengths() -> None:
    samples = [None, None, 1.0, 2.0, 3.0, None, 4.0]
    data = encode_block(samples)
    assert header(data).runs == 5  # 0 present, 2 gaps, 3 present, 1 gap, 1 present
    all_none = encode_block([None] * 3000)
    assert header(all_none).runs == 2 and len(all_none) < 60


def test_codec_round_trips_empty_and_single_samples() -> None:
    assert decode_block(encode_block([])) == ()
    for value in (0.0, -0.0, 1.5, -7.25, 1e-300, math.inf, math.nan, None):
        assert_round_trip([value])


QUIET_NAN_PAYLOAD = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_1234))[0]
NEGATIVE_NAN = struct.unpack("<d", struct.pack("<Q", 0xFFF8_0000_0000_0001))[0]


def test_codec_keeps_a_few_off_grid_values_as_exceptions() -> None:
    clean: list[float | None] = ge_scaled(EcgSynth(300.0).next(3000, 70.0), 0.01)
    samples = list(clean)
    specials = [math.nan, QUIET_NAN_PAYLOAD, NEGATIVE_NAN, math.inf, -math.inf, -0.0,
                0.123456789, 1e300]
    for i, value in zip((0, 1, 500, 501, 1000, 1700, 2998, 2999), specials, strict=True):
        samples[i] = value
    samples[1500:1510] = clean[1500:1510] = [None] * 10
    data = assert_round_trip(samples)
    h = header(data)
    assert (h.kind, h.exceptions, h.divisor) == (KIND_INT, len(specials), 100.0)
    # Some 12 bytes an exception, where float64 bits would make the block 5-10 times larger.
    assert len(data) <= len(encode_block(clean)) + 16 * len(specials)


@pytest.mark.parametrize("samples", [
    [0.01, 0.02, math.nan, 0.04],  # 1 in 4: more than 1 in EXCEPTION_SHARE
    [math.inf, -math.inf, 0.5, None],
    [QUIET_NAN_PAYLOAD, NEGATIVE_NAN, None, 1.0],
    [-0.0, 0.0, 0.01],  # -0.0 is no integer over a divisor
    [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308],
    [2.0**60, 3.0],  # past 2**53 an integer grid would not be exact
    np.random.default_rng(2).standard_normal(1000).tolist(),
])
def test_codec_falls_back_to_float_bits_off_the_grid(samples: list[float | None]) -> None:
    data = assert_round_trip(samples)
    assert (header(data).kind, header(data).exceptions) == (KIND_FLOAT, 0)


def test_codec_accepts_any_sequence() -> None:
    assert decode_block(encode_block((0.5, None, 1))) == (0.5, None, 1.0)
    assert bits(decode_block(encode_block(np.array([0.25, 0.5])))) == bits([0.25, 0.5])


def test_codec_rejects_bad_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="divisors"):
        encode_block([1.0], divisors=(0.0,))
    with pytest.raises(ValueError, match="divisors"):
        encode_block([1.0], divisors=(math.nan,))
    with pytest.raises((TypeError, ValueError)):
        encode_block(["1.0x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="flat"):
        encode_block([[1.0, 2.0]])  # type: ignore[list-item]
    monkeypatch.setattr(codec, "MAX_SAMPLES", 10)
    with pytest.raises(ValueError, match="at most 10"):
        encode_block([0.0] * 11)


# -- corrupt and truncated blocks --------------------------------------------------------------


def test_codec_rejects_every_truncation_and_every_flipped_byte() -> None:
    samples = ge_scaled(EcgSynth(300.0).next(300, 80.0), 0.01)
    samples[100:120] = [None] * 20
    data = encode_block(samples)
    for n in range(len(data)):
        with pytest.raises(StoreError):
            decode_block(data[:n])
    for i in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= flip
            with pytest.raises(StoreError):
                decode_block(bytes(bad))
    with pytest.raises(StoreError, match="checksum"):
        decode_block(data + b"\x00")


def test_codec_names_what_is_wrong() -> None:
    with pytest.raises(StoreError, match="truncated"):
        decode_block(b"")
    with pytest.raises(StoreError, match="version 2"):
        decode_block(forge(version=2))
    with pytest.raises(StoreError, match="checksum"):
        decode_block(forge()[:-1] + b"\x00")


@pytest.mark.parametrize("fields, message", [
    ({"kind": 7}, "kind"),
    ({"order": 3}, "order"),
    ({"kind": KIND_FLOAT, "order": 1, "width": 8}, "order"),
    ({"width": 0}, "width"),
    ({"width": 9}, "width"),
    ({"kind": KIND_FLOAT, "order": 0, "width": 4}, "width"),
    ({"count": codec.MAX_SAMPLES + 1}, "samples"),
    ({"count": 2, "runs": (1, 1, 1, 1)}, "runs"),
    ({"divisor": 0.0}, "divisor"),
    ({"divisor": math.nan}, "divisor"),
    ({"divisor": -math.inf}, "divisor"),
    ({"count": 4}, "bytes of samples"),
    ({"payload": b"\x02\x02"}, "bytes of samples"),
    ({"runs": (1, 3), "count": 3}, "gap mask"),
    ({"runs": (1, 0, 2), "count": 3}, "gap mask"),
    ({"runs": (5,), "count": 3, "payload": b""}, "gap mask"),
    ({"runs": (3,), "body": b"\x01"}, "runs"),
    ({"where": (0,), "exceptions": (0,), "body": b"\x00\x00\x00\x00"}, "exceptions"),
    ({"where": (0, 1, 2, 3), "exceptions": (0,) * 4}, "exceptions"),
    ({"where": (3,), "exceptions": (0,)}, "exception positions"),
    ({"where": (1, 1), "exceptions": (0, 0)}, "exception positions"),
    ({"where": (2, 1), "exceptions": (0, 0)}, "exception positions"),
    ({"kind": KIND_FLOAT, "order": 0, "width": 8, "where": (0,), "exceptions": (0,),
      "payload": bytes(24)}, "exceptions"),
    ({"count": 1, "runs": (0, 1), "body": b"\x00\x00"}, "runs"),
])
def test_codec_rejects_inconsistent_blocks(fields: dict[str, object], message: str) -> None:
    with pytest.raises(StoreError, match=message):
        decode_block(forge(**fields))  # type: ignore[arg-type]


def test_codec_rejects_a_body_that_is_not_zstandard() -> None:
    block = HEADER.pack(codec.FORMAT_VERSION, KIND_INT, 1, 1, 3, 0, 0, 1.0) + b"not zstd"
    with pytest.raises(StoreError, match="corrupt"):
        decode_block(block + struct.pack("<I", zlib.crc32(block)))
    assert decode_block(forge()) == (1.0, 2.0, 3.0)  # the forge itself makes valid blocks
    patched = forge(where=(1,), exceptions=(struct.unpack("<Q", struct.pack("<d", -0.5))[0],))
    assert decode_block(patched) == (1.0, -0.5, 3.0)


# -- Block ----------------------------------------------------------------------------------------


def test_block_carries_time_rate_unit_and_count() -> None:
    samples = ge_scaled(PlethSynth(100.0).next(1000, 70.0), frames.PLETH_PER_UNIT)
    samples[0] = None
    block = Block.encode(1_790_000_000.0, 100.0, "1", samples)
    assert (block.count, block.unit, block.end) == (1000, "1", 1_790_000_010.0)
    assert bits(block.samples()) == bits(samples)
    wrong = Block(block.time, block.sample_rate, block.unit, 999, block.payload)
    with pytest.raises(StoreError, match="999"):
        wrong.samples()
    with pytest.raises(ValueError, match="sample_rate"):
        Block.encode(0.0, 0.0, "mV", [1.0])


def test_block_length_is_ten_seconds() -> None:
    assert (block_length(300.0), block_length(100.0), block_length(0.01)) == (3000, 1000, 1)
    with pytest.raises(ValueError):
        block_length(-1.0)


# -- properties ----------------------------------------------------------------------------------

any_samples = st.lists(st.none() | st.floats(allow_nan=True, allow_infinity=True), max_size=300)
grid_samples = st.tuples(
    st.sampled_from([1, 10, 100, 200, 1000]),
    st.lists(st.none() | st.integers(-(2**40), 2**40), max_size=300),
).map(lambda dk: [None if k is None else k / dk[0] for k in dk[1]])


@settings(max_examples=300, deadline=None)
@given(any_samples)
def test_codec_round_trips_any_floats_and_gaps(samples: list[float | None]) -> None:
    assert_round_trip(samples)


@settings(max_examples=300, deadline=None)
@given(grid_samples)
def test_codec_round_trips_quantised_values_as_integers(samples: list[float | None]) -> None:
    data = assert_round_trip(samples)
    assert header(data).kind == KIND_INT


@settings(max_examples=300, deadline=None)
@given(grid_samples, st.lists(st.tuples(st.integers(0, 299), st.floats()), max_size=40))
def test_codec_round_trips_grids_with_stray_values(
    samples: list[float | None], strays: list[tuple[int, float]],
) -> None:
    for i, value in strays:
        if i < len(samples):
            samples[i] = value
    assert_round_trip(samples)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_codec_raises_only_store_error_on_arbitrary_bytes(data: bytes) -> None:
    with pytest.raises(StoreError):
        decode_block(data)


@settings(max_examples=300, deadline=None)
@given(kind=st.integers(0, 255), order=st.integers(0, 255), width=st.integers(0, 255),
       count=st.integers(0, 64), runs=st.lists(st.integers(0, 2**32 - 1), max_size=5),
       divisor=st.floats(), payload=st.binary(max_size=100),
       where=st.lists(st.integers(0, 2**32 - 1), max_size=3))
def test_codec_decodes_or_raises_store_error_on_forged_fields(
    kind: int, order: int, width: int, count: int, runs: list[int], divisor: float,
    payload: bytes, where: list[int],
) -> None:
    data = forge(kind, order, width, count, runs, divisor, payload, where, [7] * len(where))
    try:
        samples = decode_block(data)
    except StoreError:
        return
    assert len(samples) == count
