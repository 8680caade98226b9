// Session trends on one canvas: three panels sharing a time axis (HR and pulse; SpO2;
// NIBP), the baseline bands (HR ±20 %, systolic baseline to ×1.2; or the limits a past
// session was judged against), alarm onsets as vertical marks in their priority colour,
// and the session events along the bottom.

import { clockShort } from "./format.js";

const COLORS = {
  HR: "#3ddc84", PR: "#80cbc4", SPO2: "#4fc3f7", SYS: "#f5f5f5", DIA: "#b0bec5",
  grid: "#26313d", text: "#9fb0c0", band: "rgba(61,220,132,0.13)", bpBand: "rgba(245,245,245,0.10)",
  high: "#ff3b30", medium: "#ffd60a", low: "#22d3ee", event: "#e0a8ff",
};

/**
 * @param {HTMLCanvasElement} canvas
 * @param {object} d {since, until, series: {HR: [[t, v]], PR, SPO2, NIBP_SYS, NIBP_DIA},
 *   baseline: {hr, sys}, alarms: [{time, priority, rule}], events: [{time, label}],
 *   band?: {hr_high, sys_high, spo2_low} the limits the session was judged against (then
 *   drawn from the baseline up to them, and SpO2's floor), gapS?: a line breaks over a
 *   hole longer than this (default 30 s; 1-minute medians need more)}
 */
export function drawTrends(canvas, d) {
  const dpr = window.devicePixelRatio || 1;
  const W = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const H = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== W || canvas.height !== H) {
    canvas.width = W;
    canvas.height = H;
  }
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, W, H);
  const font = Math.round(12 * dpr);
  ctx.font = `${font}px "DejaVu Sans", sans-serif`;
  const left = 48 * dpr;
  const right = 12 * dpr;
  const eventsH = 58 * dpr;
  const axisH = 18 * dpr;
  const plotH = H - eventsH - axisH;
  const panels = [
    { name: "HR / pulse  /min", keys: ["HR", "PR"], share: 0.36, min: 40, max: 140 },
    { name: "SpO₂ %", keys: ["SPO2"], share: 0.26, min: 85, max: 100, fixedMax: 100 },
    { name: "NIBP mmHg", keys: ["NIBP_SYS", "NIBP_DIA"], share: 0.38, min: 50, max: 180,
      points: true },
  ];
  const span = Math.max(60, d.until - d.since);
  const gap = d.gapS ?? 30;
  const xOf = (t) => left + ((t - d.since) / span) * (W - left - right);
  let top = 4 * dpr;
  for (const p of panels) {
    const h = plotH * p.share - 10 * dpr;
    // Range: the defaults widened to fit the data and the baseline band.
    let lo = p.min;
    let hi = p.max;
    for (const k of p.keys) for (const [, v] of d.series[k] || []) {
      if (v === null) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (p.keys[0] === "HR" && d.baseline?.hr) {
      lo = Math.min(lo, d.baseline.hr * 0.8);
      hi = Math.max(hi, d.band?.hr_high ?? d.baseline.hr * 1.2);
    }
    if (p.keys[0] === "NIBP_SYS" && d.baseline?.sys) hi = Math.max(hi, d.band?.sys_high ?? d.baseline.sys * 1.2);
    if (p.fixedMax) hi = p.fixedMax;
    lo = Math.floor(lo / 10) * 10;
    hi = Math.ceil(hi / 10) * 10;
    const yOf = (v) => top + h - ((v - lo) / (hi - lo)) * h;

    // frame and grid
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(left, top, W - left - right, h);
    ctx.fillStyle = COLORS.text;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const step = niceStep((hi - lo) / 4);
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      const y = yOf(v);
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(W - right, y);
      ctx.stroke();
      ctx.fillText(String(v), left - 6 * dpr, y);
    }
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(p.name, left + 6 * dpr, top + 3 * dpr);

    // baseline bands
    if (p.keys[0] === "HR" && d.baseline?.hr) {
      const hrTop = d.band?.hr_high ?? d.baseline.hr * 1.2;
      const hrBottom = d.band ? d.baseline.hr : d.baseline.hr * 0.8;
      band(ctx, left, W - right, yOf(hrTop), yOf(hrBottom), COLORS.band);
      dashed(ctx, left, W - right, yOf(d.baseline.hr), COLORS.HR, dpr);
    }
    if (p.keys[0] === "NIBP_SYS" && d.baseline?.sys) {
      band(ctx, left, W - right, yOf(d.band?.sys_high ?? d.baseline.sys * 1.2), yOf(d.baseline.sys), COLORS.bpBand);
      dashed(ctx, left, W - right, yOf(d.baseline.sys), COLORS.SYS, dpr);
    }
    if (p.keys[0] === "SPO2" && d.band?.spo2_low) {
      dashed(ctx, left, W - right, yOf(d.band.spo2_low), COLORS.SPO2, dpr);
    }

    // alarm onsets
    for (const a of d.alarms || []) {
      if (a.time < d.since || a.time > d.until) continue;
      ctx.strokeStyle = COLORS[a.priority] || COLORS.low;
      ctx.lineWidth = 2 * dpr;
      const x = xOf(a.time);
      ctx.beginPath();
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + h);
      ctx.stroke();
    }

    // data
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, W - left - right, h);
    ctx.clip();
    for (const k of p.keys) {
      const pts = d.series[k] || [];
      const colour = COLORS[k.replace("NIBP_", "")];
      if (p.points) {
        ctx.fillStyle = colour;
        for (const [t, v] of pts) {
          if (v === null) continue;
          ctx.beginPath();
          ctx.arc(xOf(t), yOf(v), 3.5 * dpr, 0, Math.PI * 2);
          ctx.fill();
        }
        continue;
      }
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = 1.6 * dpr;
      ctx.beginPath();
      let prevT = null;
      const joined = (i) => {
        const [t, v] = pts[i];
        const before = pts[i - 1];
        const after = pts[i + 1];
        return v !== null && ((before && before[1] !== null && t - before[0] <= gap) ||
          (after && after[1] !== null && after[0] - t <= gap));
      };
      pts.forEach(([t, v], i) => {
        // Break the line at missing values and at holes over 30 s: no invented data. A value
        // on its own is a dot.
        if (v === null || prevT === null || t - prevT > gap) {
          if (v !== null) ctx.moveTo(xOf(t), yOf(v));
          if (v !== null && !joined(i)) ctx.fillRect(xOf(t) - 1.5 * dpr, yOf(v) - 1.5 * dpr, 3 * dpr, 3 * dpr);
        } else ctx.lineTo(xOf(t), yOf(v));
        prevT = v === null ? null : t;
      });
      ctx.stroke();
    }
    // NIBP: join systolic and diastolic of one reading with a bar
    if (p.points) {
      const dia = new Map((d.series.NIBP_DIA || []).map(([t, v]) => [Math.round(t), v]));
      ctx.strokeStyle = COLORS.DIA;
      ctx.lineWidth = 1.5 * dpr;
      for (const [t, v] of d.series.NIBP_SYS || []) {
        const dv = dia.get(Math.round(t));
        if (v === null || dv === undefined || dv === null) continue;
        ctx.beginPath();
        ctx.moveTo(xOf(t), yOf(v));
        ctx.lineTo(xOf(t), yOf(dv));
        ctx.stroke();
      }
    }
    ctx.restore();
    top += h + 10 * dpr;
  }

  // time axis
  ctx.fillStyle = COLORS.text;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  const tick = niceTimeStep(span);
  for (let t = Math.ceil(d.since / tick) * tick; t <= d.until; t += tick) {
    ctx.fillText(clockShort(t), xOf(t), top);
  }

  // session events row: markers on the time axis, labels placed on the first of three
  // lines where they do not overlap the previous label
  const ey = top + axisH;
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  const lineEnds = [-Infinity, -Infinity, -Infinity];
  for (const e of d.events || []) {
    if (e.time < d.since - 1 || e.time > d.until + 1) continue;
    const x = xOf(Math.max(d.since, e.time));
    ctx.fillStyle = e.color || COLORS.event;
    ctx.beginPath();
    ctx.moveTo(x, ey + 2 * dpr);
    ctx.lineTo(x + 6 * dpr, ey + 10 * dpr);
    ctx.lineTo(x - 6 * dpr, ey + 10 * dpr);
    ctx.closePath();
    ctx.fill();
    const width = ctx.measureText(e.label).width;
    const lx = Math.max(left, Math.min(x + 8 * dpr, W - width - 4 * dpr));
    let line = lineEnds.findIndex((end) => lx > end + 8 * dpr);
    if (line < 0) line = lineEnds.indexOf(Math.min(...lineEnds));
    lineEnds[line] = lx + width;
    ctx.fillText(e.label, lx, ey + 18 * dpr + line * 14 * dpr);
  }
}

function band(ctx, x0, x1, yTop, yBottom, colour) {
  ctx.fillStyle = colour;
  ctx.fillRect(x0, yTop, x1 - x0, yBottom - yTop);
}

function dashed(ctx, x0, x1, y, colour, dpr) {
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.globalAlpha = 0.6;
  ctx.setLineDash([6 * dpr, 5 * dpr]);
  ctx.lineWidth = 1 * dpr;
  ctx.beginPath();
  ctx.moveTo(x0, y);
  ctx.lineTo(x1, y);
  ctx.stroke();
  ctx.restore();
}

function niceStep(raw) {
  for (const s of [5, 10, 20, 25, 50, 100]) if (s >= raw) return s;
  return 100;
}

function niceTimeStep(span) {
  for (const s of [60, 120, 300, 600, 900, 1800, 3600]) if (span / s <= 8) return s;
  return 7200;
}
