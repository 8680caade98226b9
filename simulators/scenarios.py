"""Scripted patients: what a simulated device measures at each instant.

A scenario is a pure function of the time since the simulator started. It gives a
:class:`Vitals` snapshot; each protocol's device codec formats what its device would show.
Scenarios loop with their ``period`` so a demo runs for ever.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from monitor.domain.models import Flag


@dataclass(frozen=True, slots=True)
class Vitals:
    """What the patient and the sensors show at one instant.

    Attributes:
        hr: ECG heart rate, /min (None: leads off or no ECG).
        pr: pulse rate from the oximeter, /min (None: no reading).
        spo2: %, None when the oximeter has no reading.
        pi: perfusion index, %.
        arterial: (systolic, diastolic) the cuff would read if it measured now.
        nibp: (systolic, diastolic, mean) of the latest NIBP measurement, or None.
        nibp_time: seconds since start when that measurement was taken.
        flags: sensor and signal flags (:class:`~monitor.domain.models.Flag` values).
        connected: False while the device is unplugged (the simulator writes nothing).
        rr: respiratory rate, /min (what a capnograph counts, when the bed has one).
        etco2: end-tidal CO2 a capnograph shows, mmHg; ``None``: no capnograph on this bed.
        fico2: inspired (minimum) CO2, mmHg, with ``etco2``.
        capno_off: the capnograph's sampling line is blocked or off (no valid values).
        apnea: the capnograph's own apnea detection says no breath.
    """

    hr: float | None = 72.0
    pr: float | None = 72.0
    spo2: float | None = 98.0
    pi: float | None = 3.5
    arterial: tuple[float, float] | None = (122.0, 78.0)
    nibp: tuple[float, float, float] | None = None
    nibp_time: float | None = None
    flags: frozenset[str] = field(default_factory=frozenset)
    connected: bool = True
    rr: float | None = 14.0
    etco2: float | None = None
    fico2: float | None = None
    capno_off: bool = False
    apnea: bool = False

    @property
    def sensor_off(self) -> bool:
        """True when the oximeter sensor is off the patient or unplugged."""
        return bool(self.flags & {Flag.SENSOR_OFF, Flag.NO_SENSOR})


@dataclass(frozen=True, slots=True)
class Patient:
    """A simulated patient's resting values. ``seed`` varies the jitter between beds."""

    hr: float = 72.0
    spo2: float = 98.0
    sys: float = 122.0
    dia: float = 78.0
    pi: float = 3.5
    seed: int = 1


NIBP_CYCLE_S = 900.0
"""Automatic NIBP every 15 minutes, as the infusion protocol prescribes."""


def mean_pressure(sys: float, dia: float) -> float:
    """Mean arterial pressure as oscillometric monitors estimate it: dia + (sys - dia) / 3."""
    return float(round(dia + (sys - dia) / 3))


def ramp(t: float, start: float, rise: float, hold: float, fall: float) -> float:
    """0 before ``start``, up to 1 over ``rise`` s, 1 for ``hold`` s, back to 0 over ``fall``."""
    if t < start:
        return 0.0
    t -= start
    if t < rise:
        return t / rise if rise else 1.0
    t -= rise
    if t < hold:
        return 1.0
    t -= hold
    if t < fall:
        return 1.0 - t / fall
    return 0.0


def jitter(seed: int, t: float, amp: float, salt: int) -> float:
    """Deterministic smooth noise in [-amp, amp]: the same arguments give the same value."""
    whole = math.floor(t)
    a = random.Random(seed * 1_000_003 + salt * 7919 + whole).uniform(-amp, amp)
    b = random.Random(seed * 1_000_003 + salt * 7919 + whole + 1).uniform(-amp, amp)
    return a + (b - a) * (t - whole)


def physiology(
    t: float, p: Patient, hr_rise: float = 0.0, spo2_drop: float = 0.0, bp_rise: float = 0.0
) -> Vitals:
    """Resting vitals with jitter, shifted by fractional HR/BP rises and an SpO2 drop."""
    hr = p.hr * (1 + hr_rise) + jitter(p.seed, t, 1.5, 1)
    spo2 = min(100.0, p.spo2 - spo2_drop + jitter(p.seed, t, 0.5, 2))
    sys = p.sys * (1 + bp_rise) + jitter(p.seed, t, 3, 3)
    dia = p.dia * (1 + bp_rise * 0.8) + jitter(p.seed, t, 2, 4)
    return Vitals(
        hr=float(round(hr)),
        pr=float(round(hr + jitter(p.seed, t, 1, 5))),
        spo2=float(round(spo2)),
        pi=round(p.pi + jitter(p.seed, t, 0.3, 6), 2),
        arterial=(float(round(sys)), float(round(dia))),
        rr=float(round(14 + jitter(p.seed, t, 1, 7))),
    )


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named script.

    Attributes:
        name: registry name.
        description: one line for ``--help`` and the docs.
        period: seconds after which it starts again.
        shape: ``shape(t, patient) -> Vitals`` for ``0 <= t < period`` (without NIBP).
        nibp_times: times within each period of extra NIBP measurements, on top of one at
            start-up and one every :data:`NIBP_CYCLE_S`.
    """

    name: str
    description: str
    period: float
    shape: Callable[[float, Patient], Vitals]
    nibp_times: tuple[float, ...] = ()

    def at(self, t: float, patient: Patient | None = None) -> Vitals:
        """The vitals ``t`` seconds after the simulator started, with the latest NIBP."""
        p = patient or Patient()
        t = max(t, 0.0)
        vitals = self.shape(t % self.period, p)
        taken = self.last_nibp_time(t)
        cuff = self.shape(taken % self.period, p).arterial
        if cuff is None:
            return vitals
        sys, dia = cuff
        return replace(vitals, nibp=(sys, dia, mean_pressure(sys, dia)), nibp_time=taken)

    def last_nibp_time(self, t: float) -> float:
        """When the latest NIBP measurement at or before ``t`` was taken."""
        best = math.floor(t / NIBP_CYCLE_S) * NIBP_CYCLE_S
        cycle = math.floor(t / self.period)
        for c in (cycle - 1, cycle):
            for x in self.nibp_times:
                when = c * self.period + x
                if 0 <= when <= t:
                    best = max(best, when)
        return best


def capnography(v: Vitals, t: float, p: Patient, etco2: float = 38.0, rr: float = 14.0
                ) -> Vitals:
    """``v`` seen by a bed with a capnograph: EtCO2 and rate (whole numbers) with jitter."""
    return replace(v, etco2=float(round(etco2 + jitter(p.seed, t, 1, 8))), fico2=0.0,
                   rr=float(max(0, round(rr + jitter(p.seed, t, 1, 7)))))


def _stable(t: float, p: Patient) -> Vitals:
    return physiology(t, p)


def _capnography(t: float, p: Patient) -> Vitals:
    return capnography(physiology(t, p), t, p)


def _apnea(t: float, p: Patient) -> Vitals:
    # Breathing stops at 60 s for 45 s (sedation): EtCO2 and rate fall to 0 at once, the
    # capnograph's own apnea detection speaks after its 20 s, SpO2 drifts down late.
    v = capnography(physiology(t, p, spo2_drop=6 * ramp(t, 85, 20, 0, 30)), t, p)
    if 60 <= t < 105:
        return replace(v, etco2=0.0, rr=0.0, apnea=t >= 80)
    return v


def _hypoventilation(t: float, p: Patient) -> Vitals:
    # Respiratory depression from 30 s: the rate slows to about 6 /min and EtCO2 climbs to
    # about 58 mmHg (RR_LOW after 30 s below 8, ETCO2_HIGH after 60 s above 50).
    k = ramp(t, 30, 40, 180, 60)
    return capnography(physiology(t, p, spo2_drop=3 * k), t, p, etco2=38 + 20 * k,
                       rr=14 - 8 * k)


def _capno_line(t: float, p: Patient) -> Vitals:
    v = capnography(physiology(t, p), t, p)
    if 30 <= t < 60:
        return replace(v, etco2=None, fico2=None, capno_off=True)
    return v


def _desaturation(t: float, p: Patient) -> Vitals:
    # SpO2 falls to about 86 % from 45 s, stays 60 s, recovers: SPO2_LOW then SPO2_SEVERE.
    return physiology(t, p, spo2_drop=12 * ramp(t, 45, 20, 60, 25))


def _hr_rise(t: float, p: Patient) -> Vitals:
    # Tachycardia 35 % above resting from 30 s for 3 minutes (past +20 % at about 39 s).
    return physiology(t, p, hr_rise=0.35 * ramp(t, 30, 15, 180, 60))


def _hypertension(t: float, p: Patient) -> Vitals:
    # A hypertensive response, as ketamine can give: systolic up 35 % from 30 s.
    return physiology(t, p, bp_rise=0.35 * ramp(t, 30, 30, 300, 120))


def _motion(t: float, p: Patient) -> Vitals:
    v = physiology(t, p)
    # Bursts of motion every 40 s for 6 s: flagged, with spurious low SpO2 and odd pulse.
    if (t % 40) >= 34:
        return replace(v, spo2=float(80 + int(t) % 7), pr=float(140 + int(t) % 20),
                       flags=frozenset({Flag.MOTION, Flag.ARTIFACT}))
    return v


def _sensor_off(t: float, p: Patient) -> Vitals:
    v = physiology(t, p)
    if 30 <= t < 60:
        return replace(v, spo2=None, pr=None, pi=None, flags=frozenset({Flag.SENSOR_OFF}))
    return v


def _disconnect(t: float, p: Patient) -> Vitals:
    v = physiology(t, p)
    return replace(v, connected=not (40 <= t < 55))


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("stable", "resting patient, small natural variation", 600, _stable),
        Scenario("desaturation", "SpO2 falls to ~86 % from 45 s for about 90 s", 600,
                 _desaturation),
        Scenario("hr_rise", "heart rate 35 % above resting from 30 s for ~4 min", 600,
                 _hr_rise),
        Scenario("hypertension", "systolic pressure up 35 % from 30 s (NIBP at 90 s, 150 s)",
                 900, _hypertension, nibp_times=(90.0, 150.0)),
        Scenario("motion_artifact", "6 s bursts of motion artifact every 40 s", 600, _motion),
        Scenario("sensor_off", "oximeter sensor off the patient from 30 s to 60 s", 600,
                 _sensor_off),
        Scenario("disconnect", "device cable unplugged from 40 s to 55 s", 600, _disconnect),
        Scenario("capnography", "resting patient with a capnograph (EtCO2 ~38 mmHg, RR ~14)",
                 600, _capnography),
        Scenario("apnea", "capnograph: no breath from 60 s for 45 s (APNEA at 80 s)", 600,
                 _apnea),
        Scenario("hypoventilation", "capnograph: rate down to ~6 /min, EtCO2 up to ~58 mmHg "
                 "from 30 s for ~4 min", 600, _hypoventilation),
        Scenario("capno_line", "capnograph sampling line blocked from 30 s to 60 s", 600,
                 _capno_line),
    )
}
"""Every scenario by name."""


def scenario(name: str) -> Scenario:
    """Return the scenario called ``name``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r} (known: {', '.join(sorted(SCENARIOS))})"
        ) from None
