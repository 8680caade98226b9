"""The pure alarm engine: rules (configured in :mod:`monitor.alarms.rule_config`) applied to data.

The engine is a fold: ``(state, input) -> (new state, events)``. Inputs are observations
(:func:`evaluate`), device status changes (:func:`device_status`), the passage of time
(:func:`tick`) and user actions (:func:`acknowledge`, :func:`pause_audio`,
:func:`start_infusion`, :func:`rebaseline`...). Time comes only from the inputs: there is
no clock, no asyncio, no I/O and no logging here, so live use and replay share every path.
The input state is never modified.

Sustained conditions (SPO2_*, HR_*): a valid sample's value holds from its time until the
next sample of that metric, for at most ``hold_max`` seconds (10 s by default; replay of
sparse recordings raises it). A condition fires once it has held for at least its delay
(``>=``: 15 samples at 1 Hz satisfy a 15 s delay). An artifact sample never counts: it
stops the previous value holding, and a running delay timer is *paused* (neither advanced
nor reset). If a valid sample still meeting the condition comes within ``artifact_gap``
seconds (10 s) of the pause, the timer resumes where it was; after a longer gap, or on a
valid sample not meeting the condition, it restarts from zero. Time is advanced to every
input's time first, so deadlines that fell between inputs fire at their exact data time.

Capnography (EtCO2, airway respiration rate) follows the same pattern. APNEA is judged from
the two together and the capnograph's own apnea flag (:func:`_breath_states`). A
capnograph's sampling-line problem is its own technical condition (CO2_LINE, kept in
``capno_off``), never the oximeter's SENSOR_OFF. The capnography watchdogs run only on a
bed that has shown valid capnography.

See ``docs/alarms.md`` for the rule table and the lifecycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.alarms import lifecycle as alarms
from monitor.alarms.baseline import (
    NIBP_METRICS,
    Baseline,
    BPReading,
    NoBaseline,
    artifact_reason,
    compute_bp_baseline,
    compute_hr_baseline,
    reading_from_observations,
)
from monitor.alarms.lifecycle import ActiveAlarm
from monitor.alarms.rule_config import PRIORITIES, RULE_IDS, Rule, RuleSet, is_rule_id, rule_table
from monitor.domain.models import (
    AlarmEvent,
    DeviceState,
    DeviceStatus,
    Flag,
    Observation,
)

__all__ = [
    "CONTINUOUS_METRICS", "PRIORITIES", "RULE_IDS", "BedState", "Result", "Rule", "RuleSet",
    "Timer", "Track", "acknowledge", "computed_baselines", "device_status", "evaluate",
    "next_deadline", "pause_audio", "rebaseline", "rule_table", "start_infusion",
    "start_monitoring", "stop_monitoring", "tick",
]

# --------------------------------------------------------------------------------------
# Engine state
# --------------------------------------------------------------------------------------

OXIMETER_METRICS = frozenset({"SPO2", "PR", "PI"})
"""What an oximeter measures: its probe is off or on by these."""

CONTINUOUS_METRICS = frozenset({"HR", "PR", "SPO2", "ETCO2", "AWRR"})
"""Metrics the sustained rules use (NIBP readings are handled one reading at a time)."""

CAPNO_METRICS = frozenset({"ETCO2", "FICO2", "AWRR"})
"""What a capnograph sends. Its sampling-line state (``capno_off``) is kept apart from the
oximeter's sensor state: a blocked CO2 line never suppresses the SpO2 rules, and a valid
EtCO2 never ends an oximeter's SENSOR_OFF."""

_EPS = 1e-9  # "above 1.20 x baseline" must not fire on 1.2 * 125 = 150.00000000000003


@dataclass(frozen=True, slots=True)
class Track:
    """The value a metric holds now.

    Attributes:
        value: the last valid value (kept for display after it stops holding).
        time: time of that sample.
        until: the value holds until this time (exclusive); ``None``: nothing holds now.
        device_id: where it came from.
    """

    value: float | None = None
    time: float | None = None
    until: float | None = None
    device_id: str = ""

    def live(self, now: float) -> float | None:
        """The held value at ``now``, or ``None``."""
        if self.until is None or self.value is None or now >= self.until:
            return None
        return self.value


@dataclass(frozen=True, slots=True)
class Timer:
    """A sustained-condition delay timer.

    Attributes:
        acc: seconds the condition held before the current run.
        run_start: start of the current run (``None`` while paused).
        paused_at: when it was paused by an artifact or a data gap (``None`` while running).
        fired: the delay has elapsed (the alarm was raised).
    """

    acc: float = 0.0
    run_start: float | None = None
    paused_at: float | None = None
    fired: bool = False

    def held(self, now: float) -> float:
        """Seconds the condition has held by ``now``."""
        return self.acc + (now - self.run_start if self.run_start is not None else 0.0)


@dataclass(frozen=True, slots=True)
class BedState:
    """Everything the engine knows about one bed. Immutable: every input returns a new one.

    Attributes:
        bed_id: the bed.
        now: the latest data time seen.
        monitoring_since: when monitoring started (``None``: not monitoring; technical
            watchdogs are off).
        infusion_start: when the infusion started (baselines frozen then).
        hr_baseline: the heart-rate baseline (in force once the infusion started).
        bp_baseline: the blood-pressure baseline (in force once the infusion started).
        alarms: active alarms by slot key.
        timers: delay timers by condition key.
        tracks: held value per continuous metric.
        artifacts: count of artifact samples per metric (``NIBP`` for whole readings).
        last_heard: last data time per streaming device (DEVICE_LOST watchdog).
        sensor_off: devices reporting sensor off, with the time it started.
        capno_off: capnographs reporting a sampling-line or sensor problem (occlusion,
            leak, line off), with the time it started.
        capno_watch_from: the no-valid-capnography watchdog counts from here at the
            earliest (a capnograph's device came back after DEVICE_LOST).
        spo2_device: the device the SpO2 comes from.
        pending_nibp: NIBP components waiting to form a reading.
        pending_since: when the first of them arrived.
        last_nibp: time of the last valid NIBP reading.
        last_reading_rise: the last valid reading met BP_RISE (for confirmation).
        repeat_due: a repeat NIBP reading is requested by then.
        hr_history: pre-infusion HR samples (for the baseline).
        bp_history: pre-infusion NIBP readings (for the baseline).
        audio_paused_until: audio paused on this bed until then.
        seq: alarm episode counter (alarm ids).
    """

    bed_id: str
    now: float | None = None
    monitoring_since: float | None = None
    infusion_start: float | None = None
    hr_baseline: Baseline | None = None
    bp_baseline: Baseline | None = None
    alarms: Mapping[str, ActiveAlarm] = field(default_factory=dict)
    timers: Mapping[str, Timer] = field(default_factory=dict)
    tracks: Mapping[str, Track] = field(default_factory=dict)
    artifacts: Mapping[str, int] = field(default_factory=dict)
    last_heard: Mapping[str, float] = field(default_factory=dict)
    sensor_off: Mapping[str, float] = field(default_factory=dict)
    capno_off: Mapping[str, float] = field(default_factory=dict)
    capno_watch_from: float | None = None
    spo2_device: str | None = None
    pending_nibp: tuple[Observation, ...] = ()
    pending_since: float | None = None
    last_nibp: float | None = None
    last_reading_rise: bool = False
    repeat_due: float | None = None
    hr_history: tuple[Observation, ...] = ()
    bp_history: tuple[BPReading, ...] = ()
    audio_paused_until: float | None = None
    seq: int = 0

    @classmethod
    def new(cls, bed_id: str) -> BedState:
        """A bed with nothing known yet (not monitoring)."""
        return cls(bed_id)

    @property
    def monitoring(self) -> bool:
        """Whether monitoring (and the technical watchdogs) is on."""
        return self.monitoring_since is not None

    def baselines_in_force(self) -> tuple[Baseline | None, Baseline | None]:
        """``(hr, bp)`` baselines the relative rules use now (none before the infusion)."""
        if self.infusion_start is None:
            return None, None
        return self.hr_baseline, self.bp_baseline

    def audible(self) -> list[ActiveAlarm]:
        """Alarms that should sound now: unacknowledged, condition present, audio not paused.

        Low-priority alarms are visual only.
        """
        if self.audio_paused_until is not None and (
            self.now is None or self.now < self.audio_paused_until
        ):
            return []
        return [
            a for a in self.alarms.values()
            if not a.acknowledged and a.priority != "low"
        ]


# --------------------------------------------------------------------------------------
# Engine: a mutable working copy local to one call (the input state is never touched)
# --------------------------------------------------------------------------------------

_BREATH = "BREATH"
"""The APNEA conditions' own "metric": judged from EtCO2, the airway rate and the
capnograph's apnea flag together (:func:`_breath_states`), never from one sample."""
_APNEA_FLAG = "CO2_APNEA"
"""Track: 1 while the capnograph's latest sample carries :attr:`Flag.APNEA`, else 0."""

# Sustained conditions: key -> (rule, metric)
_CONDITIONS: dict[str, tuple[str, str]] = {
    "SPO2_LOW": ("SPO2_LOW", "SPO2"),
    "SPO2_SEVERE": ("SPO2_SEVERE", "SPO2"),
    "SPO2_SEVERE/fast": ("SPO2_SEVERE", "SPO2"),
    "HR_LIMIT": ("HR_LIMIT", "HR"),
    "HR_RISE": ("HR_RISE", "HR"),
    "RR_LOW": ("RR_LOW", "AWRR"),
    "ETCO2_HIGH": ("ETCO2_HIGH", "ETCO2"),
    "ETCO2_LOW": ("ETCO2_LOW", "ETCO2"),
    "APNEA": ("APNEA", _BREATH),  # no breath by the values (rate 0, or EtCO2 floor)
    "APNEA/device": ("APNEA", _BREATH),  # the capnograph itself reports apnea
}
_SPO2_RULES = ("SPO2_LOW", "SPO2_SEVERE")
_CAPNO_RULES = ("RR_LOW", "ETCO2_HIGH", "ETCO2_LOW")
_BREATH_METRICS = ("ETCO2", "AWRR")
_HR_RISE_SLOTS = ("HR_RISE", "HR_SOURCE_DISAGREE")
_UNITS = {"SPO2": "%", "HR": " bpm", "PR": " bpm", "ETCO2": " mmHg", "AWRR": " /min"}


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text + unit


class _Work:
    """The fields of a :class:`BedState` being changed, plus the events so far."""

    def __init__(self, rules: RuleSet, state: BedState) -> None:
        self.rules = rules
        self.s = state
        self.alarms = dict(state.alarms)
        self.timers = dict(state.timers)
        self.tracks = dict(state.tracks)
        self.artifacts = dict(state.artifacts)
        self.last_heard = dict(state.last_heard)
        self.sensor_off = dict(state.sensor_off)
        self.capno_off = dict(state.capno_off)
        self.events: list[AlarmEvent] = []
        self.now = state.now

    def set(self, **changes: Any) -> None:
        self.s = replace(self.s, **changes)

    def freeze(self) -> BedState:
        return replace(
            self.s, now=self.now, alarms=self.alarms, timers=self.timers, tracks=self.tracks,
            artifacts=self.artifacts, last_heard=self.last_heard, sensor_off=self.sensor_off,
            capno_off=self.capno_off,
        )

    # ---- alarm slots ---------------------------------------------------------------

    def raise_alarm(
        self, key: str, rule_id: str, time: float, value: float | None, *,
        threshold: float | None = None, baseline: float | None = None,
        worse: int = 0, message: str = "", delay: float | None = None,
    ) -> None:
        rule = self.rules[rule_id]
        if not rule.enabled or key in self.alarms:
            return
        seq = self.s.seq + 1
        self.set(seq=seq)
        alarm = ActiveAlarm(
            alarm_id=f"{self.s.bed_id}/{seq}/{key}", key=key, rule=rule_id,
            priority=rule.priority, technical=rule.technical, latching=rule.latching,
            onset=time, value=value, threshold=threshold, baseline=baseline,
            delay=rule.delay if delay is None else delay, worse=worse, message=message,
        )
        upgrade = rule.p("high_after") if rule_id == "DEVICE_LOST" else None
        alarm, events = alarms.onset(self.s.bed_id, alarm, self.rules.escalation, upgrade)
        self.alarms[key] = alarm
        self.events.extend(events)
        paused = self.s.audio_paused_until
        if alarm.priority == "high" and paused is not None and time < paused:
            # A new high-priority condition must be heard: it ends the bed's audio pause.
            self.set(audio_paused_until=None)
            self.events.append(self.bed_event("audio_resumed", time,
                                              reason="new high-priority alarm"))

    def clear_alarm(self, key: str, time: float, value: float | None, reason: str) -> None:
        alarm = self.alarms.get(key)
        if alarm is None:
            return
        new, events = alarms.clear(self.s.bed_id, alarm, time, value, reason)
        self._put(key, new)
        self.events.extend(events)

    def end_alarm(self, key: str, time: float, reason: str, user: str | None = None) -> None:
        alarm = self.alarms.pop(key, None)
        if alarm is not None:
            self.events.extend(alarms.end(self.s.bed_id, alarm, time, reason, user))

    def update_alarm(
        self, key: str, time: float, value: float | None, message: str | None = None
    ) -> None:
        alarm = self.alarms.get(key)
        if alarm is None:
            return
        new, events = alarms.update(
            self.s.bed_id, alarm, time, value, self._worsened(alarm, value),
            self.rules.escalation, message,
        )
        self.alarms[key] = new
        self.events.extend(events)

    def _put(self, key: str, alarm: ActiveAlarm | None) -> None:
        if alarm is None:
            self.alarms.pop(key, None)
        else:
            self.alarms[key] = alarm

    def _worsened(self, alarm: ActiveAlarm, value: float | None) -> bool:
        if value is None or alarm.announced is None or alarm.worse == 0:
            return False
        points = {"SPO2_LOW": self.rules.reannounce_spo2_points,
                  "SPO2_SEVERE": self.rules.reannounce_spo2_points,
                  "ETCO2_HIGH": self.rules.reannounce_etco2_mmhg,
                  "ETCO2_LOW": self.rules.reannounce_etco2_mmhg,
                  "RR_LOW": self.rules.reannounce_rr_per_min}.get(alarm.rule)
        if points is not None:
            return (alarm.announced - value) * alarm.worse <= -points + _EPS
        frac = (self.rules.reannounce_bp_fraction if alarm.rule.startswith("BP")
                else self.rules.reannounce_hr_fraction)
        if alarm.worse > 0:
            return value >= alarm.announced * (1 + frac) - _EPS
        return value <= alarm.announced * (1 - frac) + _EPS

    def bed_event(self, event: str, time: float, **extra: Any) -> AlarmEvent:
        return AlarmEvent(None, self.s.bed_id, None, None, False, event, time, **extra)



# ---- time ------------------------------------------------------------------------------

_MAX_STEPS = 100_000


def _deadlines(w: _Work) -> list[tuple[float, int, str]]:
    """Everything that may happen by itself later, as ``(time, order, what)``."""
    s, rules = w.s, w.rules
    out: list[tuple[float, int, str]] = []
    if s.pending_since is not None:
        out.append((s.pending_since + rules.nibp_assembly, 0, "nibp"))
    for key, timer in w.timers.items():
        if not timer.fired and timer.run_start is not None:
            out.append((timer.run_start + _delay(w, key) - timer.acc, 1, "timer:" + key))
    for metric, track in w.tracks.items():
        if track.until is not None:
            out.append((track.until, 2, "hold:" + metric))
    if s.monitoring:
        if rules.enabled("SENSOR_OFF"):
            for dev, since in w.sensor_off.items():
                if "SENSOR_OFF/" + dev not in w.alarms:
                    out.append((since + rules["SENSOR_OFF"].delay, 3, "sensor:" + dev))
        if rules.enabled("DEVICE_LOST"):
            for dev, heard in w.last_heard.items():
                if "DEVICE_LOST/" + dev not in w.alarms:
                    out.append((heard + rules["DEVICE_LOST"].delay, 4, "lost:" + dev))
        due = _nibp_due(w)
        if due is not None:
            out.append((due, 5, "nibp_overdue"))
        out.extend(_capno_deadlines(w))
    for key, alarm in w.alarms.items():
        when = alarms.deadline(alarm)
        if when is not None:
            out.append((when, 6, "alarm:" + key))
    if s.audio_paused_until is not None:
        out.append((s.audio_paused_until, 7, "audio"))
    return out


def _advance(w: _Work, t: float) -> None:
    """Fire, in time order, everything due up to and including ``t``."""
    for _ in range(_MAX_STEPS):
        pending = _deadlines(w)
        if not pending:
            break
        when, _, what = min(pending)
        if when > t:
            break
        when = max(when, w.now) if w.now is not None else when
        w.now = when
        _fire(w, what, when)
    else:  # pragma: no cover - a bug, not a data condition
        raise RuntimeError("alarm engine made no progress")
    w.now = t if w.now is None else max(w.now, t)


def _fire(w: _Work, what: str, t: float) -> None:
    kind, _, key = what.partition(":")
    if kind == "nibp":
        _finalize_nibp(w, t)
    elif kind == "timer":
        _fire_timer(w, key, t)
    elif kind == "hold":
        track = w.tracks[key]
        w.tracks[key] = replace(track, until=None)
        _pause_timers(w, key, t)
        if key in (*_BREATH_METRICS, _APNEA_FLAG):
            _breath(w, t)
    elif kind == "sensor":
        w.raise_alarm("SENSOR_OFF/" + key, "SENSOR_OFF", t, None,
                      message=f"Sensor off or disconnected on device {key}")
    elif kind == "lost":
        heard = w.last_heard[key]
        w.raise_alarm("DEVICE_LOST/" + key, "DEVICE_LOST", t, t - heard,
                      message=f"No data from device {key} for {t - heard:g} s")
    elif kind == "nibp_overdue":
        _fire_nibp_overdue(w, t)
    elif kind == "capno_line":
        w.raise_alarm("CO2_LINE/" + key, "CO2_LINE", t, None,
                      message=f"Capnography sampling line problem on device {key} "
                      "(occlusion, leak or line off): check the line and the cannula")
    elif kind == "capno_data":
        last = _capno_last_valid(w)
        since = t - last[0] if last is not None else None
        w.raise_alarm("CO2_LINE/" + key, "CO2_LINE", t, since,
                      message=f"No valid capnography from device {key} for "
                      f"{_fmt(since)} s: check the sampling line")
    elif kind == "alarm":
        new, events = alarms.due(w.s.bed_id, w.alarms[key], t, w.rules.escalation)
        w.alarms[key] = new
        w.events.extend(events)
    elif kind == "audio":
        w.set(audio_paused_until=None)
        w.events.append(w.bed_event("audio_resumed", t, reason="audio pause expired"))


# ---- sustained conditions ------------------------------------------------------------


def _delay(w: _Work, key: str) -> float:
    if key == "SPO2_SEVERE/fast":
        return w.rules["SPO2_SEVERE"].p("delay_fast")
    if key == "APNEA/device":
        return w.rules["APNEA"].p("device_delay")
    return w.rules[_CONDITIONS[key][0]].delay


def _threshold(w: _Work, key: str) -> float:
    r = w.rules
    if key == "SPO2_LOW":
        return r["SPO2_LOW"].p("threshold")
    if key == "SPO2_SEVERE":
        return r["SPO2_SEVERE"].p("threshold")
    if key == "SPO2_SEVERE/fast":
        return r["SPO2_SEVERE"].p("threshold_fast")
    if key == "HR_RISE":
        hr_b, _ = w.s.baselines_in_force()
        assert hr_b is not None and hr_b.hr is not None
        return hr_b.hr * r["HR_RISE"].p("factor")
    if key in _CAPNO_RULES:
        return r[key].p("threshold")
    raise KeyError(key)


def _hit(w: _Work, key: str, value: float) -> bool:
    if key == "HR_LIMIT":
        lim = w.rules["HR_LIMIT"]
        return value >= lim.p("high") or value <= lim.p("low")
    if key == "HR_RISE":
        return value > _threshold(w, key) + _EPS
    if key == "ETCO2_HIGH":
        return value > _threshold(w, key)
    return value < _threshold(w, key)


def _spo2_suppressed(w: _Work) -> bool:
    if not w.sensor_off:
        return False
    return w.s.spo2_device is None or w.s.spo2_device in w.sensor_off


def _applicable(w: _Work, key: str) -> bool:
    rule_id = _CONDITIONS[key][0]
    if not w.rules.enabled(rule_id):
        return False
    if rule_id in _SPO2_RULES:
        return not _spo2_suppressed(w)
    if rule_id == "HR_RISE":
        hr_b, _ = w.s.baselines_in_force()
        return hr_b is not None and hr_b.hr is not None
    if rule_id in _CAPNO_RULES:
        return not w.capno_off
    return True


def _pause_timers(w: _Work, metric: str, t: float) -> None:
    for key, timer in list(w.timers.items()):
        if _CONDITIONS[key][1] == metric and timer.run_start is not None:
            w.timers[key] = replace(timer, acc=timer.held(t), run_start=None, paused_at=t)


def _run_timer(w: _Work, key: str, t: float) -> None:
    """The condition ``key`` holds at ``t``: start its timer, or resume a paused one.

    A timer paused by an artifact or a data gap resumes with the time it had if the gap
    was at most ``artifact_gap``; after a longer gap it restarts from zero.
    """
    timer = w.timers.get(key)
    if timer is None:
        timer = Timer(run_start=t)
    elif timer.run_start is None:
        assert timer.paused_at is not None
        if t - timer.paused_at <= w.rules.artifact_gap:
            timer = replace(timer, run_start=t, paused_at=None)
        else:
            timer = Timer(run_start=t)
    w.timers[key] = timer


def _continuous_sample(w: _Work, obs: Observation, t: float) -> None:
    metric, value = obs.metric, obs.value
    assert value is not None
    w.tracks[metric] = Track(value, t, t + w.rules.hold_max, obs.device_id)
    for key, (_, cond_metric) in _CONDITIONS.items():
        if cond_metric != metric:
            continue
        if not _applicable(w, key) or not _hit(w, key, value):
            w.timers.pop(key, None)
            continue
        _run_timer(w, key, t)
    if metric == "SPO2":
        for rule_id in _SPO2_RULES:
            _follow(w, rule_id, t, value, any(
                _hit(w, k, value) for k, (r, _) in _CONDITIONS.items() if r == rule_id
            ))
    elif metric == "HR":
        _follow(w, "HR_LIMIT", t, value, _hit(w, "HR_LIMIT", value))
        if _applicable(w, "HR_RISE"):
            holds = _hit(w, "HR_RISE", value)
            for slot in _HR_RISE_SLOTS:
                _follow(w, slot, t, value, holds)
            if holds:
                _check_agreement(w, t)
    elif metric == "PR" and "HR_SOURCE_DISAGREE" in w.alarms:
        _check_agreement(w, t)
    elif metric in _BREATH_METRICS:
        for key, (rule_id, cond_metric) in _CONDITIONS.items():
            if cond_metric == metric:
                _follow(w, rule_id, t, value, _hit(w, key, value))
        _breath(w, t)


def _follow(w: _Work, key: str, t: float, value: float, holds: bool) -> None:
    """Keep an active alarm in step with a new valid sample."""
    alarm = w.alarms.get(key)
    if alarm is None or not alarm.condition_active:
        return  # onset and resumption only happen when a delay timer fires
    if holds:
        w.update_alarm(key, t, value, _message(w, alarm.rule, value, t))
    else:
        w.clear_alarm(key, t, value, "value back within limits")


def _message(w: _Work, rule_id: str, value: float, t: float) -> str:
    r = w.rules[rule_id]
    if rule_id in _SPO2_RULES:
        return f"SpO2 {_fmt(value, '%')} below {_fmt(r.p('threshold'), '%')}"
    if rule_id == "HR_LIMIT":
        return (f"Heart rate {_fmt(value, ' bpm')} outside {_fmt(r.p('low'))}-"
                f"{_fmt(r.p('high'))} bpm")
    if rule_id == "ETCO2_HIGH":
        return f"EtCO2 {_fmt(value, ' mmHg')} above {_fmt(r.p('threshold'), ' mmHg')}"
    if rule_id == "ETCO2_LOW":
        return f"EtCO2 {_fmt(value, ' mmHg')} below {_fmt(r.p('threshold'), ' mmHg')}"
    if rule_id == "RR_LOW":
        return (f"Respiration rate {_fmt(value, ' /min')} below "
                f"{_fmt(r.p('threshold'), ' /min')}")
    if rule_id in _HR_RISE_SLOTS:
        hr_b, _ = w.s.baselines_in_force()
        base = hr_b.hr if hr_b else None
        text = (f"Heart rate {_fmt(value, ' bpm')} above {_fmt(_threshold(w, 'HR_RISE'))} "
                f"({w.rules['HR_RISE'].p('factor'):g} x baseline {_fmt(base)})")
        if rule_id == "HR_SOURCE_DISAGREE":
            pr = _pulse_rate(w, t)
            text = (f"ECG heart rate {_fmt(value)} and oximeter pulse rate {_fmt(pr)} differ "
                    f"by more than {_fmt(r.p('agree_bpm'))} bpm: check ECG leads and probe "
                    f"({text})")
        return text
    return r.id


def _pulse_rate(w: _Work, t: float) -> float | None:
    track = w.tracks.get("PR")
    if track is None or _spo2_suppressed(w):
        return None
    return track.live(t)


def _fire_timer(w: _Work, key: str, t: float) -> None:
    timer = w.timers[key]
    w.timers[key] = replace(timer, fired=True)
    rule_id, metric = _CONDITIONS[key]
    if rule_id == "APNEA":
        _raise_apnea(w, key, t)
        return
    value = w.tracks[metric].value
    assert value is not None
    if rule_id == "HR_RISE":
        _raise_hr_rise(w, t, value)
        return
    existing = w.alarms.get(rule_id)
    if existing is not None:
        if not existing.condition_active:
            w.update_alarm(rule_id, t, value, _message(w, rule_id, value, t))
        return
    threshold: float
    worse = -1
    if rule_id == "HR_LIMIT":
        high = w.rules["HR_LIMIT"].p("high")
        worse = 1 if value >= high else -1
        threshold = high if worse > 0 else w.rules["HR_LIMIT"].p("low")
    else:
        threshold = _threshold(w, key)
        worse = 1 if rule_id == "ETCO2_HIGH" else -1
    delay = _delay(w, key)
    w.raise_alarm(rule_id, rule_id, t, value, threshold=threshold, worse=worse, delay=delay,
                  message=f"{_message(w, rule_id, value, t)} for {delay:g} s")


def _raise_hr_rise(w: _Work, t: float, hr: float) -> None:
    hr_b, _ = w.s.baselines_in_force()
    assert hr_b is not None
    pr = _pulse_rate(w, t)
    agree = w.rules["HR_SOURCE_DISAGREE"].p("agree_bpm")
    disagree = pr is not None and abs(hr - pr) > agree + _EPS
    slot = "HR_SOURCE_DISAGREE" if disagree and w.rules.enabled("HR_SOURCE_DISAGREE") else "HR_RISE"
    existing = w.alarms.get("HR_RISE")
    if existing is not None:
        if not existing.condition_active:
            w.update_alarm("HR_RISE", t, hr, _message(w, "HR_RISE", hr, t))
        return
    delay = w.rules["HR_RISE"].delay
    w.raise_alarm(slot, slot, t, hr, threshold=_threshold(w, "HR_RISE"), baseline=hr_b.hr,
                  worse=1, delay=delay, message=f"{_message(w, slot, hr, t)} for {delay:g} s")


def _check_agreement(w: _Work, t: float) -> None:
    """Swap HR_SOURCE_DISAGREE for HR_RISE once the pulse rate agrees (or is gone)."""
    if "HR_SOURCE_DISAGREE" not in w.alarms:
        return
    timer = w.timers.get("HR_RISE")
    hr = w.tracks["HR"].live(t) if "HR" in w.tracks else None
    if timer is None or not timer.fired or hr is None:
        return
    pr = _pulse_rate(w, t)
    if pr is None or abs(hr - pr) <= w.rules["HR_SOURCE_DISAGREE"].p("agree_bpm") + _EPS:
        w.end_alarm("HR_SOURCE_DISAGREE", t, "heart rate sources agree")
        _raise_hr_rise(w, t, hr)


# ---- sensors and devices -------------------------------------------------------------


def _sensor_off_start(w: _Work, device: str, t: float) -> None:
    if device in w.sensor_off:
        return
    w.sensor_off[device] = t
    if _spo2_suppressed(w):
        for rule_id in _SPO2_RULES:
            w.end_alarm(rule_id, t, "SpO2 rules suppressed: sensor off")
        for key in [k for k in w.timers if _CONDITIONS[k][0] in _SPO2_RULES]:
            del w.timers[key]


def _sensor_on(w: _Work, device: str, t: float) -> None:
    if w.sensor_off.pop(device, None) is not None:
        w.clear_alarm("SENSOR_OFF/" + device, t, None, "sensor back on")


def _capno_off_start(w: _Work, device: str, t: float) -> None:
    """The capnograph reports a sampling-line problem: a technical condition, not apnea.

    EtCO2 and rate mean nothing now, so RR_LOW and ETCO2_* end and every capnography timer
    restarts from zero. An active APNEA is *not* ended: the patient may still not be
    breathing, and only a sample that shows a breath ends it.
    """
    if device in w.capno_off:
        return
    w.capno_off[device] = t
    for rule_id in _CAPNO_RULES:
        w.end_alarm(rule_id, t, "capnography rules suppressed: sampling line problem")
    for key in [k for k in w.timers if _CONDITIONS[k][0] in (*_CAPNO_RULES, "APNEA")]:
        del w.timers[key]


def _capno_valid(w: _Work, device: str, t: float) -> None:
    """A valid capnography sample: the line works (CO2_LINE ends)."""
    w.capno_off.pop(device, None)
    w.clear_alarm("CO2_LINE/" + device, t, None, "valid capnography again")


def _has_capno(w: _Work) -> bool:
    """The bed has shown valid capnography (the capnography watchdogs run only then)."""
    return any(m in w.tracks for m in _BREATH_METRICS)


def _capno_last_valid(w: _Work) -> tuple[float, str] | None:
    """Time and device of the latest valid EtCO2 or airway-rate sample."""
    seen = [(tr.time, tr.device_id) for m in _BREATH_METRICS
            if (tr := w.tracks.get(m)) is not None and tr.time is not None]
    return max(seen) if seen else None


def _capno_deadlines(w: _Work) -> list[tuple[float, int, str]]:
    """CO2_LINE: the device reports a line problem, or no valid capnography for a while."""
    rules = w.rules
    if not rules.enabled("CO2_LINE") or not _has_capno(w):
        return []
    rule = rules["CO2_LINE"]
    out = [(since + rule.delay, 5, "capno_line:" + dev) for dev, since in w.capno_off.items()
           if "CO2_LINE/" + dev not in w.alarms]
    last = _capno_last_valid(w)
    assert last is not None and w.s.monitoring_since is not None
    at, dev = last
    if (dev not in w.capno_off and "CO2_LINE/" + dev not in w.alarms
            and "DEVICE_LOST/" + dev not in w.alarms):
        # A lost device is DEVICE_LOST's; once it is back, capnography gets its full time.
        base = max(at, w.s.monitoring_since, w.s.capno_watch_from or at)
        out.append((base + rule.p("no_data"), 5, "capno_data:" + dev))
    return out


def _apnea_flag(w: _Work, obs: Observation, why: str | None, t: float) -> None:
    """Keep the capnograph's own apnea indication (:attr:`Flag.APNEA`) as a held track."""
    if Flag.APNEA in obs.flags and why != "sensor_off":
        w.tracks[_APNEA_FLAG] = Track(1.0, t, t + w.rules.hold_max, obs.device_id)
    elif why is None:
        w.tracks[_APNEA_FLAG] = Track(0.0, t, t + w.rules.hold_max, obs.device_id)
    elif (track := w.tracks.get(_APNEA_FLAG)) is not None and track.until is not None:
        w.tracks[_APNEA_FLAG] = replace(track, until=None)


def _breath_states(w: _Work, t: float) -> tuple[bool | None, bool | None]:
    """``(no breath by the values, the capnograph reports apnea)``; ``None``: unknown.

    By the values: a valid airway respiration rate of 0 (below 1 /min) or, when no rate
    holds, a valid EtCO2 below ``etco2_floor``. A valid rate of 1 /min or more, or (with
    no rate) an EtCO2 at or above the floor, is a breath.
    """
    flag = w.tracks.get(_APNEA_FLAG)
    flagged = None if flag is None else flag.live(t)
    device = None if flagged is None else flagged >= 1.0
    rr = w.tracks["AWRR"].live(t) if "AWRR" in w.tracks else None
    et = w.tracks["ETCO2"].live(t) if "ETCO2" in w.tracks else None
    if rr is not None:
        return rr < 1.0, device
    if et is not None:
        return et < w.rules["APNEA"].p("etco2_floor"), device
    return None, device


def _breath(w: _Work, t: float) -> None:
    """Run the APNEA timers and keep an active APNEA in step (after any capnography input)."""
    by_values, by_device = _breath_states(w, t)
    off = bool(w.capno_off) or not w.rules.enabled("APNEA")
    for key, holds in (("APNEA", by_values), ("APNEA/device", by_device)):
        if off or holds is False:
            w.timers.pop(key, None)
        elif holds is None:
            _pause_timers_keyed(w, key, t)
        else:
            _run_timer(w, key, t)
    alarm = w.alarms.get("APNEA")
    if alarm is None or not alarm.condition_active:
        return  # onset and resumption only happen when a delay timer fires
    if by_values or by_device:
        w.update_alarm("APNEA", t, _apnea_value(w, t))
    elif by_values is False:
        w.clear_alarm("APNEA", t, _apnea_value(w, t), "breathing detected")


def _pause_timers_keyed(w: _Work, key: str, t: float) -> None:
    timer = w.timers.get(key)
    if timer is not None and timer.run_start is not None:
        w.timers[key] = replace(timer, acc=timer.held(t), run_start=None, paused_at=t)


def _apnea_value(w: _Work, t: float) -> float | None:
    """What an APNEA record shows: the airway rate, else the EtCO2 (``None``: neither)."""
    for metric in ("AWRR", "ETCO2"):
        if metric in w.tracks and (value := w.tracks[metric].live(t)) is not None:
            return value
    return None


def _raise_apnea(w: _Work, key: str, t: float) -> None:
    value = _apnea_value(w, t)
    rule = w.rules["APNEA"]
    delay = _delay(w, key)
    rr = w.tracks["AWRR"].live(t) if "AWRR" in w.tracks else None
    threshold = None
    if key == "APNEA/device":
        text = "The capnograph reports apnea"
    elif rr is not None:
        text = f"No breath for {delay:g} s: airway respiration rate {_fmt(rr, ' /min')}"
    else:
        threshold = rule.p("etco2_floor")
        text = (f"No breath for {delay:g} s: EtCO2 {_fmt(value, ' mmHg')} below "
                f"{_fmt(threshold, ' mmHg')} and no respiration rate")
    existing = w.alarms.get("APNEA")
    if existing is not None:
        if not existing.condition_active:
            w.update_alarm("APNEA", t, value, text)
        return
    w.raise_alarm("APNEA", "APNEA", t, value, threshold=threshold, worse=0, delay=delay,
                  message=text)


def _heard(w: _Work, device: str, t: float, streaming: bool) -> None:
    if streaming or device in w.last_heard:
        w.last_heard[device] = t
    _device_back(w, device, t, "data received")


def _device_back(w: _Work, device: str, t: float, reason: str) -> None:
    if "DEVICE_LOST/" + device in w.alarms:
        w.clear_alarm("DEVICE_LOST/" + device, t, None, reason)
        w.set(capno_watch_from=t)


# ---- NIBP readings -------------------------------------------------------------------


def _nibp_observation(w: _Work, obs: Observation, t: float) -> None:
    pending = w.s.pending_nibp
    if pending and (
        obs.device_id != pending[0].device_id
        or obs.time - pending[0].time > w.rules.nibp_assembly
        or any(o.metric == obs.metric for o in pending)
    ):
        _finalize_nibp(w, t)
        pending = ()
    pending = (*pending, obs)
    w.set(pending_nibp=pending, pending_since=w.s.pending_since if len(pending) > 1 else t)
    if {o.metric for o in pending} >= set(NIBP_METRICS):
        _finalize_nibp(w, t)


def _finalize_nibp(w: _Work, t: float) -> None:
    pending = w.s.pending_nibp
    w.set(pending_nibp=(), pending_since=None)
    if not pending:
        return
    reading = reading_from_observations(pending)
    if w.s.infusion_start is None:
        keep_after = t - w.rules.baseline["bp_window"]
        history = tuple(r for r in w.s.bp_history if r.time >= keep_after)[-19:]
        w.set(bp_history=(*history, reading))
    if not reading.valid:
        w.artifacts["NIBP"] = w.artifacts.get("NIBP", 0) + 1
        return
    assert reading.systolic is not None and reading.diastolic is not None
    w.set(last_nibp=reading.time)
    w.clear_alarm("NIBP_OVERDUE", t, None, "NIBP reading received")
    elevated = _bp_limit(w, reading, t)
    rise, severe = _bp_relative(w, reading, t)
    if not (elevated or rise or severe):
        w.set(repeat_due=None)
        return
    within = w.rules["BP_RISE"].p("repeat_within")
    w.set(repeat_due=reading.time + within)
    text = f"Repeat NIBP now (within {within / 60:g} min): BP {_bp_text(reading)}"
    for key in ("BP_RISE", "BP_RISE_SEVERE", "BP_LIMIT"):
        if key in w.alarms:
            w.events.append(alarms.record(w.alarms[key], w.s.bed_id, "prompt", t,
                                          message=text, value=reading.systolic))
            return
    w.events.append(w.bed_event("prompt", t, value=reading.systolic, message=text))


def _bp_text(r: BPReading) -> str:
    return f"{_fmt(r.systolic)}/{_fmt(r.diastolic)}" + (
        f" (MAP {_fmt(r.map)})" if r.map is not None else "")


def _bp_limit(w: _Work, r: BPReading, t: float) -> bool:
    assert r.systolic is not None and r.diastolic is not None
    lim = w.rules["BP_LIMIT"]
    sys_hit = r.systolic >= lim.p("systolic")
    dia_hit = r.diastolic >= lim.p("diastolic")
    if not (sys_hit or dia_hit):
        w.clear_alarm("BP_LIMIT", t, r.systolic, "reading below limits")
        return False
    value, threshold, what = ((r.systolic, lim.p("systolic"), "systolic") if sys_hit
                              else (r.diastolic, lim.p("diastolic"), "diastolic"))
    text = f"BP {_bp_text(r)}: {what} >= {_fmt(threshold)} mmHg"
    if "BP_LIMIT" in w.alarms:
        w.update_alarm("BP_LIMIT", t, value, text)
    else:
        w.raise_alarm("BP_LIMIT", "BP_LIMIT", t, value, threshold=threshold, worse=1,
                      message=text)
    return w.rules.enabled("BP_LIMIT")


def _bp_relative(w: _Work, r: BPReading, t: float) -> tuple[bool, bool]:
    _, b = w.s.baselines_in_force()
    if b is None or b.systolic is None:
        w.set(last_reading_rise=False)
        return False, False
    assert r.systolic is not None
    rise_rule, severe_rule = w.rules["BP_RISE"], w.rules["BP_RISE_SEVERE"]
    sys_thr = b.systolic * rise_rule.p("factor")
    mean_thr = None if b.mean is None else b.mean * rise_rule.p("mean_factor")
    mean = r.map
    sys_hit = r.systolic > sys_thr + _EPS
    mean_hit = mean_thr is not None and mean is not None and mean > mean_thr + _EPS
    rise = sys_hit or mean_hit
    confirmed = rise and w.s.last_reading_rise
    w.set(last_reading_rise=rise)
    if rise:
        if sys_hit:
            value, thr, base, what = r.systolic, sys_thr, b.systolic, "systolic"
        else:
            assert mean is not None and mean_thr is not None and b.mean is not None
            value, thr, base, what = mean, mean_thr, b.mean, "mean"
        text = (f"BP {_bp_text(r)}: {what} above {_fmt(thr)} "
                f"({rise_rule.p('factor' if sys_hit else 'mean_factor'):g} x baseline "
                f"{_fmt(base)})")
        if "BP_RISE" in w.alarms:
            w.update_alarm("BP_RISE", t, value, text)
        else:
            w.raise_alarm("BP_RISE", "BP_RISE", t, value, threshold=thr, baseline=base,
                          worse=1, message=text)
    else:
        w.clear_alarm("BP_RISE", t, r.systolic, "reading below threshold")
    sev_thr = b.systolic * severe_rule.p("factor")
    severe = r.systolic > sev_thr + _EPS or confirmed
    if severe:
        if r.systolic > sev_thr + _EPS:
            text = (f"BP {_bp_text(r)}: systolic above {_fmt(sev_thr)} "
                    f"({severe_rule.p('factor'):g} x baseline {_fmt(b.systolic)})")
            thr = sev_thr
        else:
            text = f"BP {_bp_text(r)}: rise above baseline confirmed by the repeat reading"
            thr = sys_thr
        if "BP_RISE_SEVERE" in w.alarms:
            w.update_alarm("BP_RISE_SEVERE", t, r.systolic, text)
        else:
            w.raise_alarm("BP_RISE_SEVERE", "BP_RISE_SEVERE", t, r.systolic, threshold=thr,
                          baseline=b.systolic, worse=1, message=text)
    else:
        w.clear_alarm("BP_RISE_SEVERE", t, r.systolic, "reading below threshold")
    return rise and w.rules.enabled("BP_RISE"), severe and w.rules.enabled("BP_RISE_SEVERE")


def _nibp_due(w: _Work) -> float | None:
    s = w.s
    if s.monitoring_since is None or not w.rules.enabled("NIBP_OVERDUE"):
        return None
    if "NIBP_OVERDUE" in w.alarms:
        return None
    base = s.last_nibp if s.last_nibp is not None else s.monitoring_since
    due = base + w.rules["NIBP_OVERDUE"].delay
    if s.repeat_due is not None:
        due = min(due, s.repeat_due)
    return due


def _fire_nibp_overdue(w: _Work, t: float) -> None:
    s = w.s
    base = s.last_nibp if s.last_nibp is not None else s.monitoring_since
    assert base is not None
    since = t - base
    if s.repeat_due is not None and t >= s.repeat_due and since < w.rules["NIBP_OVERDUE"].delay:
        text = (f"Repeat NIBP after an elevated reading not taken: last reading "
                f"{since / 60:.1f} min ago")
    else:
        text = f"No NIBP reading for {since / 60:.1f} min"
    w.raise_alarm("NIBP_OVERDUE", "NIBP_OVERDUE", t, since, message=text)


# ---- baselines -----------------------------------------------------------------------


def _check_no_baseline(w: _Work, t: float) -> None:
    if w.s.infusion_start is None or not w.s.monitoring:
        return
    # Only a measured parameter needs a baseline: a bed without ECG (or without a cuff)
    # has no HR (or BP) rule to run, so a missing baseline there would be a false alarm.
    # The check runs again when that parameter first shows up after the infusion start.
    seen = {"HR": "HR" in w.tracks, "BP": w.s.last_nibp is not None}
    missing = [name for name, b in (("HR", w.s.hr_baseline), ("BP", w.s.bp_baseline))
               if b is None and seen[name]]
    if missing:
        w.raise_alarm("NO_BASELINE", "NO_BASELINE", t, None,
                      message=f"No baseline for {' and '.join(missing)}: absolute limits only")
    else:
        w.clear_alarm("NO_BASELINE", t, None, "baselines set")


# --------------------------------------------------------------------------------------
# Public API: every function returns (new state, events) and leaves its inputs alone.
# --------------------------------------------------------------------------------------

Result = tuple[BedState, list[AlarmEvent]]
"""What every engine function returns."""


def _start(rules: RuleSet, state: BedState, now: float) -> tuple[_Work, float]:
    w = _Work(rules, state)
    t = now if w.now is None else max(now, w.now)
    _advance(w, t)
    return w, t


def _done(w: _Work, t: float) -> Result:
    _advance(w, t)  # zero-delay consequences of the input (SENSOR_OFF, 0 s delays...)
    if (w.s.infusion_start is not None and "NO_BASELINE" not in w.alarms
            and (w.s.hr_baseline is None or w.s.bp_baseline is None)):
        _check_no_baseline(w, t)  # a parameter without baseline may have just appeared
    return w.freeze(), w.events


def evaluate(rules: RuleSet, state: BedState, obs: Observation) -> Result:
    """Apply one observation.

    Time first advances to ``obs.time`` (so delays, escalations and watchdogs that fell due
    in between fire at their own data time), then the observation is applied. An
    observation older than the state's time is applied at the state's time.

    Args:
        rules: the bed's rules.
        state: the bed's state (left unchanged).
        obs: the observation.

    Returns:
        The new state and the alarm events, in time order.
    """
    w, t = _start(rules, state, obs.time)
    metric, device = obs.metric, obs.device_id
    why = artifact_reason(obs)
    _heard(w, device, t, streaming=metric not in NIBP_METRICS)
    if metric in CAPNO_METRICS:
        if why == "sensor_off":
            _capno_off_start(w, device, t)
        elif why is None:
            _capno_valid(w, device, t)
        if metric in _BREATH_METRICS:
            _apnea_flag(w, obs, why, t)
    elif metric in OXIMETER_METRICS and why == "sensor_off":
        _sensor_off_start(w, device, t)
    elif metric in OXIMETER_METRICS and why is None and device in w.sensor_off:
        # Only the oximeter's own valid sample says its probe is back: on a monitor that
        # sends ECG and SpO2 together, a valid ECG heart rate says nothing about the probe.
        _sensor_on(w, device, t)
    if metric == "SPO2":
        w.set(spo2_device=device)
    if metric in NIBP_METRICS:
        _nibp_observation(w, obs, t)
        return _done(w, t)
    if metric == "HR" and w.s.infusion_start is None:
        keep_after = t - w.rules.baseline["hr_window"] - w.rules.hold_max
        history = tuple(o for o in w.s.hr_history if o.time >= keep_after)
        w.set(hr_history=(*history, obs))
    if metric not in CONTINUOUS_METRICS:
        return _done(w, t)
    if why is not None:
        w.artifacts[metric] = w.artifacts.get(metric, 0) + 1
        track = w.tracks.get(metric)
        if track is not None and track.until is not None:
            w.tracks[metric] = replace(track, until=None)
        _pause_timers(w, metric, t)
        if metric in _BREATH_METRICS:
            _breath(w, t)
        return _done(w, t)
    _continuous_sample(w, obs, t)
    return _done(w, t)


def tick(rules: RuleSet, state: BedState, now: float) -> Result:
    """Let data time pass to ``now``: fires delays, watchdogs, escalations, pause expiry.

    Call it at least every second live, or at :func:`next_deadline` in replay. A ``now``
    earlier than the state's time changes nothing.
    """
    w, t = _start(rules, state, now)
    return _done(w, t)


def next_deadline(rules: RuleSet, state: BedState) -> float | None:
    """The earliest data time at which :func:`tick` could produce something, or ``None``."""
    pending = _deadlines(_Work(rules, state))
    return min(pending)[0] if pending else None


def device_status(rules: RuleSet, state: BedState, status: DeviceStatus) -> Result:
    """Apply a device connection or sensor state change.

    ``disconnected`` / ``stale`` raise DEVICE_LOST at once (while monitoring);
    ``connected`` ends it and restarts the no-data watchdog; ``sensor_off`` raises
    SENSOR_OFF (and suppresses the SpO2 rules if it is the SpO2 device).
    """
    w, t = _start(rules, state, status.time)
    device = status.device_id
    if status.state in (DeviceState.DISCONNECTED, DeviceState.STALE):
        if w.s.monitoring:
            # A short text a nurse reads across the room; the driver's own words (port,
            # OS error) stay in the device's state, shown in the bed detail.
            what = ("disconnected" if status.state == DeviceState.DISCONNECTED
                    else "sends no data")
            w.raise_alarm("DEVICE_LOST/" + device, "DEVICE_LOST", t, None,
                          message=f"Device {device} {what}")
    elif status.state == DeviceState.CONNECTED:
        _device_back(w, device, t, "device reconnected")
        if device in w.last_heard:
            w.last_heard[device] = t
    elif status.state == DeviceState.SENSOR_OFF:
        _sensor_off_start(w, device, t)
    return _done(w, t)


def start_monitoring(
    rules: RuleSet, state: BedState, now: float, user: str | None = None
) -> Result:
    """Start monitoring the bed: the technical watchdogs (NIBP_OVERDUE, DEVICE_LOST,
    SENSOR_OFF, NO_BASELINE, CO2_LINE) run from now. Physiological rules run whenever data arrive.
    """
    w, t = _start(rules, state, now)
    if w.s.monitoring:
        return _done(w, t)
    w.set(monitoring_since=t)
    for device, heard in list(w.last_heard.items()):
        w.last_heard[device] = max(heard, t)
    w.events.append(w.bed_event("monitoring_start", t, user=user))
    return _done(w, t)


def stop_monitoring(rules: RuleSet, state: BedState, now: float, user: str) -> Result:
    """Stop monitoring: every alarm ends (reason "monitoring stopped"), watchdogs stop."""
    _require("user", user)
    w, t = _start(rules, state, now)
    for key in sorted(w.alarms):
        w.end_alarm(key, t, "monitoring stopped", user)
    w.timers.clear()
    w.sensor_off.clear()
    w.capno_off.clear()
    w.set(monitoring_since=None, repeat_due=None)
    w.events.append(w.bed_event("monitoring_stop", t, user=user))
    return _done(w, t)


def _require(name: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise ValueError(f"{name} is required")
    return value


def _baseline_event(w: _Work, t: float, event: str, b: Baseline | NoBaseline,
                    user: str, reason: str | None, old: Baseline | None = None) -> None:
    name = "HR" if b.kind == "hr" else "BP"
    if isinstance(b, NoBaseline):
        w.events.append(w.bed_event(event, t, user=user, reason=b.reason,
                                    message=f"No {name} baseline: {b.reason}"))
        return
    value = b.hr if b.kind == "hr" else b.systolic
    text = f"{name} baseline {b.describe()} ({b.method})"
    if b.notes:
        text += "; flagged: " + "; ".join(b.notes)
    if old is not None:
        text = f"{name} baseline {old.describe()} -> {b.describe()} ({b.method})"
    w.events.append(w.bed_event(
        event, t, value=value, user=user, reason=reason, message=text,
        baseline=None if old is None else (old.hr if old.kind == "hr" else old.systolic),
    ))


def computed_baselines(
    rules: RuleSet, state: BedState, at: float
) -> tuple[Baseline | NoBaseline, Baseline | NoBaseline]:
    """The HR and BP baselines the pre-infusion data give at ``at``.

    The one computation behind the preview a nurse sees before the infusion, the
    recompute a nurse asks for, and what :func:`start_infusion` freezes: the same data
    (an NIBP reading still being assembled included) with the same parameters. Baselines
    set by hand are not consulted here.
    """
    w, t = _start(rules, state, at)
    _finalize_nibp(w, t)
    return _computed_baselines(w, t)


def _computed_baselines(
    w: _Work, t: float
) -> tuple[Baseline | NoBaseline, Baseline | NoBaseline]:
    cfg = w.rules.baseline
    hr = compute_hr_baseline(w.s.hr_history, t, window=cfg["hr_window"],
                             min_valid=cfg["hr_min_valid"], max_hold=w.rules.hold_max)
    bp = compute_bp_baseline(w.s.bp_history, t, window=cfg["bp_window"],
                             min_spacing=cfg["bp_min_spacing"], outlier_mmhg=cfg["bp_outlier"],
                             max_readings=int(cfg["bp_max_readings"]))
    return hr, bp


def start_infusion(
    rules: RuleSet,
    state: BedState,
    now: float,
    user: str,
    *,
    hr_baseline: Baseline | None = None,
    bp_baseline: Baseline | None = None,
) -> Result:
    """Start the infusion and freeze the baselines, confirmed by ``user``.

    A baseline given here (or set earlier with :func:`rebaseline`) wins; otherwise it is
    computed from the pre-infusion data the state kept (see :mod:`monitor.alarms.baseline`).
    Monitoring starts too if it had not. A missing baseline raises NO_BASELINE.

    Raises:
        ValueError: no user, or the infusion has already started.
    """
    _require("user", user)
    if state.infusion_start is not None:
        raise ValueError("the infusion has already started")
    w, t = _start(rules, state, now)
    _finalize_nibp(w, t)
    if not w.s.monitoring:
        w.set(monitoring_since=t)
    computed_hr, computed_bp = _computed_baselines(w, t)
    hr: Baseline | NoBaseline = hr_baseline or w.s.hr_baseline or computed_hr
    bp: Baseline | NoBaseline = bp_baseline or w.s.bp_baseline or computed_bp
    if isinstance(hr, Baseline):
        hr = hr.confirmed(user, t)
    if isinstance(bp, Baseline):
        bp = bp.confirmed(user, t)
    w.set(
        infusion_start=t,
        hr_baseline=hr if isinstance(hr, Baseline) else None,
        bp_baseline=bp if isinstance(bp, Baseline) else None,
        hr_history=(), bp_history=(), last_reading_rise=False,
    )
    w.events.append(w.bed_event("infusion_start", t, user=user, message="Infusion started"))
    _baseline_event(w, t, "baseline", hr, user, None)
    _baseline_event(w, t, "baseline", bp, user, None)
    _check_no_baseline(w, t)
    return _done(w, t)


def rebaseline(
    rules: RuleSet,
    state: BedState,
    now: float,
    user: str,
    reason: str,
    *,
    hr: Baseline | None = None,
    bp: Baseline | None = None,
) -> Result:
    """Replace the HR and/or BP baseline (a nurse's decision, with a reason; audited).

    Before the infusion this presets the baseline that :func:`start_infusion` will freeze.
    Running HR_RISE delay timers restart (their threshold changed); active alarms are
    re-judged against the new baseline on the next sample or reading.

    Raises:
        ValueError: no user, no reason, no baseline, or a baseline of the wrong kind.
    """
    _require("user", user)
    _require("reason", reason)
    if hr is None and bp is None:
        raise ValueError("rebaseline needs an hr or a bp baseline")
    if hr is not None and hr.kind != "hr":
        raise ValueError("hr must be a heart-rate baseline")
    if bp is not None and bp.kind != "bp":
        raise ValueError("bp must be a blood-pressure baseline")
    w, t = _start(rules, state, now)
    if hr is not None:
        old = w.s.hr_baseline
        new = hr.confirmed(user, t, reason)
        w.set(hr_baseline=new)
        w.timers.pop("HR_RISE", None)
        _baseline_event(w, t, "rebaseline", new, user, reason, old)
    if bp is not None:
        old = w.s.bp_baseline
        new = bp.confirmed(user, t, reason)
        w.set(bp_baseline=new, last_reading_rise=False)
        _baseline_event(w, t, "rebaseline", new, user, reason, old)
    _check_no_baseline(w, t)
    return _done(w, t)


def acknowledge(
    rules: RuleSet,
    state: BedState,
    target: str,
    user: str,
    now: float,
    reason: str | None = None,
) -> Result:
    """Acknowledge an alarm (by alarm id) or every active alarm of a rule (by rule id).

    An alarm that is no longer active (a race with its end) gives no event.

    Raises:
        ValueError: no user, or ``target`` is neither a rule id nor an alarm id.
    """
    _require("user", user)
    if not is_rule_id(target) and "/" not in target:
        raise ValueError(f"{target!r} is neither a rule id nor an alarm id")
    w, t = _start(rules, state, now)
    for key in sorted(w.alarms):
        alarm = w.alarms[key]
        if target in (alarm.rule, alarm.alarm_id):
            new, events = alarms.acknowledge(w.s.bed_id, alarm, t, user, reason)
            w._put(key, new)
            w.events.extend(events)
    return _done(w, t)


def pause_audio(
    rules: RuleSet,
    state: BedState,
    user: str,
    now: float,
    seconds: float | None = None,
    reason: str | None = None,
) -> Result:
    """Pause this bed's audio for ``seconds`` (default 120 s).

    Visual signals stay; escalation timers keep running (only acknowledging stops them);
    a new high-priority alarm ends the pause.

    Raises:
        ValueError: no user, or ``seconds`` outside the configured range (60-180 s).
    """
    _require("user", user)
    seconds = rules.audio_pause if seconds is None else seconds
    low, high = rules.audio_pause_range
    if not low <= seconds <= high:
        raise ValueError(f"audio pause {seconds:g} s outside {low:g}-{high:g} s")
    w, t = _start(rules, state, now)
    w.set(audio_paused_until=t + seconds)
    w.events.append(w.bed_event("audio_paused", t, user=user, reason=reason, delay=seconds,
                                message=f"Audio paused for {seconds:g} s"))
    return _done(w, t)
