"""From IntelliVue poll replies to readings: numerics, wave chunks and the alarm picture.

Pure functions over :class:`~drivers.intellivue.polls.ObservationPoll` objects; the host
codec (:mod:`drivers.intellivue.host`) adds times and device ids. Nothing is invented:

- a FLOAT special value (NaN, NRes, +/-INF), or a measurement state *invalid*,
  *unavailable* or *calibration ongoing*, gives ``None`` with :attr:`Flag.INVALID`;
- a value the monitor marks *questionable*, *test data*, *demo data* or *early
  indication* keeps its number but carries :attr:`Flag.INVALID`, so no rule or baseline
  uses it;
- *measurement ongoing* adds :attr:`Flag.MEASURING`, *in alarm* :attr:`Flag.OUT_OF_LIMIT`;
- a wave sample outside the scale's raw range, or a wave whose state is invalid, is a
  ``None`` gap; a wave without its sample period or scale is not published at all.

Physiological ids, units and state bits: :mod:`drivers.intellivue.nomenclature`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.attributes import (
    SaObsValue,
    SaSpec,
    ScaleRangeSpec,
    parse_alarm_list,
    parse_compound_samples,
)
from drivers.intellivue.encoding import find, parse_u16, parse_u32
from drivers.intellivue.polls import ObservationPoll
from drivers.intellivue.values import (
    AbsoluteTime,
    NuObsValue,
    parse_compound_numeric,
)
from monitor.domain.models import Flag

T = TypeVar("T")

NUMERICS: dict[int, str] = {
    nom.NOM_ECG_CARD_BEAT_RATE: "HR",
    nom.NOM_PULS_OXIM_SAT_O2: "SPO2",
    nom.NOM_PLETH_PULS_RATE: "PR",
    nom.NOM_PRESS_BLD_NONINV_SYS: "NIBP_SYS",
    nom.NOM_PRESS_BLD_NONINV_DIA: "NIBP_DIA",
    nom.NOM_PRESS_BLD_NONINV_MEAN: "NIBP_MEAN",
    nom.NOM_RESP_RATE: "RR",
    nom.NOM_AWAY_RESP_RATE: "AWRR",
    nom.NOM_AWAY_CO2_ET: "ETCO2",
    nom.NOM_AWAY_CO2_INSP_MIN: "FICO2",
}
"""Physiological id of a numeric -> metric alias."""

NIBP = ("NIBP_SYS", "NIBP_DIA", "NIBP_MEAN")
_PRESSURES = frozenset({*NIBP, "ETCO2", "FICO2"})
"""Metrics published in mm[Hg]: a value in kPa is converted, any other unit is dropped."""

WAVES: dict[int, tuple[str, str]] = {
    nom.NOM_ECG_ELEC_POTL_II: ("ECG", "mV"),
    nom.NOM_PLETH: ("PLETH", "1"),
}
"""Physiological id of a wave -> (metric alias, unit published)."""

_NO_VALUE = nom.MS_INVALID | nom.MS_UNAVAILABLE | nom.MS_CALIBRATION_ONGOING
_NOT_PATIENT = (nom.MS_QUESTIONABLE | nom.MS_TEST_DATA | nom.MS_DEMO_DATA
                | nom.MS_EARLY_INDICATION)

ALARM_SOURCES: dict[int, tuple[str, ...]] = {
    nom.NOM_ECG_ELEC_POTL: ("HR",),
    nom.NOM_ECG_ELEC_POTL_II: ("HR",),
    nom.NOM_ECG_CARD_BEAT_RATE: ("HR",),
    nom.NOM_PULS_OXIM_SAT_O2: ("SPO2", "PR"),
    nom.NOM_PLETH: ("SPO2", "PR"),
    nom.NOM_PLETH_PULS_RATE: ("PR",),
    nom.NOM_PRESS_BLD_NONINV: NIBP,
    nom.NOM_RESP_RATE: ("RR",),
    nom.NOM_AWAY_CO2: ("ETCO2", "FICO2", "AWRR"),
}
"""What a technical alarm (INOP) of a measurement concerns, by its source."""

TECHNICAL_FLAGS: dict[int, str] = {
    nom.NOM_EVT_SENSOR_DISCONN: Flag.SENSOR_DISCONNECT,
    nom.NOM_EVT_DISCONN: Flag.SENSOR_DISCONNECT,
    nom.NOM_EVT_MSMT_DISCONN: Flag.SENSOR_DISCONNECT,
    nom.NOM_EVT_LEADS_OFF: Flag.SENSOR_DISCONNECT,
    nom.NOM_EVT_LEAD_DISCONN: Flag.SENSOR_DISCONNECT,
    nom.NOM_EVT_SENSOR_MALF: Flag.DEFECTIVE_SENSOR,
    nom.NOM_EVT_NOISY: Flag.INTERFERENCE,
    nom.NOM_EVT_WAVE_ARTIF_ERR: Flag.ARTIFACT,
}
"""Technical alarm code -> the flag it puts on the values of its measurement."""

_PRIORITY = ((nom.HI_PRI_P_AL | nom.HI_PRI_T_AL, "high"),
             (nom.MED_PRI_P_AL | nom.MED_PRI_T_AL, "medium"),
             (nom.LOW_PRI_P_AL | nom.LOW_PRI_T_AL, "low"))


def state_flags(state: int) -> tuple[bool, set[str]]:
    """``(value usable, flags)`` for measurement state bits ``state``."""
    flags: set[str] = set()
    usable = not state & _NO_VALUE
    if not usable or state & _NOT_PATIENT:
        flags.add(Flag.INVALID)
    if state & nom.MS_MSMT_ONGOING:
        flags.add(Flag.MEASURING)
    if state & nom.MS_MSMT_STATE_IN_ALARM:
        flags.add(Flag.OUT_OF_LIMIT)
    return usable, flags


@dataclass(frozen=True, slots=True)
class Numeric:
    """One numeric reading, before it gets its time and device.

    Attributes:
        metric: alias (``HR``...).
        value: the number in the metric's unit, or None.
        flags: quality flags from the measurement state.
        measured: the monitor clock (POSIX, read as UTC) of its absolute time stamp, for
            aperiodic values such as NIBP; None when the object has none.
    """

    metric: str
    value: float | None
    flags: frozenset[str]
    measured: float | None = None


def _value(nu: NuObsValue, metric: str) -> tuple[float | None, set[str]] | None:
    """The value and flags of one numeric; None when its unit cannot be published."""
    usable, flags = state_flags(nu.state)
    value = nu.value.value if usable else None
    if value is None:
        flags.add(Flag.INVALID)
    if metric in _PRESSURES and nu.unit_code != nom.NOM_DIM_MMHG:
        if nu.unit_code != nom.NOM_DIM_KILO_PASCAL:
            return None  # CO2 in % or an unknown unit: not comparable, not published
        if value is not None:
            value = round(value * nom.MMHG_PER_KPA, 1)
    return value, flags


def _observed(obj: ObservationPoll, single: int, parse_single: Callable[[bytes], T],
              compound: int, parse_compound: Callable[[bytes], tuple[T, ...]]) -> list[T]:
    """The observed values of an object: its single value and its compound values."""
    out: list[T] = []
    value = find(obj.attributes, single)
    if value is not None:
        out.append(parse_single(value))
    value = find(obj.attributes, compound)
    if value is not None:
        out.extend(parse_compound(value))
    return out


def numerics(objects: list[ObservationPoll]) -> list[Numeric]:
    """The readings of numeric objects (``NOM_MOC_VMO_METRIC_NU``) this project knows.

    Raises:
        FrameError: a malformed value of an attribute that is read.
    """
    out: list[Numeric] = []
    for obj in objects:
        values = _observed(obj, nom.NOM_ATTR_NU_VAL_OBS, NuObsValue.parse,
                           nom.NOM_ATTR_NU_CMPD_VAL_OBS, parse_compound_numeric)
        stamp = find(obj.attributes, nom.NOM_ATTR_TIME_STAMP_ABS)
        measured = AbsoluteTime.parse(stamp).posix() if stamp is not None else None
        for nu in values:
            metric = NUMERICS.get(nu.physio_id)
            if metric is None:
                continue
            decoded = _value(nu, metric)
            if decoded is not None:
                out.append(Numeric(metric, decoded[0], frozenset(decoded[1]), measured))
    return out


@dataclass(frozen=True, slots=True)
class WaveChunk:
    """The samples of one wave since its last update."""

    metric: str
    sample_rate: float
    samples: tuple[float | None, ...]
    unit: str
    flags: frozenset[str]


@dataclass
class _WaveSetup:
    """What a wave object said about itself; the monitor may send it only once."""

    spec: SaSpec | None = None
    scale: ScaleRangeSpec | None = None
    period: int | None = None
    unit: int | None = None


class WaveDecoder:
    """Decodes real-time sample array objects, remembering each object's specification,
    scale, sample period and unit across replies (keyed by object handle)."""

    def __init__(self) -> None:
        self._setup: dict[int, _WaveSetup] = {}

    def decode(self, objects: list[ObservationPoll]) -> list[WaveChunk]:
        """The chunks of the waves this project knows.

        Raises:
            FrameError: a malformed value of an attribute that is read.
        """
        out: list[WaveChunk] = []
        for obj in objects:
            setup = self._update(obj)
            values = _observed(obj, nom.NOM_ATTR_SA_VAL_OBS, SaObsValue.parse,
                               nom.NOM_ATTR_SA_CMPD_VAL_OBS, parse_compound_samples)
            for sa in values:
                chunk = _chunk(sa, setup)
                if chunk is not None:
                    out.append(chunk)
        return out

    def _update(self, obj: ObservationPoll) -> _WaveSetup:
        setup = self._setup.setdefault(obj.handle, _WaveSetup())
        spec = find(obj.attributes, nom.NOM_ATTR_SA_SPECN)
        scale = find(obj.attributes, nom.NOM_ATTR_SCALE_SPECN_I16)
        period = find(obj.attributes, nom.NOM_ATTR_TIME_PD_SAMP)
        unit = find(obj.attributes, nom.NOM_ATTR_UNIT_CODE)
        # Parse all first: a malformed attribute must not leave the setup half updated.
        new = _WaveSetup(
            SaSpec.parse(spec) if spec is not None else setup.spec,
            ScaleRangeSpec.parse(scale) if scale is not None else setup.scale,
            parse_u32(period, "sample period") if period is not None else setup.period,
            parse_u16(unit, "unit code") if unit is not None else setup.unit,
        )
        self._setup[obj.handle] = new
        return new


def _chunk(sa: SaObsValue, setup: _WaveSetup) -> WaveChunk | None:
    known = WAVES.get(sa.physio_id)
    if known is None or setup.spec is None or setup.scale is None or not setup.period:
        return None
    metric, unit = known
    factor = 1.0
    if metric == "ECG":
        if setup.unit == nom.NOM_DIM_MICRO_VOLT:
            factor = 0.001
        elif setup.unit not in (None, nom.NOM_DIM_MILLI_VOLT):
            return None
    usable, flags = state_flags(sa.state)
    raw = setup.spec.unpack(sa.samples)
    samples: tuple[float | None, ...]
    if usable and Flag.INVALID not in flags:
        samples = setup.scale.physical_all(raw, factor)
    else:
        samples = (None,) * len(raw)
    rate = nom.RELATIVE_TICKS_PER_S / setup.period
    return WaveChunk(metric, rate, samples, unit, frozenset(flags))


@dataclass(frozen=True, slots=True)
class Alarm:
    """One active alarm of the monitor.

    Attributes:
        technical: an INOP (technical alarm) rather than a patient alarm.
        source: physiological id of what alarms.
        code: ``NOM_EVT_*``.
        priority: ``high``, ``medium``, ``low`` or "" when the monitor gives none.
        text: the monitor's message, when it sends one.
    """

    technical: bool
    source: int
    code: int
    priority: str
    text: str

    def describe(self) -> str:
        """Short human text, e.g. ``SpO2 LOW (medium)``."""
        what = self.text or f"{'INOP' if self.technical else 'alarm'} {self.source:#06x}/" \
                            f"{self.code}"
        return f"{what} ({self.priority})" if self.priority else what


def alarms(objects: list[ObservationPoll]) -> tuple[Alarm, ...] | None:
    """The active alarms in alarm monitor objects, or None when no object carries an
    alarm list (a reply without them says nothing about alarms).

    Raises:
        FrameError: a malformed alarm list.
    """
    found = False
    out: list[Alarm] = []
    for obj in objects:
        for attr, technical in ((nom.NOM_ATTR_AL_MON_P_AL_LIST, False),
                                (nom.NOM_ATTR_AL_MON_T_AL_LIST, True)):
            value = find(obj.attributes, attr)
            if value is None:
                continue
            found = True
            for entry in parse_alarm_list(value):
                priority = next((name for bits, name in _PRIORITY if entry.alarm_type & bits),
                                "")
                out.append(Alarm(technical, entry.source, entry.code, priority, entry.text))
    return tuple(out) if found else None


def alarm_flags(active: tuple[Alarm, ...]) -> dict[str, frozenset[str]]:
    """Flags the alarms put on each metric: :attr:`Flag.OUT_OF_LIMIT` on the value a
    patient alarm is about, sensor flags from INOPs on the values of their measurement."""
    flags: dict[str, set[str]] = {}
    for a in active:
        if a.technical:
            flag = TECHNICAL_FLAGS.get(a.code)
            if flag is not None:
                for metric in ALARM_SOURCES.get(a.source, ()):
                    flags.setdefault(metric, set()).add(flag)
        else:
            metrics = NIBP if a.source == nom.NOM_PRESS_BLD_NONINV else (
                (NUMERICS[a.source],) if a.source in NUMERICS else ())
            for metric in metrics:
                flags.setdefault(metric, set()).add(Flag.OUT_OF_LIMIT)
    return {m: frozenset(f) for m, f in flags.items()}
