"""The HL7 results producer: a bus subscriber that makes the outgoing messages of every
admitted bed and writes each to the outbox the moment it is made.

- Numerics (HR, PR, SpO2): one ORU^R01 per bed and interval (1 minute by default, aligned
  to the clock) with the median of the interval's valid samples, as a central station's
  trend shows them (:func:`monitor.alarms.baseline.artifact_reason` decides what is valid,
  as for the session's trends). A metric measured in the interval without one valid sample
  goes out with status ``X`` and no value. An interval closes when the bed's data pass its
  end, or a few seconds after its end by the clock (a device that went silent); when the
  bed is discharged the interval so far goes out with status ``R``.
- NIBP: every reading as it is measured (its systolic, diastolic and mean assembled as the
  rules assemble them); an artifact reading goes out with status ``X`` and no numbers.
- Alarms (ORU^R40): onset, escalation, acknowledgement (with who) and end.

Only beds with an open session send: the session's patient record gives PID, the bed
PV1. The sender (:mod:`monitor.interop.mllp_sender`) delivers what waits in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from monitor.alarms.baseline import NIBP_METRICS, artifact_reason, reading_from_observations
from monitor.config.interfaces import Hl7OutConfig
from monitor.domain.models import AlarmEvent, Observation
from monitor.interop import hl7_messages as msgs
from monitor.interop.hl7_messages import AlarmReport, PatientContext, Result, Sender
from monitor.live.bus import Bus
from monitor.live.views import SessionChanged
from monitor.records import patients, sessions
from monitor.records.sessions import Admission
from monitor.storage import outbox
from monitor.storage.database import Store

_LOGGER = logging.getLogger(__name__)

CONTINUOUS = ("HR", "PR", "SPO2")
"""Sent as interval medians, in this order."""
CLOSE_GRACE_S = 5.0
"""An interval closes this long after its end by the clock when no later data came."""
NIBP_WINDOW_S = 2.0
"""The components of one NIBP reading arrive within this (as the rules assemble them)."""


@dataclass(slots=True)
class _Interval:
    start: float
    values: dict[str, list[float]] = field(default_factory=dict)
    devices: dict[str, str] = field(default_factory=dict)

    def add(self, obs: Observation) -> None:
        values = self.values.setdefault(obs.metric, [])
        self.devices.setdefault(obs.metric, obs.device_id)
        if artifact_reason(obs) is None and obs.value is not None:
            values.append(obs.value)


@dataclass(slots=True)
class _Bed:
    ctx: PatientContext
    interval: _Interval | None = None
    nibp: list[Observation] = field(default_factory=list)
    acked: dict[str, str | None] = field(default_factory=dict)
    """Alarm id -> who acknowledged it, for alarms acknowledged and not yet ended."""


class Hl7Producer:
    """Makes the outgoing HL7 messages from the bus (a supervised part of the service).

    Args:
        bus: where observations, alarm records and session changes come from.
        store: the database (the outbox, and the patients' records for PID).
        config: the ``[hl7_out]`` settings (interval, sender names).
        unit_name: the unit, as PV1-3 names it.
        notify: called after each message is stored (wakes the sender).
    """

    def __init__(self, bus: Bus, store: Store, config: Hl7OutConfig, unit_name: str = "SPU",
                 notify: Callable[[], None] | None = None) -> None:
        self.store = store
        self.config = config
        self.unit_name = unit_name
        self.sender = Sender(config.application, config.facility)
        self.notify = notify or (lambda: None)
        self.subscription = bus.subscribe(Observation, AlarmEvent, SessionChanged,
                                          maxsize=200_000, name="hl7-out")
        self.beds: dict[str, _Bed] = {}
        self.made = 0
        self.late = 0
        """Samples that arrived after their interval had gone out (not sent)."""

    async def run(self) -> None:
        """Make messages until the bus closes; on the way out, send what is pending (the
        interval so far as ``R``)."""
        await self._restore()
        sub = self.subscription
        try:
            while not sub.closed:
                await sub.wait(1.0)
                for event in sub.drain(5000):
                    await self.handle(event)
                await self.tick(time.time())
        finally:
            await asyncio.shield(self.flush_all())

    async def _restore(self) -> None:
        """The open sessions (at start, and after a restart of this part)."""
        for bed_id, admission in (await sessions.current_admissions(self.store)).items():
            if bed_id not in self.beds:
                self.beds[bed_id] = _Bed(await self._context(admission))

    async def _context(self, admission: Admission) -> PatientContext:
        ctx = PatientContext(admission.bed_id, admission.id, admission.patient_ref or "",
                             admission.patient_label, unit=self.unit_name)
        if admission.patient_id is not None:
            p = await patients.get(self.store, admission.patient_id)
            ctx = replace(ctx, identifier=p.identifier, family_name=p.family_name,
                          given_name=p.given_name, birth_date=p.birth_date, sex=p.sex)
        return ctx

    # -- events -------------------------------------------------------------------------

    async def handle(self, event: object) -> None:
        """Take one bus event."""
        if isinstance(event, SessionChanged):
            await self._session(event)
        elif isinstance(event, Observation):
            await self._observation(event)
        elif isinstance(event, AlarmEvent):
            await self._alarm(event)

    async def _session(self, change: SessionChanged) -> None:
        bed = self.beds.get(change.bed_id)
        admission = change.admission
        if admission is None:
            if bed is not None:
                await self._flush(bed, partial=True)
                del self.beds[change.bed_id]
            return
        session_id = admission.get("id")
        if bed is None or bed.ctx.session_id != session_id:
            if bed is not None:
                await self._flush(bed, partial=True)
            self.beds[change.bed_id] = _Bed(await self._context(
                await sessions.get(self.store, int(session_id))))  # type: ignore[arg-type]

    async def _observation(self, obs: Observation) -> None:
        bed = self.beds.get(obs.bed_id)
        if bed is None:
            return
        if obs.metric in NIBP_METRICS:
            await self._nibp(bed, obs)
            return
        if obs.metric not in CONTINUOUS:
            return
        start = math.floor(obs.time / self.config.interval_s) * self.config.interval_s
        if bed.interval is not None and start > bed.interval.start:
            await self._close(bed, msgs.STATUS_FINAL)
        if bed.interval is None:
            bed.interval = _Interval(start)
        elif start < bed.interval.start:
            self.late += 1
            return
        bed.interval.add(obs)

    async def _nibp(self, bed: _Bed, obs: Observation) -> None:
        group = bed.nibp
        if group and (obs.device_id != group[0].device_id
                      or obs.time - group[0].time > NIBP_WINDOW_S
                      or any(o.metric == obs.metric for o in group)):
            await self._send_nibp(bed)
        bed.nibp.append(obs)
        if {o.metric for o in bed.nibp} >= set(NIBP_METRICS):
            await self._send_nibp(bed)

    async def _alarm(self, e: AlarmEvent) -> None:
        bed = self.beds.get(e.bed_id)
        if (bed is None or e.alarm_id is None or e.rule is None
                or e.event not in msgs.PHASES):
            return
        if e.event == "acknowledged":
            bed.acked[e.alarm_id] = e.user
        acknowledged = e.alarm_id in bed.acked
        report = AlarmReport(e.alarm_id, e.rule, e.event, e.priority or "", e.technical,
                             e.time, e.value, e.threshold, e.message, acknowledged,
                             bed.acked.get(e.alarm_id))
        if e.event == "end":
            bed.acked.pop(e.alarm_id, None)
        control = _control_id()
        await self._store(bed, "alarm", control,
                          msgs.oru_r40(self.sender, bed.ctx, control, report, time.time()))

    # -- making messages ------------------------------------------------------------------

    async def tick(self, now: float) -> None:
        """Close what is due by the clock: intervals past their end, NIBP readings whose
        components stopped coming."""
        for bed in list(self.beds.values()):
            iv = bed.interval
            if iv is not None and now >= iv.start + self.config.interval_s + CLOSE_GRACE_S:
                await self._close(bed, msgs.STATUS_FINAL)
            if bed.nibp and now - bed.nibp[0].time > NIBP_WINDOW_S + CLOSE_GRACE_S:
                await self._send_nibp(bed)

    async def flush_all(self) -> None:
        """Send every bed's pending interval (as partial) and NIBP components."""
        for bed in list(self.beds.values()):
            await self._flush(bed, partial=True)

    async def _flush(self, bed: _Bed, partial: bool) -> None:
        if bed.nibp:
            await self._send_nibp(bed)
        if bed.interval is not None:
            await self._close(bed, msgs.STATUS_PARTIAL if partial else msgs.STATUS_FINAL)

    async def _close(self, bed: _Bed, status: str) -> None:
        iv, bed.interval = bed.interval, None
        if iv is None or not iv.values:
            return
        results = []
        for metric in CONTINUOUS:
            if metric not in iv.values:
                continue
            values = iv.values[metric]
            results.append(Result(metric, statistics.median(values) if values else None,
                                  iv.start, status if values else msgs.STATUS_NO_VALUE,
                                  iv.devices.get(metric, "")))
        end = iv.start + self.config.interval_s
        control = _control_id()
        message = msgs.oru_r01(self.sender, bed.ctx, control, results, iv.start, end,
                               time.time())
        await self._store(bed, "vitals", control, message)

    async def _send_nibp(self, bed: _Bed) -> None:
        group, bed.nibp = bed.nibp, []
        if not group:
            return
        reading = reading_from_observations(group)
        parts = {o.metric: o for o in group}
        results = []
        for metric in NIBP_METRICS:
            obs = parts.get(metric)
            if obs is None:
                continue
            usable = reading.artifact is None and artifact_reason(obs) is None
            results.append(Result(metric, obs.value if usable else None, reading.time,
                                  msgs.STATUS_FINAL if usable else msgs.STATUS_NO_VALUE,
                                  obs.device_id))
        control = _control_id()
        message = msgs.oru_r01(self.sender, bed.ctx, control, results, reading.time, None,
                               time.time())
        await self._store(bed, "nibp", control, message)

    async def _store(self, bed: _Bed, kind: str, control: str, message: Any) -> None:
        """Write the message to the outbox now; a failing database is retried (the bus
        queue holds what comes meanwhile), never skipped."""
        text = message.serialize()
        attempt = 0
        while True:
            try:
                await outbox.enqueue(self.store, bed.ctx.bed_id, bed.ctx.session_id, kind,
                                     control, text, time.time())
                break
            except SQLAlchemyError as exc:
                attempt += 1
                if attempt == 1 or attempt % 30 == 0:
                    _LOGGER.error("HL7 outbox write failed, retrying (attempt %d): %s",
                                  attempt, exc)
                await asyncio.sleep(min(5.0, 0.2 * attempt))
        self.made += 1
        self.notify()


def _control_id() -> str:
    """A message control id (MSH-10) unique across restarts and stations."""
    return uuid.uuid4().hex[:20].upper()
