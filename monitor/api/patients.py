"""Patients and their courses: search, registration, changes, the dose plan, follow-up
journals."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from monitor.api.auth import CurrentUser
from monitor.api.deps import RecordId, ServiceDep
from monitor.api.schemas import (
    CloseCourseBody,
    CourseBody,
    FollowUpBody,
    NewPatientBody,
    PatientBody,
)
from monitor.records import charting, courses, patients, sessions

router = APIRouter(tags=["patients"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such patient"}}


@router.get("/api/patients")
async def list_patients(service: ServiceDep, q: Annotated[str, Query(max_length=80)] = "",
                        limit: Annotated[int, Query(ge=1, le=500)] = 50
                        ) -> list[dict[str, Any]]:
    """Patients whose identifier or name contains ``q``, by name; each with the bed they
    are in (or ``null``)."""
    found = await patients.search(service.store, q, limit)
    beds = {a.patient_id: a.bed_id for a in service.admissions.values()}
    return [{**p.to_dict(), "bed_id": beds.get(p.id)} for p in found]


@router.post("/api/patients", status_code=201,
             responses={409: {"description": "the identifier is taken"}})
async def add_patient(body: NewPatientBody, service: ServiceDep, user: CurrentUser
                      ) -> dict[str, Any]:
    """Register a patient (identifier and family name required; 422 names a bad field)."""
    fields = body.model_dump(exclude_unset=True)
    return (await patients.create(service.store, fields, user.username, time.time())).to_dict()


@router.get("/api/patients/{patient_id}", responses=_NOT_FOUND)
async def get_patient(patient_id: RecordId, service: ServiceDep) -> dict[str, Any]:
    """A patient with their courses (each with its planned doses) and sessions."""
    patient = await patients.get(service.store, patient_id)
    beds = {a.patient_id: a.bed_id for a in service.admissions.values()}
    return {**patient.to_dict(), "bed_id": beds.get(patient.id),
            "courses": [c.to_dict() for c in await courses.of_patient(service.store,
                                                                      patient_id)],
            "sessions": [s.to_dict() for s in await sessions.of_patient(service.store,
                                                                        patient_id)]}


@router.patch("/api/patients/{patient_id}", responses={
    **_NOT_FOUND, 409: {"description": "the identifier belongs to another patient"}})
async def change_patient(patient_id: RecordId, body: PatientBody, service: ServiceDep,
                         user: CurrentUser) -> dict[str, Any]:
    """Change some fields of a patient (audited with what they were)."""
    fields = body.model_dump(exclude_unset=True)
    return (await patients.update_patient(service.store, patient_id, fields, user.username,
                                          time.time())).to_dict()


@router.post("/api/patients/{patient_id}/courses", status_code=201, responses={
    **_NOT_FOUND, 409: {"description": "the patient has an active course"}})
async def open_course(patient_id: RecordId, body: CourseBody, service: ServiceDep,
                      user: CurrentUser) -> dict[str, Any]:
    """Open a course with its dose plan (409 when one is active)."""
    await patients.get(service.store, patient_id)
    fields = body.model_dump(exclude_unset=True, exclude={"note"})
    plan = courses.validate_plan({k: v for k, v in fields.items() if v is not None})
    course = await courses.create(service.store, patient_id, plan, user.username, time.time(),
                                  note=body.note)
    return course.to_dict()


@router.get("/api/courses/{course_id}", responses={404: {"description": "no such course"}})
async def get_course(course_id: RecordId, service: ServiceDep) -> dict[str, Any]:
    """A course: its plan, its sessions and its follow-up journals."""
    course = await courses.get(service.store, course_id)
    patient_sessions = await sessions.of_patient(service.store, course.patient_id)
    return {**course.to_dict(),
            "sessions": [s.to_dict() for s in patient_sessions if s.course_id == course.id],
            "follow_ups": await charting.follow_ups(service.store, course.id)}


@router.post("/api/courses/{course_id}/close",
             responses={404: {"description": "no such course"}})
async def close_course(course_id: RecordId, body: CloseCourseBody, service: ServiceDep,
                       user: CurrentUser) -> dict[str, Any]:
    """End a course as ``completed`` or ``stopped``."""
    await courses.get(service.store, course_id)
    return (await courses.close(service.store, course_id, body.status, user.username,
                                time.time())).to_dict()


@router.post("/api/courses/{course_id}/follow-ups", status_code=201,
             responses={404: {"description": "no such course"},
                        409: {"description": "that week has its journal"}})
async def add_follow_up(course_id: RecordId, body: FollowUpBody, service: ServiceDep,
                        user: CurrentUser) -> dict[str, Any]:
    """A follow-up journal some weeks after the course (no bed needed)."""
    course = await courses.get(service.store, course_id)
    now = time.time()
    return await charting.chart_follow_up(service.store, course, body.week, body.detail,
                                          user.username, body.time or now, now)
