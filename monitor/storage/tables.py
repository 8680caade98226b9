"""Database tables (SQLAlchemy ORM). The schema itself is created by the migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

_ID = BigInteger().with_variant(Integer(), "sqlite")


class FlagSet(TypeDecorator[frozenset[str]]):
    """An observation's quality flags: a frozenset in Python, ``a,b`` sorted in the column."""

    impl = String(255)
    cache_ok = True

    def process_bind_param(self, value: frozenset[str] | None, dialect: Dialect) -> str:
        return ",".join(sorted(value or ()))

    def process_result_value(self, value: str | None, dialect: Dialect) -> frozenset[str]:
        return frozenset(f for f in (value or "").split(",") if f)


class Base(DeclarativeBase):
    """Base of every table."""


class ObservationRow(Base):
    """One stored numeric reading."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    unit: Mapped[str] = mapped_column(String(16))
    time: Mapped[float] = mapped_column(Float)
    flags: Mapped[frozenset[str]] = mapped_column(FlagSet(), default=frozenset())


class DeviceEventRow(Base):
    """One device connection or sensor state change."""

    __tablename__ = "device_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    time: Mapped[float] = mapped_column(Float)
    detail: Mapped[str] = mapped_column(Text, default="")
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PatientRow(Base):
    """A patient: identity, the study's demographics, diagnosis and usual medication."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    family_name: Mapped[str] = mapped_column(String(80))
    given_name: Mapped[str] = mapped_column(String(80), default="")
    birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    asa_class: Mapped[int | None] = mapped_column(Integer, nullable=True)
    diagnosis: Mapped[str | None] = mapped_column(String(120), nullable=True)
    crps_type: Mapped[str | None] = mapped_column(String(4), nullable=True)
    affected_limb: Mapped[str | None] = mapped_column(String(32), nullable=True)
    medications: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16), default="manual")
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(64))


class CourseRow(Base):
    """A patient's course of infusions: the protocol, its dose plan and premedication."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    patient_id: Mapped[int] = mapped_column(_ID, ForeignKey("patients.id"))
    protocol: Mapped[str] = mapped_column(String(64))
    planned_sessions: Mapped[int] = mapped_column(Integer)
    dose_start_mg: Mapped[float] = mapped_column(Float)
    dose_step_mg: Mapped[float] = mapped_column(Float)
    dose_max_mg: Mapped[float] = mapped_column(Float)
    max_rate_mg_per_h: Mapped[float] = mapped_column(Float)
    volume_ml: Mapped[float] = mapped_column(Float)
    duration_h: Mapped[float] = mapped_column(Float)
    premedication: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    started_on: Mapped[str | None] = mapped_column(String(10), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AdmissionRow(Base):
    """One infusion session: a patient in a bed for one course day (table ``admissions``,
    its name since the first schema)."""

    __tablename__ = "admissions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    patient_label: Mapped[str] = mapped_column(String(120))
    patient_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    infusion_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dose_mg: Mapped[float | None] = mapped_column(Float, nullable=True)
    admitted_at: Mapped[float] = mapped_column(Float)
    admitted_by: Mapped[str] = mapped_column(String(64))
    infusion_started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    infusion_started_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    infusion_stopped_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    infusion_stopped_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    discharged_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    discharged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    alarm_settings: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    patient_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("patients.id"),
                                                   nullable=True)
    course_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("courses.id"),
                                                  nullable=True)
    planned_dose_mg: Mapped[float | None] = mapped_column(Float, nullable=True)
    dose_deviation_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    infusion_stop_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    devices: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    episodes_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    """When the study's episodes were counted and stored (after discharge)."""


class InfusionStepRow(Base):
    """One step of a session's infusion: start, pause, resume or stop, with its reason."""

    __tablename__ = "infusion_steps"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(_ID, ForeignKey("admissions.id"))
    step: Mapped[str] = mapped_column(String(16))
    time: Mapped[float] = mapped_column(Float)
    user: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class EpisodeRow(Base):
    """One episode by the study's definitions (SpO2 < 93 %, HR > 20 % over baseline, BP
    over baseline), computed from a session's stored vitals without alarm delays."""

    __tablename__ = "episodes"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(_ID, ForeignKey("admissions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    worst: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    samples: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(8), default="")


class ClinicalEventRow(Base):
    """Something a nurse charted: premedication given, a side effect, the journal, a note.

    A correction never changes an entry: an amendment is a new entry that ``supersedes``
    the old one (which gets ``superseded_by``), a void marks it with who and when; both
    carry the reason.
    """

    __tablename__ = "clinical_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    admission_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("admissions.id"),
                                                     nullable=True)
    bed_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    time: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[float] = mapped_column(Float)
    course_id: Mapped[int | None] = mapped_column(_ID, ForeignKey("courses.id"),
                                                  nullable=True)
    follow_up_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    supersedes_id: Mapped[int | None] = mapped_column(_ID, nullable=True)
    superseded_by_id: Mapped[int | None] = mapped_column(_ID, nullable=True)
    correction_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    voided_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AlarmLogRow(Base):
    """One append-only alarm log record (an AlarmEvent)."""

    __tablename__ = "alarm_log"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    alarm_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(32), nullable=True)
    priority: Mapped[str | None] = mapped_column(String(8), nullable=True)
    technical: Mapped[bool] = mapped_column(Boolean)
    event: Mapped[str] = mapped_column(String(32))
    time: Mapped[float] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline: Mapped[float | None] = mapped_column(Float, nullable=True)
    delay: Mapped[float | None] = mapped_column(Float, nullable=True)
    worst_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    user: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    target: Mapped[str | None] = mapped_column(String(32), nullable=True)
    session_id: Mapped[int | None] = mapped_column(_ID, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


class AuditRow(Base):
    """One user action (admit, start infusion, acknowledge...), append-only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    time: Mapped[float] = mapped_column(Float)
    user: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48))
    bed_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), default="")
    hash: Mapped[str] = mapped_column(String(64), default="")


class WaveformBlockRow(Base):
    """A few seconds of one device's waveform, losslessly compressed
    (:mod:`monitor.storage.waveform_codec`)."""

    __tablename__ = "waveform_blocks"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    bed_id: Mapped[str] = mapped_column(String(64))
    session_id: Mapped[int | None] = mapped_column(_ID, nullable=True)
    device_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    time: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    sample_rate: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class TrendMinuteRow(Base):
    """The median of one continuous parameter's valid samples on a bed in one minute."""

    __tablename__ = "trend_minutes"

    bed_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    minute: Mapped[float] = mapped_column(Float, primary_key=True)
    median: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)


class ChainHeadRow(Base):
    """The last entry of a hash-chained table (``audit_log``, ``alarm_log``)."""

    __tablename__ = "chain_heads"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(BigInteger)


class RulesStateRow(Base):
    """The rules engine's state for a bed, so active alarms and pauses survive a restart."""

    __tablename__ = "rules_state"

    bed_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    saved_at: Mapped[float] = mapped_column(Float)


class UserRow(Base):
    """A person (or integration) who signs in, with a role and an argon2 password hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    password_changed_at: Mapped[float] = mapped_column(Float)
    disabled_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AuthSessionRow(Base):
    """A browser sign-in; the cookie holds the token, the table only its SHA-256."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(_ID, ForeignKey("users.id"))
    created_at: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ApiTokenRow(Base):
    """A bearer token for an integration, acting as its user; stored as its SHA-256."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(_ID, ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[float] = mapped_column(Float)
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_used_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)
