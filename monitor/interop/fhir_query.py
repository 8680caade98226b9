"""Reading the records as FHIR: read by id, search (``patient``, ``encounter``, ``date``
with ``eq``/``ge``/``le``/``gt``/``lt``, ``code``, ``identifier``, ``name``) with paging
(``_count``, ``_offset``), and one course as a list of resources (the NDJSON export).

Searches gather the resources of their scope (a patient's sessions, or one session),
filter and sort them by time, and page them. An Observation search names a ``patient``
or an ``encounter`` (a unit's every minute of every session is not a useful answer).
Dates without a zone are read in this computer's zone.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.domain.errors import InvalidValue, RecordNotFound
from monitor.interop import fhir_resources as fr
from monitor.records import charting, courses, history, patients, sessions
from monitor.records.sessions import Admission
from monitor.storage.database import Store

TYPES = ("Patient", "Encounter", "Observation", "QuestionnaireResponse",
         "MedicationAdministration")
"""The resource types that can be searched (and Questionnaire, read only)."""
SEARCH_PARAMS: dict[str, tuple[str, ...]] = {
    "Patient": ("identifier", "name"),
    "Encounter": ("patient", "date"),
    "Observation": ("patient", "encounter", "date", "code"),
    "QuestionnaireResponse": ("patient", "encounter", "date"),
    "MedicationAdministration": ("patient", "encounter", "date", "code"),
}
DEFAULT_COUNT = 50
MAX_COUNT = 1000
_PREFIXES = ("eq", "ge", "le", "gt", "lt")


class NotSupported(InvalidValue):
    """A search the server does not offer (an OperationOutcome, 400)."""


@dataclass(frozen=True, slots=True)
class DateFilter:
    """One ``date`` parameter: a prefix and the range its value covers ``[low, high)``."""

    op: str
    low: float
    high: float

    def matches(self, t: float) -> bool:
        """Whether time ``t`` satisfies the parameter."""
        return {"eq": self.low <= t < self.high, "ge": t >= self.low, "le": t < self.high,
                "gt": t >= self.high, "lt": t < self.low}[self.op]


def parse_date(text: str) -> DateFilter:
    """A ``date`` parameter such as ``ge2026-01-05`` or ``le2026-01-05T10:30:00Z``.

    Raises:
        InvalidValue: not a FHIR date or dateTime.
    """
    op, value = (text[:2], text[2:]) if text[:2] in _PREFIXES else ("eq", text)
    try:
        if "T" in value:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.astimezone()
            step = 1.0 if value.count(":") >= 2 else 60.0
            low = moment.timestamp()
            return DateFilter(op, low, low + step)
        parts = [int(p) for p in value.split("-")]
        if not 1 <= len(parts) <= 3:
            raise ValueError(value)
        year, month, day = (*parts, 1, 1)[:3]
        start = dt.datetime(year, month, day)
        if len(parts) == 1:
            end = dt.datetime(year + 1, 1, 1)
        elif len(parts) == 2:
            end = dt.datetime(year + month // 12, month % 12 + 1, 1)
        else:
            end = start + dt.timedelta(days=1)
        return DateFilter(op, start.astimezone().timestamp(), end.astimezone().timestamp())
    except (ValueError, OverflowError):
        raise InvalidValue(f"date: {text!r} is not a FHIR date", field="date") from None


def _time_of(resource: Mapping[str, Any]) -> float:
    text = (resource.get("effectiveDateTime")
            or (resource.get("effectivePeriod") or {}).get("start")
            or (resource.get("period") or {}).get("start") or resource.get("authored"))
    if not text:
        return 0.0
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def _codes(resource: Mapping[str, Any]) -> set[tuple[str, str]]:
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    return {(c.get("system", ""), c.get("code", "")) for c in concept.get("coding", [])}


def _code_matches(resource: Mapping[str, Any], text: str) -> bool:
    have = _codes(resource)
    for alternative in text.split(","):
        system, sep, code = alternative.rpartition("|")
        if any(c == code and (not sep or not system or s == system) for s, c in have):
            return True
    return False


def _reference_id(text: str, kind: str) -> int:
    value = text.split("/")[-1] if text.startswith(f"{kind}/") or "/" not in text else ""
    if not value.isdigit():
        raise InvalidValue(f"{kind.lower()}: {text!r} is not a {kind} id", field=kind.lower())
    return int(value)


class FhirRecords:
    """The records as FHIR resources.

    Args:
        store: the database.
        base: the FHIR base URL (``http://host/fhir``), for canonical URLs and links.
        duration_h: the infusion's planned length, for the ketamine rate of a session
            without a course.
    """

    def __init__(self, store: Store, base: str, duration_h: float = 4.0) -> None:
        self.store = store
        self.base = base.rstrip("/")
        self.duration_h = duration_h

    # -- gathering ------------------------------------------------------------------------

    async def session_observations(self, a: Admission, now: float | None = None
                                   ) -> list[dict[str, Any]]:
        """A session's Observations: the medians of its closed minutes, every NIBP."""
        now = time.time() if now is None else now
        stored = await history.session_observations(self.store, a, now)
        until = a.discharged_at if a.discharged_at is not None else now
        out: list[dict[str, Any]] = []
        for minute in history.minute_medians(stored):
            if a.discharged_at is None and minute["time"] + history.MINUTE > until:
                continue  # the minute is still running
            for metric in ("SPO2", "HR", "PR"):
                if minute.get(metric) is not None:
                    out.append(fr.vital(a, metric, minute["time"], minute[metric]))
        out += [fr.blood_pressure(a, r) for r in history.nibp_readings(stored)]
        return out

    async def _sessions(self, params: Mapping[str, str]) -> list[Admission]:
        if "encounter" in params:
            return [await sessions.get(self.store, _reference_id(params["encounter"],
                                                                 "Encounter"))]
        if "patient" in params:
            return await sessions.of_patient(self.store,
                                             _reference_id(params["patient"], "Patient"))
        out = []
        for p in await patients.search(self.store, "", limit=10_000):
            out += await sessions.of_patient(self.store, p.id)
        return out

    async def session_journals(self, a: Admission) -> list[dict[str, Any]]:
        """The session's current pain journal(s) as QuestionnaireResponses."""
        return [fr.journal_response(e, a.patient_id, self.base)
                for e in await charting.clinical_events(self.store, a.id)
                if e["kind"] == "journal"]

    async def session_medications(self, a: Admission) -> list[dict[str, Any]]:
        """The session's ketamine (its rate over the course's planned duration) and
        premedication as MedicationAdministrations."""
        hours = self.duration_h
        if a.course_id is not None:
            hours = (await courses.get(self.store, a.course_id)).plan.duration_h
        out = [r for r in (fr.ketamine(a, hours),) if r is not None]
        out += [fr.premedication(e, a.patient_id)
                for e in await charting.clinical_events(self.store, a.id)
                if e["kind"] == "premedication"]
        return out

    async def _follow_ups(self, patient_id: int, course_id: int | None = None
                          ) -> list[dict[str, Any]]:
        out = []
        for course in await courses.of_patient(self.store, patient_id):
            if course_id is None or course.id == course_id:
                out += [fr.journal_response(e, patient_id, self.base)
                        for e in await charting.follow_ups(self.store, course.id)]
        return out

    async def _gather(self, kind: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        if kind == "Patient":
            return await self._patients(params)
        if kind == "Observation" and not ({"patient", "encounter"} & set(params)):
            raise NotSupported("an Observation search needs patient or encounter",
                               field="patient")
        out: list[dict[str, Any]] = []
        for a in await self._sessions(params):
            if kind == "Encounter":
                out.append(fr.encounter(a))
            elif kind == "Observation":
                out += await self.session_observations(a)
            elif kind == "QuestionnaireResponse":
                out += await self.session_journals(a)
            elif kind == "MedicationAdministration":
                out += await self.session_medications(a)
        if kind == "QuestionnaireResponse" and "patient" in params and "encounter" not in params:
            out += await self._follow_ups(_reference_id(params["patient"], "Patient"))
        return out

    async def _patients(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        if "identifier" in params:
            value = params["identifier"].rpartition("|")[2]
            p = await patients.by_identifier(self.store, value)
            return [] if p is None else [fr.patient(p)]
        found = await patients.search(self.store, params.get("name", ""), limit=10_000)
        return [fr.patient(p) for p in found]

    # -- the interactions -------------------------------------------------------------------

    async def search(self, kind: str, params: Mapping[str, list[str]]
                     ) -> tuple[list[dict[str, Any]], int]:
        """One page of a search: (the resources, how many match in all).

        Raises:
            NotSupported: an unknown resource type or a search that needs a scope.
            InvalidValue: a malformed parameter.
        """
        if kind not in SEARCH_PARAMS:
            raise NotSupported(f"no search of {kind}", field="type")
        single = {k: v[-1] for k, v in params.items() if v}
        dates = [parse_date(d) for d in params.get("date", [])]
        count, offset = _paging(single)
        found = await self._gather(kind, single)
        found = [r for r in found
                 if all(d.matches(_time_of(r)) for d in dates)
                 and ("code" not in single or _code_matches(r, single["code"]))]
        found.sort(key=lambda r: (_time_of(r), r["id"]))
        return found[offset:offset + count], len(found)

    async def read(self, kind: str, ident: str) -> dict[str, Any]:
        """One resource by id.

        Raises:
            RecordNotFound: no such resource.
        """
        try:
            return await self._read(kind, ident)
        except (ValueError, KeyError, IndexError):
            raise RecordNotFound(f"no {kind}/{ident}") from None

    async def _read(self, kind: str, ident: str) -> dict[str, Any]:
        if kind == "Patient":
            return fr.patient(await patients.get(self.store, int(ident)))
        if kind == "Encounter":
            return fr.encounter(await sessions.get(self.store, int(ident)))
        if kind == "Questionnaire" and ident == fr.QUESTIONNAIRE_ID:
            return fr.questionnaire(self.base)
        if kind == "Observation":
            a = await sessions.get(self.store, int(ident.split("-")[0]))
            return _one(await self.session_observations(a), ident, kind)
        if kind == "QuestionnaireResponse" and ident.startswith("journal-"):
            entry = await charting.entry(self.store, int(ident.removeprefix("journal-")))
            if entry["kind"] != "journal":
                raise KeyError(ident)
            owner = await self._entry_patient(entry)
            return fr.journal_response(entry, owner, self.base)
        if kind == "MedicationAdministration":
            prefix, _, number = ident.partition("-")
            if prefix == "ketamine":
                resource = fr.ketamine(await sessions.get(self.store, int(number)),
                                       self.duration_h)
                if resource is None:
                    raise KeyError(ident)
                return resource
            if prefix == "premed":
                entry = await charting.entry(self.store, int(number))
                if entry["kind"] != "premedication":
                    raise KeyError(ident)
                return fr.premedication(entry, await self._entry_patient(entry))
        raise KeyError(ident)

    async def _entry_patient(self, entry: Mapping[str, Any]) -> int | None:
        if entry.get("session_id") is not None:
            return (await sessions.get(self.store, entry["session_id"])).patient_id
        if entry.get("course_id") is not None:
            return (await courses.get(self.store, entry["course_id"])).patient_id
        return None

    async def course_export(self, patient_id: int, course_id: int) -> list[dict[str, Any]]:
        """Every resource of one course: the patient, each session (Encounter) with its
        Observations, journals and medications, and the follow-up journals.

        Raises:
            RecordNotFound: no such patient, or the course is not theirs.
        """
        patient = await patients.get(self.store, patient_id)
        course = await courses.get(self.store, course_id)
        if course.patient_id != patient.id:
            raise RecordNotFound(f"course {course_id} is not a course of Patient/{patient_id}")
        out = [fr.patient(patient)]
        for a in await sessions.of_patient(self.store, patient_id):
            if a.course_id != course_id:
                continue
            out.append(fr.encounter(a))
            out += await self.session_observations(a)
            out += await self.session_journals(a)
            out += await self.session_medications(a)
        out += await self._follow_ups(patient_id, course_id)
        return out


def _one(resources: list[dict[str, Any]], ident: str, kind: str) -> dict[str, Any]:
    for r in resources:
        if r["id"] == ident:
            return r
    raise KeyError(f"{kind}/{ident}")


def _paging(params: Mapping[str, str]) -> tuple[int, int]:
    try:
        count = int(params.get("_count", DEFAULT_COUNT))
        offset = int(params.get("_offset", 0))
    except ValueError:
        raise InvalidValue("_count and _offset are whole numbers", field="_count") from None
    if not 0 <= count <= MAX_COUNT or offset < 0:
        raise InvalidValue(f"_count is 0 to {MAX_COUNT}, _offset 0 or more", field="_count")
    return count, offset


def capability(base: str, now: float) -> dict[str, Any]:
    """The server's CapabilityStatement."""
    resources = []
    for kind in (*TYPES, "Questionnaire"):
        params = SEARCH_PARAMS.get(kind, ())
        types = {"patient": "reference", "encounter": "reference", "date": "date",
                 "code": "token", "identifier": "token", "name": "string"}
        entry: dict[str, Any] = {"type": kind, "interaction": [{"code": "read"}]}
        if params:
            entry["interaction"].append({"code": "search-type"})
            entry["searchParam"] = [{"name": p, "type": types[p]} for p in params]
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement", "status": "active",
        "date": fr.instant(now), "kind": "instance", "fhirVersion": fr.FHIR_VERSION,
        "format": [fr.JSON], "software": {"name": "SPU Monitor"},
        "implementation": {"description": "SPU Monitor records, read only", "url": base},
        "rest": [{"mode": "server", "resource": resources,
                  "security": {"description": "Sign in as for /api: a browser session or "
                                              "an API token (Authorization: Bearer)"},
                  "operation": [{"name": "export",
                                 "definition": "http://hl7.org/fhir/uv/bulkdata/"
                                               "OperationDefinition/patient-export"}]}],
    }
