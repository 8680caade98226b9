"""``spu-monitor bench``: the whole path measured as a unit would run it.

N beds on real ptys, each a GE S/5 (ECG 300 Hz, pleth 100 Hz, numerics) and an oximeter,
run by the simulator fleet in a child process; the real ``spu-monitor serve`` in another,
with full disclosure on; K WebSocket clients taking every waveform. Alarm latency is
measured on extra probe beds whose oximeters this command writes itself: from writing the
first frame of a desaturation, plus the rule's clinical delay, to a client receiving the
alarm. Review loads are timed on the running server: 30-s waveform windows (an alarm's
strip) and a seeded 4-hour past session's trends. Each decoder's throughput is measured
against its line rate. One JSON object on standard output; progress on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROBE_DELAY_S = 3.0
"""SPO2_LOW's delay on the bench's unit (shortened so a run sees many alarms)."""
USER = "bench"
PASSWORD = "bench password, throwaway database"


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``bench`` options."""
    p.add_argument("--beds", type=int, default=16, help="beds (1-64, default 16)")
    p.add_argument("--seconds", type=float, default=30.0,
                   help="seconds to measure (default 30)")
    p.add_argument("--clients", type=int, default=1,
                   help="WebSocket clients taking every waveform (default 1)")
    p.add_argument("--probes", type=int, default=4,
                   help="extra beds whose oximeter desaturates, for alarm latency (default 4)")
    p.add_argument("--warmup", type=float, default=8.0,
                   help="seconds for the devices to connect first (default 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object (default)")
    p.add_argument("--no-decoders", action="store_true",
                   help="skip the decoder throughput measurement")
    p.add_argument("--decoder-seconds", type=float, default=60.0,
                   help="device seconds of each protocol's stream to decode (default 60)")


def _say(text: str) -> None:
    if sys.stderr.isatty():
        print(f"bench: {text}", file=sys.stderr, flush=True)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _pcts(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p99": None, "n": 0}
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 1),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
            "n": len(ordered)}


def _unit_file(d: Path, beds: int, probes: int) -> str:
    lines = [f"[alarms.rules.SPO2_LOW]\ndelay = {PROBE_DELAY_S:g}\n"]
    for i in range(1, beds + 1):
        lines.append(f'[[beds]]\nid = "bed-{i}"\ndevices = [\n'
                     f'  {{ id = "bed-{i}-ge", protocol = "ge_s5", port = "{d / f"ge-{i}"}" }},\n'
                     f'  {{ id = "bed-{i}-ox", protocol = "masimo", port = "{d / f"ox-{i}"}" }},\n'
                     "]\n")
    for j in range(1, probes + 1):
        lines.append(f'[[beds]]\nid = "probe-{j}"\ndevices = [{{ id = "probe-{j}-ox", '
                     f'protocol = "masimo", port = "{d / f"probe-{j}"}" }}]\n')
    return "\n".join(lines)


def _fleet_plan(beds: int) -> list[dict[str, object]]:
    from simulators.fleet import SimulatedDevice
    from simulators.scenarios import Patient

    plan = []
    for i in range(1, beds + 1):
        patient = Patient(seed=i)
        plan.append(SimulatedDevice(f"ge-{i}", "ge_s5", "stable", patient, {}).to_dict())
        plan.append(SimulatedDevice(f"ox-{i}", "masimo", "stable", patient, {}).to_dict())
    return plan


def _cli(*args: str, stdin: str = "") -> str:
    out = subprocess.run([sys.executable, "-m", "monitor", *args], input=stdin, text=True,
                         capture_output=True, check=True)
    return out.stdout.strip()


@dataclass
class Probes:
    """The probe beds' oximeters: desaturate until the alarm arrives, recover for 8 s (the
    alarm ends), desaturate again."""

    ports: list[Any]
    low_since: dict[str, float] = field(default_factory=dict)
    """Probe bed -> when the first frame of its desaturation was written."""
    normal_until: dict[str, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        """Write every probe's frame once a second until ``stop``."""
        from simulators.masimo import MasimoDeviceCodec
        from simulators.scenarios import Vitals

        codecs = [MasimoDeviceCodec() for _ in self.ports]
        first = time.time()
        for j in range(len(self.ports)):
            self.normal_until[f"probe-{j + 1}"] = first + 4.0 + j  # staggered
        while not stop.is_set():
            t = time.time()
            for j, (port, codec) in enumerate(zip(self.ports, codecs, strict=True)):
                bed = f"probe-{j + 1}"
                if bed not in self.low_since and t >= self.normal_until[bed]:
                    self.low_since[bed] = t
                elif bed in self.low_since and t - self.low_since[bed] > 30:
                    self.low_since.pop(bed)  # no alarm came: try again
                    self.normal_until[bed] = t + 8.0
                low = bed in self.low_since
                port.write(codec.encode(t, Vitals(spo2=88.0 if low else 97.0)))
            await asyncio.sleep(max(0.0, 1.0 - (time.time() - t)))

    def alarm(self, bed: str, received: float) -> None:
        """A client received the onset of ``bed``'s desaturation alarm."""
        start = self.low_since.pop(bed, None)
        if start is not None:
            self.latencies.append((received - start - PROBE_DELAY_S) * 1000)
            self.normal_until[bed] = received + 8.0


async def _client(ws_url: str, headers: dict[str, str], counts: dict[str, int] | None,
                  probes: Probes | None, stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    async with connect(ws_url + "/ws/live?waveforms=all", max_size=None,
                       additional_headers=headers) as ws:
        while not stop.is_set():
            try:
                async with asyncio.timeout(1.0):
                    msg = json.loads(await ws.recv())
            except TimeoutError:
                continue
            if counts is not None and msg["type"] == "waveform":
                counts[msg["metric"]] = counts.get(msg["metric"], 0) + len(msg["samples"])
            if probes is not None and msg["type"] == "alarm":
                event = msg["event"]
                if event.get("event") == "onset" and event.get("rule") == "SPO2_LOW":
                    probes.alarm(msg["bed_id"], time.time())


async def _seed_past_session(db: str) -> int:
    """A past 4-hour session with 1-Hz HR, PR and SpO2 and NIBP every 15 min; its id."""
    from monitor.config import database_url
    from monitor.domain.models import Observation
    from monitor.records import courses, patients, sessions
    from monitor.storage.database import Store
    from monitor.storage.trends import TREND_METRICS, MinuteMedians

    store = await Store.open(database_url(db))
    try:
        start = time.time() - 6 * 3600
        patient = await patients.create(store, {"identifier": "BENCH-1",
                                                "family_name": "Bench"}, USER, start)
        course = await courses.create(store, patient.id, courses.DosePlan(), USER, start)
        admission = await sessions.admit(store, "past-bed", patient, course, USER, start)
        await sessions.start_infusion(store, "past-bed", USER, start + 600)
        rows: list[Observation] = []
        for s in range(4 * 3600):
            t = start + 600 + s
            rows += [Observation.of("HR", 70 + s % 9, t, "ge", bed_id="past-bed"),
                     Observation.of("PR", 71 + s % 7, t, "ox", bed_id="past-bed"),
                     Observation.of("SPO2", 96 + s % 3, t, "ox", bed_id="past-bed")]
            if s % 900 == 0:
                rows += [Observation.of(m, v, t, "ge", bed_id="past-bed") for m, v in
                         (("NIBP_SYS", 125), ("NIBP_DIA", 80), ("NIBP_MEAN", 95))]
        minutes = MinuteMedians()  # as the store writer keeps them live
        for i in range(0, len(rows), 5000):
            batch = rows[i:i + 5000]
            closed = [m for o in batch if o.metric in TREND_METRICS and o.value is not None
                      and (m := minutes.add(o.bed_id, o.metric, o.time, o.value))]
            await store.write_batch(batch, trend_minutes=closed)
        await sessions.stop_infusion(store, "past-bed", USER, start + 600 + 4 * 3600)
        await sessions.discharge(store, "past-bed", USER, start + 700 + 4 * 3600)
        return admission.id
    finally:
        await store.close()


async def _timed(http: Any, path: str, params: dict[str, Any] | None, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await http.get(path, params=params)
        out.append((time.perf_counter() - t0) * 1000)
        r.raise_for_status()
    return out


async def _measure(url: str, headers: dict[str, str], args: argparse.Namespace,
                   probes: Probes, pids: dict[str, int], past: int) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        for j in range(1, args.probes + 1):
            r = await http.post(f"/api/beds/probe-{j}/admit", json={"patient_label": f"P{j}"})
            r.raise_for_status()
        before = (await http.get("/healthz")).json()
        counts: dict[str, int] = {}
        stop = asyncio.Event()
        cpu0 = {k: _cpu(p) for k, p in pids.items()}
        t0 = time.monotonic()
        tasks = [asyncio.create_task(_client(url.replace("http", "ws"), headers,
                                             counts if k == 0 else None,
                                             probes if k == 0 else None, stop))
                 for k in range(max(1, args.clients))]
        tasks.append(asyncio.create_task(probes.run(stop)))
        _say(f"measuring {args.seconds:g} s...")
        await asyncio.sleep(args.seconds)
        elapsed = time.monotonic() - t0
        cpu = {k: (_cpu(p) - cpu0[k]) / elapsed for k, p in pids.items()}
        sampled = dict(counts)
        after = (await http.get("/healthz")).json()
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        _say("timing review loads...")
        now = time.time()
        strip = await _timed(http, "/api/beds/bed-1/waveforms",
                             {"since": now - 40, "until": now - 10}, 20)
        trend = await _timed(http, f"/api/sessions/{past}/trends", None, 10)
    return _figures(args, elapsed, cpu, pids, sampled, before, after, probes, strip, trend)


def _figures(args: argparse.Namespace, elapsed: float, cpu: dict[str, float],
             pids: dict[str, int], counts: dict[str, int], before: dict[str, Any],
             after: dict[str, Any], probes: Probes, strip: list[float],
             trend: list[float]) -> dict[str, Any]:
    stored = (after.get("disclosure") or {}).get("bytes", 0) - \
        (before.get("disclosure") or {}).get("bytes", 0)
    return {
        "beds": args.beds, "probe_beds": args.probes, "clients": max(1, args.clients),
        "seconds": round(elapsed, 1),
        "server_cpu_cores": round(cpu["server"], 3),
        "simulator_cpu_cores": round(cpu["fleet"], 3),
        "rss_mb": round(_rss_mb(pids["server"]), 1),
        "samples_per_s": {m: round(n / elapsed / args.beds, 1) for m, n in counts.items()},
        "samples_per_s_total": round(sum(counts.values()) / elapsed),
        "dropped": after.get("dropped", {}),
        "alarm_latency_ms": _pcts(probes.latencies),
        "disclosure_bytes_per_bed_hour": round(stored / args.beds / elapsed * 3600),
        "alarm_window_ms": _pcts(strip),
        "trend_load_ms": _pcts(trend),
        "rows_stored": after.get("store_written", 0) - before.get("store_written", 0),
    }


def _decoders(seconds: float) -> dict[str, Any]:
    from simulators.throughput import measure_all

    return {t.name: {"bytes_per_s": round(t.rate), "line_rate_bytes_per_s": round(t.line_rate),
                     "ratio": round(t.ratio)}
            for t in measure_all(seconds=seconds, repeat=3)}


def _wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not start within {timeout:.0f} s")


def run(args: argparse.Namespace) -> int:
    """``spu-monitor bench``."""
    from monitor.domain.errors import ConfigError

    if not 1 <= args.beds <= 64:
        raise ConfigError("--beds must be between 1 and 64")
    result = _run(args)
    if not args.no_decoders:
        _say("measuring the decoders...")
        result["decoders"] = _decoders(args.decoder_seconds)
    print(json.dumps(result, indent=None if args.json else 2))
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: argparse.Namespace) -> dict[str, Any]:
    from simulators.port import PtyPort

    with tempfile.TemporaryDirectory(prefix="spu-bench-") as tmp:
        d = Path(tmp)
        db = str(d / "bench.db")
        (d / "unit.toml").write_text(_unit_file(d, args.beds, args.probes))
        _say("seeding a past 4-hour session...")
        past = asyncio.run(_seed_past_session(db))
        _cli("users", "add", USER, "--role", "nurse", "--db", db, stdin=PASSWORD + "\n")
        token = _cli("users", "token", USER, "--name", "bench", "--db", db).split()[-1]
        headers = {"Authorization": f"Bearer {token}"}
        probes = Probes([PtyPort(link=str(d / f"probe-{j}"))
                         for j in range(1, args.probes + 1)])
        fleet = subprocess.Popen([sys.executable, "-m", "simulators.fleet", str(d),
                                  json.dumps(_fleet_plan(args.beds))])
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--config", str(d / "unit.toml"),
             "--port", str(port), "--db", db, "--log-level", "warning"],
            stdout=subprocess.DEVNULL)
        try:
            _say(f"starting {args.beds} beds and the server...")
            _wait_ready(url, server)
            time.sleep(args.warmup)
            return asyncio.run(_measure(url, headers, args, probes,
                                        {"server": server.pid, "fleet": fleet.pid}, past))
        finally:
            # Server first: stopping the devices first would log every device as lost.
            server.terminate()
            server.wait(15)
            fleet.terminate()
            fleet.wait(15)
            for p in probes.ports:
                p.close()
