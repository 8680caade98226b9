// Sweeping waveforms on canvas, drawn like a bedside monitor: a cursor moves left to right
// at the device's sample rate, draws the new trace and erases a bar just ahead of itself.
//
// Why a play-out queue: messages arrive in 100 ms batches, so drawing them on arrival would
// jerk. Each sweep keeps a short queue (prebuffer ~0.4 s) and the cursor consumes samples at
// the sample rate measured in real time. When the queue runs dry (the device stopped, the
// network stalled) the cursor keeps moving and draws NOTHING: a gap, never an invented
// line. `null` samples are gaps too. A backlog over ~1.5 s is dropped (with a gap) so the
// trace never lags reality by more than that.

const PREBUFFER_S = 0.4;
const MAX_LAG_S = 1.5;
const ERASE_PX = 14; // width of the erase bar ahead of the cursor, CSS pixels

export class Sweep {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {object} opts seconds across the canvas, stroke colour, line width (CSS px),
   *   fixed range [min, max] (else auto-gain from the previous sweep).
   */
  constructor(canvas, { seconds = 6, color = "#3ddc84", lineWidth = 1.6, range = null } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.seconds = seconds;
    this.color = color;
    this.lineWidth = lineWidth;
    this.fixedRange = range;
    this.rate = 0;
    this.reset();
  }

  reset() {
    this.queue = [];
    this.head = 0; // index of the next sample to play in queue
    this.playing = false;
    this.pos = 0; // sample index within the sweep
    this.carry = 0;
    this.prev = null; // [x, y] of the last drawn point, null after a gap
    this.lastFrame = null;
    this.lo = Infinity; // range seen during the current sweep (auto-gain)
    this.hi = -Infinity;
    this.range = this.fixedRange;
    this.drawn = 0; // samples drawn (non-null), for tests and diagnostics
    this.learned = 0; // valid samples seen while there is no scale yet
    this.lastDataAt = 0;
    this.resize();
  }

  /** Match the canvas bitmap to its CSS size (sharp lines on any screen). Clears it. */
  resize() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.pos = 0;
      this.prev = null;
    }
    this.dpr = dpr;
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  queued() {
    return this.queue.length - this.head;
  }

  /** Add a message's samples (numbers, null = gap). A new sample rate restarts the sweep. */
  push(samples, rate, nowMs = performance.now()) {
    if (rate !== this.rate) {
      this.rate = rate;
      this.reset();
    }
    for (const s of samples) this.queue.push(s);
    this.lastDataAt = nowMs;
    const excess = this.queued() - Math.round(MAX_LAG_S * rate);
    if (excess > 0) {
      // Too far behind: skip ahead, and show the skip as a gap.
      this.head += excess + Math.round(PREBUFFER_S * rate);
      this.prev = null;
    }
    if (this.head > 4096) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (!this.range) this.learnRange();
  }

  // Auto-gain needs a scale before the first sweep: learn it from >= 1 s of queued samples
  // (a shorter stretch of ECG may hold no QRS complex).
  learnRange() {
    if (this.queued() < this.rate) return;
    for (let i = this.head; i < this.queue.length; i++) {
      const v = this.queue[i];
      if (v === null || !Number.isFinite(v)) continue;
      if (v < this.lo) this.lo = v;
      if (v > this.hi) this.hi = v;
    }
    if (Number.isFinite(this.lo)) this.newSweep();
  }

  /** Advance the cursor to `nowMs` and draw what is due. */
  frame(nowMs) {
    if (this.lastFrame === null) {
      this.lastFrame = nowMs;
      return;
    }
    let dt = (nowMs - this.lastFrame) / 1000;
    this.lastFrame = nowMs;
    if (!this.rate || dt <= 0) return;
    if (dt > 1) {
      // The tab slept: whatever was queued is history now. Start a clean sweep.
      this.queue = [];
      this.head = 0;
      this.playing = false;
      this.prev = null;
      dt = 0;
    }
    if (!this.playing && this.queued() >= PREBUFFER_S * this.rate) this.playing = true;
    const due = dt * this.rate + this.carry;
    const n = Math.floor(due);
    this.carry = due - n;
    if (n > 0) this.draw(n);
  }

  draw(n) {
    const { ctx, canvas } = this;
    const total = Math.max(1, Math.round(this.seconds * this.rate));
    const pxPer = canvas.width / total;
    const h = canvas.height;
    const pad = Math.max(2, h * 0.06);
    const lw = this.lineWidth * this.dpr;
    let remaining = n;
    while (remaining > 0) {
      // One stretch from the cursor to the right edge at most.
      const steps = Math.min(remaining, total - this.pos);
      const fromX = this.pos * pxPer;
      this.erase(fromX + lw, fromX + steps * pxPer + ERASE_PX * this.dpr);
      ctx.lineWidth = lw;
      ctx.lineJoin = "round";
      ctx.lineCap = "round";
      ctx.strokeStyle = this.color;
      ctx.beginPath();
      let prev = this.prev;
      for (let i = 0; i < steps; i++) {
        let v = null;
        if (this.playing) {
          if (this.head < this.queue.length) v = this.queue[this.head++];
          else this.playing = false; // ran dry: a gap until the prebuffer fills again
        }
        const x = this.pos * pxPer;
        if (v !== null && v !== undefined && Number.isFinite(v)) {
          if (v < this.lo) this.lo = v;
          if (v > this.hi) this.hi = v;
          // No scale yet: adopt one after 1 s of valid samples (enough for a QRS complex).
          if (!this.range && ++this.learned >= this.rate) this.newSweep();
        }
        if (v === null || v === undefined || !Number.isFinite(v) || !this.range) {
          prev = null;
        } else {
          const [lo, hi] = this.range;
          const y = h - pad - ((v - lo) / (hi - lo)) * (h - 2 * pad);
          if (prev) {
            ctx.moveTo(prev[0], prev[1]);
            ctx.lineTo(x, y);
          } else {
            ctx.moveTo(x, y); // a lone sample after a gap: a dot (round cap)
            ctx.lineTo(x + 0.01, y);
          }
          prev = [x, y];
          this.drawn++;
        }
        this.pos++;
      }
      ctx.stroke();
      this.prev = prev;
      remaining -= steps;
      if (this.pos >= total) {
        this.pos = 0;
        this.prev = null; // never draw a line across the wrap
        this.newSweep();
      }
    }
  }

  // Clear [fromX, toX) in bitmap pixels, wrapping past the right edge.
  erase(fromX, toX) {
    const { ctx, canvas } = this;
    const a = Math.floor(fromX);
    const b = Math.ceil(toX);
    ctx.clearRect(a, 0, Math.min(b, canvas.width) - a, canvas.height);
    if (b > canvas.width) ctx.clearRect(0, 0, b - canvas.width, canvas.height);
  }

  // At each wrap, adopt the range seen during the last sweep (auto-gain, no mid-sweep jumps).
  newSweep() {
    if (!this.fixedRange && Number.isFinite(this.lo)) {
      let lo = this.lo;
      let hi = this.hi;
      const minSpan = Math.max(Math.abs(hi), Math.abs(lo), 1e-3) * 0.2;
      if (hi - lo < minSpan) {
        const mid = (hi + lo) / 2;
        lo = mid - minSpan / 2;
        hi = mid + minSpan / 2;
      }
      const margin = (hi - lo) * 0.08;
      this.range = [lo - margin, hi + margin];
    }
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}

/**
 * Routes waveform messages to the sweeps showing them and drives all sweeps from one
 * animation-frame loop.
 */
export class WaveformHub {
  constructor() {
    this.sweeps = new Set(); // {sweep, bedId, metrics: ["ECG", "PLETH"], label?}
    this.lastEcg = new Map(); // bed id -> ms when ECG samples were last seen
    const loop = (t) => {
      for (const entry of this.sweeps) {
        if (!entry.sweep.canvas.isConnected || entry.sweep.canvas.offsetParent === null) {
          entry.sweep.lastFrame = null; // hidden: do not spend time, restart cleanly later
          continue;
        }
        entry.sweep.frame(t);
      }
      requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
    // A canvas that changes size (window resize, view switch) gets a fresh bitmap.
    this.resizer = new ResizeObserver((records) => {
      for (const r of records) {
        for (const entry of this.sweeps) if (entry.sweep.canvas === r.target) entry.sweep.resize();
      }
    });
  }

  /**
   * Show `metrics` of `bedId` on `sweep`. With several metrics the first one present wins
   * (ECG, else pleth): `onSource(metric)` is told which one is shown.
   */
  add(sweep, bedId, metrics, onSource = () => {}) {
    const entry = { sweep, bedId, metrics, source: null, onSource };
    this.sweeps.add(entry);
    this.resizer.observe(sweep.canvas);
    return () => {
      this.sweeps.delete(entry);
      this.resizer.unobserve(sweep.canvas);
    };
  }

  push(msg) {
    const now = performance.now();
    if (msg.metric === "ECG") this.lastEcg.set(msg.bed_id, now);
    for (const entry of this.sweeps) {
      if (entry.bedId !== msg.bed_id || !entry.metrics.includes(msg.metric)) continue;
      if (entry.metrics.length > 1) {
        const ecgFresh = now - (this.lastEcg.get(msg.bed_id) || -1e9) < 5000;
        const want = entry.metrics.includes("ECG") && ecgFresh ? "ECG" : msg.metric;
        if (want !== msg.metric) continue;
        if (entry.source !== want) {
          entry.source = want;
          entry.sweep.rate = 0; // new source: restart the sweep with its own scale
          entry.onSource(want);
        }
      }
      entry.sweep.push(msg.samples, msg.sample_rate, now);
    }
  }
}
