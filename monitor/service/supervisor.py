"""Supervision of the service's parts: one failing part never takes the others down.

Each part (a device runner, the rules feed, the board, the store writer, escalation) runs
in its own task. A part that raises is logged with its traceback once, then restarted
after a backoff (1 s doubling to 30 s); repeated failures are counted, and logged again
only every tenth time. Device runners and the rules keep running whatever a subscriber
does. A part whose coroutine returns has finished (the bus closed) and is not restarted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

_LOGGER = logging.getLogger(__name__)

RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0

PartFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class PartState:
    """What the supervisor knows of one part (for ``/healthz``)."""

    name: str
    running: bool = False
    failures: int = 0
    last_error: str = ""


class Supervisor:
    """Runs named parts as tasks and restarts those that fail."""

    def __init__(self) -> None:
        self.parts: dict[str, PartState] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, run: PartFactory) -> None:
        """Start ``run()`` as the part ``name`` (call from inside the event loop)."""
        state = PartState(name)
        self.parts[name] = state
        self._tasks.append(asyncio.create_task(self._keep(state, run), name=name))

    async def _keep(self, state: PartState, run: PartFactory) -> None:
        delay = RESTART_FIRST_S
        while True:
            state.running = True
            try:
                await run()
                state.running = False
                return
            except asyncio.CancelledError:
                state.running = False
                raise
            except Exception as exc:  # isolating a failed part is the point of this loop
                state.running = False
                state.failures += 1
                state.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if state.failures == 1:
                    _LOGGER.exception("%s failed; restarting it in %.0f s", state.name, delay)
                elif state.failures % 10 == 0:
                    _LOGGER.error("%s failed again (%d times so far): %s", state.name,
                                  state.failures, state.last_error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX_S)

    async def wait(self) -> None:
        """Wait until every part has finished (they run until cancelled)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every part and wait for it to finish its clean-up."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def health(self) -> dict[str, Any]:
        """Failures per part that has failed (empty when all is well)."""
        return {p.name: {"running": p.running, "failures": p.failures,
                         "last_error": p.last_error}
                for p in self.parts.values() if p.failures}
