// Alarm tones through Web Audio, by priority (IEC 60601-1-8 style burst patterns):
//   high:   10 pulses (5 + 5), the burst repeating every 6 s;
//   medium: 3 pulses, repeating every 12 s;
//   low:    one short tone, once per alarm announcement.
// Browsers keep audio off until the page is allowed to play; until then the top bar shows
// "Sound is off — click to enable" (an alarm display that cannot sound must say so).
//
// Test hooks on <body>: data-sound = "on" | "off"; data-playing = "high" | "medium" |
// "low" | "" (what is sounding now); data-pulses counts the tone pulses scheduled.

const PATTERNS = {
  // pulse start offsets in seconds, pulse length, pitch, repeat interval
  high: { starts: [0, 0.18, 0.36, 0.54, 0.72, 1.4, 1.58, 1.76, 1.94, 2.12], len: 0.12,
    freq: 880, every: 6 },
  medium: { starts: [0, 0.3, 0.6], len: 0.2, freq: 660, every: 12 },
  low: { starts: [0], len: 0.25, freq: 494, every: null },
};

let ctx = null;
let wave = null;
let statusListener = () => {};
let current = ""; // priority sounding now
let nextBurstAt = 0; // performance.now() ms of the next repeat
const lowSounded = new Set(); // announcement keys of low alarms already sounded

function setBody(key, value) {
  if (document.body.dataset[key] !== value) document.body.dataset[key] = value;
}

export function soundOn() {
  return Boolean(ctx && ctx.state === "running");
}

function refreshState() {
  setBody("sound", soundOn() ? "on" : "off");
  statusListener(soundOn());
}

/** Create the audio context and resume it on the first user gesture anywhere. */
export function initAudio(onStatus) {
  statusListener = onStatus;
  setBody("playing", "");
  setBody("pulses", "0");
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) {
    refreshState();
    return;
  }
  ctx = new Ctx();
  ctx.onstatechange = refreshState;
  // A tone with harmonics (IEC asks for several; a pure sine is hard to localise).
  const real = new Float32Array([0, 1, 0.5, 0.35, 0.25, 0.18]);
  wave = ctx.createPeriodicWave(real, new Float32Array(real.length));
  const tryResume = () => {
    if (ctx.state !== "running") ctx.resume().catch(() => {});
  };
  document.addEventListener("pointerdown", tryResume, true);
  document.addEventListener("keydown", tryResume, true);
  refreshState();
  setInterval(tick, 250);
}

/** Called from the "Sound is off — click to enable" button. */
export async function enableSound() {
  if (!ctx) return false;
  try {
    await ctx.resume();
  } catch {
    /* still blocked */
  }
  refreshState();
  return soundOn();
}

function pulse(at, len, freq) {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.setPeriodicWave(wave);
  osc.frequency.value = freq;
  // Short ramps: no clicks at the pulse edges.
  gain.gain.setValueAtTime(0, at);
  gain.gain.linearRampToValueAtTime(0.25, at + 0.015);
  gain.gain.setValueAtTime(0.25, at + len - 0.02);
  gain.gain.linearRampToValueAtTime(0, at + len);
  osc.connect(gain).connect(ctx.destination);
  osc.start(at);
  osc.stop(at + len + 0.01);
  document.body.dataset.pulses = String(Number(document.body.dataset.pulses || 0) + 1);
}

function burst(priority) {
  if (!soundOn()) return;
  const p = PATTERNS[priority];
  const t0 = ctx.currentTime + 0.05;
  for (const s of p.starts) pulse(t0 + s, p.len, p.freq);
}

let wanted = { priority: "", lowKeys: [] };

/**
 * What should sound: the highest priority among alarms that are unacknowledged and whose
 * bed is not audio-paused, and the keys of low alarms (each sounds once).
 */
export function setAudible(priority, lowKeys) {
  wanted = { priority, lowKeys };
  tick();
}

function tick() {
  const on = soundOn();
  const priority = on ? wanted.priority : "";
  if (priority !== current) {
    current = priority;
    nextBurstAt = 0; // a new or higher priority sounds at once
  }
  setBody("playing", current);
  if (!on) return;
  const now = performance.now();
  if ((current === "high" || current === "medium") && now >= nextBurstAt) {
    burst(current);
    nextBurstAt = now + PATTERNS[current].every * 1000;
  }
  // Low alarms: one tone per announcement, and not on top of a higher burst.
  for (const key of wanted.lowKeys) {
    if (lowSounded.has(key)) continue;
    lowSounded.add(key);
    if (!current || current === "low") burst("low");
  }
  if (lowSounded.size > 500) lowSounded.clear();
}

let testing = false;

/** Play each pattern once (high, medium, low) so the nurse can check the speakers. */
export async function soundTest() {
  if (!soundOn() && !(await enableSound())) return false;
  if (testing) return true;
  testing = true;
  setBody("soundTest", "playing");
  burst("high");
  setTimeout(() => burst("medium"), 3000);
  setTimeout(() => burst("low"), 4600);
  setTimeout(() => {
    testing = false;
    setBody("soundTest", "done");
  }, 5200);
  return true;
}
