"""Security against a real uvicorn server, as an outsider meets it: forwarded headers are
believed only from a proxy the operator names, sign-in guessing is throttled per name and
address, request bodies are bounded in size and JSON nesting before anything parses them."""

from __future__ import annotations

import contextlib
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

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
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer within 30 s"
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
        assert grown < 8 * 1024, f"the server grew by {grown} KiB"
        assert c.get("/healthz").status_code == 200
