"""Simulators stopped from outside clean up and stay quiet: ``spu-monitor simulate --pty
--link L`` removes ``L`` on SIGTERM or SIGINT, and the demo's fleet exits without a
traceback when it is terminated or its server goes away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.fleet import SimulatedDevice
from simulators.scenarios import Patient

CLI = [sys.executable, "-m", "monitor"]
FLEET = [sys.executable, "-m", "simulators.fleet"]
START = 30.0
"""Seconds a child may take to start on a loaded 2-core machine."""


def _wait_for(check, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {limit:g} s")
        time.sleep(0.05)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_simulate_signal_removes_its_link(tmp_path: Path, sig: signal.Signals) -> None:
    link = tmp_path / "ttyBED1"
    proc = subprocess.Popen(
        CLI + ["simulate", "--protocol", "masimo", "--pty", "--link", str(link)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == str(link)
        target = os.readlink(link)
        assert target.startswith("/dev/pts/")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=START)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert not os.path.lexists(link), f"{link} still points at the freed {target}"
    assert "Traceback" not in err, err


def _plan(names: list[str]) -> str:
    return json.dumps([SimulatedDevice(name, "masimo", "stable", Patient(seed=i + 1), {})
                       .to_dict() for i, name in enumerate(names)])


def test_fleet_terminated_exits_quietly_and_removes_its_links(tmp_path: Path) -> None:
    names = ["bed-1", "bed-2"]
    err_path = tmp_path / "fleet.err"
    with err_path.open("w") as err:
        proc = subprocess.Popen(FLEET + [str(tmp_path), _plan(names)], stderr=err)
        try:
            _wait_for(lambda: all((tmp_path / n).exists() for n in names), START,
                      "the fleet made no links")
            proc.terminate()  # what spu-monitor demo does on its way out
            proc.wait(START)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    assert not [n for n in names if os.path.lexists(tmp_path / n)]
    assert err_path.read_text() == ""


def test_fleet_exits_quietly_when_its_server_goes_away(tmp_path: Path) -> None:
    # A parent (standing in for the demo's server) starts the fleet and dies without a word.
    err_path = tmp_path / "fleet.err"
    parent = (
        "import subprocess, sys\n"
        f"fleet = subprocess.Popen({FLEET + [str(tmp_path), _plan(['bed-1'])]!r},\n"
        f"                         stderr=open({str(err_path)!r}, 'w'))\n"
        "print(fleet.pid, flush=True)\n"
        f"link = {str(tmp_path / 'bed-1')!r}\n"
        "import os, time\n"
        f"deadline = time.monotonic() + {START}\n"
        "while not os.path.exists(link) and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True,
                         timeout=START * 2, cwd=Path(__file__).resolve().parent.parent)
    pid = int(out.stdout.strip())
    try:
        _wait_for(lambda: _gone(pid), START, "the fleet outlived its parent")
    finally:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)
    assert not os.path.lexists(tmp_path / "bed-1")
    assert err_path.read_text() == ""
