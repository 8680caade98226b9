"""Rule configuration: factory defaults and validation with clear RuleErrors."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.alarms.engine import RULE_IDS, RuleSet
from monitor.domain.errors import RuleError


def test_defaults_match_the_rule_table() -> None:
    r = RuleSet.default()
    table = {rid: (r[rid].priority, r[rid].technical, r[rid].delay) for rid in RULE_IDS}
    assert table == {
        "SPO2_LOW": ("medium", False, 15.0),
        "SPO2_SEVERE": ("high", False, 10.0),
        "HR_RISE": ("medium", False, 60.0),
        "HR_SOURCE_DISAGREE": ("medium", True, 0.0),
        "HR_LIMIT": ("high", False, 10.0),
        "BP_RISE": ("medium", False, 0.0),
        "BP_RISE_SEVERE": ("high", False, 0.0),
        "BP_LIMIT": ("high", False, 0.0),
        "APNEA": ("high", False, 20.0),
        "RR_LOW": ("medium", False, 30.0),
        "ETCO2_HIGH": ("medium", False, 60.0),
        "ETCO2_LOW": ("medium", False, 60.0),
        "NIBP_OVERDUE": ("medium", True, 1200.0),
        "DEVICE_LOST": ("medium", True, 10.0),
        "SENSOR_OFF": ("medium", True, 0.0),
        "CO2_LINE": ("medium", True, 0.0),
        "NO_BASELINE": ("low", True, 0.0),
    }
    assert r["SPO2_LOW"].p("threshold") == 93
    assert (r["SPO2_SEVERE"].p("threshold"), r["SPO2_SEVERE"].p("threshold_fast"),
            r["SPO2_SEVERE"].p("delay_fast")) == (88, 85, 5)
    assert (r["HR_LIMIT"].p("low"), r["HR_LIMIT"].p("high")) == (40, 150)
    assert r["HR_RISE"].p("factor") == 1.2 and r["HR_SOURCE_DISAGREE"].p("agree_bpm") == 10
    assert r["BP_RISE"].latching and not r["BP_LIMIT"].latching
    assert (r["BP_LIMIT"].p("systolic"), r["BP_LIMIT"].p("diastolic")) == (180, 110)
    assert r["BP_RISE_SEVERE"].p("factor") == 1.3 and r["BP_RISE"].p("repeat_within") == 300
    assert r["DEVICE_LOST"].p("high_after") == 60
    assert r.escalation == {"high": 30, "medium": 60, "low": None}
    assert r.audio_pause == 120 and r.reannounce_spo2_points == 3
    assert r.reannounce_hr_fraction == 0.10
    # Capnography (docs/alarms.md): apnea latches; the others follow their condition.
    assert r["APNEA"].latching and not r["RR_LOW"].latching
    assert (r["APNEA"].p("etco2_floor"), r["APNEA"].p("device_delay")) == (5, 0)
    assert (r["RR_LOW"].p("threshold"), r["ETCO2_HIGH"].p("threshold"),
            r["ETCO2_LOW"].p("threshold")) == (8, 50, 25)
    assert r["CO2_LINE"].p("no_data") == 30
    assert (r.reannounce_etco2_mmhg, r.reannounce_rr_per_min) == (5, 2)


def test_site_config_overrides_and_round_trips() -> None:
    r = RuleSet.from_mapping({"rules": {"SPO2_LOW": {"threshold": 92, "delay": 20}},
                              "escalation": {"medium": 90}})
    assert (r["SPO2_LOW"].p("threshold"), r["SPO2_LOW"].delay) == (92, 20)
    assert r.escalation["medium"] == 90
    assert RuleSet.from_mapping(r.to_mapping()) == r


def test_patient_override_changes_thresholds_only() -> None:
    site = RuleSet.default()
    patient = site.with_overrides({"rules": {"HR_RISE": {"factor": 1.3, "delay": 90}}})
    assert patient["HR_RISE"].p("factor") == 1.3 and patient["HR_RISE"].delay == 90
    assert site["HR_RISE"].p("factor") == 1.2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"rules": {"SPO2_LO": {}}}, "unknown rule id 'SPO2_LO'"),
        ({"rules": {"SPO2_LOW": {"delay": -1}}}, "SPO2_LOW.delay: must not be negative"),
        ({"rules": {"SPO2_LOW": {"threshold": 101}}}, "SPO2_LOW.threshold: 101 is out of range"),
        ({"rules": {"SPO2_LOW": {"threshold": "93"}}}, "expected a number"),
        ({"rules": {"SPO2_LOW": {"threshold": True}}}, "expected a number"),
        ({"rules": {"SPO2_LOW": {"threshold": float("nan")}}}, "not a finite number"),
        ({"rules": {"SPO2_LOW": {"thresold": 90}}}, "unknown setting 'thresold'"),
        ({"rules": {"SPO2_LOW": {"priority": "urgent"}}}, "expected one of high"),
        ({"rules": {"SPO2_LOW": {"enabled": "yes"}}}, "expected true or false"),
        ({"rules": {"BP_LIMIT": {"delay": 10}}}, "takes no delay"),
        ({"rules": {"HR_LIMIT": {"low": 100, "high": 90}}}, "HR_LIMIT.low must be below"),
        ({"rules": {"SPO2_SEVERE": {"threshold": 95}}}, "SPO2_SEVERE.threshold must not be"),
        ({"rules": {"BP_RISE_SEVERE": {"factor": 1.1}}}, "BP_RISE_SEVERE.factor"),
        ({"rules": {"HR_RISE": {"factor": 0.9}}}, "out of range"),
        ({"rules": {"ETCO2_LOW": {"threshold": 30}, "ETCO2_HIGH": {"threshold": 30}}},
         "ETCO2_LOW.threshold must be below ETCO2_HIGH.threshold"),
        ({"rules": {"APNEA": {"etco2_floor": 12}, "ETCO2_LOW": {"threshold": 10}}},
         "APNEA.etco2_floor must be below ETCO2_LOW.threshold"),
        ({"rules": {"RR_LOW": {"threshold": 0}}}, "RR_LOW.threshold: 0 is out of range"),
        ({"rules": {"APNEA": {"delay": 121}}}, "APNEA.delay: 121 is out of range"),
        ({"reannounce": {"etco2_mmhg": 0}}, "reannounce.etco2_mmhg: 0 is out of range"),
        ({"escalation": {"medium": -5}}, "escalation.medium: must not be negative"),
        ({"escalation": {"urgent": 5}}, "unknown setting 'urgent'"),
        ({"audio_pause": {"default": 200}}, "out of range"),
        ({"alarms": {}}, "unknown section 'alarms'"),
        ({"rules": []}, "rules: expected a mapping"),
        ([], "expected a mapping"),
    ],
)
def test_invalid_site_config_raises_rule_error(config: Any, message: str) -> None:
    with pytest.raises(RuleError, match=message.replace("(", r"\(").replace(".", r"\.")):
        RuleSet.from_mapping(config)


@pytest.mark.parametrize(
    "override",
    [{"rules": {"SPO2_LOW": {"enabled": False}}}, {"rules": {"BP_RISE": {"latching": False}}},
     {"rules": {"HR_LIMIT": {"priority": "low"}}}, {"escalation": {"high": 600}},
     {"rules": {"APNEA": {"latching": False}}}, {"rules": {"CO2_LINE": {"enabled": False}}}],
)
def test_patient_override_of_site_only_settings_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(RuleError, match="per site"):
        RuleSet.default().with_overrides(override)


def test_disabled_rule_never_fires() -> None:
    from tests.test_rules import onsets, run, series

    rules = RuleSet.from_mapping({"rules": {"SPO2_LOW": {"enabled": False}}})
    _, events = run(series("SPO2", [90] * 100), rules=rules)
    assert onsets(events) == []


def test_patient_override_of_capnography_delays_and_limits() -> None:
    patient = RuleSet.default().with_overrides(
        {"rules": {"APNEA": {"delay": 30, "etco2_floor": 3}, "RR_LOW": {"threshold": 6},
                   "ETCO2_HIGH": {"threshold": 55, "delay": 90}}})
    assert (patient["APNEA"].delay, patient["APNEA"].p("etco2_floor")) == (30, 3)
    assert patient["RR_LOW"].p("threshold") == 6
    assert (patient["ETCO2_HIGH"].p("threshold"), patient["ETCO2_HIGH"].delay) == (55, 90)
    assert RuleSet.from_mapping(patient.to_mapping()) == patient
