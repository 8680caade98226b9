"""Security against a real uvicorn server, as an outsider meets it: forwarded headers are
believed only from a proxy the operator names, sign-in guessing is throttled per name and
address, request bodies are bounded in size and JSON nesting before anything parses them,
the server binds loopback unless told otherwise, and the logs carry no secret or patient
data."""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from monitor.cli.main import QUIET_LOGGERS, configure_logging
from monitor.config import BedConfig, UnitConfig
from tests.liveserver import TEST_PASSWORD, LiveServer, free_port

UNIT = UnitConfig(beds=[BedConfig(id="bed-1", label="Bed 1")])


def live_server(tmp_path: Path, **settings: object) -> LiveServer:
    return LiveServer(UNIT, db=str(tmp_path / "security.db"), **settings)


def sign_in(client: httpx.Client, username: str, password: str,
            forwarded_for: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/login", json={"username": username, "password": password},
                       headers=headers)


def test_spoofed_forwarded_for_does_not_dodge_the_sign_in_lockout(tmp_path: Path) -> None:
    # Without a proxy named, X-Forwarded-For is a header like any other: every guess
    # counts against the real address.
    with live_server(tmp_path) as live, httpx.Client(base_url=live.url, timeout=10) as c:
        answers = [sign_in(c, live.user, f"guess number {i}", f"203.0.113.{i}").status_code
                   for i in range(30)]
        assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}, answers
        right = sign_in(c, live.user, TEST_PASSWORD, "198.51.100.7")
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0


def test_behind_a_named_proxy_the_forwarded_address_counts(tmp_path: Path) -> None:
    # The test plays the TLS proxy on loopback, naming each client's address.
    with live_server(tmp_path, forwarded_allow_ips="127.0.0.1") as live, \
            httpx.Client(base_url=live.url, timeout=10) as c:
        for i in range(5):
            assert sign_in(c, live.user, f"guess {i}", "203.0.113.1").status_code == 401
        assert sign_in(c, live.user, TEST_PASSWORD, "203.0.113.1").status_code == 429
        # The nurse at another station is not locked out by that.
        assert sign_in(c, live.user, TEST_PASSWORD, "203.0.113.2").status_code == 200
        # Guesses spread over many addresses: after 20 for the name, it is throttled
        # everywhere, the right password too; an unknown name answers the same way.
        for i in range(15):
            assert sign_in(c, live.user, f"guess {i}", f"198.51.100.{i}").status_code == 401
        for name in (live.user, "nobody.here"):
            for i in range(20 if name == "nobody.here" else 0):
                sign_in(c, name, f"guess {i}", f"192.0.2.{i}")
            r = sign_in(c, name, TEST_PASSWORD, "192.0.2.200")
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0, name
            assert r.json() == {"detail": r.json()["detail"]}
            assert "try again in" in r.json()["detail"]


# -- request bodies are bounded before anything parses them -------------------------------


@contextlib.contextmanager
def serve_process(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """``spu-monitor serve`` as a child process: (its pid, its port), once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", "--port", str(port),
                             "--db", str(tmp_path / "served.db"), "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60  # a loaded 2-core machine starts slowly
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer within 60 s"
            time.sleep(0.2)
        yield proc.pid, port
    finally:
        proc.terminate()
        proc.communicate(timeout=15)


def rss_kib(pid: int) -> int:
    """The process's resident memory now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def listening_addresses(port: int) -> set[str]:
    """The addresses something listens on at TCP ``port``, from /proc/net/tcp and tcp6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                packed = bytes.fromhex(address)
                if len(packed) == 4:
                    found.add(socket.inet_ntop(socket.AF_INET, packed[::-1]))
                else:
                    found.add(socket.inet_ntop(socket.AF_INET6, b"".join(
                        packed[i:i + 4][::-1] for i in range(0, 16, 4))))
    return found


def post_streaming(port: int, path: str, total: int, declare_length: bool
                   ) -> tuple[int, bytes, int]:
    """POST ``total`` bytes to ``path``, made 64 KiB at a time (never held whole), with a
    Content-Length or chunked; stops sending once the server answers or closes.

    Returns:
        (status, response body, bytes sent)
    """
    chunk = b"a" * 65536
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n")
    head += f"Content-Length: {total}\r\n\r\n" if declare_length else \
        "Transfer-Encoding: chunked\r\n\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            piece = chunk if declare_length else b"%x\r\n%s\r\n" % (len(chunk), chunk)
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while part := sock.recv(65536):
                answer += part
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 "), answer[:200]
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2], sent


def test_deep_and_huge_bodies_are_refused_before_parsing(tmp_path: Path) -> None:
    with serve_process(tmp_path) as (pid, port), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        # 5,000-deep JSON (10 KB) to the anonymous sign-in: a clear 400, not a 500.
        r = c.post("/login", content=b"[" * 5000 + b"]" * 5000,
                   headers={"Content-Type": "application/json"})
        assert r.status_code == 400, r.text
        assert "nest" in r.json()["detail"] and "32" in r.json()["detail"]
        # Brackets inside strings are text, not nesting.
        r = c.post("/login", json={"username": "[" * 5000, "password": "{" * 900})
        assert r.status_code == 401, r.text
        before = rss_kib(pid)
        for declare_length in (True, False):
            status, body, sent = post_streaming(port, "/login", 100 * 2**20, declare_length)
            assert status == 413, body
            assert b"1048576" in body
            assert sent < 20 * 2**20, f"the server read {sent} bytes before refusing"
        grown = rss_kib(pid) - before
        assert listening_addresses(port) == {"127.0.0.1"}, "serve binds loopback by default"
        assert grown < 8 * 1024, f"the server grew by {grown} KiB"
        assert c.get("/healthz").status_code == 200


# -- what the logs never carry -------------------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {self.format(record)}")  # with any traceback


SERVER_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", *QUIET_LOGGERS)
CLIENT_LOGGERS = ("httpx", "httpcore")
"""The test's own HTTP client (which logs the URLs and headers it sends at DEBUG)."""


def test_logs_carry_no_secret_or_patient_data(tmp_path: Path) -> None:
    """Everything the server logs at ``--log-level debug`` (the most it ever logs)."""
    collect = _Collect()
    loggers = [logging.getLogger(n) for n in SERVER_LOGGERS + CLIENT_LOGGERS]
    levels = [lg.level for lg in loggers]
    configure_logging("debug")  # as `spu-monitor serve --log-level debug`
    for lg in loggers[:4]:
        lg.addHandler(collect)
        lg.setLevel(logging.DEBUG)
    for lg in loggers[-2:]:
        lg.setLevel(logging.WARNING)
    wrong = "Wr0ng-Passw0rd-typed"
    family, given, identifier = "Zzyzxovna", "Secretina", "MRN-5550199"
    try:
        with live_server(tmp_path) as live, httpx.Client(base_url=live.url, timeout=10) as c:
            token = live.tokens[live.user]
            assert sign_in(c, live.user, wrong).status_code == 401
            assert sign_in(c, live.user, TEST_PASSWORD).status_code == 200
            cookie = c.cookies["spu_session"]
            api = {"Authorization": f"Bearer {token}"}
            r = c.post("/api/patients", headers=api, json={
                "identifier": identifier, "family_name": family, "given_name": given})
            assert r.status_code == 201, r.text
            r = c.post("/api/beds/bed-1/admit", headers=api, json={"patient_id": r.json()["id"]})
            assert r.status_code == 201, r.text
            assert c.get("/api/beds", headers=api).status_code == 200
            assert c.get("/api/patients", params={"q": family}, headers=api).status_code == 200
            assert c.get("/api/beds", headers={"Authorization": "Bearer spu_" + "x" * 43}
                         ).status_code == 401
            assert c.post("/logout", headers={"Origin": live.url}).status_code in (204, 303)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(collect)
            lg.setLevel(level)
    assert not any(line.startswith(CLIENT_LOGGERS) for line in collect.lines)
    text = "\n".join(collect.lines)
    assert "sign-in refused" in text and "signed in" in text, text  # it did log
    for secret in (TEST_PASSWORD, wrong, token, token[4:], cookie, family, given, identifier,
                   "x" * 43):
        assert secret not in text, f"{secret!r} is in the log"
