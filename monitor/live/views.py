"""Typed views of a bed for screens, and the live events that carry them.

The board (:mod:`monitor.live.board`) owns the bed picture and builds it from these. Each
view has one JSON form (``to_dict``), which REST and the WebSocket send as they are: what a
bed looks like is decided here once, never again in the API or the browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.alarms.baseline import Baseline
from monitor.alarms.lifecycle import ActiveAlarm
from monitor.domain.models import AlarmEvent, DeviceState, DeviceStatus, Observation

PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}
"""Order of alarm priorities on screens: high first."""

_SEVERITY = {
    DeviceState.DISCONNECTED.value: 4,
    DeviceState.STALE.value: 3,
    DeviceState.SENSOR_OFF.value: 2,
    DeviceState.CONNECTING.value: 1,
    DeviceState.CONNECTED.value: 0,
}


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The latest reading of one metric on a bed."""

    value: float | None
    unit: str
    time: float
    flags: tuple[str, ...]
    device_id: str

    @classmethod
    def of(cls, obs: Observation) -> LatestValue:
        """The view of one observation (flags sorted, so equal readings look equal)."""
        return cls(obs.value, obs.unit, obs.time, tuple(sorted(obs.flags)), obs.device_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "unit": self.unit, "time": self.time,
                "flags": list(self.flags), "device_id": self.device_id}


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A device plugged into a bed, with its connection state."""

    id: str
    protocol: str
    port: str
    state: str = DeviceState.CONNECTING.value
    since: float | None = None
    detail: str = ""
    info: Mapping[str, Any] = field(default_factory=dict)
    can_start_nibp: bool = False
    """The station can ask this monitor to measure NIBP now (no supported protocol can)."""

    def with_status(self, status: DeviceStatus) -> DeviceView:
        """This device after ``status`` (identification only adds to ``info``)."""
        if status.state == DeviceState.INFO:
            return replace(self, info={**self.info, **status.info})
        since = status.time if status.state != self.state else self.since
        return replace(self, state=str(status.state), since=since, detail=status.detail)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "protocol": self.protocol, "port": self.port,
                "state": self.state, "since": self.since, "detail": self.detail,
                "info": dict(self.info), "can_start_nibp": self.can_start_nibp}


def worst_state(devices: Iterable[DeviceView]) -> str:
    """The bed's connection: the worst of its devices' states (``no_device`` without any)."""
    states = [d.state for d in devices]
    if not states:
        return "no_device"
    return max(states, key=lambda s: _SEVERITY.get(s, 0))


@dataclass(frozen=True, slots=True)
class AlarmView:
    """An active alarm as screens show it."""

    alarm_id: str
    bed_id: str
    rule: str
    priority: str
    technical: bool
    latching: bool
    onset: float
    value: float | None
    worst: float | None
    threshold: float | None
    baseline: float | None
    delay: float | None
    message: str
    condition_active: bool
    acknowledged: bool
    acked_by: str | None
    acked_at: float | None
    escalated: bool

    @classmethod
    def of(cls, bed_id: str, a: ActiveAlarm) -> AlarmView:
        """The view of an engine alarm."""
        return cls(
            a.alarm_id, bed_id, a.rule, a.priority, a.technical, a.latching, a.onset,
            a.value, a.worst, a.threshold, a.baseline, a.delay, a.message,
            a.condition_active, a.acknowledged, a.acked_by, a.acked_at,
            # Low priority never escalates; a medium or high one has escalated once its
            # escalation deadline is spent while still unacknowledged.
            a.priority != "low" and a.escalate_at is None and not a.acknowledged,
        )

    @property
    def rank(self) -> tuple[int, float]:
        """Sort key: highest priority first, then newest first."""
        return PRIORITY_RANK.get(self.priority, 9), -self.onset

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {name: getattr(self, name) for name in self.__slots__}


def sort_alarms(alarms: Iterable[AlarmView]) -> tuple[AlarmView, ...]:
    """Highest priority first, then newest first: the one order of alarms on every screen."""
    return tuple(sorted(alarms, key=lambda a: a.rank))


@dataclass(frozen=True, slots=True)
class BaselinePicture:
    """A bed's baselines: frozen at the infusion start, or a preview before it."""

    hr: Baseline | None
    bp: Baseline | None
    preview: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"hr": None if self.hr is None else self.hr.to_dict(),
                "bp": None if self.bp is None else self.bp.to_dict(),
                "preview": self.preview}


@dataclass(frozen=True, slots=True)
class AlarmPicture:
    """What the rules know about a bed, for screens. The rules feed publishes one whenever
    it changes, with the alarm-log records of the step that changed it.

    Attributes:
        bed_id: the bed.
        alarms: active alarms in screen order (:func:`sort_alarms`).
        audio_paused_until: the bed's audio is paused until then, or ``None``.
        monitoring: a patient is being monitored (watchdogs on).
        infusion_start: when the infusion started.
        baseline: the baselines (a preview before the infusion), or ``None``.
        nibp_due_at: the next NIBP reading is due then (last reading + 15 min).
        artifacts: artifact samples rejected, per metric.
        events: the alarm-log records that came with this change (not part of the view).
    """

    bed_id: str
    alarms: tuple[AlarmView, ...] = ()
    audio_paused_until: float | None = None
    monitoring: bool = False
    infusion_start: float | None = None
    baseline: BaselinePicture | None = None
    nibp_due_at: float | None = None
    artifacts: Mapping[str, int] = field(default_factory=dict)
    events: tuple[AlarmEvent, ...] = field(default=(), compare=False)

    def same_view(self, other: AlarmPicture | None) -> bool:
        """True when ``other`` looks the same on a screen (events aside)."""
        return other is not None and self == other

    def to_dict(self) -> dict[str, Any]:
        """The bed fields this picture fills in, JSON-ready."""
        return {
            "alarms": [a.to_dict() for a in self.alarms],
            "audio_paused_until": self.audio_paused_until,
            "monitoring": self.monitoring,
            "infusion_start": self.infusion_start,
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "nibp_due_at": self.nibp_due_at,
            "artifacts": dict(self.artifacts),
        }


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """A bed's session (admission) changed: admitted, infusion started, charted, discharged.

    Attributes:
        bed_id: the bed.
        time: POSIX seconds.
        what: the step (``admit``, ``infusion_start``, ``event``...).
        admission: the session as screens show it, or ``None`` once the bed is free.
    """

    bed_id: str
    time: float
    what: str
    admission: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class SystemCondition:
    """A technical condition of the service itself (storage failing), shown unit-wide.

    Attributes:
        key: what (``storage``).
        active: the condition holds.
        time: since when (or when it ended).
        message: for the nurse; no patient data.
    """

    key: str
    active: bool
    time: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"key": self.key, "active": self.active, "time": self.time,
                "message": self.message}


@dataclass(frozen=True, slots=True)
class BedView:
    """One bed as every screen shows it."""

    id: str
    label: str
    devices: tuple[DeviceView, ...]
    latest: Mapping[str, LatestValue]
    admission: Mapping[str, Any] | None
    picture: AlarmPicture

    @property
    def connection(self) -> str:
        """The worst device state."""
        return worst_state(self.devices)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``/api/beds`` and the live snapshot."""
        return {
            "id": self.id,
            "label": self.label,
            "connection": self.connection,
            "devices": [d.to_dict() for d in self.devices],
            "latest": {m: v.to_dict() for m, v in self.latest.items()},
            "admission": None if self.admission is None else dict(self.admission),
            **self.picture.to_dict(),
        }


class BedDelta:
    """One change of the unit's picture, as the live stream sends it.

    Built by the board; its JSON text is made once, however many screens receive it.
    ``kind`` is the live message type: ``vitals``, ``device``, ``alarm``, ``bed`` or
    ``system``.
    """

    __slots__ = ("bed_id", "kind", "message", "_text")

    def __init__(self, kind: str, bed_id: str | None, message: dict[str, Any]) -> None:
        self.kind = kind
        self.bed_id = bed_id
        self.message = {"type": kind, **message}
        self._text: str | None = None

    @property
    def text(self) -> str:
        """The message as JSON text."""
        if self._text is None:
            self._text = json.dumps(self.message)
        return self._text
