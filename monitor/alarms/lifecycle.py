"""Alarm lifecycle (pure): onset, re-announce, priority change, escalation, acknowledge, end.

Each function takes an :class:`ActiveAlarm` and returns the new alarm (or ``None`` once it
has ended) plus the :class:`~monitor.domain.models.AlarmEvent` log records it produced. Nothing
here reads a clock: every time is an argument.

Lifecycle of one alarm episode::

    onset ──► [reannounce | priority_change | escalation]* ──► end            (non-latching)
    onset ──► ... ──► condition_end ──► acknowledged ──► end                  (latching)
    onset ──► acknowledged ──► ... ──► end   (acknowledged first: ends when the condition does)

- *Escalation*: an alarm left unacknowledged for ``escalation[priority]`` seconds (medium
  60 s, high 30 s, low never) produces one ``escalation`` event with target
  ``charge_nurse``. A re-announce or a priority rise starts a new unacknowledged episode,
  which may escalate again.
- *Acknowledge* stops the audio for that alarm and cancels its escalation. It does not end
  a non-latching alarm whose condition is still present.
- *Re-announce*: the value worsened by the configured delta since it was last announced;
  an acknowledged alarm becomes unacknowledged again.
- *Priority change*: a rule may raise its priority after a while (DEVICE_LOST: medium, then
  high after 60 s); that also re-announces an acknowledged alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from monitor.domain.models import AlarmEvent

CHARGE_NURSE = "charge_nurse"
"""Target of escalation events."""


@dataclass(frozen=True, slots=True)
class ActiveAlarm:
    """One alarm episode that has not ended.

    Attributes:
        alarm_id: stable id of the episode.
        key: the slot it occupies on the bed (the rule id, or ``RULE/device``).
        rule: the rule id.
        priority: the priority now in force.
        technical: technical rather than physiological.
        latching: stays after its condition ends until acknowledged.
        onset: POSIX seconds of onset.
        value: latest value.
        worst: worst value seen.
        announced: the value last announced (onset or re-announce).
        threshold: effective threshold at onset.
        baseline: baseline used, if any.
        delay: the condition delay applied.
        worse: +1 when higher is worse, -1 when lower is worse, 0 when it does not apply.
        message: human text of the latest announcement.
        condition_active: ``False`` once a latching alarm's condition has ended.
        acked_by: who acknowledged the current episode, if anyone.
        acked_at: when.
        escalate_at: when the unacknowledged alarm escalates (``None``: never / done).
        upgrade_at: when the priority rises to ``upgrade_to``.
        upgrade_to: the priority it rises to.
    """

    alarm_id: str
    key: str
    rule: str
    priority: str
    technical: bool
    latching: bool
    onset: float
    value: float | None = None
    worst: float | None = None
    announced: float | None = None
    threshold: float | None = None
    baseline: float | None = None
    delay: float | None = None
    worse: int = 0
    message: str = ""
    condition_active: bool = True
    acked_by: str | None = None
    acked_at: float | None = None
    escalate_at: float | None = None
    upgrade_at: float | None = None
    upgrade_to: str | None = None

    @property
    def acknowledged(self) -> bool:
        """Acknowledged in its current episode."""
        return self.acked_by is not None


def record(
    alarm: ActiveAlarm, bed_id: str, event: str, time: float, **extra: object
) -> AlarmEvent:
    """A log record for ``alarm`` (fields default to the alarm's own)."""
    fields: dict[str, object] = {
        "value": alarm.value,
        "threshold": alarm.threshold,
        "baseline": alarm.baseline,
        "delay": alarm.delay,
        "message": alarm.message,
        "worst_value": alarm.worst,
    }
    fields.update(extra)
    return AlarmEvent(
        alarm_id=alarm.alarm_id,
        bed_id=bed_id,
        rule=alarm.rule,
        priority=alarm.priority,
        technical=alarm.technical,
        event=event,
        time=time,
        **fields,  # type: ignore[arg-type]
    )


def _escalate_at(
    priority: str, time: float, escalation: Mapping[str, float | None]
) -> float | None:
    after = escalation.get(priority)
    return None if after is None else time + after


def _worst(alarm: ActiveAlarm, value: float | None) -> float | None:
    if value is None:
        return alarm.worst
    if alarm.worst is None:
        return value
    if alarm.worse > 0:
        return max(alarm.worst, value)
    if alarm.worse < 0:
        return min(alarm.worst, value)
    return alarm.worst


def onset(
    bed_id: str,
    alarm: ActiveAlarm,
    escalation: Mapping[str, float | None],
    upgrade_after: float | None = None,
    upgrade_to: str = "high",
) -> tuple[ActiveAlarm, list[AlarmEvent]]:
    """Start an alarm: ``alarm`` carries its rule, priority, value and thresholds.

    Args:
        bed_id: the bed.
        alarm: the new episode (its ``onset`` is the onset time).
        escalation: seconds to escalation by priority (``None``: never).
        upgrade_after: raise the priority to ``upgrade_to`` after this many seconds.
        upgrade_to: the raised priority.
    """
    alarm = replace(
        alarm,
        worst=alarm.value,
        announced=alarm.value,
        escalate_at=_escalate_at(alarm.priority, alarm.onset, escalation),
        upgrade_at=None
        if upgrade_after is None or alarm.priority == upgrade_to
        else alarm.onset + upgrade_after,
        upgrade_to=upgrade_to if upgrade_after is not None else None,
    )
    return alarm, [record(alarm, bed_id, "onset", alarm.onset)]


def update(
    bed_id: str,
    alarm: ActiveAlarm,
    time: float,
    value: float | None,
    worsened: bool,
    escalation: Mapping[str, float | None],
    message: str | None = None,
) -> tuple[ActiveAlarm, list[AlarmEvent]]:
    """A new value while the condition holds: track the worst; re-announce if worsened.

    ``worsened`` is decided by the caller (it knows the rule's delta). A latching alarm whose
    condition had ended and is present again is re-announced too.
    """
    resumed = not alarm.condition_active
    alarm = replace(alarm, value=value, worst=_worst(alarm, value), condition_active=True)
    if not (worsened or resumed):
        return alarm, []
    alarm = replace(
        alarm,
        announced=value,
        message=message or alarm.message,
        acked_by=None,
        acked_at=None,
        escalate_at=alarm.escalate_at
        if alarm.escalate_at is not None and not alarm.acknowledged
        else _escalate_at(alarm.priority, time, escalation),
    )
    reason = "condition present again" if resumed else "value worsened"
    return alarm, [record(alarm, bed_id, "reannounce", time, reason=reason)]


def clear(
    bed_id: str, alarm: ActiveAlarm, time: float, value: float | None, reason: str
) -> tuple[ActiveAlarm | None, list[AlarmEvent]]:
    """The condition has ended.

    A latching alarm not yet acknowledged stays (``condition_end``); otherwise it ends.
    """
    if not alarm.condition_active:
        return alarm, []
    if alarm.latching and not alarm.acknowledged:
        alarm = replace(alarm, condition_active=False)
        return alarm, [record(alarm, bed_id, "condition_end", time, value=value, reason=reason)]
    return None, [record(alarm, bed_id, "end", time, value=value, reason=reason)]


def end(
    bed_id: str, alarm: ActiveAlarm, time: float, reason: str, user: str | None = None
) -> list[AlarmEvent]:
    """End ``alarm`` now whatever its state (suppression, end of monitoring)."""
    return [record(alarm, bed_id, "end", time, reason=reason, user=user)]


def acknowledge(
    bed_id: str, alarm: ActiveAlarm, time: float, user: str, reason: str | None = None
) -> tuple[ActiveAlarm | None, list[AlarmEvent]]:
    """Acknowledge: audio off for this alarm, no escalation; ends a latched, cleared alarm."""
    if alarm.acknowledged:
        return alarm, []
    alarm = replace(alarm, acked_by=user, acked_at=time, escalate_at=None)
    events = [record(alarm, bed_id, "acknowledged", time, user=user, reason=reason)]
    if not alarm.condition_active:
        events.append(
            record(alarm, bed_id, "end", time, user=user, reason="acknowledged after the "
                   "condition ended")
        )
        return None, events
    return alarm, events


def deadline(alarm: ActiveAlarm) -> float | None:
    """The next time :func:`due` may change this alarm."""
    times = [t for t in (alarm.escalate_at, alarm.upgrade_at) if t is not None]
    return min(times) if times else None


def due(
    bed_id: str,
    alarm: ActiveAlarm,
    time: float,
    escalation: Mapping[str, float | None],
) -> tuple[ActiveAlarm, list[AlarmEvent]]:
    """Apply the priority rise and the escalation that are due at ``time``."""
    events: list[AlarmEvent] = []
    if alarm.upgrade_at is not None and alarm.upgrade_at <= time and alarm.upgrade_to:
        old = alarm.priority
        at = alarm.upgrade_at
        alarm = replace(alarm, priority=alarm.upgrade_to, upgrade_at=None, upgrade_to=None)
        new_escalation = _escalate_at(alarm.priority, at, escalation)
        if alarm.acknowledged:
            alarm = replace(alarm, acked_by=None, acked_at=None, escalate_at=new_escalation)
        elif alarm.escalate_at is not None and new_escalation is not None:
            alarm = replace(alarm, escalate_at=min(alarm.escalate_at, new_escalation))
        events.append(
            record(alarm, bed_id, "priority_change", at, reason=f"priority {old} -> "
                   f"{alarm.priority} after {at - alarm.onset:g} s")
        )
    if alarm.escalate_at is not None and alarm.escalate_at <= time:
        at = alarm.escalate_at
        alarm = replace(alarm, escalate_at=None)
        events.append(
            record(alarm, bed_id, "escalation", at, target=CHARGE_NURSE,
                   reason="not acknowledged in time")
        )
    return alarm, events
