"""Admissions: which patient is in which bed for today's infusion, and what was charted.

An admission opens when a nurse assigns a patient to a bed. Monitoring (and collection of
pre-infusion data for the baselines) starts then; the infusion start freezes the
baselines; the infusion stop and the discharge close it. Every step records who did it.
Patient labels and references are stored here and shown on screens, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from monitor.domain.errors import MonitorError
from monitor.storage.database import Store
from monitor.storage.tables import AdmissionRow, AuditRow, ClinicalEventRow

EVENT_KINDS = ("premedication", "side_effect", "note", "journal")
"""What can be charted against an admission."""

SIDE_EFFECTS = ("headache", "restlessness", "dysphoria", "hallucinations", "dreams",
                "nausea", "other")
"""Side effects the infusion protocol watches for."""


class AdmissionError(MonitorError, ValueError):
    """A session step that does not fit the bed's state (no patient, infusion not started)."""


class ChartError(ValueError):
    """A charted event whose content is invalid (a pain score of 11, an unknown drug)."""


PREMEDICATIONS = ("clonidine", "midazolam", "other")
"""Premedication the protocol gives before each infusion (clonidine 0.1 mg, midazolam
2-4 mg); ``other`` needs a note."""

JOURNAL_SCALES: dict[str, tuple[int, int]] = {
    "pain": (0, 10),  # pain intensity now, verbal analogue scale
    "worst_pain": (0, 10),  # worst daily pain
    "least_pain": (0, 10),  # least daily pain
    "pain_24h": (0, 10),  # pain over the past 24 hours
    "affective": (0, 4),  # affective component of pain
    "punishing": (0, 4),  # intensity of "punishing" pain
    "movement": (0, 10),  # ability to initiate movement of the affected limb
    "relief_percent": (0, 100),  # overall pain relief so far
}
"""The daily pain journal, recorded before each infusion: field -> inclusive range."""

PAIN_CHARACTERS = ("burning", "aching", "punishing")


def _note(detail: dict[str, Any], required: bool = False) -> str | None:
    note = detail.get("note")
    if note is None:
        if required:
            raise ChartError("detail.note is required")
        return None
    if not isinstance(note, str) or len(note) > 500:
        raise ChartError("detail.note must be text of at most 500 characters")
    return note


def validate_detail(kind: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Check a charted event's content; returns it normalised.

    Raises:
        ChartError: naming the field at fault.
    """
    def unknown(allowed: set[str]) -> None:
        extra = sorted(set(detail) - allowed)
        if extra:
            raise ChartError(f"unknown field(s) for {kind}: {', '.join(extra)}")

    out: dict[str, Any] = {}
    if kind == "premedication":
        unknown({"drug", "dose_mg", "note"})
        drug = detail.get("drug")
        if drug not in PREMEDICATIONS:
            raise ChartError(f"detail.drug must be one of {', '.join(PREMEDICATIONS)}")
        out["drug"] = drug
        dose = detail.get("dose_mg")
        if dose is not None:
            if isinstance(dose, bool) or not isinstance(dose, int | float) or not 0 < dose <= 100:
                raise ChartError("detail.dose_mg must be a number of mg above 0, at most 100")
            out["dose_mg"] = float(dose)
        note = _note(detail, required=drug == "other")
    elif kind == "side_effect":
        unknown({"effect", "note"})
        effect = detail.get("effect")
        if effect not in SIDE_EFFECTS:
            raise ChartError(f"detail.effect must be one of {', '.join(SIDE_EFFECTS)}")
        out["effect"] = effect
        note = _note(detail, required=effect == "other")
    elif kind == "journal":
        unknown({*JOURNAL_SCALES, "character", "skin_colour_change", "note"})
        for name, (low, high) in JOURNAL_SCALES.items():
            if name not in detail:
                continue
            value = detail[name]
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not low <= value <= high:
                raise ChartError(f"detail.{name} must be a number from {low} to {high}")
            out[name] = value
        character = detail.get("character", [])
        if not isinstance(character, list) or not set(character) <= set(PAIN_CHARACTERS):
            raise ChartError(f"detail.character must be a list of {', '.join(PAIN_CHARACTERS)}")
        if character:
            out["character"] = sorted(set(character))
        if "skin_colour_change" in detail:
            if not isinstance(detail["skin_colour_change"], bool):
                raise ChartError("detail.skin_colour_change must be true or false")
            out["skin_colour_change"] = detail["skin_colour_change"]
        if not out:
            raise ChartError("a journal entry needs at least one score")
        note = _note(detail)
    else:  # note
        unknown({"note"})
        note = _note(detail, required=True)
    if note:
        out["note"] = note
    return out


@dataclass(frozen=True, slots=True)
class Admission:
    """A patient's stay in a bed for one infusion day."""

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

    @property
    def phase(self) -> str:
        """``pre_infusion``, ``infusion``, ``post_infusion`` or ``discharged``."""
        if self.discharged_at is not None:
            return "discharged"
        if self.infusion_stopped_at is not None:
            return "post_infusion"
        if self.infusion_started_at is not None:
            return "infusion"
        return "pre_infusion"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for signed-in screens only: it names the patient)."""
        return {
            "id": self.id, "bed_id": self.bed_id, "patient_label": self.patient_label,
            "patient_ref": self.patient_ref, "infusion_day": self.infusion_day,
            "dose_mg": self.dose_mg, "admitted_at": self.admitted_at,
            "admitted_by": self.admitted_by, "infusion_started_at": self.infusion_started_at,
            "infusion_started_by": self.infusion_started_by,
            "infusion_stopped_at": self.infusion_stopped_at,
            "infusion_stopped_by": self.infusion_stopped_by,
            "discharged_at": self.discharged_at, "discharged_by": self.discharged_by,
            "alarm_settings": self.alarm_settings, "phase": self.phase,
        }


def _admission(row: AdmissionRow) -> Admission:
    return Admission(
        row.id, row.bed_id, row.patient_label, row.patient_ref, row.infusion_day,
        row.dose_mg, row.admitted_at, row.admitted_by, row.infusion_started_at,
        row.infusion_started_by, row.infusion_stopped_at, row.infusion_stopped_by,
        row.discharged_at, row.discharged_by, row.alarm_settings,
    )


async def current_admissions(store: Store) -> dict[str, Admission]:
    """Open admissions by bed."""
    q = select(AdmissionRow).where(AdmissionRow.discharged_at.is_(None))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return {r.bed_id: _admission(r) for r in rows}


async def current_admission(store: Store, bed_id: str) -> Admission | None:
    """The open admission of a bed, if any."""
    q = (select(AdmissionRow)
         .where(AdmissionRow.bed_id == bed_id, AdmissionRow.discharged_at.is_(None))
         .order_by(AdmissionRow.id.desc()).limit(1))
    async with store.session() as session:
        row = (await session.execute(q)).scalars().first()
    return None if row is None else _admission(row)


async def audit(store: Store, time: float, user: str, action: str, bed_id: str | None,
                **detail: Any) -> None:
    """Append a user action to the audit log."""
    async with store.session() as session, session.begin():
        await session.execute(insert(AuditRow).values(time=time, user=user, action=action,
                                                      bed_id=bed_id, detail=detail))


async def audit_log(store: Store, bed_id: str | None = None,
                    limit: int = 500) -> list[dict[str, Any]]:
    """Audit records, newest first."""
    q = select(AuditRow).order_by(AuditRow.time.desc(), AuditRow.id.desc()).limit(limit)
    if bed_id is not None:
        q = q.where(AuditRow.bed_id == bed_id)
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [{"time": r.time, "user": r.user, "action": r.action, "bed_id": r.bed_id,
             "detail": r.detail} for r in rows]


async def admit(store: Store, bed_id: str, patient_label: str, user: str, time: float,
                patient_ref: str | None = None, infusion_day: int | None = None,
                dose_mg: float | None = None) -> Admission:
    """Assign a patient to a bed.

    Raises:
        AdmissionError: the bed already has a patient.
    """
    if await current_admission(store, bed_id) is not None:
        raise AdmissionError(f"bed {bed_id} already has a patient: discharge first")
    async with store.session() as session, session.begin():
        result = await session.execute(insert(AdmissionRow).values(
            bed_id=bed_id, patient_label=patient_label, patient_ref=patient_ref,
            infusion_day=infusion_day, dose_mg=dose_mg, admitted_at=time, admitted_by=user,
        ).returning(AdmissionRow.id))
        new_id = int(result.scalar_one())
        session.add(AuditRow(time=time, user=user, action="admit", bed_id=bed_id,
                             detail={"admission_id": new_id, "infusion_day": infusion_day,
                                     "dose_mg": dose_mg}))
    admission = await current_admission(store, bed_id)
    assert admission is not None
    return admission


async def _step(store: Store, bed_id: str, user: str, time: float, action: str,
                check: str, values: dict[str, Any]) -> Admission:
    admission = await current_admission(store, bed_id)
    if admission is None:
        raise AdmissionError(f"bed {bed_id} has no patient admitted")
    allowed = {"start": ("pre_infusion",), "stop": ("infusion",)}[check]
    if admission.phase not in allowed:
        raise AdmissionError(f"cannot {action.replace('_', ' ')} on bed {bed_id}: "
                             f"the session is in phase {admission.phase}")
    async with store.session() as session, session.begin():
        await session.execute(update(AdmissionRow).where(AdmissionRow.id == admission.id)
                              .values(**values))
        session.add(AuditRow(time=time, user=user, action=action, bed_id=bed_id,
                             detail={"admission_id": admission.id}))
    updated = await current_admission(store, bed_id)
    assert updated is not None
    return updated


async def start_infusion(store: Store, bed_id: str, user: str, time: float) -> Admission:
    """Record the infusion start (the caller freezes the baselines)."""
    return await _step(store, bed_id, user, time, "infusion_start", "start",
                       {"infusion_started_at": time, "infusion_started_by": user})


async def stop_infusion(store: Store, bed_id: str, user: str, time: float) -> Admission:
    """Record the infusion stop."""
    return await _step(store, bed_id, user, time, "infusion_stop", "stop",
                       {"infusion_stopped_at": time, "infusion_stopped_by": user})


async def discharge(store: Store, bed_id: str, user: str, time: float) -> Admission:
    """Close the admission: the bed is free."""
    admission = await current_admission(store, bed_id)
    if admission is None:
        raise AdmissionError(f"bed {bed_id} has no patient admitted")
    async with store.session() as session, session.begin():
        await session.execute(update(AdmissionRow).where(AdmissionRow.id == admission.id)
                              .values(discharged_at=time, discharged_by=user))
        session.add(AuditRow(time=time, user=user, action="discharge", bed_id=bed_id,
                             detail={"admission_id": admission.id}))
    return Admission(**{**_fields(admission), "discharged_at": time, "discharged_by": user})


def _fields(a: Admission) -> dict[str, Any]:
    return {k: getattr(a, k) for k in Admission.__slots__}


async def set_alarm_settings(store: Store, bed_id: str, settings: dict[str, Any], user: str,
                             reason: str, time: float) -> Admission:
    """Store the patient's alarm settings (already validated by the rules engine), audited.

    Raises:
        AdmissionError: no patient in the bed.
    """
    admission = await current_admission(store, bed_id)
    if admission is None:
        raise AdmissionError(f"bed {bed_id} has no patient admitted")
    async with store.session() as session, session.begin():
        await session.execute(update(AdmissionRow).where(AdmissionRow.id == admission.id)
                              .values(alarm_settings=settings or None))
        session.add(AuditRow(time=time, user=user, action="alarm_settings", bed_id=bed_id,
                             detail={"admission_id": admission.id, "reason": reason,
                                     "settings": settings}))
    updated = await current_admission(store, bed_id)
    assert updated is not None
    return updated


async def chart(store: Store, bed_id: str, kind: str, detail: dict[str, Any], user: str,
                time: float, recorded_at: float) -> dict[str, Any]:
    """Chart a clinical event (premedication given, side effect observed, note).

    Raises:
        AdmissionError: no patient in the bed.
        ChartError: an unknown kind or invalid content.
    """
    if kind not in EVENT_KINDS:
        raise ChartError(f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})")
    detail = validate_detail(kind, detail)
    admission = await current_admission(store, bed_id)
    if admission is None:
        raise AdmissionError(f"bed {bed_id} has no patient admitted")
    async with store.session() as session, session.begin():
        result = await session.execute(insert(ClinicalEventRow).values(
            admission_id=admission.id, bed_id=bed_id, time=time, kind=kind, detail=detail,
            recorded_by=user, recorded_at=recorded_at).returning(ClinicalEventRow.id))
        event_id = int(result.scalar_one())
        session.add(AuditRow(time=recorded_at, user=user, action=f"chart_{kind}", bed_id=bed_id,
                             detail={"admission_id": admission.id, "event_id": event_id}))
    return {"id": event_id, "admission_id": admission.id, "bed_id": bed_id, "time": time,
            "kind": kind, "detail": detail, "recorded_by": user, "recorded_at": recorded_at}


async def clinical_events(store: Store, admission_id: int) -> list[dict[str, Any]]:
    """Events charted for an admission, oldest first."""
    q = (select(ClinicalEventRow).where(ClinicalEventRow.admission_id == admission_id)
         .order_by(ClinicalEventRow.time, ClinicalEventRow.id))
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [{"id": r.id, "admission_id": r.admission_id, "bed_id": r.bed_id, "time": r.time,
             "kind": r.kind, "detail": r.detail, "recorded_by": r.recorded_by,
             "recorded_at": r.recorded_at} for r in rows]
