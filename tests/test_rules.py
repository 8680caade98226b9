"""Alarm rules at their boundaries, in virtual time: thresholds, delays, artifacts, baselines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pytest

from monitor.alarms.baseline import manual_bp_baseline, manual_hr_baseline
from monitor.alarms.engine import (
    BedState,
    RuleSet,
    device_status,
    evaluate,
    start_infusion,
    start_monitoring,
    tick,
)
from monitor.domain.models import AlarmEvent, DeviceState, DeviceStatus, Flag, Observation

RULES = RuleSet.default()
DEVICE = {"HR": "ecg", "PR": "ox", "SPO2": "ox"}


def obs(metric: str, value: float | None, t: float, *flags: str, device: str | None = None
        ) -> Observation:
    dev = device or DEVICE.get(metric, "nibp")
    return Observation.of(metric, value, t, dev, frozenset(flags))


def series(metric: str, values: Sequence[float | None], start: float = 0.0, step: float = 1.0
           ) -> list[Observation]:
    return [obs(metric, v, start + i * step) for i, v in enumerate(values)]


def run(inputs: Iterable[Observation | DeviceStatus | float], state: BedState | None = None,
        rules: RuleSet = RULES) -> tuple[BedState, list[AlarmEvent]]:
    """Feed observations / statuses; a bare number is a tick at that time."""
    state = state or BedState.new("bed1")
    events: list[AlarmEvent] = []
    for item in inputs:
        if isinstance(item, Observation):
            state, new = evaluate(rules, state, item)
        elif isinstance(item, DeviceStatus):
            state, new = device_status(rules, state, item)
        else:
            state, new = tick(rules, state, float(item))
        events.extend(new)
    return state, events


def onsets(events: list[AlarmEvent], rule: str | None = None) -> list[AlarmEvent]:
    return [e for e in events if e.event == "onset" and (rule is None or e.rule == rule)]


def infused(hr: float | None = 80.0, sys_: float | None = 120.0, dia: float = 80.0,
            rules: RuleSet = RULES, at: float = 0.0) -> BedState:
    """A monitored bed whose infusion started at ``at`` with manual baselines."""
    state, _ = start_monitoring(rules, BedState.new("bed1"), at)
    state, _ = start_infusion(
        rules, state, at, "nurse",
        hr_baseline=manual_hr_baseline(hr, at) if hr else None,
        bp_baseline=manual_bp_baseline(sys_, dia, at) if sys_ else None,
    )
    return state


def physio(events: list[AlarmEvent]) -> list[str]:
    return [e.rule for e in onsets(events) if e.rule and not e.technical]


# ---- SpO2 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fires"),
    [(92.9, True), (93.0, False), (92.0, True), (93.5, False)],
)
def test_spo2_low_threshold_is_strictly_below_93(value: float, fires: bool) -> None:
    _, events = run([*series("SPO2", [value] * 16), 15.0])
    assert bool(onsets(events, "SPO2_LOW")) is fires


@pytest.mark.parametrize(
    ("low_until", "fires"),
    [(15.0, True), (14.9, False), (14.0, False), (16.0, True)],
)
def test_spo2_low_needs_15_s_sustained(low_until: float, fires: bool) -> None:
    # low samples every second from t=0, a normal one at low_until: low held [0, low_until)
    low = [obs("SPO2", 90, float(t)) for t in range(int(low_until + 0.999))
           if t < low_until]
    _, events = run([*low, obs("SPO2", 97, low_until), 30.0])
    got = onsets(events, "SPO2_LOW")
    assert bool(got) is fires
    if fires:
        assert got[0].time == 15.0
        assert got[0].threshold == 93 and got[0].delay == 15


def test_spo2_low_onset_time_is_exact_between_sparse_ticks() -> None:
    _, events = run([obs("SPO2", 90, 0.0), obs("SPO2", 90, 5.0), obs("SPO2", 90, 9.5),
                     obs("SPO2", 90, 14.0), obs("SPO2", 90, 19.0)])
    assert [e.time for e in onsets(events, "SPO2_LOW")] == [15.0]


@pytest.mark.parametrize(
    ("value", "seconds", "fires"),
    [
        (87.9, 10, True), (88.0, 10, False), (87.0, 9.9, False),
        (84.9, 5, True), (85.0, 5, False), (84.0, 4.9, False),
    ],
)
def test_spo2_severe_two_levels(value: float, seconds: float, fires: bool) -> None:
    n = int(seconds * 10)
    low = [obs("SPO2", value, i / 10) for i in range(n)]
    _, events = run([*low, obs("SPO2", 98, seconds), 60.0])
    assert bool(onsets(events, "SPO2_SEVERE")) is fires
    if fires:
        assert onsets(events, "SPO2_SEVERE")[0].priority == "high"


def test_spo2_severe_fast_level_fires_at_5_s_with_its_own_delay() -> None:
    _, events = run(series("SPO2", [84] * 8))
    (onset,) = onsets(events, "SPO2_SEVERE")
    assert (onset.time, onset.delay, onset.threshold) == (5.0, 5.0, 85.0)


def test_spo2_dip_shorter_than_delay_never_fires_however_often() -> None:
    seq: list[float] = []
    for _ in range(10):
        seq += [90] * 14 + [96]
    _, events = run(series("SPO2", seq))
    assert onsets(events) == []


def test_spo2_low_ends_on_first_valid_normal_sample() -> None:
    _, events = run(series("SPO2", [90] * 20 + [93]))
    assert [(e.event, e.time) for e in events if e.rule == "SPO2_LOW"] == [
        ("onset", 15.0), ("end", 20.0)]


# ---- artifacts -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        (101.0, ()), (150.0, ()), (-1.0, ()),
        (None, ()), (80.0, (Flag.INVALID,)), (80.0, (Flag.ARTIFACT,)), (80.0, (Flag.MOTION,)),
        (80.0, (Flag.SENSOR_OFF,)), (float("nan"), ()),
    ],
)
def test_spo2_artifacts_never_alarm_and_are_counted(value: float | None, flags: tuple[str, ...]
                                                      ) -> None:
    state, events = run([obs("SPO2", value, float(t), *flags) for t in range(120)] + [200.0])
    assert physio(events) == []
    assert state.artifacts["SPO2"] == 120


@pytest.mark.parametrize(
    ("value", "flags"),
    [(301.0, ()), (20.0, (Flag.ARTIFACT,)), (200.0, (Flag.MOTION,)), (None, ()),
     (200.0, (Flag.INVALID,))],
)
def test_hr_artifacts_never_alarm(value: float | None, flags: tuple[str, ...]) -> None:
    state = infused()
    state, events = run([obs("HR", value, float(t), *flags) for t in range(1, 200)], state)
    assert physio(events) == []
    assert state.artifacts["HR"] == 199


def test_hr_300_is_plausible_and_alarms() -> None:
    _, events = run(series("HR", [300] * 12))
    assert physio(events) == ["HR_LIMIT"]


def test_artifact_pauses_the_delay_timer_without_advancing_or_resetting_it() -> None:
    # 10 s low, 5 s of artifacts (not counted), then low again: 5 more seconds are needed
    seq = series("SPO2", [90] * 10)
    seq += [obs("SPO2", 60, t, Flag.MOTION) for t in (10.0, 11.0, 12.0, 13.0, 14.0)]
    seq += series("SPO2", [90] * 10, start=15.0)
    _, events = run(seq)
    assert [e.time for e in onsets(events, "SPO2_LOW")] == [20.0]


def test_artifact_gap_longer_than_artifact_gap_resets_the_timer() -> None:
    seq = series("SPO2", [90] * 10)
    seq += [obs("SPO2", None, float(t)) for t in range(10, 22)]  # 12 s gap > 10 s
    seq += series("SPO2", [90] * 20, start=22.0)
    _, events = run(seq)
    assert [e.time for e in onsets(events, "SPO2_LOW")] == [37.0]


def test_artifact_does_not_end_an_active_alarm() -> None:
    seq = series("SPO2", [90] * 16) + [obs("SPO2", 99, 16.0, Flag.ARTIFACT)]
    _, events = run([*seq, 30.0])
    assert [e.event for e in events if e.rule == "SPO2_LOW"] == ["onset"]


def test_stale_value_stops_holding_after_hold_max() -> None:
    # one low sample then silence: it holds 10 s only, never 15 s
    _, events = run([obs("SPO2", 90, 0.0), 100.0])
    assert onsets(events, "SPO2_LOW") == []


@pytest.mark.parametrize(("sys_", "dia"), [(80, 80), (70, 90), (200, 200)])
def test_nibp_systolic_not_above_diastolic_is_an_artifact(sys_: float, dia: float) -> None:
    state = infused()
    state, events = run([obs("NIBP_SYS", sys_, 10.0), obs("NIBP_DIA", dia, 10.0),
                         obs("NIBP_MEAN", dia, 10.0), 20.0], state)
    assert physio(events) == []
    assert state.artifacts["NIBP"] == 1


def test_nibp_flagged_component_makes_the_reading_an_artifact() -> None:
    state = infused()
    state, events = run([obs("NIBP_SYS", 220, 10.0, Flag.ARTIFACT), obs("NIBP_DIA", 120, 10.0),
                         obs("NIBP_MEAN", 150, 10.0), 20.0], state)
    assert physio(events) == []
    assert state.artifacts["NIBP"] == 1


# ---- heart rate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fires"),
    [(150, True), (149.9, False), (40, True), (40.1, False), (200, True), (20, True),
     (19.9, False), (300, True), (300.1, False)],
)
def test_hr_limit_inclusive_boundaries(value: float, fires: bool) -> None:
    _, events = run([*series("HR", [value] * 11), 20.0])
    got = onsets(events, "HR_LIMIT")
    assert bool(got) is fires
    if fires:
        assert got[0].time == 10.0 and got[0].priority == "high"


@pytest.mark.parametrize(("seconds", "fires"), [(10.0, True), (9.9, False)])
def test_hr_limit_delay(seconds: float, fires: bool) -> None:
    n = int(seconds * 10)
    _, events = run([*[obs("HR", 155, i / 10) for i in range(n)], obs("HR", 90, seconds), 30])
    assert bool(onsets(events, "HR_LIMIT")) is fires


@pytest.mark.parametrize(
    ("hr", "fires"),
    [(96.0, False), (96.1, True), (100.0, True), (95.0, False)],
)
def test_hr_rise_is_strictly_above_1_20_x_baseline(hr: float, fires: bool) -> None:
    state = infused(hr=80)
    _, events = run(series("HR", [hr] * 62, start=1.0), state)
    got = onsets(events, "HR_RISE")
    assert bool(got) is fires
    if fires:
        assert got[0].time == 61.0
        assert (got[0].baseline, got[0].delay) == (80.0, 60.0)
        assert got[0].threshold == pytest.approx(96.0)


@pytest.mark.parametrize("baseline", [125.0, 75.0, 110.0, 85.0])
def test_hr_rise_exact_multiple_does_not_fire_despite_float_rounding(baseline: float) -> None:
    state = infused(hr=baseline)
    _, events = run(series("HR", [baseline * 1.2] * 70, start=1.0), state)
    assert onsets(events, "HR_RISE") == []


def test_hr_rise_needs_60_s() -> None:
    state = infused(hr=80)
    _, events = run([*series("HR", [110] * 59, start=1.0), obs("HR", 90, 59.9), 120.0], state)
    assert onsets(events, "HR_RISE") == []


@pytest.mark.parametrize(
    ("pr", "expected"),
    [(None, "HR_RISE"), (110.0, "HR_RISE"), (100.0, "HR_RISE"), (99.9, "HR_SOURCE_DISAGREE"),
     (60.0, "HR_SOURCE_DISAGREE"), (121.0, "HR_SOURCE_DISAGREE")],
)
def test_hr_rise_needs_pulse_rate_agreement_within_10(pr: float | None, expected: str) -> None:
    state = infused(hr=80)
    seq: list[Observation | float] = []
    for t in range(1, 63):
        seq.append(obs("HR", 110, float(t)))
        if pr is not None:
            seq.append(obs("PR", pr, float(t)))
    _, events = run(seq, state)
    got = onsets(events)
    assert [e.rule for e in got if e.rule in ("HR_RISE", "HR_SOURCE_DISAGREE")] == [expected]
    if expected == "HR_SOURCE_DISAGREE":
        assert got[-1].technical


def test_hr_source_disagree_turns_into_hr_rise_when_sources_agree() -> None:
    state = infused(hr=80)
    seq: list[Observation | float] = []
    for t in range(1, 100):
        seq += [obs("HR", 110, float(t)), obs("PR", 70 if t < 80 else 108, float(t))]
    _, events = run(seq, state)
    flow = [(e.rule, e.event, e.time) for e in events
            if e.rule in ("HR_RISE", "HR_SOURCE_DISAGREE") and e.event in ("onset", "end")]
    assert flow == [("HR_SOURCE_DISAGREE", "onset", 61.0), ("HR_SOURCE_DISAGREE", "end", 80.0),
                    ("HR_RISE", "onset", 80.0)]


def test_hr_rise_ignores_pulse_rate_while_oximeter_sensor_is_off() -> None:
    state = infused(hr=80)
    seq: list[Observation | float] = []
    for t in range(1, 63):
        seq += [obs("HR", 110, float(t)), obs("PR", None, float(t), Flag.SENSOR_OFF)]
    _, events = run(seq, state)
    assert "HR_RISE" in [e.rule for e in onsets(events)]


# ---- blood pressure --------------------------------------------------------------------


def nibp(sys_: float, dia: float, t: float, mean: float | None = None) -> list[Observation]:
    m = mean if mean is not None else round((sys_ + 2 * dia) / 3, 1)
    return [obs("NIBP_SYS", sys_, t), obs("NIBP_DIA", dia, t), obs("NIBP_MEAN", m, t)]


@pytest.mark.parametrize(
    ("sys_", "dia", "expected"),
    [
        (180, 90, ["BP_LIMIT"]), (179, 109, []), (150, 110, ["BP_LIMIT"]),
        (179.9, 109.9, []), (200, 120, ["BP_LIMIT"]),
    ],
)
def test_bp_limit_inclusive_and_without_baseline(sys_: float, dia: float, expected: list[str]
                                                  ) -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    _, events = run(nibp(sys_, dia, 10.0, mean=dia + 10), state)
    assert physio(events) == expected


@pytest.mark.parametrize(
    ("sys_", "mean", "expected"),
    [
        (144, 100, []),                      # 1.20 x 120 exactly, mean 1.07 x
        (144.1, 100, ["BP_RISE"]),           # just above
        (130, 112, []),                      # mean exactly 1.20 x 93.33 = 112
        (130, 112.1, ["BP_RISE"]),           # mean just above
        (156, 100, ["BP_RISE"]),             # 1.30 x exactly: not severe
        (156.1, 100, ["BP_RISE", "BP_RISE_SEVERE"]),
    ],
)
def test_bp_rise_boundaries(sys_: float, mean: float, expected: list[str]) -> None:
    state = infused(sys_=120, dia=80)  # baseline MAP 93.33
    _, events = run(nibp(sys_, 70, 10.0, mean=mean), state)
    assert physio(events) == expected


def test_bp_rise_is_latching_and_confirmed_by_the_next_reading() -> None:
    state = infused(sys_=120, dia=80)
    state, events = run(nibp(150, 85, 60.0), state)
    assert physio(events) == ["BP_RISE"]
    prompt = [e for e in events if e.event == "prompt"]
    assert prompt and "Repeat NIBP" in prompt[0].message
    state, events = run(nibp(150, 85, 300.0), state)
    assert physio(events) == ["BP_RISE_SEVERE"]
    # a normal reading: the severe (non-latching) ends, BP_RISE only condition_end
    state, events = run(nibp(120, 80, 600.0), state)
    kinds = [(e.rule, e.event, e.time) for e in events
             if e.rule in ("BP_RISE", "BP_RISE_SEVERE") and e.event != "escalation"]
    assert kinds == [("BP_RISE", "condition_end", 600.0), ("BP_RISE_SEVERE", "end", 600.0)]
    assert "BP_RISE" in state.alarms


def test_bp_rise_not_confirmed_when_a_normal_reading_comes_between() -> None:
    state = infused(sys_=120, dia=80)
    state, e1 = run(nibp(150, 85, 60.0) + nibp(120, 80, 300.0) + nibp(150, 85, 600.0), state)
    assert "BP_RISE_SEVERE" not in physio(e1)


def test_bp_rise_prompts_a_repeat_reading_within_5_min_else_nibp_overdue() -> None:
    state = infused(sys_=120, dia=80)
    state, events = run([*nibp(150, 85, 60.0), 360.0, 361.0], state)
    overdue = onsets(events, "NIBP_OVERDUE")
    assert [e.time for e in overdue] == [360.0]
    assert "Repeat NIBP" in overdue[0].message


def test_repeat_reading_in_time_avoids_overdue() -> None:
    state = infused(sys_=120, dia=80)
    state, events = run([*nibp(150, 85, 60.0), *nibp(125, 80, 300.0), 1000.0], state)
    assert onsets(events, "NIBP_OVERDUE") == []


def test_nibp_components_without_mean_form_a_reading_after_the_assembly_window() -> None:
    state = infused(sys_=170, dia=80)
    state, events = run([obs("NIBP_SYS", 185, 10.0), obs("NIBP_DIA", 90, 10.0), 12.0], state)
    assert [(e.rule, e.time) for e in onsets(events)] == [("BP_LIMIT", 12.0)]


# ---- no baseline -----------------------------------------------------------------------


def test_no_baseline_runs_absolute_rules_only_and_shows_low_priority_condition() -> None:
    state = infused(hr=None, sys_=None)
    # Nothing measured yet, so no parameter is short of a baseline.
    assert not [a for a in state.alarms.values() if a.rule == "NO_BASELINE"]
    state, events = run([obs("HR", 72, 0.5)], state)
    (nb,) = [a for a in state.alarms.values() if a.rule == "NO_BASELINE"]
    assert (nb.priority, nb.technical) == ("low", True)
    assert ("NO_BASELINE", "onset") in [(e.rule, e.event) for e in events]
    seq = series("HR", [145] * 100, start=1.0) + nibp(170, 100, 50.0) + nibp(175, 100, 300.0)
    _, events = run(seq, state)
    assert physio(events) == []
    _, events = run(series("SPO2", [87] * 12, start=1.0) + nibp(185, 100, 50.0), state)
    assert set(physio(events)) == {"BP_LIMIT", "SPO2_SEVERE", "SPO2_LOW"}


def test_no_baseline_for_bp_only_keeps_hr_rise() -> None:
    state = infused(hr=80, sys_=None)
    state, events = run(series("HR", [110] * 62, start=1.0) + nibp(170, 90, 70.0), state)
    assert physio(events) == ["HR_RISE"]
    # Raised once a BP reading shows there is a parameter without baseline.
    (nb,) = [a for a in state.alarms.values() if a.rule == "NO_BASELINE"]
    assert "BP" in nb.message and "HR" not in nb.message.split(":")[0]
    assert nb.onset >= 70.0


def test_no_baseline_not_raised_for_unmeasured_parameters() -> None:
    # An oximeter-only bed: no ECG, no cuff. No HR or BP rule can run, so "no baseline"
    # would be a false alarm.
    state = infused(hr=None, sys_=None)
    state, events = run(series("SPO2", [97] * 120, start=1.0), state)
    assert not [e for e in events if e.rule == "NO_BASELINE"]


def test_relative_rules_do_not_run_before_the_infusion() -> None:
    _, events = run(series("HR", [140] * 100))
    assert physio(events) == []


# ---- sensor off and devices -----------------------------------------------------------


def test_sensor_off_suppresses_spo2_rules_while_active() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    seq: list[Observation | DeviceStatus | float] = list(series("SPO2", [86] * 12))
    seq += [obs("SPO2", None, 12.0, Flag.SENSOR_OFF)]
    seq += [obs("SPO2", 80, float(t), Flag.NO_SENSOR) for t in range(13, 40)]
    state, events = run(seq, state)
    flow = [(e.rule, e.event, e.time) for e in events if e.event in ("onset", "end")]
    assert ("SPO2_SEVERE", "onset", 10.0) in flow
    assert ("SPO2_SEVERE", "end", 12.0) in flow
    assert ("SENSOR_OFF", "onset", 12.0) in [(r.split("/")[0] if r else r, ev, t)
                                              for r, ev, t in flow]
    assert not [f for f in flow if f[0] and f[0].startswith("SPO2") and f[2] > 12.0]
    # back on: SENSOR_OFF ends, SpO2 rules run again from a fresh timer
    state, events = run(series("SPO2", [90] * 20, start=40.0), state)
    assert [(e.rule, e.event, e.time) for e in events if e.event in ("onset", "end")] == [
        ("SENSOR_OFF", "end", 40.0), ("SPO2_LOW", "onset", 55.0)]


def test_sensor_off_from_device_status() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    state, events = run([obs("SPO2", 97, 1.0),
                         DeviceStatus("ox", DeviceState.SENSOR_OFF, 2.0)], state)
    assert [e.rule for e in onsets(events)] == ["SENSOR_OFF"]
    assert onsets(events)[0].priority == "medium" and onsets(events)[0].technical


def test_sensor_off_on_a_combined_monitor_does_not_flap_with_each_ecg_sample() -> None:
    # A GE S/5 or HL7 monitor sends ECG HR and SpO2 in the same records: with the probe
    # off, each valid HR used to end SENSOR_OFF and the next SpO2 sample raise it again.
    from monitor.alarms.engine import BedState, RuleSet, evaluate, start_monitoring, tick
    from monitor.domain.models import Flag, Observation

    rules = RuleSet.default()
    state, _ = start_monitoring(rules, BedState.new("bed-1"), 1000.0, "nurse")
    log = []
    for i in range(60):
        t = 1001.0 + 5 * i
        state, events = evaluate(rules, state, Observation.of(
            "SPO2", None, t, "ge", {Flag.SENSOR_OFF}))
        log += events
        state, events = evaluate(rules, state, Observation.of("HR", 72, t + 0.1, "ge"))
        log += events
        state, events = tick(rules, state, t + 1)
        log += events
    sensor = [(e.event, e.rule) for e in log if e.rule == "SENSOR_OFF"]
    assert [ev for ev, _ in sensor].count("onset") == 1, sensor
    assert not any(ev in ("end", "condition_end") for ev, _ in sensor), sensor
    state, events = evaluate(rules, state, Observation.of("SPO2", 97, 1400.0, "ge"))
    assert any(e.rule == "SENSOR_OFF" and e.event in ("end", "condition_end") for e in events)
