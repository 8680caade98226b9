"""Alarm rule configuration: factory defaults, site settings and per-patient overrides.

Every setting is validated here with a message that names it (:class:`RuleError`); the
engine in :mod:`monitor.alarms.engine` only ever sees a consistent :class:`RuleSet`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from monitor.domain.errors import RuleError

PRIORITIES = ("high", "medium", "low")
"""Alarm priorities, highest first."""

_Param = tuple[float, float, float]  # default, minimum, maximum (inclusive)


@dataclass(frozen=True, slots=True)
class _Spec:
    priority: str
    technical: bool
    delay: float
    delay_range: tuple[float, float]
    latching: bool = False
    params: Mapping[str, _Param] = field(default_factory=dict)


_SPECS: dict[str, _Spec] = {
    "SPO2_LOW": _Spec("medium", False, 15.0, (0, 120), params={"threshold": (93, 50, 100)}),
    "SPO2_SEVERE": _Spec(
        "high", False, 10.0, (0, 120),
        params={"threshold": (88, 50, 100), "threshold_fast": (85, 50, 100),
                "delay_fast": (5, 0, 120)},
    ),
    "HR_RISE": _Spec("medium", False, 60.0, (0, 600), params={"factor": (1.20, 1.01, 3.0)}),
    "HR_SOURCE_DISAGREE": _Spec("medium", True, 0.0, (0, 0), params={"agree_bpm": (10, 1, 100)}),
    "HR_LIMIT": _Spec(
        "high", False, 10.0, (0, 120), params={"high": (150, 60, 300), "low": (40, 0, 120)}
    ),
    "BP_RISE": _Spec(
        "medium", False, 0.0, (0, 0), latching=True,
        params={"factor": (1.20, 1.01, 3.0), "mean_factor": (1.20, 1.01, 3.0),
                "repeat_within": (300, 30, 1800)},
    ),
    "BP_RISE_SEVERE": _Spec("high", False, 0.0, (0, 0), params={"factor": (1.30, 1.01, 3.0)}),
    "BP_LIMIT": _Spec(
        "high", False, 0.0, (0, 0), params={"systolic": (180, 80, 300), "diastolic": (110, 40, 200)}
    ),
    # Capnography (procedural sedation: ventilation). See docs/alarms.md for the sources.
    "APNEA": _Spec(
        "high", False, 20.0, (0, 120), latching=True,
        params={"etco2_floor": (5, 0, 20), "device_delay": (0, 0, 120)},
    ),
    "RR_LOW": _Spec("medium", False, 30.0, (0, 300), params={"threshold": (8, 1, 30)}),
    "ETCO2_HIGH": _Spec("medium", False, 60.0, (0, 600), params={"threshold": (50, 30, 100)}),
    "ETCO2_LOW": _Spec("medium", False, 60.0, (0, 600), params={"threshold": (25, 5, 40)}),
    "NIBP_OVERDUE": _Spec("medium", True, 1200.0, (60, 7200)),
    "DEVICE_LOST": _Spec("medium", True, 10.0, (1, 600), params={"high_after": (60, 0, 3600)}),
    "SENSOR_OFF": _Spec("medium", True, 0.0, (0, 120)),
    "CO2_LINE": _Spec("medium", True, 0.0, (0, 120), params={"no_data": (30, 5, 600)}),
    "NO_BASELINE": _Spec("low", True, 0.0, (0, 0)),
}

RULE_IDS: tuple[str, ...] = tuple(_SPECS)
"""Every rule id the engine knows."""

_GLOBALS: dict[str, dict[str, _Param]] = {
    "escalation": {"medium": (60, 0, 600), "high": (30, 0, 600)},
    "reannounce": {"spo2_points": (3, 0.5, 20), "hr_fraction": (0.10, 0.01, 1.0),
                   "bp_fraction": (0.10, 0.01, 1.0), "etco2_mmhg": (5, 0.5, 50),
                   "rr_per_min": (2, 0.5, 20)},
    "audio_pause": {"default": (120, 60, 180), "min": (60, 10, 600), "max": (180, 10, 600)},
    "data": {"hold_max": (10, 0.5, 3600), "artifact_gap": (10, 0, 3600),
             "nibp_assembly": (2, 0, 30)},
    "baseline": {"hr_window": (300, 60, 3600), "hr_min_valid": (120, 0, 3600),
                 "bp_window": (3600, 300, 86400), "bp_min_spacing": (180, 0, 3600),
                 "bp_outlier": (15, 1, 100), "bp_max_readings": (3, 1, 10)},
}

_PATIENT_KEYS = frozenset({"delay"})
"""Per-patient overrides may change delays and numeric parameters, nothing else."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One alarm rule as configured.

    Attributes:
        id: rule id (see :data:`RULE_IDS`).
        priority: ``high`` / ``medium`` / ``low``.
        technical: a technical (equipment) condition.
        delay: the alarm-condition delay in seconds (how long a condition must hold).
        enabled: whether the rule runs.
        latching: whether the alarm stays after its condition ends until acknowledged.
        params: the rule's numeric parameters (thresholds, factors...).
    """

    id: str
    priority: str
    technical: bool
    delay: float
    enabled: bool = True
    latching: bool = False
    params: tuple[tuple[str, float], ...] = ()

    def p(self, name: str) -> float:
        """The parameter ``name``.

        Raises:
            KeyError: the rule has no such parameter.
        """
        for key, value in self.params:
            if key == name:
                return value
        raise KeyError(f"{self.id} has no parameter {name!r}")


def _number(where: str, value: Any, low: float, high: float, field: str | None = None) -> float:
    field = field or where
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where}: expected a number, got {value!r}", field=field)
    number = float(value)
    if not math.isfinite(number):
        raise RuleError(f"{where}: {value!r} is not a finite number", field=field)
    if number < 0 and low >= 0:
        raise RuleError(f"{where}: must not be negative, got {value!r}", field=field)
    if not low <= number <= high:
        raise RuleError(f"{where}: {value!r} is out of range {low:g}..{high:g}", field=field)
    return number


def _mapping(where: str, value: Any, field: str | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RuleError(f"{where}: expected a mapping, got {type(value).__name__}",
                        field=field)
    return value


@dataclass(frozen=True, slots=True)
class RuleSet:
    """All rules of a bed plus the engine's global settings. Build with :meth:`from_mapping`.

    Attributes:
        rules: by rule id.
        escalation: seconds unacknowledged before escalation, by priority (``None``: never).
        reannounce_spo2_points: SpO2 worsening (points) that re-announces.
        reannounce_hr_fraction: HR worsening (fraction of the announced value).
        reannounce_bp_fraction: BP worsening (fraction of the announced value).
        reannounce_etco2_mmhg: EtCO2 worsening (mmHg).
        reannounce_rr_per_min: respiration rate worsening (/min).
        audio_pause: default audio pause, seconds.
        audio_pause_range: allowed audio pause, seconds.
        hold_max: the longest a sample's value holds without a new sample.
        artifact_gap: how long an artifact gap may pause a delay timer before it restarts.
        nibp_assembly: seconds within which NIBP components form one reading.
        baseline: baseline computation parameters (see :mod:`monitor.alarms.baseline`).
    """

    rules: Mapping[str, Rule]
    escalation: Mapping[str, float | None]
    reannounce_spo2_points: float = 3.0
    reannounce_hr_fraction: float = 0.10
    reannounce_bp_fraction: float = 0.10
    reannounce_etco2_mmhg: float = 5.0
    reannounce_rr_per_min: float = 2.0
    audio_pause: float = 120.0
    audio_pause_range: tuple[float, float] = (60.0, 180.0)
    hold_max: float = 10.0
    artifact_gap: float = 10.0
    nibp_assembly: float = 2.0
    baseline: Mapping[str, float] = field(default_factory=dict)

    def __getitem__(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def enabled(self, rule_id: str) -> bool:
        """Whether ``rule_id`` is configured and enabled."""
        rule = self.rules.get(rule_id)
        return rule is not None and rule.enabled

    @classmethod
    def default(cls) -> RuleSet:
        """The factory defaults (the issue's rule table)."""
        return cls.from_mapping({})

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> RuleSet:
        """Build and validate a site configuration over the factory defaults.

        Example::

            RuleSet.from_mapping({
                "rules": {"SPO2_LOW": {"threshold": 92, "delay": 20}},
                "escalation": {"medium": 90},
                "data": {"hold_max": 90},
            })

        Sections: ``rules`` (per rule: ``priority``, ``delay``, ``enabled``, ``latching`` and
        its numeric parameters), ``escalation`` (``medium``, ``high``), ``reannounce``
        (``spo2_points``, ``hr_fraction``, ``bp_fraction``, ``etco2_mmhg``,
        ``rr_per_min``), ``audio_pause`` (``default``, ``min``, ``max``), ``data``
        (``hold_max``, ``artifact_gap``, ``nibp_assembly``), ``baseline`` (``hr_window``,
        ``hr_min_valid``, ``bp_window``, ``bp_min_spacing``, ``bp_outlier``,
        ``bp_max_readings``).

        Raises:
            RuleError: unknown section, rule id or parameter; wrong type; a negative delay;
                a value out of range; inconsistent thresholds.
        """
        return _build(_defaults(), config, patient=False)

    def with_overrides(self, config: Mapping[str, Any], *, patient: bool = True) -> RuleSet:
        """A copy with ``config`` applied on top (per-patient by default).

        A per-patient override may only change delays and numeric parameters of rules
        (``{"rules": {"HR_RISE": {"factor": 1.3}}}``); priorities, latching, enabling and the
        global sections are the responsible organisation's (site) choice.

        Raises:
            RuleError: as :meth:`from_mapping`, or a per-patient override of a site-only
                setting.
        """
        return _build(self, config, patient=patient)

    def to_mapping(self) -> dict[str, Any]:
        """The full configuration as a mapping :meth:`from_mapping` accepts."""
        return {
            "rules": {
                r.id: {"priority": r.priority, "delay": r.delay, "enabled": r.enabled,
                       "latching": r.latching, **dict(r.params)}
                for r in self.rules.values()
            },
            "escalation": {k: v for k, v in self.escalation.items() if v is not None},
            "reannounce": {"spo2_points": self.reannounce_spo2_points,
                           "hr_fraction": self.reannounce_hr_fraction,
                           "bp_fraction": self.reannounce_bp_fraction,
                           "etco2_mmhg": self.reannounce_etco2_mmhg,
                           "rr_per_min": self.reannounce_rr_per_min},
            "audio_pause": {"default": self.audio_pause, "min": self.audio_pause_range[0],
                            "max": self.audio_pause_range[1]},
            "data": {"hold_max": self.hold_max, "artifact_gap": self.artifact_gap,
                     "nibp_assembly": self.nibp_assembly},
            "baseline": dict(self.baseline),
        }


def _defaults() -> RuleSet:
    rules = {
        rid: Rule(rid, s.priority, s.technical, s.delay, True, s.latching,
                  tuple((k, float(v[0])) for k, v in s.params.items()))
        for rid, s in _SPECS.items()
    }
    return RuleSet(
        rules=rules,
        escalation={"high": 30.0, "medium": 60.0, "low": None},
        baseline={k: float(v[0]) for k, v in _GLOBALS["baseline"].items()},
    )


def _build(base: RuleSet, config: Mapping[str, Any], *, patient: bool) -> RuleSet:
    config = _mapping("rule configuration", config)
    level = "per-patient override" if patient else "site configuration"
    for section in config:
        if section != "rules" and section not in _GLOBALS:
            raise RuleError(
                f"unknown section {section!r} (known: rules, {', '.join(_GLOBALS)})",
                field=str(section),
            )
        if patient and section != "rules":
            raise RuleError(f"{level}: section {section!r} can only be set per site",
                            field=str(section))
    rules = dict(base.rules)
    for rid, settings in _mapping("rules", config.get("rules", {}), "rules").items():
        if rid not in _SPECS:
            raise RuleError(f"unknown rule id {rid!r} (known: {', '.join(RULE_IDS)})",
                            field=f"rules.{rid}")
        rules[rid] = _rule(rules[rid], _mapping(f"rules.{rid}", settings, f"rules.{rid}"),
                           patient, level)
    sections = {
        name: {**_current(base, name), **_mapping(name, config.get(name, {}), name)}
        for name in _GLOBALS
    }
    values: dict[str, dict[str, float]] = {}
    for name, entries in sections.items():
        values[name] = {}
        for key, value in entries.items():
            if key not in _GLOBALS[name]:
                raise RuleError(
                    f"{name}: unknown setting {key!r} (known: {', '.join(_GLOBALS[name])})",
                    field=f"{name}.{key}",
                )
            _, low, high = _GLOBALS[name][key]
            values[name][key] = _number(f"{name}.{key}", value, low, high)
    pause = values["audio_pause"]
    if not pause["min"] <= pause["default"] <= pause["max"]:
        raise RuleError("audio_pause: default must lie between min and max",
                        field="audio_pause.default")
    result = RuleSet(
        rules=rules,
        escalation={"high": values["escalation"]["high"],
                    "medium": values["escalation"]["medium"], "low": None},
        reannounce_spo2_points=values["reannounce"]["spo2_points"],
        reannounce_hr_fraction=values["reannounce"]["hr_fraction"],
        reannounce_bp_fraction=values["reannounce"]["bp_fraction"],
        reannounce_etco2_mmhg=values["reannounce"]["etco2_mmhg"],
        reannounce_rr_per_min=values["reannounce"]["rr_per_min"],
        audio_pause=pause["default"],
        audio_pause_range=(pause["min"], pause["max"]),
        hold_max=values["data"]["hold_max"],
        artifact_gap=values["data"]["artifact_gap"],
        nibp_assembly=values["data"]["nibp_assembly"],
        baseline=values["baseline"],
    )
    _check_consistency(result)
    return result


def _current(rules: RuleSet, section: str) -> dict[str, float]:
    if section == "escalation":
        return {k: v for k, v in rules.escalation.items() if v is not None}
    if section == "reannounce":
        return {"spo2_points": rules.reannounce_spo2_points,
                "hr_fraction": rules.reannounce_hr_fraction,
                "bp_fraction": rules.reannounce_bp_fraction,
                "etco2_mmhg": rules.reannounce_etco2_mmhg,
                "rr_per_min": rules.reannounce_rr_per_min}
    if section == "audio_pause":
        return {"default": rules.audio_pause, "min": rules.audio_pause_range[0],
                "max": rules.audio_pause_range[1]}
    if section == "data":
        return {"hold_max": rules.hold_max, "artifact_gap": rules.artifact_gap,
                "nibp_assembly": rules.nibp_assembly}
    return dict(rules.baseline)


def _rule(rule: Rule, settings: Mapping[str, Any], patient: bool, level: str) -> Rule:
    spec = _SPECS[rule.id]
    params = dict(rule.params)
    changes: dict[str, Any] = {}
    for key, value in settings.items():
        where = f"{rule.id}.{key}"
        field = f"rules.{where}"
        if patient and key not in _PATIENT_KEYS and key not in spec.params:
            raise RuleError(f"{level}: {where} can only be set per site", field=field)
        if key == "priority":
            if value not in PRIORITIES:
                raise RuleError(f"{where}: expected one of {', '.join(PRIORITIES)}, "
                                f"got {value!r}", field=field)
            changes["priority"] = value
        elif key in ("enabled", "latching"):
            if not isinstance(value, bool):
                raise RuleError(f"{where}: expected true or false, got {value!r}", field=field)
            changes[key] = value
        elif key == "delay":
            low, high = spec.delay_range
            if high == 0 and value != 0:
                raise RuleError(f"{where}: this rule acts on each reading and takes no delay",
                                field=field)
            changes["delay"] = _number(where, value, low, high, field)
        elif key in spec.params:
            _, low, high = spec.params[key]
            params[key] = _number(where, value, low, high, field)
        else:
            known = ["priority", "delay", "enabled", "latching", *spec.params]
            raise RuleError(f"{rule.id}: unknown setting {key!r} (known: {', '.join(known)})",
                            field=field)
    return replace(rule, params=tuple(params.items()), **changes)


def _check_consistency(rules: RuleSet) -> None:
    r = rules.rules
    if r["SPO2_SEVERE"].p("threshold") > r["SPO2_LOW"].p("threshold"):
        raise RuleError("SPO2_SEVERE.threshold must not be above SPO2_LOW.threshold",
                        field="rules.SPO2_SEVERE.threshold")
    if r["SPO2_SEVERE"].p("threshold_fast") > r["SPO2_SEVERE"].p("threshold"):
        raise RuleError("SPO2_SEVERE.threshold_fast must not be above SPO2_SEVERE.threshold",
                        field="rules.SPO2_SEVERE.threshold_fast")
    if r["HR_LIMIT"].p("low") >= r["HR_LIMIT"].p("high"):
        raise RuleError("HR_LIMIT.low must be below HR_LIMIT.high",
                        field="rules.HR_LIMIT.low")
    if r["BP_RISE_SEVERE"].p("factor") < r["BP_RISE"].p("factor"):
        raise RuleError("BP_RISE_SEVERE.factor must not be below BP_RISE.factor",
                        field="rules.BP_RISE_SEVERE.factor")
    if r["BP_LIMIT"].p("diastolic") >= r["BP_LIMIT"].p("systolic"):
        raise RuleError("BP_LIMIT.diastolic must be below BP_LIMIT.systolic",
                        field="rules.BP_LIMIT.diastolic")
    if r["ETCO2_LOW"].p("threshold") >= r["ETCO2_HIGH"].p("threshold"):
        raise RuleError("ETCO2_LOW.threshold must be below ETCO2_HIGH.threshold",
                        field="rules.ETCO2_LOW.threshold")
    if r["APNEA"].p("etco2_floor") >= r["ETCO2_LOW"].p("threshold"):
        raise RuleError("APNEA.etco2_floor must be below ETCO2_LOW.threshold",
                        field="rules.APNEA.etco2_floor")
    b = rules.baseline
    if b["hr_min_valid"] > b["hr_window"]:
        raise RuleError("baseline.hr_min_valid must not exceed baseline.hr_window",
                        field="baseline.hr_min_valid")


def rule_table(rules: RuleSet) -> Iterable[Rule]:
    """The rules in table order."""
    return (rules.rules[rid] for rid in RULE_IDS)


def is_rule_id(name: str) -> bool:
    """True for a rule id the engine knows (``SPO2_LOW``...)."""
    return name in _SPECS

