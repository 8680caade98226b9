"""The unit report's figures, each checked against an independent computation.

The independent side reads the cohort back from its CSV text with the standard csv module
and computes with numpy, scipy and dateutil directly: it shares no code with the report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import numpy as np
import pytest
from dateutil.relativedelta import relativedelta
from scipy import stats

from monitor.records.cohort import CohortRow, write_cohort
from monitor.records.vocabulary import JOURNAL_FIELDS, SIDE_EFFECTS
from monitor.reports.statistics import (
    describe,
    kruskal,
    select_dates,
    select_patients,
    unit_report,
)
from tests.study_cohort import HEADACHE, RESTLESSNESS, STUDY, TACHYCARDIA

TOL = 1e-9


def table(rows: list[CohortRow]) -> list[dict[str, str]]:
    """The rows as the CSV's cells (text), read with the standard csv module."""
    return list(csv.DictReader(io.StringIO(write_cohort(rows))))


def scores(cells: list[dict[str, str]], name: str, day: str) -> np.ndarray:
    return np.array([float(c[name]) for c in cells if c["day"] == day and c[name] != ""])


def close(actual: float | None, expected: float) -> bool:
    return actual is not None and abs(actual - expected) <= TOL


def test_statistics_counts_patients_and_sessions(study_report: dict[str, Any],
                                                 study: tuple[list[CohortRow], Any]) -> None:
    cells = table(study[0])
    course = [c for c in cells if not c["day"].startswith("F")]
    assert study_report["patients"] == len({c["patient"] for c in course}) == 40
    assert study_report["sessions"] == len(course) == 400
    assert study_report["follow_ups"] == len(cells) - len(course) == 60
    assert study_report["period"] == {"from": min(c["date"] for c in course),
                                "to": max(c["date"] for c in course)}


def test_statistics_demographics_match_an_independent_computation(
        study_report: dict[str, Any], study: tuple[list[CohortRow], Any]) -> None:
    cells = table(study[0])
    day1 = {c["patient"]: c for c in cells if c["day"] == "1"}
    demo = study_report["demographics"]
    assert (demo["n"], demo["female"], demo["male"]) == (40, 36, 4)
    assert sum(c["sex"] == "F" for c in day1.values()) == 36
    ages = np.array([relativedelta(dt.date.fromisoformat(c["date"]),
                                   dt.date.fromisoformat(c["birth_date"])).years
                     for c in day1.values()], dtype=float)
    assert demo["age_years"]["n"] == 40
    assert close(demo["age_years"]["mean"], ages.mean())
    assert close(demo["age_years"]["sd"], ages.std(ddof=1))
    for name in ("weight_kg", "height_cm"):  # the generator records both on day 1
        values = np.array([float(c[name]) for c in day1.values()])
        assert demo[name]["n"] == 40
        assert close(demo[name]["mean"], values.mean())
        assert close(demo[name]["sd"], values.std(ddof=1))


def test_statistics_measures_by_day_match_numpy(study_report: dict[str, Any],
                                                study: tuple[list[CohortRow], Any]) -> None:
    cells = table(study[0])
    keys = [*(str(d) for d in range(1, 11)), "F2", "F6", "F12"]
    assert set(study_report["measures"]) == set(JOURNAL_FIELDS)
    for name in JOURNAL_FIELDS:
        by_day = study_report["measures"][name]["by_day"]
        assert list(by_day) == keys
        for key in keys:
            values = scores(cells, name, key)
            assert by_day[key]["n"] == len(values) > 1, (name, key)
            assert close(by_day[key]["mean"], values.mean()), (name, key)
            assert close(by_day[key]["sd"], values.std(ddof=1)), (name, key)


def test_statistics_day1_vs_day10_matches_scipy(study_report: dict[str, Any],
                                                study: tuple[list[CohortRow], Any]) -> None:
    cells = table(study[0])
    for name in JOURNAL_FIELDS:
        expected = stats.kruskal(scores(cells, name, "1"), scores(cells, name, "10"))
        got = study_report["measures"][name]["day1_vs_day10"]
        assert close(got["h"], float(expected.statistic)), name
        assert close(got["p"], float(expected.pvalue)), name
    assert study_report["measures"]["pain"]["day1_vs_day10"]["p"] < 0.05


def test_statistics_cohort_is_shaped_like_the_study(study_report: dict[str, Any]) -> None:
    for name, (mean1, sd1, mean10, sd10) in STUDY.items():
        by_day = study_report["measures"][name]["by_day"]
        assert abs(by_day["1"]["mean"] - mean1) < 0.4 * sd1, name
        assert abs(by_day["10"]["mean"] - mean10) < 0.4 * sd10, name


def test_statistics_incidence_merges_charted_and_detected(
        study_report: dict[str, Any], study: tuple[list[CohortRow], dict[str, set[str]]]) -> None:
    cells = table(study[0])
    assert list(study_report["incidence"]) == list(SIDE_EFFECTS)
    for effect in SIDE_EFFECTS:
        charted = {c["patient"] for c in cells if effect in c["side_effects"].split(";")}
        detected = {p for p, kinds in study[1].items() if effect in kinds}
        got = study_report["incidence"][effect]
        assert (got["patients"], got["of"]) == (len(charted | detected), 40), effect
        assert (got["charted"], got["detected"]) == (len(charted), len(detected)), effect
    assert study_report["incidence"]["headache"]["patients"] == HEADACHE
    assert study_report["incidence"]["restlessness"]["patients"] == RESTLESSNESS
    assert study_report["incidence"]["tachycardia"]["patients"] == TACHYCARDIA
    assert study_report["incidence"]["desaturation"] == {"patients": 0, "of": 40, "charted": 0,
                                                   "detected": 0}


def test_statistics_with_pain_counts_pain_above_zero(
        study_report: dict[str, Any], study: tuple[list[CohortRow], Any]) -> None:
    cells = table(study[0])
    for key, got in study_report["with_pain"].items():
        values = scores(cells, "pain", key)
        k = int(np.count_nonzero(values > 0))
        assert (got["patients"], got["of"]) == (k, len(values))
        assert close(got["percent"], 100.0 * k / len(values))


def test_statistics_report_is_json_without_nan(study_report: dict[str, Any]) -> None:
    assert json.loads(json.dumps(study_report, allow_nan=False)) == study_report


def test_statistics_select_dates_is_inclusive(study: tuple[list[CohortRow], Any]) -> None:
    rows = study[0]
    start, end = dt.date(2024, 1, 9), dt.date(2024, 1, 12)
    chosen = select_dates(rows, start, end)
    assert chosen == [r for r in rows if start <= r.date <= end]
    assert {r.date for r in chosen} == {start, dt.date(2024, 1, 10), dt.date(2024, 1, 11), end}
    assert select_dates(rows) == rows
    assert select_dates(rows, end=start) == [r for r in rows if r.date <= start]
    with pytest.raises(ValueError, match="starts"):
        select_dates(rows, end, start)


def test_statistics_select_patients(study: tuple[list[CohortRow], Any]) -> None:
    rows, episodes = study
    chosen = select_patients(rows, {"MRN100001", "MRN100040"})
    assert {r.patient for r in chosen} == {"MRN100001", "MRN100040"} and len(chosen) == 23
    report = unit_report(chosen, episodes)
    assert (report["patients"], report["sessions"]) == (2, 20)
    assert report["incidence"]["headache"] == {"patients": 1, "of": 2, "charted": 1,
                                               "detected": 0}
    assert report["incidence"]["tachycardia"]["patients"] == 1  # MRN100040's, from vitals


def row(patient: str = "P1", day: int | None = 1, week: int | None = None, **scores: Any
        ) -> CohortRow:
    date = dt.date(2024, 1, 7) + dt.timedelta(days=day or 30 + 7 * (week or 0))
    return CohortRow(patient, "F", dt.date(1980, 1, 1), None, None, day, date,
                     follow_up_week=week, **scores)


def test_statistics_one_patient() -> None:
    rows = [row(day=d, pain=8 - d / 2, movement=5) for d in range(1, 11)]
    report = unit_report(rows)
    assert (report["patients"], report["sessions"]) == (1, 10)
    pain = report["measures"]["pain"]
    assert pain["by_day"]["1"] == {"n": 1, "mean": 7.5, "sd": None}
    assert pain["day1_vs_day10"] == {"h": 1.0, "p": pytest.approx(0.3173105078629141)}
    assert report["measures"]["movement"]["day1_vs_day10"] == {"h": None, "p": None}
    assert report["demographics"] == {
        "n": 1, "female": 1, "male": 0, "age_years": {"n": 1, "mean": 44.0, "sd": None},
        "weight_kg": {"n": 0, "mean": None, "sd": None},
        "height_cm": {"n": 0, "mean": None, "sd": None}}
    assert all(v == {"patients": 0, "of": 1, "charted": 0, "detected": 0}
               for v in report["incidence"].values())


def test_statistics_identical_values_have_sd_zero_and_no_test() -> None:
    rows = [row(p, d, affective=2) for p in ("A", "B") for d in (1, 10)]
    affective = unit_report(rows)["measures"]["affective"]
    assert affective["by_day"]["1"] == {"n": 2, "mean": 2.0, "sd": 0.0}
    assert affective["day1_vs_day10"] == {"h": None, "p": None}


def test_statistics_missing_cells_are_left_out() -> None:
    rows = [row("A", 1, pain=6), row("B", 1), row("C", 1, pain=8), row("A", 10)]
    report = unit_report(rows)
    pain = report["measures"]["pain"]
    assert pain["by_day"]["1"] == {"n": 2, "mean": 7.0, "sd": pytest.approx(2 ** 0.5)}
    assert pain["by_day"]["5"] == {"n": 0, "mean": None, "sd": None}
    assert pain["day1_vs_day10"] == {"h": None, "p": None}  # no day-10 score
    assert report["with_pain"]["1"] == {"patients": 2, "of": 2, "percent": 100.0}
    assert report["with_pain"]["10"] == {"patients": 0, "of": 0, "percent": None}
    assert report["sessions"] == 4 and report["patients"] == 3


def test_statistics_follow_ups_are_not_sessions() -> None:
    rows = [row("A", 1, pain=6), row("A", None, 2, pain=0), row("A", None, 12, pain=3),
            row("B", None, 2, pain=4, relief_percent=80)]
    report = unit_report(rows, {"B": {"headache"}})
    assert (report["patients"], report["sessions"], report["follow_ups"]) == (1, 1, 3)
    assert list(report["measures"]["pain"]["by_day"])[10:] == ["F2", "F12"]
    assert report["measures"]["pain"]["by_day"]["F2"] == {"n": 2, "mean": 2.0,
                                                          "sd": pytest.approx(8 ** 0.5)}
    assert report["with_pain"]["F2"] == {"patients": 1, "of": 2, "percent": 50.0}
    assert report["demographics"]["n"] == 1
    # B, only followed up here, is not among the treated: its episode does not count.
    assert report["incidence"]["headache"] == {"patients": 0, "of": 1, "charted": 0,
                                               "detected": 0}


def test_statistics_a_patient_charted_and_detected_counts_once() -> None:
    rows = [row("A", 1, side_effects=("tachycardia",)), row("B", 1)]
    incidence = unit_report(rows, {"A": {"tachycardia"}, "B": set()})["incidence"]
    assert incidence["tachycardia"] == {"patients": 1, "of": 2, "charted": 1, "detected": 1}


def test_statistics_refuses_an_unknown_episode_kind() -> None:
    with pytest.raises(ValueError, match="unknown episode kind 'SPO2_LOW'"):
        unit_report([row()], {"P1": {"SPO2_LOW"}})


def test_statistics_empty_selection() -> None:
    report = unit_report([])
    assert (report["patients"], report["sessions"]) == (0, 0)
    assert report["period"] == {"from": None, "to": None}
    assert report["demographics"]["age_years"] == {"n": 0, "mean": None, "sd": None}
    assert report["incidence"]["headache"] == {"patients": 0, "of": 0, "charted": 0,
                                               "detected": 0}
    assert list(report["measures"]["pain"]["by_day"]) == [str(d) for d in range(1, 11)]
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize(("first", "second"), [
    ([], [1.0]), ([2.0, 2.0], [2.0]), ([3.0], []),
])
def test_statistics_kruskal_is_none_when_not_computable(first: list[float],
                                                        second: list[float]) -> None:
    assert kruskal(first, second) == {"h": None, "p": None}


def test_statistics_kruskal_and_describe_match_scipy_and_numpy() -> None:
    a, b = [7.0, 8.0, 8.0, 9.0, 6.0], [5.0, 4.0, 8.0, 3.0]
    expected = stats.kruskal(a, b)
    assert kruskal(a, b) == {"h": pytest.approx(expected.statistic, abs=TOL),
                             "p": pytest.approx(expected.pvalue, abs=TOL)}
    assert describe(a) == {"n": 5, "mean": pytest.approx(np.mean(a), abs=TOL),
                           "sd": pytest.approx(np.std(a, ddof=1), abs=TOL)}
