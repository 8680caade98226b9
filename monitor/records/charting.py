"""Charting: entries against a session (premedication, side effects, the pain journal,
notes) or, for follow-up journals, against a course; and their corrections.

A session has one journal, written before the infusion starts; one written later is marked
``late``. Follow-up journals after the course (weeks 2, 6, 9, 12...) have a week and no
bed. An entry is never changed in place: an amendment is a new entry that supersedes it, a
void marks it; both keep who, when and why, and the original stays readable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from monitor.domain.errors import AdmissionError, ChartError, RecordError, RecordNotFound
from monitor.records import audit
from monitor.records.chart_content import validate_detail
from monitor.records.courses import Course
from monitor.records.sessions import Admission
from monitor.records.vocabulary import PREMEDICATION_PLAN, DrugPlan
from monitor.storage.database import Store
from monitor.storage.tables import ClinicalEventRow

MAX_FOLLOW_UP_WEEK = 520


def _entry(r: ClinicalEventRow) -> dict[str, Any]:
    return {"id": r.id, "admission_id": r.admission_id, "session_id": r.admission_id,
            "course_id": r.course_id, "bed_id": r.bed_id, "time": r.time, "kind": r.kind,
            "detail": r.detail, "recorded_by": r.recorded_by, "recorded_at": r.recorded_at,
            "follow_up_week": r.follow_up_week, "late": bool(r.late),
            "supersedes": r.supersedes_id, "superseded_by": r.superseded_by_id,
            "correction_reason": r.correction_reason, "voided_at": r.voided_at,
            "voided_by": r.voided_by, "voided": r.voided_at is not None,
            "amended": r.superseded_by_id is not None}


def _plan(course: Course | None) -> tuple[DrugPlan, ...]:
    return course.premedication if course is not None else PREMEDICATION_PLAN


def _current() -> Any:
    return (ClinicalEventRow.voided_at.is_(None), ClinicalEventRow.superseded_by_id.is_(None))


async def _session_journal(store: Store, session_id: int) -> ClinicalEventRow | None:
    q = select(ClinicalEventRow).where(ClinicalEventRow.admission_id == session_id,
                                       ClinicalEventRow.kind == "journal", *_current())
    async with store.session() as session:
        return (await session.execute(q.limit(1))).scalars().first()


async def chart(store: Store, admission: Admission, kind: str, detail: dict[str, Any],
                user: str, time: float, recorded_at: float,
                course: Course | None = None) -> dict[str, Any]:
    """Chart an entry on an open session.

    Raises:
        ChartError: invalid content (naming the field).
        AdmissionError: a second journal for the session (amend the first instead).
    """
    content = validate_detail(kind, detail, _plan(course))
    late = False
    if kind == "journal":
        if await _session_journal(store, admission.id) is not None:
            raise AdmissionError("this session has its journal: amend it to correct it",
                                 field="kind")
        started = admission.infusion_started_at
        late = started is not None and time >= started
    row = ClinicalEventRow(admission_id=admission.id, bed_id=admission.bed_id, time=time,
                           kind=kind, detail=content, recorded_by=user,
                           recorded_at=recorded_at, course_id=admission.course_id, late=late)
    return await _insert(store, row, f"chart_{kind}", admission.bed_id,
                         {"admission_id": admission.id})


async def chart_follow_up(store: Store, course: Course, week: int, detail: dict[str, Any],
                          user: str, time: float, recorded_at: float) -> dict[str, Any]:
    """A follow-up journal ``week`` weeks after the course.

    Raises:
        ChartError: invalid content or week; RecordError: that week has its journal.
    """
    if isinstance(week, bool) or not isinstance(week, int) \
            or not 1 <= week <= MAX_FOLLOW_UP_WEEK:
        raise ChartError(f"week must be a whole number from 1 to {MAX_FOLLOW_UP_WEEK}",
                         field="week")
    content = validate_detail("journal", detail)
    q = select(ClinicalEventRow).where(ClinicalEventRow.course_id == course.id,
                                       ClinicalEventRow.follow_up_week == week, *_current())
    async with store.session() as session:
        if (await session.execute(q.limit(1))).scalars().first() is not None:
            raise RecordError(f"week {week} has its follow-up journal: amend it",
                              field="week")
    row = ClinicalEventRow(admission_id=None, bed_id=None, time=time, kind="journal",
                           detail=content, recorded_by=user, recorded_at=recorded_at,
                           course_id=course.id, follow_up_week=week)
    return await _insert(store, row, "chart_follow_up", None,
                         {"course_id": course.id, "week": week})


async def _insert(store: Store, row: ClinicalEventRow, action: str, bed_id: str | None,
                  detail: dict[str, Any]) -> dict[str, Any]:
    async with store.session() as session, session.begin():
        session.add(row)
        await session.flush()
        await audit.record(session, row.recorded_at, row.recorded_by, action, bed_id,
                           {**detail, "event_id": row.id})
        entry = _entry(row)
    return entry


async def entry(store: Store, event_id: int) -> dict[str, Any]:
    """One charted entry, current or corrected.

    Raises:
        RecordError: no such entry.
    """
    async with store.session() as session:
        row = await session.get(ClinicalEventRow, event_id)
    if row is None:
        raise RecordNotFound(f"no charted entry {event_id}")
    return _entry(row)


async def _correctable(store: Store, event_id: int, reason: str) -> ClinicalEventRow:
    if not reason or len(reason.strip()) < 3:
        raise ChartError("a correction needs a reason", field="reason")
    async with store.session() as session:
        row = await session.get(ClinicalEventRow, event_id)
    if row is None:
        raise RecordNotFound(f"no charted entry {event_id}")
    if row.voided_at is not None or row.superseded_by_id is not None:
        raise AdmissionError("this entry was already corrected: correct the current one")
    return row


async def amend(store: Store, event_id: int, detail: dict[str, Any], reason: str, user: str,
                now: float, course: Course | None = None) -> dict[str, Any]:
    """Replace an entry's content: a new entry supersedes it; the original stays.

    Raises:
        ChartError: invalid content or no reason; AdmissionError: already corrected.
    """
    old = await _correctable(store, event_id, reason)
    content = validate_detail(old.kind, detail, _plan(course))
    new = ClinicalEventRow(admission_id=old.admission_id, bed_id=old.bed_id, time=old.time,
                           kind=old.kind, detail=content, recorded_by=user, recorded_at=now,
                           course_id=old.course_id, follow_up_week=old.follow_up_week,
                           late=old.late, supersedes_id=old.id, correction_reason=reason)
    async with store.session() as session, session.begin():
        session.add(new)
        await session.flush()
        await session.execute(update(ClinicalEventRow).where(ClinicalEventRow.id == old.id)
                              .values(superseded_by_id=new.id))
        await audit.record(session, now, user, "chart_amend", old.bed_id,
                           {"event_id": old.id, "new_event_id": new.id, "reason": reason,
                            "was": old.detail})
        out = _entry(new)
    return out


async def void(store: Store, event_id: int, reason: str, user: str, now: float
               ) -> dict[str, Any]:
    """Mark an entry void (charted in error); it stays readable, marked.

    Raises:
        ChartError: no reason; AdmissionError: already corrected.
    """
    old = await _correctable(store, event_id, reason)
    async with store.session() as session, session.begin():
        await session.execute(update(ClinicalEventRow).where(ClinicalEventRow.id == old.id)
                              .values(voided_at=now, voided_by=user, correction_reason=reason))
        await audit.record(session, now, user, "chart_void", old.bed_id,
                           {"event_id": old.id, "reason": reason})
    return await entry(store, event_id)


async def clinical_events(store: Store, session_id: int, history: bool = False
                          ) -> list[dict[str, Any]]:
    """Entries charted on a session, oldest first: the current ones, or with ``history``
    every version (amended and voided ones marked)."""
    q = select(ClinicalEventRow).where(ClinicalEventRow.admission_id == session_id)
    if not history:
        q = q.where(*_current())
    async with store.session() as session:
        rows = (await session.execute(q.order_by(ClinicalEventRow.time,
                                                 ClinicalEventRow.id))).scalars().all()
    return [_entry(r) for r in rows]


async def follow_ups(store: Store, course_id: int) -> list[dict[str, Any]]:
    """A course's current follow-up journals, by week."""
    q = (select(ClinicalEventRow)
         .where(ClinicalEventRow.course_id == course_id,
                ClinicalEventRow.follow_up_week.is_not(None), *_current())
         .order_by(ClinicalEventRow.follow_up_week))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [_entry(r) for r in rows]


async def course_entries(store: Store, course_id: int) -> list[dict[str, Any]]:
    """Every current entry of a course's sessions and follow-ups (for reports)."""
    q = (select(ClinicalEventRow)
         .where(ClinicalEventRow.course_id == course_id, *_current())
         .order_by(ClinicalEventRow.time, ClinicalEventRow.id))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [_entry(r) for r in rows]
