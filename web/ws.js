// The live connection: /ws/live with a watchdog. The server sends a heartbeat every
// second; hearing nothing for 5 s means our picture is stale (docs/api.md). We then close
// the socket ourselves (a half-open TCP connection may never report an error) and
// reconnect with a backoff capped at 5 s.
//
// The server refuses the socket at the handshake when nobody is signed in. A browser cannot
// tell that from a dead server (both are a close without open, code 1006), so after such a
// close, or a close with 4401/1008, we ask GET /api/me: a 401 means the session ended and
// the nurse goes to the sign-in page; anything else (no answer at all included) is server
// loss, handled as before by the banner and the reconnect.

import { checkSession as askSession } from "./session.js";

const SILENCE_MS = 5000;
const BACKOFF_START_MS = 250;
const BACKOFF_MAX_MS = 5000;
const AUTH_CLOSE_CODES = new Set([4401, 1008]);

export class LiveConnection {
  /**
   * @param {object} opts
   * @param {(msg: object) => void} opts.onMessage every parsed message
   * @param {(live: boolean) => void} opts.onLive data flowing or not
   * @param {() => Promise<boolean>} [opts.checkSession] asks the server whether the session
   *   still holds and leaves for the sign-in page when not (default: session.js)
   */
  constructor({ onMessage, onLive, checkSession }) {
    this.onMessage = onMessage;
    this.onLive = onLive;
    this.checkSession = checkSession || askSession;
    this.checking = false;
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
    let opened = false;
    socket.onopen = () => {
      opened = true;
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
    socket.onclose = (ev) => {
      if (socket !== this.socket) return; // replaced on purpose
      this.socket = null;
      if (!opened || AUTH_CLOSE_CODES.has(ev.code)) this.verifySession();
      this.scheduleReconnect();
    };
    socket.onerror = () => {}; // onclose follows; the watchdog decides what the nurse sees
  }

  /** Refused or never opened: signed out, or just no server? (One question at a time.) */
  async verifySession() {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.checkSession();
    } catch {
      /* no answer: server loss, the watchdog shows it */
    } finally {
      this.checking = false;
    }
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
