"""The live adapter around the pure rules engine: fold bus events, tick, persist, act.

The engine (:mod:`monitor.alarms.engine`) never reads a clock; this adapter is where wall time
enters: it ticks every bed once a second. Every alarm event goes onto the bus (the store
writer appends it to the alarm log; the WebSocket sends it to the screens). Each bed's
engine state is saved as JSON after it changes, so active alarms, pauses and baselines
survive a restart.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from monitor.alarms import engine as engine
from monitor.alarms import snapshot
from monitor.alarms.baseline import (
    Baseline,
    compute_bp_baseline,
    compute_hr_baseline,
    manual_bp_baseline,
    manual_hr_baseline,
)
from monitor.alarms.engine import BedState, RuleSet
from monitor.alarms.lifecycle import ActiveAlarm
from monitor.domain.models import AlarmEvent, DeviceStatus, Observation
from monitor.live.bus import Bus
from monitor.storage.database import Store
from monitor.storage.tables import RulesStateRow

_LOGGER = logging.getLogger(__name__)

TICK_S = 1.0
SAVE_S = 1.0
FULL_SAVE_S = 30.0
_PRIORITY_RANK = {"high": 0, "medium": 1, "low": 2}


class UnknownAlarmError(LookupError):
    """No active alarm has that id."""


def alarm_view(bed_id: str, a: ActiveAlarm) -> dict[str, Any]:
    """An active alarm as the API and screens show it."""
    return {
        "alarm_id": a.alarm_id, "bed_id": bed_id, "rule": a.rule, "priority": a.priority,
        "technical": a.technical, "latching": a.latching, "onset": a.onset,
        "value": a.value, "worst": a.worst, "threshold": a.threshold,
        "baseline": a.baseline, "delay": a.delay, "message": a.message,
        "condition_active": a.condition_active, "acknowledged": a.acknowledged,
        "acked_by": a.acked_by, "acked_at": a.acked_at,
        # Low priority never escalates; a medium or high one has escalated once its
        # escalation deadline is spent while still unacknowledged.
        "escalated": a.priority != "low" and a.escalate_at is None and not a.acknowledged,
    }


def sort_alarms(alarms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Highest priority first, then newest first."""
    return sorted(alarms, key=lambda a: (_PRIORITY_RANK.get(a["priority"], 9), -a["onset"]))


class AlarmService:
    """Per-bed engine states, fed from the bus and by nurses' actions.

    Args:
        bus: where observations come from and alarm events go.
        bed_devices: device id -> bed id.
        rules: the site's rules (per-bed overrides in ``bed_rules``).
        store: where states are saved (None: nothing survives a restart).
        clock: wall time (injectable so tests can drive it).
    """

    def __init__(self, bus: Bus, device_beds: dict[str, str], bed_ids: list[str],
                 rules: RuleSet, store: Store | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.bus = bus
        self.device_beds = device_beds
        self.rules = rules
        self.bed_rules: dict[str, RuleSet] = {}
        self.store = store
        self.clock = clock
        self.states: dict[str, BedState] = {b: BedState.new(b) for b in bed_ids}
        self._dirty: set[str] = set()
        self._subscription = bus.subscribe(Observation, DeviceStatus, maxsize=100_000,
                                           name="rules")

    def rules_for(self, bed_id: str) -> RuleSet:
        """The rules in force on a bed."""
        return self.bed_rules.get(bed_id, self.rules)

    def validate_patient_rules(self, bed_id: str, settings: dict[str, Any]) -> RuleSet:
        """The bed's rules with a patient's overrides.

        Raises:
            RuleError: an invalid or site-only setting.
        """
        return self.rules.with_overrides(settings, patient=True)

    def set_patient_rules(self, bed_id: str, settings: dict[str, Any] | None) -> None:
        """Apply a patient's overrides on top of the site rules (None: site rules)."""
        if settings:
            self.bed_rules[bed_id] = self.validate_patient_rules(bed_id, settings)
        else:
            self.bed_rules.pop(bed_id, None)

    # -- folding --------------------------------------------------------------------------

    def _apply(self, bed_id: str, step: Callable[[RuleSet, BedState], engine.Result]
               ) -> list[AlarmEvent]:
        state, events = step(self.rules_for(bed_id), self.states[bed_id])
        self.states[bed_id] = state
        if events:
            # Saved when something a nurse would miss after a restart changed; the rest
            # (held values, timers) is saved every FULL_SAVE_S.
            self._dirty.add(bed_id)
        for event in events:
            self.bus.publish(event)
        return list(events)

    def feed(self, event: Observation | DeviceStatus) -> None:
        """Apply one observation or device status from the bus."""
        bed_id = self.device_beds.get(event.device_id)
        if bed_id is None or bed_id not in self.states:
            return
        if isinstance(event, Observation):
            self._apply(bed_id, lambda r, s: engine.evaluate(r, s, event))
        elif event.state != "info":
            self._apply(bed_id, lambda r, s: engine.device_status(r, s, event))

    def tick(self, now: float | None = None) -> None:
        """Let time pass on every bed (delays, watchdogs, escalations, pause expiry)."""
        t = self.clock() if now is None else now
        for bed_id in self.states:
            self._apply(bed_id, lambda r, s: engine.tick(r, s, t))

    async def run(self) -> None:
        """Fold bus events and tick until cancelled; save states as they change."""
        sub = self._subscription
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        next_save = loop.time() + SAVE_S
        next_full_save = loop.time() + FULL_SAVE_S
        try:
            while True:
                await sub.wait(max(0.0, next_tick - loop.time()))
                for event in sub.drain():
                    self.feed(event)
                if loop.time() >= next_tick:
                    self.tick()
                    next_tick = loop.time() + TICK_S
                if loop.time() >= next_full_save:
                    self._dirty.update(self.states)
                    next_full_save = loop.time() + FULL_SAVE_S
                if loop.time() >= next_save:
                    await self.save()
                    next_save = loop.time() + SAVE_S
        finally:
            sub.close()
            self._dirty.update(self.states)
            await asyncio.shield(self.save())

    # -- persistence ----------------------------------------------------------------------

    async def load(self) -> None:
        """Restore saved states (a state that no longer fits the engine is dropped)."""
        if self.store is None:
            return
        async with self.store.session() as session:
            rows = (await session.execute(select(RulesStateRow))).scalars().all()
        for row in rows:
            if row.bed_id not in self.states:
                continue
            try:
                self.states[row.bed_id] = snapshot.load(BedState, row.state)
            except ValueError as exc:
                _LOGGER.error("saved alarm state of bed %s cannot be used (%s): starting "
                              "afresh", row.bed_id, exc)

    async def save(self) -> None:
        """Save the states that changed since the last save."""
        if self.store is None or not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        now = self.clock()
        rows = [{"bed_id": b, "state": snapshot.dump(self.states[b]), "saved_at": now}
                for b in dirty]
        try:
            async with self.store.session() as session, session.begin():
                for row in rows:
                    await session.merge(RulesStateRow(**row))
        except SQLAlchemyError as exc:
            self._dirty |= dirty  # try again next time
            _LOGGER.error("cannot save alarm states: %s", exc)

    # -- what nurses do ---------------------------------------------------------------------

    def find_alarm(self, alarm_id: str) -> tuple[str, ActiveAlarm]:
        """The bed and active alarm with this id.

        Raises:
            UnknownAlarmError: no active alarm has it.
        """
        for bed_id, state in self.states.items():
            for alarm in state.alarms.values():
                if alarm.alarm_id == alarm_id:
                    return bed_id, alarm
        raise UnknownAlarmError(alarm_id)

    def acknowledge(self, alarm_id: str, user: str, reason: str | None = None) -> dict[str, Any]:
        """Acknowledge one alarm; returns it as it now is (or as it ended)."""
        bed_id, alarm = self.find_alarm(alarm_id)
        now = self.clock()
        self._apply(bed_id, lambda r, s: engine.acknowledge(r, s, alarm_id, user, now, reason))
        for a in self.states[bed_id].alarms.values():
            if a.alarm_id == alarm_id:
                return alarm_view(bed_id, a)
        return {**alarm_view(bed_id, alarm), "acknowledged": True, "acked_by": user,
                "acked_at": now, "ended": True}

    def pause_audio(self, bed_id: str, user: str, seconds: float | None = None) -> float:
        """Pause a bed's alarm audio; returns when the pause ends."""
        now = self.clock()
        self._apply(bed_id, lambda r, s: engine.pause_audio(r, s, user, now, seconds))
        until = self.states[bed_id].audio_paused_until
        assert until is not None
        return until

    def start_monitoring(self, bed_id: str, user: str, now: float | None = None) -> None:
        """A patient is in the bed: technical watchdogs and baseline collection start."""
        t = self.clock() if now is None else now
        self._apply(bed_id, lambda r, s: engine.start_monitoring(r, s, t, user))

    def stop_monitoring(self, bed_id: str, user: str, now: float | None = None) -> None:
        """The patient left: every alarm ends, watchdogs stop, the bed starts afresh."""
        t = self.clock() if now is None else now
        self._apply(bed_id, lambda r, s: engine.stop_monitoring(r, s, t, user))
        # A new patient must not inherit this one's baselines or history; the episode
        # counter goes on so alarm ids stay unique in the log.
        self.states[bed_id] = replace(BedState.new(bed_id), seq=self.states[bed_id].seq)
        self._dirty.add(bed_id)

    def start_infusion(self, bed_id: str, user: str, now: float | None = None) -> None:
        """Start the infusion: baselines freeze."""
        t = self.clock() if now is None else now
        self._apply(bed_id, lambda r, s: engine.start_infusion(r, s, t, user))

    def rebaseline(self, bed_id: str, user: str, reason: str, hr: float | None = None,
                   sys: float | None = None, dia: float | None = None) -> None:
        """Set a new baseline by hand, or recompute it from the data when no value is given.

        Raises:
            ValueError: implausible values, no data to recompute from, no reason.
        """
        now = self.clock()
        state = self.states[bed_id]
        cfg = self.rules_for(bed_id).baseline
        hr_b: Baseline | None = None
        bp_b: Baseline | None = None
        if hr is not None:
            hr_b = manual_hr_baseline(hr, now, reason)
        if sys is not None:
            bp_b = manual_bp_baseline(sys, dia, now, reason=reason)
        if hr is None and sys is None:
            computed_hr = compute_hr_baseline(state.hr_history, now, window=cfg["hr_window"],
                                              min_valid=cfg["hr_min_valid"])
            computed_bp = compute_bp_baseline(state.bp_history, now,
                                              window=cfg["bp_window"],
                                              min_spacing=cfg["bp_min_spacing"],
                                              outlier_mmhg=cfg["bp_outlier"],
                                              max_readings=int(cfg["bp_max_readings"]))
            hr_b = computed_hr if isinstance(computed_hr, Baseline) else None
            bp_b = computed_bp if isinstance(computed_bp, Baseline) else None
            if hr_b is None and bp_b is None:
                raise ValueError("no baseline can be computed from the data: "
                                 f"{getattr(computed_hr, 'reason', '')}; "
                                 f"{getattr(computed_bp, 'reason', '')}")
        self._apply(bed_id, lambda r, s: engine.rebaseline(r, s, now, user, reason,
                                                            hr=hr_b, bp=bp_b))

    # -- views ----------------------------------------------------------------------------

    def active(self, bed_id: str | None = None) -> list[dict[str, Any]]:
        """Active alarms, highest priority then newest first."""
        out = [alarm_view(b, a) for b, s in self.states.items()
               if bed_id in (None, b) for a in s.alarms.values()]
        return sort_alarms(out)

    def bed_view(self, bed_id: str) -> dict[str, Any]:
        """Alarm-related facts about a bed for the screens."""
        state = self.states[bed_id]
        now = self.clock()
        hr_b, bp_b = state.hr_baseline, state.bp_baseline
        preview = False
        if state.infusion_start is None and state.monitoring:
            # Before the infusion, show what would be frozen now (a preview).
            cfg = self.rules_for(bed_id).baseline
            if hr_b is None:
                c = compute_hr_baseline(state.hr_history, now, window=cfg["hr_window"],
                                        min_valid=cfg["hr_min_valid"])
                hr_b = c if isinstance(c, Baseline) else None
            if bp_b is None:
                c2 = compute_bp_baseline(state.bp_history, now, window=cfg["bp_window"],
                                         min_spacing=cfg["bp_min_spacing"],
                                         outlier_mmhg=cfg["bp_outlier"],
                                         max_readings=int(cfg["bp_max_readings"]))
                bp_b = c2 if isinstance(c2, Baseline) else None
            preview = True
        paused = state.audio_paused_until
        return {
            "alarms": self.active(bed_id),
            "audio_paused_until": paused if paused is not None and paused > now else None,
            "monitoring": state.monitoring,
            "infusion_start": state.infusion_start,
            "baseline": None if hr_b is None and bp_b is None else {
                "hr": None if hr_b is None else hr_b.to_dict(),
                "bp": None if bp_b is None else bp_b.to_dict(),
                "preview": preview,
            },
            "nibp_due_at": None if state.last_nibp is None else state.last_nibp + 900.0,
            "artifacts": dict(state.artifacts),
        }


