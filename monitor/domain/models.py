"""Domain events that flow over the bus: observations, waveforms, device status, alarms.

Times are POSIX seconds (UTC) as floats. They come with the data, never from a clock read
deep inside the core, so replay and live use share every code path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from monitor.domain.metrics import METRICS


class Flag(StrEnum):
    """Quality flags a device can attach to an observation."""

    SENSOR_OFF = "sensor_off"  # sensor off the patient
    NO_SENSOR = "no_sensor"  # sensor unplugged from the device
    SENSOR_DISCONNECT = "sensor_disconnect"
    DEFECTIVE_SENSOR = "defective_sensor"
    UNRECOGNIZED_SENSOR = "unrecognized_sensor"
    LOW_PERFUSION = "low_perfusion"
    MARGINAL_PERFUSION = "marginal_perfusion"
    PULSE_SEARCH = "pulse_search"
    INTERFERENCE = "interference"
    AMBIENT_LIGHT = "ambient_light"
    LOW_SIGNAL_IQ = "low_signal_iq"
    ARTIFACT = "artifact"
    MOTION = "motion"
    OUT_OF_TRACK = "out_of_track"
    LOSS_OF_PULSE = "loss_of_pulse"
    OUT_OF_LIMIT = "out_of_limit"  # the device's own alarm limit is exceeded
    DEVICE_ALARM = "device_alarm"  # the device itself is alarming
    ALARM_SILENCED = "alarm_silenced"
    LOW_BATTERY = "low_battery"
    INVALID = "invalid"  # the device marked the value invalid
    STALE = "stale"  # the device repeats an old value (NIBP older than 60 s...)
    MEASURING = "measuring"
    APNEA = "apnea"  # the device itself reports no breath (a capnograph's apnea detection)


SENSOR_OFF_FLAGS = frozenset(
    {Flag.SENSOR_OFF, Flag.NO_SENSOR, Flag.SENSOR_DISCONNECT, Flag.DEFECTIVE_SENSOR}
)
"""Flags that mean the device cannot measure because of its sensor."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One numeric reading from one device.

    Attributes:
        device_id: the configured device (bed port) it came from.
        code: IEEE 11073 MDC reference id, e.g. ``MDC_PULS_OXIM_SAT_O2``.
        metric: short alias, e.g. ``SPO2``.
        value: the reading, or ``None`` when the device says it is invalid.
        unit: UCUM unit.
        time: POSIX seconds of the reading.
        flags: quality flags (:class:`Flag` values).
        bed_id: the bed the device is plugged into, stamped by the device runner (a codec
            does not know it and leaves it empty).
    """

    device_id: str
    code: str
    metric: str
    value: float | None
    unit: str
    time: float
    flags: frozenset[str] = field(default_factory=frozenset)
    bed_id: str = ""

    @classmethod
    def of(
        cls,
        metric: str,
        value: float | None,
        time: float,
        device_id: str = "",
        flags: frozenset[str] | set[str] | tuple[str, ...] = frozenset(),
        bed_id: str = "",
    ) -> Observation:
        """Build an observation from a metric alias, filling in its code and unit."""
        m = METRICS[metric]
        return cls(device_id, m.code, metric, value, m.unit, time, frozenset(flags), bed_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "device_id": self.device_id,
            "code": self.code,
            "metric": self.metric,
            "value": self.value,
            "unit": self.unit,
            "time": self.time,
            "flags": sorted(self.flags),
            "bed_id": self.bed_id,
        }


@dataclass(frozen=True, slots=True)
class Waveform:
    """A chunk of evenly sampled waveform from one device.

    Attributes:
        device_id: the device it came from.
        metric: ``ECG`` or ``PLETH``.
        time: POSIX seconds of the first sample.
        sample_rate: samples per second.
        samples: the values; ``None`` marks a missing sample (a gap, never invented).
        unit: UCUM unit of the samples.
        flags: quality flags of the chunk.
        bed_id: the bed, stamped by the device runner.
    """

    device_id: str
    metric: str
    time: float
    sample_rate: float
    samples: tuple[float | None, ...]
    unit: str = "1"
    flags: frozenset[str] = field(default_factory=frozenset)
    bed_id: str = ""


class DeviceState(StrEnum):
    """What a device runner knows about its device."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STALE = "stale"  # connected but no data for a while
    SENSOR_OFF = "sensor_off"
    INFO = "info"  # identification (model, serial, firmware) in ``detail``


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A change in a device's connection or sensor state.

    Attributes:
        device_id: the device.
        state: :class:`DeviceState` value.
        time: POSIX seconds.
        detail: human-readable detail (no patient data).
        info: extra machine-readable facts (model, serial number, counters).
        bed_id: the bed, stamped by the device runner.
    """

    device_id: str
    state: str
    time: float
    detail: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    bed_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "device_id": self.device_id,
            "state": self.state,
            "time": self.time,
            "detail": self.detail,
            "info": dict(self.info),
            "bed_id": self.bed_id,
        }


DeviceEvent = Observation | Waveform | DeviceStatus
"""What a device codec produces."""


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One record of the alarm log: an alarm's onset, change or end, or a user action.

    The rules engine emits these; every one is an append-only log record. Bed-level
    records that belong to no single alarm (audio paused, infusion start, re-baseline)
    have ``alarm_id``, ``rule`` and ``priority`` set to ``None``.

    Attributes:
        alarm_id: identifies one alarm episode on one bed (stable from onset to end).
        bed_id: the bed.
        rule: the rule id (``SPO2_LOW``...), or ``None`` for bed-level records.
        priority: ``"high"``, ``"medium"`` or ``"low"`` (the priority now in force).
        technical: a technical (equipment) condition rather than a physiological one.
        event: ``onset``, ``escalation``, ``reannounce``, ``priority_change``,
            ``condition_end``, ``end``, ``acknowledged``, ``audio_paused``,
            ``audio_resumed``, ``prompt``, ``infusion_start``, ``baseline``,
            ``rebaseline``...
        time: POSIX seconds, from the data (never from a clock).
        value: the value that matters for this record (e.g. SpO2 at onset).
        threshold: the effective threshold in force (absolute, or baseline-derived).
        baseline: the baseline value used, when the rule is baseline-relative.
        delay: the alarm-condition delay applied, in seconds.
        message: human text for the nurse; never a patient identifier.
        user: who acted (acknowledge, pause, re-baseline...).
        reason: why (a user's stated reason, or the engine's reason for an end).
        worst_value: the worst value seen during the alarm so far.
        target: where an escalation goes (``"charge_nurse"``).
    """

    alarm_id: str | None
    bed_id: str
    rule: str | None
    priority: str | None
    technical: bool
    event: str
    time: float
    value: float | None = None
    threshold: float | None = None
    baseline: float | None = None
    delay: float | None = None
    message: str = ""
    user: str | None = None
    reason: str | None = None
    worst_value: float | None = None
    target: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "alarm_id": self.alarm_id,
            "bed_id": self.bed_id,
            "rule": self.rule,
            "priority": self.priority,
            "technical": self.technical,
            "event": self.event,
            "time": self.time,
            "value": self.value,
            "threshold": self.threshold,
            "baseline": self.baseline,
            "delay": self.delay,
            "message": self.message,
            "user": self.user,
            "reason": self.reason,
            "worst_value": self.worst_value,
            "target": self.target,
        }
