"""Real PhysioNet recordings (WFDB) as simulator scenarios: real vitals, real ECG.

:func:`recording_scenario` turns a WFDB record into a :class:`RecordingScenario`, which has
the interface of :class:`simulators.scenarios.Scenario` (``name``, ``description``,
``period``, ``at(t, patient)``), so :func:`simulators.port.run_scenario` plays it onto any
protocol. Two kinds of record are understood:

- **numerics** (MIMIC ``...n`` records: ``HR``, ``PULSE``, ``SpO2``, ``RESP``,
  ``ABPSys/Dias/Mean``, ``NBPSys/Dias/Mean`` once a minute): each value holds until the
  next sample; ``0`` or a WFDB invalid sample means "no value" (``None``). NIBP holds the
  latest real measurement, with its time.
- **ECG** (MIT-BIH and other waveform records): the heart rate comes from the beat
  annotations (``.atr``; :data:`BEAT_SYMBOLS` only), averaged over ``hr_beats`` beats
  like a monitor's display, or from a QRS detector when the record has none. The ECG
  itself is available resampled at any rate through :meth:`RecordingScenario.ecg_samples`,
  for device codecs that send a waveform.

Channels the record lacks (SpO2 on an ECG record...) come from the ``stable`` scenario's
synthetic patient when ``fill_missing`` is true, so an ECG record still drives an
oximeter protocol; channels the record has are never invented.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from simulators.scenarios import SCENARIOS, Patient, Vitals, mean_pressure

_LOGGER = logging.getLogger(__name__)

BEAT_SYMBOLS = frozenset("N L R B A a J S V r F e j n E / f Q ?".split())
"""Annotation symbols that are beats (the rest are rhythm changes, noise marks...)."""

DEFAULT_RECORDINGS = Path(__file__).resolve().parents[2] / "shared" / "recordings"
"""Where ``mitdb/100``-style names are looked up after ``$MONITOR_RECORDINGS``."""

ECG_NAMES = ("MLII", "II", "ECG II", "ECG", "I", "III", "V", "V1", "V2", "V5", "MCL1",
             "AVR", "AVL", "AVF")
"""ECG signal names, preferred first (lead II-like leads give the usual monitor view)."""

_NUMERICS = {
    "HR": "hr", "PULSE": "pr", "SPO2": "spo2", "RESP": "rr",
    "ABPSYS": "abp_sys", "ABPDIAS": "abp_dia",
    "NBPSYS": "nbp_sys", "NBPDIAS": "nbp_dia", "NBPMEAN": "nbp_mean",
}
"""Upper-cased WFDB numerics signal name -> internal channel."""


@dataclass(frozen=True)
class Series:
    """Samples that each hold until the next one; NaN is "no value".

    Attributes:
        times: seconds since the start of the record, increasing.
        values: one per time.
    """

    times: np.ndarray
    values: np.ndarray

    def index(self, t: float) -> int:
        """Index of the latest sample at or before ``t`` (-1 if none)."""
        return int(np.searchsorted(self.times, t, side="right")) - 1

    def value_at(self, t: float) -> float | None:
        """The value holding at ``t``, or None."""
        i = self.index(t)
        if i < 0:
            return None
        v = float(self.values[i])
        return None if math.isnan(v) else v

    def valid(self) -> Series:
        """Only the samples that hold a value."""
        keep = ~np.isnan(self.values)
        return Series(self.times[keep], self.values[keep])


@dataclass(frozen=True)
class Wave:
    """An evenly sampled waveform of the record (physical units, NaN for gaps)."""

    fs: float
    samples: np.ndarray
    unit: str


@dataclass
class RecordingScenario:
    """A WFDB record played as a scenario: same interface as ``Scenario``.

    Attributes:
        name: record name (``mitdb/100``).
        description: one line for ``--help``, from the header.
        period: seconds played before starting again (record length minus ``start``).
        start: second of the record that scenario time 0 plays.
        channels: numeric series by channel (``hr``, ``pr``, ``spo2``, ``rr``,
            ``abp_sys``, ``abp_dia``, ``nbp_sys``, ``nbp_dia``, ``nbp_mean``).
        waves: waveforms by metric (``ECG``, ``PLETH``).
        beat_times: seconds of every beat when the HR comes from beats, else None.
        fill_missing: take channels the record lacks from the synthetic patient.
    """

    name: str
    description: str
    period: float
    start: float = 0.0
    channels: dict[str, Series] = field(default_factory=dict)
    waves: dict[str, Wave] = field(default_factory=dict)
    beat_times: np.ndarray | None = None
    fill_missing: bool = True

    def record_time(self, t: float) -> float:
        """Second of the record played at scenario time ``t`` (looping)."""
        return self.start + (max(t, 0.0) % self.period)

    def at(self, t: float, patient: Patient | None = None) -> Vitals:
        """What the record shows ``t`` seconds after the simulator started."""
        t = max(t, 0.0)
        rt = self.record_time(t)
        if self.fill_missing:
            base = SCENARIOS["stable"].at(t, patient)
        else:
            base = Vitals(hr=None, pr=None, spo2=None, pi=None, arterial=None, rr=None)
        changes: dict[str, Any] = {}
        for name in ("hr", "pr", "spo2", "rr"):
            if name in self.channels:
                changes[name] = self.channels[name].value_at(rt)
        if "pr" not in self.channels and "hr" in self.channels and self.beat_times is not None:
            changes["pr"] = changes["hr"]  # a perfusing rhythm: the pulse follows the beats
        if "spo2" in self.channels and self.fill_missing and "pi" not in self.channels:
            changes["pi"] = base.pi if changes["spo2"] is not None else None
        nibp = self._nibp(rt)
        if nibp is not None or "nbp_sys" in self.channels:
            if nibp is None:
                changes["nibp"] = changes["nibp_time"] = None
            else:
                values, taken = nibp
                changes["nibp"] = values
                changes["nibp_time"] = t - (rt - taken)
        if "abp_sys" in self.channels and "abp_dia" in self.channels:
            sys_, dia = self.channels["abp_sys"].value_at(rt), self.channels["abp_dia"].value_at(rt)
            if sys_ is not None and dia is not None:
                changes["arterial"] = (sys_, dia)
            elif nibp is not None:
                changes["arterial"] = nibp[0][:2]
            else:
                changes["arterial"] = None
        return replace(base, **changes)

    def _nibp(self, rt: float) -> tuple[tuple[float, float, float], float] | None:
        series = self.channels.get("nbp_sys")
        if series is None:
            return None
        valid = series.valid()
        i = valid.index(rt)
        if i < 0:
            return None
        taken = float(valid.times[i])
        sys_ = float(valid.values[i])
        dia = self.channels["nbp_dia"].value_at(taken) if "nbp_dia" in self.channels else None
        if dia is None:
            return None
        mean = self.channels["nbp_mean"].value_at(taken) if "nbp_mean" in self.channels else None
        return (sys_, dia, mean if mean is not None else mean_pressure(sys_, dia)), taken

    @property
    def has_ecg(self) -> bool:
        """True when the record holds an ECG lead."""
        return "ECG" in self.waves

    def samples(self, metric: str, t0: float, t1: float, rate: float) -> list[float | None] | None:
        """The record's ``metric`` waveform at ``rate`` Hz for scenario times [t0, t1).

        Samples sit on the grid ``k / rate``: consecutive calls with ``t1`` of one as
        ``t0`` of the next join without a gap or a repeat. Linear interpolation; a gap in
        the record gives ``None``.

        Returns:
            The samples, or None when the record has no such waveform (use a synthetic one).
        """
        wave = self.waves.get(metric)
        if wave is None:
            return None
        if rate <= 0:
            raise ValueError("rate must be positive")
        k0 = math.ceil(t0 * rate - 1e-9)
        k1 = math.ceil(t1 * rate - 1e-9)
        if k1 <= k0:
            return []
        times = np.arange(k0, k1) / rate
        rt = self.start + (np.maximum(times, 0.0) % self.period)
        pos = rt * wave.fs
        values = np.interp(pos, np.arange(len(wave.samples)), wave.samples)
        return [None if math.isnan(v) else round(float(v), 4) for v in values]

    def ecg_samples(self, t0: float, t1: float, rate: float = 300.0) -> list[float | None] | None:
        """The real ECG in mV at ``rate`` Hz for [t0, t1), or None without an ECG lead."""
        return self.samples("ECG", t0, t1, rate)


# -- loading -------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_wfdb() -> Iterator[None]:
    """Silence the DeprecationWarnings wfdb 4.3 triggers inside pandas 3.

    ``wfdb.rdann`` calls ``DataFrame.set_index(inplace=True)``, which pandas 3 deprecates;
    under ``-W error::DeprecationWarning`` (CI) that would make every annotation read fail.
    Only warnings attributed to wfdb's own modules are ignored.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"wfdb(\.|$)")
        yield


def import_wfdb() -> Any:
    """Import ``wfdb`` (its module-level code triggers the same pandas warnings)."""
    with quiet_wfdb():
        import wfdb
        import wfdb.processing  # noqa: F401
    return wfdb


def _search_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("MONITOR_RECORDINGS", "").split(os.pathsep) if p]
    return [*dirs, DEFAULT_RECORDINGS]


def resolve_record(path_or_name: str) -> Path:
    """The WFDB record path (without extension) for a path or a ``mitdb/100`` name.

    Raises:
        FileNotFoundError: no header found; the message lists where it looked.
    """
    text = str(path_or_name)
    for ext in (".hea", ".dat", ".atr", ".mat"):
        if text.endswith(ext):
            text = text[: -len(ext)]
            break
    candidates = [Path(text)]
    if not Path(text).is_absolute():
        candidates += [d / text for d in _search_dirs()]
    for c in candidates:
        if c.with_name(c.name + ".hea").is_file():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no WFDB record {path_or_name!r} (looked for .hea at: {tried}; "
                            "set MONITOR_RECORDINGS to the recordings folder)")


def _pick_ecg(names: Sequence[str]) -> int | None:
    upper = [n.upper() for n in names]
    for want in ECG_NAMES:
        if want.upper() in upper:
            return upper.index(want.upper())
    for i, n in enumerate(upper):
        if "ECG" in n:
            return i
    return None


def beat_hr(beat_times: np.ndarray, hr_beats: int = 10) -> Series:
    """Heart rate at each beat over the last ``hr_beats`` intervals (fewer at the start).

    The first beat has no rate (NaN).
    """
    n = len(beat_times)
    hr = np.full(n, np.nan)
    for i in range(1, n):
        k = min(hr_beats, i)
        span = beat_times[i] - beat_times[i - k]
        if span > 0:
            hr[i] = 60.0 * k / span
    return Series(np.asarray(beat_times, dtype=float), np.round(hr, 1))


def recording_scenario(
    path_or_name: str,
    *,
    start: float = 0.0,
    hr_beats: int = 10,
    fill_missing: bool = True,
) -> RecordingScenario:
    """Load a WFDB record as a scenario.

    Args:
        path_or_name: a record path (with or without ``.hea``) or a name relative to the
            recordings folder (``mitdb/100``, ``physionet/s00001/s00001-2896-10-10-00-31n``).
        start: second of the record to start at.
        hr_beats: beats averaged into the displayed heart rate (1 = beat to beat).
        fill_missing: channels the record lacks come from the synthetic patient.

    Raises:
        FileNotFoundError: no such record.
        ValueError: the record holds nothing a monitor would show.
    """
    wfdb = import_wfdb()
    base = resolve_record(path_or_name)
    with quiet_wfdb():
        record = wfdb.rdrecord(str(base))
    fs = float(record.fs)
    names = list(record.sig_name or [])
    signal = record.p_signal
    if signal is None:  # multi-segment records keep per-segment arrays until converted
        signal = record.to_dataframe().to_numpy()
    n = int(signal.shape[0])
    duration = n / fs
    if 1.0 / fs >= 1 and abs(1.0 / fs - round(1.0 / fs)) < 1e-6:
        duration = n * float(round(1.0 / fs))
    if not 0 <= start < duration:
        raise ValueError(f"start {start} s is outside the record ({duration:.0f} s)")
    name = str(path_or_name).removesuffix(".hea")
    comments = "; ".join(c.strip() for c in (record.comments or []) if c.strip())
    scen = RecordingScenario(
        name=name,
        description=f"PhysioNet record {base.name}, {duration / 60:.1f} min"
        + (f" ({comments})" if comments else ""),
        period=duration - start,
        start=start,
        fill_missing=fill_missing,
    )
    interval = 1.0 / fs
    if interval >= 1 and abs(interval - round(interval)) < 1e-6:
        interval = float(round(interval))  # "0.0166666666667" Hz is exactly once a minute
    times = np.arange(n) * interval
    numerics = fs <= 1.0  # RESP at 125 Hz is a respiration waveform, not a rate
    for i, sig in enumerate(names):
        channel = _NUMERICS.get(sig.upper().replace(" ", "")) if numerics else None
        if channel is None:
            continue
        values = np.asarray(signal[:, i], dtype=float).copy()
        values[values == 0] = np.nan  # MIMIC numerics: 0 is "no value"
        scen.channels[channel] = Series(times, values)
    units = list(record.units or [""] * len(names))
    ecg = _pick_ecg(names)
    if ecg is not None:
        samples = np.asarray(signal[:, ecg], dtype=float)
        unit = units[ecg] or "mV"
        scale = {"uv": 0.001, "μv": 0.001, "v": 1000.0}.get(unit.lower(), 1.0)
        scen.waves["ECG"] = Wave(fs, samples * scale, "mV")
    pleth = next((i for i, s in enumerate(names) if s.upper() == "PLETH"), None)
    if pleth is not None:
        scen.waves["PLETH"] = Wave(fs, np.asarray(signal[:, pleth], dtype=float), units[pleth])
    if "hr" not in scen.channels and ecg is not None:
        beats = _beats(base, scen.waves["ECG"])
        if beats is not None and len(beats) > 1:
            scen.beat_times = beats
            scen.channels["hr"] = beat_hr(beats, hr_beats)
    if not scen.channels and not scen.waves:
        raise ValueError(f"record {path_or_name!r} has no numerics and no ECG ({names})")
    return scen


def _beats(base: Path, ecg: Wave) -> np.ndarray | None:
    """Beat times from the reference annotations, else from a QRS detector."""
    wfdb = import_wfdb()
    if base.with_name(base.name + ".atr").is_file():
        with quiet_wfdb():
            ann = wfdb.rdann(str(base), "atr")
        keep = [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in BEAT_SYMBOLS]
        return np.asarray(keep, dtype=float) / float(ann.fs or ecg.fs)
    try:
        processing = wfdb.processing
        sig = np.nan_to_num(ecg.samples)
        with quiet_wfdb():
            peaks = processing.xqrs_detect(sig=sig, fs=ecg.fs, verbose=False)
    except Exception as exc:  # the detector needs a usable signal; a demo can do without HR
        _LOGGER.warning("%s: no beat annotations and QRS detection failed: %s", base, exc)
        return None
    return np.asarray(peaks, dtype=float) / ecg.fs
