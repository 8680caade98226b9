// The live connection: /ws/live with a watchdog. The server sends a heartbeat every
// second; hearing nothing for 5 s means our picture is stale (docs/api.md). We then close
// the socket ourselves (a half-open TCP connection may never report an error) and
// reconnect with a backoff capped at 5 s.

const SILENCE_MS = 5000;
const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 5000;

export class LiveConnection {
  /**
   * @param {object} opts
   * @param {(msg: object) => void} opts.onMessage every parsed message
   * @param {(live: boolean) => void} opts.onLive data flowing or not
   */
  constructor({ onMessage, onLive }) {
    this.onMessage = onMessage;
    this.onLive = onLive;
    this.waveformBeds = [];
    this.socket = null;
    this.lastMessageAt = Date.now(); // the page load counts: 5 s without a server = banner
    this.backoff = BACKOFF_START_MS;
    this.retryTimer = null;
    this.live = false;
    setInterval(() => this.watchdog(), 500);
  }

  url() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const q = this.waveformBeds.length
      ? `?waveforms=${this.waveformBeds.map(encodeURIComponent).join(",")}`
      : "";
    return `${proto}://${location.host}/ws/live${q}`;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.onopen = () => {
      this.backoff = BACKOFF_START_MS;
    };
    socket.onmessage = (ev) => {
      if (socket !== this.socket) return;
      this.lastMessageAt = Date.now();
      this.setLive(true);
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        console.warn("unreadable live message");
        return;
      }
      this.onMessage(msg);
    };
    socket.onclose = () => {
      if (socket !== this.socket) return; // replaced on purpose
      this.socket = null;
      this.scheduleReconnect();
    };
    socket.onerror = () => {}; // onclose follows; the watchdog decides what the nurse sees
  }

  scheduleReconnect() {
    if (this.retryTimer) return;
    const delay = this.backoff;
    this.backoff = Math.min(BACKOFF_MAX_MS, this.backoff * 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Ask for waveforms of these beds (reconnects when the set changes). */
  setWaveformBeds(ids) {
    const next = [...ids].sort();
    if (next.join(",") === this.waveformBeds.join(",")) return;
    this.waveformBeds = next;
    if (this.socket) {
      const old = this.socket;
      this.socket = null;
      old.close();
      this.connect();
    }
  }

  watchdog() {
    if (Date.now() - this.lastMessageAt <= SILENCE_MS) return;
    this.setLive(false);
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      // Silent but "open": drop it and start again.
      const old = this.socket;
      this.socket = null;
      old.close();
      this.scheduleReconnect();
    }
  }

  setLive(live) {
    if (this.live === live) return;
    this.live = live;
    this.onLive(live);
  }
}
