"""The in-process event bus: one publisher side, many subscribers, each with its own queue.

A slow subscriber (a browser on a bad network, a busy database) must never stall the
drivers or the rules. So every subscriber has a bounded queue that drops its *oldest*
item on overflow and counts what it dropped.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

_LOGGER = logging.getLogger(__name__)

_WARN_INTERVAL_S = 10.0


class Subscription:
    """A subscriber's queue. Use it as an async context manager and an async iterator.

    Leaving the ``async with`` block unsubscribes. Iteration ends quietly when the bus
    closes.
    """

    def __init__(self, bus: Bus, types: tuple[type, ...], maxsize: int, name: str) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._bus = bus
        self.types = types
        self.maxsize = maxsize
        self.name = name
        self.dropped = 0
        self._items: collections.deque[Any] = collections.deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._last_warning = 0.0

    def accepts(self, event: object) -> bool:
        """True if this subscription wants events of ``event``'s type."""
        return not self.types or isinstance(event, self.types)

    def put(self, event: object) -> None:
        """Queue ``event``, dropping the oldest item if the queue is full."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
            now = time.monotonic()
            if now - self._last_warning >= _WARN_INTERVAL_S:
                self._last_warning = now
                _LOGGER.warning(
                    "subscriber %s is slow: %d events dropped so far", self.name, self.dropped
                )
        self._items.append(event)
        self._wakeup.set()

    def qsize(self) -> int:
        """How many events wait in the queue."""
        return len(self._items)

    def drain(self, limit: int | None = None) -> list[Any]:
        """Return and remove up to ``limit`` queued events (all when ``None``)."""
        n = len(self._items) if limit is None else min(limit, len(self._items))
        return [self._items.popleft() for _ in range(n)]

    async def get(self) -> Any:
        """Wait for and return the next event.

        Raises:
            StopAsyncIteration: the subscription or the bus was closed and is drained.
        """
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._items.popleft()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait until at least one event is queued; return False on timeout or close."""
        if self._items:
            return True
        if self._closed:
            return False
        self._wakeup.clear()
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the event being set, and a service that cannot be stopped is a bug.
        try:
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        except TimeoutError:
            return False
        return bool(self._items)

    def close(self) -> None:
        """Stop receiving; pending items can still be read, then iteration ends."""
        if not self._closed:
            self._closed = True
            self._bus._remove(self)
            self._wakeup.set()

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Bus:
    """Fan-out of events to subscribers. Publish is synchronous and never blocks."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def subscribe(self, *types: type, maxsize: int = 1000, name: str = "") -> Subscription:
        """Subscribe to events of the given types (all events when none are given).

        Args:
            types: event classes to receive.
            maxsize: queue bound; on overflow the oldest event is dropped and counted.
            name: for log messages.
        """
        sub = Subscription(self, types, maxsize, name or f"sub{len(self._subscriptions)}")
        self._subscriptions.append(sub)
        return sub

    def publish(self, event: object) -> None:
        """Deliver ``event`` to every interested subscriber."""
        self.published += 1
        for sub in self._subscriptions:
            if sub.accepts(event):
                sub.put(event)

    def _remove(self, sub: Subscription) -> None:
        try:
            self._subscriptions.remove(sub)
        except ValueError:
            pass

    @property
    def subscriptions(self) -> list[Subscription]:
        """The live subscriptions (a copy)."""
        return list(self._subscriptions)

    def close(self) -> None:
        """Close every subscription; their iterators end once drained."""
        for sub in list(self._subscriptions):
            sub.close()
