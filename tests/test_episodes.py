"""Episodes by the study's definitions, in virtual time: limits, holds, artifacts, sources."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.alarms.baseline import artifact_reason, group_bp_readings
from monitor.domain.models import Flag, Observation
from monitor.records.episodes import (
    EPISODE_KINDS,
    Episode,
    EpisodeRules,
    compute_episodes,
    summarise,
)

T0 = 1_700_000_000.0
"""The infusion start; every time below is seconds after it."""

DEVICE = {"SPO2": "oxi", "PR": "oxi", "HR": "ecg", "NIBP_SYS": "nibp", "NIBP_DIA": "nibp",
          "NIBP_MEAN": "nibp"}


def ob(metric: str, t: float, value: float | None, *flags: str) -> Observation:
    return Observation.of(metric, value, T0 + t, DEVICE[metric], frozenset(flags))


def run(metric: str, t: float, values: list[float | None], *flags: str) -> list[Observation]:
    """One sample a second from ``t``."""
    return [ob(metric, t + i, v, *flags) for i, v in enumerate(values)]


def nibp(t: float, sys_: float, dia: float, mean: float | None = None) -> list[Observation]:
    parts = [ob("NIBP_SYS", t, sys_), ob("NIBP_DIA", t + 0.2, dia)]
    return parts + ([ob("NIBP_MEAN", t + 0.4, mean)] if mean is not None else [])


def episodes(observations: list[Observation], *, hr: float | None = 100.0,
             sys_: float | None = 120.0, end: float | None = 3600.0,
             **rules: Any) -> list[tuple[str, float, float, float, int]]:
    found = compute_episodes(observations, hr_baseline=hr, sys_baseline=sys_, start=T0,
                             end=None if end is None else T0 + end,
                             rules=EpisodeRules(**rules))
    return [(e.kind, e.start - T0, e.end - T0, e.worst, e.samples) for e in found]


DIP = run("SPO2", 0, [95] * 10 + [90] * 10 + [95] * 10)
SENSOR_OFF_SET = (Flag.SENSOR_OFF, Flag.NO_SENSOR, Flag.SENSOR_DISCONNECT, Flag.DEFECTIVE_SENSOR)

CASES: list[tuple[str, list[Observation], dict[str, Any], list[Any]]] = [
    ("10-s dip to 90 %: one episode of 10 s", DIP, {},
     [("desaturation", 10, 20, 90, 10)]),
    ("SpO2 93.0 is not below 93", run("SPO2", 0, [95, 93.0, 93.0, 95]), {}, []),
    ("SpO2 92.9 is", run("SPO2", 0, [95, 92.9, 95]), {}, [("desaturation", 1, 2, 92.9, 1)]),
    ("worst is the lowest", run("SPO2", 0, [92, 88, 91, 95]), {},
     [("desaturation", 0, 3, 88, 3)]),
    ("HR exactly 1.20 x baseline is not", run("HR", 0, [120.0] * 5 + [100]), {}, []),
    ("HR 1.2001 x baseline is", run("HR", 0, [100, 120.01, 100]), {},
     [("tachycardia", 1, 2, 120.01, 1)]),
    ("1.2 x 125 = 150.00000000000003: HR 150 is not above", run("HR", 0, [150.0] * 3),
     {"hr": 125.0}, []),
    ("HR given as 1.2 x 125 is not above either", run("HR", 0, [1.2 * 125] * 3),
     {"hr": 125.0}, []),
    ("1.2 x 72 = 86.39999999999999: HR 86.4 is not above", run("HR", 0, [86.4] * 3),
     {"hr": 72.0}, []),
    ("HR 150.1 over a baseline of 125 is", run("HR", 0, [150.1, 151, 125]), {"hr": 125.0},
     [("tachycardia", 0, 2, 151, 2)]),
    ("a custom factor", run("HR", 0, [112, 111, 100]), {"hr_factor": 1.1},
     [("tachycardia", 0, 2, 112, 2)]),
    ("a valid sample within the limit ends an episode",
     run("SPO2", 0, [90, 90, 96, 90, 96]), {},
     [("desaturation", 0, 2, 90, 2), ("desaturation", 3, 4, 90, 1)]),
    ("a gap longer than max_hold ends an episode max_hold after its last sample",
     run("SPO2", 0, [90] * 5) + run("SPO2", 20, [91, 91, 95]), {},
     [("desaturation", 0, 14, 90, 5), ("desaturation", 20, 22, 91, 2)]),
    ("a gap of exactly max_hold does not",
     [ob("SPO2", 0, 90), ob("SPO2", 10, 90), ob("SPO2", 11, 95)], {},
     [("desaturation", 0, 11, 90, 2)]),
    ("max_hold is a rule", run("SPO2", 0, [90]) + run("SPO2", 5, [90, 95]),
     {"max_hold_s": 3.0}, [("desaturation", 0, 3, 90, 1), ("desaturation", 5, 6, 90, 1)]),
    ("a probe off longer than max_hold ends the episode max_hold after the last low sample",
     run("SPO2", 0, [90]) + run("SPO2", 1, [0] * 30, Flag.SENSOR_OFF) + [ob("SPO2", 31, 95)],
     {}, [("desaturation", 0, 10, 90, 1)]),
    ("an artifact never starts one", [ob("SPO2", 5, 80, Flag.MOTION), ob("SPO2", 6, 97)], {},
     []),
    ("an artifact within the limit never ends one",
     [ob("SPO2", 0, 90), ob("SPO2", 1, 98, Flag.ARTIFACT), ob("SPO2", 2, 90),
      ob("SPO2", 3, 96)], {}, [("desaturation", 0, 3, 90, 2)]),
    ("an implausible value is an artifact", run("HR", 0, [100, 400, 100]), {}, []),
    ("samples before the infusion start are ignored",
     run("SPO2", -10, [85] * 10 + [95]) + run("HR", -10, [180] * 10 + [100]), {}, []),
    ("a low run across the start counts from the start",
     run("SPO2", -5, [88] * 8 + [95]), {}, [("desaturation", 0, 3, 88, 3)]),
    ("the infusion end cuts an episode, later samples are ignored",
     run("SPO2", 0, [90] * 10) + run("SPO2", 3600, [80] * 5), {"end": 5.0},
     [("desaturation", 0, 5, 90, 5)]),
    ("end None: until the last observation",
     run("SPO2", 0, [95] * 5 + [90] * 3), {"end": None}, [("desaturation", 5, 7, 90, 3)]),
    ("end None: the last observation of any metric",
     run("SPO2", 0, [95] * 5 + [90] * 3) + [ob("HR", 9, 100)], {"end": None},
     [("desaturation", 5, 9, 90, 3)]),
    ("end None: never past max_hold",
     run("SPO2", 0, [90]) + [ob("HR", 60, 100)], {"end": None},
     [("desaturation", 0, 10, 90, 1)]),
    ("PR when there is no HR", run("PR", 0, [130, 131, 100]), {},
     [("tachycardia", 0, 2, 131, 2)]),
    ("PR when every HR sample is an artifact",
     run("PR", 0, [130, 100]) + run("HR", 0, [None, None]), {},
     [("tachycardia", 0, 1, 130, 1)]),
    ("PR ignored when there is a valid HR", run("PR", 0, [130] * 5) + [ob("HR", 100, 100)],
     {}, []),
    ("NIBP: consecutive readings over the limit are one episode, first to last",
     [*nibp(0, 130, 80), *nibp(900, 150, 90, 110), *nibp(1800, 160, 95),
      *nibp(2700, 140, 85), *nibp(3590, 150, 88)], {},
     [("hypertension", 900, 1800, 160, 2), ("hypertension", 3590, 3590, 150, 1)]),
    ("NIBP: systolic exactly baseline x factor is not over",
     [*nibp(0, 144, 80), *nibp(900, 144.0001, 80)], {},
     [("hypertension", 900, 900, 144.0001, 1)]),
    ("NIBP: an invalid reading (systolic <= diastolic) neither ends nor counts",
     [*nibp(900, 150, 90), *nibp(1800, 150, 160), *nibp(2700, 155, 90), *nibp(3500, 130, 80)],
     {}, [("hypertension", 900, 2700, 155, 2)]),
    ("NIBP: an invalid reading alone is nothing", [*nibp(900, 170, 170)], {}, []),
    ("NIBP: an incomplete reading is nothing", [ob("NIBP_SYS", 900, 190)], {}, []),
    ("NIBP: the bp_factor is a rule", [*nibp(900, 140, 80)], {"bp_factor": 1.15},
     [("hypertension", 900, 900, 140, 1)]),
    ("NIBP: a reading counts at its time, straddling the start or the end",
     [ob("NIBP_SYS", -0.5, 170), ob("NIBP_DIA", 0.5, 90),
      ob("NIBP_SYS", 3599.5, 175), ob("NIBP_DIA", 3600.5, 95)], {},
     [("hypertension", 3599.5, 3599.5, 175, 1)]),
    ("no baseline: no tachycardia, no hypertension, desaturation still",
     run("HR", 0, [180] * 3) + nibp(10, 200, 100) + run("SPO2", 0, [90, 95]),
     {"hr": None, "sys_": None}, [("desaturation", 0, 1, 90, 1)]),
    ("merge_gap_s merges episodes closer than it",
     run("SPO2", 0, [90, 90, 95, 95, 95, 90, 95]), {"merge_gap_s": 4.0},
     [("desaturation", 0, 6, 90, 3)]),
    ("but not those exactly that far apart",
     run("SPO2", 0, [90, 90, 95, 95, 95, 90, 95]), {"merge_gap_s": 3.0},
     [("desaturation", 0, 2, 90, 2), ("desaturation", 5, 6, 90, 1)]),
    ("sorted by start, across kinds",
     run("HR", 0, [100, 130, 100]) + run("SPO2", 0, [90, 95]) + nibp(0.5, 150, 80), {},
     [("desaturation", 0, 1, 90, 1), ("hypertension", 0.5, 0.5, 150, 1),
      ("tachycardia", 1, 2, 130, 1)]),
]


@pytest.mark.parametrize(("observations", "options", "expected"),
                         [pytest.param(o, k, e, id=name) for name, o, k, e in CASES])
def test_episodes_cases(observations: list[Observation], options: dict[str, Any],
                        expected: list[Any]) -> None:
    assert episodes(observations, **options) == expected


ARTIFACTS = [
    pytest.param(lambda t: ob("SPO2", t, 60, Flag.MOTION), id="motion"),
    pytest.param(lambda t: ob("SPO2", t, None), id="value None"),
    pytest.param(lambda t: ob("SPO2", t, 99, Flag.INVALID), id="invalid flag"),
    pytest.param(lambda t: ob("SPO2", t, float("nan")), id="NaN"),
    *(pytest.param(lambda t, f=f: ob("SPO2", t, 0, f), id=str(f)) for f in SENSOR_OFF_SET),
]


@pytest.mark.parametrize("artifact", ARTIFACTS)
def test_episodes_artifacts_in_the_middle_neither_split_nor_extend(artifact: Any) -> None:
    samples = run("SPO2", 0, [95] * 10 + [90] * 5)
    samples += [artifact(15 + i) for i in range(3)]
    samples += run("SPO2", 18, [91, 90, 95])
    found = compute_episodes(samples, hr_baseline=None, sys_baseline=None, start=T0, end=None)
    assert [(e.start - T0, e.end - T0, e.worst, e.samples) for e in found] == [(10, 20, 90, 7)]


def test_episodes_episode_fields_and_dict() -> None:
    (tachy,) = compute_episodes(run("HR", 0, [130, 135, 100]), hr_baseline=100,
                                sys_baseline=None, start=T0, end=T0 + 60)
    assert tachy == Episode("tachycardia", T0, T0 + 2, 135.0, 120.0, 100, 2, "HR")
    assert tachy.duration == 2
    assert tachy.to_dict() == {"kind": "tachycardia", "start": T0, "end": T0 + 2,
                               "duration": 2.0, "worst": 135.0, "threshold": 120.0,
                               "baseline": 100, "samples": 2, "source": "HR"}
    (desat,) = compute_episodes(DIP, hr_baseline=100, sys_baseline=120, start=T0, end=None)
    assert (desat.threshold, desat.baseline, desat.source) == (93.0, None, "SPO2")
    assert EPISODE_KINDS == ("desaturation", "tachycardia", "hypertension")


def test_episodes_summarise_per_kind() -> None:
    found = compute_episodes(
        run("SPO2", 0, [90, 88, 95, 91, 95]) + run("HR", 0, [130, 100]) + nibp(5, 150, 90),
        hr_baseline=100, sys_baseline=120, start=T0, end=T0 + 60)
    assert summarise(found) == {
        "desaturation": {"count": 2, "total_s": 3.0, "worst": 88},
        "tachycardia": {"count": 1, "total_s": 1.0, "worst": 130},
        "hypertension": {"count": 1, "total_s": 0.0, "worst": 150},
    }
    assert summarise([]) == {k: {"count": 0, "total_s": 0.0, "worst": None}
                             for k in EPISODE_KINDS}


@pytest.mark.parametrize("rules", [
    {"spo2_below": 101}, {"spo2_below": float("nan")}, {"hr_factor": 1.0},
    {"bp_factor": 3.5}, {"max_hold_s": 0}, {"max_hold_s": float("inf")},
    {"merge_gap_s": -1}, {"hr_factor": True},
])
def test_episodes_rules_refuse_bad_values(rules: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(rules))):
        EpisodeRules(**rules)


@pytest.mark.parametrize("kwargs", [
    {"hr_baseline": 0}, {"hr_baseline": float("nan")}, {"sys_baseline": -120},
    {"end": T0 - 1}, {"start": float("nan")}, {"end": float("inf")},
])
def test_episodes_refuse_bad_arguments(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"hr_baseline": 80, "sys_baseline": 120, "start": T0, "end": None}
    with pytest.raises(ValueError):
        compute_episodes(DIP, **{**args, **kwargs})


def test_episodes_episode_refuses_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="kind"):
        Episode("bradycardia", 0, 1, 40, 50, 60, 1)
    with pytest.raises(ValueError, match="before"):
        Episode("tachycardia", 2, 1, 140, 120, 100, 1)
    with pytest.raises(ValueError, match="sample"):
        Episode("tachycardia", 1, 1, 140, 120, 100, 0)


def test_episodes_empty_and_no_observation_in_the_interval() -> None:
    assert episodes([]) == []
    assert episodes(run("SPO2", -60, [80] * 10), end=None) == []


# -- properties --------------------------------------------------------------------------------

HR_BASE, SYS_BASE = 80.0, 120.0
RULES = EpisodeRules()
FLAGS = st.sampled_from([(), (), (), (Flag.MOTION,), (Flag.SENSOR_OFF,), (Flag.LOW_PERFUSION,)])


def _value(metric: str) -> st.SearchStrategy[float | None]:
    low, high = {"SPO2": (85, 100), "HR": (60, 120), "PR": (60, 120)}[metric]
    return st.one_of(st.integers(low, high).map(float),
                     st.sampled_from([None, 93.0, 92.9, 1.2 * HR_BASE, 96.0001]))


def _continuous(metric: str, unique: bool) -> st.SearchStrategy[list[Observation]]:
    times = st.integers(-10, 100).map(lambda t: t * 0.5)
    sample = st.tuples(_value(metric), FLAGS)
    if unique:
        pairs = st.dictionaries(times, sample, max_size=60).map(lambda d: list(d.items()))
    else:
        pairs = st.lists(st.tuples(times, sample), max_size=60)
    return pairs.map(lambda ps: [ob(metric, t, v, *f) for t, (v, f) in ps])


READINGS = st.dictionaries(
    st.integers(-2, 30).map(lambda k: k * 5.0),
    st.tuples(st.integers(90, 170), st.integers(50, 160), FLAGS), max_size=12,
).map(lambda d: [o for t, (s, di, f) in d.items()
                 for o in (ob("NIBP_SYS", t, s, *f), ob("NIBP_DIA", t + 0.1, di))])


def sessions(unique: bool) -> st.SearchStrategy[tuple[list[Observation], float | None]]:
    parts = st.tuples(*(_continuous(m, unique) for m in ("SPO2", "HR", "PR")), READINGS)
    end = st.one_of(st.none(), st.sampled_from([30.0, 80.0, 150.0]))
    return st.tuples(parts.map(lambda p: [o for part in p for o in part]), end)


def _compute(observations: list[Observation], end: float | None) -> list[Episode]:
    return compute_episodes(observations, hr_baseline=HR_BASE, sys_baseline=SYS_BASE,
                            start=T0, end=None if end is None else T0 + end, rules=RULES)


@settings(max_examples=150, deadline=None)
@given(sessions(unique=False), st.randoms(use_true_random=False))
def test_episodes_property_order_does_not_matter(session: Any, rnd: random.Random) -> None:
    observations, end = session
    shuffled = list(observations)
    rnd.shuffle(shuffled)
    assert _compute(shuffled, end) == _compute(observations, end)


def _beyond(kind: str, value: float) -> bool:
    if kind == "desaturation":
        return value < RULES.spo2_below
    base = HR_BASE if kind == "tachycardia" else SYS_BASE
    factor = RULES.hr_factor if kind == "tachycardia" else RULES.bp_factor
    return value > base * factor + 1e-9


@settings(max_examples=150, deadline=None)
@given(sessions(unique=True))
def test_episodes_property_every_sample_is_beyond_the_limit(session: Any) -> None:
    observations, end = session
    found = _compute(observations, end)
    readings = [r for r in group_bp_readings(observations) if r.valid]
    for ep in found:
        if ep.kind == "hypertension":
            inside = [r.systolic for r in readings if ep.start <= r.time <= ep.end]
            values: list[float] = [v for v in inside if v is not None]
            assert len(values) == ep.samples and all(_beyond(ep.kind, v) for v in values)
        else:
            # An episode holds the samples from its start up to (not at) its end: a sample
            # at the end itself ended it, or lies past the interval -- except the latest
            # observation of an infusion still running, where the interval ends.
            latest = max(o.time for o in observations)
            tail = end is None and ep.end == latest
            valid = [o for o in observations if o.metric == ep.source
                     and artifact_reason(o) is None
                     and (ep.start <= o.time < ep.end or o.time == ep.start
                          or (tail and o.time == ep.end))]
            within = [float(o.value or 0) for o in valid if o.time < ep.end]
            assert all(_beyond(ep.kind, v) for v in within)
            values = [float(o.value or 0) for o in valid if _beyond(ep.kind, float(o.value or 0))]
            assert len(values) == ep.samples
        pick = min if ep.kind == "desaturation" else max
        assert ep.worst == pick(values)
        assert T0 <= ep.start <= ep.end and (end is None or ep.end <= T0 + end)
    for kind in EPISODE_KINDS:
        mine = [e for e in found if e.kind == kind]
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:], strict=False))
