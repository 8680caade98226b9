"""A real uvicorn server in a background thread, for end-to-end and browser tests."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from monitor.api import create_app
from monitor.config import Settings, UnitConfig


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Runs the app on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, unit: UnitConfig, db: str, **settings: object) -> None:
        self.port = free_port()
        self.settings = Settings(host="127.0.0.1", port=self.port, db=db, **settings)
        self.app = create_app(self.settings, unit)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """Base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """Base WebSocket URL."""
        return f"ws://127.0.0.1:{self.port}"

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
