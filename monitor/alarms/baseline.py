"""Pre-infusion baselines with provenance, and the artifact test shared with the rules (pure).

Nothing here reads a clock or does I/O: every time is an argument.

Heart rate: the median ECG heart rate over the last ``window`` (5 min) before the infusion
starts, from valid samples covering at least ``min_valid`` (2 min). A sample covers the time
until the next HR sample (valid or not), at most ``max_hold`` seconds, and never past the
infusion start.

Blood pressure: NIBP readings before the infusion start (within ``window``, 60 min) that are
not artifacts. With three or more readings, a reading whose systolic differs from the
median systolic by more than ``outlier_mmhg`` (15) is dropped. With exactly two that
disagree by more than that, the outlier cannot be told apart, so only the most recent is
kept (an anxious first reading is the common case) and the baseline is flagged. From the
rest, up to ``max_readings`` (3) are picked from the most recent backwards, each at least
``min_spacing`` (3 min) before the one picked after it. Their systolic, diastolic and mean
are averaged. A single reading is accepted but flagged.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from monitor.domain.models import SENSOR_OFF_FLAGS, Flag, Observation

NIBP_METRICS = ("NIBP_SYS", "NIBP_DIA", "NIBP_MEAN")
"""The metrics that make up one NIBP reading."""

ARTIFACT_FLAGS = frozenset({Flag.ARTIFACT, Flag.MOTION, Flag.INVALID, Flag.STALE})
"""Flags that make a sample an artifact (besides :data:`SENSOR_OFF_FLAGS`)."""

PLAUSIBLE: dict[str, tuple[float, float]] = {
    "SPO2": (0.0, 100.0),
    # Below 20/min is outside the measuring range of bedside monitors (asystole is a
    # waveform alarm of the primary monitor, not a number): an isolated 11.5 among missing
    # values in a real recording is a glitch, not bradycardia.
    "HR": (20.0, 300.0),
    "PR": (20.0, 300.0),
    "NIBP_SYS": (1.0, 300.0),
    "NIBP_DIA": (1.0, 300.0),
    "NIBP_MEAN": (1.0, 300.0),
    # Capnography, mmHg and /min: the measuring ranges of sidestream capnographs (0-150
    # mmHg CO2, 0-150 breaths/min). A rate of 0 is a valid reading: no breath.
    "ETCO2": (0.0, 150.0),
    "FICO2": (0.0, 150.0),
    "AWRR": (0.0, 150.0),
}
"""Inclusive plausible range per metric; a value outside it is an artifact."""


def artifact_reason(obs: Observation) -> str | None:
    """Why ``obs`` cannot be used as physiology, or ``None`` when it can.

    Returns ``"sensor_off"`` (a sensor-off flag), ``"invalid"`` (no value, the device's
    invalid marker, not a finite number), ``"flagged"`` (artifact, motion, stale) or
    ``"implausible"`` (outside :data:`PLAUSIBLE`).
    """
    if obs.flags & SENSOR_OFF_FLAGS:
        return "sensor_off"
    value = obs.value
    if value is None or Flag.INVALID in obs.flags or not math.isfinite(value):
        return "invalid"
    if obs.flags & ARTIFACT_FLAGS:
        return "flagged"
    low, high = PLAUSIBLE.get(obs.metric, (-math.inf, math.inf))
    if not low <= value <= high:
        return "implausible"
    return None


@dataclass(frozen=True, slots=True)
class BPReading:
    """One NIBP reading assembled from its systolic, diastolic and mean observations.

    Attributes:
        time: POSIX seconds of the measurement.
        systolic: mmHg, or ``None`` when missing or invalid.
        diastolic: mmHg, or ``None``.
        mean: mmHg as measured, or ``None``.
        device_id: the device that measured it.
        artifact: why it is unusable (``"systolic <= diastolic"``...), or ``None``.
    """

    time: float
    systolic: float | None
    diastolic: float | None
    mean: float | None = None
    device_id: str = ""
    artifact: str | None = None

    @property
    def valid(self) -> bool:
        """Usable as physiology: systolic and diastolic present and no artifact."""
        return self.artifact is None and self.systolic is not None and self.diastolic is not None

    @property
    def map(self) -> float | None:
        """The measured mean, else (systolic + 2 x diastolic) / 3, else ``None``."""
        if self.mean is not None:
            return self.mean
        if self.systolic is None or self.diastolic is None:
            return None
        return (self.systolic + 2 * self.diastolic) / 3


def reading_from_observations(observations: Iterable[Observation]) -> BPReading:
    """Assemble one reading from the NIBP observations of one measurement.

    Any artifact component makes the reading an artifact, except an unusable mean, which is
    only dropped. So does systolic <= diastolic.

    Raises:
        ValueError: no NIBP observation was given.
    """
    parts: dict[str, float | None] = {}
    artifact: str | None = None
    time: float | None = None
    device = ""
    for obs in observations:
        if obs.metric not in NIBP_METRICS:
            continue
        time = obs.time if time is None else min(time, obs.time)
        device = obs.device_id
        why = artifact_reason(obs)
        parts[obs.metric] = None if why else obs.value
        if why and obs.metric != "NIBP_MEAN" and artifact is None:
            artifact = f"{obs.metric} {why}"
    if time is None:
        raise ValueError("no NIBP observation to assemble a reading from")
    sys_, dia = parts.get("NIBP_SYS"), parts.get("NIBP_DIA")
    if artifact is None and (sys_ is None or dia is None):
        artifact = "incomplete reading"
    if artifact is None and sys_ is not None and dia is not None and sys_ <= dia:
        artifact = "systolic <= diastolic"
    return BPReading(time, sys_, dia, parts.get("NIBP_MEAN"), device, artifact)


def group_bp_readings(
    observations: Iterable[Observation], window: float = 2.0
) -> list[BPReading]:
    """Group NIBP observations into readings: same device, within ``window`` s of the first.

    A repeated component also starts a new reading.
    """
    readings: list[BPReading] = []
    group: list[Observation] = []
    for obs in sorted(
        (o for o in observations if o.metric in NIBP_METRICS), key=lambda o: o.time
    ):
        if group and (
            obs.device_id != group[0].device_id
            or obs.time - group[0].time > window
            or any(o.metric == obs.metric for o in group)
        ):
            readings.append(reading_from_observations(group))
            group = []
        group.append(obs)
    if group:
        readings.append(reading_from_observations(group))
    return readings


@dataclass(frozen=True, slots=True)
class Baseline:
    """A baseline with its provenance.

    Attributes:
        kind: ``"hr"`` or ``"bp"``.
        hr: heart rate (bpm), for ``kind == "hr"``.
        systolic: mmHg, for ``kind == "bp"``.
        diastolic: mmHg, for ``kind == "bp"`` (may be ``None`` for a manual entry).
        mean: mmHg, for ``kind == "bp"`` (may be ``None``).
        readings: what it was computed from: ``(time, hr)`` pairs, or
            ``(time, systolic, diastolic, mean)`` per NIBP reading used.
        dropped: readings left out, as ``(time, systolic, why)``.
        flagged: accepted with a caveat (a single reading...); see ``notes``.
        notes: human-readable caveats.
        method: how it was made (``"median HR over 300 s"``, ``"mean of 2 NIBP readings"``,
            ``"manual"``).
        computed_at: POSIX seconds (the infusion start it was computed for, or entry time).
        confirmed_by: the user who confirmed it (set when the infusion starts or on
            re-baseline).
        confirmed_at: when it was confirmed.
        reason: the user's reason (re-baseline, manual entry).
    """

    kind: str
    hr: float | None = None
    systolic: float | None = None
    diastolic: float | None = None
    mean: float | None = None
    readings: tuple[tuple[float, ...], ...] = ()
    dropped: tuple[tuple[float, float, str], ...] = ()
    flagged: bool = False
    notes: tuple[str, ...] = ()
    method: str = ""
    computed_at: float | None = None
    confirmed_by: str | None = None
    confirmed_at: float | None = None
    reason: str | None = None

    def confirmed(self, user: str, at: float, reason: str | None = None) -> Baseline:
        """A copy confirmed by ``user`` at ``at``."""
        return replace(self, confirmed_by=user, confirmed_at=at, reason=reason or self.reason)

    def describe(self) -> str:
        """Short human text, e.g. ``HR 72`` or ``BP 128/78 (MAP 95)``."""
        if self.kind == "hr":
            return f"HR {_fmt(self.hr)}"
        text = f"BP {_fmt(self.systolic)}/{_fmt(self.diastolic)}"
        return text + (f" (MAP {_fmt(self.mean)})" if self.mean is not None else "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "hr": self.hr,
            "systolic": self.systolic,
            "diastolic": self.diastolic,
            "mean": self.mean,
            "readings": [list(r) for r in self.readings],
            "dropped": [list(r) for r in self.dropped],
            "flagged": self.flagged,
            "notes": list(self.notes),
            "method": self.method,
            "computed_at": self.computed_at,
            "confirmed_by": self.confirmed_by,
            "confirmed_at": self.confirmed_at,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class NoBaseline:
    """Why no baseline could be computed.

    Attributes:
        kind: ``"hr"`` or ``"bp"``.
        reason: human text (``"only 45 s of valid ECG heart rate in the last 300 s"``).
    """

    kind: str
    reason: str


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def compute_hr_baseline(
    observations: Iterable[Observation],
    infusion_start: float,
    *,
    window: float = 300.0,
    min_valid: float = 120.0,
    max_hold: float = 60.0,
) -> Baseline | NoBaseline:
    """The median ECG heart rate over the last ``window`` s before ``infusion_start``.

    Args:
        observations: any observations; only ``HR`` (ECG) ones are used, artifacts are
            skipped (and end the previous sample's coverage).
        infusion_start: POSIX seconds.
        window: look-back, seconds (default 5 min).
        min_valid: seconds of valid data required (default 2 min).
        max_hold: the longest a single sample covers (sparse data).

    Returns:
        A :class:`Baseline` (kind ``"hr"``), or :class:`NoBaseline` saying why not.
    """
    if window <= 0 or min_valid < 0 or max_hold <= 0:
        raise ValueError("window and max_hold must be > 0 and min_valid >= 0")
    start = infusion_start - window
    samples = sorted(
        (o for o in observations if o.metric == "HR" and start <= o.time < infusion_start),
        key=lambda o: o.time,
    )
    used: list[tuple[float, float]] = []
    covered = 0.0
    for i, obs in enumerate(samples):
        if artifact_reason(obs) is not None:
            continue
        end = samples[i + 1].time if i + 1 < len(samples) else infusion_start
        covered += min(end, obs.time + max_hold, infusion_start) - obs.time
        assert obs.value is not None
        used.append((obs.time, float(obs.value)))
    if not used:
        return NoBaseline("hr", f"no valid ECG heart rate in the last {window:.0f} s")
    if covered < min_valid:
        return NoBaseline(
            "hr",
            f"only {covered:.0f} s of valid ECG heart rate in the last {window:.0f} s "
            f"(at least {min_valid:.0f} s needed)",
        )
    return Baseline(
        kind="hr",
        hr=float(statistics.median(v for _, v in used)),
        readings=tuple(used),
        method=f"median ECG HR over {window:.0f} s ({covered:.0f} s valid)",
        computed_at=infusion_start,
    )


def compute_bp_baseline(
    readings: Iterable[BPReading],
    infusion_start: float,
    *,
    window: float = 3600.0,
    min_spacing: float = 180.0,
    outlier_mmhg: float = 15.0,
    max_readings: int = 3,
) -> Baseline | NoBaseline:
    """The mean of pre-infusion NIBP readings at least ``min_spacing`` s apart.

    See the module docstring for the selection rules.

    Args:
        readings: NIBP readings (see :func:`group_bp_readings`); artifacts are dropped.
        infusion_start: POSIX seconds; only readings before it (within ``window``) count.
        window: look-back, seconds (default 60 min).
        min_spacing: minimum seconds between readings used (default 3 min).
        outlier_mmhg: systolic difference that marks an outlier (default 15).
        max_readings: at most this many readings are averaged (default 3).

    Returns:
        A :class:`Baseline` (kind ``"bp"``), or :class:`NoBaseline` saying why not.
    """
    if min_spacing < 0 or outlier_mmhg <= 0 or max_readings < 1:
        raise ValueError("bad baseline parameters")
    dropped: list[tuple[float, float, str]] = []
    notes: list[str] = []
    candidates: list[BPReading] = []
    for r in sorted(readings, key=lambda r: r.time):
        if not infusion_start - window <= r.time < infusion_start:
            continue
        if not r.valid:
            dropped.append((r.time, r.systolic or math.nan, r.artifact or "invalid"))
            continue
        candidates.append(r)
    if len(candidates) >= 3:
        med = statistics.median(r.systolic for r in candidates if r.systolic is not None)
        kept = []
        for r in candidates:
            assert r.systolic is not None
            if abs(r.systolic - med) > outlier_mmhg:
                dropped.append(
                    (r.time, r.systolic, f"systolic differs from median {med:.0f} by > "
                     f"{outlier_mmhg:.0f} mmHg")
                )
            else:
                kept.append(r)
        candidates = kept
    elif len(candidates) == 2:
        a, b = candidates
        assert a.systolic is not None and b.systolic is not None
        if abs(a.systolic - b.systolic) > outlier_mmhg:
            dropped.append((a.time, a.systolic, f"disagrees with the later reading by > "
                            f"{outlier_mmhg:.0f} mmHg; kept the most recent"))
            notes.append("two readings disagreed by more than "
                         f"{outlier_mmhg:.0f} mmHg systolic; only the most recent used")
            candidates = [b]
    if not candidates:
        why = "no valid pre-infusion NIBP reading"
        if dropped:
            why += f" ({len(dropped)} dropped)"
        return NoBaseline("bp", why)
    chosen: list[BPReading] = []
    for r in reversed(candidates):
        if len(chosen) >= max_readings:
            break
        if not chosen or chosen[-1].time - r.time >= min_spacing:
            chosen.append(r)
    chosen.reverse()
    if len(chosen) == 1:
        notes.append("single NIBP reading")
    sys_ = statistics.fmean(r.systolic for r in chosen if r.systolic is not None)
    dia = statistics.fmean(r.diastolic for r in chosen if r.diastolic is not None)
    maps = [r.map for r in chosen if r.map is not None]
    return Baseline(
        kind="bp",
        systolic=sys_,
        diastolic=dia,
        mean=statistics.fmean(maps) if maps else None,
        readings=tuple(
            (r.time, float(r.systolic or 0), float(r.diastolic or 0),
             float(r.map) if r.map is not None else math.nan)
            for r in chosen
        ),
        dropped=tuple(dropped),
        flagged=bool(notes),
        notes=tuple(notes),
        method=f"mean of {len(chosen)} NIBP reading{'s' if len(chosen) > 1 else ''} "
        f">= {min_spacing:.0f} s apart",
        computed_at=infusion_start,
    )


def manual_hr_baseline(hr: float, at: float, reason: str | None = None) -> Baseline:
    """A heart-rate baseline entered by hand.

    Raises:
        ValueError: ``hr`` is not within 20-250 bpm.
    """
    if not 20 <= hr <= 250:
        raise ValueError(f"manual HR baseline {hr} outside 20-250 bpm")
    return Baseline(kind="hr", hr=float(hr), method="manual", computed_at=at, reason=reason)


def manual_bp_baseline(
    systolic: float,
    diastolic: float | None,
    at: float,
    mean: float | None = None,
    reason: str | None = None,
) -> Baseline:
    """A blood-pressure baseline entered by hand (e.g. a clinic reading).

    The mean is computed from systolic and diastolic when not given.

    Raises:
        ValueError: implausible values, or systolic <= diastolic.
    """
    if not 50 <= systolic <= 260:
        raise ValueError(f"manual systolic baseline {systolic} outside 50-260 mmHg")
    if diastolic is not None and not 20 <= diastolic < systolic:
        raise ValueError(f"manual diastolic baseline {diastolic} must be 20 mmHg to systolic")
    if mean is None and diastolic is not None:
        mean = (systolic + 2 * diastolic) / 3
    return Baseline(
        kind="bp",
        systolic=float(systolic),
        diastolic=None if diastolic is None else float(diastolic),
        mean=mean,
        method="manual",
        computed_at=at,
        reason=reason,
    )
