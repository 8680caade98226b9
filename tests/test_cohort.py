"""The research CSV: read and write as exact inverses, and every refusal names row and column."""

from __future__ import annotations

import datetime as dt
import io
import pathlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.domain.errors import MonitorError
from monitor.records.cohort import (
    COLUMNS,
    CohortError,
    CohortRow,
    format_number,
    read_cohort,
    write_cohort,
)
from monitor.records.vocabulary import JOURNAL_FIELDS, JOURNAL_SCALES, SIDE_EFFECTS
from tests.study_cohort import study_cohort

HEADER = ",".join(COLUMNS)
GOOD = "MRN1,F,1980-05-17,70.5,165,1,2024-01-08,40,7,9,5,8,2,1,6,0,"
"""A valid course-day row (row 2 under the header)."""


def csv_of(*lines: str) -> str:
    return "\n".join((HEADER, *lines)) + "\n"


def refusal(text: str | bytes) -> CohortError:
    with pytest.raises(CohortError) as info:
        read_cohort(text)
    return info.value


def cells(**changes: str) -> str:
    """GOOD with some cells replaced."""
    values = dict(zip(COLUMNS, GOOD.split(","), strict=True))
    values.update(changes)
    return ",".join(values[c] for c in COLUMNS)


def test_cohort_columns_follow_the_journal_scales() -> None:
    assert COLUMNS[8:16] == JOURNAL_FIELDS
    assert set(JOURNAL_FIELDS) == set(JOURNAL_SCALES)
    assert len(COLUMNS) == 17 and COLUMNS[0] == "patient" and COLUMNS[-1] == "side_effects"


def test_cohort_reads_a_row_with_its_types() -> None:
    (row,) = read_cohort(csv_of(GOOD))
    assert row == CohortRow("MRN1", "F", dt.date(1980, 5, 17), 70.5, 165.0, 1,
                            dt.date(2024, 1, 8), 40.0, 7.0, 9.0, 5.0, 8.0, 2.0, 1.0, 6.0, 0.0, ())
    assert row.follow_up_week is None and not row.is_follow_up and row.label == "1"
    assert isinstance(row.pain, float)


def test_cohort_study_shaped_file_round_trips_both_ways() -> None:
    rows, _ = study_cohort()
    text = write_cohort(rows)
    assert read_cohort(text) == rows
    assert write_cohort(read_cohort(text)) == text


def test_cohort_writes_numbers_without_needless_decimals() -> None:
    row = CohortRow("P1", "M", dt.date(1970, 1, 1), 80, 180.25, 10, dt.date(2024, 3, 1),
                    dose_mg=80.0, pain=7.0, worst_pain=7.5, least_pain=None,
                    relief_percent=12.5, side_effects=("headache", "nausea"))
    line = write_cohort([row]).splitlines()[1]
    assert line == "P1,M,1970-01-01,80,180.25,10,2024-03-01,80,7,7.5,,,,,,12.5,headache;nausea"
    assert [format_number(x) for x in (7.0, 0.1, 1e-7, 100.0)] == ["7", "0.1", "1e-07", "100"]


def test_cohort_follow_up_rows_are_read_distinctly() -> None:
    (course, follow) = read_cohort(csv_of(GOOD, "MRN1,f,1980-05-17,,,f6,2024-03-15,,3,4,2,3,"
                                                 "1,0,8,70,"))
    assert (course.day, course.follow_up_week) == (1, None)
    assert (follow.day, follow.follow_up_week, follow.label) == (None, 6, "F6")
    assert follow.is_follow_up and follow.relief_percent == 70.0
    assert write_cohort([follow]).splitlines()[1].startswith("MRN1,F,1980-05-17,,,F6,")


def test_cohort_normalises_sex_and_side_effects() -> None:
    rows = read_cohort(csv_of(cells(sex="female", side_effects=" Headache ; NAUSEA;")),
                       )
    assert rows[0].sex == "F" and rows[0].side_effects == ("headache", "nausea")
    assert read_cohort(csv_of(cells(sex=" MALE ")))[0].sex == "M"
    assert read_cohort(csv_of(cells(sex="m")))[0].sex == "M"


def test_cohort_empty_journal_cells_are_missing_data() -> None:
    (row,) = read_cohort(csv_of("MRN1,F,1980-05-17,,,2,2024-01-09,,,,,,,,,,"))
    assert all(getattr(row, name) is None for name in (*JOURNAL_FIELDS, "dose_mg",
                                                        "weight_kg", "height_cm"))
    assert row.side_effects == ()


def test_cohort_accepts_bom_crlf_bytes_and_files(tmp_path: pathlib.Path) -> None:
    text = csv_of(GOOD)
    expected = read_cohort(text)
    crlf = "\ufeff" + text.replace("\n", "\r\n")
    assert read_cohort(crlf) == expected
    assert read_cohort(crlf.encode("utf-8")) == expected
    assert read_cohort(io.BytesIO(crlf.encode("utf-8"))) == expected
    assert read_cohort(io.StringIO(crlf)) == expected
    path = tmp_path / "cohort.csv"
    path.write_bytes(crlf.encode("utf-8"))
    assert read_cohort(path) == expected


def test_cohort_refuses_non_utf8_naming_the_row() -> None:
    data = csv_of(GOOD, cells(patient="Ren\u00e9e")).encode("latin-1")
    error = refusal(data)
    assert str(error) == "row 3: the file is not UTF-8 text (byte 0xe9 at offset 216)"
    assert error.row == 3 and error.column is None
    with pytest.raises(CohortError, match="not UTF-8"):
        read_cohort(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_cohort_skips_blank_lines_but_counts_them() -> None:
    error = refusal(HEADER + "\n\n" + GOOD + "\n,,,,,,,,,,,,,,,,\n" + cells(pain="x") + "\n")
    assert str(error) == "row 5, column pain: 'x' is not a number"
    assert len(read_cohort(HEADER + "\n\n" + GOOD + "\n\n")) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("", "row 1: the header is missing; it must be " + HEADER),
    (GOOD + "\n", "row 1, column patient: expected column patient, found 'MRN1'"),
    (HEADER.replace("worst_pain", "worst") + "\n",
     "row 1, column worst_pain: expected column worst_pain, found 'worst'"),
    (HEADER.replace("pain,worst_pain", "worst_pain,pain") + "\n",
     "row 1, column pain: expected column pain (out of order), found 'worst_pain'"),
    (HEADER.replace(",side_effects", "") + "\n", "row 1: column side_effects is missing"),
    (HEADER + ",notes\n", "row 1: unexpected column 'notes' after side_effects"),
])
def test_cohort_refuses_a_wrong_header(text: str, message: str) -> None:
    assert str(refusal(text)) == message


def test_cohort_accepts_header_names_in_any_case() -> None:
    assert len(read_cohort(HEADER.upper() + "\n" + GOOD + "\n")) == 1


def test_cohort_refuses_a_wrong_number_of_cells() -> None:
    assert str(refusal(csv_of(GOOD + ",extra"))) == "row 2: 18 cells, the header has 17"
    assert str(refusal(csv_of(GOOD, "MRN2,F"))) == "row 3: 2 cells, the header has 17"


def test_cohort_refuses_a_broken_quote() -> None:
    error = refusal(csv_of(GOOD, 'MRN2,"F'))
    assert error.row == 3 and "not a valid CSV" in str(error)


@pytest.mark.parametrize(("column", "value", "problem"), [
    ("patient", "", "the patient is missing"),
    ("patient", "=HYPERLINK(1)", "'=HYPERLINK(1)' may not start with =, +, -, @"),
    ("sex", "", "the sex is missing"),
    ("sex", "X", "'X' is not F or M (female or male)"),
    ("birth_date", "", "the date is missing"),
    ("birth_date", "17/05/1980", "'17/05/1980' is not a date (YYYY-MM-DD)"),
    ("birth_date", "2025-01-01", "2025-01-01 is after the row's date 2024-01-08"),
    ("weight_kg", "0", "0 must be above 0 and at most 500"),
    ("weight_kg", '"70,5"', "'70,5' is not a number"),
    ("height_cm", "nan", "'nan' is not a number"),
    ("day", "", "the day is missing"),
    ("day", "0", "0 is not a course day 1-10"),
    ("day", "11", "11 is not a course day 1-10"),
    ("day", "day 3", "'day 3' is not a course day 1-10 or a follow-up week F<weeks>"),
    ("day", "F0", "0 is not a follow-up week 1-520"),
    ("date", "2024-02-30", "'2024-02-30' is not a date (YYYY-MM-DD)"),
    ("date", "20240108", "'20240108' is not a date (YYYY-MM-DD)"),
    ("dose_mg", "-40", "-40 must be above 0 and at most 1000"),
    ("pain", "\u0667", "'\u0667' is not a number"),
    ("pain", "-1", "-1 is outside 0-10"),
    ("worst_pain", "11", "11 is outside 0-10"),
    ("worst_pain", "4", "4 is below least_pain 5"),
    ("pain_24h", "10.5", "10.5 is outside 0-10"),
    ("affective", "5", "5 is outside 0-4"),
    ("punishing", "4.5", "4.5 is outside 0-4"),
    ("movement", "1e3", "1000 is outside 0-10"),
    ("relief_percent", "101", "101 is outside 0-100"),
    ("side_effects", "headache;migraine",
     "'migraine' is not a known side effect (" + ", ".join(SIDE_EFFECTS) + ")"),
    ("side_effects", "nausea;Nausea", "nausea is listed twice"),
])
def test_cohort_refuses_a_bad_cell(column: str, value: str, problem: str) -> None:
    error = refusal(csv_of(GOOD, cells(**{"patient": "MRN2", column: value})))
    assert str(error) == f"row 3, column {column}: {problem}"
    assert (error.row, error.column, error.problem) == (3, column, problem)


def test_cohort_reports_the_first_bad_row_only() -> None:
    error = refusal(csv_of(GOOD, *(cells(patient=f"P{i}", day="2") for i in range(11)),
                           cells(patient="P99", worst_pain="11"), cells(pain="12")))
    assert str(error) == "row 14, column worst_pain: 11 is outside 0-10"


@pytest.mark.parametrize(("second", "message"), [
    (cells(), "row 3, column day: patient MRN1 has day 1 on row 2 already"),
    (cells(day="2", sex="M"), "row 3, column sex: patient MRN1 is F on row 2"),
    (cells(day="2", birth_date="1980-05-18"),
     "row 3, column birth_date: patient MRN1 was born 1980-05-17 on row 2"),
    (cells(day="2"), "row 3, column date: patient MRN1 has day 1 on 2024-01-08 already (row 2)"),
    (cells(day="F2", date="2024-02-01"),
     "row 3, column dose_mg: a follow-up row (F2) has no dose"),
    (cells(day="F2", date="2024-02-01", dose_mg="", side_effects="dreams"),
     "row 3, column side_effects: a follow-up row (F2) has no side effects"),
])
def test_cohort_refuses_rows_that_contradict(second: str, message: str) -> None:
    assert str(refusal(csv_of(GOOD, second))) == message


def test_cohort_refuses_the_same_follow_up_twice() -> None:
    follow = cells(day="F2", date="2024-02-01", dose_mg="")
    assert str(refusal(csv_of(GOOD, follow, follow))) == \
        "row 4, column day: patient MRN1 has follow-up F2 on row 3 already"


def test_cohort_allows_a_follow_up_on_a_course_date_and_other_patients_on_it() -> None:
    rows = read_cohort(csv_of(GOOD, cells(day="F1", dose_mg=""), cells(patient="MRN2")))
    assert [r.label for r in rows] == ["1", "F1", "1"]


def test_cohort_error_is_a_monitor_error() -> None:
    error = refusal(csv_of(cells(pain="11")))
    assert isinstance(error, MonitorError) and isinstance(error, ValueError)


def test_cohort_write_refuses_rows_that_contradict() -> None:
    rows, _ = study_cohort(patients=2, males=1, follow_up=False)
    with pytest.raises(CohortError) as info:
        write_cohort([*rows, rows[3]])
    assert str(info.value) == "row 22, column day: patient MRN100001 has day 4 on row 5 already"


@pytest.mark.parametrize(("changes", "message"), [
    ({"day": None}, "column day: give either a course day or a follow-up week"),
    ({"day": 3, "follow_up_week": 2}, "column day: give either a course day or a follow-up week"),
    ({"day": True}, "column day: True is not a course day 1-10"),
    ({"date": dt.datetime(2024, 1, 8, 9)}, "column date: datetime.datetime(2024, 1, 8, 9, 0) "
                                           "is not a date"),
    ({"pain": "7"}, "column pain: '7' is not a number"),
    ({"pain": float("inf")}, "column pain: inf is not a number"),
    ({"side_effects": "headache"}, "column side_effects: 'headache' is not a list of side "
                                   "effects"),
    ({"patient": " a\tb "}, "column patient: 'a\\tb' is not an identifier (printable, at most "
                            "64 characters)"),
])
def test_cohort_row_refuses_invalid_fields(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"patient": "P1", "sex": "F", "birth_date": dt.date(1980, 1, 1),
                                 "weight_kg": None, "height_cm": None, "day": 1,
                                 "date": dt.date(2024, 1, 8)}
    with pytest.raises(ValueError) as info:
        CohortRow(**{**fields, **changes})  # type: ignore[arg-type]
    assert str(info.value) == message


def test_cohort_row_normalises_on_construction() -> None:
    row = CohortRow(" P1 ", "Female", dt.date(1980, 1, 1), 70, None, 2, dt.date(2024, 1, 9),
                    pain=3, side_effects=["Dreams "])  # type: ignore[arg-type]
    assert (row.patient, row.sex, row.side_effects) == ("P1", "F", ("dreams",))
    assert isinstance(row.weight_kg, float) and isinstance(row.pain, float)


_score = {name: st.none() | st.floats(low, high, allow_nan=False)
          for name, (low, high) in ((n, s.range) for n, s in JOURNAL_SCALES.items())}


@st.composite
def cohort_rows(draw: st.DrawFn) -> list[CohortRow]:
    rows: list[CohortRow] = []
    for patient in draw(st.lists(st.text("AZ09-/", min_size=1, max_size=8).filter(
            lambda p: not p.startswith("-")), unique=True, max_size=3)):
        sex = draw(st.sampled_from("FM"))
        birth = draw(st.dates(dt.date(1930, 1, 1), dt.date(2005, 1, 1)))
        for label in draw(st.lists(st.sampled_from([*range(1, 11), "F2", "F12"]), unique=True,
                                   max_size=4)):
            follow = isinstance(label, str)
            scores = {name: draw(s) for name, s in _score.items()}
            if scores["worst_pain"] is not None and scores["least_pain"] is not None:
                scores["worst_pain"] = max(scores["worst_pain"], scores["least_pain"])
            rows.append(CohortRow(
                patient, sex, birth, draw(st.none() | st.floats(1, 500)),
                draw(st.none() | st.floats(1, 300)), None if follow else int(label),
                dt.date(2024, 1, 1) + dt.timedelta(days=12 * len(rows)),
                dose_mg=None if follow else draw(st.none() | st.floats(1, 100)),
                side_effects=() if follow else tuple(draw(st.lists(
                    st.sampled_from(SIDE_EFFECTS), unique=True, max_size=3))),
                follow_up_week=int(label[1:]) if follow else None, **scores))
    return rows


@settings(max_examples=60, deadline=None)
@given(cohort_rows())
def test_cohort_write_then_read_is_the_identity(rows: list[CohortRow]) -> None:
    assert read_cohort(write_cohort(rows)) == rows
