// The alarm log as a table (bed detail and past session): every record with who acted.

import { el, num, clockTime } from "./format.js";
import { stripButton } from "./strip.js";

const EVENT_TEXT = {
  onset: "onset", end: "end", acknowledged: "acknowledged", reannounce: "re-announced",
  escalation: "escalated", priority_change: "priority change", condition_end: "condition ended",
  audio_paused: "audio paused", audio_resumed: "audio resumed",
};
const HEAD = ["Time", "Event", "Alarm", "Message", "Value", "By"];

export function alarmLogTable(body) {
  return el("table", { class: "alarm-log" },
    el("thead", {}, el("tr", {}, ...HEAD.map((h) => el("th", { scope: "col", textContent: h })))),
    body);
}

/** Rows of the log (newest first, as the server sends it), or one row saying there are none. */
export function alarmLogRows(log, { time = clockTime, limit = 200 } = {}) {
  const rows = log.slice(0, limit).map((e) =>
    el("tr", { "data-priority": e.priority || "", "data-event": e.event },
      el("td", { textContent: time(e.time) }),
      // An onset row offers the alarm's strip (ECG and pleth around it).
      el("td", {}, EVENT_TEXT[e.event] || String(e.event).replace(/_/g, " "), stripButton(e)),
      el("td", { textContent: e.rule ? `${e.rule}${e.priority ? ` (${e.priority})` : ""}` : "" }),
      el("td", { textContent: e.message || e.reason || "" }),
      el("td", { textContent: e.value === null || e.value === undefined ? "" : num(e.value, Number.isInteger(e.value) ? 0 : 1) }),
      el("td", { textContent: e.user || "" })));
  return rows.length ? rows
    : [el("tr", {}, el("td", { colSpan: HEAD.length, textContent: "No alarms recorded." }))];
}
