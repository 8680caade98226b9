"""The API's request and response shapes, kept apart from domain objects and tables."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from monitor.records.charting import EVENT_KINDS


class LatestValueSchema(BaseModel):
    """The latest reading of one metric."""

    value: float | None
    unit: str
    time: float
    flags: list[str]
    device_id: str


class DeviceSchema(BaseModel):
    """A device plugged into a bed."""

    id: str
    protocol: str
    port: str
    state: str
    since: float | None
    detail: str
    info: dict[str, Any]


class AlarmSchema(BaseModel):
    """An active alarm."""

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
    ended: bool = False


class BedSchema(BaseModel):
    """A bed: devices, connection state, latest values, admission, baselines, alarms."""

    id: str
    label: str
    connection: str
    devices: list[DeviceSchema]
    latest: dict[str, LatestValueSchema]
    admission: dict[str, Any] | None = None
    baseline: dict[str, Any] | None = None
    alarms: list[AlarmSchema] = []
    audio_paused_until: float | None = None
    monitoring: bool = False
    infusion_start: float | None = None
    nibp_due_at: float | None = None
    artifacts: dict[str, int] = {}


class Acting(BaseModel):
    """An action. Who acts is the signed-in user, never a field of the body: unknown
    fields (an old client's ``"user"``) are refused with a 422 that names them."""

    model_config = ConfigDict(extra="forbid")


class AcknowledgeBody(Acting):
    """Acknowledge an alarm."""

    reason: str | None = Field(None, max_length=500)


class AudioPauseBody(Acting):
    """Pause a bed's alarm audio."""

    seconds: float = Field(120, ge=60, le=180)


class AdmitBody(Acting):
    """Assign a patient to a bed."""

    patient_label: str = Field(min_length=1, max_length=120)
    patient_ref: str | None = Field(None, max_length=64)
    infusion_day: int | None = Field(None, ge=1, le=10)
    dose_mg: float | None = Field(None, gt=0, le=200)


class ChartBody(Acting):
    """Chart a clinical event."""

    kind: str = Field(description=f"one of {', '.join(EVENT_KINDS)}")
    detail: dict[str, Any] = {}
    time: float | None = Field(None, description="when it happened (default now)")


class AlarmSettingsBody(Acting):
    """Per-patient alarm settings: delays and thresholds only (see docs/alarms.md)."""

    reason: str = Field(min_length=3, max_length=500)
    settings: dict[str, Any] = Field(
        description='e.g. {"rules": {"SPO2_LOW": {"threshold": 92, "delay": 20}}}; {} resets')


class RebaselineBody(Acting):
    """Set or recompute a baseline."""

    reason: str = Field(min_length=3, max_length=500)
    hr: float | None = Field(None, ge=20, le=250)
    sys: float | None = Field(None, ge=50, le=260)
    dia: float | None = Field(None, ge=20, le=200)


class ObservationSchema(BaseModel):
    """A stored reading."""

    device_id: str
    code: str
    metric: str
    value: float | None
    unit: str
    time: float
    flags: list[str]
