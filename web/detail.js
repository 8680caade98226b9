// Bed detail (#bed/<id>): large ECG and pleth, session trends with baseline bands and alarm
// marks, the alarm log, the timeline, and the session run from the screen:
//
//   admit.js     admission by picking a patient    infusion.js  start, pause, stop, discharge
//   charting.js  premedication, side effects, the journal, corrections (amend, void)

import { el, setText, setClass, num, clockTime, duration, age, pctChange } from "./format.js";
import { state, serverNow, baselineOf } from "./state.js";
import { Sweep } from "./waveform.js";
import { drawTrends } from "./trends.js";
import { getJSON, act, toast } from "./api.js";
import { phaseText, showNibpCountdown } from "./tiles.js";
import { field } from "./forms.js";
import { vocabulary } from "./vocab.js";
import { alarmLogTable, alarmLogRows } from "./alarmlog.js";
import { journalRows, journalHead } from "./journal.js";
import { admitPicker } from "./admit.js";
import { infusionControls } from "./infusion.js";
import {
  premedicationForm, sideEffectForm, JournalBox, entryItem, shortText, currentEntries,
} from "./charting.js";

const TREND_METRICS = ["HR", "SPO2", "PR", "NIBP_SYS", "NIBP_DIA"];
const REFRESH_MS = 10000;
const OPEN = (a) => (a && a.phase !== "discharged" && a.phase !== "cancelled" ? a : null);

export class Detail {
  constructor(container, hub) {
    this.container = container;
    this.hub = hub;
    this.bedId = null;
    this.unhooks = [];
    this.series = {};
    this.lastObsTime = null;
    this.alarmLog = [];
    this.history = []; // every version of the session's entries (amended, voided marked)
    this.events = []; // the current ones
    this.steps = [];
    this.timer = null;
    this.renderedPhase = undefined;
    this.vocab = null;
    this.loadVocabulary();
  }

  /** The records' lists (drugs, routes, side effects) the charting forms offer; retried. */
  loadVocabulary() {
    vocabulary().then((v) => {
      this.vocab = v;
      this.renderedPhase = undefined; // the charting forms need it: build them now
      this.update();
    }).catch(() => setTimeout(() => this.loadVocabulary(), 5000));
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
    this.eventsKey = undefined;
    this.history = [];
    this.events = [];
    this.steps = [];
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
        el("span", { class: "d-state" }),
        el("span", { class: "d-links" })),
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
          el("div", { class: "log-wrap" }, alarmLogTable(this.logBody))),
        el("section", { class: "d-side", "aria-label": "Session" },
          el("h3", { textContent: "Session" }), this.sessionBox,
          el("h3", { textContent: "Timeline" }), this.eventList,
          el("h3", { textContent: "Pain journal" }),
          el("div", { class: "log-wrap journal-wrap" },
            el("table", { class: "journal-table", "aria-label": "Pain journal entries of this session" },
              journalHead(), this.journalBody)))));
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
    const a = OPEN(bed.admission);
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
    const phase = a ? `${a.id}:${a.phase}` : null;
    if (phase !== this.renderedPhase) {
      this.renderedPhase = phase;
      this.renderedFacts = undefined;
      this.renderSession(bed);
      this.loadEvents();
    }
    const factsKey = JSON.stringify([bed.admission, bed.baseline, this.steps]);
    if (a && this.factsBox && factsKey !== this.renderedFacts) {
      this.renderedFacts = factsKey;
      this.factsBox.replaceChildren(this.facts(bed, a));
      this.renderTimeline();
    }
  }

  // ---- data -------------------------------------------------------------------------

  /** Trends start at the admission, else 4 h back. */
  since(bed) {
    const a = OPEN(bed.admission);
    if (a && a.admitted_at) return a.admitted_at;
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
      this.loadEvents(true), // charted at another station too
    ];
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
      this.logBody.replaceChildren(...alarmLogRows(log));
    } catch (err) {
      this.logBody.replaceChildren(el("tr", {}, el("td", { colSpan: 6,
        textContent: `Alarm log unavailable: ${err.message}` })));
    }
  }

  /** The session's entries (every version) and infusion steps (`quiet`: a periodic
   * refresh, whose failure the connection banner already tells). */
  async loadEvents(quiet = false) {
    const bedId = this.bedId;
    const bed = state.beds.get(bedId);
    if (!bed) return;
    const a = OPEN(bed.admission);
    let history = [];
    let steps = [];
    if (a) {
      try {
        [history, steps] = await Promise.all([
          getJSON(`/api/beds/${encodeURIComponent(bedId)}/events?history=true`),
          getJSON(`/api/sessions/${a.id}`).then((s) => s.steps),
        ]);
      } catch (err) {
        if (!quiet) toast(`Session events unavailable: ${err.message}`);
        return;
      }
    }
    if (this.bedId !== bedId) return;
    const key = JSON.stringify([history, steps]);
    if (key === this.eventsKey) return;
    this.eventsKey = key;
    this.history = history;
    this.events = currentEntries(history);
    this.steps = steps;
    this.journalBox?.show(history);
    this.renderTimeline();
    this.drawTrends();
    this.update();
  }

  /** An alarm log record for this bed arrived: show it (debounced reload). */
  onAlarmEvent(msg) {
    if (msg.bed_id !== this.bedId) return;
    clearTimeout(this.logTimer);
    this.logTimer = setTimeout(() => this.loadAlarmLog().then(() => this.drawTrends()), 300);
  }

  /** Something was charted or corrected: reload the entries. */
  charted() {
    this.loadEvents();
  }

  // ---- rendering --------------------------------------------------------------------

  /** The session's steps as marks (admission, infusion start, pauses, stop). */
  stepMarks(bed) {
    const a = OPEN(bed.admission);
    const marks = [];
    if (!a) return marks;
    marks.push({ time: a.admitted_at, label: `Admitted (${a.admitted_by})`, short: "Admitted", kind: "admit" });
    for (const s of this.steps) {
      if (s.step === "start") {
        marks.push({ time: s.time, label: `Infusion start (${s.user})${a.dose_mg ? `: ${a.dose_mg} mg` : ""}` +
          `${s.reason ? ` — ${s.reason}` : ""}`, short: "Start", kind: "start", color: "#3ddc84" });
      } else {
        marks.push({ time: s.time, label: `Infusion ${s.step} (${s.user})${s.reason ? `: ${s.reason}` : ""}`,
          short: s.step[0].toUpperCase() + s.step.slice(1), kind: s.step, color: "#ffa726" });
      }
    }
    // The live picture may know of the start or stop before the steps are reloaded.
    if (a.infusion_started_at && !this.steps.some((s) => s.step === "start")) {
      marks.push({ time: a.infusion_started_at, label: `Infusion start (${a.infusion_started_by})`, kind: "start", color: "#3ddc84" });
    }
    if (a.infusion_stopped_at && !this.steps.some((s) => s.step === "stop")) {
      marks.push({ time: a.infusion_stopped_at, label: `Infusion stop (${a.infusion_stopped_by})`, kind: "stop", color: "#ffa726" });
    }
    return marks;
  }

  renderTimeline() {
    const bed = state.beds.get(this.bedId);
    if (!bed) return;
    const items = [
      ...this.stepMarks(bed).map((m) => ({ time: m.time, node: el("li", { "data-kind": m.kind },
        el("time", { textContent: clockTime(m.time) }), " ", m.label) })),
      ...this.history.map((e) => ({ time: e.time, node: entryItem(e, this.history, () => this.charted()) })),
    ].sort((x, y) => x.time - y.time);
    this.eventList.replaceChildren(...(items.length ? items.map((i) => i.node)
      : [el("li", { class: "none", textContent: "Nothing charted yet." })]));
    this.journalBody.replaceChildren(...journalRows(
      this.events.filter((e) => e.kind === "journal").sort((x, y) => y.time - x.time),
      { empty: "No journal entry this session." }));
  }

  drawTrends() {
    const bed = state.beds.get(this.bedId);
    if (!bed || !this.trendCanvas) return;
    const until = serverNow();
    const since = Math.min(this.since(bed), until - 600);
    const events = [...this.stepMarks(bed).map((m) => ({ ...m, label: m.short || m.label })),
      ...this.events.map((e) => ({ time: e.time, kind: e.kind, label: shortText(e) }))];
    drawTrends(this.trendCanvas, {
      since, until, series: this.series, baseline: baselineOf(bed),
      alarms: this.alarmLog.filter((e) => e.event === "onset")
        .map((e) => ({ time: e.time, priority: e.priority, rule: e.rule })),
      events: events.sort((x, y) => x.time - y.time),
    });
    this.trendCanvas.dataset.points = String(Object.values(this.series)
      .reduce((n, s) => n + s.length, 0));
  }

  renderSession(bed) {
    const a = OPEN(bed.admission);
    const box = this.sessionBox;
    const links = this.root.querySelector(".d-links");
    this.journalBox = null;
    this.factsBox = null;
    if (!a) {
      links.replaceChildren();
      box.replaceChildren(admitPicker(bed, (adm) => this.applyAdmission(adm)));
      return;
    }
    links.replaceChildren(
      a.patient_id ? el("a", { href: `#patient/${a.patient_id}`, textContent: "Patient record" }) : "",
      el("a", { href: `#session/${a.id}`, textContent: "Session record" }));
    const applied = (adm) => this.applyAdmission(adm);
    const onCharted = () => this.charted();
    const before = a.phase === "pre_infusion";
    this.factsBox = el("div", { class: "facts-box" });
    this.journalBox = new JournalBox(bed.id, before, onCharted);
    this.journalBox.show(this.history);
    const charting = this.vocab
      ? [premedicationForm(bed.id, this.vocab, before, onCharted), sideEffectForm(bed.id, this.vocab, !before, onCharted)]
      : [el("p", { class: "note", role: "status",
        textContent: "Premedication and side effects cannot be charted yet: their lists are loading from the server." })];
    box.replaceChildren(this.factsBox, ...infusionControls(bed, a, applied), ...charting,
      this.journalBox.root, this.rebaselineForm(bed));
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
    let infusion = "not started";
    if (a.infusion_started_at) {
      infusion = `${clockTime(a.infusion_started_at)}${a.infusion_stopped_at
        ? ` – ${clockTime(a.infusion_stopped_at)} (${duration(a.infusion_stopped_at - a.infusion_started_at)})` +
          `${a.infusion_stop_reason ? `, ${a.infusion_stop_reason}` : ""}`
        : " – running"}`;
      if (a.paused_since) {
        const pause = [...this.steps].reverse().find((s) => s.step === "pause");
        infusion = `${clockTime(a.infusion_started_at)} – paused since ${clockTime(a.paused_since)}` +
          `${pause?.reason ? ` (${pause.reason})` : ""}`;
      }
    }
    const mg = (v) => (v === null || v === undefined ? "?" : `${v} mg`);
    const dose = a.infusion_started_at
      ? `${mg(a.dose_mg)} given${a.planned_dose_mg !== null && a.dose_mg !== a.planned_dose_mg ? ` (planned ${mg(a.planned_dose_mg)})` : ""}`
      : `planned ${mg(a.planned_dose_mg ?? a.dose_mg)}${a.dose_mg !== null && a.dose_mg !== undefined &&
        a.planned_dose_mg !== null && a.dose_mg !== a.planned_dose_mg ? ` · intended ${mg(a.dose_mg)}` : ""}`;
    return el("dl", { class: "session-facts" },
      el("dt", { textContent: "Patient" }), el("dd", { textContent: `${a.patient_label}${a.patient_ref ? ` · ${a.patient_ref}` : ""}` }),
      el("dt", { textContent: "Day / dose" }), el("dd", { class: "d-dose", textContent:
        `${a.infusion_day ? `Day ${a.infusion_day}` : "day ?"} · ${dose}` }),
      ...(a.dose_deviation_reason ? [el("dt", { textContent: "Off the plan" }),
        el("dd", { textContent: a.dose_deviation_reason })] : []),
      el("dt", { textContent: "Admitted" }), el("dd", { textContent: `${clockTime(a.admitted_at)} by ${a.admitted_by}` }),
      el("dt", { textContent: "Infusion" }), el("dd", { class: "d-infusion", textContent: infusion }),
      el("dt", { textContent: base?.preview ? "Baseline (provisional)" : "Baseline" }),
      el("dd", { class: "d-baseline", textContent: baseText }),
      ...(prov.length ? [el("dt", { textContent: "Provenance" }),
        el("dd", { class: "prov", textContent: prov.join("; ") })] : []));
  }

  applyAdmission(adm) {
    const bed = state.beds.get(this.bedId);
    if (!bed || !adm || typeof adm !== "object" || !("phase" in adm)) return;
    bed.admission = OPEN(adm);
    document.dispatchEvent(new CustomEvent("spu:bed-changed", { detail: bed.id }));
    this.loadEvents();
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

