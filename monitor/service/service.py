"""The running service: the bus, one runner per device, the rules, the board, the store
writer and escalation, each supervised; and the session steps nurses take."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from monitor.config import Settings, UnitConfig
from monitor.live.alarm_states import AlarmStates
from monitor.live.board import Board
from monitor.live.bus import Bus
from monitor.live.escalation import EscalationNotifier
from monitor.live.rules_feed import RulesFeed
from monitor.live.runner import DeviceRunner
from monitor.live.views import SessionChanged
from monitor.live.writer import StoreWriter
from monitor.records import audit, sessions
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
        self.escalation: EscalationNotifier | None = None
        if settings.escalation_webhook:
            self.escalation = EscalationNotifier(self.bus, settings.escalation_webhook,
                                                 unit.name)
        self.admissions: dict[str, Admission] = {}
        self.supervisor = Supervisor()
        self.started = asyncio.Event()

    async def run(self) -> None:
        """Restore what was running, then run every part until cancelled.

        Raises:
            StoreError: the records or saved alarm states cannot be read (at start-up).
        """
        self.admissions = await sessions.current_admissions(self.store)
        for bed_id, admission in self.admissions.items():
            if admission.alarm_settings and self.board.has_bed(bed_id):
                self.rules.set_patient_rules(bed_id, admission.alarm_settings)
            self._changed(bed_id, "restored")
        await self.rules.load()
        sup = self.supervisor
        sup.start("store-writer", self.writer.run)
        sup.start("board", self.board.run)
        sup.start("rules", self.rules.run)
        if self.escalation is not None:
            sup.start("escalation", self.escalation.run)
        for runner in self.runners:
            sup.start(f"device-{runner.device_id}", runner.run)
        self.started.set()
        try:
            await sup.wait()
        finally:
            await sup.stop()
            self.bus.close()

    def health(self) -> dict[str, object]:
        """Counters for ``/healthz``: no patient data."""
        return {
            "devices": len(self.runners),
            "devices_connected": sum(r.state in ("connected", "sensor_off") for r in self.runners),
            "events_published": self.bus.published,
            "store_written": self.writer.written,
            "store_failures": self.writer.failures,
            "active_alarms": len(self.board.alarms()),
            "device_stats": {r.device_id: r.stats for r in self.runners},
            "dropped": {s.name: s.dropped for s in self.bus.subscriptions if s.dropped},
            "parts_failed": self.supervisor.health(),
            "system": self.board.system_conditions(),
        }

    # -- sessions (every step recorded with the user) ---------------------------------------

    def _changed(self, bed_id: str, what: str) -> None:
        admission = self.admissions.get(bed_id)
        self.bus.publish(SessionChanged(bed_id, time.time(), what,
                                        None if admission is None else admission.to_dict()))

    async def admit(self, bed_id: str, user: str, patient_label: str,
                    patient_ref: str | None = None, infusion_day: int | None = None,
                    dose_mg: float | None = None) -> Admission:
        """Assign a patient to a bed; monitoring and baseline collection start."""
        now = time.time()
        admission = await sessions.admit(self.store, bed_id, patient_label, user, now,
                                         patient_ref, infusion_day, dose_mg)
        self.admissions[bed_id] = admission
        self.rules.start_monitoring(bed_id, user, now)
        self._changed(bed_id, "admit")
        return admission

    async def start_infusion(self, bed_id: str, user: str) -> Admission:
        """Start the infusion: baselines freeze."""
        now = time.time()
        admission = await sessions.start_infusion(self.store, bed_id, user, now)
        self.admissions[bed_id] = admission
        self.rules.start_infusion(bed_id, user, now)
        self._changed(bed_id, "infusion_start")
        return admission

    async def stop_infusion(self, bed_id: str, user: str) -> Admission:
        """Stop the infusion (monitoring goes on until discharge)."""
        now = time.time()
        admission = await sessions.stop_infusion(self.store, bed_id, user, now)
        self.admissions[bed_id] = admission
        self._changed(bed_id, "infusion_stop")
        return admission

    async def discharge(self, bed_id: str, user: str) -> Admission:
        """Close the session: every alarm ends, monitoring stops."""
        now = time.time()
        admission = await sessions.discharge(self.store, bed_id, user, now)
        self.admissions.pop(bed_id, None)
        self.rules.stop_monitoring(bed_id, user, now)
        self.rules.set_patient_rules(bed_id, None)
        self._changed(bed_id, "discharge")
        return admission

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

    def charted(self, bed_id: str) -> None:
        """Something was charted on the bed's session: screens refresh it."""
        self._changed(bed_id, "event")
