"""Sessions: which patient is in which bed for today's infusion, and its steps.

A session (an admission) opens when a nurse assigns a patient to a bed. Monitoring (and
collection of pre-infusion data for the baselines) starts then; the infusion start freezes
the baselines; the infusion stop and the discharge close it. Every step records who did it.
Patient labels and references are stored here and shown on screens, never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from monitor.domain.errors import AdmissionError
from monitor.storage.database import Store
from monitor.storage.tables import AdmissionRow, AuditRow


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
