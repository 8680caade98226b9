"""Running the real ``spu-monitor`` command in tests: one-off commands and polling a
server's API until it says what a test waits for."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx

CLI = [sys.executable, "-m", "monitor"]


def cli(*args: str, stdin: str = "") -> str:
    """Run ``spu-monitor ARGS`` to the end; its standard output (it must succeed)."""
    out = subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=60,
                         input=stdin)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


async def until(http: httpx.AsyncClient, path: str, check: Callable[[Any], Any],
                timeout: float) -> Any:
    """GET ``path`` every 100 ms until ``check(json)`` is truthy; return that value."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                r = await http.get(path)
                if r.status_code == 200 and (found := check(r.json())):
                    return found
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
