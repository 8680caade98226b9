"""PDF documents of the study's reports: the unit report and one patient's course report.

Documents are A4, written with fpdf2 in DejaVu Sans (shipped with matplotlib, so names in
any script print); figures are drawn by matplotlib on its Agg canvas (never a display) and
embedded as PNG. Nothing here reads a clock: a document says when it was generated only when
given ``generated_at``, and its metadata date is then that time, else 1970-01-01 UTC, so the
same input always gives the same bytes.

The small helpers (``_document``, ``_heading``, ``_lines``, ``_table``, ``_figure_by_day``,
``_figure_course``, ``_place_figure``) are meant to be reused by further reports.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from monitor.records.cohort import CohortRow, format_number
from monitor.records.vocabulary import JOURNAL_FIELDS, JOURNAL_SCALES
from monitor.reports.statistics import age_years, day_keys

MEASURE_LABELS = {
    "pain": "Pain intensity",
    "worst_pain": "Worst daily pain",
    "least_pain": "Least daily pain",
    "pain_24h": "Pain over the past 24 h",
    "affective": "Affective component of pain",
    "punishing": "Punishing pain",
    "movement": "Ability to initiate movement",
    "relief_percent": "Overall pain relief (%)",
}
"""How the documents name each journal measure."""

SHORT_LABELS = {"pain": "Pain", "worst_pain": "Worst", "least_pain": "Least",
                "pain_24h": "24 h", "affective": "Affective", "punishing": "Punishing",
                "movement": "Movement", "relief_percent": "Relief %"}
"""Column headings for the journal measures where space is short."""

STUDY_FIGURE_DAYS = ("1", "5", "6", "10")
"""The days the study's figures show (pass as ``figure_days``)."""

DASH = "\u2013"
"""What a table shows for a missing figure."""

_FONT = "dejavu"
_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LINE = 5.0  # mm, the height of a table row or a line of text
_DAY_AXIS = "course day; F: weeks after the course"


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """Who a course report is about.

    Attributes:
        identifier: the patient's identifier in the rows (an MRN).
        name: the patient's name as printed on the report.
        sex: ``"F"`` or ``"M"``.
        birth_date: date of birth.
    """

    identifier: str
    name: str
    sex: str
    birth_date: dt.date

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PatientSummary:
        """From a dict with the same keys (``birth_date`` a date or ISO text).

        Raises:
            ValueError: a key is missing or the birth date is not a date.
        """
        missing = [k for k in ("identifier", "name", "sex", "birth_date") if k not in data]
        if missing:
            raise ValueError(f"patient summary lacks {', '.join(missing)}")
        birth = data["birth_date"]
        if isinstance(birth, str):
            birth = dt.date.fromisoformat(birth)
        if isinstance(birth, dt.datetime) or not isinstance(birth, dt.date):
            raise ValueError(f"birth_date {birth!r} is not a date")
        return cls(str(data["identifier"]), str(data["name"]), str(data["sex"]), birth)


# -- formatting ------------------------------------------------------------------------------

def fmt(value: float | None, digits: int = 2) -> str:
    """A figure as the tables print it: ``7.54`` (fixed decimals), a dash for ``None``."""
    return DASH if value is None else f"{value:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """A p value as the tables print it: ``0.012``, ``< 0.001``, a dash for ``None``."""
    if p is None:
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def p_clause(p: float | None) -> str:
    """``p = 0.012``, ``p < 0.001``, or ``p not computable``."""
    if p is None:
        return "p not computable"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _raw(value: float | None) -> str:
    return DASH if value is None else format_number(value)


def _signed(value: float | None) -> str:
    if value is None:
        return DASH
    return f"+{format_number(value)}" if value > 0 else format_number(value)


def day_name(key: str) -> str:
    """``"1"`` -> ``"Day 1"``, ``"F6"`` -> ``"Week 6 after"``."""
    return f"Week {key[1:]} after" if key.startswith("F") else f"Day {key}"


# -- document helpers ------------------------------------------------------------------------

class _Document(FPDF):
    """An A4 document whose footer repeats its title (or ``footer``) with the page number."""

    def __init__(self, title: str, orientation: str = "P", footer: str | None = None) -> None:
        super().__init__(orientation=orientation, format="A4")
        self.report_title = title
        self.footer_text = footer or title
        self.add_font(_FONT, "", _FONT_DIR / "DejaVuSans.ttf")
        self.add_font(_FONT, "B", _FONT_DIR / "DejaVuSans-Bold.ttf")
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)

    def footer(self) -> None:
        """The footer text and ``page N of M`` at the foot of every page."""
        self.set_y(-12)
        self.set_font(_FONT, size=8)
        self.cell(0, 5, f"{self.footer_text} \u00b7 page {self.page_no()} of {{nb}}",
                  align="C")


def _document(title: str, lines: Sequence[str], generated_at: dt.datetime | None,
              orientation: str = "P", footer: str | None = None) -> _Document:
    """A new document on its first page: the title, then identification lines.

    ``footer`` is what the foot of every page repeats before the page number (default the
    title); a patient's document puts the patient there, so a loose page still says whose
    it is.
    """
    pdf = _Document(title, orientation, footer)
    pdf.set_title(title)
    pdf.set_creator("SPU Monitor")
    pdf.set_creation_date(generated_at or _EPOCH)
    pdf.add_page()
    pdf.set_font(_FONT, "B", 16)
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    stamp = [f"Generated {generated_at:%Y-%m-%d %H:%M}"] if generated_at else []
    _lines(pdf, [*lines, *stamp])
    return pdf


def _heading(pdf: FPDF, text: str, size: float = 12) -> None:
    """A section heading, on a new page when too little room is left for what follows."""
    if pdf.y + 4 * _LINE > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(2)
    pdf.set_font(_FONT, "B", size)
    pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=9)


def _lines(pdf: FPDF, lines: Sequence[str]) -> None:
    """Lines of body text."""
    pdf.set_font(_FONT, size=9)
    for line in lines:
        pdf.multi_cell(0, _LINE, line, new_x="LMARGIN", new_y="NEXT")


def _table(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[str]],
           widths: Sequence[float] | None = None, width: float | None = None,
           align: str | None = None, groups: Sequence[tuple[str, int]] = ()) -> None:
    """A bordered table at the left margin: ``header`` in bold, then ``rows``.

    Args:
        pdf: the document.
        header: the column headings.
        rows: the cells' text, row by row.
        widths: relative column widths (default: equal).
        width: the table's width in mm (default: the text width).
        align: one letter a column, ``L`` or ``R`` (default: the first column left, the
            others right, as for figures).
        groups: an optional heading row above ``header``: (text, columns spanned) pairs.
    """
    pdf.set_font(_FONT, size=8)
    letters = align or "L" + "R" * (len(header) - 1)
    text_align = tuple("LEFT" if a == "L" else "RIGHT" for a in letters)
    with pdf.table(col_widths=tuple(widths) if widths else None, width=width, align="LEFT",
                   text_align=text_align, line_height=_LINE - 0.5,
                   num_heading_rows=2 if groups else 1,
                   headings_style=FontFace(family=_FONT, emphasis="BOLD"),
                   padding=(0.4, 1.2)) as table:
        if groups:
            top = table.row()
            for text, span in groups:
                top.cell(text, align="CENTER", colspan=span)
        for cells in (header, *rows):
            row = table.row()
            for text in cells:
                row.cell(text)
    pdf.ln(1)


def _day_axis(axes: Axes, keys: Sequence[str]) -> None:
    """Day keys along the x axis, with a dotted line where the follow-ups begin."""
    axes.set_xticks(range(len(keys)), list(keys), fontsize=7)
    axes.set_xlabel(_DAY_AXIS, fontsize=7)
    follow = [i for i, k in enumerate(keys) if k.startswith("F")]
    if follow and follow[0] > 0:
        axes.axvline(follow[0] - 0.5, linestyle=":", color="grey")


def _figure_png(figure: Figure) -> bytes:
    """A matplotlib figure as PNG bytes, rendered on the Agg canvas."""
    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=150, metadata={"Software": None})
    return out.getvalue()


def _figure_by_day(by_day: Mapping[str, Mapping[str, Any]], title: str,
                   scale: tuple[float, float], days: Sequence[str] | None = None) -> bytes:
    """Mean +/- SD by day (``by_day`` as in the unit report) as a PNG.

    Args:
        by_day: day key -> ``{"n", "mean", "sd"}``.
        title: the figure's title.
        scale: the measure's range, for the y axis.
        days: the day keys to show (default: every day with data).
    """
    keys = [k for k in (days or list(by_day)) if k in by_day and by_day[k]["mean"] is not None]
    figure = Figure(figsize=(4.6, 2.6))
    figure.subplots_adjust(left=0.12, right=0.98, bottom=0.2, top=0.9)
    axes = figure.subplots()
    means = [by_day[k]["mean"] for k in keys]
    sds = [by_day[k]["sd"] or 0.0 for k in keys]
    axes.errorbar(range(len(keys)), means, yerr=sds, fmt="o-", capsize=4, color="#1f4e79")
    _day_axis(axes, keys)
    low, high = scale
    margin = (high - low) * 0.05
    axes.set_ylim(low - margin, high + margin)
    axes.set_title(title, fontsize=9)
    axes.set_ylabel("mean \u00b1 SD", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.grid(axis="y", alpha=0.3)
    return _figure_png(figure)


def _figure_course(rows: Sequence[CohortRow], keys: Sequence[str]) -> bytes:
    """One patient's journal by day as a PNG: the 0-10 scales, the 0-4 scales, relief."""
    panels = {title: [n for n in JOURNAL_FIELDS if JOURNAL_SCALES[n].range == scale]
              for title, scale in (("Scores 0-10", (0, 10)), ("Scores 0-4", (0, 4)),
                                   ("Pain relief (%)", (0, 100)))}
    by_key = {r.label: r for r in rows}
    figure = Figure(figsize=(10.5, 3.4))
    figure.subplots_adjust(left=0.04, right=0.99, bottom=0.16, top=0.92, wspace=0.15)
    for axes, (title, names) in zip(figure.subplots(1, 3), panels.items(), strict=True):
        for name in names:
            points = [(i, getattr(by_key[k], name)) for i, k in enumerate(keys)
                      if k in by_key and getattr(by_key[k], name) is not None]
            axes.plot([p[0] for p in points], [p[1] for p in points], "o-", markersize=3,
                      label=SHORT_LABELS[name])
        low, high = JOURNAL_SCALES[names[0]].range
        axes.set_ylim(low - (high - low) * 0.05, high + (high - low) * 0.05)
        _day_axis(axes, keys)
        axes.set_title(title, fontsize=9)
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    return _figure_png(figure)


def _place_figure(pdf: FPDF, png: bytes, x: float, y: float, width: float) -> float:
    """Put a PNG at (x, y), ``width`` mm wide; returns the y below it."""
    info = pdf.image(io.BytesIO(png), x=x, y=y, w=width)
    return y + float(info.rendered_height)


# -- the unit report -------------------------------------------------------------------------

def _demographics_section(pdf: FPDF, report: Mapping[str, Any]) -> None:
    demo = report["demographics"]
    _heading(pdf, "Patients")
    _lines(pdf, [f"{demo['n']} patients: {demo['female']} female, {demo['male']} male"])
    _table(pdf, ["", "n", "Mean", "SD"], [
        [label, str(demo[key]["n"]), fmt(demo[key]["mean"], 1), fmt(demo[key]["sd"], 1)]
        for label, key in (("Age (years)", "age_years"), ("Weight (kg)", "weight_kg"),
                           ("Height (cm)", "height_cm"))], widths=(3, 1, 1, 1), width=90)


def _comparison_section(pdf: FPDF, measures: Mapping[str, Any]) -> None:
    _heading(pdf, "Day 1 vs day 10 (Kruskal-Wallis)")
    rows = []
    for name in JOURNAL_FIELDS:
        one, ten = (measures[name]["by_day"][d] for d in ("1", "10"))
        test = measures[name]["day1_vs_day10"]
        rows.append([MEASURE_LABELS[name], str(one["n"]), fmt(one["mean"]), fmt(one["sd"]),
                     str(ten["n"]), fmt(ten["mean"]), fmt(ten["sd"]), fmt(test["h"]),
                     fmt_p(test["p"])])
    _table(pdf, ["Measure", "n", "Mean", "SD", "n", "Mean", "SD", "H", "p"], rows,
           widths=(5, 1, 1.3, 1.3, 1, 1.3, 1.3, 1.3, 1.3),
           groups=(("", 1), ("Day 1", 3), ("Day 10", 3), ("Kruskal-Wallis", 2)))
    _lines(pdf, ["Kruskal-Wallis test of the day-1 scores against the day-10 scores; "
                 "p < 0.05 is significant."])


def _incidence_section(pdf: FPDF, incidence: Mapping[str, Any]) -> None:
    _heading(pdf, "Side effects (patients, charted or detected from the vitals)")
    rows = [[f"{v['patients']}/{v['of']} {effect}", str(v.get("charted", DASH)),
             str(v.get("detected", DASH))] for effect, v in incidence.items()]
    _table(pdf, ["Patients with", "Charted", "From vitals"], rows, widths=(3, 1, 1), width=100)


def _with_pain_section(pdf: FPDF, with_pain: Mapping[str, Any]) -> None:
    _heading(pdf, "Patients with pain (pain intensity above 0)")
    rows = [[day_name(k), str(v["patients"]), str(v["of"]), fmt(v["percent"], 1)]
            for k, v in with_pain.items()]
    _table(pdf, ["", "With pain", "Of", "%"], rows, widths=(2, 1, 1, 1), width=90)


def _measure_section(pdf: FPDF, name: str, measure: Mapping[str, Any],
                     figure_days: Sequence[str] | None) -> None:
    by_day = measure["by_day"]
    low, high = JOURNAL_SCALES[name].range
    label = f"{MEASURE_LABELS[name]} ({format_number(low)}-{format_number(high)})"
    if pdf.y + (len(by_day) + 4) * 5.6 > pdf.page_break_trigger:
        pdf.add_page()
    _heading(pdf, label, size=11)
    top = pdf.y
    bottom = _place_figure(pdf, _figure_by_day(by_day, label, (low, high), figure_days),
                           x=pdf.l_margin + 78, y=top, width=102)
    _table(pdf, ["", "n", "Mean", "SD"],
           [[day_name(k), str(v["n"]), fmt(v["mean"]), fmt(v["sd"])] for k, v in by_day.items()],
           widths=(2.2, 1, 1.2, 1.2), width=72)
    test = measure["day1_vs_day10"]
    _lines(pdf, [f"Day 1 vs day 10 (Kruskal-Wallis): H = {fmt(test['h'])}, "
                 f"{p_clause(test['p'])}"])
    pdf.set_y(max(pdf.y, bottom) + 2)


def unit_report_pdf(report: Mapping[str, Any], title: str, period: str, *,
                    unit: str | None = None, generated_at: dt.datetime | None = None,
                    figure_days: Sequence[str] | None = None) -> bytes:
    """The unit report as a PDF.

    Args:
        report: what :func:`monitor.reports.statistics.unit_report` returns.
        title: the document's title.
        period: the period covered, as printed (``"2024-01-08 to 2024-03-22"``).
        unit: the unit's name, printed under the title.
        generated_at: when the report was made, printed and used as the PDF's date.
        figure_days: the days each measure's figure shows (e.g. ``STUDY_FIGURE_DAYS``);
            default every day with data.

    Returns:
        The PDF file's bytes.
    """
    lines = [*([f"Unit: {unit}"] if unit else []), f"Period: {period}",
             f"Patients treated: {report['patients']} \u00b7 infusion sessions: "
             f"{report['sessions']}"]
    pdf = _document(title, lines, generated_at)
    _demographics_section(pdf, report)
    _comparison_section(pdf, report["measures"])
    _incidence_section(pdf, report["incidence"])
    pdf.add_page()
    if "with_pain" in report:
        _with_pain_section(pdf, report["with_pain"])
    _heading(pdf, "Journal measures by day (mean \u00b1 SD)", size=13)
    for name in JOURNAL_FIELDS:
        _measure_section(pdf, name, report["measures"][name], figure_days)
    return bytes(pdf.output())


# -- one patient's course --------------------------------------------------------------------

def _course_table(pdf: FPDF, rows: Sequence[CohortRow]) -> None:
    header = ["Day", "Date", "Dose (mg)", *(SHORT_LABELS[n] for n in JOURNAL_FIELDS),
              "Side effects"]
    body = [[day_name(r.label), r.date.isoformat(), _raw(r.dose_mg),
             *(_raw(getattr(r, n)) for n in JOURNAL_FIELDS), ", ".join(r.side_effects)]
            for r in rows]
    _table(pdf, header, body, widths=(2, 1.9, 1.5, *(1.55,) * 8, 3.2),
           align="LL" + "R" * 9 + "L")


def _change_table(pdf: FPDF, rows: Sequence[CohortRow]) -> None:
    by_key = {r.label: r for r in rows}
    follow = [r for r in rows if r.is_follow_up]
    last = follow[-1] if follow else None

    def score(key: str, name: str) -> float | None:
        return getattr(by_key[key], name) if key in by_key else None

    body = []
    for name in JOURNAL_FIELDS:
        one, ten = score("1", name), score("10", name)
        change = None if one is None or ten is None else ten - one
        body.append([MEASURE_LABELS[name], _raw(one), _raw(ten),
                     _signed(change),
                     _raw(getattr(last, name)) if last else DASH])
    last_head = f"Last follow-up ({last.label})" if last else "Last follow-up"
    _table(pdf, ["Measure", "Day 1", "Day 10", "Change", last_head], body,
           widths=(4, 1, 1, 1, 1.6), width=170)


def _effects_lines(rows: Sequence[CohortRow], episodes: Collection[str]) -> list[str]:
    days: dict[str, list[str]] = {}
    for row in rows:
        for effect in row.side_effects:
            days.setdefault(effect, []).append(row.label)
    charted = "; ".join(f"{effect} (day {', '.join(d)})" for effect, d in days.items())
    detected = ", ".join(sorted(episodes))
    return [f"Side effects charted: {charted or 'none'}",
            f"Episodes detected from the vitals: {detected or 'none'}"]


def course_report_pdf(patient: PatientSummary | Mapping[str, Any], rows: Sequence[CohortRow],
                      *, title: str = "Ketamine infusion course report",
                      unit: str | None = None, episodes: Collection[str] = (),
                      generated_at: dt.datetime | None = None) -> bytes:
    """One patient's course as a PDF: each journal measure day 1 to 10 and at follow-up.

    Args:
        patient: who (a :class:`PatientSummary`, or a dict with its fields).
        rows: course-day and follow-up rows in any order; only the patient's are used
            (those whose ``patient`` is the summary's ``identifier``).
        title: the document's title.
        unit: the unit's name, printed under the title.
        episodes: kinds of episode detected from the patient's vitals (``"tachycardia"``).
        generated_at: when the report was made, printed and used as the PDF's date.

    Returns:
        The PDF file's bytes.

    Raises:
        ValueError: an invalid patient summary.
    """
    who = patient if isinstance(patient, PatientSummary) else PatientSummary.from_mapping(patient)
    ordered = sorted((r for r in rows if r.patient == who.identifier),
                     key=lambda r: (r.is_follow_up, r.day or 0, r.follow_up_week or 0))
    course = [r for r in ordered if not r.is_follow_up]
    first = course[0].date if course else None
    age = f", age {age_years(who.birth_date, first)} at day {course[0].label}" if first else ""
    lines = [*([f"Unit: {unit}"] if unit else []), f"Patient: {who.name} ({who.identifier})",
             f"Sex: {who.sex} \u00b7 born {who.birth_date.isoformat()}{age}",
             f"Period: {course[0].date.isoformat()} to {course[-1].date.isoformat()}, "
             f"{len(course)} infusions" if course else "Period: no infusion recorded",
             *([] if ordered else ["No journal recorded."])]
    pdf = _document(title, lines, generated_at, orientation="L")
    _heading(pdf, "Journal by day")
    _course_table(pdf, ordered)
    _lines(pdf, _effects_lines(ordered, episodes))
    pdf.add_page()
    _heading(pdf, "Journal by day (figures)")
    keys = [k for k in day_keys(ordered) if any(r.label == k for r in ordered)]
    bottom = _place_figure(pdf, _figure_course(ordered, keys), x=pdf.l_margin, y=pdf.y,
                           width=pdf.epw)
    pdf.set_y(bottom + 2)
    _heading(pdf, "Day 1 vs day 10")
    _change_table(pdf, ordered)
    return bytes(pdf.output())
