"""Sessions: one patient in one bed for one course day, and the steps of its infusion.

A session (an admission) opens when a nurse assigns a patient to a bed: it takes the next
day of the patient's course. A patient is in at most one bed and a course day happens
once (both also enforced by unique indexes, so two stations racing get a clear 409).
Monitoring and the collection of pre-infusion data start at admission; the infusion start
(with the given dose, checked against the plan) freezes the baselines; the infusion may be
paused and resumed; its stop has a reason; the discharge closes the session. A session
discharged before its infusion started is cancelled and frees its course day. Every step
records who did it and stays readable after discharge. Patient names and identifiers are
stored and shown, never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from monitor.domain.errors import AdmissionError, InvalidValue, RecordNotFound
from monitor.records import audit, courses
from monitor.records.courses import Course
from monitor.records.patients import Patient
from monitor.storage.database import Store
from monitor.storage.tables import AdmissionRow, InfusionStepRow

STEPS = ("start", "pause", "resume", "stop")


@dataclass(frozen=True, slots=True)
class Admission:
    """A session: a patient in a bed for one course day."""

    id: int
    bed_id: str
    patient_label: str
    patient_ref: str | None
    infusion_day: int | None
    dose_mg: float | None
    admitted_at: float
    admitted_by: str
    infusion_started_at: float | None = None
    infusion_started_by: str | None = None
    infusion_stopped_at: float | None = None
    infusion_stopped_by: str | None = None
    discharged_at: float | None = None
    discharged_by: str | None = None
    alarm_settings: dict[str, Any] | None = None
    patient_id: int | None = None
    course_id: int | None = None
    planned_dose_mg: float | None = None
    dose_deviation_reason: str | None = None
    infusion_stop_reason: str | None = None
    devices: tuple[dict[str, Any], ...] = ()
    baseline: dict[str, Any] | None = None
    cancelled: bool = False
    paused_since: float | None = None

    @property
    def course_day(self) -> int | None:
        """The day of the course this session gives."""
        return self.infusion_day

    @property
    def phase(self) -> str:
        """``pre_infusion``, ``infusion``, ``paused``, ``post_infusion``, ``discharged`` or
        ``cancelled`` (discharged before the infusion started)."""
        if self.cancelled:
            return "cancelled"
        if self.discharged_at is not None:
            return "discharged"
        if self.infusion_stopped_at is not None:
            return "post_infusion"
        if self.paused_since is not None:
            return "paused"
        if self.infusion_started_at is not None:
            return "infusion"
        return "pre_infusion"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for signed-in screens only: it names the patient)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["devices"] = list(self.devices)
        out["course_day"] = self.course_day
        out["phase"] = self.phase
        return out


def _admission(row: AdmissionRow, paused_since: float | None = None) -> Admission:
    return Admission(
        row.id, row.bed_id, row.patient_label, row.patient_ref, row.infusion_day,
        row.dose_mg, row.admitted_at, row.admitted_by, row.infusion_started_at,
        row.infusion_started_by, row.infusion_stopped_at, row.infusion_stopped_by,
        row.discharged_at, row.discharged_by, row.alarm_settings, row.patient_id,
        row.course_id, row.planned_dose_mg, row.dose_deviation_reason,
        row.infusion_stop_reason, tuple(row.devices or ()), row.baseline, bool(row.cancelled),
        paused_since,
    )


async def _paused_since(store: Store, session_id: int) -> float | None:
    q = (select(InfusionStepRow).where(InfusionStepRow.session_id == session_id)
         .order_by(InfusionStepRow.time.desc(), InfusionStepRow.id.desc()).limit(1))
    async with store.session() as session:
        last = (await session.execute(q)).scalars().first()
    return last.time if last is not None and last.step == "pause" else None


async def _load(store: Store, row: AdmissionRow | None) -> Admission | None:
    if row is None:
        return None
    return _admission(row, await _paused_since(store, row.id))


async def current_admissions(store: Store) -> dict[str, Admission]:
    """Open sessions by bed."""
    q = select(AdmissionRow).where(AdmissionRow.discharged_at.is_(None))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    out = {}
    for r in rows:
        admission = await _load(store, r)
        assert admission is not None
        out[r.bed_id] = admission
    return out


async def current_admission(store: Store, bed_id: str) -> Admission | None:
    """The open session of a bed, if any."""
    q = (select(AdmissionRow)
         .where(AdmissionRow.bed_id == bed_id, AdmissionRow.discharged_at.is_(None))
         .order_by(AdmissionRow.id.desc()).limit(1))
    async with store.session() as session:
        row = (await session.execute(q)).scalars().first()
    return await _load(store, row)


async def get(store: Store, session_id: int) -> Admission:
    """A session, open or past.

    Raises:
        RecordNotFound: no such session.
    """
    async with store.session() as session:
        row = await session.get(AdmissionRow, session_id)
    admission = await _load(store, row)
    if admission is None:
        raise RecordNotFound(f"no session {session_id}")
    return admission


async def of_patient(store: Store, patient_id: int) -> list[Admission]:
    """A patient's sessions, oldest first."""
    q = (select(AdmissionRow).where(AdmissionRow.patient_id == patient_id)
         .order_by(AdmissionRow.admitted_at, AdmissionRow.id))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [a for r in rows if (a := await _load(store, r)) is not None]


async def in_bed(store: Store, patient_id: int) -> Admission | None:
    """The patient's open session, if they are in a bed."""
    q = select(AdmissionRow).where(AdmissionRow.patient_id == patient_id,
                                   AdmissionRow.discharged_at.is_(None)).limit(1)
    async with store.session() as session:
        row = (await session.execute(q)).scalars().first()
    return await _load(store, row)


async def admit(store: Store, bed_id: str, patient: Patient, course: Course, user: str,
                time: float, day: int | None = None,
                devices: Sequence[dict[str, Any]] = (), dose_mg: float | None = None,
                dose_reason: str | None = None) -> Admission:
    """Assign a patient to a bed: the session of the course's next day (or ``day``), with
    the dose intended when one is stated (already checked against the plan).

    Raises:
        AdmissionError: the bed has a patient, the patient is in another bed, the day was
            given already or is not in the course.
        RecordError: every day of the course is done.
    """
    if await current_admission(store, bed_id) is not None:
        raise AdmissionError(f"bed {bed_id} already has a patient: discharge first")
    elsewhere = await in_bed(store, patient.id)
    if elsewhere is not None:
        raise AdmissionError(f"{patient.identifier} is already in bed {elsewhere.bed_id}",
                             field="patient_id")
    day = courses.next_day(course) if day is None else day
    if not 1 <= day <= course.plan.planned_sessions:
        raise InvalidValue(f"infusion_day: the course has days 1 to "
                           f"{course.plan.planned_sessions}", field="infusion_day")
    if day in course.days_done:
        raise AdmissionError(f"day {day} of the course has had its session",
                             field="infusion_day")
    values = {"bed_id": bed_id, "patient_label": patient.display_name,
              "patient_ref": patient.identifier, "infusion_day": day, "admitted_at": time,
              "admitted_by": user, "patient_id": patient.id, "course_id": course.id,
              "planned_dose_mg": course.plan.planned_dose(day), "devices": list(devices),
              "dose_mg": dose_mg, "dose_deviation_reason": dose_reason}
    try:
        async with store.session() as session, session.begin():
            result = await session.execute(insert(AdmissionRow).values(**values)
                                           .returning(AdmissionRow.id))
            new_id = int(result.scalar_one())
            await audit.record(session, time, user, "admit", bed_id,
                               {"admission_id": new_id, "patient_id": patient.id,
                                "course_id": course.id, "infusion_day": day})
    except IntegrityError:
        raise AdmissionError("the patient was just admitted elsewhere or the day taken: "
                             "reload and try again") from None
    return await get(store, new_id)


async def _open(store: Store, bed_id: str) -> Admission:
    admission = await current_admission(store, bed_id)
    if admission is None:
        raise AdmissionError(f"bed {bed_id} has no patient admitted")
    return admission


def _require_phase(admission: Admission, action: str, *allowed: str) -> None:
    if admission.phase not in allowed:
        raise AdmissionError(f"cannot {action} on bed {admission.bed_id}: the session is in "
                             f"phase {admission.phase.replace('_', ' ')}")


async def _write(store: Store, admission: Admission, user: str, time: float, action: str,
                 values: dict[str, Any], step: str | None = None,
                 step_reason: str | None = None, **detail: Any) -> Admission:
    async with store.session() as session, session.begin():
        if values:
            await session.execute(update(AdmissionRow)
                                  .where(AdmissionRow.id == admission.id).values(**values))
        if step is not None:
            session.add(InfusionStepRow(session_id=admission.id, step=step, time=time,
                                        user=user, reason=step_reason))
        await audit.record(session, time, user, action, admission.bed_id,
                           {"admission_id": admission.id, **detail})
    return await get(store, admission.id)


async def start_infusion(store: Store, bed_id: str, user: str, time: float,
                         dose_mg: float | None = None,
                         deviation_reason: str | None = None) -> Admission:
    """Record the infusion start with the dose given (the plan's when not said); the caller
    freezes the baselines.

    Raises:
        AdmissionError: no patient, or the infusion already started.
        InvalidValue: a dose off the plan without a reason, or above its limits.
    """
    admission = await _open(store, bed_id)
    _require_phase(admission, "start the infusion", "pre_infusion")
    if dose_mg is None:  # the dose intended at admission, else the plan's
        dose = admission.dose_mg if admission.dose_mg is not None else admission.planned_dose_mg
        deviation_reason = deviation_reason or admission.dose_deviation_reason
    else:
        dose = dose_mg
    if admission.course_id is not None and dose is not None and admission.course_day:
        course = await courses.get(store, admission.course_id)
        courses.check_dose(course, admission.course_day, dose, deviation_reason)
    values = {"infusion_started_at": time, "infusion_started_by": user, "dose_mg": dose,
              "dose_deviation_reason": deviation_reason or None}
    return await _write(store, admission, user, time, "infusion_start", values, "start",
                        deviation_reason, dose_mg=dose)


async def pause_infusion(store: Store, bed_id: str, user: str, time: float,
                         reason: str) -> Admission:
    """Pause the running infusion, with a reason."""
    admission = await _open(store, bed_id)
    _require_phase(admission, "pause the infusion", "infusion")
    return await _write(store, admission, user, time, "infusion_pause", {}, "pause", reason,
                        reason=reason)


async def resume_infusion(store: Store, bed_id: str, user: str, time: float,
                          reason: str | None = None) -> Admission:
    """Resume a paused infusion."""
    admission = await _open(store, bed_id)
    _require_phase(admission, "resume the infusion", "paused")
    return await _write(store, admission, user, time, "infusion_resume", {}, "resume", reason,
                        reason=reason)


async def stop_infusion(store: Store, bed_id: str, user: str, time: float,
                        reason: str | None = None) -> Admission:
    """Record the infusion stop (``completed`` when no other reason is given)."""
    admission = await _open(store, bed_id)
    _require_phase(admission, "stop the infusion", "infusion", "paused")
    why = reason or "completed"
    values = {"infusion_stopped_at": time, "infusion_stopped_by": user,
              "infusion_stop_reason": why}
    return await _write(store, admission, user, time, "infusion_stop", values, "stop", why,
                        reason=why)


async def discharge(store: Store, bed_id: str, user: str, time: float) -> Admission:
    """Close the session: the bed is free. Before any infusion it is cancelled (its course
    day is free again)."""
    admission = await _open(store, bed_id)
    values: dict[str, Any] = {"discharged_at": time, "discharged_by": user}
    if admission.infusion_started_at is None:
        values["cancelled"] = True
    return await _write(store, admission, user, time, "discharge", values)


async def set_alarm_settings(store: Store, bed_id: str, settings: dict[str, Any], user: str,
                             reason: str, time: float) -> Admission:
    """Store the patient's alarm settings (already validated by the rules engine), audited.

    Raises:
        AdmissionError: no patient in the bed.
    """
    admission = await _open(store, bed_id)
    return await _write(store, admission, user, time, "alarm_settings",
                        {"alarm_settings": settings or None}, reason=reason, settings=settings)


async def record_baseline(store: Store, session_id: int, baseline: dict[str, Any] | None
                          ) -> None:
    """Keep the session's baselines with their provenance (as frozen or re-set)."""
    async with store.session() as session, session.begin():
        await session.execute(update(AdmissionRow).where(AdmissionRow.id == session_id)
                              .values(baseline=baseline))


async def steps(store: Store, session_id: int) -> list[dict[str, Any]]:
    """The infusion's steps, oldest first."""
    q = (select(InfusionStepRow).where(InfusionStepRow.session_id == session_id)
         .order_by(InfusionStepRow.time, InfusionStepRow.id))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [{"step": r.step, "time": r.time, "user": r.user, "reason": r.reason} for r in rows]
