"""Full disclosure in the database: waveform blocks written, read back by time window,
accounted per session and deleted after the retention period.

A window is read from the blocks that overlap it (found by their time columns, without
decoding), decoded, and cut to the window: a 30-s alarm strip reads three or four blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select

from monitor.storage.database import Store
from monitor.storage.tables import AlarmLogRow, WaveformBlockRow
from monitor.storage.waveform_codec import decode_block


@dataclass(frozen=True, slots=True)
class StoredBlock:
    """A block to store: where it belongs and its encoded samples."""

    bed_id: str
    session_id: int | None
    device_id: str
    metric: str
    time: float
    sample_rate: float
    unit: str
    count: int
    payload: bytes

    @property
    def end(self) -> float:
        """Just after the last sample."""
        return self.time + self.count / self.sample_rate


async def add_blocks(store: Store, blocks: Sequence[StoredBlock]) -> None:
    """Insert blocks in one transaction."""
    if not blocks:
        return
    async with store.session() as session, session.begin():
        await session.execute(insert(WaveformBlockRow), [
            {"bed_id": b.bed_id, "session_id": b.session_id, "device_id": b.device_id,
             "metric": b.metric, "time": b.time, "end": b.end, "sample_rate": b.sample_rate,
             "unit": b.unit, "count": b.count, "payload": b.payload} for b in blocks])


async def window(store: Store, bed_id: str, since: float, until: float,
                 metrics: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The bed's waveforms between ``since`` and ``until``, per device and metric, as
    contiguous segments ``{"device_id", "metric", "time", "sample_rate", "unit",
    "samples"}`` (``null`` samples are gaps the device reported)."""
    cols = (WaveformBlockRow.device_id, WaveformBlockRow.metric, WaveformBlockRow.time,
            WaveformBlockRow.sample_rate, WaveformBlockRow.unit, WaveformBlockRow.count,
            WaveformBlockRow.payload)
    q = (select(*cols).where(WaveformBlockRow.bed_id == bed_id,
                             WaveformBlockRow.end > since, WaveformBlockRow.time < until)
         .order_by(WaveformBlockRow.device_id, WaveformBlockRow.metric, WaveformBlockRow.time))
    if metrics:
        q = q.where(WaveformBlockRow.metric.in_(list(metrics)))
    async with store.session() as session:
        rows = (await session.execute(q)).all()
    parts: list[dict[str, Any]] = []
    for device_id, metric, start, rate, unit, count, payload in rows:
        samples = decode_block(payload)
        first = max(0, int((since - start) * rate + 0.5 - 1e-9))
        last = min(count, int((until - start) * rate + 0.5 + 1e-9))
        if first < last:
            parts.append({"device_id": device_id, "metric": metric,
                          "time": start + first / rate, "sample_rate": rate, "unit": unit,
                          "samples": list(samples[first:last])})
    return merge_segments(parts)


def merge_segments(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Segments sorted by device, metric and time, each joined to the one before when it
    starts where that one ends (within half a sample) at the same rate."""
    segments: list[dict[str, Any]] = []
    for part in sorted(parts, key=lambda s: (s["device_id"], s["metric"], s["time"])):
        prev = segments[-1] if segments else None
        rate = part["sample_rate"]
        if (prev is not None and (prev["device_id"], prev["metric"], prev["sample_rate"])
                == (part["device_id"], part["metric"], rate)
                and abs(prev["time"] + len(prev["samples"]) / rate - part["time"])
                < 0.5 / rate):
            prev["samples"].extend(part["samples"])
        else:
            segments.append({**part, "samples": list(part["samples"])})
    return segments


async def session_bytes(store: Store, session_id: int) -> dict[str, Any]:
    """What a session's full disclosure takes: blocks, samples and bytes per metric."""
    q = (select(WaveformBlockRow.metric, func.count(), func.sum(WaveformBlockRow.count),
                func.sum(func.length(WaveformBlockRow.payload)))
         .where(WaveformBlockRow.session_id == session_id)
         .group_by(WaveformBlockRow.metric))
    async with store.session() as session:
        rows = (await session.execute(q)).all()
    per = {m: {"blocks": int(n), "samples": int(s or 0), "bytes": int(b or 0)}
           for m, n, s, b in rows}
    return {"metrics": per, "bytes": sum(v["bytes"] for v in per.values())}


async def delete_before(store: Store, cutoff: float) -> int:
    """Delete blocks that ended before ``cutoff``; return how many."""
    async with store.session() as session, session.begin():
        result = await session.execute(delete(WaveformBlockRow)
                                       .where(WaveformBlockRow.end < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def alarm_onset(store: Store, alarm_id: str) -> dict[str, Any] | None:
    """The alarm-log record of an alarm's onset (its bed, rule, time, value), if any."""
    q = (select(AlarmLogRow.bed_id, AlarmLogRow.rule, AlarmLogRow.priority,
                AlarmLogRow.time, AlarmLogRow.value, AlarmLogRow.message,
                AlarmLogRow.delay, AlarmLogRow.session_id)
         .where(AlarmLogRow.alarm_id == alarm_id, AlarmLogRow.event == "onset")
         .order_by(AlarmLogRow.id).limit(1))
    async with store.session() as session:
        row = (await session.execute(q)).first()
    return None if row is None else dict(row._mapping)
