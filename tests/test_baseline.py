"""Baselines: HR median over the last 5 min, BP mean of spaced readings, provenance."""

from __future__ import annotations

import pytest

from monitor.alarms.baseline import (
    Baseline,
    BPReading,
    NoBaseline,
    artifact_reason,
    compute_bp_baseline,
    compute_hr_baseline,
    group_bp_readings,
    manual_bp_baseline,
    manual_hr_baseline,
)
from monitor.domain.models import Flag, Observation

START = 1000.0


def hr(value: float | None, t: float, *flags: str) -> Observation:
    return Observation.of("HR", value, t, "ecg", frozenset(flags))


def bp(t: float, sys_: float, dia: float, mean: float | None = None,
       artifact: str | None = None) -> BPReading:
    return BPReading(t, sys_, dia, mean, "nibp", artifact)


def test_hr_median_over_the_last_5_minutes_only() -> None:
    old = [hr(150, START - 400 + i) for i in range(90)]        # outside the window
    recent = [hr(70 if i % 2 else 74, START - 300 + i) for i in range(300)]
    b = compute_hr_baseline(old + recent, START)
    assert isinstance(b, Baseline)
    assert b.hr == 72 and b.kind == "hr"
    assert len(b.readings) == 300 and b.readings[0] == (START - 300, 74.0)
    assert "median" in b.method


@pytest.mark.parametrize(("seconds", "ok"), [(120, True), (119, False), (300, True), (0, False)])
def test_hr_needs_2_minutes_of_valid_data(seconds: int, ok: bool) -> None:
    samples = [hr(70, START - seconds + i) for i in range(seconds)]
    b = compute_hr_baseline(samples, START)
    assert isinstance(b, Baseline) is ok
    if not ok:
        assert isinstance(b, NoBaseline) and "ECG heart rate" in b.reason


def test_hr_artifacts_are_skipped_and_do_not_count_as_valid_time() -> None:
    samples = [hr(70, START - 300 + i) for i in range(100)]
    samples += [hr(250, START - 200 + i, Flag.MOTION) for i in range(100)]
    samples += [hr(None, START - 100 + i) for i in range(100)]
    b = compute_hr_baseline(samples, START)
    assert isinstance(b, NoBaseline)  # only 100 s valid
    samples += [hr(400, START - 10.0)]
    assert isinstance(compute_hr_baseline(samples, START), NoBaseline)


def test_hr_sparse_samples_hold_until_the_next_one() -> None:
    samples = [hr(60 + i, START - 300 + 60 * i) for i in range(5)]  # once a minute
    b = compute_hr_baseline(samples, START, max_hold=90)
    assert isinstance(b, Baseline) and b.hr == 62
    assert isinstance(compute_hr_baseline(samples, START, max_hold=10), NoBaseline)


def test_hr_ignores_data_after_the_infusion_start() -> None:
    samples = [hr(70, START - 200 + i) for i in range(200)] + [hr(140, START + i)
                                                               for i in range(300)]
    b = compute_hr_baseline(samples, START)
    assert isinstance(b, Baseline) and b.hr == 70


def test_bp_mean_of_readings_at_least_3_min_apart() -> None:
    b = compute_bp_baseline([bp(START - 900, 124, 80, 95), bp(START - 500, 120, 76, 91)], START)
    assert isinstance(b, Baseline)
    assert (b.systolic, b.diastolic, b.mean) == (122, 78, 93)
    assert not b.flagged and len(b.readings) == 2


def test_bp_readings_closer_than_3_min_count_once() -> None:
    b = compute_bp_baseline([bp(START - 300, 130, 80), bp(START - 179, 120, 78)], START)
    assert isinstance(b, Baseline)
    assert b.systolic == 120 and b.flagged and "single NIBP reading" in b.notes
    b = compute_bp_baseline([bp(START - 300, 130, 80), bp(START - 120, 120, 78)], START)
    assert isinstance(b, Baseline) and b.systolic == 125 and not b.flagged


def test_bp_single_reading_is_accepted_but_flagged() -> None:
    b = compute_bp_baseline([bp(START - 60, 130, 85)], START)
    assert isinstance(b, Baseline) and b.flagged and b.systolic == 130
    assert b.mean == pytest.approx(100)  # computed MAP


def test_bp_outlier_more_than_15_mmhg_from_the_others_is_dropped() -> None:
    readings = [bp(START - 1200, 160, 95), bp(START - 800, 122, 80), bp(START - 400, 126, 80)]
    b = compute_bp_baseline(readings, START)
    assert isinstance(b, Baseline)
    assert b.systolic == 124 and len(b.readings) == 2
    assert b.dropped[0][0] == START - 1200 and "15" in b.dropped[0][2]


@pytest.mark.parametrize(("second", "used"), [(140, 135.0), (145, 145.0)])
def test_bp_two_readings_15_apart_are_averaged_more_are_not(second: float, used: float) -> None:
    b = compute_bp_baseline([bp(START - 600, 125 if second == 140 else 129, 80),
                             bp(START - 300, second, 82)], START)
    assert isinstance(b, Baseline)
    if second == 140:
        assert b.systolic == pytest.approx(132.5) and not b.flagged
    else:  # 16 apart: cannot tell the outlier; the most recent is kept, flagged
        assert b.systolic == used and b.flagged


def test_bp_artifacts_are_dropped() -> None:
    readings = [bp(START - 600, 80, 90, artifact="systolic <= diastolic"),
                bp(START - 300, 120, 80)]
    b = compute_bp_baseline(readings, START)
    assert isinstance(b, Baseline) and b.systolic == 120 and b.flagged
    assert b.dropped[0][2] == "systolic <= diastolic"


def test_bp_none_before_the_infusion_is_no_baseline() -> None:
    b = compute_bp_baseline([bp(START + 10, 120, 80)], START)
    assert isinstance(b, NoBaseline) and "no valid pre-infusion NIBP" in b.reason


def test_group_readings_from_observations() -> None:
    obs = [Observation.of("NIBP_SYS", 120, 10.0, "n"), Observation.of("NIBP_DIA", 80, 10.0, "n"),
           Observation.of("NIBP_MEAN", 93, 10.5, "n"), Observation.of("NIBP_SYS", 80, 400.0, "n"),
           Observation.of("NIBP_DIA", 85, 400.0, "n"),
           Observation.of("NIBP_SYS", 130, 800.0, "n", {Flag.ARTIFACT}),
           Observation.of("NIBP_DIA", 85, 800.0, "n")]
    readings = group_bp_readings(obs)
    assert [(r.systolic, r.diastolic, r.mean, r.valid) for r in readings] == [
        (120, 80, 93, True), (80, 85, None, False), (None, 85, None, False)]
    assert readings[1].artifact == "systolic <= diastolic"


@pytest.mark.parametrize(
    ("metric", "value", "flags", "reason"),
    [("SPO2", 101, (), "implausible"), ("SPO2", 100, (), None), ("HR", 301, (), "implausible"),
     ("HR", 19.9, (), "implausible"), ("HR", 20, (), None),
     ("HR", 300, (), None), ("HR", None, (), "invalid"), ("HR", 70, (Flag.INVALID,), "invalid"),
     ("HR", 70, (Flag.ARTIFACT,), "flagged"), ("SPO2", 95, (Flag.MOTION,), "flagged"),
     ("SPO2", 95, (Flag.NO_SENSOR,), "sensor_off"), ("SPO2", 95, (Flag.LOW_PERFUSION,), None)],
)
def test_artifact_reason(metric: str, value: float | None, flags: tuple[str, ...],
                         reason: str | None) -> None:
    assert artifact_reason(Observation.of(metric, value, 0.0, "d", flags)) == reason


def test_provenance_and_confirmation() -> None:
    b = manual_bp_baseline(130, 85, 5.0, reason="clinic BP")
    c = b.confirmed("nurse.e", 100.0)
    assert (c.confirmed_by, c.confirmed_at, c.reason, c.method) == (
        "nurse.e", 100.0, "clinic BP", "manual")
    assert b.confirmed_by is None  # frozen, copied
    assert c.to_dict()["systolic"] == 130 and c.describe() == "BP 130/85 (MAP 100)"
    with pytest.raises(ValueError):
        manual_bp_baseline(80, 90, 0.0)
    with pytest.raises(ValueError):
        manual_hr_baseline(500, 0.0)
