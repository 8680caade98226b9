"""The research CSV into the records: a unit moving from paper, a researcher's cohort.

Each patient of the file becomes a patient (identifier as name: research data carry no
names) with one course of the protocol; each course day a session that was given (at
local noon of its date, 4 hours, in the pseudo-bed ``import``), with its dose, its journal
(charted before the infusion) and its side effects; each follow-up row a follow-up journal.
The whole file goes in one transaction: a refused file leaves nothing behind. A patient the
records already hold is refused (a file is imported once), naming the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.records import audit
from monitor.records.cohort import CohortError, CohortRow
from monitor.records.courses import DOSE_TOLERANCE_MG, PROTOCOL, DosePlan
from monitor.records.vocabulary import JOURNAL_FIELDS, PREMEDICATION_PLAN
from monitor.storage.database import Store
from monitor.storage.tables import (
    AdmissionRow,
    ClinicalEventRow,
    CourseRow,
    InfusionStepRow,
    PatientRow,
)

IMPORT_BED = "import"
"""The bed of imported sessions (no bed of the unit had them)."""
_NOON = dt.time(12, 0)


def _noon(day: dt.date) -> float:
    return dt.datetime.combine(day, _NOON).timestamp()


async def import_cohort(store: Store, rows: Sequence[CohortRow], user: str, now: float
                        ) -> dict[str, int]:
    """Import rows read by :func:`monitor.records.cohort.read_cohort` (row ``i`` of the list
    is row ``i + 2`` of the file), all or nothing.

    Returns:
        Counts: ``patients``, ``sessions``, ``follow_ups``.

    Raises:
        CohortError: a patient already recorded, naming the row and column.
    """
    first_row: dict[str, int] = {}
    for i, row in enumerate(rows):
        first_row.setdefault(row.patient, i + 2)
    counts = {"patients": 0, "sessions": 0, "follow_ups": 0}
    async with store.session() as session, session.begin():
        taken = set((await session.execute(select(PatientRow.identifier).where(
            PatientRow.identifier.in_(list(first_row))))).scalars().all())
        if taken:
            identifier = min(taken, key=lambda t: first_row[t])
            raise CohortError(f"patient {identifier} is already in the records (a file is "
                              "imported once)", first_row[identifier], "patient")
        for identifier in first_row:
            mine = [r for r in rows if r.patient == identifier]
            await _patient(session, identifier, mine, user, now, counts)
        await audit.record(session, now, user, "records_import", None, dict(counts))
    return counts


async def _patient(session: AsyncSession, identifier: str, rows: list[CohortRow], user: str,
                   now: float, counts: dict[str, int]) -> None:
    first = rows[0]
    patient = PatientRow(identifier=identifier, family_name=identifier, given_name="",
                         birth_date=first.birth_date.isoformat(), sex=first.sex,
                         weight_kg=first.weight_kg, height_cm=first.height_cm, medications=[],
                         source="import", created_at=now, created_by=user, updated_at=now,
                         updated_by=user)
    session.add(patient)
    await session.flush()
    plan = DosePlan()
    course_days = [r for r in rows if r.follow_up_week is None]
    starts = sorted(r.date for r in rows)
    course = CourseRow(patient_id=patient.id, protocol=PROTOCOL, **asdict(plan),
                       premedication=[d.to_dict() for d in PREMEDICATION_PLAN],
                       status="completed", started_on=starts[0].isoformat(),
                       note="imported from a research CSV", created_at=now, created_by=user,
                       closed_at=now, closed_by=user)
    session.add(course)
    await session.flush()
    counts["patients"] += 1
    for row in course_days:
        await _session(session, patient, course, plan, row, user, now)
        counts["sessions"] += 1
    for row in rows:
        if row.follow_up_week is not None:
            session.add(_journal(row, user, now, None, course.id, _noon(row.date)))
            counts["follow_ups"] += 1


async def _session(session: AsyncSession, patient: PatientRow, course: CourseRow,
                   plan: DosePlan, row: CohortRow, user: str, now: float) -> None:
    assert row.day is not None
    start = _noon(row.date)
    stop = start + plan.duration_h * 3600
    planned = plan.planned_dose(row.day) if row.day <= plan.planned_sessions else None
    off_plan = (row.dose_mg is not None and planned is not None
                and abs(row.dose_mg - planned) > DOSE_TOLERANCE_MG)
    admission = AdmissionRow(
        bed_id=IMPORT_BED, patient_label=patient.family_name, patient_ref=patient.identifier,
        infusion_day=row.day, dose_mg=row.dose_mg, admitted_at=start - 3600, admitted_by=user,
        infusion_started_at=start, infusion_started_by=user, infusion_stopped_at=stop,
        infusion_stopped_by=user, discharged_at=stop, discharged_by=user,
        patient_id=patient.id, course_id=course.id, planned_dose_mg=planned,
        dose_deviation_reason="as recorded in the imported file" if off_plan else None,
        infusion_stop_reason="completed", devices=[], cancelled=False,
        episodes_at=now)  # no vitals came with the file: nothing to count
    session.add(admission)
    await session.flush()
    session.add_all([InfusionStepRow(session_id=admission.id, step=step, time=t, user=user,
                                     reason=why)
                     for step, t, why in (("start", start, None), ("stop", stop, "completed"))])
    if any(getattr(row, name) is not None for name in JOURNAL_FIELDS):
        session.add(_journal(row, user, now, admission.id, course.id, start - 1800))
    for effect in row.side_effects:
        session.add(ClinicalEventRow(admission_id=admission.id, bed_id=IMPORT_BED,
                                     time=start + 3600, kind="side_effect",
                                     detail={"effect": effect}, recorded_by=user,
                                     recorded_at=now, course_id=course.id))


def _journal(row: CohortRow, user: str, now: float, session_id: int | None, course_id: int,
             time: float) -> ClinicalEventRow:
    detail: dict[str, Any] = {}
    for name in JOURNAL_FIELDS:
        value = getattr(row, name)
        if value is not None:
            detail[name] = int(value) if float(value).is_integer() else value
    return ClinicalEventRow(admission_id=session_id, bed_id=None if session_id is None
                            else IMPORT_BED, time=time, kind="journal", detail=detail,
                            recorded_by=user, recorded_at=now, course_id=course_id,
                            follow_up_week=row.follow_up_week)
