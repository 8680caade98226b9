"""Capacity benchmark: N beds of GE S/5 monitors (ECG 300 Hz, pleth 100 Hz, numerics) on
ptys, one server, one browser-like WebSocket client taking every waveform.

Prints figures; asserts nothing. Run: ``.venv/bin/python benchmarks/throughput.py --beds 64``.
The client signs in like an integration: a user and an API token made with
``spu-monitor users`` on the benchmark's database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulators.fleet import SimulatedDevice  # noqa: E402
from simulators.scenarios import Patient  # noqa: E402
from tests.liveserver import bearer, free_port  # noqa: E402

BENCH_USER = "bench"
BENCH_PASSWORD = "bench password, throwaway database"


def api_token(db: Path, env: dict[str, str]) -> str:
    """Add the benchmark's user to ``db`` (password on stdin) and issue it an API token,
    both with the real ``spu-monitor users`` command."""
    cli = [sys.executable, "-m", "monitor", "users"]
    subprocess.run(cli + ["add", BENCH_USER, "--role", "nurse", "--db", str(db)],
                   input=BENCH_PASSWORD + "\n", text=True, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    out = subprocess.run(cli + ["token", BENCH_USER, "--name", "bench", "--db", str(db)],
                         text=True, env=env, check=True, capture_output=True)
    return out.stdout.strip()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until the server answers /healthz (it takes seconds to start on a slow machine)."""
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not start within {timeout:.0f} s")
        time.sleep(0.2)


async def measure(url: str, ws_url: str, headers: dict[str, str], beds: int, seconds: float,
                  pids: dict[str, int]) -> dict[str, object]:
    samples: dict[tuple[str, str], int] = {}
    vitals = 0
    latencies: list[float] = []
    messages = 0
    async with connect(ws_url + "/ws/live?waveforms=all", max_size=None,
                       additional_headers=headers) as ws:
        await ws.recv()
        start_cpu = {k: cpu_seconds(p) for k, p in pids.items()}
        t0 = time.monotonic()
        async with asyncio.timeout(seconds + 5):
            while time.monotonic() - t0 < seconds:
                msg = json.loads(await ws.recv())
                messages += 1
                if msg["type"] == "waveform":
                    key = (msg["bed_id"], msg["metric"])
                    samples[key] = samples.get(key, 0) + len(msg["samples"])
                elif msg["type"] == "vitals":
                    vitals += 1
                    for v in msg["values"].values():
                        if v["time"]:
                            latencies.append(time.time() - v["time"])
        elapsed = time.monotonic() - t0
        cpu = {k: (cpu_seconds(p) - start_cpu[k]) / elapsed for k, p in pids.items()}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        health = (await http.get("/healthz")).json()
    ecg = [n / elapsed for (b, m), n in samples.items() if m == "ECG"]
    pleth = [n / elapsed for (b, m), n in samples.items() if m == "PLETH"]
    latencies.sort()
    return {
        "beds": beds,
        "seconds": round(elapsed, 1),
        "ws_messages_per_s": round(messages / elapsed),
        "ecg_beds_streaming": len(ecg),
        "ecg_samples_per_s_per_bed(min/avg)": (round(min(ecg, default=0)),
                                               round(sum(ecg) / max(len(ecg), 1))),
        "pleth_samples_per_s_per_bed(min/avg)": (round(min(pleth, default=0)),
                                                 round(sum(pleth) / max(len(pleth), 1))),
        "vitals_messages_per_s": round(vitals / elapsed, 1),
        "numeric_age_at_client_s(p50/p95)": (
            round(latencies[len(latencies) // 2], 2) if latencies else None,
            round(latencies[int(len(latencies) * 0.95)], 2) if latencies else None),
        "cpu_cores(server/simulators)": (round(cpu["server"], 2), round(cpu["fleet"], 2)),
        "rss_mb(server)": round(rss_mb(pids["server"])),
        "server_events_published": health["events_published"],
        "server_rows_stored": health["store_written"],
        "bus_drops": health["dropped"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beds", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=8.0,
                        help="seconds to let the devices connect once the server is up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spu-bench-") as tmp:
        d = Path(tmp)
        plan = [SimulatedDevice(f"bed-{i + 1}", "ge_s5", "stable", Patient(seed=i + 1), {})
                .to_dict() for i in range(args.beds)]
        unit = "\n".join(
            f'[[beds]]\nid = "bed-{i + 1}"\ndevices = [{{ id = "bed-{i + 1}-ge", '
            f'protocol = "ge_s5", port = "{d / f"bed-{i + 1}"}" }}]\n'
            for i in range(args.beds))
        (d / "unit.toml").write_text(unit)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        headers = bearer(api_token(d / "bench.db", env))
        fleet = subprocess.Popen([sys.executable, "-m", "simulators.fleet", str(d),
                                  json.dumps(plan)], env=env)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "monitor", "serve", "--config", str(d / "unit.toml"),
             "--port", str(port), "--db", str(d / "bench.db"), "--log-level", "warning"],
            env=env, stdout=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{port}", server)
            time.sleep(args.warmup)
            result = asyncio.run(measure(f"http://127.0.0.1:{port}",
                                         f"ws://127.0.0.1:{port}", headers, args.beds,
                                         args.seconds,
                                         {"server": server.pid, "fleet": fleet.pid}))
        finally:
            # Server first: stopping the devices first would log every device as lost.
            server.terminate()
            server.wait(10)
            fleet.terminate()
            fleet.wait(10)
    for key, value in result.items():
        print(f"{key:40} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
