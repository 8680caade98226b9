"""Patients: identity, the study's demographics, diagnosis and usual medication.

A patient is found by their identifier (an MRN, unique) or searched by name. Every change
is audited with who made it; names and identifiers are stored and shown to signed-in
users, never logged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from monitor.domain.errors import InvalidValue, RecordError, RecordNotFound
from monitor.records import audit
from monitor.records.vocabulary import ASA_CLASSES, CRPS_TYPES, LIMBS, SEXES
from monitor.storage.database import Store
from monitor.storage.tables import PatientRow

_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")


class UnknownPatient(RecordNotFound):
    """No patient has that id or identifier."""


@dataclass(frozen=True, slots=True)
class Patient:
    """A patient's record."""

    id: int
    identifier: str
    family_name: str
    given_name: str = ""
    birth_date: str | None = None
    sex: str | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    asa_class: int | None = None
    diagnosis: str | None = None
    crps_type: str | None = None
    affected_limb: str | None = None
    medications: tuple[str, ...] = ()
    source: str = "manual"
    created_at: float = 0.0
    created_by: str = ""
    updated_at: float = 0.0
    updated_by: str = ""

    @property
    def display_name(self) -> str:
        """``Family, Given`` (as a ward list shows it)."""
        return f"{self.family_name}, {self.given_name}" if self.given_name else self.family_name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (signed-in screens only: it names the patient)."""
        out = asdict(self)
        out["medications"] = list(self.medications)
        out["display_name"] = self.display_name
        return out


EDITABLE = ("identifier", "family_name", "given_name", "birth_date", "sex", "weight_kg",
            "height_cm", "asa_class", "diagnosis", "crps_type", "affected_limb", "medications")
"""The fields a person can set."""


def validate(fields: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Check patient fields; return them normalised.

    Args:
        fields: some of :data:`EDITABLE`.
        partial: an update (only the given fields), else a new patient (identifier and
            family name required).

    Raises:
        InvalidValue: naming the field at fault.
    """
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise InvalidValue(f"unknown patient field {unknown[0]!r}", field=unknown[0])
    if not partial:
        for name in ("identifier", "family_name"):
            if not fields.get(name):
                raise InvalidValue(f"{name} is required", field=name)
    out: dict[str, Any] = {}
    for name, value in fields.items():
        out[name] = _check(name, value)
    return out


def _check(name: str, value: Any) -> Any:
    if value is None or value == "":
        if name in ("identifier", "family_name"):
            raise InvalidValue(f"{name} is required", field=name)
        return [] if name == "medications" else ("" if name == "given_name" else None)
    checks = {
        "identifier": _identifier, "family_name": _name, "given_name": _name,
        "birth_date": _birth_date, "sex": _sex, "weight_kg": _weight, "height_cm": _height,
        "asa_class": _asa, "diagnosis": _text, "crps_type": _crps, "affected_limb": _limb,
        "medications": _medications,
    }
    try:
        return checks[name](value)
    except (TypeError, ValueError) as exc:
        raise InvalidValue(f"{name}: {exc}", field=name) from None


def _identifier(v: Any) -> str:
    if not isinstance(v, str) or not _IDENTIFIER.match(v.strip()):
        raise ValueError("1-64 letters, digits or . _ / -, starting with a letter or digit")
    return v.strip()


def _name(v: Any) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > 80 or v.lstrip()[0] in "=+-@":
        raise ValueError("text of 1 to 80 characters")
    return v.strip()


def _birth_date(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError("a date, YYYY-MM-DD")
    day = dt.date.fromisoformat(v)
    if not dt.date(1900, 1, 1) <= day <= dt.date.today():
        raise ValueError(f"{v} is not a plausible birth date")
    return day.isoformat()


def _sex(v: Any) -> str:
    text = str(v).strip().upper()[:1]
    if text not in SEXES:
        raise ValueError(f"one of {', '.join(SEXES)}")
    return text


def _number(v: Any, low: float, high: float, unit: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not low < v <= high:
        raise ValueError(f"a number of {unit} above {low:g}, at most {high:g}")
    return float(v)


def _weight(v: Any) -> float:
    return _number(v, 0, 500, "kg")


def _height(v: Any) -> float:
    return _number(v, 0, 300, "cm")


def _asa(v: Any) -> int:
    if isinstance(v, bool) or v not in ASA_CLASSES:
        raise ValueError("an ASA physical status from 1 to 6")
    return int(v)


def _text(v: Any) -> str:
    if not isinstance(v, str) or len(v) > 120:
        raise ValueError("text of at most 120 characters")
    return v.strip()


def _crps(v: Any) -> str:
    if v not in CRPS_TYPES:
        raise ValueError(f"one of {', '.join(CRPS_TYPES)}")
    return str(v)


def _limb(v: Any) -> str:
    if v not in LIMBS:
        raise ValueError(f"one of {', '.join(LIMBS)}")
    return str(v)


def _medications(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(m, str) and 0 < len(m) <= 120 for m in v):
        raise ValueError("a list of drug names (text of at most 120 characters)")
    return [m.strip() for m in v]


def _patient(row: PatientRow) -> Patient:
    return Patient(row.id, row.identifier, row.family_name, row.given_name, row.birth_date,
                   row.sex, row.weight_kg, row.height_cm, row.asa_class, row.diagnosis,
                   row.crps_type, row.affected_limb, tuple(row.medications or ()), row.source,
                   row.created_at, row.created_by, row.updated_at, row.updated_by)


async def create(store: Store, fields: Mapping[str, Any], user: str, time: float,
                 source: str = "manual") -> Patient:
    """Register a patient (audited).

    Raises:
        InvalidValue: a field at fault.
        RecordError: the identifier is taken.
    """
    values = validate(fields)
    try:
        async with store.session() as session, session.begin():
            row = PatientRow(**values, source=source, created_at=time, created_by=user,
                             updated_at=time, updated_by=user)
            session.add(row)
            await session.flush()
            patient = _patient(row)
    except IntegrityError:
        raise RecordError(f"a patient with identifier {values['identifier']!r} exists",
                          field="identifier") from None
    await audit.audit(store, time, user, "patient_added", None, patient_id=patient.id)
    return patient


async def update_patient(store: Store, patient_id: int, fields: Mapping[str, Any], user: str,
                         time: float) -> Patient:
    """Change some fields of a patient; the audit keeps what they were.

    Raises:
        UnknownPatient, InvalidValue, RecordError (identifier taken).
    """
    values = validate(fields, partial=True)
    before = await get(store, patient_id)
    changed = {k: v for k, v in values.items()
               if (list(getattr(before, k)) if k == "medications" else getattr(before, k)) != v}
    if not changed:
        return before
    try:
        async with store.session() as session, session.begin():
            await session.execute(update(PatientRow).where(PatientRow.id == patient_id)
                                  .values(**changed, updated_at=time, updated_by=user))
    except IntegrityError:
        raise RecordError("that identifier belongs to another patient",
                          field="identifier") from None
    was = {k: (list(getattr(before, k)) if k == "medications" else getattr(before, k))
           for k in changed}
    await audit.audit(store, time, user, "patient_changed", None, patient_id=patient_id,
                      was=was, now=changed)
    return await get(store, patient_id)


async def get(store: Store, patient_id: int) -> Patient:
    """The patient with this id.

    Raises:
        UnknownPatient: none.
    """
    async with store.session() as session:
        row = await session.get(PatientRow, patient_id)
    if row is None:
        raise UnknownPatient(f"no patient {patient_id}")
    return _patient(row)


async def by_identifier(store: Store, identifier: str) -> Patient | None:
    """The patient with this identifier, if any."""
    q = select(PatientRow).where(PatientRow.identifier == identifier.strip())
    async with store.session() as session:
        row = (await session.execute(q)).scalars().first()
    return None if row is None else _patient(row)


async def search(store: Store, query: str = "", limit: int = 50) -> list[Patient]:
    """Patients whose identifier or name contains ``query`` (case-insensitive), by name."""
    q = select(PatientRow)
    text = query.strip().lower()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        q = q.where(or_(func.lower(PatientRow.identifier).like(like),
                        func.lower(PatientRow.family_name).like(like),
                        func.lower(PatientRow.given_name).like(like)))
    q = q.order_by(PatientRow.family_name, PatientRow.given_name, PatientRow.id).limit(limit)
    async with store.session() as session:
        rows = (await session.execute(q)).scalars().all()
    return [_patient(r) for r in rows]
