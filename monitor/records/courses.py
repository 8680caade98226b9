"""Courses: a patient's series of infusions, its dose plan and the checks against it.

The protocol this unit runs (``ketamine-crps-10``): 10 weekday infusions of 4 hours, ketamine
in 500 ml of normal saline, 40 mg on day 1 escalated by 5 mg a day to at most 80 mg (so at
most 20 mg/h), clonidine 0.1 mg by mouth and midazolam 2-4 mg before each. The planned dose
of day ``d`` is ``min(start + (d - 1) x step, max)``. A given dose that differs from the
plan needs a reason; one above the plan's maximum or its hourly rate is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select, update

from monitor.domain.errors import InvalidValue, RecordError, RecordNotFound
from monitor.records import audit
from monitor.records.vocabulary import PREMEDICATION_PLAN, DrugPlan
from monitor.storage.database import Store
from monitor.storage.tables import AdmissionRow, CourseRow

PROTOCOL = "ketamine-crps-10"
DOSE_TOLERANCE_MG = 0.5
"""A given dose within this of the plan is the plan (rounding on the pump)."""


@dataclass(frozen=True, slots=True)
class DosePlan:
    """The course's dose plan and infusion."""

    planned_sessions: int = 10
    dose_start_mg: float = 40.0
    dose_step_mg: float = 5.0
    dose_max_mg: float = 80.0
    max_rate_mg_per_h: float = 20.0
    volume_ml: float = 500.0
    duration_h: float = 4.0

    def planned_dose(self, day: int) -> float:
        """The dose planned for course day ``day`` (1-based)."""
        return min(self.dose_start_mg + (day - 1) * self.dose_step_mg, self.dose_max_mg)

    def doses(self) -> list[float]:
        """The planned dose of every day."""
        return [self.planned_dose(d) for d in range(1, self.planned_sessions + 1)]


_PLAN_LIMITS = {
    "planned_sessions": (1, 30), "dose_start_mg": (0.1, 500), "dose_step_mg": (0, 100),
    "dose_max_mg": (0.1, 500), "max_rate_mg_per_h": (0.1, 200), "volume_ml": (1, 5000),
    "duration_h": (0.25, 24),
}


def validate_plan(fields: Mapping[str, Any]) -> DosePlan:
    """A dose plan from fields (defaults for those missing).

    Raises:
        InvalidValue: naming the field at fault.
    """
    unknown = sorted(set(fields) - set(_PLAN_LIMITS))
    if unknown:
        raise InvalidValue(f"unknown course field {unknown[0]!r}", field=unknown[0])
    values: dict[str, Any] = {}
    for name, value in fields.items():
        low, high = _PLAN_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not low <= value <= high:
            raise InvalidValue(f"{name} must be a number from {low:g} to {high:g}",
                               field=name)
        values[name] = int(value) if name == "planned_sessions" else float(value)
    plan = DosePlan(**values)
    if plan.dose_start_mg > plan.dose_max_mg:
        raise InvalidValue("the first dose must not exceed the maximum", field="dose_start_mg")
    if plan.dose_max_mg / plan.duration_h > plan.max_rate_mg_per_h + 1e-9:
        raise InvalidValue(f"{plan.dose_max_mg:g} mg over {plan.duration_h:g} h exceeds "
                           f"{plan.max_rate_mg_per_h:g} mg/h", field="dose_max_mg")
    return plan


@dataclass(frozen=True, slots=True)
class Course:
    """A patient's course."""

    id: int
    patient_id: int
    protocol: str
    plan: DosePlan
    premedication: tuple[DrugPlan, ...]
    status: str
    started_on: str | None = None
    note: str | None = None
    created_at: float = 0.0
    created_by: str = ""
    closed_at: float | None = None
    closed_by: str | None = None
    days_done: tuple[int, ...] = field(default=())

    def drug(self, name: str) -> DrugPlan | None:
        """The planned premedication ``name``, if it is in the plan."""
        return next((d for d in self.premedication if d.drug == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = {k: getattr(self, k) for k in ("id", "patient_id", "protocol", "status",
                                             "started_on", "note", "created_at", "created_by",
                                             "closed_at", "closed_by")}
        out.update(asdict(self.plan))
        out["planned_doses_mg"] = self.plan.doses()
        out["premedication"] = [d.to_dict() for d in self.premedication]
        out["days_done"] = list(self.days_done)
        return out


def check_dose(course: Course, day: int, dose_mg: float, reason: str | None) -> float:
    """The planned dose of ``day``; checks a given dose against it.

    Raises:
        InvalidValue: above the plan's maximum or hourly rate (refused whatever the reason),
            or off the plan without a reason (field ``dose_mg``).
    """
    plan = course.plan
    planned = plan.planned_dose(day)
    if dose_mg > plan.dose_max_mg + 1e-9:
        raise InvalidValue(f"{dose_mg:g} mg exceeds the course's maximum of "
                           f"{plan.dose_max_mg:g} mg", field="dose_mg")
    if dose_mg / plan.duration_h > plan.max_rate_mg_per_h + 1e-9:
        raise InvalidValue(f"{dose_mg:g} mg over {plan.duration_h:g} h exceeds "
                           f"{plan.max_rate_mg_per_h:g} mg/h", field="dose_mg")
    if abs(dose_mg - planned) > DOSE_TOLERANCE_MG and not (reason and reason.strip()):
        raise InvalidValue(f"day {day} plans {planned:g} mg: a dose of {dose_mg:g} mg needs "
                           "a deviation reason", field="deviation_reason")
    return planned


def _course(row: CourseRow, days: tuple[int, ...] = ()) -> Course:
    plan = DosePlan(row.planned_sessions, row.dose_start_mg, row.dose_step_mg, row.dose_max_mg,
                    row.max_rate_mg_per_h, row.volume_ml, row.duration_h)
    premed = tuple(DrugPlan(**d) for d in row.premedication)
    return Course(row.id, row.patient_id, row.protocol, plan, premed, row.status,
                  row.started_on, row.note, row.created_at, row.created_by, row.closed_at,
                  row.closed_by, days)


async def create(store: Store, patient_id: int, plan: DosePlan, user: str, time: float,
                 protocol: str = PROTOCOL, note: str | None = None) -> Course:
    """Open a course for a patient (audited).

    Raises:
        RecordError: the patient already has an active course.
    """
    if await active(store, patient_id) is not None:
        raise RecordError("the patient already has an active course: close it first")
    row = CourseRow(patient_id=patient_id, protocol=protocol, **asdict(plan),
                    premedication=[d.to_dict() for d in PREMEDICATION_PLAN], status="active",
                    note=note, created_at=time, created_by=user)
    async with store.session() as session, session.begin():
        session.add(row)
        await session.flush()
        course = _course(row)
    await audit.audit(store, time, user, "course_opened", None, patient_id=patient_id,
                      course_id=course.id)
    return course


async def get(store: Store, course_id: int) -> Course:
    """The course with this id, with the days already given.

    Raises:
        RecordError: none.
    """
    async with store.session() as session:
        row = await session.get(CourseRow, course_id)
    if row is None:
        raise RecordNotFound(f"no course {course_id}")
    return _course(row, await days_done(store, course_id))


async def of_patient(store: Store, patient_id: int) -> list[Course]:
    """A patient's courses, newest first."""
    q = select(CourseRow).where(CourseRow.patient_id == patient_id).order_by(CourseRow.id.desc())
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [_course(r, await days_done(store, r.id)) for r in rows]


async def active(store: Store, patient_id: int) -> Course | None:
    """The patient's active course, if any."""
    q = (select(CourseRow).where(CourseRow.patient_id == patient_id,
                                 CourseRow.status == "active")
         .order_by(CourseRow.id.desc()).limit(1))
    async with store.session() as session:
        row = (await session.execute(q)).scalars().first()
    return None if row is None else _course(row, await days_done(store, row.id))


async def days_done(store: Store, course_id: int) -> tuple[int, ...]:
    """Course days that have (or had) a session, cancelled ones aside."""
    q = (select(AdmissionRow.infusion_day)
         .where(AdmissionRow.course_id == course_id, AdmissionRow.cancelled.is_(False),
                AdmissionRow.infusion_day.is_not(None)))
    async with store.session() as session:
        days = (await session.execute(q)).scalars().all()
    return tuple(sorted(int(d) for d in days if d is not None))


def next_day(course: Course) -> int:
    """The first course day without a session.

    Raises:
        RecordError: every planned day has had its session.
    """
    for day in range(1, course.plan.planned_sessions + 1):
        if day not in course.days_done:
            return day
    raise RecordError(f"all {course.plan.planned_sessions} sessions of the course are done")


async def close(store: Store, course_id: int, status: str, user: str, time: float) -> Course:
    """End a course (``completed`` or ``stopped``), audited."""
    if status not in ("completed", "stopped"):
        raise InvalidValue("status must be completed or stopped", field="status")
    async with store.session() as session, session.begin():
        await session.execute(update(CourseRow).where(CourseRow.id == course_id)
                              .values(status=status, closed_at=time, closed_by=user))
    await audit.audit(store, time, user, f"course_{status}", None, course_id=course_id)
    return await get(store, course_id)
