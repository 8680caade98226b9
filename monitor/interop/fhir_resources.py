"""FHIR R4 resources made from the records, pure: Patient, Encounter (a session),
Observation (vital-signs profile: 1-minute medians of SpO2, heart rate and pulse rate,
every NIBP reading as a blood-pressure panel), Questionnaire and QuestionnaireResponse
(the pain journal), MedicationAdministration (the session's ketamine, premedication),
CapabilityStatement, Bundle and OperationOutcome.

Codes: LOINC for the vital signs (SpO2 59408-5 and 2708-6, heart rate 8867-4, pulse rate
by oximetry 8889-8, blood pressure panel 85354-9 with 8480-6 systolic, 8462-4 diastolic
and 8478-0 mean) beside the IEEE 11073 MDC code (``urn:iso:std:iso:11073:10101``); UCUM
units ``%``, ``/min``, ``mm[Hg]``, ``mg``; SNOMED CT routes. Drugs carry this product's
own code (``urn:spu-monitor:drug``) and their name: no RxNorm or SNOMED drug code is
asserted. Sources: FHIR R4 Observation vital signs profiles (hl7.org/fhir/R4/
observation-vitalsigns.html), docs/interfaces.md.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from monitor.records.patients import Patient
from monitor.records.sessions import Admission
from monitor.records.vocabulary import JOURNAL_SCALES, PAIN_CHARACTERS

FHIR_VERSION = "4.0.1"
JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
LOINC = "http://loinc.org"
MDC = "urn:iso:std:iso:11073:10101"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
IDENTIFIER_SYSTEM = "urn:spu-monitor:patient-identifier"
SESSION_SYSTEM = "urn:spu-monitor:session"
DRUG_SYSTEM = "urn:spu-monitor:drug"
CHARACTER_SYSTEM = "urn:spu-monitor:pain-character"
PROFILE = "http://hl7.org/fhir/StructureDefinition/"
VITAL_SIGNS = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                     "observation-category",
                           "code": "vital-signs", "display": "Vital Signs"}],
               "text": "Vital Signs"}
QUESTIONNAIRE_ID = "pain-journal"

# metric -> (id part, profile, codings, UCUM unit)
VITALS: dict[str, tuple[str, str, list[dict[str, str]], str]] = {
    "SPO2": ("spo2", "oxygensat", [
        {"system": LOINC, "code": "59408-5",
         "display": "Oxygen saturation in Arterial blood by Pulse oximetry"},
        {"system": LOINC, "code": "2708-6", "display": "Oxygen saturation in Arterial blood"},
        {"system": MDC, "code": "150456", "display": "MDC_PULS_OXIM_SAT_O2"}], "%"),
    "HR": ("hr", "heartrate", [
        {"system": LOINC, "code": "8867-4", "display": "Heart rate"},
        {"system": MDC, "code": "147842", "display": "MDC_ECG_HEART_RATE"}], "/min"),
    "PR": ("pr", "vitalsigns", [
        {"system": LOINC, "code": "8889-8", "display": "Heart rate by Pulse oximetry"},
        {"system": MDC, "code": "149530", "display": "MDC_PULS_OXIM_PULS_RATE"}], "/min"),
}
BP_PANEL = [{"system": LOINC, "code": "85354-9",
             "display": "Blood pressure panel with all children optional"},
            {"system": MDC, "code": "150020", "display": "MDC_PRESS_BLD_NONINV"}]
BP_PARTS = (
    ("systolic", [{"system": LOINC, "code": "8480-6", "display": "Systolic blood pressure"},
                  {"system": MDC, "code": "150021", "display": "MDC_PRESS_BLD_NONINV_SYS"}]),
    ("diastolic", [{"system": LOINC, "code": "8462-4", "display": "Diastolic blood pressure"},
                   {"system": MDC, "code": "150022", "display": "MDC_PRESS_BLD_NONINV_DIA"}]),
    ("mean", [{"system": LOINC, "code": "8478-0", "display": "Mean blood pressure"},
              {"system": MDC, "code": "150023", "display": "MDC_PRESS_BLD_NONINV_MEAN"}]),
)
ROUTES = {"PO": ("26643006", "Oral route"), "IV": ("47625008", "Intravenous route"),
          "IM": ("78421000", "Intramuscular route"), "SL": ("37839007", "Sublingual route"),
          "IN": ("46713006", "Nasal route")}
GENDERS = {"F": "female", "M": "male"}


def instant(t: float) -> str:
    """POSIX seconds as a FHIR instant (UTC, seconds)."""
    return dt.datetime.fromtimestamp(round(t), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ref(kind: str, ident: object) -> dict[str, str]:
    """A reference ``kind/ident``."""
    return {"reference": f"{kind}/{ident}"}


def quantity(value: float, unit: str) -> dict[str, Any]:
    """A UCUM quantity (at most one decimal)."""
    v = round(float(value), 1)
    return {"value": int(v) if v.is_integer() else v, "unit": unit, "system": UCUM,
            "code": unit}


def patient(p: Patient) -> dict[str, Any]:
    """A Patient."""
    out: dict[str, Any] = {
        "resourceType": "Patient", "id": str(p.id),
        "identifier": [{"use": "usual", "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
            "system": IDENTIFIER_SYSTEM, "value": p.identifier}],
        "name": [{"use": "official", "family": p.family_name,
                  **({"given": [p.given_name]} if p.given_name else {})}],
    }
    if p.sex in GENDERS:
        out["gender"] = GENDERS[p.sex]
    if p.birth_date:
        out["birthDate"] = p.birth_date
    return out


def encounter(a: Admission) -> dict[str, Any]:
    """An Encounter: one session (a course day in a bed)."""
    status = {"cancelled": "cancelled", "discharged": "finished"}.get(a.phase, "in-progress")
    period = {"start": instant(a.admitted_at)}
    if a.discharged_at is not None:
        period["end"] = instant(a.discharged_at)
    out: dict[str, Any] = {
        "resourceType": "Encounter", "id": str(a.id), "status": status,
        "identifier": [{"system": SESSION_SYSTEM, "value": str(a.id)}],
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "SS",
                  "display": "short stay"},
        "type": [{"text": f"Ketamine infusion, course day {a.course_day}"
                  if a.course_day else "Ketamine infusion"}],
        "period": period,
        "location": [{"location": {"display": a.bed_id}}],
    }
    if a.patient_id is not None:
        out["subject"] = ref("Patient", a.patient_id)
    return out


def _observation(ident: str, profile: str, a: Admission, code: list[dict[str, str]]
                 ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation", "id": ident,
        "meta": {"profile": [PROFILE + profile]}, "status": "final",
        "category": [VITAL_SIGNS], "code": {"coding": code, "text": code[0]["display"]},
        "encounter": ref("Encounter", a.id),
    }
    if a.patient_id is not None:
        out["subject"] = ref("Patient", a.patient_id)
    return out


def vital(a: Admission, metric: str, minute: float, value: float,
          length_s: float = 60.0) -> dict[str, Any]:
    """One minute's median of a continuous metric (SpO2, HR, PR)."""
    part, profile, code, unit = VITALS[metric]
    out = _observation(f"{a.id}-{part}-{int(minute)}", profile, a, code)
    out["effectivePeriod"] = {"start": instant(minute), "end": instant(minute + length_s)}
    out["valueQuantity"] = quantity(value, unit)
    out["method"] = {"text": "median of the minute's valid samples"}
    return out


def blood_pressure(a: Admission, reading: dict[str, Any]) -> dict[str, Any]:
    """One NIBP reading: the panel with systolic, diastolic and mean components (an
    artifact's components carry a data-absent reason, not numbers)."""
    out = _observation(f"{a.id}-bp-{int(reading['time'])}", "bp", a, BP_PANEL)
    out["effectiveDateTime"] = instant(reading["time"])
    components = []
    for key, code in BP_PARTS:
        value = None if reading.get("artifact") else reading.get(key)
        comp: dict[str, Any] = {"code": {"coding": code, "text": code[0]["display"]}}
        if value is None:
            comp["dataAbsentReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "error" if reading.get("artifact") else "unknown"}]}
        else:
            comp["valueQuantity"] = quantity(value, "mm[Hg]")
        components.append(comp)
    out["component"] = components
    if reading.get("artifact"):
        out["note"] = [{"text": f"artifact: {reading['artifact']}"}]
    return out


def questionnaire(base: str) -> dict[str, Any]:
    """The pain journal's Questionnaire: every item with its scale and anchors."""
    items: list[dict[str, Any]] = []
    for name, scale in JOURNAL_SCALES.items():
        anchors = "; ".join(f"{k} {v}" for k, v in sorted(scale.anchors.items()))
        items.append({
            "linkId": name, "text": f"{scale.question} ({anchors})", "type": "integer",
            "extension": [
                {"url": PROFILE + "minValue", "valueInteger": scale.low},
                {"url": PROFILE + "maxValue", "valueInteger": scale.high}]})
    items += [
        {"linkId": "character", "text": "Character of the pain", "type": "choice",
         "repeats": True, "answerOption": [{"valueCoding": {"system": CHARACTER_SYSTEM,
                                                            "code": c, "display": c}}
                                           for c in PAIN_CHARACTERS]},
        {"linkId": "skin_colour_change", "text": "Skin colour change", "type": "boolean"},
        {"linkId": "note", "text": "Note", "type": "string"},
        {"linkId": "follow_up_week", "text": "Weeks after the course (follow-up journals)",
         "type": "integer"},
    ]
    return {"resourceType": "Questionnaire", "id": QUESTIONNAIRE_ID,
            "url": f"{base}/Questionnaire/{QUESTIONNAIRE_ID}", "name": "PainJournal",
            "title": "Daily pain journal (recorded before each infusion)", "status": "active",
            "subjectType": ["Patient"], "item": items}


def _answer(name: str, value: Any) -> list[dict[str, Any]]:
    if name == "character":
        return [{"valueCoding": {"system": CHARACTER_SYSTEM, "code": c, "display": c}}
                for c in value]
    if isinstance(value, bool):
        return [{"valueBoolean": value}]
    if isinstance(value, int):
        return [{"valueInteger": value}]
    if isinstance(value, float):
        return [{"valueDecimal": value}]
    return [{"valueString": str(value)}]


def journal_response(entry: dict[str, Any], patient_id: int | None, base: str
                     ) -> dict[str, Any]:
    """A charted journal (a session's, or a follow-up's) as a QuestionnaireResponse."""
    detail = dict(entry["detail"])
    if entry.get("follow_up_week") is not None:
        detail["follow_up_week"] = entry["follow_up_week"]
    items = [{"linkId": name, "answer": _answer(name, detail[name])}
             for name in (*JOURNAL_SCALES, "character", "skin_colour_change", "note",
                          "follow_up_week") if name in detail]
    out: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse", "id": f"journal-{entry['id']}",
        "questionnaire": f"{base}/Questionnaire/{QUESTIONNAIRE_ID}",
        "status": "amended" if entry.get("supersedes") else "completed",
        "authored": instant(entry["recorded_at"]),
        "author": {"display": entry["recorded_by"]}, "item": items,
    }
    if patient_id is not None:
        out["subject"] = ref("Patient", patient_id)
    if entry.get("session_id") is not None:
        out["encounter"] = ref("Encounter", entry["session_id"])
    return out


def _drug(name: str) -> dict[str, Any]:
    return {"coding": [{"system": DRUG_SYSTEM, "code": name, "display": name}], "text": name}


def _dosage(dose_mg: float | None, route: str, text: str) -> dict[str, Any]:
    code, display = ROUTES.get(route, ("", route))
    out: dict[str, Any] = {"text": text,
                           "route": {"coding": [{"system": SNOMED, "code": code,
                                                 "display": display}], "text": route}}
    if not code:
        out["route"] = {"text": route}
    if dose_mg is not None:
        out["dose"] = quantity(dose_mg, "mg")
    return out


def ketamine(a: Admission, duration_h: float | None = None) -> dict[str, Any] | None:
    """The session's ketamine infusion, once it started (or a session cancelled before)."""
    if a.infusion_started_at is None and a.phase != "cancelled":
        return None
    if a.phase == "cancelled":
        status = "not-done"
    elif a.infusion_stopped_at is not None:
        status = "completed" if a.infusion_stop_reason in (None, "completed") else "stopped"
    else:
        status = "on-hold" if a.phase == "paused" else "in-progress"
    text = "ketamine in 500 ml normal saline, IV infusion"
    out: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": f"ketamine-{a.id}", "status": status,
        "medicationCodeableConcept": _drug("ketamine"), "context": ref("Encounter", a.id),
        "subject": ref("Patient", a.patient_id if a.patient_id is not None else 0),
    }
    if a.infusion_started_at is not None:
        period = {"start": instant(a.infusion_started_at)}
        if a.infusion_stopped_at is not None:
            period["end"] = instant(a.infusion_stopped_at)
        out["effectivePeriod"] = period
    else:
        out["effectivePeriod"] = {"start": instant(a.admitted_at)}
    dosage = _dosage(a.dose_mg, "IV", text)
    if a.dose_mg is not None and duration_h:
        dosage["rateQuantity"] = quantity(a.dose_mg / duration_h, "mg/h")
    out["dosage"] = dosage
    if status == "stopped" and a.infusion_stop_reason:
        out["statusReason"] = [{"text": a.infusion_stop_reason}]
    if a.dose_deviation_reason:
        out["note"] = [{"text": f"dose off the plan: {a.dose_deviation_reason}"}]
    return out


def premedication(entry: dict[str, Any], patient_id: int | None) -> dict[str, Any]:
    """A charted premedication."""
    d = entry["detail"]
    drug = d["drug"] if d.get("drug") != "other" else (d.get("note") or "other")
    out: dict[str, Any] = {
        "resourceType": "MedicationAdministration", "id": f"premed-{entry['id']}",
        "status": "completed", "medicationCodeableConcept": _drug(drug),
        "subject": ref("Patient", patient_id if patient_id is not None else 0),
        "effectiveDateTime": instant(entry["time"]),
        "dosage": _dosage(d.get("dose_mg"), d.get("route") or "", "premedication"),
    }
    if entry.get("session_id") is not None:
        out["context"] = ref("Encounter", entry["session_id"])
    if d.get("deviation_reason"):
        out["note"] = [{"text": f"off the plan: {d['deviation_reason']}"}]
    return out


def bundle(resources: list[dict[str, Any]], total: int, links: dict[str, str],
           base: str) -> dict[str, Any]:
    """A searchset Bundle with its paging links."""
    return {"resourceType": "Bundle", "type": "searchset", "total": total,
            "link": [{"relation": rel, "url": url} for rel, url in links.items()],
            "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def outcome(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue."""
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": severity, "code": code, "diagnostics": text}]}
