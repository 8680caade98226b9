"""Reports and the research CSV over HTTP: the unit's study table, a course, a session
(JSON, or PDF for printing), the records exported and imported.

Figures and PDFs are made in a worker thread: a report never holds up the live flow.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BeforeValidator

from monitor.api.auth import ChargeNurse
from monitor.api.deps import RecordId, ServiceDep
from monitor.domain.errors import InvalidValue
from monitor.records.cohort import CohortError, CohortRow, read_cohort, write_cohort
from monitor.records.cohort_store import import_cohort
from monitor.reports import data
from monitor.service import Service

router = APIRouter(tags=["reports"])
# The .pdf routes come before their JSON siblings: "/session/{session_id}" would take
# "/session/7.pdf" as session "7.pdf".

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    """Only ``YYYY-MM-DD`` (pydantic alone would also take a number of seconds)."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
DateQuery = Annotated[IsoDate | None, Query(description="YYYY-MM-DD, inclusive")]
FromQuery = Annotated[IsoDate | None, Query(alias="from",
                                            description="first course day, YYYY-MM-DD")]
ToQuery = Annotated[IsoDate | None, Query(alias="to", description="last course day, YYYY-MM-DD")]
MAX_IMPORT_BYTES = 20 * 1024 * 1024
_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "the report as a PDF"}}


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


async def _render(make: Callable[[], bytes]) -> bytes:
    return await asyncio.to_thread(make)


@router.get("/api/reports/unit")
async def unit_report(service: ServiceDep, start: FromQuery = None, end: ToQuery = None
                      ) -> dict[str, Any]:
    """The unit's study table: demographics, each journal measure by day (n, mean, SD),
    day 1 against day 10 (Kruskal-Wallis), the share with pain, incidence of each side
    effect and episode kind as patients affected of patients treated."""
    return await data.unit_report(service.store, service.episode_rules(), time.time(),
                                  start, end)


@router.get("/api/reports/unit.pdf", response_class=Response, responses=_PDF)
async def unit_report_pdf(service: ServiceDep, start: FromQuery = None, end: ToQuery = None
                          ) -> Response:
    """The unit report as a PDF."""
    report = await data.unit_report(service.store, service.episode_rules(), time.time(),
                                    start, end)
    period = f"{report['period'].get('from') or '-'} to {report['period'].get('to') or '-'}"
    from monitor.reports import pdf  # matplotlib and the PDF writer: only when asked

    content = await _render(lambda: pdf.unit_report_pdf(report, "Unit report", period,
                                                        unit=service.unit.name))
    return _pdf(content, "unit-report.pdf")


@router.get("/api/reports/course/{identifier}.pdf", response_class=Response,
            responses={**_PDF, 404: {"description": "no patient has this identifier"},
                       409: {"description": "the patient's record lacks the sex or birth "
                             "date the report shows"}})
async def course_report_pdf(identifier: str, service: ServiceDep) -> Response:
    """A patient's course report as a PDF."""
    patient, rows = await _course_rows(identifier, service)
    if patient.birth_date is None or not patient.sex:
        raise HTTPException(409, f"{patient.identifier} has no birth date or sex recorded: "
                            "add them to report the course")
    summary = {"identifier": patient.identifier, "name": patient.display_name,
               "sex": patient.sex, "birth_date": patient.birth_date}
    from monitor.reports import pdf

    content = await _render(lambda: pdf.course_report_pdf(summary, rows,
                                                          unit=service.unit.name))
    return _pdf(content, f"course-{patient.identifier}.pdf")


@router.get("/api/reports/course/{identifier}",
            responses={404: {"description": "no patient has this identifier"},
                       409: {"description": "the patient's record lacks the sex or birth "
                             "date the report shows"}})
async def course_report(identifier: str, service: ServiceDep) -> dict[str, Any]:
    """A patient's course: each journal measure by course day and at follow-up."""
    patient, rows = await _course_rows(identifier, service)
    return {"patient": patient.to_dict(), "rows": [_row(r) for r in rows]}


async def _course_rows(identifier: str, service: Service) -> tuple[Any, list[CohortRow]]:
    try:
        return await data.course_rows(service.store, identifier, service.episode_rules(),
                                      time.time())
    except InvalidValue as exc:
        # The patient's record lacks what the report shows (sex, birth date): a conflict
        # with the record, not a fault of this request (which has no body).
        raise HTTPException(409, str(exc)) from None


def _row(row: CohortRow) -> dict[str, Any]:
    out = asdict(row)
    out["label"] = row.label
    out["date"] = row.date.isoformat()
    out["birth_date"] = row.birth_date.isoformat()
    return out


@router.get("/api/reports/session/{session_id}.pdf", response_class=Response,
            responses={**_PDF, 404: {"description": "no such session"}})
async def session_report_pdf(session_id: RecordId, service: ServiceDep) -> Response:
    """The session report as a PDF."""
    report = await session_report(session_id, service)
    from monitor.reports import session_pdf

    content = await _render(lambda: session_pdf.session_report_pdf(report))
    return _pdf(content, f"session-{session_id}.pdf")


@router.get("/api/reports/session/{session_id}",
            responses={404: {"description": "no such session"}})
async def session_report(session_id: RecordId, service: ServiceDep) -> dict[str, Any]:
    """One session: trends with the baseline band, NIBP readings, alarms with the users'
    actions, episodes, side effects, premedication, the journal."""
    log = await service.store.alarm_log(session_id=session_id, limit=100_000)
    return await data.session_report(service.store, session_id, service.episode_rules(),
                                     time.time(), log)


@router.get("/api/records/export", response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the research CSV"},
                       409: {"description": "the records do not fit the CSV (e.g. a day "
                             "twice for a patient)"}})
async def export_records(service: ServiceDep, _user: ChargeNurse,
                         start: DateQuery = None, end: DateQuery = None) -> Response:
    """The records as a research CSV (one row per patient and course day)."""
    try:
        found = await data.cohort(service.store, service.episode_rules(), time.time(),
                                  start=start, end=end)
    except CohortError as exc:
        # The records do not fit the CSV's one row per patient and day (two courses of a
        # patient on the same day): a conflict of the data, not of this request.
        raise HTTPException(409, f"the records cannot be written as the research CSV: "
                            f"{exc}") from None
    headers = {"Content-Disposition": 'attachment; filename="cohort.csv"'}
    if found.left_out:
        headers["X-Left-Out"] = ",".join(found.left_out)
    return Response(write_cohort(found.rows), media_type="text/csv", headers=headers)


@router.post("/api/records/import", status_code=201,
             responses={403: {"description": "needs a charge nurse or admin"},
                        413: {"description": "the file is too large"},
                        422: {"description": "the file is refused whole, naming the row"}},
             openapi_extra={"requestBody": {"required": True, "content": {
                 "text/csv": {"schema": {"type": "string"}}}}})
async def import_records(request: Request, service: ServiceDep, user: ChargeNurse
                         ) -> dict[str, int]:
    """Import a research CSV (the request body, ``text/csv``): all of it or, when a row is
    wrong, nothing (422 names the row, the header being row 1, and the column)."""
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise HTTPException(413, f"the file is larger than {MAX_IMPORT_BYTES} bytes")
    rows = read_cohort(body)
    return await import_cohort(service.store, rows, user.username, time.time())
