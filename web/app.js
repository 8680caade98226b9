// SPU Monitor central station: one tile per bed, fed by the /ws/live stream.
// Plain ES module, no build step.

const METRICS = [
  { key: "HR", label: "HR (ECG)", unit: "/min" },
  { key: "SPO2", label: "SpO₂", unit: "%" },
  { key: "PR", label: "Pulse", unit: "/min" },
  { key: "NIBP", label: "NIBP", unit: "mmHg" },
];
const HEARTBEAT_TIMEOUT_MS = 5000;
const STALE_VALUE_MS = 15000; // a 1 Hz value older than this is shown as stale

const beds = new Map(); // bed id -> {el, latest, devices, connection}
let lastMessageAt = 0;
let socket = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

function ensureTile(bed) {
  let entry = beds.get(bed.id);
  if (entry) return entry;
  const numerics = el("div", { class: "numerics" });
  for (const m of METRICS) {
    numerics.append(el("div", { class: "numeric", "data-metric": m.key },
      el("span", { class: "label", textContent: m.label }),
      el("span", { class: "value", textContent: "--" }),
      el("span", { class: "unit", textContent: m.unit }),
      el("span", { class: "age", textContent: "" })));
  }
  const tile = el("section", { class: "bed", "data-bed": bed.id },
    el("header", {}, el("h2", { textContent: bed.label || bed.id }),
      el("span", { class: "state", textContent: "connecting" })),
    numerics,
    el("div", { class: "flags" }));
  document.getElementById("beds").append(tile);
  entry = { el: tile, latest: {}, devices: {}, connection: "connecting" };
  beds.set(bed.id, entry);
  return entry;
}

function applySnapshot(msg) {
  document.getElementById("unit-name").textContent = msg.unit || "SPU";
  for (const bed of msg.beds) {
    const entry = ensureTile(bed);
    entry.latest = { ...bed.latest };
    for (const d of bed.devices) entry.devices[d.id] = d.state;
    entry.connection = bed.connection;
    render(bed.id);
  }
}

function applyVitals(msg) {
  const entry = beds.get(msg.bed_id);
  if (!entry) return;
  for (const [metric, v] of Object.entries(msg.values)) {
    const prev = entry.latest[metric];
    if (!prev || prev.time <= v.time) entry.latest[metric] = v;
  }
  render(msg.bed_id);
}

function applyDevice(msg) {
  const entry = beds.get(msg.bed_id);
  if (!entry || msg.state === "info") return;
  entry.devices[msg.device_id] = msg.state;
  const order = ["disconnected", "stale", "sensor_off", "connecting", "connected"];
  entry.connection = Object.values(entry.devices)
    .sort((a, b) => order.indexOf(a) - order.indexOf(b))[0] || "no_device";
  render(msg.bed_id);
}

function fmt(v) {
  return v === null || v === undefined ? "---" : String(Math.round(v));
}

function ageText(t) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - t));
  return s < 60 ? `${s} s ago` : `${Math.floor(s / 60)} min ago`;
}

function render(bedId) {
  const entry = beds.get(bedId);
  const tile = entry.el;
  const offline = entry.connection === "disconnected";
  tile.classList.toggle("offline", offline);
  tile.classList.toggle("stale", entry.connection === "stale");
  tile.querySelector(".state").textContent =
    offline ? "device offline" : entry.connection.replace("_", " ");
  const now = Date.now();
  for (const m of METRICS) {
    const box = tile.querySelector(`[data-metric="${m.key}"]`);
    const value = box.querySelector(".value");
    const age = box.querySelector(".age");
    if (m.key === "NIBP") {
      const s = entry.latest.NIBP_SYS, d = entry.latest.NIBP_DIA;
      if (s) {
        value.textContent = `${fmt(s.value)}/${d ? fmt(d.value) : "---"}`;
        age.textContent = ageText(s.time);
      }
      continue;
    }
    const v = entry.latest[m.key];
    if (!v) continue;
    value.textContent = fmt(v.value);
    const stale = now - v.time * 1000 > STALE_VALUE_MS;
    box.classList.toggle("invalid", v.value === null);
    box.classList.toggle("stale", stale);
    age.textContent = stale ? ageText(v.time) : "";
  }
  const flags = new Set();
  for (const v of Object.values(entry.latest)) for (const f of v.flags || []) flags.add(f);
  flags.delete("invalid");
  tile.querySelector(".flags").textContent = [...flags].map((f) => f.replace(/_/g, " ")).join(" · ");
}

function setConnected(ok) {
  document.getElementById("connection-banner").hidden = ok;
  document.body.classList.toggle("disconnected", !ok);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/ws/live`);
  socket.onmessage = (ev) => {
    lastMessageAt = Date.now();
    setConnected(true);
    const msg = JSON.parse(ev.data);
    if (msg.type === "snapshot") applySnapshot(msg);
    else if (msg.type === "vitals") applyVitals(msg);
    else if (msg.type === "device") applyDevice(msg);
  };
  socket.onclose = () => {
    setConnected(false);
    setTimeout(connect, 1000);
  };
}

setInterval(() => {
  document.getElementById("clock").textContent = new Date().toLocaleTimeString();
  if (lastMessageAt && Date.now() - lastMessageAt > HEARTBEAT_TIMEOUT_MS) {
    setConnected(false);
    if (socket && socket.readyState === WebSocket.OPEN) socket.close();
  }
  for (const id of beds.keys()) render(id);
}, 1000);

connect();
