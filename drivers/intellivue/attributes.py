"""Wave, alarm and identification attributes of the IntelliVue Data Export protocol.

- waves: :class:`SaObsValue` (``NOM_ATTR_SA_VAL_OBS``), :class:`SaSpec`
  (``NOM_ATTR_SA_SPECN``: sample size, significant bits, flags) and
  :class:`ScaleRangeSpec` (``NOM_ATTR_SCALE_SPECN_I16``: raw to physical units) ([VSCMP]
  ``Class3.cs ReadWaveSaObservationValue``, ``ReadSaSpecifications``,
  ``ReadSaScaleSpecifications``, ``ScaleRangeSaValue``, ``ExportWaveToCSV``);
- alarms: :class:`DeviceAlertCondition` (``NOM_ATTR_DEV_AL_COND``) and the alarm lists
  (``NOM_ATTR_AL_MON_P_AL_LIST`` / ``_T_AL_LIST``) of :class:`DevAlarmEntry` with their
  :class:`StrAlMonInfo` text ([MDPNP] ``data/DeviceAlertCondition.java``,
  ``DevAlarmEntry.java``, ``AlMonInfo.java``, ``StrAlMonInfo.java``);
- identification: :class:`SystemModel` (``NOM_ATTR_ID_MODEL``) and the ``TextIdList`` of
  the wave priority list ([VSCMP] ``Class3.cs SendRTSAPriorityMessage``).

Each has ``parse``/``serialize`` as exact inverses; a length that disagrees with the
bytes raises :class:`~monitor.domain.errors.FrameError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.encoding import (
    Reader,
    counted,
    parse_list,
    parse_string,
    serialize_string,
    sized,
    u16,
    u32,
    whole,
)
from drivers.intellivue.values import Float
from monitor.domain.errors import FrameError

# -- waves --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SaObsValue:
    """``NOM_ATTR_SA_VAL_OBS``: the samples of a wave since the last update.

    Attributes:
        physio_id: the wave (``NOM_ECG_ELEC_POTL_II``, ``NOM_PLETH``...).
        state: measurement state bits.
        samples: the raw samples, ``sample_size`` bits each, big-endian.
    """

    physio_id: int
    state: int
    samples: bytes

    @classmethod
    def read(cls, r: Reader) -> SaObsValue:
        """Read one from ``r``."""
        return cls(r.u16(), r.u16(), r.sized())

    @classmethod
    def parse(cls, data: bytes) -> SaObsValue:
        """Parse the attribute value.

        Raises:
            FrameError: the sample length disagrees with the bytes.
        """
        return whole(data, "sample array observed value", cls.read)

    def serialize(self) -> bytes:
        """The encoded value."""
        return u16(self.physio_id) + u16(self.state) + sized(self.samples)


def parse_compound_samples(data: bytes) -> tuple[SaObsValue, ...]:
    """``NOM_ATTR_SA_CMPD_VAL_OBS``: several waves of one object (ECG leads).

    Raises:
        FrameError: the count or length disagrees with the entries.
    """
    return parse_list(data, "compound sample array", SaObsValue.read)


@dataclass(frozen=True, slots=True)
class SaSpec:
    """``NOM_ATTR_SA_SPECN``: how the samples are laid out (6 bytes).

    Attributes:
        array_size: samples per update.
        sample_size: bits per sample (8 or 16).
        significant_bits: bits that hold the value.
        flags: ``SA_*`` flags; with ``SA_EXT_VAL_RANGE`` the upper bits are marks.
    """

    array_size: int
    sample_size: int
    significant_bits: int
    flags: int

    @classmethod
    def parse(cls, data: bytes) -> SaSpec:
        """Parse the attribute value.

        Raises:
            FrameError: not 6 bytes.
        """
        return whole(data, "sample array specification",
                     lambda r: cls(r.u16(), r.u8(), r.u8(), r.u16()))

    def serialize(self) -> bytes:
        """The 6 bytes."""
        return (u16(self.array_size) + bytes((self.sample_size, self.significant_bits))
                + u16(self.flags))

    def unpack(self, samples: bytes) -> list[int]:
        """The raw sample values, marks masked off where ``SA_EXT_VAL_RANGE`` says so.

        Raises:
            FrameError: a sample size other than 8 or 16 bits, or a partial sample.
        """
        if self.sample_size == 16:
            if len(samples) % 2:
                raise FrameError("odd number of bytes in 16-bit samples")
            values = list(struct.unpack(f">{len(samples) // 2}H", samples))
        elif self.sample_size == 8:
            values = list(samples)
        else:
            raise FrameError(f"unsupported sample size {self.sample_size}")
        if self.flags & nom.SA_EXT_VAL_RANGE and 0 < self.significant_bits < self.sample_size:
            mask = (1 << self.significant_bits) - 1
            values = [v & mask for v in values]
        return values

    def pack(self, values: Iterable[int]) -> bytes:
        """Inverse of :meth:`unpack` for values without marks."""
        vals = list(values)
        if self.sample_size == 8:
            return bytes(vals)
        return struct.pack(f">{len(vals)}H", *vals)


@dataclass(frozen=True, slots=True)
class ScaleRangeSpec:
    """``NOM_ATTR_SCALE_SPECN_I16``: raw ``lower_scaled``..``upper_scaled`` map linearly
    onto ``lower_absolute``..``upper_absolute`` (in the wave's unit) (12 bytes)."""

    lower_absolute: Float
    upper_absolute: Float
    lower_scaled: int
    upper_scaled: int

    @classmethod
    def parse(cls, data: bytes) -> ScaleRangeSpec:
        """Parse the attribute value.

        Raises:
            FrameError: not 12 bytes.
        """
        return whole(data, "scale and range specification", lambda r: cls(
            Float.from_raw(r.u32()), Float.from_raw(r.u32()), r.u16(), r.u16()))

    def serialize(self) -> bytes:
        """The 12 bytes."""
        return (self.lower_absolute.serialize() + self.upper_absolute.serialize()
                + u16(self.lower_scaled) + u16(self.upper_scaled))

    def physical(self, raw: int) -> float | None:
        """The value of raw sample ``raw``; see :meth:`physical_all`."""
        return self.physical_all([raw])[0]

    def physical_all(self, raw: list[int], factor: float = 1.0) -> tuple[float | None, ...]:
        """The values of raw samples ``raw`` times ``factor``, rounded to 6 decimals; None
        outside the scaled range or without a usable scale (never a clamped, invented
        value)."""
        lo, hi = self.lower_absolute.value, self.upper_absolute.value
        span = self.upper_scaled - self.lower_scaled
        if lo is None or hi is None or span <= 0:
            return (None,) * len(raw)
        arr = np.asarray(raw, dtype=np.int64)
        values = np.round((lo + (arr - self.lower_scaled) * ((hi - lo) / span)) * factor, 6)
        out: list[float | None] = (values + 0.0).tolist()  # + 0.0: no -0.0
        inside = (arr >= self.lower_scaled) & (arr <= self.upper_scaled)
        if not inside.all():
            out = [v if ok else None for v, ok in zip(out, inside.tolist(), strict=True)]
        return tuple(out)

    def scaled(self, value: float) -> int:
        """The raw sample nearest to ``value``, clamped to the scaled range."""
        lo, hi = self.lower_absolute.value, self.upper_absolute.value
        if lo is None or hi is None or hi == lo:
            raise ValueError("scale without a usable absolute range")
        span = self.upper_scaled - self.lower_scaled
        raw = round(self.lower_scaled + (value - lo) * span / (hi - lo))
        return max(self.lower_scaled, min(self.upper_scaled, raw))


# -- alarms -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceAlertCondition:
    """``NOM_ATTR_DEV_AL_COND`` (10 bytes): the monitor's overall alert state."""

    state: int
    change_count: int
    max_p_alarm: int
    max_t_alarm: int
    max_aud_alarm: int

    @classmethod
    def parse(cls, data: bytes) -> DeviceAlertCondition:
        """Parse the attribute value.

        Raises:
            FrameError: not 10 bytes.
        """
        return whole(data, "device alert condition",
                     lambda r: cls(r.u16(), r.u16(), r.u16(), r.u16(), r.u16()))

    def serialize(self) -> bytes:
        """The 10 bytes."""
        return b"".join(u16(v) for v in (self.state, self.change_count, self.max_p_alarm,
                                         self.max_t_alarm, self.max_aud_alarm))



@dataclass(frozen=True, slots=True)
class StrAlMonInfo:
    """Alarm entry info ``STR_ALMON_INFO``: instance, text id, priority, flags, string."""

    instance: int
    text_id: int
    priority: int
    flags: int
    text: str

    @classmethod
    def parse(cls, data: bytes) -> StrAlMonInfo:
        """Parse the info bytes.

        Raises:
            FrameError: truncated or with trailing bytes.
        """
        r = Reader(data, "alarm info")
        head = (r.u16(), r.u32(), r.u16(), r.u16())
        return cls(*head, parse_string(r.rest()))

    def serialize(self) -> bytes:
        """The info bytes."""
        return (u16(self.instance) + u32(self.text_id) + u16(self.priority) + u16(self.flags)
                + serialize_string(self.text))


@dataclass(frozen=True, slots=True)
class DevAlarmEntry:
    """One alarm of a ``DevAlarmList`` (``NOM_ATTR_AL_MON_P_AL_LIST`` / ``_T_AL_LIST``).

    Attributes:
        source: physio id of what is alarming (``NOM_PULS_OXIM_SAT_O2``...).
        code: ``NOM_EVT_*`` alarm code.
        alarm_type: ``*_PRI_P_AL`` / ``*_PRI_T_AL`` priority bits.
        state: ``AL_*`` state bits.
        obj_class, context, handle: the object raising it.
        info_id: ``STR_ALMON_INFO``, ``GEN_ALMON_INFO`` or other.
        info: the info bytes (a :class:`StrAlMonInfo` for ``STR_ALMON_INFO``).
    """

    source: int
    code: int
    alarm_type: int
    state: int
    obj_class: int
    context: int
    handle: int
    info_id: int
    info: bytes

    @classmethod
    def read(cls, r: Reader) -> DevAlarmEntry:
        """Read one from ``r``."""
        return cls(r.u16(), r.u16(), r.u16(), r.u16(), r.u16(), r.u16(), r.u16(), r.u16(),
                   r.sized())

    def serialize(self) -> bytes:
        """The encoded entry."""
        return b"".join(u16(v) for v in (self.source, self.code, self.alarm_type, self.state,
                                         self.obj_class, self.context, self.handle,
                                         self.info_id)) + sized(self.info)

    @property
    def text(self) -> str:
        """The monitor's alarm message, or "" when the entry carries none."""
        if self.info_id != nom.STR_ALMON_INFO:
            return ""
        try:
            return StrAlMonInfo.parse(self.info).text
        except FrameError:
            return ""


def parse_alarm_list(data: bytes) -> tuple[DevAlarmEntry, ...]:
    """A ``DevAlarmList``.

    Raises:
        FrameError: the count or length disagrees with the entries.
    """
    return parse_list(data, "alarm list", DevAlarmEntry.read)


def serialize_alarm_list(entries: Iterable[DevAlarmEntry]) -> bytes:
    """Encode a ``DevAlarmList``."""
    return counted([e.serialize() for e in entries])


# -- identification -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemModel:
    """``NOM_ATTR_ID_MODEL``: manufacturer and model number, two length-prefixed labels."""

    manufacturer: bytes
    model: bytes

    @classmethod
    def parse(cls, data: bytes) -> SystemModel:
        """Parse the attribute value.

        Raises:
            FrameError: the lengths disagree with the bytes.
        """
        return whole(data, "system model", lambda r: cls(r.sized(), r.sized()))

    def serialize(self) -> bytes:
        """The encoded value."""
        return sized(self.manufacturer) + sized(self.model)



def parse_text_ids(data: bytes) -> tuple[int, ...]:
    """A ``TextIdList`` (count, length, 32-bit labels): the RTSA priority list.

    Raises:
        FrameError: the count or length disagrees with the entries.
    """
    return parse_list(data, "text id list", Reader.u32)


def serialize_text_ids(ids: Iterable[int]) -> bytes:
    """Encode a ``TextIdList``."""
    return counted([u32(i) for i in ids])
