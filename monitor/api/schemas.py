"""The API's request and response shapes, kept apart from domain objects and tables."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.records.chart_content import EVENT_KINDS
from monitor.records.charting import MAX_FOLLOW_UP_WEEK


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
    can_start_nibp: bool = False


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
    fields (an old client's ``"user"``) are refused with a 422 that names them. Strict
    types: ``false`` is not a dose, ``"2"`` is not a day."""

    model_config = ConfigDict(extra="forbid", strict=True)


class AcknowledgeBody(Acting):
    """Acknowledge an alarm."""

    reason: str | None = Field(None, max_length=500)


class AudioPauseBody(Acting):
    """Pause a bed's alarm audio."""

    seconds: float = Field(120, ge=60, le=180)


class AdmitBody(Acting):
    """Assign a patient to a bed: a registered patient (``patient_id``), whose course's
    next day the session gives; or, for clients that type a name, ``patient_label`` with
    the identifier when known (``patient_ref``; a new one registers the patient)."""

    patient_id: int | None = Field(None, ge=1)
    patient_label: str | None = Field(None, min_length=1, max_length=120)
    patient_ref: str | None = Field(None, max_length=64)
    infusion_day: int | None = Field(None, ge=1, le=30, description="default: the next")
    dose_mg: float | None = Field(None, gt=0, le=200,
                                  description="intended dose (default: the plan's)")

    @model_validator(mode="after")
    def _one_patient(self) -> AdmitBody:
        if (self.patient_id is None) == (self.patient_label is None):
            raise ValueError("give either patient_id or patient_label")
        return self


class InfusionStartBody(Acting):
    """Start the infusion: the dose given (default: the one planned or intended)."""

    dose_mg: float | None = Field(None, gt=0, le=200)
    deviation_reason: str | None = Field(None, min_length=3, max_length=500,
                                         description="why the dose differs from the plan")


class ReasonBody(Acting):
    """A step that needs a reason (pause)."""

    reason: str = Field(min_length=3, max_length=500)


class OptionalReasonBody(Acting):
    """A step whose reason is optional (resume; stop: default ``completed``)."""

    reason: str | None = Field(None, min_length=3, max_length=500)


class CorrectionBody(Acting):
    """Amend (new ``detail``) or void (no detail) a charted entry, with a reason."""

    reason: str = Field(min_length=3, max_length=500)
    detail: dict[str, Any] | None = None


class ChartBody(Acting):
    """Chart a clinical event."""

    kind: str = Field(description=f"one of {', '.join(EVENT_KINDS)}",
                      json_schema_extra={"enum": list(EVENT_KINDS)})
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


class PatientBody(Acting):
    """A patient's record (on a change, only the fields given)."""

    identifier: str | None = Field(None, min_length=1, max_length=64,
                                   description="the hospital's identifier, e.g. the MRN")
    family_name: str | None = Field(None, min_length=1, max_length=80)
    given_name: str | None = Field(None, max_length=80)
    birth_date: str | None = Field(None, description="YYYY-MM-DD")
    sex: str | None = Field(None, description="F or M")
    weight_kg: float | None = None
    height_cm: float | None = None
    asa_class: int | None = Field(None, description="ASA physical status 1-6")
    diagnosis: str | None = Field(None, max_length=120, description="e.g. CRPS")
    crps_type: str | None = Field(None, description="I or II")
    affected_limb: str | None = Field(
        None, description="left_arm, right_arm, left_leg, right_leg or other")
    medications: list[str] | None = Field(None, description="usual medication")


class NewPatientBody(PatientBody):
    """A patient to register: the identifier and family name are needed."""

    identifier: str = Field(min_length=1, max_length=64,
                            description="the hospital's identifier, e.g. the MRN")
    family_name: str = Field(min_length=1, max_length=80)


class CourseBody(Acting):
    """A course's dose plan (the protocol's when left out)."""

    planned_sessions: int | None = None
    dose_start_mg: float | None = None
    dose_step_mg: float | None = None
    dose_max_mg: float | None = None
    max_rate_mg_per_h: float | None = None
    volume_ml: float | None = None
    duration_h: float | None = None
    note: str | None = Field(None, max_length=500)


class CloseCourseBody(Acting):
    """End a course."""

    status: Literal["completed", "stopped"]


class FollowUpBody(Acting):
    """A follow-up journal, some weeks after the course."""

    week: int = Field(ge=1, le=MAX_FOLLOW_UP_WEEK,
                      description="weeks after the course, e.g. 2, 6, 9, 12")
    detail: dict[str, Any] = Field(description="the journal's scores, as when charting")
    time: float | None = Field(None, description="when it was answered (default now)")
