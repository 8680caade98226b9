"""Trend minutes: the median of each continuous parameter's valid samples per bed and
minute, kept as the readings are written so a past session's trends load at once.

:class:`MinuteMedians` is the pure accumulator the store writer feeds; a minute is
written when the first sample of a later minute arrives. The minute a writer starts in
(after a restart) is never written, because the samples before the start are not in
memory: readers compute such minutes from the stored readings instead.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.storage.tables import TrendMinuteRow

MINUTE = 60.0
TREND_METRICS = ("HR", "PR", "SPO2")


def minute_of(t: float) -> float:
    """The start of the clock minute ``t`` falls in."""
    return math.floor(t / MINUTE) * MINUTE


@dataclass(slots=True)
class _Minute:
    minute: float
    values: list[float] = field(default_factory=list)
    complete: bool = True


class MinuteMedians:
    """Collects valid samples per (bed, metric) and closes each minute."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], _Minute] = {}

    def add(self, bed_id: str, metric: str, time: float, value: float
            ) -> tuple[str, str, float, float, int] | None:
        """Add a valid sample; return the minute it closed, as ``(bed, metric, minute,
        median, samples)``, when it is the first of a later minute."""
        key = (bed_id, metric)
        minute = minute_of(time)
        current = self._open.get(key)
        if current is None:
            self._open[key] = _Minute(minute, [value], complete=False)
            return None
        if minute == current.minute:
            current.values.append(value)
            return None
        if minute < current.minute:
            return None  # a late sample: in the readings, not in the closed minute
        self._open[key] = _Minute(minute, [value])
        if not current.complete or not current.values:
            return None
        return (bed_id, metric, current.minute, float(statistics.median(current.values)),
                len(current.values))


async def write_minutes(session: AsyncSession,
                        minutes: Sequence[tuple[str, str, float, float, int]]) -> None:
    """Store closed minutes in the caller's transaction (a minute written twice keeps the
    later figure)."""
    for bed_id, metric, minute, median, samples in minutes:
        await session.merge(TrendMinuteRow(bed_id=bed_id, metric=metric, minute=minute,
                                           median=median, samples=samples))


def minutes_query(bed_id: str, since: float, until: float) -> Select[float, str, float]:
    """The stored minutes of a bed in ``[since, until]``: (minute, metric, median) rows."""
    return (select(TrendMinuteRow.minute, TrendMinuteRow.metric, TrendMinuteRow.median)
            .where(TrendMinuteRow.bed_id == bed_id, TrendMinuteRow.minute >= minute_of(since),
                   TrendMinuteRow.minute <= until))
