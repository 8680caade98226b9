"""Security against a real uvicorn server, as an outsider meets it: forwarded headers are
believed only from a proxy the operator names, sign-in guessing is throttled per name and
address."""

from __future__ import annotations

from pathlib import Path

import httpx

from monitor.config import BedConfig, UnitConfig
from tests.liveserver import TEST_PASSWORD, LiveServer

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
