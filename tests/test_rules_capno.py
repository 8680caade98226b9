"""Capnography rules at their boundaries, in virtual time: APNEA, RR_LOW, ETCO2_HIGH,
ETCO2_LOW and the CO2_LINE technical condition; delays, artifacts, sampling-line problems,
and never an alarm for a bed without capnography."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from monitor.alarms.engine import (
    BedState,
    RuleSet,
    acknowledge,
    start_monitoring,
)
from monitor.domain.models import AlarmEvent, DeviceState, DeviceStatus, Flag, Observation
from tests.test_rules import onsets, run

RULES = RuleSet.default()
CAPNO = "capno"
CAPNO_RULES = {"APNEA", "RR_LOW", "ETCO2_HIGH", "ETCO2_LOW", "CO2_LINE"}


def co2(metric: str, value: float | None, t: float, *flags: str, device: str = CAPNO
        ) -> Observation:
    return Observation.of(metric, value, t, device, frozenset(flags))


def breaths(etco2: float | str | None, rr: float | str | None, start: float, end: float,
            *flags: str, step: float = 1.0, device: str = CAPNO) -> list[Observation]:
    """A capnograph sending EtCO2 and airway rate every ``step`` s in [start, end)."""
    out: list[Observation] = []
    t = start
    while t < end - 1e-9:
        if etco2 != "skip":
            out.append(co2("ETCO2", etco2, t, *flags, device=device))  # type: ignore[arg-type]
        if rr != "skip":
            out.append(co2("AWRR", rr, t, *flags, device=device))  # type: ignore[arg-type]
        t = round(t + step, 6)
    return out


def only(metric: str, values: Sequence[float | None], start: float = 0.0,
         *flags: str) -> list[Observation]:
    return [co2(metric, v, start + i, *flags) for i, v in enumerate(values)]


def monitored(at: float = 0.0, rules: RuleSet = RULES) -> BedState:
    state, _ = start_monitoring(rules, BedState.new("bed1"), at)
    return state


def flow(events: list[AlarmEvent], rule: str) -> list[tuple[str, float]]:
    return [(e.event, e.time) for e in events if e.rule == rule and e.event != "escalation"]


# ---- EtCO2 and respiration rate limits ---------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "metric", "value", "fires"),
    [
        ("ETCO2_HIGH", "ETCO2", 50.1, True), ("ETCO2_HIGH", "ETCO2", 50.0, False),
        ("ETCO2_HIGH", "ETCO2", 75.0, True), ("ETCO2_HIGH", "ETCO2", 38.0, False),
        ("ETCO2_LOW", "ETCO2", 24.9, True), ("ETCO2_LOW", "ETCO2", 25.0, False),
        ("ETCO2_LOW", "ETCO2", 6.0, True), ("ETCO2_LOW", "ETCO2", 38.0, False),
        ("RR_LOW", "AWRR", 7.9, True), ("RR_LOW", "AWRR", 8.0, False),
        ("RR_LOW", "AWRR", 4.0, True), ("RR_LOW", "AWRR", 14.0, False),
    ],
)
def test_capnography_limits_are_strict(rule: str, metric: str, value: float, fires: bool
                                       ) -> None:
    delay = RULES[rule].delay
    _, events = run([*only(metric, [value] * int(delay + 1)), delay + 5])
    got = onsets(events, rule)
    assert bool(got) is fires
    if fires:
        assert (got[0].time, got[0].delay, got[0].priority) == (delay, delay, "medium")
        assert got[0].threshold == RULES[rule].p("threshold")
        assert not got[0].technical


@pytest.mark.parametrize(
    ("rule", "metric", "value", "normal"),
    [("ETCO2_HIGH", "ETCO2", 56.0, 40.0), ("ETCO2_LOW", "ETCO2", 20.0, 38.0),
     ("RR_LOW", "AWRR", 6.0, 12.0)],
)
@pytest.mark.parametrize("short", [0.0, 0.1])
def test_capnography_limits_need_their_full_delay(rule: str, metric: str, value: float,
                                                  normal: float, short: float) -> None:
    # value held [0, delay - short), a normal sample at delay - short
    delay = RULES[rule].delay
    end = delay - short
    seq = [co2(metric, value, float(t)) for t in range(int(end + 0.999)) if t < end]
    _, events = run([*seq, co2(metric, normal, end), delay + 60])
    assert bool(onsets(events, rule)) is (short == 0.0)


def test_etco2_high_ends_on_the_first_normal_sample_and_reannounces_when_worse() -> None:
    seq = only("ETCO2", [55] * 61 + [60, 61, 49])
    _, events = run(seq)
    assert [(e.event, e.time) for e in events if e.rule == "ETCO2_HIGH"] == [
        ("onset", 60.0), ("reannounce", 61.0), ("end", 63.0)]
    # 55 -> 60 is 5 mmHg worse (the default re-announce step), 61 only 1 more
    assert [e.value for e in events if e.event == "reannounce"] == [60.0]


def test_rr_low_reannounces_two_breaths_slower() -> None:
    _, events = run(only("AWRR", [7] * 31 + [6, 5, 9]))
    assert [(e.event, e.time, e.value) for e in events if e.rule == "RR_LOW"] == [
        ("onset", 30.0, 7.0), ("reannounce", 32.0, 5.0), ("end", 33.0, 9.0)]


# ---- APNEA -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("etco2", "rr", "fires"),
    [
        (0.0, 0.0, True),      # no breath: rate 0
        (35.0, 0.0, True),     # a valid rate of 0 even with the last breath's EtCO2 held
        (0.0, 1.0, False),     # one breath a minute is a breath (RR_LOW's business)
        (4.9, "skip", True),   # no rate: EtCO2 below the 5 mmHg floor
        (5.0, "skip", False),  # at the floor: a breath
        (2.0, 12.0, False),    # a rate: breathing (low EtCO2 is ETCO2_LOW: line or mouth)
        ("skip", 0.0, True),   # rate only
    ],
)
def test_apnea_is_no_breath_by_rate_or_etco2_floor(etco2: object, rr: object, fires: bool
                                                    ) -> None:
    _, events = run([*breaths(etco2, rr, 0.0, 25.0), 30.0])  # type: ignore[arg-type]
    got = onsets(events, "APNEA")
    assert bool(got) is fires
    if fires:
        assert (got[0].time, got[0].priority, got[0].delay) == (20.0, "high", 20.0)
        assert not got[0].technical


@pytest.mark.parametrize(("seconds", "fires"), [(20.0, True), (19.9, False), (19.0, False)])
def test_apnea_needs_20_s_without_a_breath(seconds: float, fires: bool) -> None:
    n = int(seconds * 10)
    apnea = [co2("AWRR", 0, i / 10) for i in range(n)]
    _, events = run([*apnea, co2("AWRR", 12, seconds), 60.0])
    assert bool(onsets(events, "APNEA")) is fires


def test_apnea_onset_exact_between_sparse_samples() -> None:
    # a capnograph that updates every 4 s: the onset is still at 20.0 s of data time
    _, events = run([co2("AWRR", 0, float(t)) for t in range(0, 40, 4)])
    assert [e.time for e in onsets(events, "APNEA")] == [20.0]


def test_apnea_from_the_capnograph_itself_fires_at_once_or_after_device_delay() -> None:
    seq = [*breaths(38, 12, 0.0, 5.0), *breaths(38, 12, 5.0, 30.0, Flag.APNEA)]
    _, events = run(seq)
    (onset,) = onsets(events, "APNEA")
    assert (onset.time, onset.delay) == (5.0, 0.0)
    assert "capnograph reports apnea" in onset.message
    slower = RuleSet.from_mapping({"rules": {"APNEA": {"device_delay": 10}}})
    _, events = run(seq, rules=slower)
    assert [e.time for e in onsets(events, "APNEA")] == [15.0]


def test_apnea_latches_until_acknowledged_after_breathing_resumes() -> None:
    state, events = run([*breaths(0, 0, 0.0, 30.0), *breaths(36, 14, 30.0, 40.0)])
    assert flow(events, "APNEA") == [("onset", 20.0), ("condition_end", 30.0)]
    assert state.alarms["APNEA"].condition_active is False
    state, events = acknowledge(RULES, state, "APNEA", "nurse", 41.0)
    assert flow(events, "APNEA") == [("acknowledged", 41.0), ("end", 41.0)]
    assert "APNEA" not in state.alarms


def test_apnea_coming_back_before_acknowledge_is_announced_again() -> None:
    seq = [*breaths(0, 0, 0.0, 25.0), *breaths(36, 14, 25.0, 30.0), *breaths(0, 0, 30.0, 55.0)]
    _, events = run(seq)
    assert [(e.event, e.time) for e in events if e.rule == "APNEA"
            and e.event in ("onset", "condition_end", "reannounce")] == [
        ("onset", 20.0), ("condition_end", 25.0), ("reannounce", 50.0)]


def test_apnea_escalates_after_30_s_unacknowledged() -> None:
    _, events = run(breaths(0, 0, 0.0, 60.0))
    esc = [e for e in events if e.rule == "APNEA" and e.event == "escalation"]
    assert [(e.time, e.target) for e in esc] == [(50.0, "charge_nurse")]


def test_rate_lost_then_etco2_decides() -> None:
    # rate 0 for 10 s, then the rate goes invalid but EtCO2 (0) still says no breath:
    # the apnea time keeps counting from the EtCO2, so the onset stays at 20 s.
    seq = [*breaths(0, 0, 0.0, 10.0), *breaths(0, None, 10.0, 30.0)]
    _, events = run(seq)
    assert [e.time for e in onsets(events, "APNEA")] == [20.0]


# ---- artifacts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "flags"),
    [(None, ()), (0.0, (Flag.INVALID,)), (0.0, (Flag.ARTIFACT,)), (151.0, ()), (-1.0, ()),
     (float("nan"), ()), (0.0, (Flag.STALE,))],
)
def test_capnography_artifacts_never_alarm_and_are_counted(value: float | None,
                                                          flags: tuple[str, ...]) -> None:
    state, events = run([*breaths(value, value, 0.0, 120.0, *flags), 200.0])
    assert [e.rule for e in onsets(events) if e.rule in CAPNO_RULES - {"CO2_LINE"}] == []
    assert state.artifacts["ETCO2"] == 120 and state.artifacts["AWRR"] == 120


def test_artifact_pauses_the_apnea_timer_without_advancing_or_resetting_it() -> None:
    # 10 s no breath, 5 s of artifacts (not counted), no breath again: 10 s more needed
    seq = only("AWRR", [0] * 10)
    seq += only("AWRR", [0] * 5, 10.0, Flag.ARTIFACT)
    seq += only("AWRR", [0] * 15, 15.0)
    _, events = run(seq)
    assert [e.time for e in onsets(events, "APNEA")] == [25.0]


def test_artifact_gap_longer_than_artifact_gap_restarts_the_apnea_timer() -> None:
    seq = only("AWRR", [0] * 10) + only("AWRR", [None] * 12, 10.0) + only("AWRR", [0] * 25, 22.0)
    _, events = run(seq)
    assert [e.time for e in onsets(events, "APNEA")] == [42.0]


def test_a_single_zero_rate_holds_only_hold_max() -> None:
    _, events = run([co2("AWRR", 0, 0.0), 100.0])
    assert onsets(events, "APNEA") == []


def test_artifacts_do_not_end_an_active_apnea() -> None:
    _, events = run([*breaths(0, 0, 0.0, 21.0), *breaths(40, 15, 21.0, 40.0, Flag.ARTIFACT)])
    assert flow(events, "APNEA") == [("onset", 20.0)]


# ---- the sampling line (CO2_LINE) ----------------------------------------------------------


def test_blocked_sampling_line_is_a_technical_condition_not_apnea() -> None:
    state = monitored()
    seq = [*breaths(38, 14, 0.0, 10.0),
           *breaths(None, None, 10.0, 60.0, Flag.SENSOR_DISCONNECT, Flag.INVALID)]
    state, events = run(seq, state)
    (line,) = onsets(events, "CO2_LINE")
    assert (line.time, line.priority, line.technical) == (10.0, "medium", True)
    assert "sampling line" in line.message
    assert onsets(events, "APNEA") == [] and onsets(events, "SENSOR_OFF") == []
    # the first valid sample ends it; the rules start again from zero
    state, events = run(breaths(0, 0, 60.0, 90.0), state)
    assert flow(events, "CO2_LINE") == [("end", 60.0)]
    assert [e.time for e in onsets(events, "APNEA")] == [80.0]


def test_line_problem_ends_the_limit_rules_but_never_an_apnea() -> None:
    state = monitored()
    seq = sorted(only("ETCO2", [58] * 61) + only("AWRR", [0] * 21, 40.0), key=lambda o: o.time)
    state, events = run(seq, state)
    assert {e.rule for e in onsets(events)} >= {"ETCO2_HIGH", "APNEA"}
    state, events = run([co2("ETCO2", None, 62.0, Flag.SENSOR_OFF)], state)
    ended = [(e.rule, e.reason) for e in events if e.event == "end"]
    assert ("ETCO2_HIGH", "capnography rules suppressed: sampling line problem") in ended
    assert "APNEA" in state.alarms and state.alarms["APNEA"].condition_active


def test_capnography_line_never_touches_the_oximeter_on_the_same_monitor() -> None:
    # A GE S/5 or HL7 monitor: SpO2 and CO2 from one device.
    state = monitored()
    seq: list[Observation | DeviceStatus | float] = []
    for t in range(0, 30):
        seq += [Observation.of("SPO2", 86, float(t), "monitor"),
                co2("ETCO2", None, float(t), Flag.SENSOR_DISCONNECT, device="monitor")]
    seq.insert(0, co2("ETCO2", 38, 0.0, device="monitor"))
    state, events = run(seq, state)
    assert {"SPO2_LOW", "SPO2_SEVERE", "CO2_LINE"} <= {e.rule for e in onsets(events)}
    # ...and a valid EtCO2 does not end the oximeter's sensor-off
    state, events = run([Observation.of("SPO2", None, 30.0, "monitor", {Flag.SENSOR_OFF}),
                         co2("ETCO2", 38, 31.0, device="monitor"), 32.0], state)
    assert [e.rule.split("/")[0] for e in onsets(events) if e.rule] == ["SENSOR_OFF"]
    assert not [e for e in events if e.rule == "SENSOR_OFF" and e.event == "end"]


@pytest.mark.parametrize(("gap", "fires"), [(30.0, True), (29.9, False), (29.0, False)])
def test_no_valid_capnography_for_30_s_raises_co2_line(gap: float, fires: bool) -> None:
    # the last valid sample at 4 s, then invalid ones until the next valid one at 4 + gap
    state = monitored()
    seq = [*breaths(38, 14, 0.0, 5.0), *breaths(None, None, 5.0, 4.0 + gap)]
    seq += breaths(38, 14, 4.0 + gap, 5.0 + gap)
    state, events = run(seq, state)
    got = onsets(events, "CO2_LINE")
    assert bool(got) is fires
    if fires:
        assert got[0].time == 4.0 + 30.0
        assert "No valid capnography" in got[0].message
        assert flow(events, "CO2_LINE") == [("onset", 34.0), ("end", 34.0)]


def test_silent_capnograph_is_device_lost_not_co2_line() -> None:
    state = monitored()
    state, events = run([*breaths(38, 14, 0.0, 5.0), 100.0], state)
    assert [e.rule.split("/")[0] for e in onsets(events) if e.rule] == ["DEVICE_LOST"]
    state, events = run([DeviceStatus(CAPNO, DeviceState.CONNECTED, 101.0),
                         *breaths(38, 14, 101.0, 140.0)], state)
    assert onsets(events, "CO2_LINE") == []


# ---- beds without capnography --------------------------------------------------------------


def test_no_capnography_rule_ever_runs_on_a_bed_without_capnography() -> None:
    state = monitored()
    seq: list[Observation | DeviceStatus | float] = []
    for t in range(0, 1800, 5):
        seq += [Observation.of("SPO2", 97, float(t), "monitor"),
                Observation.of("HR", 70, float(t), "monitor")]
        # a gas module that is in the rack but has never measured: line flags, no values
        seq += [co2("ETCO2", None, float(t), Flag.SENSOR_DISCONNECT, device="monitor")]
    _, events = run([*seq, 1800.0], state)
    assert not [e for e in events if e.rule in CAPNO_RULES]


def test_disabled_capnography_rules_never_fire() -> None:
    rules = RuleSet.from_mapping({"rules": {r: {"enabled": False} for r in CAPNO_RULES}})
    state = monitored(rules=rules)
    seq = [*breaths(60, 0, 0.0, 100.0), *breaths(None, None, 100.0, 200.0, Flag.SENSOR_OFF)]
    _, events = run(seq, state, rules=rules)
    assert not [e for e in events if e.rule in CAPNO_RULES]


def test_per_patient_limits_move_the_boundaries() -> None:
    patient = RULES.with_overrides({"rules": {"RR_LOW": {"threshold": 6, "delay": 10},
                                              "APNEA": {"delay": 30}}})
    _, events = run(only("AWRR", [7] * 40), rules=patient)
    assert onsets(events, "RR_LOW") == []
    _, events = run(only("AWRR", [5] * 40), rules=patient)
    assert [e.time for e in onsets(events, "RR_LOW")] == [10.0]
    _, events = run(only("AWRR", [0] * 40), rules=patient)
    assert [e.time for e in onsets(events, "APNEA")] == [30.0]


def test_capnography_state_survives_a_snapshot() -> None:
    from monitor.alarms import snapshot

    state = monitored()
    state, _ = run([*breaths(38, 14, 0.0, 5.0, Flag.APNEA),
                    *breaths(None, None, 5.0, 8.0, Flag.SENSOR_DISCONNECT)], state)
    assert state.capno_off and "CO2_APNEA" in state.tracks
    assert snapshot.load(BedState, snapshot.dump(state)) == state
    # a snapshot from before capnography (no capno fields) still loads
    old = snapshot.dump(BedState.new("bed1"))
    del old["capno_off"], old["capno_watch_from"]
    assert snapshot.load(BedState, old) == BedState.new("bed1")
