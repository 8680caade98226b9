"""Two real servers on one throwaway PostgreSQL, each with its own unit file and a simulated
oximeter on a pty: each shows both beds live (``/api/beds``, ``/ws/live``); an alarm of A's
bed acknowledged through B is acknowledged on A and seen on both; an audio pause through B
is A's; other actions on A's bed through B answer 409 naming A; B killed (SIGKILL) gives
its bed the technical alarm on A within 10 s, cleared when B is back."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import ARTIFACTS, MS
from tests.liveserver import TEST_PASSWORD, free_port
from tests.pgserver import throwaway_postgres
from tests.processes import CLI, cli, until

_LOGGER = logging.getLogger(__name__)

LOST_WITHIN_S = 10.0
FIGURES = ARTIFACTS / "cluster-figures.json"
"""What the test measured (fan-out delays, loss detection), for docs/deployment.md."""


@pytest.fixture(scope="module")
def postgres_url():
    yield from throwaway_postgres()


class Server:
    """``spu-monitor serve`` as its own process, named for the cluster."""

    def __init__(self, name: str, config: Path, db: str, log: Path) -> None:
        self.name, self.config, self.db, self.log = name, config, db, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "MONITOR_SERVER_NAME": self.name}
        self.process = subprocess.Popen(
            CLI + ["serve", "--config", str(self.config), "--db", self.db, "--port",
                   str(self.port), "--log-level", "warning"],
            env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _bed(beds: list[dict], bed_id: str) -> dict | None:
    return next((b for b in beds if b["id"] == bed_id), None)


def _live_beds(beds: list[dict]) -> bool:
    return all((b := _bed(beds, i)) is not None and "SPO2" in b["latest"]
               for i in ("bed-a", "bed-b"))


def _lost(beds: list[dict]) -> dict | None:
    bed = _bed(beds, "bed-b")
    return next((a for a in bed["alarms"] if a["rule"] == "SERVER_LOST"), None) if bed else None


@pytest.fixture
async def devices(tmp_path: Path):
    """A hypoxic patient on A's oximeter, a well one on B's, each on its own pty."""
    ports = {bed: PtyPort(link=str(tmp_path / f"tty-{bed}")) for bed in ("bed-a", "bed-b")}
    sims = [asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"],
                                             ports["bed-a"], patient=Patient(spo2=89.6))),
            asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"],
                                             ports["bed-b"], patient=Patient()))]
    yield {bed: str(tmp_path / f"tty-{bed}") for bed in ports}
    for sim in sims:
        sim.cancel()
    await asyncio.gather(*sims, return_exceptions=True)
    for port in ports.values():
        port.close()


def _unit(path: Path, bed: str, tty: str) -> Path:
    path.write_text(f"""
[alarms.rules.SPO2_LOW]
delay = 2

[[beds]]
id = "{bed}"
devices = [{{ id = "{bed}-ox", protocol = "masimo", port = "{tty}" }}]
""")
    return path


async def _stream_delays(server: Server, headers: dict, seconds: float) -> dict[str, list]:
    """Open the server's live stream: its snapshot's beds, and per bed how long each SpO2
    reading took from the device's read time to this client."""
    delays: dict[str, list[float]] = {"bed-a": [], "bed-b": []}
    ws_url = server.url.replace("http", "ws") + "/ws/live"
    async with connect(ws_url, additional_headers=headers) as ws:
        snapshot = json.loads(await ws.recv())
        delays["snapshot"] = [b["id"] for b in snapshot["beds"]]
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                async with asyncio.timeout(end - time.monotonic()):
                    message = json.loads(await ws.recv())
            except TimeoutError:
                break
            if message["type"] == "vitals" and "SPO2" in message["values"]:
                delays[message["bed_id"]].append(
                    time.time() - message["values"]["SPO2"]["time"])
    return delays


def _ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (f"median {statistics.median(values) * 1000:.0f} ms, "
            f"max {max(values) * 1000:.0f} ms ({len(values)})")


async def test_two_servers_on_one_postgres(postgres_url: str, devices: dict, tmp_path: Path
                                           ) -> None:
    cli("users", "add", "ada", "--role", "nurse", "--db", postgres_url,
         stdin=TEST_PASSWORD + "\n")
    token = cli("users", "token", "ada", "--name", "test", "--db", postgres_url).split()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    a = Server("A", _unit(tmp_path / "a.toml", "bed-a", devices["bed-a"]), postgres_url,
               tmp_path / "a.log")
    b = Server("B", _unit(tmp_path / "b.toml", "bed-b", devices["bed-b"]), postgres_url,
               tmp_path / "b.log")
    figures: dict[str, object] = {}
    a.start()
    b.start()
    try:
        async with httpx.AsyncClient(base_url=a.url, headers=headers) as on_a, \
                httpx.AsyncClient(base_url=b.url, headers=headers) as on_b:
            await _both_servers_show_both_beds(a, b, on_a, on_b, headers, figures)
            await _acknowledged_through_b_is_acknowledged_on_a(on_a, on_b, a)
            await _b_killed_then_back(a, b, on_a, on_b, headers, figures)
    finally:
        a.stop()
        b.stop()
        for server in (a, b):
            _LOGGER.info("server %s log:\n%s", server.name, server.log.read_text()[-3000:])
        ARTIFACTS.mkdir(exist_ok=True)
        FIGURES.write_text(json.dumps(figures, indent=1) + "\n")
    assert cli("audit", "verify", "--db", postgres_url)


async def _both_servers_show_both_beds(a: Server, b: Server, on_a: httpx.AsyncClient,
                                       on_b: httpx.AsyncClient, headers: dict,
                                       figures: dict) -> None:
    for http in (on_a, on_b):
        beds = await until(http, "/api/beds", lambda beds: _live_beds(beds) and beds,
                           40_000 * MS)
        assert [x["id"] for x in beds][0] in ("bed-a", "bed-b")  # its own bed first
    first = {x["id"]: x["latest"]["SPO2"]["time"] for x in (await on_a.get("/api/beds")).json()}
    await until(on_a, "/api/beds", lambda beds: all(
        x["latest"]["SPO2"]["time"] > first[x["id"]] for x in beds), 10_000 * MS)  # live
    streams = await asyncio.gather(_stream_delays(a, headers, 6.0),
                                   _stream_delays(b, headers, 6.0))
    for name, stream in zip("AB", streams, strict=True):
        assert sorted(stream["snapshot"]) == ["bed-a", "bed-b"], (name, stream["snapshot"])
        assert stream["bed-a"] and stream["bed-b"], (name, stream)
    figures["reading_to_screen"] = {
        "A's bed on A": _ms(streams[0]["bed-a"]), "A's bed on B": _ms(streams[1]["bed-a"]),
        "B's bed on B": _ms(streams[1]["bed-b"]), "B's bed on A": _ms(streams[0]["bed-b"])}
    for http in (on_a, on_b):
        cluster = (await http.get("/healthz")).json()["cluster"]
        figures[f"healthz {cluster['server']}"] = {
            k: cluster[k] for k in ("delay_ms", "echo_ms", "counters")}
        assert cluster["listening"] and not any(s["lost"] for s in cluster["servers"].values())


async def _acknowledged_through_b_is_acknowledged_on_a(on_a: httpx.AsyncClient,
                                                       on_b: httpx.AsyncClient,
                                                       a: Server) -> None:
    r = await on_a.post("/api/beds/bed-a/admit", json={"patient_label": "K. Ill"})
    assert r.status_code == 201, r.text
    r = await on_a.post("/api/beds/bed-a/baseline",
                        json={"reason": "clinic values", "hr": 70, "sys": 120, "dia": 80})
    assert r.status_code == 200, r.text
    assert (await on_a.post("/api/beds/bed-a/infusion/start", json={})).is_success

    def spo2_low(alarms: list[dict]) -> dict | None:
        return next((x for x in alarms if x["rule"] == "SPO2_LOW"), None)

    alarm = await until(on_b, "/api/alarms", spo2_low, 40_000 * MS)  # seen on B
    assert alarm["bed_id"] == "bed-a" and not alarm["acknowledged"]
    r = await on_b.post(f"/api/alarms/{alarm['alarm_id']}/acknowledge", json={})
    assert r.status_code == 200, r.text
    assert r.json()["acknowledged"] and r.json()["acked_by"] == "ada", r.text
    acked = (await on_a.get("/api/alarms")).json()  # A answered only once it had committed
    assert spo2_low(acked)["acknowledged"] and spo2_low(acked)["acked_by"] == "ada"
    await until(on_b, "/api/alarms", lambda x: spo2_low(x)["acknowledged"], 5_000 * MS)
    log = (await on_b.get("/api/alarms/log", params={"bed_id": "bed-a"})).json()
    assert any(e["event"] == "acknowledged" and e["user"] == "ada"
               and e["alarm_id"] == alarm["alarm_id"] for e in log)

    r = await on_b.post("/api/beds/bed-a/audio-pause", json={"seconds": 120})
    assert r.status_code == 200, r.text
    paused = r.json()["audio_paused_until"]
    assert (await on_a.get("/api/beds/bed-a")).json()["audio_paused_until"] == paused
    await until(on_b, "/api/beds/bed-a", lambda x: x["audio_paused_until"] == paused,
                5_000 * MS)

    r = await on_b.post("/api/beds/bed-a/infusion/stop", json={})
    assert r.status_code == 409, r.text
    assert "server A" in r.json()["detail"] and a.url in r.json()["detail"]
    assert (await on_b.get("/api/beds/bed-a")).json()["admission"]["patient_label"]


async def _watch(server: Server, headers: dict, into: list[dict]) -> None:
    """Keep the server's live stream's messages (until cancelled)."""
    async with connect(server.url.replace("http", "ws") + "/ws/live",
                       additional_headers=headers) as ws:
        async for text in ws:
            into.append(json.loads(text))


async def _b_killed_then_back(a: Server, b: Server, on_a: httpx.AsyncClient,
                              on_b: httpx.AsyncClient, headers: dict, figures: dict) -> None:
    assert _lost((await on_a.get("/api/beds")).json()) is None
    on_screen: list[dict] = []
    watch = asyncio.create_task(_watch(a, headers, on_screen))
    await until(on_a, "/healthz", lambda _: on_screen, 5_000 * MS)  # the snapshot came
    os.kill(b.process.pid, signal.SIGKILL)
    b.process.wait(10)
    killed = time.monotonic()
    lost = await until(on_a, "/api/beds", _lost, 20_000 * MS)
    took = time.monotonic() - killed
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)
    assert any(m["type"] == "alarm" and m["bed_id"] == "bed-b"
               and m["event"]["rule"] == "SERVER_LOST" and m["event"]["event"] == "onset"
               and m["alarms"][0]["rule"] == "SERVER_LOST" for m in on_screen)
    figures["SIGKILL to SERVER_LOST on the other (s)"] = round(took, 2)
    assert took < LOST_WITHIN_S
    assert lost["technical"] and "Server B not heard" in lost["message"]
    bed_b = _bed((await on_a.get("/api/beds")).json(), "bed-b")
    assert bed_b["connection"] == "stale"
    r = await on_a.post("/api/beds/bed-b/audio-pause", json={})
    assert r.status_code == 503, r.text  # B cannot do it: not heard
    r = await on_a.post(f"/api/alarms/{lost['alarm_id']}/acknowledge", json={})
    assert r.status_code == 200 and r.json()["acked_by"] == "ada", r.text

    b.start()
    back = time.monotonic()
    await until(on_b, "/healthz", lambda h: h["status"] == "ok", 40_000 * MS)
    up = time.monotonic() - back
    await until(on_a, "/api/beds", lambda beds: _lost(beds) is None, 40_000 * MS)
    figures["restart: B answers, SERVER_LOST cleared on A (s)"] = [
        round(up, 2), round(time.monotonic() - back, 2)]
    await until(on_a, "/api/beds", lambda beds: _bed(beds, "bed-b")["connection"]
                == "connected", 40_000 * MS)
    await until(on_b, "/api/beds", _live_beds, 40_000 * MS)
    figures["healthz A at the end: B's batches, sent to received (ms)"] = (
        await on_a.get("/healthz")).json()["cluster"]["delay_ms"]

    os.kill(b.process.pid, signal.SIGTERM)  # a clean stop says so, not after 8 s of silence
    stopped = time.monotonic()
    lost = await until(on_a, "/api/beds", _lost, 20_000 * MS)
    took = time.monotonic() - stopped
    figures["SIGTERM to SERVER_LOST on the other (s)"] = round(took, 2)
    assert took < LOST_WITHIN_S
    b.stop()
    assert "Server B was stopped" in lost["message"]
