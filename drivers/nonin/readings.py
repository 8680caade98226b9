"""What Nonin units mean as readings: the values a module can send, the flags of its status
bytes, and the values and flags that observations show."""

from __future__ import annotations

import functools

from drivers.nonin import frames
from drivers.nonin.frames import Frame, Record, record_fields
from monitor.domain.models import Flag

PULSE_RATE_RANGE = (18, 321)
"""Pulse rates the modules measure (/min); anything else but the 511 marker is damage."""
SPO2_RANGE = (0, 100)
"""SpO2 the modules measure (%); anything else but the 127 marker is damage."""

_PLAUSIBLE_RATES = frozenset(range(PULSE_RATE_RANGE[0], PULSE_RATE_RANGE[1] + 1)) | {
    frames.MISSING_RATE}
_PLAUSIBLE_SPO2 = frozenset(range(SPO2_RANGE[0], SPO2_RANGE[1] + 1)) | {frames.MISSING_SPO2}


def plausible(rate: int, spo2: int) -> bool:
    """A pulse rate and SpO2 a module can send: in range, or the missing markers."""
    return rate in _PLAUSIBLE_RATES and spo2 in _PLAUSIBLE_SPO2


def implausible(rate: int, spo2: int) -> str:
    """Why a DF#8 record with these values is rejected."""
    return f"DF#8 record with implausible PR {rate} or SpO2 {spo2}"


def worst_perfusion(flags: set[str]) -> set[str]:
    """``flags`` with marginal perfusion dropped when low perfusion is there (in place)."""
    # Low perfusion is worse than marginal: report only the worse of the two.
    if Flag.LOW_PERFUSION in flags:
        flags.discard(Flag.MARGINAL_PERFUSION)
    return flags


# Flags are looked up, not rebuilt, for every unit: the arguments take few values.
@functools.cache
def frame_flags(status: int) -> frozenset[str]:
    """The flags of a DF#2/#7 frame's STATUS byte."""
    return frozenset(Frame(status, 0, 0).flags())


@functools.cache
def record_flags(status: int, status2: int) -> frozenset[str]:
    """The flags of a DF#8 record's status bytes."""
    return frozenset(Record(0, 0, status, status2).flags())


Readings = tuple[float | None, frozenset[str], float | None, frozenset[str]]
"""What numerics show: (SpO2, its flags, pulse rate, its flags)."""


@functools.lru_cache(maxsize=4096)
def display_readings(rate: int, spo2: int, flags: frozenset[str]) -> Readings:
    """The display values ``rate`` and ``spo2`` with ``flags`` as observations show them.

    While the sensor alarm is set the display values are only held, not measured: a held
    98 % must not stand in for a patient who may be desaturating off the probe. So they
    are None, as are the missing markers, with :attr:`Flag.INVALID`.
    """
    worst = worst_perfusion(set(flags))
    held = Flag.SENSOR_OFF in worst
    valid, invalid = frozenset(worst), frozenset(worst | {Flag.INVALID})
    spo2_value = None if spo2 == frames.MISSING_SPO2 or held else float(spo2)
    rate_value = None if rate == frames.MISSING_RATE or held else float(rate)
    return (spo2_value, invalid if spo2_value is None else valid,
            rate_value, invalid if rate_value is None else valid)


@functools.lru_cache(maxsize=4096)
def record_readings(data: bytes) -> Readings | None:
    """The readings of ``data`` if it is exactly one plausible DF#8 record, else None.

    Cached on the bytes: a device sends few distinct records.
    """
    fields = record_fields(data)
    if fields is None or len(data) != frames.RECORD_SIZE or not plausible(fields[0],
                                                                             fields[1]):
        return None
    return display_readings(fields[0], fields[1], record_flags(fields[2], fields[3]))
