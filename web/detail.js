// Bed detail (#bed/<id>): large ECG and pleth, session trends with baseline bands and alarm
// marks, the infusion timeline, the alarm log, and the session controls (admit, start/stop
// infusion, discharge, re-baseline, chart premedication and side effects, the daily pain
// journal).

import { el, setText, setClass, num, clockTime, clockShort, age, duration, pctChange } from "./format.js";
import { state, serverNow, baselineOf } from "./state.js";
import { Sweep } from "./waveform.js";
import { drawTrends } from "./trends.js";
import { getJSON, act, toast, ApiError } from "./api.js";
import { phaseText, showNibpCountdown } from "./tiles.js";
import { stripButton } from "./strip.js";

const TREND_METRICS = ["HR", "SPO2", "PR", "NIBP_SYS", "NIBP_DIA"];
const REFRESH_MS = 10000;
const SIDE_EFFECTS = ["headache", "restlessness", "dysphoria", "hallucinations", "dreams",
  "nausea", "other"];
/** The daily pain journal's scores (docs/api.md, "Charted events"), in display order. */
const JOURNAL_SCALES = [
  { name: "pain", label: "Pain now", short: "pain", max: 10 },
  { name: "worst_pain", label: "Worst daily pain", short: "worst", max: 10 },
  { name: "least_pain", label: "Least daily pain", short: "least", max: 10 },
  { name: "pain_24h", label: "Pain over the past 24 h", short: "24 h", max: 10 },
  { name: "movement", label: "Ability to initiate movement", short: "movement", max: 10 },
  { name: "affective", label: "Affective component", short: "affective", max: 4 },
  { name: "punishing", label: "Punishing pain", short: "punishing", max: 4 },
];
/** Affective component, the clinical 0-4 scale. */
const AFFECTIVE = ["none", "mild", "moderate", "severe", "very severe"];
const PAIN_CHARACTERS = ["burning", "aching", "punishing"];
const JOURNAL_NOTE_MAX = 500;
const EVENT_TEXT = {
  onset: "onset", end: "end", acknowledged: "acknowledged", reannounce: "re-announced",
  escalation: "escalated", priority_change: "priority change", condition_end: "condition ended",
  audio_paused: "audio paused", audio_resumed: "audio resumed",
};

/** Ask a yes/no question in the page's modal dialog. Resolves true on "confirm". */
export function confirmDialog(question, okText = "Confirm") {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector(".question").textContent = question;
  dialog.querySelector("[value=confirm]").textContent = okText;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

/** A time-of-day input's value as POSIX seconds today (yesterday if that is in the future). */
function timeInputToPosix(value, now) {
  const [h, m, s] = value.split(":").map(Number);
  const d = new Date(now * 1000);
  d.setHours(h, m, s || 0, 0);
  let t = d.getTime() / 1000;
  if (t > now + 60) t -= 86400; // entered just before midnight, charted just after
  return t;
}

function nowTimeValue() {
  const d = new Date(serverNow() * 1000);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

export class Detail {
  constructor(container, hub) {
    this.container = container;
    this.hub = hub;
    this.bedId = null;
    this.unhooks = [];
    this.series = {};
    this.lastObsTime = null;
    this.alarmLog = [];
    this.events = [];
    this.timer = null;
    this.renderedPhase = undefined;
  }

  open(bedId) {
    if (this.bedId === bedId) return;
    this.close();
    const bed = state.beds.get(bedId);
    if (!bed) {
      this.container.replaceChildren(el("p", { class: "detail-missing",
        textContent: `No bed “${bedId}” on this unit.` }));
      return;
    }
    this.bedId = bedId;
    this.series = {};
    this.lastObsTime = null;
    this.build(bed);
    this.update();
    this.refresh(true);
    this.timer = setInterval(() => this.refresh(false), REFRESH_MS);
  }

  close() {
    clearInterval(this.timer);
    clearTimeout(this.logTimer);
    for (const u of this.unhooks) u();
    this.unhooks = [];
    this.bedId = null;
    this.renderedPhase = undefined;
    this.renderedFacts = undefined;
    this.container.replaceChildren();
  }

  build(bed) {
    const dn = (key, label, unit, ...extra) => el("div", { class: `dnum m-${key.toLowerCase()}`, "data-detail-metric": key },
      el("span", { class: "label", textContent: label }),
      el("span", { class: "value", textContent: "---" }),
      el("span", { class: "unit", textContent: unit }),
      el("span", { class: "sub" }), ...extra);
    const ecg = el("canvas", { class: "wave-canvas", "data-wave": "ECG", "aria-label": "ECG waveform" });
    const pleth = el("canvas", { class: "wave-canvas", "data-wave": "PLETH", "aria-label": "Pleth waveform" });
    this.trendCanvas = el("canvas", { class: "trend-canvas", "aria-label": "Trends of the session" });
    this.sessionBox = el("div", { class: "session-box" });
    this.logBody = el("tbody");
    this.eventList = el("ol", { class: "timeline" });
    this.journalBody = el("tbody");
    this.trendNote = el("p", { class: "note" });
    const root = el("div", { class: "detail", "data-detail-bed": bed.id },
      el("header", { class: "detail-head" },
        el("a", { class: "back", href: "#", textContent: "← All beds" }),
        el("h2", { class: "d-label", textContent: bed.label }),
        el("span", { class: "d-patient" }),
        el("span", { class: "d-phase" }),
        el("span", { class: "d-state" })),
      el("div", { class: "detail-grid" },
        el("section", { class: "d-live", "aria-label": "Live" },
          el("div", { class: "d-nums" },
            dn("HR", "HR (ECG)", "/min"), dn("SPO2", "SpO₂", "%"), dn("PR", "Pulse", "/min"),
            dn("NIBP", "NIBP", "mmHg", el("span", { class: "next" }))),
          el("div", { class: "wave" }, el("span", { class: "wave-label", textContent: "ECG" }), ecg),
          el("div", { class: "wave" }, el("span", { class: "wave-label pleth", textContent: "Pleth" }), pleth),
          el("h3", { textContent: "Trends" }),
          this.trendCanvas, this.trendNote,
          el("h3", { textContent: "Alarm log" }),
          el("div", { class: "log-wrap" },
            el("table", { class: "alarm-log" },
              el("thead", {}, el("tr", {},
                ...["Time", "Event", "Alarm", "Message", "Value", "By"].map((h) =>
                  el("th", { scope: "col", textContent: h })))),
              this.logBody))),
        el("section", { class: "d-side", "aria-label": "Session" },
          el("h3", { textContent: "Session" }), this.sessionBox,
          el("h3", { textContent: "Timeline" }), this.eventList,
          el("h3", { textContent: "Pain journal" }),
          el("div", { class: "log-wrap journal-wrap" },
            el("table", { class: "journal-table", "aria-label": "Pain journal entries of this session" },
              el("thead", {}, el("tr", {},
                ...[["Time"], ["Pain", "Pain now"], ["Worst", "Worst daily pain"],
                  ["Least", "Least daily pain"], ["24\u00a0h", "Pain over the past 24 h"],
                  ["Aff.", "Affective component (0-4)"], ["Move", "Ability to initiate movement"],
                  ["Relief", "Overall relief (%)"], ["By"]].map(([h, t]) =>
                  el("th", { scope: "col", textContent: h, title: t })))),
              this.journalBody)))));
    this.root = root;
    this.container.replaceChildren(root);
    const ecgSweep = new Sweep(ecg, { seconds: 8, color: "#3ddc84", lineWidth: 2 });
    const plethSweep = new Sweep(pleth, { seconds: 8, color: "#4fc3f7", lineWidth: 2 });
    this.unhooks.push(this.hub.add(ecgSweep, bed.id, ["ECG"]));
    this.unhooks.push(this.hub.add(plethSweep, bed.id, ["PLETH"]));
    const onResize = () => this.drawTrends();
    window.addEventListener("resize", onResize);
    this.unhooks.push(() => window.removeEventListener("resize", onResize));
  }

  /** Live part: numbers, header; the session panel when the phase changed. */
  update() {
    const bed = state.beds.get(this.bedId);
    if (!bed || !this.root) return;
    const now = serverNow();
    const q = (s) => this.root.querySelector(s);
    const a = bed.admission && bed.admission.phase !== "discharged" ? bed.admission : null;
    setText(q(".d-patient"), a ? `${a.patient_label}${a.patient_ref ? ` (${a.patient_ref})` : ""}` +
      `${a.infusion_day ? ` · Day ${a.infusion_day}` : ""}${a.dose_mg ? ` · ${a.dose_mg} mg` : ""}`
      : "no patient admitted");
    setText(q(".d-phase"), a ? phaseText(a, now) : "");
    setText(q(".d-state"), state.live ? (bed.connection || "").replace(/_/g, " ") : "no server");
    const base = baselineOf(bed);
    const show = (key, v, sub = "") => {
      const box = q(`[data-detail-metric="${key}"]`);
      const stale = !v || now - v.time > 15 || !state.live;
      setText(box.querySelector(".value"), v && v.value !== null ? num(v.value) : "---");
      setText(box.querySelector(".sub"), sub);
      setClass(box, "stale", stale);
    };
    const hr = bed.latest.HR;
    show("HR", hr, base?.hr && hr ? `base ${num(base.hr)} ${pctChange(hr.value, base.hr)}` : "");
    show("SPO2", bed.latest.SPO2);
    show("PR", bed.latest.PR);
    const sys = bed.latest.NIBP_SYS;
    const nbox = q('[data-detail-metric="NIBP"]');
    setText(nbox.querySelector(".value"), sys ? `${num(sys.value)}/${num(bed.latest.NIBP_DIA?.value)}` : "---/---");
    setText(nbox.querySelector(".sub"), sys ? `${age(now - sys.time)} ago` +
      (base?.sys ? ` · base ${num(base.sys)} ${pctChange(sys.value, base.sys)}` : "") : "");
    setClass(nbox, "stale", !sys || !state.live);
    showNibpCountdown(nbox.querySelector(".next"), bed, now);

    // Controls (with forms the nurse may be typing in) are rebuilt only when the phase
    // changes; the facts (admission, baseline and its provenance) whenever they change.
    const phase = a ? a.phase : null;
    if (phase !== this.renderedPhase) {
      this.renderedPhase = phase;
      this.renderedFacts = undefined;
      this.renderSession(bed);
      this.loadEvents();
    }
    const factsKey = JSON.stringify([bed.admission, bed.baseline]);
    if (a && factsKey !== this.renderedFacts) {
      this.renderedFacts = factsKey;
      this.factsBox.replaceChildren(this.facts(bed, a));
      this.renderTimeline();
    }
  }

  // ---- data -------------------------------------------------------------------------

  /** Trends start at the admission, else 4 h back. */
  since(bed) {
    const a = bed.admission;
    if (a && a.admitted_at && a.phase !== "discharged") return a.admitted_at;
    return serverNow() - 4 * 3600;
  }

  async refresh(full) {
    const bedId = this.bedId;
    const bed = state.beds.get(bedId);
    if (!bed) return;
    const from = full || this.lastObsTime === null ? this.since(bed) : this.lastObsTime + 0.001;
    const params = new URLSearchParams();
    for (const m of TREND_METRICS) params.append("metric", m);
    params.set("since", String(from));
    params.set("limit", "50000");
    const jobs = [
      getJSON(`/api/beds/${encodeURIComponent(bedId)}/observations?${params}`).then((rows) => {
        if (this.bedId !== bedId) return;
        if (full) this.series = {};
        for (const r of rows) {
          (this.series[r.metric] ||= []).push([r.time, r.value]);
          this.lastObsTime = Math.max(this.lastObsTime ?? 0, r.time);
        }
        setText(this.trendNote, "");
      }).catch((err) => setText(this.trendNote, `Trends unavailable: ${err.message}`)),
      this.loadAlarmLog(),
    ];
    if (full) jobs.push(this.loadEvents());
    await Promise.all(jobs);
    if (this.bedId === bedId) this.drawTrends();
  }

  async loadAlarmLog() {
    const bedId = this.bedId;
    if (!bedId) return; // the detail view was closed while an update was on its way
    try {
      const log = await getJSON(`/api/alarms/log?bed_id=${encodeURIComponent(bedId)}&limit=200`);
      if (this.bedId !== bedId) return;
      this.alarmLog = log;
      this.renderLog();
    } catch (err) {
      this.logBody.replaceChildren(el("tr", {}, el("td", { colSpan: 6,
        textContent: `Alarm log unavailable: ${err.message}` })));
    }
  }

  async loadEvents() {
    const bedId = this.bedId;
    const bed = state.beds.get(bedId);
    if (!bed) return;
    let events = [];
    if (bed.admission && bed.admission.phase !== "discharged") {
      try {
        events = await getJSON(`/api/beds/${encodeURIComponent(bedId)}/events`);
      } catch (err) {
        toast(`Session events unavailable: ${err.message}`);
      }
    }
    if (this.bedId !== bedId) return;
    this.events = events;
    this.renderTimeline();
    this.drawTrends();
  }

  /** An alarm log record for this bed arrived: show it (debounced reload). */
  onAlarmEvent(msg) {
    if (msg.bed_id !== this.bedId) return;
    clearTimeout(this.logTimer);
    this.logTimer = setTimeout(() => this.loadAlarmLog().then(() => this.drawTrends()), 300);
  }

  // ---- rendering --------------------------------------------------------------------

  sessionMarks(bed) {
    const a = bed.admission && bed.admission.phase !== "discharged" ? bed.admission : null;
    const marks = [];
    if (a) {
      marks.push({ time: a.admitted_at, label: `Admitted (${a.admitted_by})`, kind: "admit" });
      if (a.infusion_started_at) marks.push({ time: a.infusion_started_at,
        label: `Infusion start (${a.infusion_started_by})`, kind: "start", color: "#3ddc84" });
      if (a.infusion_stopped_at) marks.push({ time: a.infusion_stopped_at,
        label: `Infusion stop (${a.infusion_stopped_by})`, kind: "stop", color: "#ffa726" });
    }
    for (const e of this.events) {
      marks.push({ time: e.time, label: describeEvent(e), kind: e.kind,
        short: e.kind === "journal" ? journalShort(e) : undefined });
    }
    return marks.sort((x, y) => x.time - y.time);
  }

  renderTimeline() {
    const bed = state.beds.get(this.bedId);
    if (!bed) return;
    const marks = this.sessionMarks(bed);
    this.eventList.replaceChildren(...(marks.length ? marks.map((m) =>
      el("li", { "data-kind": m.kind },
        el("time", { textContent: clockTime(m.time) }), " ", m.label))
      : [el("li", { class: "none", textContent: "Nothing charted yet." })]));
    this.renderJournal();
  }

  /** The session's pain journal entries, newest first. */
  renderJournal() {
    const score = (d, k) => (typeof d[k] === "number" ? num(d[k], Number.isInteger(d[k]) ? 0 : 1) : "");
    const rows = this.events.filter((e) => e.kind === "journal").sort((x, y) => y.time - x.time)
      .map((e) => {
        const d = e.detail || {};
        const extra = journalExtras(d);
        return el("tr", { "data-event-id": String(e.id) },
          el("td", { textContent: clockShort(e.time), title: clockTime(e.time) }),
          el("td", { textContent: score(d, "pain") }),
          el("td", { textContent: score(d, "worst_pain") }),
          el("td", { textContent: score(d, "least_pain") }),
          el("td", { textContent: score(d, "pain_24h") }),
          el("td", { textContent: score(d, "affective"),
            title: typeof d.affective === "number" ? AFFECTIVE[Math.round(d.affective)] || "" : "" }),
          el("td", { textContent: score(d, "movement") }),
          el("td", { textContent: typeof d.relief_percent === "number" ? `${score(d, "relief_percent")}\u00a0%` : "" }),
          el("td", { title: extra.join("; ") }, ...breakableName(e.recorded_by || "")));
      });
    this.journalBody.replaceChildren(...(rows.length ? rows
      : [el("tr", { class: "none" }, el("td", { colSpan: 9, textContent: "No journal entry this session." }))]));
  }

  renderLog() {
    const rows = this.alarmLog.slice(0, 200).map((e) =>
      el("tr", { "data-priority": e.priority || "", "data-event": e.event },
        el("td", { textContent: clockTime(e.time) }),
        el("td", {}, EVENT_TEXT[e.event] || e.event.replace(/_/g, " "), stripButton(e)),
        el("td", { textContent: e.rule ? `${e.rule}${e.priority ? ` (${e.priority})` : ""}` : "" }),
        el("td", { textContent: e.message || e.reason || "" }),
        el("td", { textContent: e.value === null || e.value === undefined ? "" : num(e.value, Number.isInteger(e.value) ? 0 : 1) }),
        el("td", { textContent: e.user || "" })));
    this.logBody.replaceChildren(...(rows.length ? rows
      : [el("tr", {}, el("td", { colSpan: 6, textContent: "No alarms recorded." }))]));
  }

  drawTrends() {
    const bed = state.beds.get(this.bedId);
    if (!bed || !this.trendCanvas) return;
    const until = serverNow();
    const since = Math.min(this.since(bed), until - 600);
    drawTrends(this.trendCanvas, {
      since, until, series: this.series, baseline: baselineOf(bed),
      alarms: this.alarmLog.filter((e) => e.event === "onset")
        .map((e) => ({ time: e.time, priority: e.priority, rule: e.rule })),
      events: this.sessionMarks(bed).map((m) => (m.short ? { ...m, label: m.short } : m)),
    });
    this.trendCanvas.dataset.points = String(Object.values(this.series)
      .reduce((n, s) => n + s.length, 0));
  }

  renderSession(bed) {
    const a = bed.admission && bed.admission.phase !== "discharged" ? bed.admission : null;
    const id = encodeURIComponent(bed.id);
    const box = this.sessionBox;
    if (!a) {
      box.replaceChildren(this.admitForm(bed));
      return;
    }
    const buttons = el("div", { class: "session-buttons" });
    const button = (text, cls, handler) => {
      const b = el("button", { type: "button", class: cls, textContent: text });
      b.addEventListener("click", async () => {
        b.disabled = true;
        try {
          await handler();
        } catch {
          /* act() showed why */
        } finally {
          b.disabled = false;
        }
      });
      buttons.append(b);
      return b;
    };
    if (a.phase === "pre_infusion") {
      button("Start infusion", "primary", async () => {
        if (!(await confirmDialog("Start infusion now? The baseline will be frozen.", "Start infusion"))) return;
        const res = await act(`/api/beds/${id}/infusion/start`, {}, "Start infusion");
        if (res) this.applyAdmission(res);
      }).dataset.action = "infusion-start";
    }
    if (a.phase === "infusion") {
      button("Stop infusion", "primary", async () => {
        if (!(await confirmDialog("Stop the infusion now?", "Stop infusion"))) return;
        const res = await act(`/api/beds/${id}/infusion/stop`, {}, "Stop infusion");
        if (res) this.applyAdmission(res);
      }).dataset.action = "infusion-stop";
    }
    button("Discharge", "", async () => {
      if (!(await confirmDialog(`Discharge ${a.patient_label} from ${bed.label}? Monitoring of this bed stops.`, "Discharge"))) return;
      const res = await act(`/api/beds/${id}/discharge`, {}, "Discharge");
      if (res) this.applyAdmission(res);
    }).dataset.action = "discharge";

    this.factsBox = el("div", { class: "facts-box" });
    box.replaceChildren(this.factsBox, buttons, this.chartForm(bed),
      this.journalForm(bed, a.phase === "pre_infusion"), this.rebaselineForm(bed));
  }

  facts(bed, a) {
    const base = baselineOf(bed);
    const baseText = base
      ? [base.hr ? `HR ${num(base.hr)}` : "HR none",
        base.sys ? `BP ${num(base.sys)}/${num(base.dia)}${base.mean ? ` (${num(base.mean)})` : ""}` : "BP none"].join(" · ")
      : "none yet";
    const prov = bed.baseline ? ["hr", "bp"].map((k) => bed.baseline[k])
      .filter((b) => b && typeof b === "object")
      .map((b) => `${b.kind === "hr" ? "HR" : "BP"}: ${b.method || ""}` +
        `${b.confirmed_by ? `, confirmed by ${b.confirmed_by}` : ""}${b.reason ? ` (“${b.reason}”)` : ""}`) : [];
    const infusion = a.infusion_started_at
      ? `${clockTime(a.infusion_started_at)}${a.infusion_stopped_at
        ? ` – ${clockTime(a.infusion_stopped_at)} (${duration(a.infusion_stopped_at - a.infusion_started_at)})`
        : " – running"}`
      : "not started";
    return el("dl", { class: "session-facts" },
      el("dt", { textContent: "Patient" }), el("dd", { textContent: a.patient_label }),
      el("dt", { textContent: "Day / dose" }), el("dd", { textContent:
        `${a.infusion_day ? `Day ${a.infusion_day}` : "day ?"} · ${a.dose_mg ? `${a.dose_mg} mg` : "dose ?"}` }),
      el("dt", { textContent: "Admitted" }), el("dd", { textContent: `${clockTime(a.admitted_at)} by ${a.admitted_by}` }),
      el("dt", { textContent: "Infusion" }), el("dd", { textContent: infusion }),
      el("dt", { textContent: base?.preview ? "Baseline (provisional)" : "Baseline" }),
      el("dd", { class: "d-baseline", textContent: baseText }),
      ...(prov.length ? [el("dt", { textContent: "Provenance" }),
        el("dd", { class: "prov", textContent: prov.join("; ") })] : []));
  }

  applyAdmission(adm) {
    const bed = state.beds.get(this.bedId);
    if (!bed || !adm || typeof adm !== "object" || !("phase" in adm)) return;
    bed.admission = adm.phase === "discharged" ? null : adm;
    document.dispatchEvent(new CustomEvent("spu:bed-changed", { detail: bed.id }));
  }

  admitForm(bed) {
    const form = el("form", { class: "admit-form", "aria-label": "Admit a patient" },
      el("p", { class: "hint", textContent: `${bed.label} is free. Admit a patient to start monitoring and baseline collection.` }),
      field("Patient label", el("input", { name: "patient_label", required: true, maxLength: 120, autocomplete: "off" })),
      field("Reference (optional)", el("input", { name: "patient_ref", maxLength: 64, autocomplete: "off" })),
      el("div", { class: "row" },
        field("Infusion day", el("input", { name: "infusion_day", type: "number", min: 1, max: 10, step: 1 })),
        field("Dose (mg)", el("input", { name: "dose_mg", type: "number", min: 0.5, max: 200, step: 0.5 }))),
      el("button", { type: "submit", class: "primary", textContent: "Admit patient", "data-action": "admit" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const body = { patient_label: String(f.get("patient_label")).trim() };
      if (f.get("patient_ref")) body.patient_ref = String(f.get("patient_ref")).trim();
      if (f.get("infusion_day")) body.infusion_day = Number(f.get("infusion_day"));
      if (f.get("dose_mg")) body.dose_mg = Number(f.get("dose_mg"));
      const submit = form.querySelector("[type=submit]");
      submit.disabled = true;
      try {
        const res = await act(`/api/beds/${encodeURIComponent(bed.id)}/admit`, body, "Admit");
        if (res) this.applyAdmission(res);
      } catch {
        /* shown */
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  chartForm(bed) {
    const kind = el("select", { name: "kind" },
      el("option", { value: "premedication", textContent: "Premedication given" }),
      el("option", { value: "side_effect", textContent: "Side effect observed" }));
    const drug = el("select", { name: "drug" },
      el("option", { value: "clonidine", textContent: "Clonidine 0.1 mg" }),
      el("option", { value: "midazolam", textContent: "Midazolam" }));
    const midaDose = el("input", { name: "midazolam_mg", type: "number", min: 2, max: 4, step: 0.5, value: "2" });
    const effect = el("select", { name: "effect" },
      ...SIDE_EFFECTS.map((s) => el("option", { value: s, textContent: s[0].toUpperCase() + s.slice(1) })));
    const note = el("input", { name: "note", maxLength: 200, autocomplete: "off", placeholder: "details (optional)" });
    const time = el("input", { name: "time", type: "time", value: nowTimeValue(), required: true });
    const premed = el("div", { class: "premed" }, field("Drug", drug), field("Midazolam dose (mg)", midaDose));
    const side = el("div", { class: "side", hidden: true }, field("Side effect", effect));
    const form = el("form", { class: "chart-form", "aria-label": "Chart an event" },
      el("div", { class: "row" }, field("Chart", kind), field("Time", time)),
      premed, side, field("Note", note),
      el("button", { type: "submit", textContent: "Chart event", "data-action": "chart" }));
    const sync = () => {
      premed.hidden = kind.value !== "premedication";
      side.hidden = kind.value !== "side_effect";
      midaDose.closest("label").hidden = drug.value !== "midazolam";
    };
    kind.addEventListener("change", sync);
    drug.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const detail = {};
      if (kind.value === "premedication") {
        detail.drug = drug.value;
        detail.dose_mg = drug.value === "clonidine" ? 0.1 : Number(midaDose.value);
        if (drug.value === "midazolam" && !(detail.dose_mg >= 2 && detail.dose_mg <= 4)) {
          toast("Midazolam dose must be 2 to 4 mg.");
          return;
        }
      } else {
        detail.effect = effect.value;
        if (effect.value === "other" && !note.value.trim()) {
          toast("Describe the side effect in the note.");
          note.focus();
          return;
        }
      }
      if (note.value.trim()) detail.note = note.value.trim();
      const when = timeInputToPosix(time.value, serverNow());
      try {
        const res = await act(`/api/beds/${encodeURIComponent(bed.id)}/events`,
          { kind: kind.value, detail, time: when }, "Chart event");
        if (res) {
          note.value = "";
          time.value = nowTimeValue();
          await this.loadEvents();
        }
      } catch {
        /* shown */
      }
    });
    return el("details", { class: "chart-box", open: true }, el("summary", { textContent: "Chart premedication / side effect" }), form);
  }

  /** The daily pain journal, taken before the infusion. Only what the nurse filled is sent. */
  journalForm(bed, open) {
    const scales = JOURNAL_SCALES.map((s) => segmented(s.name, `${s.label} (0-${s.max})`,
      Array.from({ length: s.max + 1 }, (_, i) => ({ value: String(i), text: String(i),
        sub: s.name === "affective" ? AFFECTIVE[i] : undefined }))));
    const relief = el("input", { name: "relief_percent", type: "number", min: 0, max: 100, step: 1,
      inputMode: "numeric", autocomplete: "off", placeholder: "0-100" });
    // Left as it is, the time follows the clock and the entry is charted "now" (to the
    // second); once the nurse sets it, that time of day is charted.
    const time = el("input", { name: "time", type: "time", value: nowTimeValue(), required: true });
    time.dataset.auto = time.value;
    const freshTime = () => {
      if (time.value === time.dataset.auto) time.value = time.dataset.auto = nowTimeValue();
    };
    const character = el("fieldset", { class: "j-character" },
      el("legend", { textContent: "Pain character" }),
      el("div", { class: "chips" }, ...PAIN_CHARACTERS.map((c) =>
        el("label", { class: "chip" },
          el("input", { type: "checkbox", name: "character", value: c }),
          el("span", { textContent: c[0].toUpperCase() + c.slice(1) })))));
    const skin = segmented("skin_colour_change", "Skin colour change",
      [{ value: "true", text: "Yes" }, { value: "false", text: "No" }]);
    const note = el("textarea", { name: "note", rows: 2, maxLength: JOURNAL_NOTE_MAX,
      placeholder: "note (optional)" });
    const message = el("p", { class: "form-message", role: "alert", hidden: true });
    const form = el("form", { class: "journal-form", "aria-label": "Pain journal", noValidate: true },
      el("p", { class: "hint", textContent: "Fill in what the patient reports; empty scales are not charted. Tap a selected value again to clear it." }),
      el("div", { class: "row" }, field("Time", time), field("Overall relief (%)", relief)),
      ...scales, character, skin, field("Note", note), message,
      el("div", { class: "form-buttons" },
        el("button", { type: "submit", class: "primary", textContent: "Save pain journal", "data-action": "journal" }),
        el("button", { type: "reset", textContent: "Clear", "data-action": "journal-clear" })));

    const say = (text, kind = "error") => {
      message.textContent = text;
      message.dataset.kind = kind;
      message.hidden = !text;
    };
    const markInvalid = (nodes) => {
      for (const n of form.querySelectorAll("[aria-invalid]")) n.removeAttribute("aria-invalid");
      for (const n of nodes) n.setAttribute("aria-invalid", "true");
    };
    const groupOf = (name) => form.querySelector(`[data-scale="${name}"]`);
    form.addEventListener("reset", () => {
      // after the browser has reset the inputs
      setTimeout(() => {
        for (const g of form.querySelectorAll("[data-scale]")) syncSegmented(g);
        time.value = time.dataset.auto = nowTimeValue();
        markInvalid([]);
      });
      say("");
    });
    form.addEventListener("focusin", freshTime);
    form.addEventListener("pointerdown", freshTime);
    form.addEventListener("input", () => {
      if (message.dataset.kind === "ok") say("");
    });

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const detail = {};
      for (const s of JOURNAL_SCALES) {
        const picked = form.querySelector(`input[name="${s.name}"]:checked`);
        if (picked) detail[s.name] = Number(picked.value);
      }
      const reliefText = relief.value.trim();
      if (relief.validity.badInput || reliefText !== "") {
        const r = Number(reliefText);
        if (relief.validity.badInput || reliefText === "" || !Number.isFinite(r) || r < 0 || r > 100) {
          markInvalid([relief]);
          say("Overall relief must be a number from 0 to 100 %.");
          return;
        }
        detail.relief_percent = r;
      }
      if (!Object.keys(detail).length) {
        markInvalid([]);
        say("Enter at least one score: pain, worst, least, 24 h, movement, affective, punishing or relief.");
        return;
      }
      if ("worst_pain" in detail && "least_pain" in detail && detail.worst_pain < detail.least_pain) {
        markInvalid([groupOf("worst_pain"), groupOf("least_pain")]);
        say(`Worst daily pain (${detail.worst_pain}) cannot be less than least daily pain (${detail.least_pain}).`);
        return;
      }
      const chars = [...form.querySelectorAll('input[name="character"]:checked')].map((c) => c.value);
      if (chars.length) detail.character = chars;
      const skinPicked = form.querySelector('input[name="skin_colour_change"]:checked');
      if (skinPicked) detail.skin_colour_change = skinPicked.value === "true";
      const noteText = note.value.trim();
      if (noteText.length > JOURNAL_NOTE_MAX) {
        markInvalid([note]);
        say(`The note is ${noteText.length} characters; at most ${JOURNAL_NOTE_MAX}.`);
        return;
      }
      if (noteText) detail.note = noteText;
      if (!time.value) {
        markInvalid([time]);
        say("Enter the time of the journal.");
        return;
      }
      markInvalid([]);
      say("");
      const body = { kind: "journal", detail };
      if (time.value !== time.dataset.auto) body.time = timeInputToPosix(time.value, serverNow());
      const submit = form.querySelector("[type=submit]");
      submit.disabled = true;
      try {
        const res = await act(`/api/beds/${encodeURIComponent(bed.id)}/events`, body, "Pain journal");
        if (res) {
          form.reset();
          say(`Pain journal saved (${clockShort(res.time ?? serverNow())}).`, "ok");
          await this.loadEvents();
        }
      } catch (err) {
        if (err instanceof ApiError) {
          say(err.status === 0 ? "Not saved: the server cannot be reached."
            : `Not saved — the server refused the entry: ${err.message}`);
        }
      } finally {
        submit.disabled = false;
      }
    });
    return el("details", { class: "journal-box", open },
      el("summary", { textContent: "Pain journal (before the infusion)" }), form);
  }

  rebaselineForm(bed) {
    const reason = el("input", { name: "reason", required: true, minLength: 3, maxLength: 500, autocomplete: "off",
      placeholder: "why (required)" });
    const form = el("form", { class: "rebaseline-form", "aria-label": "Re-baseline" },
      el("p", { class: "hint", textContent: "Leave the values empty to recompute from the data." }),
      field("Reason", reason),
      el("div", { class: "row" },
        field("HR", el("input", { name: "hr", type: "number", min: 20, max: 250 })),
        field("Sys", el("input", { name: "sys", type: "number", min: 50, max: 260 })),
        field("Dia", el("input", { name: "dia", type: "number", min: 20, max: 200 }))),
      el("button", { type: "submit", textContent: "Re-baseline", "data-action": "rebaseline" }));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(form);
      const body = { reason: String(f.get("reason")).trim() };
      for (const k of ["hr", "sys", "dia"]) if (f.get(k)) body[k] = Number(f.get(k));
      if (body.reason.length < 3) {
        toast("A reason is required to re-baseline.");
        return;
      }
      try {
        const res = await act(`/api/beds/${encodeURIComponent(bed.id)}/baseline`, body, "Re-baseline");
        if (res !== null) {
          form.reset();
          toast("Baseline updated.");
        }
      } catch {
        /* shown */
      }
    });
    return el("details", { class: "rebaseline-box" }, el("summary", { textContent: "Re-baseline…" }), form);
  }
}

function field(label, input) {
  return el("label", { class: "field" }, el("span", { textContent: label }), input);
}

/**
 * A row of large, touch-friendly segments: radio buttons (one tab stop, arrow keys), where
 * tapping the selected segment again clears it (an unanswered scale is not sent).
 */
function segmented(name, label, options) {
  const value = el("span", { class: "seg-value", "aria-hidden": "true" });
  const segs = el("div", { class: "segs" });
  segs.style.setProperty("--n", String(options.length)); // CSSOM: allowed by style-src 'self'
  const group = el("fieldset", { class: "segmented", "data-scale": name },
    el("legend", {}, el("span", { textContent: label }), value),
    segs);
  segs.append(...options.map((o) =>
    el("label", { class: "seg", "data-value": o.value },
      el("input", { type: "radio", name, value: o.value,
        "aria-label": o.sub ? `${o.text} ${o.sub}` : o.text }),
      el("span", { class: "seg-face" },
        el("span", { class: "seg-num", textContent: o.text }),
        o.sub ? el("span", { class: "seg-sub", textContent: o.sub }) : null))));
  group.addEventListener("click", (ev) => {
    const input = ev.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "radio") return;
    if (group.dataset.value === input.value) input.checked = false;
    syncSegmented(group);
  });
  group.addEventListener("change", () => syncSegmented(group)); // arrow keys
  syncSegmented(group);
  return group;
}

function syncSegmented(group) {
  const picked = group.querySelector("input:checked");
  if (picked) group.dataset.value = picked.value;
  else delete group.dataset.value;
  const sub = picked?.closest(".seg")?.querySelector(".seg-sub");
  setText(group.querySelector(".seg-value"), picked
    ? `${picked.closest(".seg").querySelector(".seg-num").textContent}${sub ? ` ${sub.textContent}` : ""}`
    : "—");
}

/** "pain 7, worst 9, least 5, movement 6": the journal's scores in display order. */
function journalScores(d) {
  const parts = JOURNAL_SCALES.filter((s) => typeof d[s.name] === "number")
    .map((s) => (s.name === "affective"
      ? `affective ${d.affective}${AFFECTIVE[d.affective] ? ` (${AFFECTIVE[d.affective]})` : ""}`
      : `${s.short} ${d[s.name]}`));
  if (typeof d.relief_percent === "number") parts.push(`relief ${d.relief_percent} %`);
  return parts;
}

/** Character and skin colour change, for the timeline and the table's tooltip. */
function journalExtras(d) {
  const parts = [];
  if (Array.isArray(d.character) && d.character.length) parts.push(d.character.join("/"));
  if (d.skin_colour_change === true) parts.push("skin colour change");
  if (d.skin_colour_change === false) parts.push("no skin colour change");
  return parts;
}

/** A short label for the trend canvas's event row. */
function journalShort(e) {
  const d = e.detail || {};
  return typeof d.pain === "number" ? `Pain journal: pain ${d.pain}` : "Pain journal";
}

function describeEvent(e) {
  const d = e.detail || {};
  let text;
  if (e.kind === "premedication") text = `Premedication: ${d.drug || "?"}${d.dose_mg ? ` ${d.dose_mg} mg` : ""}`;
  else if (e.kind === "side_effect") text = `Side effect: ${d.effect || "?"}`;
  else if (e.kind === "journal") text = `Pain journal: ${[...journalScores(d), ...journalExtras(d)].join(", ") || "no scores"}`;
  else text = e.kind.replace(/_/g, " ");
  if (d.note) text += ` — ${d.note}`;
  return `${text} (${e.recorded_by})`;
}

/**
 * A username as text nodes with a line-break opportunity (<wbr>) after each ".", "_", "-"
 * or "@": usernames have no spaces ("nurse.test"), so a narrow column would otherwise
 * overflow or break mid-word.
 */
function breakableName(name) {
  const out = [];
  for (const part of String(name).split(/(?<=[._@-])/)) {
    if (out.length) out.push(el("wbr"));
    out.push(part);
  }
  return out;
}
