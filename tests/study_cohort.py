"""A made-up cohort shaped like the study's: 40 patients (36 F / 4 M), 10 course days, follow-up.

Synthetic data only. Day-1 and day-10 scores are drawn around the means and SDs the study
reported, clipped to each scale and rounded as a journal would record them; about 3 % of the
scores are left empty (missing data).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from monitor.records.cohort import CohortRow
from monitor.records.vocabulary import JOURNAL_FIELDS, JOURNAL_SCALES

STUDY = {  # measure: (day-1 mean, SD, day-10 mean, SD), from the study's table
    "pain": (7.54, 1.93, 5.44, 2.87),
    "worst_pain": (8.77, 1.33, 6.63, 2.72),
    "least_pain": (5.91, 2.19, 4.24, 2.75),
    "pain_24h": (7.88, 2.02, 5.5, 2.75),
    "affective": (2.2, 1.0, 1.4, 1.1),  # not in the table: made up
    "punishing": (1.61, 1.22, 0.82, 1.13),
    "movement": (6.4, 2.6, 4.4, 3.2),
    "relief_percent": (5.0, 8.0, 43.61, 27.79),
}

HEADACHE = 4
RESTLESSNESS = 5
TACHYCARDIA = 3
"""Patients with each side effect in the study (headache and restlessness charted,
tachycardia detected from the heart rate)."""

FOLLOW_UP_WEEKS = (2, 6, 12)


def weekdays(start: dt.date, count: int) -> list[dt.date]:
    """The first ``count`` weekdays from ``start`` on."""
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def _score(rng: np.random.Generator, name: str, day: int) -> float:
    m1, s1, m10, s10 = STUDY[name]
    share = (day - 1) / 9
    low, high = JOURNAL_SCALES[name].range
    value = rng.normal(m1 + (m10 - m1) * share, s1 + (s10 - s1) * share)
    step = 5 if name == "relief_percent" else 1
    return float(np.clip(round(value / step) * step, low, high))


def _journal(rng: np.random.Generator, day: int) -> dict[str, float | None]:
    scores: dict[str, float | None] = {n: _score(rng, n, day) for n in JOURNAL_FIELDS}
    worst, least = scores["worst_pain"], scores["least_pain"]
    if worst is not None and least is not None and worst < least:
        scores["least_pain"] = worst
    for name in JOURNAL_FIELDS:
        if rng.random() < 0.03:
            scores[name] = None
    return scores


def study_cohort(seed: int = 20240108, patients: int = 40, males: int = 4,
                 follow_up: bool = True) -> tuple[list[CohortRow], dict[str, set[str]]]:
    """The cohort's rows and the episodes detected from its vitals (patient -> kinds)."""
    rng = np.random.default_rng(seed)
    rows: list[CohortRow] = []
    episodes: dict[str, set[str]] = {}
    male = {int((i + 0.5) * patients / males) for i in range(males)}
    for index in range(patients):
        patient = f"MRN{100001 + index}"
        start = dt.date(2024, 1, 8) + dt.timedelta(weeks=index // 4)
        birth = start - dt.timedelta(days=int(rng.normal(42, 10) * 365.25))
        weight = round(float(rng.normal(156, 45)) * 0.45359237, 1)
        height = round(float(rng.normal(65, 3.5)) * 2.54, 1)
        sex = "M" if index in male else "F"
        dates = weekdays(start, 10)
        for day, date in enumerate(dates, start=1):
            effects: list[str] = []
            if index < HEADACHE and day == 2:
                effects.append("headache")
            if HEADACHE <= index < HEADACHE + RESTLESSNESS and day in (1, 3):
                effects.append("restlessness")
            rows.append(CohortRow(
                patient, sex, birth, weight if day == 1 or rng.random() < 0.5 else None,
                height if day == 1 else None, day, date,
                dose_mg=min(40.0 + 5 * (day - 1), 80.0), side_effects=tuple(effects),
                **_journal(rng, day)))
        if index >= patients - TACHYCARDIA:
            episodes[patient] = {"tachycardia"}
        if follow_up and index % 2 == 0:
            for week in FOLLOW_UP_WEEKS:
                scores = _journal(rng, 10)
                rows.append(CohortRow(
                    patient, sex, birth, None, None, None,
                    dates[-1] + dt.timedelta(weeks=week), follow_up_week=week, **scores))
    return rows, episodes

