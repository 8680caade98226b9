// Small DOM and formatting helpers shared by the modules. No state here.

/**
 * Create an element: el("div", {class: "x", "data-bed": "b1", textContent: "hi"}, child...).
 * Handlers are properties (onclick: fn), never attributes, and there is no "style": the
 * pages run under a Content-Security-Policy without 'unsafe-inline' (docs/development.md),
 * so styles come from style.css or are set through node.style.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "for")
      node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

/** Set text only when it changed: avoids needless layout and keeps screen readers quiet. */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** Toggle a class only when needed (re-setting a flashing class would restart its animation). */
export function setClass(node, name, on) {
  if (node.classList.contains(name) !== Boolean(on)) node.classList.toggle(name, Boolean(on));
}

export function setAttr(node, name, value) {
  if (value === null || value === undefined) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== String(value)) node.setAttribute(name, value);
}

/** A number rounded for display, or the placeholder for "no valid value". */
export function num(v, digits = 0) {
  if (v === null || v === undefined || Number.isNaN(v)) return "---";
  return digits ? Number(v).toFixed(digits) : String(Math.round(v));
}

const pad = (n) => String(n).padStart(2, "0");

/** Seconds as m:ss (or h:mm:ss from one hour). Negative values are shown as 0:00. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** How long ago, short: "12 s", "4 min", "2 h 05". */
export function age(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))}`;
}

/**
 * The time to the next NIBP, worded so that it cannot be read as a clock time ("next
 * 13:50" could be ten to two): "next in 13 min"; "next in 1:45" in the last two minutes;
 * "due now" for the first minute after it was due; then "overdue 2 min". Returns the text
 * and its kind: "next", "due" or "overdue".
 */
export function nibpCountdown(secondsLeft) {
  const s = Math.ceil(secondsLeft);
  if (s >= 120) return { text: `next in ${minutes(s)}`, kind: "next" };
  if (s > 0) return { text: `next in ${Math.floor(s / 60)}:${pad(s % 60)}`, kind: "next" };
  if (-s < 60) return { text: "due now", kind: "due" };
  return { text: `overdue ${minutes(-s)}`, kind: "overdue" };
}

/** Whole minutes, short: "13 min", "1 h 05". */
function minutes(seconds) {
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${pad(m % 60)}`;
}

/** POSIX seconds as local HH:MM:SS. */
export function clockTime(t) {
  if (t === null || t === undefined) return "--:--:--";
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** POSIX seconds as local HH:MM. */
export function clockShort(t) {
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Signed percentage change, "+12 %" / "−5 %" (a real minus sign for legibility). */
export function pctChange(value, base) {
  if (value === null || value === undefined || !base) return "";
  const p = Math.round(((value - base) / base) * 100);
  if (p === 0) return "±0 %";
  return `${p > 0 ? "+" : "−"}${Math.abs(p)} %`;
}

export const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };
