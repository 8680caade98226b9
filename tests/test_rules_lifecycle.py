"""Alarm lifecycle in virtual time: escalation, acknowledge, audio pause, re-announce,
latching, watchdogs (NIBP_OVERDUE, DEVICE_LOST), re-baseline, and the engine's purity."""

from __future__ import annotations

import copy
import time

import pytest

from monitor.alarms.baseline import manual_bp_baseline, manual_hr_baseline
from monitor.alarms.engine import (
    BedState,
    RuleSet,
    acknowledge,
    evaluate,
    next_deadline,
    pause_audio,
    rebaseline,
    start_infusion,
    start_monitoring,
    stop_monitoring,
    tick,
)
from monitor.domain.models import DeviceState, DeviceStatus, Observation
from tests.test_rules import infused, nibp, obs, onsets, run, series

RULES = RuleSet.default()


def flow(events, rule=None):  # noqa: ANN001, ANN201
    return [(e.rule, e.event, e.time) for e in events if rule is None or e.rule == rule]


@pytest.mark.parametrize(
    ("metric", "value", "rule", "onset_t", "escalate_after"),
    [("SPO2", 90, "SPO2_LOW", 15.0, 60.0), ("SPO2", 84, "SPO2_SEVERE", 5.0, 30.0),
     ("HR", 160, "HR_LIMIT", 10.0, 30.0)],
)
def test_unacknowledged_alarm_escalates_to_charge_nurse(
    metric: str, value: float, rule: str, onset_t: float, escalate_after: float
) -> None:
    _, events = run(series(metric, [value] * 200))
    esc = [e for e in events if e.rule == rule and e.event == "escalation"]
    assert len(esc) == 1
    assert esc[0].time == onset_t + escalate_after
    assert esc[0].target == "charge_nurse"


@pytest.mark.parametrize(("ack_at", "escalates"), [(74.0, False), (74.9, False), (75.0, True)])
def test_acknowledge_before_escalation_stops_it(ack_at: float, escalates: bool) -> None:
    # onset at 15 s, medium: escalation due at 75 s (an ack at exactly 75 s is too late)
    state, e1 = run(series("SPO2", [90] * 74))
    state, e2 = acknowledge(RULES, state, "SPO2_LOW", "nurse.a", ack_at)
    state, e3 = run(series("SPO2", [90] * 100, start=ack_at + 1), state)
    events = e1 + e2 + e3
    assert bool([e for e in events if e.event == "escalation"]) is escalates
    (ack,) = [e for e in events if e.event == "acknowledged"]
    assert (ack.user, ack.time) == ("nurse.a", ack_at)


def test_acknowledged_non_latching_alarm_ends_when_condition_ends() -> None:
    state, e1 = run(series("SPO2", [90] * 20))
    state, e2 = acknowledge(RULES, state, "SPO2_LOW", "nurse", 20.0)
    state, e3 = run(series("SPO2", [90] * 100, start=20.0) + [obs("SPO2", 97, 120.0)], state)
    events = e1 + e2 + e3
    assert flow(events, "SPO2_LOW") == [("SPO2_LOW", "onset", 15.0),
                                        ("SPO2_LOW", "acknowledged", 20.0),
                                        ("SPO2_LOW", "end", 120.0)]
    assert "SPO2_LOW" not in state.alarms


def test_latched_alarm_stays_until_acknowledged() -> None:
    state = infused(sys_=120, dia=80)
    state, e1 = run(nibp(150, 85, 10.0) + nibp(120, 80, 200.0), state)
    assert [(r, e) for r, e, _ in flow(e1, "BP_RISE") if e != "prompt"] == [
        ("BP_RISE", "onset"), ("BP_RISE", "escalation"), ("BP_RISE", "condition_end")]
    assert state.alarms["BP_RISE"].condition_active is False
    state, e2 = acknowledge(RULES, state, "BP_RISE", "nurse.b", 300.0, reason="seen")
    assert flow(e2) == [("BP_RISE", "acknowledged", 300.0), ("BP_RISE", "end", 300.0)]
    assert e2[0].user == "nurse.b" and e2[0].reason == "seen"
    assert "BP_RISE" not in state.alarms


def test_latched_alarm_acknowledged_first_ends_with_its_condition() -> None:
    state = infused(sys_=120, dia=80)
    state, _ = run(nibp(150, 85, 10.0), state)
    state, _ = acknowledge(RULES, state, "BP_RISE", "nurse", 20.0)
    state, events = run(nibp(120, 80, 200.0), state)
    assert flow(events, "BP_RISE") == [("BP_RISE", "end", 200.0)]


def test_latched_condition_returning_reannounces() -> None:
    state = infused(sys_=120, dia=80)
    state, events = run(nibp(150, 85, 10.0) + nibp(120, 80, 200.0) + nibp(150, 85, 400.0),
                        state)
    re = [e for e in events if e.rule == "BP_RISE" and e.event == "reannounce"]
    assert [e.time for e in re] == [400.0] and re[0].reason == "condition present again"


@pytest.mark.parametrize(("second", "reannounces"), [(88.0, True), (87.0, True), (88.1, False)])
def test_reannounce_when_spo2_worsens_by_3_points(second: float, reannounces: bool) -> None:
    state, _ = run(series("SPO2", [91] * 16))
    state, _ = acknowledge(RULES, state, "SPO2_LOW", "nurse", 16.0)
    state, events = run(series("SPO2", [second] * 3, start=16.0), state)
    re = [e for e in events if e.event == "reannounce" and e.rule == "SPO2_LOW"]
    assert bool(re) is reannounces
    if reannounces:
        assert not state.alarms["SPO2_LOW"].acknowledged  # audible again
        assert state.alarms["SPO2_LOW"].worst == second


@pytest.mark.parametrize(("second", "reannounces"), [(176.0, True), (175.0, False)])
def test_reannounce_when_hr_worsens_by_10_percent(second: float, reannounces: bool) -> None:
    state, _ = run(series("HR", [160] * 11))
    state, events = run(series("HR", [second] * 2, start=11.0), state)
    assert bool([e for e in events if e.event == "reannounce"]) is reannounces


def test_reannounce_restarts_escalation_after_acknowledge() -> None:
    state, _ = run(series("SPO2", [91] * 16))
    state, _ = acknowledge(RULES, state, "SPO2_LOW", "nurse", 16.0)
    state, events = run(series("SPO2", [87] * 100, start=20.0), state)
    esc = [e for e in events if e.rule == "SPO2_LOW" and e.event == "escalation"]
    assert [e.time for e in esc] == [80.0]  # re-announced at 20 s, medium: +60 s


def test_audio_pause_is_per_bed_default_120_s_and_expires() -> None:
    state, _ = run(series("SPO2", [90] * 20))
    assert state.audible()
    state, events = pause_audio(RULES, state, "nurse", 20.0)
    assert events[0].event == "audio_paused" and events[0].delay == 120
    assert state.audible() == []
    state, events = tick(RULES, state, 140.0)
    assert [(e.event, e.time) for e in events if e.rule is None] == [("audio_resumed", 140.0)]
    assert state.audible()


def test_audio_pause_does_not_stop_escalation() -> None:
    state, _ = run(series("SPO2", [90] * 20))
    state, _ = pause_audio(RULES, state, "nurse", 20.0)
    state, events = tick(RULES, state, 100.0)
    assert [e.time for e in events if e.event == "escalation"] == [75.0]


@pytest.mark.parametrize("seconds", [59.0, 181.0, -1.0])
def test_audio_pause_out_of_range_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="audio pause"):
        pause_audio(RULES, BedState.new("b"), "nurse", 0.0, seconds)


def test_new_high_priority_alarm_ends_the_audio_pause() -> None:
    state, _ = run(series("SPO2", [92] * 20))
    state, _ = pause_audio(RULES, state, "nurse", 20.0)
    state, events = run(series("SPO2", [84] * 10, start=20.0), state)
    assert ("audio_resumed", 25.0) in [(e.event, e.time) for e in events]


def test_acknowledge_requires_a_user_and_a_known_target() -> None:
    state, _ = run(series("SPO2", [90] * 20))
    with pytest.raises(ValueError):
        acknowledge(RULES, state, "SPO2_LOW", " ", 20.0)
    with pytest.raises(ValueError, match="neither"):
        acknowledge(RULES, state, "SPO2_LO", "nurse", 20.0)
    alarm_id = state.alarms["SPO2_LOW"].alarm_id
    _, events = acknowledge(RULES, state, alarm_id, "nurse", 20.0)
    assert [e.alarm_id for e in events] == [alarm_id]
    _, events = acknowledge(RULES, state, "HR_LIMIT", "nurse", 20.0)
    assert events == []


# ---- watchdogs -------------------------------------------------------------------------


@pytest.mark.parametrize(("reading_at", "overdue_at"), [(None, 1200.0), (600.0, 1800.0)])
def test_nibp_overdue_at_20_min(reading_at: float | None, overdue_at: float) -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    seq: list = nibp(120, 80, reading_at) if reading_at is not None else []
    state, events = run([*seq, overdue_at - 0.1], state)
    assert onsets(events, "NIBP_OVERDUE") == []
    state, events = run([overdue_at + 100], state)
    (onset,) = onsets(events, "NIBP_OVERDUE")
    assert (onset.time, onset.priority, onset.technical) == (overdue_at, "medium", True)
    state, events = run(nibp(120, 80, overdue_at + 200), state)
    assert flow(events, "NIBP_OVERDUE")[-1] == ("NIBP_OVERDUE", "end", overdue_at + 200)


def test_nibp_overdue_only_while_monitoring() -> None:
    _, events = run([5000.0])
    assert events == []


def test_device_lost_on_no_data_for_10_s_then_high_after_60_s() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    state, events = run([*series("SPO2", [97] * 5), 9.0, 13.9], state)
    assert onsets(events, "DEVICE_LOST") == []
    state, events = run([200.0], state)
    lost = [(e.event, e.priority, e.time) for e in events if e.rule == "DEVICE_LOST"]
    assert lost == [("onset", "medium", 14.0), ("priority_change", "high", 74.0),
                    ("escalation", "high", 74.0)]
    state, events = run([obs("SPO2", 97, 201.0)], state)
    assert [(e.event, e.time) for e in events if e.rule == "DEVICE_LOST"] == [("end", 201.0)]


def test_device_lost_acknowledged_is_reannounced_when_it_becomes_high() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    state, _ = run([obs("HR", 70, 0.0), 20.0], state)
    state, _ = acknowledge(RULES, state, "DEVICE_LOST", "nurse", 20.0)
    state, events = run([200.0], state)
    lost = [(e.event, e.priority, e.time) for e in events if e.rule == "DEVICE_LOST"]
    assert lost == [("priority_change", "high", 70.0), ("escalation", "high", 100.0)]


def test_device_lost_on_disconnect_status_immediately() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    state, events = run([obs("HR", 70, 1.0), DeviceStatus("ecg", DeviceState.DISCONNECTED, 3.0),
                         DeviceStatus("ecg", DeviceState.CONNECTED, 5.0), 14.9], state)
    assert [(e.event, e.time) for e in events if e.rule == "DEVICE_LOST"] == [
        ("onset", 3.0), ("end", 5.0)]
    state, events = run([16.0], state)
    assert [e.time for e in onsets(events, "DEVICE_LOST")] == [15.0]


def test_nibp_only_device_is_not_watched_for_data_gaps() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    _, events = run([*nibp(120, 80, 1.0), 900.0], state)
    assert onsets(events, "DEVICE_LOST") == []


# ---- baselines in the engine --------------------------------------------------------------


def test_start_infusion_computes_and_freezes_baselines_with_provenance() -> None:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    seq: list = [obs("HR", 70 + (t % 3), float(t)) for t in range(0, 600)]
    seq += nibp(130, 80, 100.0) + nibp(126, 78, 400.0)
    state, _ = run(seq, state)
    state, events = start_infusion(RULES, state, 600.0, "nurse.c")
    assert state.hr_baseline and state.hr_baseline.hr == 71
    assert state.hr_baseline.confirmed_by == "nurse.c" and state.hr_baseline.confirmed_at == 600
    assert state.bp_baseline and state.bp_baseline.systolic == 128
    assert [e.event for e in events] == ["infusion_start", "baseline", "baseline"]
    assert state.hr_history == () and state.bp_history == ()
    # frozen: later pre-infusion-like data does not move it
    state, _ = run(series("HR", [100] * 400, start=601.0), state)
    assert state.hr_baseline.hr == 71
    with pytest.raises(ValueError, match="already"):
        start_infusion(RULES, state, 2000.0, "nurse.c")


def test_rebaseline_needs_a_reason_and_is_audited() -> None:
    state = infused(hr=80)
    with pytest.raises(ValueError, match="reason"):
        rebaseline(RULES, state, 10.0, "nurse", "", hr=manual_hr_baseline(90, 10.0))
    state, events = rebaseline(RULES, state, 10.0, "nurse.d", "anxious at start",
                               hr=manual_hr_baseline(95, 10.0))
    (ev,) = events
    assert (ev.event, ev.user, ev.reason, ev.value, ev.baseline) == (
        "rebaseline", "nurse.d", "anxious at start", 95, 80)
    assert state.hr_baseline and state.hr_baseline.confirmed_by == "nurse.d"
    _, events = run(series("HR", [110] * 70, start=11.0), state)
    assert onsets(events, "HR_RISE") == []  # 110 < 1.2 x 95 = 114


def test_rebaseline_ends_no_baseline() -> None:
    state = infused(hr=None, sys_=None)
    state, _ = run([obs("HR", 72, 5.0)], state)
    assert "NO_BASELINE" in {a.rule for a in state.alarms.values()}
    state, events = rebaseline(RULES, state, 10.0, "nurse", "clinic values",
                               hr=manual_hr_baseline(70, 10.0),
                               bp=manual_bp_baseline(130, 85, 10.0))
    assert ("NO_BASELINE", "end", 10.0) in flow(events)


def test_stop_monitoring_ends_every_alarm() -> None:
    state, _ = run(series("SPO2", [90] * 20))
    state, events = stop_monitoring(RULES, state, 30.0, "nurse")
    assert ("SPO2_LOW", "end", 30.0) in flow(events)
    assert state.alarms == {}


# ---- purity ------------------------------------------------------------------------------


def scenario() -> list:
    seq: list = [obs("HR", 72, float(t)) for t in range(0, 300)]
    seq += nibp(120, 80, 10.0) + nibp(118, 78, 250.0)
    seq.sort(key=lambda o: o.time)
    seq += series("SPO2", [97] * 30 + [90] * 30 + [84] * 20 + [97] * 10, start=300.0)
    seq += series("HR", [100] * 90, start=300.0)
    seq += [DeviceStatus("ox", DeviceState.DISCONNECTED, 400.0), 600.0]
    return seq


def replay_scenario() -> list[dict]:
    state, _ = start_monitoring(RULES, BedState.new("bed1"), 0.0)
    inputs = scenario()
    head = [i for i in inputs if not isinstance(i, float) and i.time < 300]
    tail = [i for i in inputs if i not in head]
    state, e0 = run(head, state)
    state, e1 = start_infusion(RULES, state, 300.0, "nurse")
    state, e2 = run(tail, state)
    return [e.to_dict() for e in e0 + e1 + e2]


def test_engine_is_deterministic() -> None:
    first = replay_scenario()
    assert first and first == replay_scenario()


def test_engine_never_reads_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = replay_scenario()

    def boom(*_: object) -> float:
        raise AssertionError("the engine read the clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns", "monotonic_ns"):
        monkeypatch.setattr(time, name, boom)
    assert replay_scenario() == expected


def test_engine_never_modifies_its_input_state() -> None:
    state, _ = run(series("SPO2", [90] * 20))
    before = copy.deepcopy(state)
    evaluate(RULES, state, obs("SPO2", 80, 21.0))
    tick(RULES, state, 500.0)
    acknowledge(RULES, state, "SPO2_LOW", "n", 21.0)
    pause_audio(RULES, state, "n", 21.0)
    assert state == before


def test_deadline_ticks_and_per_second_ticks_give_the_same_events() -> None:
    inputs = [i for i in scenario() if not isinstance(i, float)]

    def drive(per_second: bool) -> list[dict]:
        state, events = start_monitoring(RULES, BedState.new("bed1"), 0.0)
        for item in inputs:
            if per_second:
                t = (state.now or 0.0) + 1.0
                while t < item.time:
                    state, new = tick(RULES, state, t)
                    events += new
                    t += 1.0
            else:
                while (due := next_deadline(RULES, state)) is not None and due < item.time:
                    state, new = tick(RULES, state, due)
                    events += new
            if isinstance(item, Observation):
                state, new = evaluate(RULES, state, item)
            else:
                state, new = run([item], state)
            events += new
        state, new = tick(RULES, state, 700.0)
        return [e.to_dict() for e in events + new]

    assert drive(True) == drive(False)
