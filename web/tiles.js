// The overview: one tile per bed, sized so that every bed fits the screen.
// Tiles are built once and updated in place (text only when it changed), so values
// changing never move anything and the alarm flashing never restarts.

import { el, setText, setClass, setAttr, num, duration, age, pctChange, nibpCountdown }
  from "./format.js";
import { state, serverNow, baselineOf, audioPaused } from "./state.js";
import { Sweep } from "./waveform.js";
import { act } from "./api.js";

const VALUE_STALE_S = 15; // a vital sign (sent every 1-10 s) older than this is stale
const NIBP_CYCLE_S = 900;
const AUDIO_PAUSE_S = 120;
const TILE_ASPECT = 1.45; // preferred width / height of a tile
const MIN_TILE_W = 320; // px: below this the numerics and labels collide
// A capnograph's sampling line cannot measure (blocked, leaking, off).
const LINE_FLAGS = ["sensor_disconnect", "sensor_off", "no_sensor", "defective_sensor"];

const STATE_TEXT = {
  connected: "connected",
  disconnected: "device offline",
  stale: "no data",
  sensor_off: "sensor off",
  connecting: "connecting",
  no_device: "no device",
};

const PHASE_TEXT = {
  pre_infusion: "Pre-infusion",
  infusion: "Infusion",
  paused: "Paused",
  post_infusion: "Post-infusion",
  discharged: "Discharged",
  cancelled: "Cancelled",
};

export class Overview {
  constructor(container, hub) {
    this.container = container;
    this.hub = hub;
    this.tiles = new Map(); // bed id -> refs
    new ResizeObserver(() => this.layout()).observe(container);
  }

  /** Create/remove tiles to match the unit's beds, in server order. */
  sync() {
    for (const [id, t] of this.tiles) {
      if (!state.beds.has(id)) {
        t.unhook();
        t.root.remove();
        this.tiles.delete(id);
      }
    }
    for (const id of state.order) {
      if (!this.tiles.has(id)) this.tiles.set(id, this.build(state.beds.get(id)));
      this.container.append(this.tiles.get(id).root); // keeps order; moving is cheap
      this.update(id);
    }
    this.layout();
  }

  /** Choose the column count that gives the largest tiles of about TILE_ASPECT. */
  layout() {
    const n = this.tiles.size;
    if (!n) return;
    const style = getComputedStyle(this.container);
    const gap = parseFloat(style.rowGap) || 8;
    const W = this.container.clientWidth - parseFloat(style.paddingLeft) -
      parseFloat(style.paddingRight);
    const H = this.container.clientHeight - parseFloat(style.paddingTop) -
      parseFloat(style.paddingBottom);
    if (W <= 0 || H <= 0) return;
    let best = { cols: 1, score: 0, h: 0 };
    // Never narrower than readable: a big unit scrolls rather than shrinking every tile.
    const maxCols = Math.max(1, Math.floor((W + gap) / (MIN_TILE_W + gap)));
    for (let cols = 1; cols <= Math.min(n, maxCols); cols++) {
      const rows = Math.ceil(n / cols);
      const w = (W - gap * (cols - 1)) / cols;
      const h = (H - gap * (rows - 1)) / rows;
      const score = Math.min(w / TILE_ASPECT, h);
      if (score > best.score) best = { cols, score, h, w };
    }
    // Few beds: no taller than wide (a giant waveform helps nobody). Never smaller than
    // readable: below 190 px the page scrolls instead.
    const rowH = Math.max(190, Math.floor(Math.min(best.h, best.w / 1.1)));
    this.container.style.gridTemplateColumns = `repeat(${best.cols}, minmax(0, 1fr))`;
    this.container.style.gridAutoRows = `${rowH}px`;
  }

  build(bed) {
    const id = bed.id;
    const numeric = (metric, label, unit, extra = []) =>
      el("div", { class: `numeric m-${metric.toLowerCase()}`, "data-metric": metric },
        el("span", { class: "label", textContent: label }),
        el("span", { class: "value", textContent: "---" }),
        el("span", { class: "unit", textContent: unit }),
        ...extra);
    const hrDelta = el("span", { class: "delta" });
    const nibpMean = el("span", { class: "mean" });
    const nibpDelta = el("span", { class: "delta" });
    const nibpAge = el("span", { class: "age" });
    const nibpNext = el("span", { class: "next" });
    const capnoFlag = el("span", { class: "capno-flag" });
    // Capnography: a row of its own, put in the tile only while the bed has capnography
    // (or a respiration rate), so a bed without one has exactly the tile it always had.
    const capnoRow = el("div", { class: "capno-row" },
      numeric("ETCO2", "EtCO₂", "mmHg"), numeric("RESP", "RR", "/min"), capnoFlag);
    const canvas = el("canvas", { class: "strip-canvas", "aria-hidden": "true" });
    const stripLabel = el("span", { class: "strip-label", textContent: "ECG" });
    const strip = el("div", { class: "strip" }, stripLabel, canvas);
    const pauseBtn = el("button", { type: "button", class: "pause-btn", "data-action": "audio-pause",
      textContent: "Pause audio", title: "Pause this bed's alarm audio for 2 minutes" });
    const refs = {
      root: el("section", { class: "bed", "data-bed": id, "aria-label": bed.label || id },
        el("header", { class: "tile-head" },
          el("a", { class: "bed-label", href: `#bed/${encodeURIComponent(id)}`,
            textContent: bed.label || id }),
          // The name may wrap; "· Day 3" stays in one piece.
          el("span", { class: "patient" }, el("span", { class: "patient-name" }), " ",
            el("span", { class: "patient-day" }))),
        el("div", { class: "alarm-band", "aria-hidden": "true" },
          el("span", { class: "alarm-text" }), el("span", { class: "alarm-more" })),
        el("div", { class: "vitals" },
          numeric("HR", "HR (ECG)", "/min", [hrDelta]),
          numeric("SPO2", "SpO₂", "%"),
          numeric("PR", "Pulse", "/min")),
        strip,
        el("div", { class: "nibp-row" },
          numeric("NIBP", "NIBP", "mmHg", [nibpMean, nibpDelta]),
          el("span", { class: "nibp-times" }, nibpAge, nibpNext)),
        el("div", { class: "session-line" },
          el("span", { class: "baseline" }), el("span", { class: "phase" })),
        el("footer", { class: "tile-foot" },
          pauseBtn, el("span", { class: "audio-paused", role: "status" }),
          el("span", { class: "state" }))),
      hrDelta, nibpMean, nibpDelta, nibpAge, nibpNext, stripLabel, pauseBtn, capnoFlag,
      capnoRow, strip,
    };
    const q = (sel) => refs.root.querySelector(sel) || capnoRow.querySelector(sel);
    Object.assign(refs, {
      patientName: q(".patient-name"), patientDay: q(".patient-day"), state: q(".state"),
      band: q(".alarm-band"), bandText: q(".alarm-text"), bandMore: q(".alarm-more"), baseline: q(".baseline"),
      phase: q(".phase"), paused: q(".audio-paused"),
      metrics: Object.fromEntries(["HR", "SPO2", "PR", "NIBP", "ETCO2", "RESP"].map((m) => {
        const box = q(`[data-metric="${m}"]`);
        return [m, { box, value: box.querySelector(".value"), label: box.querySelector(".label") }];
      })),
    });
    const sweep = new Sweep(canvas, { seconds: 5, color: "#3ddc84", lineWidth: 1.5 });
    refs.unhook = this.hub.add(sweep, id, ["ECG", "PLETH"], (metric) => {
      setText(stripLabel, metric === "ECG" ? "ECG" : "Pleth");
      sweep.color = metric === "ECG" ? "#3ddc84" : "#4fc3f7";
    });
    refs.root.addEventListener("click", (ev) => {
      if (ev.target.closest("button, a")) return;
      location.hash = `#bed/${encodeURIComponent(id)}`;
    });
    pauseBtn.addEventListener("click", async () => {
      pauseBtn.disabled = true;
      try {
        const res = await act(`/api/beds/${encodeURIComponent(id)}/audio-pause`,
          { seconds: AUDIO_PAUSE_S }, "Audio pause");
        if (res) {
          const bedNow = state.beds.get(id);
          bedNow.audio_paused_until = res.audio_paused_until ?? serverNow() + AUDIO_PAUSE_S;
          this.update(id);
          document.dispatchEvent(new CustomEvent("spu:audible-changed"));
        }
      } catch {
        /* toast shown by act() */
      } finally {
        pauseBtn.disabled = false;
      }
    });
    return refs;
  }

  /** Refresh one tile from state (cheap: called on every message and every second). */
  update(id) {
    const t = this.tiles.get(id);
    const bed = state.beds.get(id);
    if (!t || !bed) return;
    const now = serverNow();
    const live = state.live;
    const conn = bed.connection || "no_device";
    const root = t.root;
    setClass(root, "offline", conn === "disconnected");
    setClass(root, "stale", conn === "stale" || !live);
    setClass(root, "sensor-off", conn === "sensor_off");
    setClass(root, "no-device", conn === "no_device" || conn === "connecting");
    setText(t.state, live ? STATE_TEXT[conn] || conn.replace(/_/g, " ") : "no server");
    setAttr(t.state, "data-state", live ? conn : "lost");

    // Vital signs. A value is stale when old, when its device is not delivering, or when
    // the server link is down: it is then greyed and its age shown, never silently old.
    const devState = (v) => bed.devices[v.device_id]?.state;
    const showValue = (metric, v) => {
      const m = t.metrics[metric];
      if (!v) {
        setText(m.value, "---");
        setClass(m.box, "stale", true);
        setAttr(m.box, "data-age", null);
        return;
      }
      const old = now - v.time > VALUE_STALE_S;
      const dead = ["disconnected", "stale"].includes(devState(v)) || !live;
      const invalid = v.value === null || (v.flags || []).includes("invalid");
      setText(m.value, invalid ? "---" : num(v.value));
      setClass(m.box, "stale", old || dead);
      setClass(m.box, "invalid", invalid);
      setClass(m.box, "artifact",
        (v.flags || []).some((f) => ["motion", "artifact", "low_perfusion"].includes(f)));
      setAttr(m.box, "data-age", old || dead ? age(now - v.time) : null);
    };
    showValue("HR", bed.latest.HR);
    showValue("SPO2", bed.latest.SPO2);
    showValue("PR", bed.latest.PR);
    const sensorOff = ["SPO2", "PR"].some((k) =>
      (bed.latest[k]?.flags || []).some((f) => f === "sensor_off" || f === "no_sensor"));
    setClass(t.metrics.SPO2.box, "sensor-flag", sensorOff);
    setAttr(t.metrics.SPO2.box, "data-flag", sensorOff ? "SENSOR OFF" : null);
    showCapno(t, bed, showValue);

    // NIBP: sys/dia (mean), its age, and the countdown to the next one due.
    const sys = bed.latest.NIBP_SYS;
    const dia = bed.latest.NIBP_DIA;
    const mean = bed.latest.NIBP_MEAN;
    const nb = t.metrics.NIBP;
    const base = baselineOf(bed);
    if (sys) {
      setText(nb.value, `${num(sys.value)}/${num(dia?.value)}`);
      setText(t.nibpMean, mean && mean.value !== null ? `(${num(mean.value)})` : "");
      setText(t.nibpAge, `${age(now - sys.time)} ago`);
      const dead = ["disconnected", "stale"].includes(devState(sys)) || !live;
      setClass(nb.box, "stale", dead);
      showNibpCountdown(t.nibpNext, bed, now);
      setText(t.nibpDelta, base?.sys ? pctChange(sys.value, base.sys) : "");
      setClass(t.nibpDelta, "up", base?.sys && sys.value >= base.sys * 1.2);
    } else {
      setText(nb.value, "---/---");
      setText(t.nibpMean, "");
      setText(t.nibpAge, "no NIBP yet");
      setText(t.nibpNext, "");
      setClass(t.nibpNext, "due", false);
      setClass(t.nibpNext, "overdue", false);
      setText(t.nibpDelta, "");
      setClass(nb.box, "stale", true);
    }
    const hr = bed.latest.HR;
    setText(t.hrDelta, base?.hr && hr && hr.value !== null ? pctChange(hr.value, base.hr) : "");
    setClass(t.hrDelta, "up", base?.hr && hr && hr.value >= base.hr * 1.2);

    // Admission and baseline.
    const a = bed.admission;
    if (a && a.phase !== "discharged") {
      setText(t.patientName, a.patient_label);
      setText(t.patientDay, a.infusion_day ? `· Day ${a.infusion_day}` : "");
      setText(t.phase, phaseText(a, now));
      setAttr(t.phase, "data-phase", a.phase);
    } else {
      setText(t.patientName, "no patient");
      setText(t.patientDay, "");
      setText(t.phase, "");
      setAttr(t.phase, "data-phase", null);
    }
    setClass(root, "empty-bed", !a || a.phase === "discharged");
    if (base && (base.hr || base.sys)) {
      const parts = [];
      if (base.hr) parts.push(`HR ${num(base.hr)}`);
      if (base.sys) parts.push(`BP ${num(base.sys)}/${num(base.dia)}`);
      setText(t.baseline, `${base.preview ? "Prov. baseline" : "Baseline"} ${parts.join(" · ")}`);
      setClass(t.baseline, "missing", false);
    } else {
      setText(t.baseline, a ? "NO BASELINE" : "");
      setClass(t.baseline, "missing", Boolean(a));
    }

    // Alarm state: colour and flashing by the highest priority present (the server sends
    // a bed's alarms highest priority first, newest first).
    const alarms = bed.alarms;
    const top = alarms[0];
    const prio = top ? top.priority : "";
    for (const p of ["high", "medium", "low"]) setClass(root, `alarm-${p}`, prio === p);
    // All alarms of the top priority acknowledged: the colour stays, the flashing stops.
    const allAcked = top && alarms.filter((x) => x.priority === prio).every((x) => x.acknowledged);
    setClass(root, "acked", Boolean(allAcked));
    setAttr(t.band, "data-priority", prio || null);
    setText(t.bandText, top ? `${top.technical ? "⚙ " : ""}${top.message || top.rule}` : "");
    setText(t.bandMore, alarms.length > 1 ? `+${alarms.length - 1}` : "");

    // Audio pause countdown.
    const paused = audioPaused(bed);
    setClass(root, "audio-paused-on", paused);
    setText(t.paused, paused ? `audio paused ${duration(bed.audio_paused_until - now)}` : "");
  }

  updateAll() {
    for (const id of this.tiles.keys()) this.update(id);
  }

  ids() {
    return [...this.tiles.keys()];
  }
}

/** EtCO2 and the respiration rate, only on a bed that has them: the airway (capnograph)
 *  rate when there is one, else the impedance rate, labelled as such. */
function showCapno(t, bed, showValue) {
  const co2 = bed.latest.ETCO2;
  const airway = bed.latest.AWRR;
  const rate = airway || bed.latest.RR;
  const has = Boolean(co2 || rate);
  setClass(t.root, "has-capno", has);
  if (!has) {
    if (t.capnoRow.isConnected) t.capnoRow.remove();
    return;
  }
  if (!t.capnoRow.isConnected) t.root.insertBefore(t.capnoRow, t.strip);
  setClass(t.metrics.ETCO2.box, "absent", !co2);
  setClass(t.metrics.RESP.box, "absent", !rate);
  if (co2) showValue("ETCO2", co2);
  if (rate) showValue("RESP", rate);
  setText(t.metrics.RESP.label, airway || !rate ? "RR" : "RR imp.");
  const line = [co2, airway].some((v) => (v?.flags || []).some((f) => LINE_FLAGS.includes(f)));
  setText(t.capnoFlag, line ? "CO₂ LINE" : "");
}

/** When the next NIBP is due (POSIX seconds), or null before the first reading. */
export function nibpDueAt(bed) {
  const sys = bed.latest.NIBP_SYS;
  return bed.nibp_due_at ?? (sys ? sys.time + NIBP_CYCLE_S : null);
}

/** "next in 13 min" / "due now" / "overdue 2 min" into `node` (tile and bed detail alike). */
export function showNibpCountdown(node, bed, now) {
  const due = nibpDueAt(bed);
  const c = due === null ? { text: "", kind: "" } : nibpCountdown(due - now);
  setText(node, c.text);
  setClass(node, "due", c.kind === "due");
  setClass(node, "overdue", c.kind === "overdue");
}

export function phaseText(a, now) {
  const name = PHASE_TEXT[a.phase] || a.phase;
  if (a.phase === "infusion" && a.infusion_started_at)
    return `${name} ${duration(now - a.infusion_started_at)}`;
  if (a.phase === "paused" && a.paused_since)
    return `${name} ${duration(now - a.paused_since)}`;
  if (a.phase === "post_infusion" && a.infusion_stopped_at)
    return `${name} +${duration(now - a.infusion_stopped_at)}`;
  if (a.phase === "pre_infusion" && a.admitted_at)
    return `${name} · ${duration(now - a.admitted_at)} in bed`;
  return name;
}
