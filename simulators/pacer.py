"""Replay timestamped items with their original timing (python-can's ``MessageSync``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _default_time(item: Any) -> float:
    t = getattr(item, "t", None)
    if t is None:
        t = item[0]
    return float(t)


class Pacer(Generic[T]):
    """An async iterator that yields ``items`` at the pace their timestamps say.

    ``async for chunk in Pacer(read_raw(path), speed=2.0): port.write(chunk.data)``

    The first item comes at once; each next one ``(t - t_prev) / speed`` seconds after the
    previous one *was due* (not after it was consumed), so a slow consumer catches up
    instead of drifting. Timestamps going backwards count as a zero gap.

    Args:
        items: timestamped items, in order. Each has a ``t`` attribute (seconds) or is a
            tuple whose first element is the time; pass ``timestamp`` for anything else.
        speed: recorded seconds per wall-clock second; ``0`` yields as fast as possible
            (it still lets the event loop run between items, but never sleeps).
        max_gap: pauses longer than this (recorded seconds) are shortened to it.
        loop: start again from the first item after the last one, for ever. The items are
            kept in memory for the repeats; the first item of a repeat is due right after
            the last item of the previous pass.
        timestamp: ``timestamp(item) -> seconds``.

    Raises:
        ValueError: negative ``speed`` or ``max_gap``.
    """

    def __init__(
        self,
        items: Iterable[T],
        speed: float = 1.0,
        max_gap: float | None = None,
        loop: bool = False,
        *,
        timestamp: Callable[[T], float] = _default_time,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        if max_gap is not None and max_gap < 0:
            raise ValueError(f"max_gap must be >= 0, got {max_gap}")
        self.items = items
        self.speed = speed
        self.max_gap = max_gap
        self.loop = loop
        self.timestamp = timestamp
        self.yielded = 0
        """How many items were yielded so far."""

    def __aiter__(self) -> AsyncIterator[T]:
        return self._run()

    def _passes(self) -> Iterable[Iterable[T]]:
        if not self.loop:
            yield self.items
            return
        kept: Sequence[T] | list[T]
        if isinstance(self.items, Sequence):
            kept = self.items
        else:
            kept = []

            def first_pass() -> Iterable[T]:
                for item in self.items:
                    kept.append(item)
                    yield item

            yield first_pass()
            if not kept:
                return
        while True:
            yield kept

    async def _run(self) -> AsyncIterator[T]:
        aio = asyncio.get_running_loop()
        start = aio.time()
        played = 0.0  # recorded seconds played so far, gaps clipped
        previous: float | None = None
        for items in self._passes():
            empty = True
            for item in items:
                empty = False
                t = self.timestamp(item)
                if previous is not None:
                    gap = max(t - previous, 0.0)
                    if self.max_gap is not None:
                        gap = min(gap, self.max_gap)
                    played += gap
                previous = t
                if self.speed == 0:
                    await asyncio.sleep(0)
                else:
                    delay = start + played / self.speed - aio.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                self.yielded += 1
                yield item
            if empty:
                return
            previous = None  # a repeat starts right after the last item
