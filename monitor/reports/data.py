"""Reports gathered from the database: a session's, a patient's course, the unit's study
table; and the research CSV's rows out of (and into) the records.

A course day's row of the research CSV is one session that was given (not cancelled):
its date (local), the dose given, the session's journal and the side effects charted on it
or detected from its vitals (the study's episodes). Follow-up journals are rows ``F<week>``.
Patients without a birth date or sex cannot be rows of the study's table: they are left
out and named.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from monitor.domain.errors import InvalidValue
from monitor.records import charting, courses, history, patients, sessions
from monitor.records.cohort import CohortRow
from monitor.records.episodes import Episode, EpisodeRules
from monitor.records.patients import Patient
from monitor.records.sessions import Admission
from monitor.records.vocabulary import JOURNAL_FIELDS
from monitor.reports import statistics
from monitor.storage.database import Store
from monitor.storage.tables import AdmissionRow, PatientRow


def local_date(t: float) -> dt.date:
    """The local calendar day of POSIX time ``t`` (an infusion belongs to its local day)."""
    return dt.datetime.fromtimestamp(t).date()


@dataclass(slots=True)
class Cohort:
    """The study's rows, and the patients who could not be rows."""

    rows: list[CohortRow] = field(default_factory=list)
    episodes: dict[str, set[str]] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)


async def _all_patients(store: Store, identifiers: Iterable[str] | None) -> list[Patient]:
    q = select(PatientRow.id).order_by(PatientRow.identifier)
    wanted = None if identifiers is None else set(identifiers)
    async with store.session() as session:
        ids = (await session.execute(q)).scalars().all()
    found = [await patients.get(store, i) for i in ids]
    return [p for p in found if wanted is None or p.identifier in wanted]


async def cohort(store: Store, rules: EpisodeRules, now: float,
                 identifiers: Iterable[str] | None = None,
                 start: dt.date | None = None, end: dt.date | None = None) -> Cohort:
    """The research CSV's rows for these patients (all when ``None``), course days whose
    date lies in ``start..end`` (inclusive; open ends allowed)."""
    out = Cohort()
    for patient in await _all_patients(store, identifiers):
        given = [s for s in await sessions.of_patient(store, patient.id)
                 if not s.cancelled and s.course_day is not None
                 and s.infusion_started_at is not None]
        follow = [e for c in await courses.of_patient(store, patient.id)
                  for e in await charting.follow_ups(store, c.id)]
        if not given and not follow:
            continue
        if patient.birth_date is None or patient.sex is None:
            out.left_out.append(patient.identifier)
            continue
        for admission in given:
            row, detected = await _session_row(store, patient, admission, rules, now)
            if _in(row.date, start, end):
                out.rows.append(row)
                out.episodes.setdefault(patient.identifier, set()).update(detected)
        out.rows += [r for e in follow if _in((r := _follow_up_row(patient, e)).date,
                                                 start, end)]
    return out


def _in(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


def _row(patient: Patient, day: int | None, date: dt.date, dose_mg: float | None,
         journal: dict[str, Any], side_effects: tuple[str, ...] = (),
         follow_up_week: int | None = None) -> CohortRow:
    assert patient.birth_date is not None and patient.sex is not None
    score = {name: (float(v) if isinstance(v := journal.get(name), int | float) else None)
             for name in JOURNAL_FIELDS}
    return CohortRow(
        patient=patient.identifier, sex=patient.sex,
        birth_date=dt.date.fromisoformat(patient.birth_date), weight_kg=patient.weight_kg,
        height_cm=patient.height_cm, day=day, date=date, dose_mg=dose_mg,
        pain=score["pain"], worst_pain=score["worst_pain"], least_pain=score["least_pain"],
        pain_24h=score["pain_24h"], affective=score["affective"],
        punishing=score["punishing"], movement=score["movement"],
        relief_percent=score["relief_percent"], side_effects=side_effects,
        follow_up_week=follow_up_week)


async def _session_row(store: Store, patient: Patient, admission: Admission,
                       rules: EpisodeRules, now: float) -> tuple[CohortRow, set[str]]:
    entries = await charting.clinical_events(store, admission.id)
    journal: dict[str, Any] = next((e["detail"] for e in entries if e["kind"] == "journal"),
                                   {})
    charted = {e["detail"]["effect"] for e in entries if e["kind"] == "side_effect"}
    detected = {e.kind for e in await history.episodes(store, admission, rules, now)}
    assert admission.course_day is not None and admission.infusion_started_at is not None
    row = _row(patient, admission.course_day, local_date(admission.infusion_started_at),
               admission.dose_mg, journal, tuple(sorted(charted | detected)))
    return row, detected


def _follow_up_row(patient: Patient, entry: dict[str, Any]) -> CohortRow:
    return _row(patient, None, local_date(entry["time"]), None, entry["detail"],
                follow_up_week=entry["follow_up_week"])


async def unit_report(store: Store, rules: EpisodeRules, now: float,
                      start: dt.date | None = None, end: dt.date | None = None,
                      identifiers: Iterable[str] | None = None) -> dict[str, Any]:
    """The unit's study table over the chosen courses or dates (see
    :func:`monitor.reports.statistics.unit_report`), with the patients left out named."""
    found = await cohort(store, rules, now, identifiers, start, end)
    report = statistics.unit_report(found.rows, found.episodes)
    report["left_out"] = found.left_out
    period = report.setdefault("period", {})
    if start is not None:
        period["from"] = start.isoformat()
    if end is not None:
        period["to"] = end.isoformat()
    return report


async def course_rows(store: Store, identifier: str, rules: EpisodeRules, now: float
                      ) -> tuple[Patient, list[CohortRow]]:
    """A patient and their rows (course days and follow-ups).

    Raises:
        UnknownPatient: no patient has this identifier.
    """
    patient = await patients.by_identifier(store, identifier)
    if patient is None:
        raise patients.UnknownPatient(f"no patient with identifier {identifier!r}")
    found = await cohort(store, rules, now, [identifier])
    if patient.identifier in found.left_out:
        raise InvalidValue(f"{identifier} has no birth date or sex recorded: add them to "
                           "report the course", field="patient")
    return patient, found.rows


async def session_report(store: Store, session_id: int, rules: EpisodeRules, now: float,
                         alarm_log: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One session's report, the shape :func:`monitor.reports.session_pdf.session_report_pdf`
    takes (``alarm_log``: the session's alarm-log records)."""
    admission = await sessions.get(store, session_id)
    patient = (None if admission.patient_id is None
               else await patients.get(store, admission.patient_id))
    course = (None if admission.course_id is None
              else await courses.get(store, admission.course_id))
    steps = await sessions.steps(store, session_id)
    entries = await charting.clinical_events(store, session_id, history=True)
    trends = await history.trends(store, admission, now, rules.hr_factor, rules.bp_factor)
    found: list[Episode] = await history.episodes(store, admission, rules, now)
    nurses = sorted({u for u in (admission.admitted_by, admission.infusion_started_by,
                                 admission.infusion_stopped_by, admission.discharged_by,
                                 *(s["user"] for s in steps), *(e["recorded_by"] for e in entries),
                                 *(a.get("user") for a in alarm_log)) if u})
    return {
        "session": {**admission.to_dict(), "steps": steps, "nurses": nurses},
        "patient": None if patient is None else patient.to_dict(),
        "course": None if course is None else course.to_dict(),
        "baseline": admission.baseline or {"hr": None, "bp": None},
        "trends": trends,
        "alarms": sorted(alarm_log, key=lambda a: a["time"]),
        "episodes": [e.to_dict() for e in found],
        "events": entries,
    }


def by_patient(rows: Sequence[CohortRow]) -> dict[str, list[CohortRow]]:
    """Rows grouped by patient identifier, in order."""
    grouped: dict[str, list[CohortRow]] = defaultdict(list)
    for row in rows:
        grouped[row.patient].append(row)
    return dict(grouped)


async def session_ids(store: Store) -> list[int]:
    """Every session's id, oldest first."""
    async with store.session() as session:
        return list((await session.execute(select(AdmissionRow.id)
                                           .order_by(AdmissionRow.id))).scalars().all())
