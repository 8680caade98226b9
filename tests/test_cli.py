"""The spu-monitor command as a user runs it: help, simulate onto a pty, the demo, users."""

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
from monitor.cli.main import build_parser, demo_plan
from tests.conftest import MS
from tests.liveserver import free_port

CLI = [sys.executable, "-m", "monitor"]
PASSWORD = "correct horse battery"


def users(db: Path | str, *args: str, password: str | None = None
          ) -> subprocess.CompletedProcess[str]:
    """Run ``spu-monitor users ARGS --db DB``, the password (if any) piped on stdin (never
    a terminal: an empty pipe when there is no password)."""
    return subprocess.run(CLI + ["users", *args, "--db", str(db)], capture_output=True,
                          text=True, timeout=60,
                          input="" if password is None else password + "\n")


@pytest.mark.parametrize("command", [[], ["serve"], ["simulate"], ["demo"], ["users"],
                                     ["users", "add"], ["users", "token"], ["records"],
                                     ["records", "import"], ["records", "export"],
                                     ["report"], ["report", "unit"], ["report", "course"],
                                     ["report", "session"], ["audit"], ["audit", "verify"],
                                     ["bench"], ["record"], ["replay"]])
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


def test_cli_serve_exits_with_one_clear_line_when_the_database_cannot_open(
    tmp_path: Path,
) -> None:
    # A start-up failure must end the process (never wait for ever) with a non-zero status
    # and a message that names the cause, not a traceback.
    not_a_database = tmp_path / "notes.db"
    not_a_database.write_bytes(b"this is not a SQLite database at all" * 100)
    out = subprocess.run(CLI + ["serve", "--db", str(not_a_database), "--port",
                                str(free_port())],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert "the server did not start: cannot open database" in out.stderr
    assert "Traceback" not in out.stderr


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
    db = str(tmp_path / "demo.db")
    # The demo has no default account: the operator adds one on its database.
    added = users(db, "add", "nurse.demo", "--role", "nurse", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    proc = subprocess.Popen(CLI + ["demo", "--beds", "3", "--port", str(port), "--db", db],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2)
    try:
        deadline = time.monotonic() + 20
        signed_in = False
        while not signed_in and time.monotonic() < deadline:
            try:
                assert http.get("/api/beds").status_code == 401  # not signed in yet
                r = http.post("/login", json={"username": "nurse.demo", "password": PASSWORD})
                assert r.status_code == 200, r.text
                assert r.json()["username"] == "nurse.demo"
                signed_in = True
            except httpx.HTTPError:
                time.sleep(0.5)
        assert signed_in, "demo did not accept a sign-in within 20 s"
        beds: list[dict] = []
        while time.monotonic() < deadline:
            try:
                beds = http.get("/api/beds").json()  # the session cookie signs in
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
        http.close()
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


def test_cli_demo_stopped_with_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    # A service manager stops the demo with SIGTERM: the simulators go, their ports'
    # folder goes, and no traceback is printed.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = free_port()
    proc = subprocess.Popen(CLI + ["demo", "--beds", "2", "--port", str(port), "--db",
                                   str(tmp_path / "demo.db")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TMPDIR": str(scratch)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    assert list(scratch.iterdir()), "the demo keeps its ports in a temporary folder"
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(scratch.iterdir()) == [], "the temporary folder is left behind"
    assert "Traceback" not in output, output


def test_cli_users_add_list_and_token(tmp_path: Path) -> None:
    db = tmp_path / "users.db"
    out = users(db, "list")
    assert out.returncode == 0 and "no users yet" in out.stdout
    out = users(db, "add", "Nurse.Ada", "--role", "charge nurse", password=PASSWORD)
    assert out.returncode == 0, out.stderr
    assert "nurse.ada" in out.stdout and "charge_nurse" in out.stdout
    assert PASSWORD not in out.stdout + out.stderr
    out = users(db, "add", "dr.lee", "--role", "admin", password=PASSWORD)
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0]: line.split()[1]
              for line in users(db, "list").stdout.splitlines()}
    assert listed == {"nurse.ada": "charge_nurse", "dr.lee": "admin"}
    out = users(db, "token", "nurse.ada", "--name", "pager-gateway")
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert token.startswith("spu_") and len(token) > 20


def test_cli_users_add_short_password_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "users.db"
    out = users(db, "add", "nurse.ada", "--role", "nurse", password="short")
    assert out.returncode == 2
    assert "8 characters" in out.stderr
    assert "nurse.ada" not in users(db, "list").stdout


def test_cli_users_add_unknown_role_lists_the_roles(tmp_path: Path) -> None:
    out = users(tmp_path / "users.db", "add", "nurse.ada", "--role", "boss",
                password=PASSWORD)
    assert out.returncode == 2
    assert "unknown role 'boss'" in out.stderr
    assert all(role in out.stderr for role in ("nurse", "charge_nurse", "admin"))


def test_cli_users_add_duplicate_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "users.db"
    assert users(db, "add", "nurse.ada", "--role", "nurse", password=PASSWORD).returncode == 0
    out = users(db, "add", "NURSE.ADA", "--role", "admin", password=PASSWORD)
    assert out.returncode == 2
    assert "already exists" in out.stderr
    assert users(db, "list").stdout.split()[:2] == ["nurse.ada", "nurse"]


def test_cli_users_add_without_password_is_refused(tmp_path: Path) -> None:
    out = users(tmp_path / "users.db", "add", "nurse.ada", "--role", "nurse", password=None)
    assert out.returncode == 2
    assert "password" in out.stderr


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_cli_forwarded_headers_only_from_named_proxies(command: str) -> None:
    from monitor.cli.main import _settings, uvicorn_config

    parser = build_parser()
    plain = uvicorn_config(None, _settings(parser.parse_args([command])), "info")
    assert plain.proxy_headers is False
    args = parser.parse_args([command, "--forwarded-allow-ips", "10.0.0.5"])
    behind = uvicorn_config(None, _settings(args), "info")
    assert behind.proxy_headers is True and behind.forwarded_allow_ips == "10.0.0.5"
    assert plain.host == "127.0.0.1"


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p.mkdir(), "is a directory, not a file"),
    (lambda p: p.write_bytes(b'[unit]\nname = "Station \xe9st"\n'),
     "is not UTF-8 text (byte 0xe9 at offset 23)"),
    (lambda p: p.write_text(""), "is empty: it must list the unit's beds ([[beds]])"),
    (lambda p: p.write_text('[unit]\nname = "SPU"\n'),
     "has no beds: list them with [[beds]]"),
    (lambda p: None, "does not exist"),
])
def test_cli_serve_unit_file_mistakes_are_one_clear_line(tmp_path: Path, make, reason: str
                                                         ) -> None:
    path = tmp_path / "unit.toml"
    make(path)
    out = subprocess.run(CLI + ["serve", "--config", str(path), "--port", str(free_port()),
                                "--db", str(tmp_path / "x.db")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr == f"spu-monitor serve: error: unit file {path}: {reason}\n"
