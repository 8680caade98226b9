"""The read-only FHIR R4 API under ``/fhir`` (signed in as for ``/api``): the
CapabilityStatement, read and search of Patient, Encounter, Observation,
QuestionnaireResponse and MedicationAdministration, the pain journal's Questionnaire, and
one course as NDJSON (``GET /fhir/Patient/{id}/$export?course=ID``). Answers are
``application/fhir+json``; errors are OperationOutcomes. See docs/interfaces.md."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from monitor.api.deps import ServiceDep
from monitor.domain.errors import InvalidValue, RecordNotFound
from monitor.interop import fhir_resources as fr
from monitor.interop.fhir_query import SEARCH_PARAMS, FhirRecords, capability

router = APIRouter(tags=["fhir"])

_FHIR: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/fhir+json": {}}, "description": "a FHIR resource"}}
_MISSING: dict[int | str, dict[str, Any]] = {
    404: {"content": {"application/fhir+json": {}},
          "description": "no such resource type or resource (an OperationOutcome)"}}


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _records(request: Request, service: ServiceDep) -> FhirRecords:
    return FhirRecords(service.store, _base(request))


def fhir_json(resource: dict[str, Any], status: int = 200) -> JSONResponse:
    """A FHIR answer."""
    return JSONResponse(resource, status_code=status, media_type=fr.JSON)


def _outcome(exc: Exception, status: int, code: str) -> JSONResponse:
    return fhir_json(fr.outcome(code, str(exc)), status)


@router.get("/fhir/metadata", responses=_FHIR)
async def metadata(request: Request) -> JSONResponse:
    """The server's CapabilityStatement."""
    return fhir_json(capability(_base(request), time.time()))


@router.get("/fhir/Patient/{patient_id}/$export",
            responses={200: {"content": {"application/fhir+ndjson": {}},
                             "description": "the course, one resource per line"},
                       **_MISSING})
async def export_course(patient_id: int, request: Request, service: ServiceDep,
                        course: Annotated[int, Query(description="the course id")]
                        ) -> Response:
    """One course as NDJSON, one resource per line (synchronous, unlike the Bulk Data
    specification's asynchronous kick-off)."""
    try:
        resources = await _records(request, service).course_export(patient_id, course)
    except RecordNotFound as exc:
        return _outcome(exc, 404, "not-found")
    body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in resources)
    return Response(body, media_type=fr.NDJSON)


@router.get("/fhir/{kind}", responses={**_FHIR, **_MISSING})
async def search(kind: str, request: Request, service: ServiceDep) -> JSONResponse:
    """Search (``patient``, ``encounter``, ``date`` with ge/le/gt/lt/eq, ``code``,
    ``identifier``, ``name``; ``_count``, ``_offset``) as a searchset Bundle with
    ``self``, ``next`` and ``previous`` links."""
    if kind not in SEARCH_PARAMS:
        return _outcome(InvalidValue(f"no search of {kind}"), 404, "not-supported")
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    try:
        page, total = await _records(request, service).search(kind, params)
    except RecordNotFound as exc:
        return _outcome(exc, 404, "not-found")
    except InvalidValue as exc:
        return _outcome(exc, 400, "invalid")
    count = int(request.query_params.get("_count", 50))
    offset = int(request.query_params.get("_offset", 0))
    links = {"self": str(request.url)}
    if offset + count < total and count:
        links["next"] = str(request.url.include_query_params(_offset=offset + count,
                                                             _count=count))
    if offset > 0:
        links["previous"] = str(request.url.include_query_params(
            _offset=max(0, offset - count), _count=count))
    return fhir_json(fr.bundle(page, total, links, _base(request)))


@router.get("/fhir/{kind}/{ident}", responses={**_FHIR, **_MISSING})
async def read(kind: str, ident: str, request: Request, service: ServiceDep) -> JSONResponse:
    """One resource by id."""
    try:
        return fhir_json(await _records(request, service).read(kind, ident))
    except RecordNotFound as exc:
        return _outcome(exc, 404, "not-found")
