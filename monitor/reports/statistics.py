"""The unit report's figures from the study's rows: demographics, journal by day, incidence.

Pure: rows in, a JSON-ready dict out (no NaN, no numpy scalars). The figures follow the
study: mean and sample SD of each journal measure by course day, day 1 against day 10 with
the Kruskal-Wallis test, and the number of treated patients with each side effect.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from monitor.records.cohort import COURSE_DAYS, CohortRow
from monitor.records.vocabulary import JOURNAL_FIELDS, SIDE_EFFECTS

MEASURES = JOURNAL_FIELDS
"""The journal measures the report describes, in order."""

COURSE_DAY_KEYS = tuple(str(day) for day in range(1, COURSE_DAYS + 1))
"""``by_day`` keys always present: ``"1"`` to ``"10"``."""


def select_dates(rows: Iterable[CohortRow], start: dt.date | None = None,
                 end: dt.date | None = None) -> list[CohortRow]:
    """The rows dated from ``start`` to ``end``, both inclusive (``None``: open-ended).

    A course row's date is its infusion day; a follow-up row's is the day of its journal.

    Raises:
        ValueError: ``start`` is after ``end``.
    """
    if start is not None and end is not None and start > end:
        raise ValueError(f"the period starts ({start}) after it ends ({end})")
    return [r for r in rows if (start is None or r.date >= start)
            and (end is None or r.date <= end)]


def select_patients(rows: Iterable[CohortRow], patients: Collection[str]) -> list[CohortRow]:
    """The rows of the given patients (identifiers as in :attr:`CohortRow.patient`)."""
    wanted = set(patients)
    return [r for r in rows if r.patient in wanted]


def day_keys(rows: Iterable[CohortRow]) -> list[str]:
    """``"1"`` to ``"10"``, then the follow-ups present (``"F2"``, ``"F6"``...) by week."""
    weeks = sorted({r.follow_up_week for r in rows if r.follow_up_week is not None})
    return [*COURSE_DAY_KEYS, *(f"F{w}" for w in weeks)]


def describe(values: Sequence[float]) -> dict[str, Any]:
    """``{"n", "mean", "sd"}`` of some values; ``sd`` is the sample SD (n - 1).

    ``mean`` is ``None`` without values and ``sd`` with fewer than two.
    """
    n = len(values)
    return {"n": n, "mean": statistics.fmean(values) if n else None,
            "sd": statistics.stdev(values) if n >= 2 else None}


def kruskal(first: Sequence[float], second: Sequence[float]) -> dict[str, float | None]:
    """``{"h", "p"}`` of the Kruskal-Wallis test between two groups (scipy's).

    Both are ``None`` where the test cannot be computed: a group is empty or every value is
    the same.
    """
    if not first or not second or len({*first, *second}) < 2:
        return {"h": None, "p": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            from scipy import stats  # imported here: SciPy costs ~80 MB, reports are rare

            result = stats.kruskal(first, second)
        h, p = float(result.statistic), float(result.pvalue)
    except ValueError:
        return {"h": None, "p": None}
    if not (math.isfinite(h) and math.isfinite(p)):
        return {"h": None, "p": None}
    return {"h": h, "p": p}


def _values(rows: Iterable[CohortRow], name: str, label: str) -> list[float]:
    return [v for r in rows if r.label == label and (v := getattr(r, name)) is not None]


def _measures(rows: Sequence[CohortRow], keys: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in MEASURES:
        out[name] = {
            "by_day": {key: describe(_values(rows, name, key)) for key in keys},
            "day1_vs_day10": kruskal(_values(rows, name, "1"), _values(rows, name, "10")),
        }
    return out


def _with_pain(rows: Sequence[CohortRow], keys: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        scores = _values(rows, "pain", key)
        k = sum(1 for s in scores if s > 0)
        out[key] = {"patients": k, "of": len(scores),
                    "percent": 100.0 * k / len(scores) if scores else None}
    return out


def age_years(birth: dt.date, on: dt.date) -> int:
    """Completed years of age on a day (the last birthday's count)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _first_recorded(rows: Sequence[CohortRow], name: str) -> float | None:
    for row in sorted(rows, key=lambda r: (r.date, r.day or 0)):
        value: float | None = getattr(row, name)
        if value is not None:
            return value
    return None


def _demographics(course: Sequence[CohortRow]) -> dict[str, Any]:
    by_patient: dict[str, list[CohortRow]] = {}
    for row in course:
        by_patient.setdefault(row.patient, []).append(row)
    firsts = [min(rows, key=lambda r: (r.date, r.day or 0)) for rows in by_patient.values()]
    measures = {}
    for name in ("weight_kg", "height_cm"):
        recorded = (_first_recorded(rows, name) for rows in by_patient.values())
        measures[name] = describe([v for v in recorded if v is not None])
    return {
        "n": len(firsts),
        "female": sum(1 for r in firsts if r.sex == "F"),
        "male": sum(1 for r in firsts if r.sex == "M"),
        "age_years": describe([float(age_years(r.birth_date, r.date)) for r in firsts]),
        **measures,
    }


def _incidence(course: Sequence[CohortRow],
               episodes: Mapping[str, Collection[str]]) -> dict[str, Any]:
    treated = {r.patient for r in course}
    charted: dict[str, set[str]] = {effect: set() for effect in SIDE_EFFECTS}
    for row in course:
        for effect in row.side_effects:
            charted[effect].add(row.patient)
    detected: dict[str, set[str]] = {effect: set() for effect in SIDE_EFFECTS}
    for patient, kinds in episodes.items():
        for kind in kinds:
            if kind not in detected:
                raise ValueError(f"unknown episode kind {kind!r} for patient {patient} "
                                 f"(known: {', '.join(SIDE_EFFECTS)})")
            if patient in treated:
                detected[kind].add(patient)
    return {effect: {"patients": len(charted[effect] | detected[effect]), "of": len(treated),
                     "charted": len(charted[effect]), "detected": len(detected[effect])}
            for effect in SIDE_EFFECTS}


def unit_report(rows: Sequence[CohortRow],
                episodes: Mapping[str, Collection[str]] | None = None) -> dict[str, Any]:
    """The unit report's figures over a selection of rows.

    Args:
        rows: course-day and follow-up rows (see :func:`select_dates`,
            :func:`select_patients`).
        episodes: optional kinds of episode detected from each patient's stored vitals
            (patient -> e.g. ``{"desaturation", "tachycardia"}``, kinds from
            ``SIDE_EFFECTS``); a patient has a side effect if it was charted or detected.

    Returns:
        A JSON-ready dict:

        - ``patients``: patients treated (with at least one course-day row); ``sessions``:
          course-day rows (follow-ups are not sessions); ``follow_ups``: follow-up rows;
          ``period``: ``{"from", "to"}`` ISO dates of the first and last course day.
        - ``demographics``: ``n``, ``female``, ``male``, and ``{"n", "mean", "sd"}`` of
          ``age_years`` (completed years at the patient's first course day in the rows),
          ``weight_kg`` and ``height_cm`` (the first recorded in the course rows).
        - ``measures``: for each journal field, ``by_day`` (``"1"``-``"10"`` and follow-ups
          present, each ``{"n", "mean", "sd"}`` of the recorded scores) and
          ``day1_vs_day10`` (``{"h", "p"}``, Kruskal-Wallis; ``None`` where not computable).
        - ``incidence``: for each side effect, ``{"patients", "of"}`` (treated patients with
          it, of all treated), plus ``charted`` and ``detected`` (from vitals) counts.
        - ``with_pain``: by day, ``{"patients", "of", "percent"}``: patients whose pain
          intensity (the ``pain`` score, 0-10) is above 0, of those with a ``pain`` score
          that day; ``percent`` is ``None`` when none was recorded.

    Raises:
        ValueError: an episode kind that is not in ``SIDE_EFFECTS``.
    """
    course = [r for r in rows if not r.is_follow_up]
    keys = day_keys(rows)
    dates = sorted(r.date for r in course)
    return {
        "patients": len({r.patient for r in course}),
        "sessions": len(course),
        "follow_ups": len(rows) - len(course),
        "period": {"from": dates[0].isoformat() if dates else None,
                   "to": dates[-1].isoformat() if dates else None},
        "demographics": _demographics(course),
        "measures": _measures(rows, keys),
        "incidence": _incidence(course, episodes or {}),
        "with_pain": _with_pain(rows, keys),
    }
