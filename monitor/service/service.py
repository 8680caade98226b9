"""The running service: the bus, one runner per device, the rules, the board, the store
writer and escalation, each supervised; and the session steps nurses take.

On PostgreSQL the service is also one server among others on the same database
(:mod:`monitor.live.cluster`): the board shows their beds too, and an acknowledgement or an
audio pause for one of their beds is forwarded to the server that has it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

import drivers
from monitor.config import Settings, UnitConfig
from monitor.domain.errors import (
    AdmissionError,
    InvalidValue,
    RecordNotFound,
    StoreError,
    UnknownAlarmError,
)
from monitor.interop.wiring import Interfaces
from monitor.live.alarm_states import AlarmStates
from monitor.live.board import Board
from monitor.live.bus import Bus
from monitor.live.cluster import Cluster
from monitor.live.disclosure import DisclosureWriter
from monitor.live.escalation import EscalationNotifier
from monitor.live.forwarding import ServerUnavailable
from monitor.live.rules_feed import RulesFeed
from monitor.live.runner import DeviceRunner
from monitor.live.views import SessionChanged
from monitor.live.writer import StoreWriter
from monitor.records import audit, charting, courses, history, patients, sessions
from monitor.records.episodes import EpisodeRules
from monitor.records.patients import Patient
from monitor.records.sessions import Admission
from monitor.service.supervisor import Supervisor
from monitor.storage.database import Store

_LOGGER = logging.getLogger(__name__)


class Service:
    """Wires the parts together. Start with :meth:`run` inside a task; cancel to stop.

    Args:
        settings: service settings.
        unit: beds and devices.
        store: an open store.
    """

    def __init__(self, settings: Settings, unit: UnitConfig, store: Store) -> None:
        self.settings = settings
        self.unit = unit
        self.store = store
        self.bus = Bus()
        self.board = Board(self.bus, unit)
        self.runners = [
            DeviceRunner(self.bus, device, bed.id, settings.stale_after_s,
                         settings.reconnect_max_s)
            for bed in unit.beds
            for device in bed.devices
        ]
        self.writer = StoreWriter(self.bus, store, settings.store_batch_rows,
                                  settings.store_flush_s)
        self.rules = RulesFeed(self.bus, [b.id for b in unit.beds], unit.rule_set(),
                               AlarmStates(store))
        self.disclosure: DisclosureWriter | None = None
        if settings.disclosure:
            self.disclosure = DisclosureWriter(self.bus, store,
                                               settings.disclosure_retention_days)
        self.escalation: EscalationNotifier | None = None
        if settings.escalation_webhook:
            self.escalation = EscalationNotifier(self.bus, settings.escalation_webhook,
                                                 unit.name)
        self.interfaces = Interfaces(self.bus, store, settings, unit, self.charted)
        self.cluster: Cluster | None = None
        if store.engine.dialect.name == "postgresql":
            self.cluster = Cluster(self.bus, self.board, store, settings.cluster_name,
                                   settings.cluster_url, self._forwarded)
        self.admissions: dict[str, Admission] = {}
        self.supervisor = Supervisor()
        self.started = asyncio.Event()
        self._background: set[asyncio.Future[Any]] = set()
        self._counting: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Restore what was running, then run every part until cancelled.

        Raises:
            StoreError: the records or saved alarm states cannot be read (at start-up).
        """
        self.admissions = {bed_id: admission for bed_id, admission
                           in (await sessions.current_admissions(self.store)).items()
                           if self.board.has_bed(bed_id)}  # another server's beds are its own
        for bed_id, admission in self.admissions.items():
            if admission.alarm_settings and self.board.has_bed(bed_id):
                self.rules.set_patient_rules(bed_id, admission.alarm_settings)
            self._changed(bed_id, "restored")
        await self.rules.load()
        sup = self.supervisor
        sup.start("store-writer", self.writer.run)
        if self.disclosure is not None:
            sup.start("disclosure", self.disclosure.run)
        sup.start("board", self.board.run)
        sup.start("rules", self.rules.run)
        if self.escalation is not None:
            sup.start("escalation", self.escalation.run)
        for name, part in self.interfaces.parts():
            sup.start(name, part)
        for runner in self.runners:
            sup.start(f"device-{runner.device_id}", runner.run)
        for name, part in self.cluster.parts() if self.cluster is not None else ():
            sup.start(name, part)
        self.started.set()
        try:
            await sup.wait()
        finally:
            for task in list(self._counting):  # recounted at the first read
                task.cancel()
            await asyncio.gather(*self._background, return_exceptions=True)
            await sup.stop()
            self.bus.close()

    async def durable(self, timeout_s: float = 5.0) -> None:
        """Commit what the last action changed: the alarm-log records on the bus and the
        engine states (acknowledgements, pauses, baselines live there).

        Raises:
            StoreError: the database did not take it within ``timeout_s`` (the action is
                shown, and will be written when the database recovers, but the user must
                not be told it is saved).
        """
        # Shielded: a write given up on here still finishes (cancelling it mid-batch would
        # lose what it had taken from the queue).
        work = asyncio.ensure_future(self._commit())
        self._background.add(work)
        work.add_done_callback(self._background.discard)
        try:
            async with asyncio.timeout(timeout_s):
                saved = await asyncio.shield(work)
        except TimeoutError:
            raise StoreError("the database did not answer: the action is not saved yet") \
                from None
        if not saved:
            raise StoreError("the database refused the alarm states: the action is not "
                             "saved yet")

    async def _commit(self) -> bool:
        await self.writer.sync()
        return await self.rules.save()

    async def acknowledge(self, alarm_id: str, user: str, reason: str | None = None
                          ) -> dict[str, Any]:
        """Acknowledge an alarm, durably (committed before this returns).

        The alarm of another server's bed is acknowledged there (forwarded, committed
        there, answered); a ``SERVER_LOST`` alarm is this server's own, told to the others.

        Raises:
            UnknownAlarmError: no active alarm has this id.
            ServerUnavailable: the bed's server is not heard or did not answer in time.
        """
        bed_id = self.board.remote.alarm_bed(alarm_id)
        if bed_id is None:
            alarm = self.rules.acknowledge(alarm_id, user, reason)
            await self.durable()
            return alarm
        if self.board.remote.is_condition(alarm_id):
            acked = self.board.acknowledge_condition(alarm_id, user, time.time())
            if acked is None:
                raise UnknownAlarmError(f"no active alarm {alarm_id!r} (it may have ended)")
            if self.cluster is not None:
                await self.cluster.announce_acknowledged(alarm_id, user, acked["acked_at"])
            return acked
        return await self._forward(bed_id, "acknowledge",
                                   {"alarm_id": alarm_id, "user": user, "reason": reason})

    async def pause_audio(self, bed_id: str, user: str, seconds: float | None = None
                          ) -> float:
        """Pause a bed's alarm audio, durably; returns when the pause ends (another
        server's bed: forwarded there, as :meth:`acknowledge`)."""
        if self.board.owner(bed_id) is not None:
            answer = await self._forward(bed_id, "pause_audio",
                                         {"bed_id": bed_id, "user": user, "seconds": seconds})
            return float(answer["audio_paused_until"])
        until = self.rules.pause_audio(bed_id, user, seconds)
        await self.durable()
        return until

    async def _forward(self, bed_id: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
        owner = self.board.owner(bed_id)
        if owner is None or self.cluster is None:
            raise ServerUnavailable(f"bed {bed_id} has no server to do this now")
        return await self.cluster.forward(owner, op, args)

    async def _forwarded(self, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """An action another server forwarded for one of this server's beds (done here,
        durably, never forwarded again)."""
        user = str(args.get("user") or "")
        if op == "acknowledge":
            alarm = self.rules.acknowledge(str(args.get("alarm_id")), user, args.get("reason"))
            await self.durable()
            return alarm
        if op == "pause_audio":
            bed_id = str(args.get("bed_id"))
            if not self.board.has_bed(bed_id):
                raise RecordNotFound(f"no bed {bed_id!r} on server {self.cluster_name}")
            until = self.rules.pause_audio(bed_id, user, args.get("seconds"))
            await self.durable()
            return {"bed_id": bed_id, "audio_paused_until": until}
        raise InvalidValue(f"unknown forwarded action {op!r}")

    @property
    def cluster_name(self) -> str:
        """This server's name among those sharing the database."""
        return self.settings.cluster_name

    def server_of(self, bed_id: str) -> tuple[str, str] | None:
        """The other server that has this bed and where nurses reach it (None: this
        server's bed, or no bed)."""
        owner = self.board.owner(bed_id)
        if owner is None:
            return None
        return owner, self.cluster.url_of(owner) if self.cluster is not None else ""

    async def start_nibp(self, bed_id: str, user: str) -> dict[str, Any]:
        """Ask the bed's monitor to measure NIBP now (the pre-infusion baseline's readings,
        a repeat after a rise), audited whether or not it can.

        Raises:
            AdmissionError: no device of the bed lets the station start one.
        """
        able = [r for r in self.runners if r.bed_id == bed_id
                and drivers.codec_class(r.config.protocol).can_start_nibp]
        await audit.audit(self.store, time.time(), user, "nibp_requested", bed_id,
                          devices=[r.device_id for r in able])
        if not able:
            raise AdmissionError(f"no monitor of bed {bed_id} lets the station start an NIBP "
                                 "measurement: start it on the monitor")
        await able[0].request_nibp()
        return {"bed_id": bed_id, "device_id": able[0].device_id, "requested": True}

    def health(self) -> dict[str, object]:
        """Counters for ``/healthz``: no patient data."""
        return {
            "devices": len(self.runners),
            "devices_connected": sum(r.state in ("connected", "sensor_off") for r in self.runners),
            "events_published": self.bus.published,
            "store_written": self.writer.written,
            "store_failures": self.writer.failures,
            "disclosure": None if self.disclosure is None else {
                "blocks": self.disclosure.blocks_written,
                "bytes": self.disclosure.bytes_written,
                "failures": self.disclosure.failures},
            "active_alarms": sum(len(self.board.alarms(b)) for b in self.board.bed_ids),
            "device_stats": {r.device_id: r.stats for r in self.runners},
            "dropped": {s.name: s.dropped for s in self.bus.subscriptions if s.dropped},
            "parts_failed": self.supervisor.health(),
            "system": self.board.system_conditions(),
            "hl7_out": self.interfaces.hl7_health(),
            "cluster": None if self.cluster is None else self.cluster.health(),
        }

    # -- sessions (every step recorded with the user) ---------------------------------------

    def _changed(self, bed_id: str, what: str) -> None:
        admission = self.admissions.get(bed_id)
        self.bus.publish(SessionChanged(bed_id, time.time(), what,
                                        None if admission is None else admission.to_dict()))

    async def admit_patient(self, bed_id: str, user: str, patient_id: int,
                            day: int | None = None) -> Admission:
        """Assign a registered patient to a bed: the next session of their active course
        (a course with the protocol's plan is opened if they have none). Monitoring and
        baseline collection start.

        Raises:
            UnknownPatient: no such patient.
            AdmissionError: the bed is taken, the patient is in another bed, the day done.
        """
        patient = await patients.get(self.store, patient_id)
        return await self._admit(bed_id, user, patient, day)

    async def admit(self, bed_id: str, user: str, patient_label: str,
                    patient_ref: str | None = None, infusion_day: int | None = None,
                    dose_mg: float | None = None) -> Admission:
        """Assign a patient named by a label (and an identifier, when known) to a bed.

        The patient with that identifier is used; a new identifier or none registers the
        patient (no identifier: a generated ``UNREG-...`` one, to be merged later). A dose
        stated here is the dose intended for the session (off the plan, it is marked so).
        """
        now = time.time()
        patient = await patients.by_identifier(self.store, patient_ref) if patient_ref else None
        days = courses.DosePlan().planned_sessions
        if patient is None and infusion_day is not None and not 1 <= infusion_day <= days:
            # Checked before the patient is registered: a refused admission leaves nothing.
            raise InvalidValue(f"infusion_day: the course has days 1 to {days}",
                               field="infusion_day")
        if patient is None:
            identifier = patient_ref or f"UNREG-{int(now * 1000):x}"
            patient = await patients.create(self.store, {"identifier": identifier,
                                                         "family_name": patient_label},
                                            user, now, source="admission")
        return await self._admit(bed_id, user, patient, infusion_day, dose_mg)

    async def _admit(self, bed_id: str, user: str, patient: Patient, day: int | None,
                     dose_mg: float | None = None) -> Admission:
        now = time.time()
        course = await courses.active(self.store, patient.id)
        if course is None:
            course = await courses.create(self.store, patient.id, courses.DosePlan(), user, now)
        devices = [{"id": d.id, "protocol": d.protocol, "port": d.port}
                   for b in self.unit.beds if b.id == bed_id for d in b.devices]
        day = courses.next_day(course) if day is None else day
        reason = None
        if dose_mg is not None and 1 <= day <= course.plan.planned_sessions:
            if abs(dose_mg - course.plan.planned_dose(day)) > courses.DOSE_TOLERANCE_MG:
                reason = "dose stated at admission, off the plan"
            courses.check_dose(course, day, dose_mg, reason)
        admission = await sessions.admit(self.store, bed_id, patient, course, user, now, day,
                                         devices, dose_mg, reason)
        self.admissions[bed_id] = admission
        self._changed(bed_id, "admit")  # before the rules' records, so the log has the session
        self.rules.start_monitoring(bed_id, user, now)
        await self.durable()
        return admission

    async def start_infusion(self, bed_id: str, user: str, dose_mg: float | None = None,
                             deviation_reason: str | None = None) -> Admission:
        """Start the infusion with the dose given (checked against the plan): baselines
        freeze and are kept with the session."""
        now = time.time()
        admission = await sessions.start_infusion(self.store, bed_id, user, now, dose_mg,
                                                  deviation_reason)
        self.rules.start_infusion(bed_id, user, now)
        admission = await self._keep_baseline(admission)
        self.admissions[bed_id] = admission
        self._changed(bed_id, "infusion_start")
        await self.durable()
        return admission

    async def _keep_baseline(self, admission: Admission) -> Admission:
        picture = self.rules.picture(admission.bed_id).baseline
        baseline = None if picture is None else picture.to_dict()
        await sessions.record_baseline(self.store, admission.id, baseline)
        return await sessions.get(self.store, admission.id)

    async def pause_infusion(self, bed_id: str, user: str, reason: str) -> Admission:
        """Pause the infusion, with a reason (monitoring goes on)."""
        return await self._step(bed_id, "infusion_pause",
                                sessions.pause_infusion(self.store, bed_id, user, time.time(),
                                                        reason))

    async def resume_infusion(self, bed_id: str, user: str, reason: str | None = None
                              ) -> Admission:
        """Resume a paused infusion."""
        return await self._step(bed_id, "infusion_resume",
                                sessions.resume_infusion(self.store, bed_id, user, time.time(),
                                                         reason))

    async def stop_infusion(self, bed_id: str, user: str, reason: str | None = None
                            ) -> Admission:
        """Stop the infusion (monitoring goes on until discharge)."""
        return await self._step(bed_id, "infusion_stop",
                                sessions.stop_infusion(self.store, bed_id, user, time.time(),
                                                       reason))

    async def _step(self, bed_id: str, what: str, step: Awaitable[Admission]) -> Admission:
        admission = await step
        self.admissions[bed_id] = admission
        self._changed(bed_id, what)
        return admission

    async def discharge(self, bed_id: str, user: str) -> Admission:
        """Close the session: every alarm ends, monitoring stops."""
        now = time.time()
        admission = await sessions.discharge(self.store, bed_id, user, now)
        self.rules.stop_monitoring(bed_id, user, now)
        self.rules.set_patient_rules(bed_id, None)
        self.admissions.pop(bed_id, None)
        self._changed(bed_id, "discharge")
        await self.durable()
        if admission.infusion_started_at is not None:
            # Counted in the background once the writer has flushed the last readings; a
            # crash before then is mended by the first read (records.history.episodes).
            task = asyncio.create_task(self._count_episodes(admission))
            self._counting.add(task)
            task.add_done_callback(self._counting.discard)
        return admission

    def episode_rules(self) -> EpisodeRules:
        """The study's episode definitions, with the site's BP factor (the BP_RISE rule's:
        the study names none)."""
        return EpisodeRules(bp_factor=self.rules.rules.rules["BP_RISE"].p("factor"))

    async def _count_episodes(self, admission: Admission) -> None:
        await asyncio.sleep(self.settings.store_flush_s * 2)
        try:
            await history.episodes(self.store, admission, self.episode_rules(), time.time())
        except SQLAlchemyError as exc:
            _LOGGER.error("episodes of session %d not counted yet (%s): they will be when "
                          "it is read", admission.id, exc)

    async def chart(self, bed_id: str, kind: str, detail: dict[str, Any], user: str,
                    at: float | None = None) -> dict[str, Any]:
        """Chart an entry on the bed's open session (checked against its course's plan).

        Raises:
            AdmissionError: no patient in the bed, or a second journal.
            ChartError: invalid content, naming the field.
        """
        admission = self.admissions.get(bed_id)
        if admission is None:
            raise AdmissionError(f"bed {bed_id} has no patient admitted")
        now = time.time()
        course = (None if admission.course_id is None
                  else await courses.get(self.store, admission.course_id))
        entry = await charting.chart(self.store, admission, kind, detail, user,
                                     now if at is None else at, now, course)
        self.charted(bed_id)
        return entry

    def charted(self, bed_id: str) -> None:
        """Something was charted or corrected on the bed's session: screens refresh it."""
        self._changed(bed_id, "event")

    async def set_alarm_settings(self, bed_id: str, user: str, reason: str,
                                 settings: dict[str, Any]) -> Admission:
        """Per-patient alarm settings (delays and thresholds), validated, audited, kept.

        Raises:
            RuleError: a setting the engine refuses (naming it); nothing is changed then.
            AdmissionError: no patient in the bed.
        """
        self.rules.validate_patient_rules(settings)
        admission = await sessions.set_alarm_settings(self.store, bed_id, settings, user,
                                                      reason, time.time())
        self.rules.set_patient_rules(bed_id, settings)
        self.admissions[bed_id] = admission
        self._changed(bed_id, "alarm_settings")
        return admission

    async def rebaseline(self, bed_id: str, user: str, reason: str, hr: float | None = None,
                         sys: float | None = None, dia: float | None = None) -> None:
        """A nurse sets or recomputes the baseline, with a reason (audited).

        Raises:
            BaselineError: nothing to recompute from.
        """
        self.rules.rebaseline(bed_id, user, reason, hr, sys, dia)
        await audit.audit(self.store, time.time(), user, "rebaseline", bed_id,
                          reason=reason, hr=hr, sys=sys, dia=dia)
        admission = self.admissions.get(bed_id)
        if admission is not None and admission.infusion_started_at is not None:
            self.admissions[bed_id] = await self._keep_baseline(admission)
        await self.durable()
