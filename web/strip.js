// Alarm strips (full disclosure review): the ECG and pleth stored around an alarm, drawn as a
// monitor's printout: 25 mm of paper per second on a 1 mm / 5 mm grid, the ECG at
// 10 mm/mV, a time scale in seconds from the onset and in clock time, the onset marked.
//
// The strip is SVG drawn in millimetres (one user unit = 1 mm), so that the print
// stylesheet (strip.css) only has to give each row its size in CSS millimetres to print at
// true paper speed. 30 s of strip (10 s before the onset to 20 s after, as
// GET /api/alarms/{id}/strip returns it) are three rows of 10 s = 250 mm, one A4 landscape
// page. Earlier / Later move the window by 10 s (GET /api/beds/{id}/waveforms).
//
// `null` samples and missing stretches are gaps: the pen lifts, nothing is joined or
// invented. The view opens at once with what the caller knows (the alarm, its onset and
// the paper grid) and draws the traces when they arrive; neighbouring windows are fetched
// ahead, so Earlier / Later usually draw from memory.

import { el, setText, num, clockTime } from "./format.js";
import { state, serverNow } from "./state.js";
import { getJSON } from "./api.js";
import { currentUser } from "./session.js";

const SVG_NS = "http://www.w3.org/2000/svg";

/** Paper speed: mm of paper per second of signal. */
export const PAPER_MM_PER_S = 25;
/** ECG amplitude: mm per mV. */
export const ECG_MM_PER_MV = 10;
const BEFORE_S = 10; // the alarm's strip: 10 s before the onset ...
const WINDOW_S = 30; // ... to 20 s after
const ROW_S = 10; // one row of paper: 10 s = 250 mm (an A4 landscape page holds 277 mm)
const STEP_S = 10; // Earlier / Later
const ROW_MM = ROW_S * PAPER_MM_PER_S;
const ECG_MM = 30; // ECG channel: +1.8 mV to -1.2 mV around its baseline
const ECG_ZERO_MM = 18;
const PLETH_MM = 15;
const GRID_MM = ECG_MM + PLETH_MM;
const AXIS_MM = 7;
const LABEL_MM = 4; // the channel's label, above an auto-scaled trace
/** Stored waveforms lag the live ones: 10-s blocks, written every 3 s. A window ending
 * later than this before now may still fill in, and is fetched again. */
const SETTLE_S = 16;
const REFRESH_MS = 4000;

const PAPER = { minor: "#f0bcbc", major: "#d97a7a", ecg: "#111111", pleth: "#0d47a1",
  text: "#333333", faint: "#8a8a8a" };
const PRIORITY_INK = { high: "#c62828", medium: "#a15c00", low: "#00727d" };
const RULE_UNIT = [[/^SPO2_/, "%"], [/^HR_/, "/min"], [/^(BP_|ETCO2_)/, "mmHg"], [/^RR_/, "/min"]];
const MINUS = "\u2212";

// ---- drawing (pure: data in, SVG out) ---------------------------------------------------

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

const valid = (v) => v !== null && v !== undefined && Number.isFinite(v);

/**
 * Per metric (ECG, PLETH), the device whose segments hold the most valid samples:
 * {device_id, unit, segments, valid, lo, hi, median}.
 */
export function pickTraces(segments) {
  const byMetric = new Map();
  for (const s of segments || []) {
    let devices = byMetric.get(s.metric);
    if (!devices) byMetric.set(s.metric, (devices = new Map()));
    let d = devices.get(s.device_id);
    if (!d) devices.set(s.device_id, (d = { device_id: s.device_id, unit: s.unit, segments: [], valid: 0 }));
    d.segments.push(s);
    for (const v of s.samples) if (valid(v)) d.valid++;
  }
  const out = {};
  for (const [metric, devices] of byMetric) {
    const best = [...devices.values()].sort((a, b) => b.valid - a.valid)[0];
    if (!best.valid) continue;
    const values = new Float64Array(best.valid);
    let i = 0;
    for (const s of best.segments) for (const v of s.samples) if (valid(v)) values[i++] = v;
    values.sort();
    best.lo = values[0];
    best.hi = values[values.length - 1];
    best.median = values[values.length >> 1];
    out[metric] = best;
  }
  return out;
}

/** mV per unit of the ECG's samples, or null when the unit is not a voltage (auto gain). */
function mvPerUnit(unit) {
  const u = String(unit || "").toLowerCase();
  if (u === "mv") return 1;
  if (u === "uv" || u === "\u00b5v" || u === "\u03bcv") return 0.001;
  if (u === "v") return 1000;
  return null;
}

/** y (mm) of a value in a channel [top, top + height], scaled from lo..hi with a margin. */
function fitted(lo, hi, top, height, pad) {
  const span = hi - lo || 1;
  return (v) => top + height - pad - ((v - lo) / span) * (height - 2 * pad);
}

/**
 * SVG path data for the samples of `trace` with times in [t0, t0 + ROW_S), x in mm at paper
 * speed from t0. A null sample, or time without samples, lifts the pen; a lone sample
 * between gaps is a dot. Returns {d, points}.
 */
export function tracePath(trace, t0, yOf) {
  const parts = [];
  let points = 0;
  for (const s of trace.segments) {
    const rate = s.sample_rate;
    const first = Math.max(0, Math.ceil((t0 - s.time) * rate - 1e-6));
    const last = Math.min(s.samples.length, Math.ceil((t0 + ROW_S - s.time) * rate - 1e-6));
    let down = false;
    let lone = false;
    for (let i = first; i < last; i++) {
      const v = s.samples[i];
      if (!valid(v)) {
        if (lone) parts.push("h0.01");
        down = lone = false;
        continue;
      }
      const x = ((s.time + i / rate - t0) * PAPER_MM_PER_S).toFixed(2);
      const y = yOf(v).toFixed(2);
      parts.push(`${down ? "L" : "M"}${x} ${y}`);
      lone = !down;
      down = true;
      points++;
    }
    if (lone) parts.push("h0.01");
  }
  return { d: parts.join(""), points };
}

/** The paper: 1 mm minor lines (one path), 5 mm major lines (elements, so they can be
 * measured), over the ECG and pleth channels. */
function paperGrid() {
  let minor = "";
  for (let x = 0; x <= ROW_MM; x++) if (x % 5) minor += `M${x} 0V${GRID_MM}`;
  for (let y = 0; y <= GRID_MM; y++) if (y % 5) minor += `M0 ${y}H${ROW_MM}`;
  const g = svg("g", { class: "paper", "shape-rendering": "crispEdges" },
    svg("rect", { x: 0, y: 0, width: ROW_MM, height: GRID_MM, fill: "#ffffff" }),
    svg("path", { class: "grid-minor", d: minor, stroke: PAPER.minor, "stroke-width": 0.1, fill: "none" }));
  for (let x = 0; x <= ROW_MM; x += 5) {
    g.append(svg("line", { class: "grid-major v", x1: x, x2: x, y1: 0, y2: GRID_MM,
      stroke: PAPER.major, "stroke-width": x % 25 ? 0.25 : 0.35 }));
  }
  for (let y = 0; y <= GRID_MM; y += 5) {
    g.append(svg("line", { class: "grid-major h", x1: 0, x2: ROW_MM, y1: y, y2: y,
      stroke: PAPER.major, "stroke-width": y === ECG_MM ? 0.35 : 0.25 }));
  }
  return g;
}

let gridTemplate = null;

function label(x, y, text, attrs = {}) {
  // A white halo under the letters keeps them legible over grid and trace.
  return svg("text", { x, y, "font-size": 2.6, fill: PAPER.text, stroke: "#ffffff",
    "stroke-width": 0.6, "paint-order": "stroke", "stroke-linejoin": "round", ...attrs }, text);
}

function relText(rel) {
  if (rel === 0) return "0 s";
  return `${rel < 0 ? MINUS : "+"}${Math.abs(rel)} s`;
}

/** Clock time of a tick: HH:MM:SS, with tenths when the tick is not on a whole second. */
function tickClock(t) {
  const tenths = Math.round((t - Math.floor(t)) * 10) % 10;
  return tenths ? `${clockTime(Math.floor(t))}.${tenths}` : clockTime(Math.round(t));
}

/**
 * One row of paper: ROW_S seconds from t0, 250 mm wide, as an <svg> in millimetres.
 * @param {object} o {t0, index, onset, priority, rule, traces: pickTraces(...),
 *   loading, pendingAfter: time after which missing data may still be stored}
 */
export function renderRow(o) {
  const { t0, index } = o;
  const height = GRID_MM + AXIS_MM;
  if (!gridTemplate) gridTemplate = paperGrid();
  const root = svg("svg", { class: "strip-row", xmlns: SVG_NS, viewBox: `0 0 ${ROW_MM} ${height}`,
    width: `${ROW_MM}mm`, height: `${height}mm`, "font-family": "DejaVu Sans, Liberation Sans, Arial, sans-serif",
    "data-t0": t0.toFixed(3), "data-seconds": ROW_S, "data-mm": ROW_MM, role: "img",
    "aria-label": `ECG and pleth from ${relText(Math.round(t0 - o.onset))} to ${relText(Math.round(t0 + ROW_S - o.onset))}` });
  const clipEcg = `strip-clip-ecg-${index}`;
  const clipPleth = `strip-clip-pleth-${index}`;
  root.append(svg("defs", {},
    svg("clipPath", { id: clipEcg }, svg("rect", { x: 0, y: 0, width: ROW_MM, height: ECG_MM })),
    svg("clipPath", { id: clipPleth }, svg("rect", { x: 0, y: ECG_MM, width: ROW_MM, height: PLETH_MM }))));
  root.append(gridTemplate.cloneNode(true));

  const channels = [
    { metric: "ECG", top: 0, height: ECG_MM, clip: clipEcg, color: PAPER.ecg, width: 0.3 },
    { metric: "PLETH", top: ECG_MM, height: PLETH_MM, clip: clipPleth, color: PAPER.pleth, width: 0.3 },
  ];
  for (const c of channels) {
    const trace = o.traces ? o.traces[c.metric] : null;
    let name = c.metric === "ECG" ? "ECG" : "Pleth";
    let points = 0;
    if (trace) {
      let yOf;
      if (c.metric === "ECG" && mvPerUnit(trace.unit) !== null) {
        const k = mvPerUnit(trace.unit) * ECG_MM_PER_MV;
        yOf = (v) => ECG_ZERO_MM - (v - trace.median) * k;
        name += ` \u00b7 ${ECG_MM_PER_MV} mm/mV`;
      } else {
        // Auto scale: the pleth (and an ECG in no known unit) fills its channel below the
        // channel's label, so the label never hides the trace.
        yOf = fitted(trace.lo, trace.hi, c.top + LABEL_MM, c.height - LABEL_MM, 0.8);
        name += " \u00b7 auto scale";
      }
      const path = tracePath(trace, t0, yOf);
      points = path.points;
      if (points) {
        root.append(svg("path", { class: "trace", "data-metric": c.metric, "data-points": points,
          "data-device": trace.device_id, d: path.d, fill: "none", stroke: c.color,
          "stroke-width": c.width, "stroke-linejoin": "round", "stroke-linecap": "round",
          "clip-path": `url(#${c.clip})` }));
      }
    }
    if (!points) {
      const text = o.loading ? "loading\u2026"
        : t0 + ROW_S > o.pendingAfter ? "still being stored\u2026"
          : `no ${c.metric === "ECG" ? "ECG" : "pleth"} stored`;
      root.append(label(ROW_MM / 2, c.top + c.height / 2 + 1, text, { class: "no-data",
        "data-metric": c.metric, "text-anchor": "middle", fill: PAPER.faint, "font-style": "italic", "font-size": 3 }));
    }
    root.append(label(1.2, c.top + 3.4, name, { class: "channel", "font-weight": 700 }));
  }

  // The onset: a line across both channels, in the priority's colour.
  const ink = PRIORITY_INK[o.priority] || PRIORITY_INK.low;
  const last = o.lastRow;
  if (o.onset >= t0 && (o.onset < t0 + ROW_S || (last && o.onset <= t0 + ROW_S))) {
    const x = Math.round((o.onset - t0) * PAPER_MM_PER_S * 100) / 100;
    const right = x > ROW_MM - 40;
    root.append(svg("line", { class: "onset", x1: x, x2: x, y1: 0, y2: GRID_MM, stroke: ink,
      "stroke-width": 0.5 }));
    const text = right ? `onset${o.rule ? ` ${o.rule}` : ""} \u25b6` : `\u25c0 onset${o.rule ? ` ${o.rule}` : ""}`;
    root.append(label(right ? x - 1 : x + 1, ECG_MM - 1.4, text, { class: "onset-label", fill: ink,
      "font-weight": 700, "text-anchor": right ? "end" : "start" }));
  }

  // Time scale: a tick every second, in seconds from the onset; the clock every 5 s.
  const axis = svg("g", { class: "time-scale" });
  for (let k = 0; k <= ROW_S; k++) {
    const t = t0 + k;
    const x = k * PAPER_MM_PER_S;
    const rel = Math.round(t - o.onset);
    const anchor = k === 0 ? "start" : k === ROW_S ? "end" : "middle";
    const atOnset = Math.abs(t - o.onset) < 1e-3;
    axis.append(svg("line", { x1: x, x2: x, y1: GRID_MM, y2: GRID_MM + 1.2, stroke: PAPER.text, "stroke-width": 0.2 }));
    axis.append(label(x, GRID_MM + 3.6, relText(rel), { class: `t-rel${atOnset ? " t-onset" : ""}`,
      "text-anchor": anchor, "data-rel": rel, fill: atOnset ? ink : PAPER.text,
      "font-weight": atOnset ? 700 : 400 }));
    if (rel % 5 === 0) {
      axis.append(label(x, GRID_MM + 6.5, tickClock(t), { class: "t-clock", "text-anchor": anchor,
        "font-size": 2.3, fill: PAPER.faint }));
    }
  }
  root.append(axis);
  return root;
}

// ---- the view -----------------------------------------------------------------------------

/** Local date and time, "2026-12-02 14:03:22" (with tenths: "14:03:22.8"). */
function dateTime(t, tenths = false) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${tenths ? tickClock(t) : clockTime(t)}`;
}

function unitOf(rule) {
  const hit = RULE_UNIT.find(([re]) => re.test(rule || ""));
  return hit ? hit[1] : "";
}

function valueText(v, unit) {
  if (!valid(v)) return "";
  return `${num(v, Number.isInteger(v) ? 0 : 1)}${unit ? `\u00a0${unit}` : ""}`;
}

function patientText(a) {
  if (!a || !a.patient_label) return null;
  return `${a.patient_label}${a.patient_ref ? ` (${a.patient_ref})` : ""}` +
    `${a.infusion_day ? ` \u00b7 Day ${a.infusion_day}` : ""}`;
}

/** Path of an alarm id in a URL ("bed-1/3/SPO2_LOW"): each part encoded, slashes kept. */
function alarmPath(alarmId) {
  return String(alarmId).split("/").map(encodeURIComponent).join("/");
}

class StripView {
  constructor(dialog) {
    this.dialog = dialog;
    this.seq = 0;
    this.cache = new Map(); // window start (ms) -> {promise, segments}
    this.timer = null;
    this.opener = null;
    const button = (text, action, handler, extra = {}) => {
      const b = el("button", { type: "button", textContent: text, "data-action": action, ...extra });
      b.addEventListener("click", handler);
      return b;
    };
    this.earlier = button("\u2190 Earlier 10 s", "strip-earlier", () => this.shift(-STEP_S));
    this.home = button("Alarm window", "strip-alarm-window", () => this.shift(null));
    this.later = button("Later 10 s \u2192", "strip-later", () => this.shift(STEP_S));
    this.printButton = button("Print", "strip-print", () => window.print(), { class: "primary" });
    this.closeButton = button("Close", "strip-close", () => this.close(), { "aria-label": "Close the strip" });
    this.status = el("span", { class: "strip-status", role: "status", "aria-live": "polite" });
    this.title = el("h2", { id: "strip-title", tabIndex: -1 });
    this.facts = el("dl", { class: "strip-facts" });
    this.printed = el("p", { class: "strip-printed" });
    this.rows = el("div", { class: "strip-rows" });
    dialog.replaceChildren(
      el("div", { class: "strip-tools" }, this.earlier, this.home, this.later,
        this.status, this.printButton, this.closeButton),
      el("article", { class: "strip-sheet" },
        el("header", { class: "strip-head" },
          el("div", { class: "strip-title-row" }, this.title, this.printed), this.facts),
        this.rows));
    dialog.setAttribute("aria-labelledby", "strip-title");

    // Escape closes the strip (before app.js sees it and leaves the bed detail); a
    // change of view closes it too. When printing, the sheet says who printed it, when.
    window.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || !this.dialog.open) return;
      if (document.querySelector("dialog[open]:modal")) return;
      ev.stopPropagation();
      this.close();
    }, true);
    window.addEventListener("hashchange", () => this.close());
    window.addEventListener("beforeprint", () => this.stampPrinted());
  }

  /** Open the strip of `alarmId`; `hint` is what the caller knows of the alarm. */
  open(alarmId, hint = {}, opener = null) {
    this.seq++;
    clearTimeout(this.timer);
    this.opener = opener;
    this.alarmId = alarmId;
    this.alarm = { rule: hint.rule, priority: hint.priority, value: hint.value, message: hint.message,
      threshold: hint.threshold, delay: hint.delay, session_id: hint.session_id };
    this.bedId = hint.bed_id || null;
    this.onset = valid(hint.onset) ? hint.onset : valid(hint.time) ? hint.time : null;
    this.since = this.onset === null ? null : this.onset - BEFORE_S;
    this.ack = hint.acknowledged ? { user: hint.acked_by, time: hint.acked_at } : null;
    this.ended = null;
    this.factState = "loading";
    this.patient = undefined;
    this.segments = null;
    this.cache.clear();
    this.dialog.dataset.alarmId = alarmId;
    this.dialog.dataset.state = "loading";
    if (!this.dialog.open) this.dialog.show();
    document.body.classList.add("strip-open");
    this.renderHead();
    this.renderRows();
    this.title.focus({ preventScroll: true });
    const seq = this.seq;
    getJSON(`/api/alarms/${alarmPath(alarmId)}/strip`).then((r) => {
      if (seq !== this.seq) return;
      const a = r.alarm || {};
      Object.assign(this.alarm, Object.fromEntries(Object.entries(a).filter(([, v]) => v !== null && v !== undefined)));
      this.alarm.session_id = a.session_id ?? null;
      this.bedId = a.bed_id || this.bedId;
      this.onset = a.time;
      if (this.since === null || Math.abs(this.since - r.since) < 1e-6) this.since = r.since;
      this.remember(r.since, r.segments);
      this.loadFacts(seq);
      this.loadPatient(seq);
      this.show();
    }).catch((err) => {
      if (seq !== this.seq) return;
      this.dialog.dataset.state = "error";
      setText(this.status, `Strip unavailable: ${err.message}`);
      this.renderRows();
    });
  }

  close() {
    if (!this.dialog.open) return;
    this.seq++;
    clearTimeout(this.timer);
    this.dialog.close();
    document.body.classList.remove("strip-open");
    this.rows.replaceChildren();
    // Back to the button that opened it (or its successor: the log is redrawn as it grows).
    const back = this.opener && this.opener.isConnected ? this.opener
      : document.querySelector(`[data-action="strip"][data-alarm-id="${CSS.escape(this.alarmId)}"]`);
    if (back) back.focus({ preventScroll: true });
    this.opener = null;
  }

  // ---- data ------------------------------------------------------------------------

  /** Is the window starting at `since` recent enough that more of it may still be stored? */
  recent(since) {
    return since + WINDOW_S > serverNow() - SETTLE_S;
  }

  remember(since, segments) {
    if (!this.recent(since)) {
      this.cache.set(Math.round(since * 1000), { promise: Promise.resolve(segments), segments });
    }
    if (Math.abs(since - this.since) < 1e-6) this.segments = segments;
  }

  fetchWindow(since) {
    const key = Math.round(since * 1000);
    const hit = this.cache.get(key);
    if (hit) return hit.promise;
    const q = new URLSearchParams({ since: String(since), until: String(since + WINDOW_S) });
    q.append("metric", "ECG");
    q.append("metric", "PLETH");
    const entry = { segments: null };
    entry.promise = getJSON(`/api/beds/${encodeURIComponent(this.bedId)}/waveforms?${q}`)
      .then((r) => {
        entry.segments = r.segments;
        if (this.recent(since)) this.cache.delete(key);
        return r.segments;
      });
    entry.promise.catch(() => this.cache.delete(key));
    this.cache.set(key, entry);
    return entry.promise;
  }

  /** Who acknowledged it, when it ended, its limit and baseline, from the alarm log: the
   * session's (a few hundred records at most), else the bed's since the onset. */
  async loadFacts(seq) {
    const sid = this.alarm.session_id;
    const url = sid !== null && sid !== undefined
      ? `/api/sessions/${encodeURIComponent(sid)}/alarms?limit=10000`
      : `/api/alarms/log?bed_id=${encodeURIComponent(this.bedId)}&since=${this.onset - 0.001}&limit=2000`;
    let facts = "unknown";
    try {
      const log = await getJSON(url);
      if (seq !== this.seq) return;
      const mine = log.filter((e) => e.alarm_id === this.alarmId).sort((x, y) => x.time - y.time);
      const first = mine.find((e) => e.event === "onset");
      if (first) {
        facts = "loaded";
        for (const k of ["threshold", "baseline", "worst_value", "delay"]) {
          if (first[k] !== null && first[k] !== undefined) this.alarm[k] = first[k];
        }
        const ack = mine.find((e) => e.event === "acknowledged");
        if (ack) this.ack = { user: ack.user, time: ack.time };
        const end = mine.find((e) => e.event === "end");
        if (end) this.ended = end.time;
      } else {
        facts = "missing"; // the bed's log since then is longer than one answer
      }
    } catch {
      if (seq !== this.seq) return;
    }
    this.factState = facts;
    this.renderHead();
  }

  /** The patient of the alarm's session: the bed's current one, else the past session. */
  async loadPatient(seq) {
    const sid = this.alarm.session_id;
    const bed = state.beds.get(this.bedId);
    if (sid === null || sid === undefined) {
      this.patient = null;
      this.renderHead();
      return;
    }
    if (bed && bed.admission && bed.admission.id === sid) {
      this.patient = patientText(bed.admission);
      this.renderHead();
      return;
    }
    try {
      const session = await getJSON(`/api/sessions/${encodeURIComponent(sid)}`);
      if (seq !== this.seq) return;
      this.patient = patientText(session);
    } catch {
      this.patient = null;
    }
    this.renderHead();
  }

  // ---- moving in time --------------------------------------------------------------

  /** Move the window by `delta` seconds (null: back to the alarm's own window). */
  shift(delta) {
    if (this.onset === null || !this.bedId) return;
    const since = delta === null ? this.onset - BEFORE_S : this.since + delta;
    if (Math.abs(since - this.since) < 1e-6) return;
    this.since = since;
    const hit = this.cache.get(Math.round(since * 1000));
    this.segments = hit ? hit.segments : null;
    this.load();
  }

  load() {
    const seq = this.seq;
    const since = this.since;
    clearTimeout(this.timer);
    if (this.segments) {
      this.show();
      return;
    }
    this.dialog.dataset.state = "loading";
    this.renderHead();
    this.renderRows();
    this.fetchWindow(since).then((segments) => {
      if (seq !== this.seq || since !== this.since) return;
      this.segments = segments;
      this.show();
    }).catch((err) => {
      if (seq !== this.seq || since !== this.since) return;
      this.dialog.dataset.state = "error";
      setText(this.status, `Waveforms unavailable: ${err.message}`);
      this.renderRows();
    });
  }

  /** Draw the window's traces, then fetch what comes next: the neighbouring windows, and
   * the same window again while it is still being stored. */
  show() {
    this.dialog.dataset.state = "loaded";
    this.renderHead();
    this.renderRows();
    const seq = this.seq;
    const since = this.since;
    clearTimeout(this.timer);
    if (this.recent(since)) {
      setText(this.status, "The last seconds are still being stored: the strip fills in by itself.");
      this.timer = setTimeout(() => {
        if (seq !== this.seq || since !== this.since) return;
        this.cache.delete(Math.round(since * 1000));
        this.fetchWindow(since).then((segments) => {
          if (seq !== this.seq || since !== this.since) return;
          this.segments = segments;
          this.show();
        }).catch(() => this.show());
      }, REFRESH_MS);
    } else {
      setText(this.status, "");
    }
    setTimeout(() => {
      if (seq !== this.seq || since !== this.since) return;
      for (const next of [since - STEP_S, since + STEP_S]) {
        if (next < serverNow() && !this.recent(next)) this.fetchWindow(next).catch(() => {});
      }
    }, 50);
  }

  // ---- rendering -----------------------------------------------------------------------

  renderHead() {
    const a = this.alarm;
    const bed = state.beds.get(this.bedId);
    const bedText = bed ? bed.label : this.bedId || "";
    const unit = unitOf(a.rule);
    setText(this.title, `Alarm strip \u00b7 ${bedText}${a.rule ? ` \u00b7 ${a.rule}` : ""}`);
    const onset = this.onset;
    const rel = (t) => relText(Math.round(t - onset));
    const fact = (key, dt, dd) => [el("dt", { textContent: dt }), el("dd", { "data-fact": key, textContent: dd })];
    let value = valueText(a.value, unit);
    if (value && valid(a.threshold)) value += ` (limit ${valueText(a.threshold, unit)})`;
    if (value && valid(a.baseline)) value += ` \u00b7 baseline ${valueText(a.baseline, unit)}`;
    const active = bed && bed.alarms.find((x) => x.alarm_id === this.alarmId);
    if (active && active.acknowledged && !this.ack) this.ack = { user: active.acked_by, time: active.acked_at };
    const fromLog = { loading: "\u2026", missing: "not found in the alarm log", unknown: "unknown" };
    const ack = this.ack
      ? `${this.ack.user || "?"}${valid(this.ack.time) ? ` at ${clockTime(this.ack.time)}${onset !== null ? ` (${rel(this.ack.time)})` : ""}` : ""}`
      : fromLog[this.factState] || (active ? "not acknowledged (active)" : "not acknowledged");
    const since = this.since;
    this.facts.replaceChildren(
      ...fact("bed", "Bed", bedText),
      ...fact("patient", "Patient", this.patient === undefined ? "\u2026" : this.patient || "no patient admitted"),
      ...fact("alarm", "Alarm", [a.rule, a.message].filter(Boolean).join(" \u2014 ")),
      ...fact("priority", "Priority", a.priority || ""),
      ...fact("value", "Value", value || "\u2014"),
      ...fact("onset", "Onset", onset === null ? "\u2026" : `${dateTime(onset, true)}` +
        `${valid(a.delay) && a.delay > 0 ? ` (after a ${num(a.delay, Number.isInteger(a.delay) ? 0 : 1)} s delay)` : ""}`),
      ...fact("ended", "Ended", this.ended !== null ? `${clockTime(this.ended)} (${rel(this.ended)})`
        : active ? "still active" : fromLog[this.factState] || "\u2014"),
      ...fact("acknowledged", "Acknowledged", ack),
      ...fact("window", "Shown", since === null ? "\u2026"
        : `${clockTime(since)} \u2013 ${clockTime(since + WINDOW_S)} (${rel(since)} to ${rel(since + WINDOW_S)})`),
      ...fact("scale", "Scale", `${PAPER_MM_PER_S} mm/s \u00b7 ECG ${ECG_MM_PER_MV} mm/mV \u00b7 grid 1 mm / 5 mm`));
    this.dialog.dataset.since = since === null ? "" : since.toFixed(3);
    this.dialog.dataset.onset = onset === null ? "" : onset.toFixed(3);
    this.earlier.disabled = since === null || !this.bedId;
    this.home.disabled = since === null || onset === null || Math.abs(since - (onset - BEFORE_S)) < 1e-6;
    this.later.disabled = since === null || !this.bedId || since + STEP_S >= serverNow();
    this.stampPrinted();
  }

  stampPrinted() {
    const who = currentUser();
    setText(this.printed, `Printed ${dateTime(serverNow())}${who ? ` by ${who}` : ""} \u00b7 ` +
      "SPU Monitor (a secondary display) \u00b7 waveforms as stored");
  }

  renderRows() {
    if (this.since === null) {
      this.rows.replaceChildren(el("p", { class: "strip-wait", textContent: "Loading the strip\u2026" }));
      return;
    }
    const traces = this.segments ? pickTraces(this.segments) : null;
    const loading = !this.segments && this.dialog.dataset.state === "loading";
    const rows = [];
    for (let i = 0; i < WINDOW_S / ROW_S; i++) {
      rows.push(renderRow({ t0: this.since + i * ROW_S, index: i, onset: this.onset ?? this.since + BEFORE_S,
        priority: this.alarm.priority, rule: this.alarm.rule, traces, loading,
        pendingAfter: serverNow() - SETTLE_S, lastRow: i === WINDOW_S / ROW_S - 1 }));
    }
    this.rows.replaceChildren(...rows);
  }
}

let view = null;

/** Open the strip of an alarm (an active alarm or an alarm-log record). */
export function openStrip(alarmId, hint = {}, opener = null) {
  if (!view) {
    const dialog = document.getElementById("strip");
    if (!dialog) return;
    view = new StripView(dialog);
  }
  view.open(alarmId, hint, opener);
}

/**
 * A "Strip" button for an active alarm or an alarm-log onset record (other records, and
 * records without an alarm id, get none: null).
 */
export function stripButton(alarm) {
  if (!alarm || !alarm.alarm_id || (alarm.event !== undefined && alarm.event !== "onset")) return null;
  const onset = alarm.onset ?? alarm.time;
  const b = el("button", { type: "button", class: "strip-btn", textContent: "Strip", "data-action": "strip",
    "data-alarm-id": alarm.alarm_id,
    title: "ECG and pleth from 10 s before the onset to 20 s after",
    "aria-label": `Strip: ECG and pleth around ${alarm.rule || "the alarm"}${valid(onset) ? ` at ${clockTime(onset)}` : ""}` });
  b.addEventListener("click", (ev) => {
    ev.stopPropagation(); // a tile or row under the button must not react
    openStrip(alarm.alarm_id, alarm, b);
  });
  return b;
}
