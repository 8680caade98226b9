"""The spu-monitor command as a user runs it: help, simulate onto a pty, the demo."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import drivers
from monitor.cli import build_parser, demo_plan
from tests.conftest import MS
from tests.liveserver import free_port

CLI = [sys.executable, "-m", "monitor"]


@pytest.mark.parametrize("command", [[], ["serve"], ["simulate"], ["demo"]])
def test_cli_help(command: list[str]) -> None:
    out = subprocess.run(CLI + command + ["--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "usage: spu-monitor" in out.stdout


def test_cli_help_says_what_it_is() -> None:
    assert "not a certified medical device" in " ".join(build_parser().format_help().split())


def test_cli_serve_bad_unit_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "unit.toml"
    bad.write_text('[[beds]]\nid = "bed-1"\n'
                   'devices = [{ id = "x", protocol = "nope", port = "/dev/x" }]\n')
    out = subprocess.run(CLI + ["serve", "--config", str(bad)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert "unknown protocol 'nope'" in out.stderr


def test_cli_simulate_unknown_scenario(tmp_path: Path) -> None:
    out = subprocess.run(CLI + ["simulate", "--scenario", "nope"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert "unknown scenario 'nope'" in out.stderr and "desaturation" in out.stderr


async def test_cli_simulate_pty_feeds_a_driver() -> None:
    proc = await asyncio.create_subprocess_exec(
        *CLI, "simulate", "--protocol", "masimo", "--scenario", "stable", "--pty",
        "--duration", "30", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        path = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().strip()
        assert path.startswith("/dev/pts/")
        device = await drivers.open_device(path, "masimo", device_id="cli")
        async with device:
            values: list[float] = []
            async with asyncio.timeout(5000 * MS):
                while not values:
                    values = [e.value for e in await device.read_events()
                              if getattr(e, "metric", "") == "SPO2"]
        assert 90 <= values[0] <= 100
    finally:
        proc.terminate()
        await proc.wait()


def test_demo_plan_mixes_scenarios() -> None:
    plan = demo_plan(8)
    scenarios = {d["scenario"] for d in plan}
    assert {"desaturation", "hr_rise"} <= scenarios
    assert len({d["name"] for d in plan}) == 8
    assert all(d["protocol"] in drivers.PROTOCOLS for d in plan)


def test_cli_demo_serves_live_values(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(CLI + ["demo", "--beds", "3", "--port", str(port), "--db",
                                   str(tmp_path / "demo.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        beds: list[dict] = []
        while time.monotonic() < deadline:
            try:
                beds = httpx.get(f"http://127.0.0.1:{port}/api/beds", timeout=2).json()
            except httpx.HTTPError:
                beds = []
            if len(beds) == 3 and all("SPO2" in b["latest"] for b in beds):
                break
            time.sleep(0.5)
        assert len(beds) == 3, "demo did not serve its beds within 20 s"
        assert all("SPO2" in b["latest"] for b in beds), beds
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert children, "the simulators run in a child process"
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        try:
            output, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
    # The simulators go away with the demo, and stopping logs no device as lost.
    time.sleep(1.5)
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)
    assert " lost:" not in output
