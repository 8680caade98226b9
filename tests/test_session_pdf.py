"""The session report PDF, read back with pypdf: every section carries the session's figures."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pypdf
import pytest

from monitor.records.vocabulary import JOURNAL_SCALES
from monitor.reports.pdf import MEASURE_LABELS
from monitor.reports.session_pdf import TITLE, session_report_pdf
from tests.session_report_example import NIBP, REPORT, at, session_report

UTC = dt.UTC
WHEN = at("14:00")


def text_of(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return session_report_pdf(REPORT, generated_at=WHEN, tz=UTC)


@pytest.fixture(scope="module")
def text(pdf: bytes) -> str:
    return text_of(pdf)


def test_session_pdf_identifies_patient_course_and_session(pdf: bytes, text: str) -> None:
    assert pdf.startswith(b"%PDF-")
    for line in (TITLE,
                 "Patient: \u0141ukasiewicz, Zo\u00eb (MRN100042) \u00b7 sex F \u00b7 born "
                 "1981-06-02, age 42",
                 "Course: Low-dose ketamine, 10 infusions \u00b7 Day 3 of 10",
                 "Bed bed-3 \u00b7 session 17",
                 "Admitted 2024-01-10 08:05 \u00b7 discharged 2024-01-10 13:30",
                 "Infusion: 2024-01-10 08:40 to 2024-01-10 12:40 (4 h 00 min) \u00b7 stopped: "
                 "completed",
                 "Nurses: ada, ben", "Devices: bed3-oxi (masimo), bed3-monitor (ge_s5)",
                 "Generated 2024-01-10 14:00"):
        assert line in text


def test_session_pdf_every_page_names_the_patient(pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages > 1
    for number, page in enumerate(reader.pages, 1):
        assert (f"{TITLE} \u00b7 \u0141ukasiewicz, Zo\u00eb (MRN100042) \u00b7 page {number} "
                f"of {pages}") in page.extract_text()
    assert reader.metadata is not None and reader.metadata.title == TITLE
    assert reader.metadata.creation_date == dt.datetime.fromtimestamp(WHEN, UTC)


def test_session_pdf_doses_steps_and_premedication(text: str) -> None:
    assert "Planned Given Difference Reason for the difference" in text
    assert "45 mg 45 mg as planned \u2013" in text
    for line in ("2024-01-10 08:40 start ada \u2013", "2024-01-10 10:10 pause ben to the toilet",
                 "2024-01-10 10:18 resume ben \u2013", "2024-01-10 12:40 stop ada completed"):
        assert line in text
    assert "2024-01-10 08:15 clonidine 0.1 mg PO ada" in text
    assert "2024-01-10 08:30 midazolam 2 mg IV ben" in text


def test_session_pdf_dose_deviation_is_explained() -> None:
    report = session_report()
    report["session"].update(planned_dose_mg=50.0, dose_deviation_reason="nausea on day 2")
    assert "50 mg 45 mg -5 mg nausea on day 2" in text_of(session_report_pdf(report, tz=UTC))


def test_session_pdf_baseline_with_provenance(text: str) -> None:
    assert ("Heart rate: 72 bpm \u00b7 median ECG HR over 300 s (296 s valid) \u00b7 confirmed "
            "by ada") in text
    assert ("Blood pressure: 127.7/79 mmHg (mean 95.3) \u00b7 mean of 3 NIBP readings >= 180 s "
            "apart \u00b7 confirmed by ada") in text


def test_session_pdf_flagged_and_missing_baselines() -> None:
    report = session_report()
    report["baseline"]["bp"].update(flagged=True, notes=["single NIBP reading"],
                                    confirmed_by=None)
    report["baseline"]["hr"] = None
    report["trends"]["band"]["hr_high"] = None
    report["episodes"] = [e for e in report["episodes"] if e["kind"] != "tachycardia"]
    text = text_of(session_report_pdf(report, tz=UTC))
    assert "Heart rate: no baseline; relative limits and episodes not applied" in text
    assert "not confirmed" in text and "flagged: single NIBP reading" in text
    assert "Tachycardia: not counted (no baseline)" in text


def test_session_pdf_has_the_trends_figure(pdf: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert sum(len(page.images) for page in reader.pages) == 1


def test_session_pdf_lists_every_nibp_reading(text: str) -> None:
    for hhmm, sys_, dia, mean in NIBP:
        over = " yes" if sys_ > REPORT["trends"]["band"]["sys_high"] else ""
        assert f"2024-01-10 {hhmm} {sys_}/{dia} {mean}{over}\n" in text
    assert "128/79" in text
    assert "Limit: systolic above 153.2 mmHg" in text


def test_session_pdf_alarms_with_user_actions(text: str) -> None:
    assert "acknowledged by ada" in text
    assert "2024-01-10 09:56 BP_RISE_SEVERE high acknowledged \u2013 acknowledged by ben: " \
           "anaesthetist informed" in text
    assert "2024-01-10 09:40 BP_RISE medium onset 156 Systolic 156 above 153" in text
    assert "2024-01-10 10:31 \u2013 \u2013 audio paused \u2013 audio paused by ada" in text
    assert "2024-01-10 10:25 BP_RISE medium condition end 148" in text


def test_session_pdf_episodes(text: str) -> None:
    for line in ("Desaturation (SpO2 below 93 %): 1 episode, 40 s in all, worst 90 %",
                 "Tachycardia (heart rate above 86.4 bpm): 1 episode, 3 min 45 s in all, "
                 "worst 94 bpm",
                 "Hypertension (systolic above 153.2 mmHg): 1 episode, 15 min 00 s in all, "
                 "worst 161 mmHg",
                 "hypertension 2024-01-10 09:40 15 min 00 s 161 mmHg 153.2 mmHg 2 NIBP",
                 "tachycardia 2024-01-10 10:30 3 min 45 s 94 bpm 86.4 bpm 225 HR",
                 "desaturation 2024-01-10 11:02 40 s 90 % 93 % 40 SPO2"):
        assert line in text


def test_session_pdf_side_effects_journal_and_notes(text: str) -> None:
    assert "headache mild none 2024-01-10 11:30 2024-01-10 12:15 ada" in text
    assert "restlessness" not in text  # voided
    assert "1 voided charted entry not shown." in text
    assert "Recorded 2024-01-10 08:20 by ada" in text
    journal = next(e["detail"] for e in REPORT["events"] if e["kind"] == "journal")
    for name, scale in JOURNAL_SCALES.items():
        assert f"{MEASURE_LABELS[name]} {journal[name]} {scale.low}-{scale.high}" in text
    assert "Pain intensity 7 0-10 (0 no pain, 10 worst pain possible)" in text
    assert "Affective component of pain 2 0-4 (0 none, 1 mild, 2 moderate, 3 severe, 4 very" \
        in text
    assert "Pain character aching, burning burning, aching, punishing" in text
    assert "Skin colour change yes yes/no" in text
    assert "2024-01-10 12:50 ben (amended) Comfortable after the infusion" in text


def test_session_pdf_same_input_gives_the_same_bytes() -> None:
    first = session_report_pdf(REPORT, tz=UTC)
    assert first == session_report_pdf(session_report(), tz=UTC)
    assert "Generated" not in text_of(first)
    reader = pypdf.PdfReader(io.BytesIO(first))
    assert reader.metadata is not None
    assert reader.metadata.creation_date == dt.datetime(1970, 1, 1, tzinfo=UTC)


def test_session_pdf_prints_times_in_the_given_zone() -> None:
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert "Admitted 2024-01-10 03:05" in text_of(session_report_pdf(REPORT, tz=eastern))
    local = dt.datetime.fromtimestamp(REPORT["session"]["admitted_at"])
    assert f"Admitted {local:%Y-%m-%d %H:%M}" in text_of(session_report_pdf(REPORT))


def test_session_pdf_of_a_session_still_running_with_nothing_recorded() -> None:
    report = session_report(
        alarms=[], episodes=[], events=[],
        trends={"minutes": [], "nibp": [], "band": {"hr_high": 86.4, "sys_high": None,
                                                    "spo2_low": 93}})
    report["session"].update(infusion_stopped_at=None, discharged_at=None, steps=[],
                             infusion_stop_reason=None, dose_mg=None, nurses=[], devices=[])
    data = session_report_pdf(report, tz=UTC)
    text = text_of(data)
    for line in ("Infusion: 2024-01-10 08:40, not stopped", "discharged \u2013",
                 "45 mg \u2013 \u2013", "No infusion step recorded.", "No premedication charted.",
                 "No vital signs recorded.", "No NIBP reading.", "No alarm.",
                 "Desaturation (SpO2 below 93 %): none",
                 "Tachycardia (heart rate above 86.4 bpm): none",
                 "Hypertension: not counted (no baseline)", "No side effect charted.",
                 "No journal charted.", "Nurses: \u2013"):
        assert line in text
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert sum(len(page.images) for page in reader.pages) == 0


@pytest.mark.parametrize(("change", "error"), [
    ({"episodes": [{"kind": "fever", "start": 0, "end": 1, "worst": 39, "threshold": 38,
                    "baseline": None, "samples": 1}]}, ValueError),
    ({"patient": {"identifier": "MRN1"}}, KeyError),
])
def test_session_pdf_refuses_a_malformed_report(change: dict[str, Any],
                                                error: type[Exception]) -> None:
    with pytest.raises(error):
        session_report_pdf(session_report(**change), tz=UTC)
