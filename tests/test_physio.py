"""Real PhysioNet records as scenarios: MIT-BIH heart rate and ECG, MIMIC numerics."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

import drivers
from monitor.domain.models import Observation
from simulators import device_codec
from simulators.physio import (
    BEAT_SYMBOLS,
    RecordingScenario,
    import_wfdb,
    quiet_wfdb,
    recording_scenario,
    resolve_record,
)
from simulators.port import PtyPort, run_scenario
from tests.conftest import MS, recordings_dir

pytestmark = pytest.mark.recordings



MIMIC = "physionet/s00001/s00001-2896-10-10-00-31n"

_cache: dict[str, RecordingScenario] = {}


def load(name: str, **kw) -> RecordingScenario:
    """Load a record from the shared folder once per test session."""
    path = recordings_dir() / name
    key = f"{name}{sorted(kw.items())}"
    if key not in _cache:
        _cache[key] = recording_scenario(str(path), **kw)
    return _cache[key]


def per_minute_rate(beats: np.ndarray) -> np.ndarray:
    """Beats counted in each whole minute."""
    minutes = np.floor(beats / 60).astype(int)
    return np.bincount(minutes)[: int(beats[-1] // 60)]


def test_mitdb_100_heart_rate_matches_the_readme():
    scen = load("mitdb/100")
    assert scen.beat_times is not None and len(scen.beat_times) == 2273
    counts = per_minute_rate(scen.beat_times)
    assert (counts.min(), counts.max()) == (73, 80)  # README: 73-80 bpm
    # The displayed (10-beat) rate stays around it all along.
    hr = [scen.at(t).hr for t in range(5, int(scen.period), 5)]
    assert all(h is not None and 65 <= h <= 90 for h in hr), (min(hr), max(hr))
    assert 73 <= float(np.median(hr)) <= 80
    assert scen.at(30).pr == scen.at(30).hr


def test_mitdb_205_heart_rate_range_and_tachycardia():
    scen = load("mitdb/205")
    counts = per_minute_rate(scen.beat_times)
    assert (counts.min(), counts.max()) == (81, 99)  # README: 81-99 bpm
    hr = [h for t in np.arange(1, scen.period, 0.5) if (h := scen.at(t).hr) is not None]
    assert max(hr) > 150, "the runs of ventricular tachycardia do not show"
    assert min(hr) > 70


def test_mitdb_only_beat_annotations_count():
    wfdb = import_wfdb()
    base = recordings_dir() / "mitdb" / "205"
    with quiet_wfdb():
        ann = wfdb.rdann(str(base), "atr")
    beats = sum(1 for s in ann.symbol if s in BEAT_SYMBOLS)
    assert beats < len(ann.symbol)  # 205 has rhythm annotations too
    assert len(load("mitdb/205").beat_times) == beats


def test_mitdb_beat_to_beat_rate_option():
    scen = load("mitdb/100", hr_beats=1)
    b = scen.beat_times
    t = float(b[100]) + 0.001
    assert scen.at(t).hr == pytest.approx(60 / (b[100] - b[99]), abs=0.05)


def test_mitdb_ecg_samples_are_the_record_resampled():
    wfdb = import_wfdb()
    scen = load("mitdb/100")
    assert scen.has_ecg
    base = recordings_dir() / "mitdb" / "100"
    rec = wfdb.rdrecord(str(base), sampfrom=3600, sampto=3960, channels=[0])
    assert rec.units[0] == "mV" and rec.sig_name[0] == "MLII"
    # At 360 Hz the grid is the record's own samples.
    same = scen.ecg_samples(10.0, 11.0, rate=360.0)
    assert same == pytest.approx([round(float(x), 4) for x in rec.p_signal[:, 0]], abs=1e-4)
    ecg = scen.ecg_samples(10.0, 11.0, rate=300.0)
    assert len(ecg) == 300
    assert max(ecg) - min(ecg) > 0.8  # an R wave is there (about 1-2 mV)
    # Consecutive chunks join without a seam.
    parts = scen.ecg_samples(10.0, 10.37, 300.0) + scen.ecg_samples(10.37, 11.0, 300.0)
    assert parts == ecg


def test_mimic_numerics_match_wfdb():
    wfdb = import_wfdb()
    scen = load(MIMIC, fill_missing=False)
    rec = wfdb.rdrecord(str(recordings_dir() / MIMIC))
    sig = {name: rec.p_signal[:, i] for i, name in enumerate(rec.sig_name)}
    nbp_rows = np.where(~np.isnan(sig["NBPSys"]) & (sig["NBPSys"] > 0))[0]
    assert len(nbp_rows) == 152
    for row in nbp_rows[[0, 1, 50, 151]]:
        v = scen.at(row * 60 + 30)  # half way to the next row: the value holds
        assert v.nibp == (sig["NBPSys"][row], sig["NBPDias"][row], sig["NBPMean"][row])
        assert v.nibp_time == pytest.approx(row * 60)
    spo2_rows = np.where(sig["SpO2"] > 0)[0]
    for row in spo2_rows[[0, 100, 1000]]:
        v = scen.at(row * 60 + 59)
        assert v.spo2 == pytest.approx(sig["SpO2"][row])
        assert v.hr == (None if sig["HR"][row] == 0 else pytest.approx(sig["HR"][row]))
        assert v.pr == (None if sig["PULSE"][row] == 0 else pytest.approx(sig["PULSE"][row]))


def test_mimic_zero_is_none():
    wfdb = import_wfdb()
    scen = load(MIMIC, fill_missing=False)
    rec = wfdb.rdrecord(str(recordings_dir() / MIMIC))
    spo2 = rec.p_signal[:, rec.sig_name.index("SpO2")]
    zero_rows = np.where(spo2 == 0)[0]
    assert len(zero_rows) == 363
    for row in zero_rows[[0, 100, 362]]:
        assert scen.at(row * 60 + 1).spo2 is None
    assert scen.at(0).hr is None  # HR is 0 in the first row
    first_nbp = int(np.where(~np.isnan(rec.p_signal[:, rec.sig_name.index("NBPSys")]))[0][0])
    assert scen.at(first_nbp * 60 - 1).nibp is None  # no measurement yet


def test_mimic_fill_missing_keeps_recorded_gaps():
    scen = load(MIMIC)  # fill_missing: only channels the record lacks are synthetic
    assert scen.at(1).spo2 is None and scen.at(1).pi is None
    assert scen.ecg_samples(0, 1, 300) is None  # numerics only: no ECG


def test_recording_loops_and_starts_where_asked():
    scen = load("mitdb/100")
    assert scen.at(scen.period + 100).hr == scen.at(100).hr
    later = load("mitdb/100", start=600.0)
    assert later.at(0).hr == scen.at(600).hr
    assert later.period == pytest.approx(scen.period - 600)


def test_resolve_record_by_name(monkeypatch):
    root = recordings_dir()
    monkeypatch.setenv("MONITOR_RECORDINGS", str(root))
    assert resolve_record("mitdb/100") == root / "mitdb" / "100"
    assert resolve_record(str(root / "mitdb" / "100.hea")) == root / "mitdb" / "100"
    with pytest.raises(FileNotFoundError, match="no WFDB record"):
        resolve_record("mitdb/999")


async def test_mitdb_plays_through_masimo_over_a_pty(pty_port: PtyPort):
    scen = load("mitdb/205")
    sim = asyncio.create_task(
        run_scenario(device_codec("masimo"), scen, pty_port, speed=1.0, tick=0.05)
    )
    prs: list[float] = []
    try:
        async with await drivers.open_device(pty_port.path, "masimo") as dev:

            async def read() -> None:
                async for e in dev:
                    if isinstance(e, Observation) and e.metric == "PR" and e.value is not None:
                        prs.append(e.value)
                        return

            await asyncio.wait_for(read(), 5000 * MS)
    finally:
        sim.cancel()
        try:
            await sim
        except asyncio.CancelledError:
            pass
    expected = {round(h) for t in np.arange(0, 6, 0.05) if (h := scen.at(t).pr) is not None}
    assert prs and prs[0] in expected and not math.isnan(prs[0])
