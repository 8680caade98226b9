"""A user action answered with success is durable: acknowledge an alarm, kill the server
(SIGKILL) a moment later, start it again: the alarm is still acknowledged, and the alarm
log says so. The real command, a real SQLite file, a simulated oximeter on a pty."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import MS
from tests.liveserver import TEST_PASSWORD, free_port
from tests.processes import CLI
from tests.processes import cli as _cli
from tests.processes import until as _until


def _serve(config: Path, db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(CLI + ["serve", "--config", str(config), "--db", str(db),
                                   "--port", str(port), "--log-level", "warning"],
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.fixture
async def hypoxic(tmp_path: Path):
    port = PtyPort(link=str(tmp_path / "ttyOX"))
    sim = asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"], port,
                                           patient=Patient(spo2=89.6)))
    config = tmp_path / "unit.toml"
    config.write_text(f"""
[alarms.rules.SPO2_LOW]
delay = 2

[[beds]]
id = "bed-1"
devices = [{{ id = "bed-1-ox", protocol = "masimo", port = "{tmp_path / 'ttyOX'}" }}]
""")
    yield config
    sim.cancel()
    await asyncio.gather(sim, return_exceptions=True)
    port.close()


async def test_an_acknowledgement_survives_sigkill_right_after_the_answer(
    hypoxic: Path, tmp_path: Path
) -> None:
    db = tmp_path / "durable.db"
    _cli("users", "add", "ada", "--role", "nurse", "--db", str(db), stdin=TEST_PASSWORD + "\n")
    token = _cli("users", "token", "ada", "--name", "test", "--db", str(db)).split()[-1]
    port = free_port()
    log = tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    server = _serve(hypoxic, db, port, log)
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            r = await _until(http, "/api/beds", lambda beds: beds, 30_000 * MS)
            r = await http.post("/api/beds/bed-1/admit", json={"patient_label": "K. Ill"})
            assert r.status_code == 201, r.text
            r = await http.post("/api/beds/bed-1/baseline",
                                json={"reason": "clinic values", "hr": 70, "sys": 120,
                                      "dia": 80})
            assert r.status_code == 200, r.text
            assert (await http.post("/api/beds/bed-1/infusion/start", json={})).is_success
            alarm = await _until(http, "/api/alarms", lambda alarms: next(
                (a for a in alarms if a["rule"] == "SPO2_LOW"), None), 30_000 * MS)
            r = await http.post(f"/api/alarms/{alarm['alarm_id']}/acknowledge", json={})
            assert r.status_code == 200 and r.json()["acknowledged"], r.text
            os.kill(server.pid, signal.SIGKILL)  # at once: nothing after the answer runs
            server.wait(10)
        server = _serve(hypoxic, db, port, log)
        async with httpx.AsyncClient(base_url=url, headers=headers) as http:
            alarms = await _until(http, "/api/alarms", lambda a: a, 30_000 * MS)
            again = next(a for a in alarms if a["alarm_id"] == alarm["alarm_id"])
            assert again["acknowledged"] and again["acked_by"] == "ada", again
            log_records = (await http.get("/api/alarms/log",
                                          params={"bed_id": "bed-1"})).json()
            assert any(e["event"] == "acknowledged" and e["user"] == "ada"
                       and e["alarm_id"] == alarm["alarm_id"] for e in log_records)
    finally:
        server.kill()
        server.wait(10)
    assert _cli("audit", "verify", "--db", str(db))
