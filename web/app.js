// SPU Monitor central station: entry point. Wires the live connection to the views.
// Plain ES modules, no build step; everything is served from web/.
//
//   ws.js       live connection, watchdog, reconnect
//   state.js    the unit's picture folded from live messages
//   tiles.js    overview tiles            alarms.js  alarm panel
//   waveform.js sweeping waveforms        audio.js   alarm tones
//   detail.js   bed detail and session    trends.js  trend canvas
//     admit.js, infusion.js, charting.js, journal.js: the session's parts
//   records.js  patients, a patient's course, a past session, reports (over the overview)
//     patients.js, course.js, past.js, reports.js
//   session.js  who is signed in          api.js     HTTP actions
//   forms.js    form parts and dialogs    vocab.js   the records' coded lists
//   login.js    the sign-in page (login.html)

import { LiveConnection } from "./ws.js";
import { state, subscribe, applyMessage, setLive, audioPaused } from "./state.js";
import { Overview } from "./tiles.js";
import { AlarmPanel } from "./alarms.js";
import { WaveformHub } from "./waveform.js";
import { Detail } from "./detail.js";
import { RecordsView, recordsRoute } from "./records.js";
import { loadSession, initSession, hasRole } from "./session.js";
import { initAudio, enableSound, soundTest, setAudible, soundOn } from "./audio.js";
import { setText } from "./format.js";

const $ = (id) => document.getElementById(id);

// Who is signed in. Not signed in: this goes to the sign-in page and never returns, so no
// WebSocket is opened. Server unreachable: it returns and the banner tells the nurse.
await loadSession();
initSession($("user-box"));
$("nav-audit").hidden = !hasRole("admin"); // the audit trail is for admins

const hub = new WaveformHub();
const overview = new Overview($("beds"), hub);
const panel = new AlarmPanel($("alarm-list"), $("alarm-announcer"), $("alarm-count"));
const detail = new Detail($("detail"), hub);
const records = new RecordsView($("records"));

// ---- sound ------------------------------------------------------------------------------

const soundButton = $("sound-toggle");
initAudio((on) => {
  soundButton.textContent = on ? "Sound on" : "Sound is off — click to enable";
  soundButton.classList.toggle("off", !on);
  soundButton.setAttribute("aria-pressed", String(on));
  updateAudible();
});
soundButton.addEventListener("click", () => enableSound());
$("sound-test").addEventListener("click", () => soundTest());

/** Tell the audio module what must sound now. */
function updateAudible() {
  let top = "";
  const lowKeys = [];
  const rank = { high: 3, medium: 2, low: 1, "": 0 };
  for (const bed of state.beds.values()) {
    if (audioPaused(bed)) continue;
    for (const a of bed.alarms) {
      if (a.acknowledged) continue;
      if (rank[a.priority] > rank[top]) top = a.priority;
      if (a.priority === "low") lowKeys.push(`${a.alarm_id}|${a.message}`);
    }
  }
  // Losing the server is a technical alarm of the central station itself: we can no
  // longer show any bed's alarms (distributed alarm system, IEC 60601-1-8).
  if (!state.live && state.beds.size && rank.medium > rank[top]) top = "medium";
  setAudible(top, lowKeys);
  // An alarm that cannot be heard: make the "sound is off" button impossible to miss.
  soundButton.classList.toggle("urgent", Boolean(top) && !soundOn());
}

// ---- live data --------------------------------------------------------------------------

const live = new LiveConnection({
  onMessage(msg) {
    if (msg.type === "waveform") hub.push(msg);
    else applyMessage(msg);
  },
  onLive(ok) {
    setLive(ok);
  },
});

subscribe((kind, detailArg) => {
  switch (kind) {
    case "beds":
      setText($("unit-name"), state.unit);
      overview.sync();
      requestWaveforms();
      break;
    case "bed":
      overview.update(detailArg);
      if (detail.bedId === detailArg) detail.update();
      break;
    case "alarms":
      panel.render();
      updateAudible();
      break;
    case "alarm-event":
      panel.announce(detailArg);
      detail.onAlarmEvent(detailArg);
      break;
    case "system": {
      // A technical condition of the service itself (storage failing): unit-wide.
      const banner = $("system-banner");
      setText(banner, state.system.map((c) => c.message).join(" · "));
      banner.hidden = state.system.length === 0;
      break;
    }
    case "live":
      $("connection-banner").hidden = detailArg;
      document.body.classList.toggle("disconnected", !detailArg);
      overview.updateAll();
      detail.update();
      updateAudible();
      break;
    default:
      break;
  }
});

document.addEventListener("spu:audible-changed", updateAudible);
document.addEventListener("spu:bed-changed", (ev) => {
  overview.update(ev.detail);
  detail.update();
});

// ---- views ------------------------------------------------------------------------------

/** Waveforms only for the beds on screen: all tiles, the one bed in detail, or none. */
function requestWaveforms() {
  live.setWaveformBeds(detail.bedId ? [detail.bedId] : records.open ? [] : overview.ids());
}

function route() {
  const m = /^#bed\/(.+)$/.exec(location.hash);
  const bedId = m ? decodeURIComponent(m[1]) : null;
  const rec = bedId ? null : recordsRoute(location.hash);
  if (bedId && state.beds.size && !state.beds.has(bedId)) {
    location.hash = "";
    return;
  }
  $("beds").hidden = Boolean(bedId || rec);
  $("detail").hidden = !bedId;
  $("records").hidden = !rec;
  document.body.dataset.view = bedId ? "detail" : rec ? rec.view : "overview";
  for (const [id, views] of [["nav-patients", ["patients", "patient", "session"]], ["nav-reports", ["reports"]],
    ["nav-audit", ["audit"]]]) {
    if (rec && views.includes(rec.view)) $(id).setAttribute("aria-current", "page");
    else $(id).removeAttribute("aria-current");
  }
  if (rec) records.show(rec);
  else records.close();
  if (bedId) {
    if (state.beds.has(bedId)) detail.open(bedId);
  } else {
    detail.close();
    if (!rec) overview.layout();
  }
  requestWaveforms();
}

window.addEventListener("hashchange", route);
subscribe((kind) => {
  // A #bed/ link opened before the first snapshot: open it once the beds are known.
  if (kind === "beds" && /^#bed\//.test(location.hash) && !detail.bedId) route();
});

// Escape leaves the detail and records views. In a text field it first only leaves the
// field (a nurse typing must not lose a half-filled form by reflex).
const TEXT_INPUT = /^(text|search|number|date|time|email|tel|url|password)$/;
document.addEventListener("keydown", (ev) => {
  if (ev.key !== "Escape" || !(detail.bedId || records.open) || document.querySelector("dialog[open]")) return;
  const t = ev.target;
  if ((t instanceof HTMLInputElement && TEXT_INPUT.test(t.type)) || t instanceof HTMLTextAreaElement ||
    t instanceof HTMLSelectElement) {
    t.blur();
    return;
  }
  location.hash = "";
});

// Once a second: clock, ages, countdowns, audio-pause expiry.
setInterval(() => {
  setText($("clock"), new Date().toLocaleTimeString([], { hour12: false }));
  overview.updateAll();
  detail.update();
  updateAudible();
}, 1000);

route();
live.connect();
