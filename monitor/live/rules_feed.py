"""The rules live: bus events and nurses' actions folded through the pure engine.

The engine (:mod:`monitor.alarms.engine`) never reads a clock; this is where wall time
enters: every bed is ticked once a second. Every alarm event goes onto the bus (the store
writer appends it to the alarm log, escalation sends it on), followed by the bed's
:class:`~monitor.live.views.AlarmPicture` whenever what screens show changed; the board
owns the bed picture from there. Each bed's engine state is saved after it changes, so
active alarms, pauses and baselines survive a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from monitor.alarms import engine
from monitor.alarms.baseline import Baseline, NoBaseline, manual_bp_baseline, manual_hr_baseline
from monitor.alarms.engine import BedState, RuleSet
from monitor.domain.errors import BaselineError, UnknownAlarmError
from monitor.domain.models import AlarmEvent, DeviceState, DeviceStatus, Observation
from monitor.live.alarm_states import AlarmStates
from monitor.live.bus import Bus
from monitor.live.views import AlarmPicture, AlarmView, BaselinePicture, sort_alarms

TICK_S = 1.0
SAVE_S = 1.0
FULL_SAVE_S = 30.0
PREVIEW_S = 5.0
"""How often a pre-infusion bed's baseline preview is recomputed (it moves slowly)."""
NIBP_INTERVAL_S = 900.0
"""The protocol's NIBP interval: 15 minutes."""


class RulesFeed:
    """Per-bed engine states, fed from the bus and by nurses' actions.

    Args:
        bus: where observations come from and alarm events and pictures go.
        bed_ids: the unit's beds.
        rules: the site's rules (a patient's overrides in :meth:`set_patient_rules`).
        states: where engine states are saved (None: nothing survives a restart).
        clock: wall time (injectable so tests can drive it).
    """

    def __init__(self, bus: Bus, bed_ids: list[str], rules: RuleSet,
                 states: AlarmStates | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.bus = bus
        self.rules = rules
        self.bed_rules: dict[str, RuleSet] = {}
        self.saved = states
        self.clock = clock
        self.states: dict[str, BedState] = {b: BedState.new(b) for b in bed_ids}
        self._pictures: dict[str, AlarmPicture] = {}
        self._previews: dict[str, tuple[float, BaselinePicture | None]] = {}
        self._dirty: set[str] = set()
        self.subscription = bus.subscribe(Observation, DeviceStatus, maxsize=100_000,
                                          name="rules")

    # -- rules in force ---------------------------------------------------------------------

    def rules_for(self, bed_id: str) -> RuleSet:
        """The rules in force on a bed."""
        return self.bed_rules.get(bed_id, self.rules)

    def validate_patient_rules(self, settings: dict[str, Any]) -> RuleSet:
        """The site rules with a patient's overrides.

        Raises:
            RuleError: an invalid or site-only setting, naming it.
        """
        return self.rules.with_overrides(settings, patient=True)

    def set_patient_rules(self, bed_id: str, settings: dict[str, Any] | None) -> None:
        """Apply a patient's overrides on top of the site rules (None: site rules)."""
        if settings:
            self.bed_rules[bed_id] = self.validate_patient_rules(settings)
        else:
            self.bed_rules.pop(bed_id, None)

    # -- folding ------------------------------------------------------------------------------

    def _apply(self, bed_id: str, step: Callable[[RuleSet, BedState], engine.Result]
               ) -> list[AlarmEvent]:
        state, events = step(self.rules_for(bed_id), self.states[bed_id])
        self.states[bed_id] = state
        if events:
            # Saved when something a nurse would miss after a restart changed; the rest
            # (held values, timers) is saved every FULL_SAVE_S.
            self._dirty.add(bed_id)
            self._previews.pop(bed_id, None)
        for event in events:
            self.bus.publish(event)
        self._publish_picture(bed_id, tuple(events))
        return list(events)

    def feed(self, event: Observation | DeviceStatus) -> None:
        """Apply one observation or device status from the bus (stamped with its bed)."""
        if event.bed_id not in self.states:
            return
        if isinstance(event, Observation):
            self._apply(event.bed_id, lambda r, s: engine.evaluate(r, s, event))
        elif event.state != DeviceState.INFO:
            self._apply(event.bed_id, lambda r, s: engine.device_status(r, s, event))

    def tick(self, now: float | None = None) -> None:
        """Let time pass on every bed (delays, watchdogs, escalations, pause expiry)."""
        t = self.clock() if now is None else now
        for bed_id in self.states:
            self._apply(bed_id, lambda r, s: engine.tick(r, s, t))

    async def run(self) -> None:
        """Fold bus events and tick until cancelled; save states as they change."""
        sub = self.subscription
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
            self._dirty.update(self.states)
            await asyncio.shield(self.save())

    # -- persistence ------------------------------------------------------------------------

    async def load(self) -> None:
        """Restore saved states."""
        if self.saved is not None:
            self.states.update(await self.saved.load(list(self.states)))
        for bed_id in self.states:
            self._publish_picture(bed_id, ())

    async def save(self) -> bool:
        """Save the states that changed since the last save; False when the database failed
        (they are kept for the next try)."""
        if self.saved is None or not self._dirty:
            return True
        dirty, self._dirty = self._dirty, set()
        if not await self.saved.save({b: self.states[b] for b in dirty}, self.clock()):
            self._dirty |= dirty
            return False
        return True

    # -- what screens show --------------------------------------------------------------------

    def picture(self, bed_id: str) -> AlarmPicture:
        """The bed's alarm picture now."""
        state = self.states[bed_id]
        paused = state.audio_paused_until
        now = state.now if state.now is not None else self.clock()
        return AlarmPicture(
            bed_id=bed_id,
            alarms=sort_alarms(AlarmView.of(bed_id, a) for a in state.alarms.values()),
            audio_paused_until=paused if paused is not None and paused > now else None,
            monitoring=state.monitoring,
            infusion_start=state.infusion_start,
            baseline=self._baseline_picture(bed_id),
            nibp_due_at=None if state.last_nibp is None else state.last_nibp + NIBP_INTERVAL_S,
            artifacts=dict(state.artifacts),
        )

    def _baseline_picture(self, bed_id: str) -> BaselinePicture | None:
        state = self.states[bed_id]
        hr, bp = state.hr_baseline, state.bp_baseline
        if state.infusion_start is not None or not state.monitoring:
            return None if hr is None and bp is None else BaselinePicture(hr, bp, False)
        # Before the infusion: what would be frozen now. The median over minutes of data
        # moves slowly, so it is recomputed every PREVIEW_S, not on every sample.
        now = self.clock()
        cached = self._previews.get(bed_id)
        if cached is not None and now - cached[0] < PREVIEW_S:
            return cached[1]
        computed_hr, computed_bp = engine.computed_baselines(self.rules_for(bed_id), state, now)
        hr = hr or _found(computed_hr)
        bp = bp or _found(computed_bp)
        preview = None if hr is None and bp is None else BaselinePicture(hr, bp, True)
        self._previews[bed_id] = (now, preview)
        return preview

    def _publish_picture(self, bed_id: str, events: tuple[AlarmEvent, ...]) -> None:
        picture = self.picture(bed_id)
        if events or not picture.same_view(self._pictures.get(bed_id)):
            self._pictures[bed_id] = picture
            self.bus.publish(replace(picture, events=events))

    # -- what nurses do -----------------------------------------------------------------------

    def find_alarm(self, alarm_id: str) -> str:
        """The bed of the active alarm with this id.

        Raises:
            UnknownAlarmError: no active alarm has it.
        """
        for bed_id, state in self.states.items():
            if any(a.alarm_id == alarm_id for a in state.alarms.values()):
                return bed_id
        raise UnknownAlarmError(f"no active alarm {alarm_id!r} (it may have ended)")

    def acknowledge(self, alarm_id: str, user: str, reason: str | None = None
                    ) -> dict[str, Any]:
        """Acknowledge one alarm; returns it as it now is (or as it ended).

        Raises:
            UnknownAlarmError: no active alarm has this id.
        """
        bed_id = self.find_alarm(alarm_id)
        before = next(a for a in self.states[bed_id].alarms.values() if a.alarm_id == alarm_id)
        now = self.clock()
        self._apply(bed_id, lambda r, s: engine.acknowledge(r, s, alarm_id, user, now, reason))
        for a in self.states[bed_id].alarms.values():
            if a.alarm_id == alarm_id:
                return AlarmView.of(bed_id, a).to_dict()
        return {**AlarmView.of(bed_id, before).to_dict(), "acknowledged": True,
                "acked_by": user, "acked_at": now, "ended": True}

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
        self._publish_picture(bed_id, ())

    def start_infusion(self, bed_id: str, user: str, now: float | None = None) -> None:
        """Start the infusion: baselines freeze."""
        t = self.clock() if now is None else now
        self._apply(bed_id, lambda r, s: engine.start_infusion(r, s, t, user))

    def rebaseline(self, bed_id: str, user: str, reason: str, hr: float | None = None,
                   sys: float | None = None, dia: float | None = None) -> None:
        """Set a new baseline by hand, or recompute it from the data when no value is given.

        Raises:
            BaselineError: nothing to recompute from.
        """
        now = self.clock()
        hr_b: Baseline | None = None
        bp_b: Baseline | None = None
        if hr is not None:
            hr_b = manual_hr_baseline(hr, now, reason)
        if sys is not None:
            bp_b = manual_bp_baseline(sys, dia, now, reason=reason)
        if hr is None and sys is None:
            computed_hr, computed_bp = engine.computed_baselines(
                self.rules_for(bed_id), self.states[bed_id], now)
            hr_b, bp_b = _found(computed_hr), _found(computed_bp)
            if hr_b is None and bp_b is None:
                raise BaselineError("no baseline can be computed from the data: "
                                    f"{_why(computed_hr)}; {_why(computed_bp)}")
        self._apply(bed_id, lambda r, s: engine.rebaseline(r, s, now, user, reason,
                                                            hr=hr_b, bp=bp_b))


def _found(b: Baseline | NoBaseline) -> Baseline | None:
    return b if isinstance(b, Baseline) else None


def _why(b: Baseline | NoBaseline) -> str:
    return b.reason if isinstance(b, NoBaseline) else ""
