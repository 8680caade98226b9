// A past session (#session/<id>), open or long after discharge: identification, doses,
// infusion steps, premedication, the frozen baseline with its provenance, trends (1-minute
// medians, every NIBP reading, the limits it was judged against), the NIBP table, the alarm
// log with who acted, the episodes, side effects and the journal with their corrections,
// and the printable report.

import { el, setText, num, clockTime, duration } from "./format.js";
import { getJSON } from "./api.js";
import { drawTrends } from "./trends.js";
import { dateTime, dateValue, breakableName } from "./forms.js";
import { humanize } from "./vocab.js";
import { alarmLogTable, alarmLogRows } from "./alarmlog.js";
import { journalRows, journalHead } from "./journal.js";
import { entryItem, entryStatus, correctionText } from "./charting.js";
import { bedLabel } from "./patients.js";

const MINUTE_GAP_S = 150; // 1-minute medians: a line breaks over 2 missing minutes

const mg = (v) => (v === null || v === undefined ? "—" : `${Number(v).toLocaleString("en", { maximumFractionDigits: 2 })} mg`);
const table = (cls, label, head, rows, empty) => el("div", { class: "table-wrap" },
  el("table", { class: `records-table ${cls}`, "aria-label": label },
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", textContent: h })))),
    el("tbody", {}, ...(rows.length ? rows
      : [el("tr", { class: "none" }, el("td", { colSpan: head.length, textContent: empty }))]))));
const section = (title, ...children) => el("section", { class: "past-part", "aria-label": title },
  el("h3", { textContent: title }), ...children);
const facts = (pairs) => el("dl", { class: "facts-grid" }, ...pairs.filter(Boolean).flatMap(([k, v]) =>
  [el("dt", { textContent: k }), el("dd", {}, v === null || v === undefined || v === "" ? "—" : v)]));

export function pastSession(sessionId) {
  const title = el("h2", { tabIndex: -1, textContent: `Session ${sessionId}` });
  const back = el("a", { class: "back", href: "#", textContent: "← All beds" });
  const pdf = el("a", { class: "button", href: `/api/reports/session/${sessionId}.pdf`, target: "_blank",
    rel: "noopener", textContent: "Print / PDF", "data-action": "session-pdf" });
  const body = el("div", { class: "past-body" }, el("p", { class: "hint", textContent: "Loading…" }));
  const root = el("div", { class: "records-page past-page", "data-session-id": String(sessionId) },
    el("header", { class: "records-head" }, back, title, pdf), body);
  let redraw = () => {};
  const onResize = () => redraw();
  window.addEventListener("resize", onResize);

  (async () => {
    const base = `/api/sessions/${sessionId}`;
    const [session, trends, alarms, report] = await Promise.all([
      getJSON(base), getJSON(`${base}/trends`).catch((e) => e), getJSON(`${base}/alarms`).catch((e) => e),
      getJSON(`/api/reports/session/${sessionId}`).catch((e) => e),
    ]).catch((err) => [err]);
    if (session instanceof Error) {
      body.replaceChildren(el("p", { class: "detail-missing", textContent: `Session unavailable: ${session.message}` }));
      return;
    }
    const s = session;
    const who = s.patient ? s.patient.display_name : s.patient_label;
    const of = s.course ? ` of ${s.course.planned_sessions}` : "";
    setText(title, `${who} · ${s.course_day ? `Day ${s.course_day}${of}` : "session"} · ${dateValue(s.infusion_started_at ?? s.admitted_at)}`);
    if (s.patient_id) {
      back.href = `#patient/${s.patient_id}`;
      back.textContent = "← Patient";
    }
    const history = report instanceof Error ? s.events : report.events;
    const canvas = el("canvas", { class: "trend-canvas past-trend-canvas", "aria-label": "Trends of the session" });
    const legend = el("p", { class: "hint trend-legend" });
    body.replaceChildren(
      el("div", { class: "past-grid" },
        el("div", { class: "past-main" },
          section("Trends", trends instanceof Error
            ? el("p", { class: "note", textContent: `Trends unavailable: ${trends.message}` }) : canvas, legend),
          section("NIBP readings", trends instanceof Error ? "" : nibpTable(trends)),
          section("Alarm log", alarms instanceof Error
            ? el("p", { class: "note", textContent: `Alarm log unavailable: ${alarms.message}` })
            : el("div", { class: "log-wrap" }, alarmLogTable(el("tbody", {}, ...alarmLogRows(alarms, { limit: 10000 }))))),
          section("Episodes", report instanceof Error
            ? el("p", { class: "note", textContent: `Episodes unavailable: ${report.message}` }) : episodesTable(report.episodes)),
          section("Premedication", premedTable(history)),
          section("Side effects", sideEffectsTable(history)),
          section("Pain journal", journalTable(history))),
        el("div", { class: "past-side" },
          section("Identification", identification(s)),
          section("Doses", facts([["Planned", mg(s.planned_dose_mg)], ["Given", mg(s.dose_mg)],
            ["Deviation", s.dose_deviation_reason || ""]])),
          section("Infusion steps", stepsTable(s)),
          section("Baseline", baseline(s.baseline)),
          section("Every charted entry", entriesList(history)))));
    if (!(trends instanceof Error)) {
      redraw = () => draw(canvas, trends, alarms instanceof Error ? [] : alarms, s, history);
      redraw();
      const b = trends.band || {};
      const parts = [];
      if (b.hr_high) parts.push(`HR limit ${num(b.hr_high)} /min (baseline ${num(b.hr_baseline)})`);
      if (b.sys_high) parts.push(`systolic limit ${num(b.sys_high)} mmHg (baseline ${num(b.sys_baseline)})`);
      if (b.spo2_low) parts.push(`SpO₂ floor ${num(b.spo2_low)} %`);
      setText(legend, `1-minute medians of HR, pulse and SpO₂; every NIBP reading. ${parts.join(" · ")}`);
    }
  })();
  return { root, title, close: () => window.removeEventListener("resize", onResize) };
}

function identification(s) {
  const p = s.patient;
  const infusion = s.infusion_started_at
    ? `${clockTime(s.infusion_started_at)} – ${s.infusion_stopped_at ? `${clockTime(s.infusion_stopped_at)} (${duration(s.infusion_stopped_at - s.infusion_started_at)})` : "running"}`
    : "not started";
  return facts([
    ["Patient", p ? el("a", { href: `#patient/${p.id}`, textContent: p.display_name }) : s.patient_label],
    ["Identifier", p ? p.identifier : s.patient_ref],
    p && ["Born", `${p.birth_date || "—"}${p.sex ? ` · ${p.sex}` : ""}`],
    ["Bed", bedLabel(s.bed_id)],
    ["Course day", s.course_day ? `${s.course_day}${s.course ? ` of ${s.course.planned_sessions}` : ""}` : ""],
    ["Admitted", `${dateTime(s.admitted_at)} by ${s.admitted_by}`],
    ["Infusion", infusion],
    ["Stop reason", s.infusion_stop_reason || ""],
    ["Discharged", s.discharged_at ? `${dateTime(s.discharged_at)} by ${s.discharged_by}` : "not yet"],
    ["Phase", humanize(s.phase)],
    ["Nurses", s.nurses.join(", ")],
    ["Devices", (s.devices || []).map((d) => `${d.id} (${d.protocol})`).join(", ")],
  ]);
}

function stepsTable(s) {
  return table("steps-table", "Infusion steps", ["Step", "Time", "By", "Reason"],
    s.steps.map((x) => el("tr", { "data-step": x.step },
      el("td", { textContent: humanize(x.step) }), el("td", { textContent: clockTime(x.time) }),
      el("td", {}, ...breakableName(x.user)), el("td", { textContent: x.reason || "" }))),
    "The infusion was not started.");
}

function baseline(b) {
  if (!b || (!b.hr && !b.bp)) return el("p", { class: "hint", textContent: "No baseline was frozen." });
  const prov = (x) => [x.method, x.confirmed_by && `confirmed by ${x.confirmed_by}`, x.reason && `“${x.reason}”`]
    .filter(Boolean).join(", ");
  return facts([
    ["HR", b.hr ? `${num(b.hr.hr)} /min` : "none"],
    b.hr && ["HR from", prov(b.hr)],
    ["BP", b.bp ? `${num(b.bp.systolic)}/${num(b.bp.diastolic)}${b.bp.mean ? ` (${num(b.bp.mean)})` : ""} mmHg` : "none"],
    b.bp && ["BP from", prov(b.bp)],
  ]);
}

const statusCell = (e, history) => el("td", { class: "status", textContent: correctionText(e, history) });
const row = (e, cells, history) => el("tr", { "data-event-id": String(e.id), "data-status": entryStatus(e) },
  ...cells, el("td", {}, ...breakableName(e.recorded_by)), statusCell(e, history));

function premedTable(history) {
  const rows = history.filter((e) => e.kind === "premedication").map((e) => {
    const d = e.detail || {};
    return row(e, [el("td", { textContent: clockTime(e.time) }), el("td", { textContent: humanize(d.drug) }),
      el("td", { textContent: mg(d.dose_mg) }), el("td", { textContent: d.route || "" }),
      el("td", { textContent: d.deviation_reason || d.note || "" })], history);
  });
  return table("premed-table", "Premedication", ["Time", "Drug", "Dose", "Route", "Off plan / note", "By", "Correction"],
    rows, "No premedication charted.");
}

function sideEffectsTable(history) {
  const rows = history.filter((e) => e.kind === "side_effect").map((e) => {
    const d = e.detail || {};
    return row(e, [el("td", { textContent: clockTime(d.onset ?? e.time) }), el("td", { textContent: humanize(d.effect) }),
      el("td", { textContent: d.severity || "" }), el("td", { textContent: d.intervention || "" }),
      el("td", { textContent: d.resolved_at ? clockTime(d.resolved_at) : "" })], history);
  });
  return table("side-effects-table", "Side effects",
    ["Onset", "Effect", "Severity", "Intervention", "Resolved", "By", "Correction"], rows, "No side effect charted.");
}

function journalTable(history) {
  const entries = history.filter((e) => e.kind === "journal");
  const body = el("tbody", {}, ...journalRows(entries, { punishing: true, empty: "No journal this session." }));
  entries.forEach((e, i) => body.children[i]?.setAttribute("data-status", entryStatus(e)));
  const notes = entries.map((e) => correctionText(e, history)).filter(Boolean);
  return el("div", {},
    el("div", { class: "table-wrap" }, el("table", { class: "journal-table past-journal", "aria-label": "Pain journal" },
      journalHead({ punishing: true }), body)),
    notes.length ? el("ul", { class: "plain-list corrections" }, ...notes.map((n) => el("li", { textContent: humanize(n) }))) : null);
}

function entriesList(history) {
  return el("ol", { class: "timeline" }, ...(history.length ? history.map((e) => entryItem(e, history, null))
    : [el("li", { class: "none", textContent: "Nothing charted." })]));
}

function nibpTable(trends) {
  const limit = trends.band?.sys_high;
  const rows = trends.nibp.map((r) => el("tr", { "data-artifact": r.artifact ? "true" : "false" },
    el("td", { textContent: clockTime(r.time) }),
    el("td", { textContent: `${num(r.systolic)}/${num(r.diastolic)}` }),
    el("td", { textContent: r.mean === null || r.mean === undefined ? "" : num(r.mean) }),
    el("td", { textContent: r.artifact ? "artifact" : limit && r.systolic > limit ? "above limit" : "" })));
  return table("nibp-table", "NIBP readings", ["Time", "Sys/Dia", "Mean", "Note"], rows, "No NIBP reading.");
}

function episodesTable(episodes) {
  const rows = episodes.map((e) => el("tr", { "data-kind": e.kind },
    el("td", { textContent: humanize(e.kind) }), el("td", { textContent: clockTime(e.start) }),
    el("td", { textContent: clockTime(e.end) }), el("td", { textContent: duration(e.duration) }),
    el("td", { textContent: num(e.worst, Number.isInteger(e.worst) ? 0 : 1) }),
    el("td", { textContent: e.threshold === null ? "" : num(e.threshold, 1) }),
    el("td", { textContent: e.source || "" })));
  return table("episodes-table", "Episodes", ["Episode", "Start", "End", "Duration", "Worst", "Limit", "From"],
    rows, "No episode: no desaturation, tachycardia or hypertension by the study's definitions.");
}

function draw(canvas, trends, alarms, s, history) {
  if (!canvas.isConnected) return;
  const series = { HR: [], PR: [], SPO2: [], NIBP_SYS: [], NIBP_DIA: [] };
  for (const m of trends.minutes) {
    for (const k of ["HR", "PR", "SPO2"]) if (m[k] !== null && m[k] !== undefined) series[k].push([m.time + 30, m[k]]);
  }
  for (const r of trends.nibp) {
    if (r.artifact) continue;
    series.NIBP_SYS.push([r.time, r.systolic]);
    series.NIBP_DIA.push([r.time, r.diastolic]);
  }
  const b = trends.band || {};
  const events = [];
  if (trends.infusion_start) events.push({ time: trends.infusion_start, label: "Infusion start", color: "#3ddc84" });
  for (const x of s.steps) {
    if (x.step === "pause" || x.step === "resume") events.push({ time: x.time, label: humanize(x.step), color: "#ffa726" });
  }
  if (trends.infusion_stop) events.push({ time: trends.infusion_stop, label: "Infusion stop", color: "#ffa726" });
  for (const e of history) {
    if (e.voided || e.amended) continue;
    if (e.kind === "premedication") events.push({ time: e.time, label: `${e.detail.drug}` });
    if (e.kind === "side_effect") events.push({ time: e.detail.onset ?? e.time, label: e.detail.effect });
  }
  drawTrends(canvas, {
    since: trends.since, until: trends.until, series, gapS: MINUTE_GAP_S,
    baseline: { hr: b.hr_baseline, sys: b.sys_baseline }, band: b,
    alarms: alarms.filter((a) => a.event === "onset").map((a) => ({ time: a.time, priority: a.priority })),
    events: events.sort((x, y) => x.time - y.time),
  });
  canvas.dataset.points = String(Object.values(series).reduce((n, v) => n + v.length, 0));
}
