"""A session read back: its trends and what happened, open or long after discharge.

Trends are what a central station's trend view shows: continuous parameters as 1-minute
medians of their valid samples (artifacts and invalid values left out), every NIBP
reading, and the baseline band the rules judged them against. A session's vitals are the
bed's readings from its admission to its discharge.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

from sqlalchemy import select, update

from monitor.alarms.baseline import NIBP_METRICS, artifact_reason, group_bp_readings
from monitor.domain.models import Observation
from monitor.records.episodes import Episode, EpisodeRules, compute_episodes
from monitor.records.sessions import Admission
from monitor.storage import trends as trends_store
from monitor.storage.database import Store
from monitor.storage.tables import AdmissionRow, EpisodeRow, ObservationRow

CONTINUOUS = ("HR", "PR", "SPO2")
"""Shown as 1-minute medians."""
MINUTE = 60.0
SPO2_FLOOR = 93.0


def _until(admission: Admission, now: float) -> float:
    return admission.discharged_at if admission.discharged_at is not None else now


async def session_observations(store: Store, admission: Admission, now: float,
                               metrics: tuple[str, ...] = (*CONTINUOUS, *NIBP_METRICS),
                               since: float | None = None, until: float | None = None
                               ) -> list[Observation]:
    """The session's stored readings of ``metrics`` (within ``since..until`` when given),
    oldest first."""
    start = admission.admitted_at if since is None else max(since, admission.admitted_at)
    end = _until(admission, now) if until is None else min(until, _until(admission, now))
    cols = (ObservationRow.device_id, ObservationRow.code, ObservationRow.metric,
            ObservationRow.value, ObservationRow.unit, ObservationRow.time,
            ObservationRow.flags)
    q = (select(*cols)
         .where(ObservationRow.bed_id == admission.bed_id,
                ObservationRow.metric.in_(metrics),
                ObservationRow.time >= start, ObservationRow.time <= end)
         .order_by(ObservationRow.time, ObservationRow.id))
    async with store.session() as session:
        rows = (await session.execute(q)).all()
    return [Observation(r[0], r[1], r[2], r[3], r[4], r[5], r[6], admission.bed_id)
            for r in rows]


def minute_medians(observations: list[Observation]) -> list[dict[str, Any]]:
    """Per minute (aligned to the clock): the median of each continuous metric's valid
    samples, ``None`` where it had none."""
    buckets: dict[float, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for o in observations:
        if o.metric in CONTINUOUS and artifact_reason(o) is None and o.value is not None:
            buckets[math.floor(o.time / MINUTE) * MINUTE][o.metric].append(o.value)
    return [{"time": minute, **{m: (statistics.median(values[m]) if values.get(m) else None)
                                for m in CONTINUOUS}}
            for minute, values in sorted(buckets.items())]


def nibp_readings(observations: list[Observation]) -> list[dict[str, Any]]:
    """Every NIBP reading, artifacts marked."""
    return [{"time": r.time, "systolic": r.systolic, "diastolic": r.diastolic,
             "mean": r.map if r.valid else r.mean, "artifact": r.artifact}
            for r in group_bp_readings(observations)]


def band(baseline: dict[str, Any] | None, hr_factor: float, bp_factor: float
         ) -> dict[str, float | None]:
    """The limits around the baseline: HR x factor, systolic x factor, SpO2 93 %."""
    hr = (baseline or {}).get("hr") or {}
    bp = (baseline or {}).get("bp") or {}
    hr_value, sys_value = hr.get("hr"), bp.get("systolic")
    return {"hr_baseline": hr_value,
            "hr_high": None if hr_value is None else hr_value * hr_factor,
            "sys_baseline": sys_value,
            "dia_baseline": bp.get("diastolic"),
            "sys_high": None if sys_value is None else sys_value * bp_factor,
            "spo2_low": SPO2_FLOOR}


async def session_minutes(store: Store, admission: Admission, now: float
                          ) -> list[dict[str, Any]]:
    """The session's 1-minute medians: the minutes the store writer kept, and the others
    (the first and the current minute, a minute cut by a restart, sessions from before)
    computed from the stored readings."""
    since, until = admission.admitted_at, _until(admission, now)
    async with store.session() as session:
        rows = (await session.execute(trends_store.minutes_query(admission.bed_id, since,
                                                                 until))).all()
    kept: dict[float, dict[str, float]] = {}
    for minute, metric, median in rows:
        kept.setdefault(float(minute), {})[metric] = float(median)
    out: dict[float, dict[str, Any]] = {
        minute: {"time": minute, **{k: v.get(k) for k in CONTINUOUS}}
        for minute, v in kept.items()}
    for start, end in _uncovered(sorted(kept), since, until):
        readings = await session_observations(store, admission, now, CONTINUOUS, start, end)
        for row in minute_medians(readings):
            out.setdefault(float(row["time"]), row)
    return [out[t] for t in sorted(out) if since - MINUTE < t <= until]


def _uncovered(minutes: list[float], since: float, until: float
               ) -> list[tuple[float, float]]:
    """Time ranges of ``since..until`` whose minutes are not in ``minutes``."""
    ranges: list[tuple[float, float]] = []
    cursor = trends_store.minute_of(since)
    for minute in minutes:
        if minute > cursor:
            ranges.append((cursor, minute))
        cursor = max(cursor, minute + MINUTE)
    if cursor <= until:
        ranges.append((cursor, until))
    return ranges


async def trends(store: Store, admission: Admission, now: float, hr_factor: float,
                 bp_factor: float) -> dict[str, Any]:
    """The session's trends: 1-minute medians, every NIBP reading, the baseline band."""
    nibp = await session_observations(store, admission, now, NIBP_METRICS)
    return {"session_id": admission.id, "since": admission.admitted_at,
            "until": _until(admission, now),
            "infusion_start": admission.infusion_started_at,
            "infusion_stop": admission.infusion_stopped_at,
            "minutes": await session_minutes(store, admission, now),
            "nibp": nibp_readings(nibp),
            "band": band(admission.baseline, hr_factor, bp_factor)}


async def episodes(store: Store, admission: Admission, rules: EpisodeRules, now: float
                   ) -> list[Episode]:
    """The session's episodes by the study's definitions: stored once the session is
    discharged (computed then, or at the first read of a session discharged without them),
    computed afresh from the stored vitals while it runs."""
    if admission.infusion_started_at is None:
        return []
    async with store.session() as session:
        rows = (await session.execute(select(EpisodeRow).where(
            EpisodeRow.session_id == admission.id).order_by(EpisodeRow.start))).scalars().all()
    if rows or await _counted(store, admission.id):
        return [Episode(r.kind, r.start, r.end, r.worst, r.threshold, r.baseline, r.samples,
                        r.source) for r in rows]
    found = compute_episodes(
        await session_observations(store, admission, now),
        hr_baseline=_baseline_value(admission, "hr", "hr"),
        sys_baseline=_baseline_value(admission, "bp", "systolic"),
        start=admission.infusion_started_at, end=admission.infusion_stopped_at, rules=rules)
    if admission.phase == "discharged":
        await _store_episodes(store, admission.id, found, now)
    return found


def _baseline_value(admission: Admission, kind: str, key: str) -> float | None:
    part = (admission.baseline or {}).get(kind) or {}
    value = part.get(key)
    return float(value) if isinstance(value, int | float) else None


async def _counted(store: Store, session_id: int) -> bool:
    async with store.session() as session:
        row = await session.get(AdmissionRow, session_id)
    return row is not None and row.episodes_at is not None


async def _store_episodes(store: Store, session_id: int, found: list[Episode], now: float
                          ) -> None:
    async with store.session() as session, session.begin():
        for e in found:
            session.add(EpisodeRow(session_id=session_id, kind=e.kind, start=e.start,
                                   end=e.end, worst=e.worst, threshold=e.threshold,
                                   baseline=e.baseline, samples=e.samples, source=e.source))
        await session.execute(update(AdmissionRow).where(AdmissionRow.id == session_id)
                              .values(episodes_at=now))
