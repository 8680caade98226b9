"""Charting against a session: premedication given, side effects, the pain journal, notes.

Content is validated here, whoever sends it (the dashboard limits choices too, but the
records never rely on a screen). Errors name the field at fault.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from monitor.domain.errors import AdmissionError, ChartError
from monitor.records.sessions import current_admission
from monitor.storage.database import Store
from monitor.storage.tables import AuditRow, ClinicalEventRow

EVENT_KINDS = ("premedication", "side_effect", "note", "journal")
"""What can be charted against an admission."""

SIDE_EFFECTS = ("headache", "restlessness", "dysphoria", "hallucinations", "dreams",
                "nausea", "other")
"""Side effects the infusion protocol watches for."""


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
            raise ChartError("detail.note is required",
                             field="detail.note")
        return None
    if not isinstance(note, str) or len(note) > 500:
        raise ChartError("detail.note must be text of at most 500 characters",
                         field="detail.note")
    return note


def validate_detail(kind: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Check a charted event's content; returns it normalised.

    Raises:
        ChartError: naming the field at fault.
    """
    def unknown(allowed: set[str]) -> None:
        extra = sorted(set(detail) - allowed)
        if extra:
            raise ChartError(f"unknown field(s) for {kind}: {', '.join(extra)}",
                             field=f"detail.{extra[0]}")

    out: dict[str, Any] = {}
    if kind == "premedication":
        unknown({"drug", "dose_mg", "note"})
        drug = detail.get("drug")
        if drug not in PREMEDICATIONS:
            raise ChartError(f"detail.drug must be one of {', '.join(PREMEDICATIONS)}",
                             field="detail.drug")
        out["drug"] = drug
        dose = detail.get("dose_mg")
        if dose is not None:
            if isinstance(dose, bool) or not isinstance(dose, int | float) or not 0 < dose <= 100:
                raise ChartError("detail.dose_mg must be a number of mg above 0, at most 100",
                                 field="detail.dose_mg")
            out["dose_mg"] = float(dose)
        note = _note(detail, required=drug == "other")
    elif kind == "side_effect":
        unknown({"effect", "note"})
        effect = detail.get("effect")
        if effect not in SIDE_EFFECTS:
            raise ChartError(f"detail.effect must be one of {', '.join(SIDE_EFFECTS)}",
                             field="detail.effect")
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
                raise ChartError(f"detail.{name} must be a number from {low} to {high}",
                                 field=f"detail.{name}")
            out[name] = value
        character = detail.get("character", [])
        if not isinstance(character, list) or not set(character) <= set(PAIN_CHARACTERS):
            raise ChartError(f"detail.character must be a list of {', '.join(PAIN_CHARACTERS)}",
                             field="detail.character")
        if character:
            out["character"] = sorted(set(character))
        if "skin_colour_change" in detail:
            if not isinstance(detail["skin_colour_change"], bool):
                raise ChartError("detail.skin_colour_change must be true or false",
                                 field="detail.skin_colour_change")
            out["skin_colour_change"] = detail["skin_colour_change"]
        if not out:
            raise ChartError("a journal entry needs at least one score", field="detail")
        note = _note(detail)
    else:  # note
        unknown({"note"})
        note = _note(detail, required=True)
    if note:
        out["note"] = note
    return out


async def chart(store: Store, bed_id: str, kind: str, detail: dict[str, Any], user: str,
                time: float, recorded_at: float) -> dict[str, Any]:
    """Chart a clinical event (premedication given, side effect observed, note).

    Raises:
        AdmissionError: no patient in the bed.
        ChartError: an unknown kind or invalid content.
    """
    if kind not in EVENT_KINDS:
        raise ChartError(f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})",
                         field="kind")
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
