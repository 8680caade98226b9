"""Numeric values of the IntelliVue Data Export protocol: FLOAT-Type, observed numerics
and absolute time, each with ``parse``/``serialize`` as exact inverses.

- :class:`Float`, the IEEE 11073 FLOAT-Type: a signed 8-bit base-10 exponent and a signed
  24-bit mantissa, with the special mantissas NaN ``0x7FFFFF``, NRes ``0x800000``,
  +INF ``0x7FFFFE`` and -INF ``0x800002`` ([MDPNP] ``data/Float.java``; [VSCMP]
  ``Class3.cs FloattypeToValue``);
- :class:`NuObsValue` (``NOM_ATTR_NU_VAL_OBS``: physio id, measurement state, unit code,
  FLOAT; [VSCMP] ``Class3.cs ReadNumericObservationValue``) and the compound list of
  ``NOM_ATTR_NU_CMPD_VAL_OBS`` (``ReadCompoundNumericObsValue``);
- :class:`AbsoluteTime`: eight BCD bytes century, year, month, day, hour, minute, second,
  hundredths; all ``FF`` when the monitor has no time ([MDPNP] ``data/AbsoluteTime.java``;
  [VSCMP] ``Class3.cs GetAbsoluteTimeFromBCDFormat``).
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.encoding import Reader, counted, parse_list, parse_u32, u16, u32, whole
from monitor.domain.errors import FrameError

# -- FLOAT-Type ---------------------------------------------------------------------------

_SPECIAL = {
    nom.FLOAT_NAN: "NaN",
    nom.FLOAT_NRES: "NRes",
    nom.FLOAT_POS_INF: "+INF",
    nom.FLOAT_NEG_INF: "-INF",
    nom.FLOAT_RESERVED: "reserved",
}
_MANTISSA_MAX = 0x7FFFFD
"""Largest mantissa that is a number (the values above it are special)."""


@dataclass(frozen=True, slots=True)
class Float:
    """An IEEE 11073 FLOAT-Type: ``mantissa * 10 ** exponent``.

    Attributes:
        exponent: signed 8-bit.
        mantissa: signed 24-bit; :data:`~drivers.intellivue.nomenclature.FLOAT_NAN` and the
            other special mantissas mean "no number".
    """

    exponent: int
    mantissa: int

    @classmethod
    def from_raw(cls, raw: int) -> Float:
        """Split a 32-bit FLOAT."""
        exponent = (raw >> 24) & 0xFF
        mantissa = raw & 0xFFFFFF
        if exponent >= 0x80:
            exponent -= 0x100
        if mantissa >= 0x800000:
            mantissa -= 0x1000000
        return cls(exponent, mantissa)

    @property
    def raw(self) -> int:
        """The 32-bit encoding."""
        return ((self.exponent & 0xFF) << 24) | (self.mantissa & 0xFFFFFF)

    @property
    def special(self) -> str | None:
        """``NaN``, ``NRes``, ``+INF``, ``-INF``, ``reserved``, or None for a number."""
        return _SPECIAL.get(self.mantissa)

    @property
    def value(self) -> float | None:
        """The number, or None for a special value."""
        if self.special is not None:
            return None
        if self.exponent >= 0:
            return float(self.mantissa * 10**self.exponent)
        # Division by an exact power of ten gives the nearest double: 366e-1 -> 36.6.
        return float(self.mantissa / 10 ** (-self.exponent))

    @classmethod
    def of(cls, value: float | None, max_decimals: int = 6) -> Float:
        """Encode ``value`` with the fewest decimals that hold it (None gives NaN).

        Raises:
            ValueError: the value does not fit a FLOAT with ``max_decimals`` decimals.
        """
        if value is None or math.isnan(value):
            return cls(0, nom.FLOAT_NAN)
        if math.isinf(value):
            return cls(0, nom.FLOAT_POS_INF if value > 0 else nom.FLOAT_NEG_INF)
        for decimals in range(max_decimals + 1):
            scaled = value * 10**decimals
            mantissa = round(scaled)
            if abs(scaled - mantissa) < 1e-6 * max(1.0, abs(scaled)):
                if abs(mantissa) > _MANTISSA_MAX:
                    break
                return cls(-decimals if mantissa else 0, mantissa)
        for exponent in range(1, 127):
            mantissa = round(value / 10**exponent)
            if abs(mantissa) <= _MANTISSA_MAX:
                return cls(exponent, mantissa)
        raise ValueError(f"{value!r} does not fit an 11073 FLOAT")

    @classmethod
    def parse(cls, data: bytes) -> Float:
        """Parse 4 bytes.

        Raises:
            FrameError: not 4 bytes.
        """
        return cls.from_raw(parse_u32(data, "FLOAT"))

    def serialize(self) -> bytes:
        """The 4 bytes."""
        return u32(self.raw)


# -- numerics -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NuObsValue:
    """``NOM_ATTR_NU_VAL_OBS``: one numeric (10 bytes).

    Attributes:
        physio_id: what was measured (``NOM_PULS_OXIM_SAT_O2``...).
        state: measurement state bits (``MS_INVALID``...).
        unit_code: ``NOM_DIM_*``.
        value: the FLOAT.
    """

    physio_id: int
    state: int
    unit_code: int
    value: Float

    SIZE = 10

    @classmethod
    def read(cls, r: Reader) -> NuObsValue:
        """Read one from ``r``."""
        return cls(r.u16(), r.u16(), r.u16(), Float.from_raw(r.u32()))

    @classmethod
    def parse(cls, data: bytes) -> NuObsValue:
        """Parse the attribute value.

        Raises:
            FrameError: not 10 bytes.
        """
        return whole(data, "numeric observed value", cls.read)

    def serialize(self) -> bytes:
        """The 10 bytes."""
        return u16(self.physio_id) + u16(self.state) + u16(self.unit_code) + self.value.serialize()


def parse_compound_numeric(data: bytes) -> tuple[NuObsValue, ...]:
    """``NOM_ATTR_NU_CMPD_VAL_OBS``: a counted list of numerics (NIBP sys, dia, mean).

    Raises:
        FrameError: the count or length disagrees with the entries.
    """
    return parse_list(data, "compound numeric", NuObsValue.read)


def serialize_compound_numeric(values: Iterable[NuObsValue]) -> bytes:
    """Encode ``NOM_ATTR_NU_CMPD_VAL_OBS``."""
    return counted([v.serialize() for v in values])


# -- time ---------------------------------------------------------------------------------

_INVALID_TIME = b"\xff" * 8


def _bcd(value: int) -> int:
    return (value // 10) << 4 | value % 10


def _from_bcd(byte: int) -> int | None:
    hi, lo = byte >> 4, byte & 0x0F
    return None if hi > 9 or lo > 9 else hi * 10 + lo


@dataclass(frozen=True, slots=True)
class AbsoluteTime:
    """Eight BCD bytes: century, year, month, day, hour, minute, second, hundredths.

    The raw bytes are kept, so parse and serialize are exact inverses even for a time
    the monitor does not know (all ``FF``). The monitor clock is wall time without a zone;
    :meth:`posix` reads it as UTC (the driver only uses differences of two such times).
    """

    raw: bytes = _INVALID_TIME

    @classmethod
    def parse(cls, data: bytes) -> AbsoluteTime:
        """Parse 8 bytes.

        Raises:
            FrameError: not 8 bytes.
        """
        if len(data) != 8:
            raise FrameError(f"absolute time of {len(data)} bytes, expected 8")
        return cls(bytes(data))

    def serialize(self) -> bytes:
        """The 8 bytes."""
        return self.raw

    @classmethod
    def of(cls, posix: float) -> AbsoluteTime:
        """The BCD time of POSIX seconds ``posix`` (as UTC), to the hundredth."""
        hundredths = round(posix * 100)
        whole, frac = divmod(hundredths, 100)
        t = time.gmtime(whole)
        parts = (t.tm_year // 100, t.tm_year % 100, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min,
                 t.tm_sec, frac)
        return cls(bytes(_bcd(p) for p in parts))

    def posix(self) -> float | None:
        """POSIX seconds (the monitor clock read as UTC), or None when not a valid time."""
        digits = [_from_bcd(b) for b in self.raw]
        if any(d is None for d in digits):
            return None
        century, year, month, day, hour, minute, second, frac = (int(d or 0) for d in digits)
        try:
            whole = calendar.timegm((century * 100 + year, month, day, hour, minute, second))
            # timegm normalises out-of-range fields; a real date must survive a round trip.
            if time.gmtime(whole)[:6] != (century * 100 + year, month, day, hour, minute,
                                          second):
                return None
        except (OverflowError, ValueError):
            return None
        return whole + frac / 100
