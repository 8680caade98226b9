"""PDF reports, read back with pypdf: the text carries the figures the tables promise."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pypdf
import pytest

from monitor.records.cohort import CohortRow
from monitor.records.vocabulary import SIDE_EFFECTS
from monitor.reports.pdf import (
    MEASURE_LABELS,
    STUDY_FIGURE_DAYS,
    PatientSummary,
    _figure_by_day,
    course_report_pdf,
    fmt,
    fmt_p,
    p_clause,
    unit_report_pdf,
)
from monitor.reports.statistics import select_patients, unit_report
from tests.study_cohort import study_cohort

WHEN = dt.datetime(2024, 4, 2, 9, 30, tzinfo=dt.UTC)
PATIENT = PatientSummary("MRN100001", "Zo\u00eb \u0141ukasiewicz", "F", dt.date(1968, 4, 6))


def text_of(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def unit_pdf(study_report: dict[str, Any]) -> bytes:
    return unit_report_pdf(study_report, "Ketamine infusions: unit report",
                           "2024-01-08 to 2024-03-22", unit="Short procedure unit",
                           generated_at=WHEN)


@pytest.fixture(scope="module")
def course_pdf(study: tuple[list[CohortRow], Any]) -> bytes:
    return course_report_pdf(PATIENT, select_patients(study[0], {"MRN100001"}),
                             unit="Short procedure unit", episodes={"tachycardia"},
                             generated_at=WHEN)


def test_pdf_formats() -> None:
    assert (fmt(7.5449), fmt(None), fmt(41.85, 1)) == ("7.54", "\u2013", "41.9")
    assert (fmt_p(0.0123), fmt_p(0.0004), fmt_p(None)) == ("0.012", "< 0.001", "\u2013")
    assert (p_clause(0.0123), p_clause(0.0004)) == ("p = 0.012", "p < 0.001")


def test_pdf_unit_report_identifies_itself(unit_pdf: bytes, study_report: dict[str, Any]) -> None:
    assert unit_pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(unit_pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == "Ketamine infusions: unit report"
    assert reader.metadata.creation_date == WHEN
    text = text_of(unit_pdf)
    for line in ("Ketamine infusions: unit report", "Unit: Short procedure unit",
                 "Period: 2024-01-08 to 2024-03-22", "Generated 2024-04-02 09:30",
                 "Patients treated: 40 \u00b7 infusion sessions: 400",
                 "40 patients: 36 female, 4 male"):
        assert line in text
    age = study_report["demographics"]["age_years"]
    assert f"Age (years) 40 {age['mean']:.1f} {age['sd']:.1f}" in text
    assert f"page 1 of {len(reader.pages)}" in text


def test_pdf_unit_report_tables_carry_the_figures(unit_pdf: bytes,
                                                  study_report: dict[str, Any]) -> None:
    text = text_of(unit_pdf)
    assert "Kruskal-Wallis" in text
    for name, label in MEASURE_LABELS.items():
        one, ten = (study_report["measures"][name]["by_day"][d] for d in ("1", "10"))
        test = study_report["measures"][name]["day1_vs_day10"]
        assert (f"{label} {one['n']} {one['mean']:.2f} {one['sd']:.2f} {ten['n']} "
                f"{ten['mean']:.2f} {ten['sd']:.2f} {test['h']:.2f} {fmt_p(test['p'])}") in text
        for key, figures in study_report["measures"][name]["by_day"].items():
            day = f"Week {key[1:]} after" if key.startswith("F") else f"Day {key}"
            assert f"{day} {figures['n']} {figures['mean']:.2f} {figures['sd']:.2f}" in text
    pain = study_report["measures"]["pain"]["by_day"]["1"]
    assert f"{pain['mean']:.2f}" == "7.45"


def test_pdf_unit_report_lists_every_side_effect(unit_pdf: bytes) -> None:
    text = text_of(unit_pdf)
    assert "4/40 headache 4 0" in text
    assert "5/40 restlessness 5 0" in text
    assert "3/40 tachycardia 0 3" in text
    for effect in SIDE_EFFECTS:
        assert f"/40 {effect}" in text


def test_pdf_unit_report_shows_patients_with_pain(unit_pdf: bytes,
                                                  study_report: dict[str, Any]) -> None:
    text = text_of(unit_pdf)
    assert "Patients with pain (pain intensity above 0)" in text
    five = study_report["with_pain"]["5"]
    assert f"Day 5 {five['patients']} {five['of']} {five['percent']:.1f}" in text


def test_pdf_unit_report_has_a_figure_per_measure(unit_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(unit_pdf))
    assert sum(len(page.images) for page in reader.pages) == len(MEASURE_LABELS)


def test_pdf_same_input_gives_the_same_bytes(study_report: dict[str, Any]) -> None:
    small = unit_report(select_patients(study_cohort()[0], {"MRN100001", "MRN100002"}))
    first = unit_report_pdf(small, "Unit report", "January", figure_days=STUDY_FIGURE_DAYS)
    assert first == unit_report_pdf(small, "Unit report", "January",
                                    figure_days=STUDY_FIGURE_DAYS)
    text = text_of(first)
    assert "Generated" not in text and "Unit:" not in text
    reader = pypdf.PdfReader(io.BytesIO(first))
    assert reader.metadata is not None
    assert reader.metadata.creation_date == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def test_pdf_unit_report_of_nothing_shows_dashes() -> None:
    text = text_of(unit_report_pdf(unit_report([]), "Unit report", "no data"))
    assert "Patients treated: 0 \u00b7 infusion sessions: 0" in text
    assert "Pain intensity 0 \u2013 \u2013 0 \u2013 \u2013 \u2013 \u2013" in text
    assert "0/0 headache" in text
    assert "H = \u2013, p not computable" in text


def test_pdf_figure_by_day_is_a_png_of_the_chosen_days() -> None:
    by_day = {str(d): {"n": 3, "mean": 8.0 - d / 2, "sd": 1.0} for d in range(1, 11)}
    png = _figure_by_day(by_day, "Pain", (0, 10), STUDY_FIGURE_DAYS)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png != _figure_by_day(by_day, "Pain", (0, 10))


def test_pdf_course_report_names_the_patient(course_pdf: bytes) -> None:
    text = text_of(course_pdf)
    for line in ("Ketamine infusion course report", "Unit: Short procedure unit",
                 "Patient: Zo\u00eb \u0141ukasiewicz (MRN100001)",
                 "Sex: F \u00b7 born 1968-04-06, age 55 at day 1",
                 "Period: 2024-01-08 to 2024-01-19, 10 infusions", "Generated 2024-04-02 09:30"):
        assert line in text


def test_pdf_course_report_tables_each_day(course_pdf: bytes,
                                           study: tuple[list[CohortRow], Any]) -> None:
    text = text_of(course_pdf)
    rows = select_patients(study[0], {"MRN100001"})
    for row in rows:
        day = f"Week {row.follow_up_week} after" if row.is_follow_up else f"Day {row.day}"
        cells = [row.pain, row.worst_pain, row.least_pain, row.pain_24h, row.affective,
                 row.punishing, row.movement, row.relief_percent]
        shown = " ".join("\u2013" if c is None else f"{c:g}" for c in cells)
        dose = "\u2013" if row.dose_mg is None else f"{row.dose_mg:g}"
        assert f"{day} {row.date.isoformat()} {dose} {shown}" in text
    assert "Side effects charted: headache (day 2)" in text
    assert "Episodes detected from the vitals: tachycardia" in text
    assert "Last follow-up (F12)" in text


def test_pdf_course_report_has_its_figure(course_pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(course_pdf))
    assert sum(len(page.images) for page in reader.pages) == 1


def test_pdf_course_report_takes_a_dict(study: tuple[list[CohortRow], Any]) -> None:
    rows = select_patients(study[0], {"MRN100010"})[:3]
    as_dict = {"identifier": "MRN100010", "name": "Test Patient", "sex": "F",
               "birth_date": rows[0].birth_date.isoformat()}
    summary = PatientSummary("MRN100010", "Test Patient", "F", rows[0].birth_date)
    assert course_report_pdf(as_dict, rows) == course_report_pdf(summary, rows)
    text = text_of(course_report_pdf(summary, rows))
    assert "Period: 2024-01-22 to 2024-01-24, 3 infusions" in text
    assert "Side effects charted: none" in text and "(F" not in text


def test_pdf_course_report_uses_only_the_patients_rows(
        study: tuple[list[CohortRow], Any], course_pdf: bytes) -> None:
    assert course_report_pdf(PATIENT, study[0], unit="Short procedure unit",
                             episodes={"tachycardia"}, generated_at=WHEN) == course_pdf
    text = text_of(course_report_pdf(PATIENT, select_patients(study[0], {"MRN100002"})))
    assert "Period: no infusion recorded" in text and "No journal recorded." in text
    assert "MRN100002" not in text


def test_pdf_course_report_refuses_an_incomplete_summary() -> None:
    with pytest.raises(ValueError, match="lacks birth_date"):
        course_report_pdf({"identifier": "MRN100001", "name": "X", "sex": "F"}, [])
    with pytest.raises(ValueError, match="is not a date"):
        course_report_pdf({"identifier": "MRN1", "name": "X", "sex": "F", "birth_date": 1}, [])


def test_pdf_course_report_of_follow_ups_only() -> None:
    row = CohortRow("MRN9", "M", dt.date(1970, 1, 1), None, None, None, dt.date(2024, 5, 1),
                    pain=3, follow_up_week=6)
    text = text_of(course_report_pdf(
        PatientSummary("MRN9", "Only Followed", "M", dt.date(1970, 1, 1)), [row]))
    assert "Period: no infusion recorded" in text
    assert "Week 6 after 2024-05-01 \u2013 3" in text
