// The alarm panel: every active alarm of the unit, highest priority then newest first.
// Rows are keyed by alarm id and reused, so a row never flickers or loses keyboard focus
// when the list changes. New alarms are read out through an assertive live region.

import { el, setText, setClass, setAttr, num, clockTime } from "./format.js";
import { state, allAlarms, patchAlarm, serverNow } from "./state.js";
import { act, ApiError } from "./api.js";
import { currentUser } from "./session.js";
import { stripButton } from "./strip.js";

const PRIORITY_TEXT = { high: "HIGH", medium: "MED", low: "LOW" };

export class AlarmPanel {
  constructor(list, announcer, counter) {
    this.list = list;
    this.announcer = announcer;
    this.counter = counter;
    this.rows = new Map(); // alarm id -> {root, ...}
    this.pending = new Set(); // alarm ids being acknowledged
  }

  render() {
    const alarms = allAlarms();
    const seen = new Set();
    let previous = null;
    for (const a of alarms) {
      seen.add(a.alarm_id);
      let row = this.rows.get(a.alarm_id);
      if (!row) {
        row = this.build(a);
        this.rows.set(a.alarm_id, row);
      }
      this.fill(row, a);
      // Keep DOM order = sorted order, moving only rows that are out of place.
      const want = previous ? previous.nextSibling : this.list.firstChild;
      if (want !== row.root) this.list.insertBefore(row.root, want);
      previous = row.root;
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.root.remove();
        this.rows.delete(id);
      }
    }
    setText(this.counter, alarms.length ? String(alarms.length) : "");
    setClass(this.list.parentElement, "has-alarms", alarms.length > 0);
  }

  build(a) {
    const button = el("button", { type: "button", class: "ack-btn", "data-action": "acknowledge",
      textContent: "Acknowledge" });
    const root = el("li", { class: "alarm-row", "data-alarm-rule": a.rule,
      "data-alarm-id": a.alarm_id, "data-bed-id": a.bed_id },
      el("span", { class: "prio" }),
      el("a", { class: "a-bed", href: `#bed/${encodeURIComponent(a.bed_id)}` }),
      el("span", { class: "a-msg" }),
      el("span", { class: "a-time" }),
      el("span", { class: "a-value" }),
      el("span", { class: "a-tools" }, stripButton(a), el("span", { class: "a-ack" })),
      button);
    button.addEventListener("click", () => this.acknowledge(a.alarm_id, button));
    const q = (s) => root.querySelector(s);
    return { root, button, prio: q(".prio"), bed: q(".a-bed"), msg: q(".a-msg"),
      time: q(".a-time"), value: q(".a-value"), ack: q(".a-ack") };
  }

  fill(row, a) {
    const bed = state.beds.get(a.bed_id);
    setAttr(row.root, "data-alarm-rule", a.rule);
    setAttr(row.root, "data-priority", a.priority);
    const st = a.acknowledged ? "acknowledged" : a.condition_active === false ? "latched" : "active";
    setAttr(row.root, "data-state", st);
    setClass(row.root, "technical", a.technical);
    setText(row.prio, PRIORITY_TEXT[a.priority] || a.priority);
    setText(row.bed, bed ? bed.label : a.bed_id);
    setText(row.msg, a.message || a.rule);
    setText(row.time, clockTime(a.onset));
    setText(row.value, a.value === null || a.value === undefined ? "" : num(a.value, Number.isInteger(a.value) ? 0 : 1));
    let note = "";
    if (a.acknowledged) note = `ack ${a.acked_by || ""} ${a.acked_at ? clockTime(a.acked_at) : ""}`.trim();
    else if (st === "latched") note = "ended, latched";
    else if (a.escalated) note = "escalated to charge nurse";
    setText(row.ack, note);
    row.button.hidden = Boolean(a.acknowledged);
    row.button.disabled = this.pending.has(a.alarm_id);
    setAttr(row.button, "aria-label", `Acknowledge ${bed ? bed.label : a.bed_id}: ${a.message || a.rule}`);
  }

  async acknowledge(alarmId, button) {
    this.pending.add(alarmId);
    button.disabled = true;
    try {
      const res = await act(`/api/alarms/${encodeURI(alarmId)}/acknowledge`, {}, "Acknowledge");
      if (res) {
        // The live stream confirms it; show it at once meanwhile.
        // The server records the signed-in user; show its answer, else who is signed in.
        patchAlarm(alarmId, { acknowledged: true, acked_by: res.acked_by || currentUser(),
          acked_at: res.acked_at ?? serverNow() });
      }
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 409)) {
        // It ended meanwhile: the stream removes it.
      }
    } finally {
      this.pending.delete(alarmId);
      button.disabled = false;
      this.render();
    }
  }

  /** Read out onsets, re-announcements and priority rises (not every log record). */
  announce(msg) {
    const e = msg.event;
    if (!e || !["onset", "reannounce", "priority_change", "escalation"].includes(e.event)) return;
    const bed = state.beds.get(msg.bed_id);
    const text = `${bed ? bed.label : msg.bed_id}: ${e.message || e.rule}, ${e.priority} priority`;
    setText(this.announcer, text);
  }
}
