// The browser's picture of the unit, folded from /ws/live messages (docs/api.md).
// Views subscribe and re-render what changed; nothing here touches the DOM.

import { PRIORITY_RANK } from "./format.js";

export const state = {
  unit: "SPU",
  beds: new Map(), // bed id -> bed, as the server sent it (see applyBed)
  order: [], // bed ids in server order
  live: false, // data is flowing (a message in the last 5 s)
  system: [], // technical conditions of the service itself (storage failing...)
  offsetMs: 0, // server clock - browser clock, from heartbeats
};

/** Now on the server's clock, POSIX seconds: ages and countdowns must not depend on the
 * workstation's clock being right. */
export function serverNow() {
  return (Date.now() + state.offsetMs) / 1000;
}

const listeners = new Set();
/** fn(kind, detail): kind is "beds" (list changed), "bed" (detail = id), "alarms",
 * "alarm-event" (detail = message), "live" (detail = bool), "system". */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
function emit(kind, detail) {
  for (const fn of listeners) {
    try {
      fn(kind, detail);
    } catch (err) {
      console.error(err); // one broken view must not stop the others
    }
  }
}

// The server owns every fact about a bed (its connection included): the browser applies
// what it is sent and never works one out itself. A "bed" message may carry only the
// fields that changed.
const BED_FIELDS = ["label", "connection", "admission", "baseline", "alarms",
  "audio_paused_until", "monitoring", "infusion_start", "nibp_due_at", "artifacts"];

function applyBed(raw, previous) {
  const bed = previous || { id: raw.id, label: raw.id, latest: {}, devices: {}, alarms: [] };
  if (raw.devices) {
    bed.devices = {};
    for (const d of raw.devices) bed.devices[d.id] = { ...d };
  }
  if (raw.latest) bed.latest = { ...raw.latest };
  for (const key of BED_FIELDS) {
    if (key in raw) bed[key] = raw[key];
  }
  if (!Array.isArray(bed.alarms)) bed.alarms = [];
  return bed;
}

/** A bed's baselines, flat: {hr, sys, dia, mean, preview} (server shape in docs/api.md). */
export function baselineOf(bed) {
  const b = bed.baseline;
  if (!b) return null;
  return {
    hr: b.hr ? b.hr.hr : null,
    sys: b.bp ? b.bp.systolic : null,
    dia: b.bp ? b.bp.diastolic : null,
    mean: b.bp ? b.bp.mean : null,
    preview: Boolean(b.preview),
  };
}

export function applyMessage(msg) {
  switch (msg.type) {
    case "snapshot": {
      state.unit = msg.unit || "SPU";
      const seen = new Set();
      for (const raw of msg.beds) {
        seen.add(raw.id);
        state.beds.set(raw.id, applyBed(raw, state.beds.get(raw.id)));
      }
      for (const id of [...state.beds.keys()]) if (!seen.has(id)) state.beds.delete(id);
      state.order = msg.beds.map((b) => b.id);
      state.system = msg.system || [];
      emit("system");
      if (msg.time) state.offsetMs = msg.time * 1000 - Date.now();
      emit("beds");
      emit("alarms");
      break;
    }
    case "heartbeat":
      if (msg.time) state.offsetMs = msg.time * 1000 - Date.now();
      break;
    case "vitals": {
      const bed = state.beds.get(msg.bed_id);
      if (!bed) return;
      for (const [metric, v] of Object.entries(msg.values)) {
        const prev = bed.latest[metric];
        // an older reading (a late NIBP) never hides a newer one
        if (!prev || prev.time <= v.time) bed.latest[metric] = { ...v, device_id: msg.device_id };
      }
      emit("bed", msg.bed_id);
      break;
    }
    case "device": {
      const bed = state.beds.get(msg.bed_id);
      if (!bed) return;
      if (msg.device) bed.devices[msg.device_id] = { ...msg.device };
      if (msg.connection) bed.connection = msg.connection;
      emit("bed", msg.bed_id);
      break;
    }
    case "bed": {
      const raw = msg.bed;
      if (!raw || !raw.id) return;
      state.beds.set(raw.id, applyBed(raw, state.beds.get(raw.id)));
      if (!state.order.includes(raw.id)) {
        state.order.push(raw.id);
        emit("beds");
      }
      emit("bed", raw.id);
      emit("alarms");
      break;
    }
    case "alarm": {
      const bed = state.beds.get(msg.bed_id);
      if (!bed) return;
      if (Array.isArray(msg.alarms)) bed.alarms = msg.alarms;
      if ("audio_paused_until" in msg) bed.audio_paused_until = msg.audio_paused_until;
      emit("bed", msg.bed_id);
      emit("alarms");
      emit("alarm-event", msg);
      break;
    }
    case "system":
      state.system = msg.conditions || [];
      emit("system");
      break;
    default:
      break; // waveforms are routed by app.js; unknown types are ignored (forward compatible)
  }
}

/** Merge a local change (e.g. a POST's answer) before the live stream confirms it. */
export function patchBed(bedId, fields) {
  const bed = state.beds.get(bedId);
  if (!bed) return;
  Object.assign(bed, fields);
  emit("bed", bedId);
  emit("alarms");
}

export function patchAlarm(alarmId, fields) {
  for (const bed of state.beds.values()) {
    const a = bed.alarms.find((x) => x.alarm_id === alarmId);
    if (a) {
      Object.assign(a, fields);
      emit("bed", bed.id);
      emit("alarms");
      return;
    }
  }
}

export function setLive(live) {
  if (state.live === live) return;
  state.live = live;
  emit("live", live);
}

/** Every active alarm of the unit: each bed's list comes in the server's order (priority
 * high > medium > low, then newest onset first); this merges them in that same order. */
export function allAlarms() {
  const out = [];
  for (const id of state.order) {
    const bed = state.beds.get(id);
    if (bed) for (const a of bed.alarms) out.push(a);
  }
  return out.sort(
    (a, b) => (PRIORITY_RANK[b.priority] || 0) - (PRIORITY_RANK[a.priority] || 0) ||
      (b.onset || 0) - (a.onset || 0),
  );
}

/** True while the bed's alarm audio is paused. */
export function audioPaused(bed) {
  return Boolean(bed.audio_paused_until && bed.audio_paused_until > serverNow());
}
