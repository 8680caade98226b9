"""``spu-monitor records`` and ``spu-monitor report`` as a researcher runs them: a
study-shaped cohort in, the unit's figures out (checked against SciPy directly), broken
files refused whole, PDFs read back with a PDF reader."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader
from scipy import stats

from monitor.records.cohort import CohortRow, read_cohort, write_cohort
from monitor.records.vocabulary import JOURNAL_FIELDS, SIDE_EFFECTS
from tests.study_cohort import study_cohort

CLI = [sys.executable, "-m", "monitor"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=180,
                          input=stdin)


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows, _episodes = study_cohort()
    path = tmp_path_factory.mktemp("cohort") / "cohort.csv"
    path.write_text(write_cohort(rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def imported(cohort_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("db") / "records.db"
    out = run("records", "import", str(cohort_file), "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert "imported 40 patients, 400 sessions" in out.stdout
    return db


def _values(rows: list[CohortRow], name: str, day: int) -> list[float]:
    return [v for r in rows if r.day == day and (v := getattr(r, name)) is not None]


def test_unit_report_matches_an_independent_computation(cohort_file: Path,
                                                        imported: Path) -> None:
    rows = read_cohort(cohort_file.read_text(encoding="utf-8"))
    out = run("report", "unit", "--db", str(imported), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["patients"] == 40 and report["sessions"] == 400
    for name in JOURNAL_FIELDS:
        measure = report["measures"][name]
        for day in range(1, 11):
            values = _values(rows, name, day)
            got = measure["by_day"][str(day)]
            assert got["n"] == len(values)
            assert got["mean"] == pytest.approx(float(np.mean(values)), abs=0.01)
            assert got["sd"] == pytest.approx(float(np.std(values, ddof=1)), abs=0.01)
        h, p = stats.kruskal(_values(rows, name, 1), _values(rows, name, 10))
        assert measure["day1_vs_day10"]["h"] == pytest.approx(h, abs=0.01)
        assert measure["day1_vs_day10"]["p"] == pytest.approx(p, abs=0.01)
    patients = {r.patient for r in rows}
    for effect in SIDE_EFFECTS:
        affected = {r.patient for r in rows if effect in r.side_effects}
        assert report["incidence"][effect] == {**report["incidence"][effect],
                                               "patients": len(affected), "of": 40}
    assert len(patients) == 40
    demo = report["demographics"]
    assert (demo["female"], demo["male"]) == (36, 4)


def test_unit_report_over_a_period(imported: Path, cohort_file: Path) -> None:
    rows = read_cohort(cohort_file.read_text(encoding="utf-8"))
    first = min(r.date for r in rows)
    out = run("report", "unit", "--db", str(imported), "--from", first.isoformat(), "--to",
              first.isoformat(), "--json")
    report = json.loads(out.stdout)
    on_first = [r for r in rows if r.date == first and r.follow_up_week is None]
    assert report["sessions"] == len(on_first) and report["patients"] == len(on_first)


@pytest.mark.parametrize(("line", "column", "value", "why"), [
    (14, "worst_pain", "11", "outside 0-10"),
    (7, "date", "2024-02-30", ""),
    (22, "side_effects", "hiccups", "hiccups"),
    (30, "sex", "X", ""),
])
def test_a_broken_copy_is_refused_whole_naming_row_and_column(
    cohort_file: Path, tmp_path: Path, line: int, column: str, value: str, why: str
) -> None:
    lines = cohort_file.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    broken = tmp_path / "broken.csv"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "empty.db"
    out = run("records", "import", str(broken), "--db", str(db))
    assert out.returncode == 2
    assert f"row {line}, column {column}" in out.stderr and why in out.stderr, out.stderr
    exported = run("records", "export", "--db", str(db))
    assert exported.stdout.count("\n") == 1, "nothing may be half-imported"


def test_files_that_are_not_a_cohort_get_one_clear_line(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("patient,sex\nJosé,F\n".encode("latin-1"))
    for path, expected in [(tmp_path, "not a file"), (latin, "not UTF-8")]:
        out = run("records", "import", str(path), "--db", str(tmp_path / "x.db"))
        assert out.returncode == 2 and expected in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_export_gives_the_same_rows_back(cohort_file: Path, imported: Path) -> None:
    out = run("records", "export", "--db", str(imported))
    assert out.returncode == 0, out.stderr
    before = read_cohort(cohort_file.read_text(encoding="utf-8"))
    after = read_cohort(io.StringIO(out.stdout).read())
    key = lambda r: (r.patient, r.label)  # noqa: E731
    assert sorted(map(key, before)) == sorted(map(key, after))
    by_key = {key(r): r for r in after}
    for row in before:
        again = by_key[key(row)]
        for name in (*JOURNAL_FIELDS, "dose_mg", "date", "sex", "birth_date", "side_effects"):
            assert getattr(again, name) == getattr(row, name), (key(row), name)


def _pdf_text(path: Path) -> str:
    return " ".join(page.extract_text() for page in PdfReader(path).pages)


def test_reports_as_pdf(imported: Path, tmp_path: Path, cohort_file: Path) -> None:
    unit = tmp_path / "unit.pdf"
    out = run("report", "unit", "--db", str(imported), "--pdf", str(unit))
    assert out.returncode == 0, out.stderr
    text = _pdf_text(unit)
    report = json.loads(run("report", "unit", "--db", str(imported), "--json").stdout)
    mean = report["measures"]["pain"]["by_day"]["1"]["mean"]
    assert "Kruskal-Wallis" in text and f"{mean:.2f}" in text
    headache = report["incidence"]["headache"]["patients"]
    assert f"{headache}/40" in text
    course = tmp_path / "course.pdf"
    assert run("report", "course", "MRN100001", "--db", str(imported), "--pdf",
               str(course)).returncode == 0
    assert "MRN100001" in _pdf_text(course)
    session = tmp_path / "session.pdf"
    out = run("report", "session", "1", "--db", str(imported), "--pdf", str(session))
    assert out.returncode == 0, out.stderr
    assert "MRN100001" in _pdf_text(session) and "40 mg" in _pdf_text(session)
    missing = run("report", "course", "NOBODY", "--db", str(imported), "--json")
    assert missing.returncode == 2 and "NOBODY" in missing.stderr
    assert math.isfinite(mean)
