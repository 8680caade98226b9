"""One infusion session's report as a PDF: who, doses, steps, baseline, trends, alarms, episodes.

The input is the JSON-ready session report the integrator builds from the database (its
shape is in :func:`session_report_pdf`). The document is made with the helpers of
:mod:`monitor.reports.pdf` (A4, DejaVu Sans, matplotlib's Agg canvas) and, like the other
documents, reads no clock: the same report and time zone give the same bytes; it says when
it was generated only when given ``generated_at``.

Times print in the given time zone (default the machine's local zone) as
``YYYY-MM-DD HH:MM``. Voided charted events are left out of the tables, and a line says how
many; amended ones are marked "(amended)" beside who recorded them. Every page's footer
names the patient.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from fpdf import FPDF
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from monitor.records.episodes import Episode, summarise
from monitor.records.vocabulary import JOURNAL_SCALES, PAIN_CHARACTERS, Scale
from monitor.reports.pdf import (
    DASH,
    MEASURE_LABELS,
    _document,
    _figure_png,
    _heading,
    _lines,
    _place_figure,
    _raw,
    _table,
)
from monitor.reports.statistics import age_years

TITLE = "Ketamine infusion session report"
"""The document's title."""

_EPS = 1e-9  # "over the limit" as the episodes and the alarms judge it (float rounding)
_UNITS = {"desaturation": "%", "tachycardia": "bpm", "hypertension": "mmHg"}


# -- formatting ------------------------------------------------------------------------------

def _local(t: float, tz: dt.tzinfo | None) -> dt.datetime:
    """POSIX seconds as an aware time in ``tz`` (``None``: the machine's local zone)."""
    return dt.datetime.fromtimestamp(t, dt.UTC).astimezone(tz)


def _when(t: Any, tz: dt.tzinfo | None) -> str:
    """``YYYY-MM-DD HH:MM`` in ``tz``; a dash for no time; text as it is."""
    if t is None:
        return DASH
    if isinstance(t, str):
        return t
    return f"{_local(float(t), tz):%Y-%m-%d %H:%M}"


def _num(value: Any) -> str:
    """A measured figure: whole numbers as they are, others to one decimal; a dash for none."""
    if value is None or isinstance(value, bool):
        return DASH
    return _raw(round(float(value), 1))


def _unit(value: Any, unit: str) -> str:
    return DASH if value is None else f"{_num(value)} {unit}"


def _bp(systolic: Any, diastolic: Any) -> str:
    return f"{_num(systolic)}/{_num(diastolic)}"


def _duration(seconds: float) -> str:
    """``0 s``, ``10 s``, ``2 min 05 s``, ``4 h 00 min``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _words(text: Any) -> str:
    return DASH if text in (None, "") else str(text).replace("_", " ")


def _by(event: Mapping[str, Any]) -> str:
    who = str(event.get("recorded_by") or DASH)
    return f"{who} (amended)" if event.get("amended") else who


# -- sections --------------------------------------------------------------------------------

def _identification(report: Mapping[str, Any], tz: dt.tzinfo | None) -> list[str]:
    session, patient, course = report["session"], report["patient"], report["course"]
    name = f"{patient['family_name']}, {patient['given_name']}"
    birth = patient.get("birth_date")
    born = f"born {birth}" if birth else "birth date unknown"
    first = session.get("infusion_started_at") or session.get("admitted_at")
    if birth and first is not None:
        day = _local(float(first), tz).date()
        born += f", age {age_years(dt.date.fromisoformat(str(birth)), day)}"
    started, stopped = session.get("infusion_started_at"), session.get("infusion_stopped_at")
    if started is None:
        infusion = "not started"
    elif stopped is None:
        infusion = f"{_when(started, tz)}, not stopped"
    else:
        infusion = f"{_when(started, tz)} to {_when(stopped, tz)} " \
                   f"({_duration(float(stopped) - float(started))})"
    reason = session.get("infusion_stop_reason")
    devices = ", ".join(f"{d['id']} ({d['protocol']})" for d in session.get("devices", []))
    return [
        f"Patient: {name} ({patient['identifier']}) \u00b7 sex {patient.get('sex') or DASH}"
        f" \u00b7 {born}",
        f"Course: {course.get('protocol') or DASH} \u00b7 Day {session.get('course_day') or DASH}"
        f" of {course.get('planned_sessions') or DASH}",
        f"Bed {session.get('bed_id') or DASH} \u00b7 session {session.get('id')}",
        f"Admitted {_when(session.get('admitted_at'), tz)} \u00b7 discharged "
        f"{_when(session.get('discharged_at'), tz)}",
        f"Infusion: {infusion}" + (f" \u00b7 stopped: {reason}" if reason else ""),
        f"Nurses: {', '.join(session.get('nurses', [])) or DASH}",
        f"Devices: {devices or DASH}",
    ]


def _section(pdf: FPDF, title: str, items: Sequence[Any], empty: str) -> bool:
    """A section's heading, then ``empty`` when it has no ``items``; whether it has any."""
    _heading(pdf, title)
    if not items:
        _lines(pdf, [empty])
    return bool(items)


def _doses(pdf: FPDF, session: Mapping[str, Any]) -> None:
    _heading(pdf, "Ketamine dose")
    planned, given = session.get("planned_dose_mg"), session.get("dose_mg")
    change = DASH
    if planned is not None and given is not None:
        diff = float(given) - float(planned)
        change = "as planned" if diff == 0 else f"{'+' if diff > 0 else ''}{_num(diff)} mg"
    _table(pdf, ["Planned", "Given", "Difference", "Reason for the difference"],
           [[_unit(planned, "mg"), _unit(given, "mg"), change,
             str(session.get("dose_deviation_reason") or DASH)]],
           widths=(1, 1, 1, 3), align="LLLL")


def _steps(pdf: FPDF, session: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    steps = sorted(session.get("steps", []), key=lambda s: s["time"])
    if not _section(pdf, "Infusion steps", steps, "No infusion step recorded."):
        return
    _table(pdf, ["Time", "Step", "By", "Reason"],
           [[_when(s["time"], tz), _words(s["step"]), str(s.get("user") or DASH),
             str(s.get("reason") or DASH)] for s in steps],
           widths=(1.4, 1, 1, 3), align="LLLL")


def _charted(report: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return sorted((e for e in report.get("events", [])
                   if e["kind"] == kind and not e.get("voided")), key=lambda e: e["time"])


def _premedication(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    given = _charted(report, "premedication")
    if not _section(pdf, "Premedication", given, "No premedication charted."):
        return
    _table(pdf, ["Time", "Drug", "Dose", "Route", "Recorded by", "Note"],
           [[_when(e["time"], tz), str(e["detail"].get("drug", DASH)),
             _unit(e["detail"].get("dose_mg"), "mg"), _words(e["detail"].get("route")),
             _by(e), str(e["detail"].get("note") or "")] for e in given],
           widths=(1.4, 1, 0.8, 0.8, 1.1, 2), align="LLRLLL")


def _baseline_lines(baseline: Mapping[str, Any]) -> list[str]:
    hr, bp = baseline.get("hr"), baseline.get("bp")
    out = []
    for label, value, text in (
            ("Heart rate", hr, hr and _unit(hr.get("hr"), "bpm")),
            ("Blood pressure", bp, bp and f"{_bp(bp.get('systolic'), bp.get('diastolic'))} "
                                          f"mmHg (mean {_num(bp.get('mean'))})")):
        if not value:
            out.append(f"{label}: no baseline; relative limits and episodes not applied")
            continue
        who = value.get("confirmed_by")
        out.append(f"{label}: {text} \u00b7 {value.get('method') or 'method not recorded'}"
                   f" \u00b7 {'confirmed by ' + who if who else 'not confirmed'}"
                   + (f" \u00b7 reason: {value['reason']}" if value.get("reason") else ""))
        notes = list(value.get("notes") or [])
        if value.get("flagged") or notes:
            out.append(f"    flagged: {'; '.join(notes) or 'see the record'}")
    return out


def _baseline(pdf: FPDF, report: Mapping[str, Any]) -> None:
    _heading(pdf, "Pre-infusion baseline")
    _lines(pdf, _baseline_lines(report.get("baseline") or {}))


def _nibp(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    readings = sorted(report["trends"].get("nibp", []), key=lambda r: r["time"])
    if not _section(pdf, "Blood pressure readings (NIBP)", readings, "No NIBP reading."):
        return
    high = report["trends"].get("band", {}).get("sys_high")
    _table(pdf, ["Time", "Systolic/diastolic (mmHg)", "Mean (mmHg)", "Systolic over limit"],
           [[_when(r["time"], tz), _bp(r.get("systolic"), r.get("diastolic")),
             _num(r.get("mean")),
             DASH if high is None or r.get("systolic") is None
             else ("yes" if float(r["systolic"]) > high + _EPS else "")]
            for r in readings], widths=(1.4, 1.4, 1, 1.2), width=130, align="LRRL")
    if high is not None:
        _lines(pdf, [f"Limit: systolic above {_num(high)} mmHg (baseline \u00d7 factor)."])


def _alarm_detail(alarm: Mapping[str, Any]) -> str:
    if alarm.get("user"):
        text = f"{_words(alarm['event'])} by {alarm['user']}"
        return text + (f": {alarm['reason']}" if alarm.get("reason") else "")
    message = str(alarm.get("message") or "")
    reason = alarm.get("reason")
    return message + (f" ({reason})" if reason else "") if message or reason else DASH


def _alarms(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    alarms = sorted(report.get("alarms", []), key=lambda a: a["time"])
    if not _section(pdf, "Alarms and actions", alarms, "No alarm."):
        return
    _table(pdf, ["Time", "Rule", "Priority", "Event", "Value", "Message or action"],
           [[_when(a["time"], tz), str(a.get("rule") or DASH), str(a.get("priority") or DASH),
             _words(a["event"]), _num(a.get("value")), _alarm_detail(a)] for a in alarms],
           widths=(1.4, 1.3, 0.8, 1.1, 0.7, 3.2), align="LLLLRL")


def _episodes(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    _heading(pdf, "Episodes by the study's definitions (from the vitals, without alarm delays)")
    episodes = sorted((Episode(d["kind"], d["start"], d["end"], d["worst"], d["threshold"],
                               d["baseline"], d["samples"], d.get("source", ""))
                       for d in report.get("episodes", [])), key=lambda e: e.start)
    band = report["trends"].get("band", {})
    limits = {"desaturation": f"SpO2 below {_num(band.get('spo2_low', 93))} %",
              "tachycardia": f"heart rate above {_unit(band.get('hr_high'), 'bpm')}",
              "hypertension": f"systolic above {_unit(band.get('sys_high'), 'mmHg')}"}
    lines = []
    for kind, figures in summarise(episodes).items():
        if kind != "desaturation" and band.get("hr_high" if kind == "tachycardia"
                                               else "sys_high") is None:
            lines.append(f"{kind.capitalize()}: not counted (no baseline)")
            continue
        count = figures["count"]
        lines.append(f"{kind.capitalize()} ({limits[kind]}): " + (
            "none" if not count else
            f"{count} episode{'s' if count > 1 else ''}, {_duration(figures['total_s'])} in "
            f"all, worst {_unit(figures['worst'], _UNITS[kind])}"))
    _lines(pdf, lines)
    if episodes:
        _table(pdf, ["Kind", "Start", "Duration", "Worst", "Limit", "Samples", "From"],
               [[e.kind, _when(e.start, tz), _duration(e.duration),
                 _unit(e.worst, _UNITS[e.kind]), _unit(e.threshold, _UNITS[e.kind]),
                 str(e.samples), e.source or DASH] for e in episodes],
               widths=(1.3, 1.4, 1, 1, 1, 0.8, 0.7), align="LLRRRRL")


def _side_effects(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    effects = _charted(report, "side_effect")
    if not _section(pdf, "Side effects", effects, "No side effect charted."):
        return
    rows = []
    for e in effects:
        d = e["detail"]
        effect = str(d.get("effect", DASH)) + (f": {d['note']}" if d.get("note") else "")
        rows.append([effect, _words(d.get("severity")), str(d.get("intervention") or "none"),
                     _when(d.get("onset", e["time"]), tz), _when(d.get("resolved_at"), tz),
                     _by(e)])
    _table(pdf, ["Effect", "Severity", "Intervention", "Onset", "Resolved", "Recorded by"], rows,
           widths=(1.8, 0.9, 1.6, 1.4, 1.4, 1.1), align="LLLLLL")


def _scale(scale: Scale) -> str:
    """``0-10 (0 no pain, 10 worst pain possible)``."""
    anchors = ", ".join(f"{k} {v}" for k, v in sorted(scale.anchors.items()))
    return f"{scale.low}-{scale.high}" + (f" ({anchors})" if anchors else "")


def _journal(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    entries = _charted(report, "journal")
    _section(pdf, "Pain journal (before the infusion)", entries, "No journal charted.")
    for e in entries:
        d = e["detail"]
        _lines(pdf, [f"Recorded {_when(e['time'], tz)} by {_by(e)}"])
        rows = [[MEASURE_LABELS[name], _num(d[name]), _scale(scale)]
                for name, scale in JOURNAL_SCALES.items() if name in d]
        if d.get("character"):
            rows.append(["Pain character", ", ".join(d["character"]),
                         ", ".join(PAIN_CHARACTERS)])
        if "skin_colour_change" in d:
            rows.append(["Skin colour change", "yes" if d["skin_colour_change"] else "no",
                         "yes/no"])
        if d.get("note"):
            rows.append(["Note", str(d["note"]), ""])
        _table(pdf, ["Field", "Value", "Scale"], rows, widths=(2.2, 1.2, 4), align="LRL")


def _notes(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    notes = _charted(report, "note")
    if notes:
        _heading(pdf, "Notes")
        _table(pdf, ["Time", "By", "Note"],
               [[_when(e["time"], tz), _by(e), str(e["detail"].get("note", ""))]
                for e in notes], widths=(1.4, 1.1, 5), align="LLL")
    voided = sum(1 for e in report.get("events", []) if e.get("voided"))
    if voided:
        _lines(pdf, [f"{voided} voided charted entr{'ies' if voided > 1 else 'y'} not shown."])


# -- the trends figure -----------------------------------------------------------------------

def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [math.nan if r.get(key) is None else float(r[key]) for r in rows]


def _limit(axes: Axes, values: Sequence[float], limit: float | None, above: bool,
           label: str) -> None:
    """Scale the y axis to the data and the limit, then shade the side beyond the limit."""
    finite = [v for v in (*values, *([limit] if limit is not None else [])) if math.isfinite(v)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    margin = max((high - low) * 0.1, 3.0)
    axes.set_ylim(low - margin, high + margin)
    if limit is not None:
        axes.axhline(limit, color="#c00000", linestyle="--", linewidth=0.8, label=label)
        edge = high + margin if above else low - margin
        axes.axhspan(min(limit, edge), max(limit, edge), color="#c00000", alpha=0.08)


def _time_axis(axes: Axes, first: float, last: float, tz: dt.tzinfo | None) -> None:
    span = max(last - first, 1.0)
    step = 900 if span <= 2 * 3600 else 1800 if span <= 6 * 3600 else 3600
    axes.xaxis.set_major_locator(MultipleLocator(step))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{_local(x, tz):%H:%M}"))
    pad = max(span * 0.02, 120.0)  # so a line at the first or last time stays visible
    axes.set_xlim(first - pad, last + pad)


def _figure_trends(report: Mapping[str, Any], tz: dt.tzinfo | None) -> bytes | None:
    """HR and PR, SpO2, and NIBP against time, with their limits, as a PNG (None: no data)."""
    trends, session = report["trends"], report["session"]
    minutes = sorted(trends.get("minutes", []), key=lambda m: m["time"])
    nibp = sorted(trends.get("nibp", []), key=lambda r: r["time"])
    band = trends.get("band", {})
    times = [float(m["time"]) for m in minutes] + [float(r["time"]) for r in nibp]
    if not times:
        return None
    figure = Figure(figsize=(7.2, 6.4))
    figure.subplots_adjust(left=0.1, right=0.98, bottom=0.07, top=0.96, hspace=0.25)
    hr_ax, spo2_ax, bp_ax = figure.subplots(3, 1, sharex=True)
    t = [float(m["time"]) for m in minutes]
    hr, pr, spo2 = (_series(minutes, k) for k in ("HR", "PR", "SPO2"))
    hr_ax.plot(t, hr, color="#1b7a1b", linewidth=1, label="HR (ECG)")
    hr_ax.plot(t, pr, color="#1f4e79", linewidth=0.8, linestyle=":", label="PR (oximeter)")
    _limit(hr_ax, hr + pr, band.get("hr_high"), True, "baseline \u00d7 1.2")
    hr_ax.set_ylabel("bpm", fontsize=7)
    spo2_ax.plot(t, spo2, color="#1f4e79", linewidth=1, label="SpO2")
    _limit(spo2_ax, spo2, band.get("spo2_low"), False, "93 %")
    spo2_ax.set_ylabel("%", fontsize=7)
    bp_t = [float(r["time"]) for r in nibp]
    sys_, dia = _series(nibp, "systolic"), _series(nibp, "diastolic")
    bp_ax.vlines(bp_t, dia, sys_, color="grey", linewidth=0.6)
    bp_ax.plot(bp_t, sys_, "v", color="#c00000", markersize=4, label="systolic")
    bp_ax.plot(bp_t, dia, "^", color="#1f4e79", markersize=4, label="diastolic")
    _limit(bp_ax, sys_ + dia, band.get("sys_high"), True, "baseline \u00d7 factor")
    bp_ax.set_ylabel("mmHg", fontsize=7)
    for axes, title in ((hr_ax, "Heart rate (1-min medians)"), (spo2_ax, "SpO2 (1-min medians)"),
                        (bp_ax, "Blood pressure (NIBP readings)")):
        for key in ("infusion_started_at", "infusion_stopped_at"):
            if session.get(key) is not None:
                axes.axvline(float(session[key]), color="black", linewidth=0.7)
        axes.set_title(title, fontsize=8, loc="left")
        axes.tick_params(labelsize=7)
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=6, loc="upper right", ncols=3)
    _time_axis(bp_ax, min(times), max(times), tz)
    bp_ax.set_xlabel("local time; vertical lines: infusion start and stop", fontsize=7)
    return _figure_png(figure)


def _trends(pdf: FPDF, report: Mapping[str, Any], tz: dt.tzinfo | None) -> None:
    png = _figure_trends(report, tz)
    if png is None:
        _heading(pdf, "Trends")
        _lines(pdf, ["No vital signs recorded."])
        return
    height = pdf.epw * 6.4 / 7.2
    if pdf.y + height + 12 > pdf.page_break_trigger:
        pdf.add_page()
    _heading(pdf, "Trends")
    pdf.set_y(_place_figure(pdf, png, x=pdf.l_margin, y=pdf.y, width=pdf.epw) + 2)


# -- the document ----------------------------------------------------------------------------

def session_report_pdf(report: Mapping[str, Any], *, generated_at: float | None = None,
                       tz: dt.tzinfo | None = None) -> bytes:
    """One infusion session's report as a PDF.

    Args:
        report: the JSON-ready session report::

            {"session": {"id", "bed_id", "course_day", "planned_dose_mg", "dose_mg",
                         "dose_deviation_reason", "admitted_at", "infusion_started_at",
                         "infusion_stopped_at", "discharged_at", "infusion_stop_reason",
                         "steps": [{"step", "time", "user", "reason"}],
                         "nurses": [...], "devices": [{"id", "protocol"}]},
             "patient": {"identifier", "family_name", "given_name", "birth_date", "sex"},
             "course": {"protocol", "planned_sessions"},
             "baseline": {"hr": Baseline.to_dict() | None, "bp": ... | None},
             "trends": {"minutes": [{"time", "HR", "PR", "SPO2"}],
                        "nibp": [{"time", "systolic", "diastolic", "mean"}],
                        "band": {"hr_high", "sys_high", "spo2_low"}},
             "alarms": [{"time", "rule", "priority", "event", "value", "message", "user",
                         "reason"}],
             "episodes": [Episode.to_dict()],
             "events": [{"time", "kind", "detail", "recorded_by", "voided", "amended"}]}

            Times are POSIX seconds, ``None`` where unknown. A premedication's detail is read
            for ``drug``, ``dose_mg``, ``route``, ``note``; a side effect's for ``effect``,
            ``severity``, ``intervention``, ``onset`` (default the event's time),
            ``resolved_at``, ``note``; a journal's for the scores of ``JOURNAL_SCALES``,
            ``character``, ``skin_colour_change``, ``note``.
        generated_at: POSIX seconds when the report was made, printed and used as the PDF's
            date (default: neither, so the same input gives the same bytes).
        tz: the time zone times are printed in (default the machine's local zone).

    Returns:
        The PDF file's bytes.

    Raises:
        KeyError: a section or field the shape requires is missing.
        ValueError: an episode that is not consistent (see :class:`Episode`).
    """
    patient = report["patient"]
    footer = f"{TITLE} \u00b7 {patient['family_name']}, {patient['given_name']} " \
             f"({patient['identifier']})"
    pdf = _document(TITLE, _identification(report, tz),
                    None if generated_at is None else _local(generated_at, tz), footer=footer)
    _doses(pdf, report["session"])
    _steps(pdf, report["session"], tz)
    _premedication(pdf, report, tz)
    _baseline(pdf, report)
    _trends(pdf, report, tz)
    _nibp(pdf, report, tz)
    _alarms(pdf, report, tz)
    _episodes(pdf, report, tz)
    _side_effects(pdf, report, tz)
    _journal(pdf, report, tz)
    _notes(pdf, report, tz)
    return bytes(pdf.output())

