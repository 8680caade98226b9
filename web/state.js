// The browser's picture of the unit, folded from /ws/live messages (docs/api.md).
// Views subscribe and re-render what changed; nothing here touches the DOM.

import { PRIORITY_RANK } from "./format.js";

export const state = {
  unit: "SPU",
  beds: new Map(), // bed id -> normalised bed (see normaliseBed)
  order: [], // bed ids in server order
  live: false, // data is flowing (a message in the last 5 s)
  offsetMs: 0, // server clock - browser clock, from heartbeats
};

/** Now on the server's clock, POSIX seconds: ages and countdowns must not depend on the
 * workstation's clock being right. */
export function serverNow() {
  return (Date.now() + state.offsetMs) / 1000;
}

const listeners = new Set();
/** fn(kind, detail): kind is "beds" (list changed), "bed" (detail = id), "alarms",
 * "alarm-event" (detail = message), "live" (detail = bool). */
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

function normaliseBed(raw, previous) {
  const bed = previous || { id: raw.id, latest: {}, devices: {}, alarms: [] };
  bed.label = raw.label || raw.id;
  if (raw.devices) {
    bed.devices = {};
    for (const d of raw.devices) bed.devices[d.id] = { ...d };
  }
  if (raw.connection) bed.connection = raw.connection;
  if (raw.latest) bed.latest = { ...raw.latest };
  for (const key of ["admission", "baseline", "alarms", "audio_paused_until", "nibp_due_at"]) {
    if (key in raw) bed[key] = raw[key];
  }
  if (!Array.isArray(bed.alarms)) bed.alarms = [];
  bed.connection = worstState(bed);
  return bed;
}

const SEVERITY = { disconnected: 4, stale: 3, sensor_off: 2, connecting: 1, connected: 0 };

function worstState(bed) {
  const states = Object.values(bed.devices).map((d) => d.state);
  if (!states.length) return "no_device";
  return states.reduce((a, b) => ((SEVERITY[b] ?? 0) > (SEVERITY[a] ?? 0) ? b : a));
}

/** Baselines in one flat shape whatever the server nests: {hr, sys, dia, mean, preview}. */
export function baselineOf(bed) {
  const b = bed.baseline;
  if (!b) return null;
  const pick = (x, ...keys) => {
    if (x === null || x === undefined) return null;
    if (typeof x === "number") return x;
    for (const k of keys) if (typeof x[k] === "number") return x[k];
    return null;
  };
  const hr = pick(b.hr, "hr");
  const bp = b.bp || b;
  const sys = pick(bp.systolic ?? bp.sys ?? null) ?? pick(b.sys);
  const dia = pick(bp.diastolic ?? bp.dia ?? null) ?? pick(b.dia);
  const mean = pick(bp.mean ?? null);
  return { hr, sys, dia, mean, preview: Boolean(b.preview) };
}

export function applyMessage(msg) {
  switch (msg.type) {
    case "snapshot": {
      state.unit = msg.unit || "SPU";
      const seen = new Set();
      for (const raw of msg.beds) {
        seen.add(raw.id);
        state.beds.set(raw.id, normaliseBed(raw, state.beds.get(raw.id)));
      }
      for (const id of [...state.beds.keys()]) if (!seen.has(id)) state.beds.delete(id);
      state.order = msg.beds.map((b) => b.id);
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
      const dev = bed.devices[msg.device_id] || (bed.devices[msg.device_id] = { id: msg.device_id });
      if (msg.state === "info") {
        dev.info = { ...(dev.info || {}), ...(msg.info || {}) };
      } else {
        if (dev.state !== msg.state) dev.since = msg.time;
        dev.state = msg.state;
        dev.detail = msg.detail;
      }
      bed.connection = worstState(bed);
      emit("bed", msg.bed_id);
      break;
    }
    case "bed": {
      const raw = msg.bed;
      if (!raw || !raw.id) return;
      state.beds.set(raw.id, normaliseBed(raw, state.beds.get(raw.id)));
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

/** Every active alarm of the unit: priority high > medium > low, then newest onset first. */
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
