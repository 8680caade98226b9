"""The running service: the bus, one runner per device, the rules, the store and the board."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from monitor.config import Settings, UnitConfig
from monitor.domain.models import BedUpdate, DeviceStatus, Observation
from monitor.live.alarm_service import AlarmService
from monitor.live.board import Board
from monitor.live.bus import Bus
from monitor.live.escalation import EscalationNotifier
from monitor.live.runner import DeviceRunner
from monitor.records import sessions as admissions
from monitor.records.sessions import Admission
from monitor.storage.database import Store, StoreWriter

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
        self.board = Board(unit)
        self.runners = [
            DeviceRunner(self.bus, device, settings.stale_after_s, settings.reconnect_max_s)
            for bed in unit.beds
            for device in bed.devices
        ]
        self.writer = StoreWriter(self.bus, store, unit.device_beds(),
                                  settings.store_batch_rows, settings.store_flush_s)
        self.alarms = AlarmService(self.bus, unit.device_beds(), [b.id for b in unit.beds],
                                   unit.rule_set(), store)
        self.admissions: dict[str, Admission] = {}
        self.escalation: EscalationNotifier | None = None
        if settings.escalation_webhook:
            self.escalation = EscalationNotifier(self.bus, settings.escalation_webhook,
                                                 unit.name)
        self._board_sub = self.bus.subscribe(Observation, DeviceStatus, maxsize=100_000,
                                             name="board")
        self.started = asyncio.Event()

    async def run(self) -> None:
        """Run every part until cancelled."""
        self.admissions = await admissions.current_admissions(self.store)
        for bed_id, admission in self.admissions.items():
            if admission.alarm_settings and bed_id in self.alarms.states:
                self.alarms.set_patient_rules(bed_id, admission.alarm_settings)
        await self.alarms.load()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.writer.run(), name="store-writer")
                tg.create_task(self.board.follow(self._board_sub), name="board")
                tg.create_task(self.alarms.run(), name="alarms")
                if self.escalation is not None:
                    tg.create_task(self.escalation.run(), name="escalation")
                for runner in self.runners:
                    tg.create_task(runner.run(), name=f"device-{runner.device_id}")
                self.started.set()
        finally:
            self.bus.close()

    # -- views ----------------------------------------------------------------------------

    def bed_snapshot(self, bed_id: str) -> dict[str, Any]:
        """One bed as the screens see it (raises KeyError for an unknown bed)."""
        return next(b for b in self.snapshot() if b["id"] == bed_id)

    def snapshot(self) -> list[dict[str, Any]]:
        """Every bed: devices, latest values, admission, baselines, alarms."""
        # Apply what is queued for the board first: a live client subscribes and then takes
        # this snapshot, so an event published just before it subscribed must be in here.
        for event in self._board_sub.drain():
            self.board.apply(event)
        beds = self.board.snapshot()
        for bed in beds:
            admission = self.admissions.get(bed["id"])
            bed["admission"] = None if admission is None else admission.to_dict()
            bed.update(self.alarms.bed_view(bed["id"]))
        return beds

    def health(self) -> dict[str, object]:
        """Counters for ``/healthz``: no patient data."""
        return {
            "devices": len(self.runners),
            "devices_connected": sum(r.state in ("connected", "sensor_off") for r in self.runners),
            "events_published": self.bus.published,
            "store_written": self.writer.written,
            "store_failures": self.writer.failures,
            "active_alarms": len(self.alarms.active()),
            "device_stats": {r.device_id: r.stats for r in self.runners},
            "dropped": {s.name: s.dropped for s in self.bus.subscriptions if s.dropped},
        }

    # -- sessions (every step recorded with the user) ---------------------------------------

    def _changed(self, bed_id: str, what: str) -> None:
        self.bus.publish(BedUpdate(bed_id, time.time(), what))

    async def admit(self, bed_id: str, user: str, patient_label: str,
                    patient_ref: str | None = None, infusion_day: int | None = None,
                    dose_mg: float | None = None) -> Admission:
        """Assign a patient to a bed; monitoring and baseline collection start."""
        now = time.time()
        admission = await admissions.admit(self.store, bed_id, patient_label, user, now,
                                           patient_ref, infusion_day, dose_mg)
        self.admissions[bed_id] = admission
        self.alarms.start_monitoring(bed_id, user, now)
        self._changed(bed_id, "admit")
        return admission

    async def start_infusion(self, bed_id: str, user: str) -> Admission:
        """Start the infusion: baselines freeze."""
        now = time.time()
        admission = await admissions.start_infusion(self.store, bed_id, user, now)
        self.admissions[bed_id] = admission
        self.alarms.start_infusion(bed_id, user, now)
        self._changed(bed_id, "infusion_start")
        return admission

    async def stop_infusion(self, bed_id: str, user: str) -> Admission:
        """Stop the infusion (monitoring goes on until discharge)."""
        now = time.time()
        admission = await admissions.stop_infusion(self.store, bed_id, user, now)
        self.admissions[bed_id] = admission
        self._changed(bed_id, "infusion_stop")
        return admission

    async def discharge(self, bed_id: str, user: str) -> Admission:
        """Close the session: every alarm ends, monitoring stops."""
        now = time.time()
        admission = await admissions.discharge(self.store, bed_id, user, now)
        self.admissions.pop(bed_id, None)
        self.alarms.stop_monitoring(bed_id, user, now)
        self.alarms.set_patient_rules(bed_id, None)
        self._changed(bed_id, "discharge")
        return admission

    async def set_alarm_settings(self, bed_id: str, user: str, reason: str,
                                 settings: dict[str, Any]) -> Admission:
        """Per-patient alarm settings (delays and thresholds), validated, audited, kept.

        Raises:
            RuleError: a setting the engine refuses (naming it); nothing is changed then.
        """
        self.alarms.validate_patient_rules(bed_id, settings)
        admission = await admissions.set_alarm_settings(self.store, bed_id, settings, user,
                                                        reason, time.time())
        self.alarms.set_patient_rules(bed_id, settings)
        self.admissions[bed_id] = admission
        self._changed(bed_id, "alarm_settings")
        return admission

    async def rebaseline(self, bed_id: str, user: str, reason: str, hr: float | None = None,
                         sys: float | None = None, dia: float | None = None) -> None:
        """A nurse sets or recomputes the baseline, with a reason (audited)."""
        self.alarms.rebaseline(bed_id, user, reason, hr, sys, dia)
        await admissions.audit(self.store, time.time(), user, "rebaseline", bed_id,
                               reason=reason, hr=hr, sys=sys, dia=dia)
        self._changed(bed_id, "rebaseline")
