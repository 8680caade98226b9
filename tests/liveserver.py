"""A real uvicorn server in a background thread, for end-to-end and browser tests.

Every server starts with signed-up test users (``TEST_USERS``, password ``TEST_PASSWORD``)
and an API token for each: ``live.headers`` signs an HTTP or WebSocket client in as the
first user, ``await live.sign_in(page)`` signs a browser page in through ``/login``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import uvicorn

from monitor.api import create_app
from monitor.auth.accounts import Accounts
from monitor.cli.main import uvicorn_config
from monitor.config import Settings, UnitConfig
from monitor.domain.errors import AuthError

TEST_PASSWORD = "correct horse battery"
TEST_USERS = {"nurse.test": "charge_nurse"}
"""Username -> role of the users every test server has (the first one is the default)."""


async def seed_users(service: Any, users: dict[str, str]) -> dict[str, str]:
    """Create ``users`` (kept if they exist: a restarted server) and return an API token
    for each."""
    accounts = Accounts(service.store)
    tokens = {}
    for name, role in users.items():
        with contextlib.suppress(AuthError):
            await accounts.add_user(name, role, TEST_PASSWORD, "tests")
        tokens[name] = await accounts.issue_token(name, "tests", "tests")
    return tokens


def bearer(token: str) -> dict[str, str]:
    """Request headers that sign in with an API token."""
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Runs the app on 127.0.0.1 in its own thread and event loop, configured as
    ``spu-monitor serve`` configures uvicorn; ``settings`` are :class:`Settings` fields
    (``forwarded_allow_ips="127.0.0.1"`` for a test that plays the proxy)."""

    def __init__(self, unit: UnitConfig, db: str, users: dict[str, str] | None = None,
                 **settings: object) -> None:
        self.port = free_port()
        self.settings = Settings(host="127.0.0.1", port=self.port, db=db, **settings)
        self.users = dict(users or TEST_USERS)
        self.user = next(iter(self.users))
        self.tokens: dict[str, str] = {}

        async def on_started(service: Any) -> None:
            self.tokens = await seed_users(service, self.users)

        self.app = create_app(self.settings, unit, on_started)
        # The configuration `spu-monitor serve` uses (forwarded headers, limits).
        self.server = uvicorn.Server(uvicorn_config(self.app, self.settings, "warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """Base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """Headers that sign a client in as :attr:`user` (an API token)."""
        return bearer(self.tokens[self.user])

    def headers_for(self, username: str) -> dict[str, str]:
        """Headers that sign a client in as ``username`` (one of :attr:`users`)."""
        return bearer(self.tokens[username])

    async def sign_in(self, page: Any, username: str | None = None) -> None:
        """Sign a Playwright page's browser context in through the ``/login`` form post."""
        res = await page.request.post(self.url + "/login", form={
            "username": username or self.user, "password": TEST_PASSWORD})
        if not res.ok or "/login" in res.url:
            raise RuntimeError(f"test sign-in failed: {res.status} {res.url}")

    def start(self, timeout: float = 15.0) -> LiveServer:
        """Start and wait until it accepts connections."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop and join the thread."""
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
