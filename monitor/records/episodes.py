"""Side-effect episodes by the study's own definitions, from a session's stored vitals (pure).

The alarms (``monitor.alarms``) are tuned for nurses: delays, artifact pauses, latching. The
study counted something else: desaturation (SpO2 < 93 %), heart rate more than 20 % above
the pre-infusion baseline, and blood pressure over baseline, during the infusion. This
module counts those episodes from the observations alone, without alarm delays, so a 10-s
dip of SpO2 to 90 % is an episode although no alarm fired. Nothing here reads a clock or
does I/O.

Choices, each one deliberate:

- **Interval.** Only observations with ``start <= time < end`` count (the infusion, for every
  kind, desaturation included). With ``end=None`` (the infusion still running) the interval
  runs to the latest observation given, of any metric: nothing is known after it, so no
  value holds past it. Observations with a non-finite time are ignored.
- **Sources.** Desaturation from ``SPO2``. Tachycardia from ``HR`` (ECG, the source of the HR
  baseline); only when there is no valid ``HR`` sample in the interval at all are the
  oximeter's ``PR`` samples used instead, for the whole interval. The two are never mixed,
  so an episode never starts on one source and ends on the other; an episode says which it
  came from (``source``). Hypertension from NIBP readings assembled by
  :func:`monitor.alarms.baseline.group_bp_readings` (its 2-s window, the alarm default)
  from all the observations given, so a reading whose components straddle an edge of the
  interval stays whole; a reading counts at its own time (its earliest component's).
- **Limits.** Strict, as in the alarms: SpO2 below ``spo2_below`` (93.0 is not an episode,
  92.9 is); HR above ``hr_baseline x hr_factor``; systolic above ``sys_baseline x
  bp_factor`` (systolic only: the study names no mean-pressure criterion). A baseline-derived
  limit is compared with a 1e-9 tolerance, as ``monitor/alarms/engine.py`` does, so a value
  equal to the limit never counts because of float rounding (1.2 x 72 = 86.39999999999999
  would otherwise make HR 86.4 an episode); SpO2's limit is a plain number and is compared
  as it is. No baseline (``None``): no episodes of that kind.
- **Continuous samples (SpO2, HR/PR).** A valid sample holds its value until the next valid
  sample, for at most ``max_hold_s``. An episode starts at the first sample beyond the
  limit and ends at the time of the first valid sample that is not beyond it, or
  ``max_hold_s`` after its last sample when no valid sample follows within ``max_hold_s``
  (a gap of exactly ``max_hold_s`` does not end it), and never after the interval's end. A
  1-Hz dip of ten samples at 90 % followed by 95 % is one episode of 10 s.
- **Artifacts** (``artifact_reason(obs) is not None``: no value, invalid, motion, stale,
  sensor off, implausible) never start, extend or end an episode: an artifact sample counts
  neither as beyond nor as within the limit, and is skipped as if absent, so the value before
  it holds for at most ``max_hold_s`` from its own time. Motion in the middle of a dip
  therefore does not split it in two, while a probe off for longer than ``max_hold_s`` ends
  the episode ``max_hold_s`` after the last valid low sample. (The alarm engine differs on
  purpose: there an artifact stops the hold at once and pauses delay timers.)
- **NIBP readings** are instants. Invalid readings (an artifact component, an incomplete
  reading, systolic <= diastolic) are skipped like artifacts. Consecutive valid readings
  over the limit form one episode from the first to the last of them (``max_hold_s`` does
  not apply: readings are minutes apart and nothing is presumed between them); one reading
  over the limit is an episode of duration 0.
- **No minimum duration**: the study's definitions name none, so one low sample is an
  episode. Episodes of one kind separated by less than ``merge_gap_s`` are merged (default
  0: never).
- **Figures.** ``worst`` is the lowest SpO2, the highest HR and the highest systolic;
  ``samples`` counts the valid samples (or readings) beyond the limit in the episode;
  ``threshold`` is the limit in force and ``baseline`` the baseline it came from (``None``
  for desaturation). Episodes are sorted by start (then kind, in :data:`EPISODE_KINDS`
  order).
- **Order does not matter.** Observations are put in one total order (time, then device,
  value, flags...) before anything else, so the same observations in any order give the
  same episodes, samples at the same time included.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.alarms.baseline import BPReading, artifact_reason, group_bp_readings
from monitor.domain.models import Observation

EPISODE_KINDS = ("desaturation", "tachycardia", "hypertension")
"""The kinds of episode, in the order reports list them."""

_EPS = 1e-9  # "above 1.20 x baseline" must not count 1.2 * 72 = 86.39999999999999 < 86.4
_NIBP_ASSEMBLY_S = 2.0  # the alarm rules' default "nibp_assembly" window


@dataclass(frozen=True, slots=True)
class Episode:
    """One side-effect episode.

    Attributes:
        kind: one of :data:`EPISODE_KINDS`.
        start: POSIX seconds of the first sample (or reading) beyond the limit.
        end: POSIX seconds when it ended (see the module docstring); ``end >= start``.
        worst: the lowest SpO2, the highest heart rate or the highest systolic.
        threshold: the limit in force (93, baseline x factor).
        baseline: the baseline the limit came from, ``None`` for desaturation.
        samples: how many valid samples (or NIBP readings) beyond the limit it holds.
        source: the metric it was computed from: ``SPO2``, ``HR``, ``PR`` or ``NIBP``.
    """

    kind: str
    start: float
    end: float
    worst: float
    threshold: float
    baseline: float | None
    samples: int
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EPISODE_KINDS:
            raise ValueError(f"unknown episode kind {self.kind!r}")
        if not self.end >= self.start:
            raise ValueError(f"episode ends at {self.end} before it starts at {self.start}")
        if self.samples < 1:
            raise ValueError("an episode holds at least one sample")

    @property
    def duration(self) -> float:
        """Seconds from start to end (0 for a single NIBP reading)."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``duration`` included)."""
        return {
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "worst": self.worst,
            "threshold": self.threshold,
            "baseline": self.baseline,
            "samples": self.samples,
            "source": self.source,
        }


@dataclass(frozen=True)
class EpisodeRules:
    """The definitions episodes are counted by.

    Attributes:
        spo2_below: desaturation is SpO2 strictly below this (%).
        hr_factor: tachycardia is heart rate strictly above baseline x this.
        bp_factor: hypertension is systolic strictly above baseline systolic x this. The
            study names no factor: the site sets it; the integrator passes the alarm rules'
            BP_RISE factor.
        max_hold_s: the longest a continuous sample holds its value (seconds).
        merge_gap_s: episodes of one kind separated by less than this merge (seconds).

    Raises:
        ValueError: a value that is not a finite number in range (SpO2 50-100, factors
            1.01-3.0, like the alarm settings; ``max_hold_s`` above 0, ``merge_gap_s`` 0 or
            more).
    """

    spo2_below: float = 93.0
    hr_factor: float = 1.20
    bp_factor: float = 1.20
    max_hold_s: float = 10.0
    merge_gap_s: float = 0.0

    def __post_init__(self) -> None:
        checks = (("spo2_below", 50.0, 100.0), ("hr_factor", 1.01, 3.0),
                  ("bp_factor", 1.01, 3.0), ("max_hold_s", 0.0, math.inf),
                  ("merge_gap_s", 0.0, math.inf))
        for name, low, high in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not low <= value <= high:
                raise ValueError(f"episode rule {name}={value!r} must be a number from "
                                 f"{low:g} to {high:g}")
        if self.max_hold_s == 0:
            raise ValueError("episode rule max_hold_s must be above 0")


@dataclass(slots=True)
class _Run:
    """An episode being assembled."""

    start: float
    last: float
    worst: float
    samples: int = 1


def _order(obs: Observation) -> tuple[Any, ...]:
    """A total order on observations, so that input order never matters."""
    reason = artifact_reason(obs)
    value = obs.value if obs.value is not None and math.isfinite(obs.value) else 0.0
    return (obs.time, obs.metric, obs.device_id, reason or "", value, tuple(sorted(obs.flags)),
            obs.code, obs.unit, obs.bed_id)


def _continuous(samples: Sequence[Observation], beyond: Callable[[float], bool],
                worse: Callable[[float, float], float], hold: float,
                bound: float) -> list[tuple[_Run, float]]:
    """Runs of valid samples beyond the limit, each with its end time."""
    runs: list[tuple[_Run, float]] = []
    run: _Run | None = None
    for obs in samples:
        if artifact_reason(obs) is not None or obs.value is None:
            continue
        value = float(obs.value)
        if run is not None and obs.time - run.last > hold:
            runs.append((run, run.last + hold))
            run = None
        if beyond(value):
            if run is None:
                run = _Run(obs.time, obs.time, value)
            else:
                run.last, run.worst = obs.time, worse(run.worst, value)
                run.samples += 1
        elif run is not None:
            runs.append((run, obs.time))
            run = None
    if run is not None:
        runs.append((run, min(run.last + hold, bound)))
    return runs


def _readings(readings: Sequence[BPReading], limit: float) -> list[tuple[_Run, float]]:
    """Runs of consecutive valid NIBP readings with systolic over ``limit``."""
    runs: list[tuple[_Run, float]] = []
    run: _Run | None = None
    for reading in readings:
        if not reading.valid or reading.systolic is None:
            continue
        if reading.systolic > limit + _EPS:
            if run is None:
                run = _Run(reading.time, reading.time, reading.systolic)
            else:
                run.last, run.worst = reading.time, max(run.worst, reading.systolic)
                run.samples += 1
        elif run is not None:
            runs.append((run, run.last))
            run = None
    if run is not None:
        runs.append((run, run.last))
    return runs


def _merged(kind: str, runs: list[tuple[_Run, float]], threshold: float,
            baseline: float | None, source: str, worse: Callable[[float, float], float],
            merge_gap: float) -> list[Episode]:
    episodes: list[Episode] = []
    for run, end in runs:
        if episodes and run.start - episodes[-1].end < merge_gap:
            prev = episodes.pop()
            episodes.append(Episode(kind, prev.start, max(prev.end, end),
                                    worse(prev.worst, run.worst), threshold, baseline,
                                    prev.samples + run.samples, source))
        else:
            episodes.append(Episode(kind, run.start, end, run.worst, threshold, baseline,
                                    run.samples, source))
    return episodes


def _check_baseline(name: str, value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or not math.isfinite(value)
                              or value <= 0):
        raise ValueError(f"{name}={value!r} must be a positive number or None")


def compute_episodes(
    observations: Iterable[Observation],
    *,
    hr_baseline: float | None,
    sys_baseline: float | None,
    start: float,
    end: float | None,
    rules: EpisodeRules = EpisodeRules(),
) -> list[Episode]:
    """Count a session's episodes by the study's definitions (see the module docstring).

    Args:
        observations: the session's observations, in any order, of any metric.
        hr_baseline: the frozen pre-infusion heart rate (bpm), or ``None``.
        sys_baseline: the frozen pre-infusion systolic pressure (mmHg), or ``None``.
        start: POSIX seconds of the infusion start.
        end: POSIX seconds of the infusion stop (excluded), or ``None`` while it runs.
        rules: the definitions (limits, hold, merging).

    Returns:
        The episodes, sorted by start.

    Raises:
        ValueError: a non-finite ``start``, ``end`` before ``start``, or a baseline that is
            not a positive finite number.
    """
    _check_baseline("hr_baseline", hr_baseline)
    _check_baseline("sys_baseline", sys_baseline)
    if not math.isfinite(start) or (end is not None and not (math.isfinite(end)
                                                             and end >= start)):
        raise ValueError(f"bad interval: start={start!r}, end={end!r}")
    every = sorted((o for o in observations if math.isfinite(o.time)), key=_order)
    inside = [o for o in every if start <= o.time and (end is None or o.time < end)]
    if not inside:
        return []
    bound = end if end is not None else max(o.time for o in inside)
    hold, gap = rules.max_hold_s, rules.merge_gap_s
    series: dict[str, list[Observation]] = {}
    for obs in inside:
        series.setdefault(obs.metric, []).append(obs)
    low, high = min, max
    spo2 = rules.spo2_below
    episodes = _merged("desaturation",
                       _continuous(series.get("SPO2", []), lambda v: v < spo2, low, hold,
                                   bound), spo2, None, "SPO2", low, gap)
    if hr_baseline is not None:
        source = "HR" if any(artifact_reason(o) is None for o in series.get("HR", [])) \
            else "PR"
        limit = hr_baseline * rules.hr_factor
        runs = _continuous(series.get(source, []), lambda v: v > limit + _EPS, high, hold,
                           bound)
        episodes += _merged("tachycardia", runs, limit, hr_baseline, source, high, gap)
    if sys_baseline is not None:
        sys_limit = sys_baseline * rules.bp_factor
        readings = sorted(
            (r for r in group_bp_readings(every, window=_NIBP_ASSEMBLY_S)
             if start <= r.time and (end is None or r.time < end)),
            key=lambda r: (r.time, r.device_id, r.systolic or 0.0, r.diastolic or 0.0))
        episodes += _merged("hypertension", _readings(readings, sys_limit), sys_limit,
                            sys_baseline, "NIBP", high, gap)
    return sorted(episodes, key=lambda e: (e.start, EPISODE_KINDS.index(e.kind), e.end))


def summarise(episodes: Iterable[Episode]) -> dict[str, dict[str, Any]]:
    """Per kind (every one of :data:`EPISODE_KINDS`): ``count``, ``total_s``, ``worst``.

    ``worst`` is the lowest SpO2 for desaturation and the highest value otherwise, ``None``
    without episodes.
    """
    out: dict[str, dict[str, Any]] = {
        kind: {"count": 0, "total_s": 0.0, "worst": None} for kind in EPISODE_KINDS}
    for episode in episodes:
        entry = out[episode.kind]
        entry["count"] += 1
        entry["total_s"] += episode.duration
        pick = min if episode.kind == "desaturation" else max
        entry["worst"] = episode.worst if entry["worst"] is None \
            else pick(entry["worst"], episode.worst)
    return out
