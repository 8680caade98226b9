"""A realistic, synthetic session report (the shape ``session_report_pdf`` takes).

Day 3 of 10 of a ketamine course, 45 mg over 4 hours on 2024-01-10 (times UTC): two
systolic readings over the band, a short tachycardia, a 40-s desaturation, a headache; a
monitoring gap while the patient was away from the bed. No real patient.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
from typing import Any

from monitor.records.episodes import Episode

DAY = dt.datetime(2024, 1, 10, tzinfo=dt.UTC)


def at(hhmm: str, seconds: float = 0.0) -> float:
    """POSIX seconds of ``HH:MM`` (plus seconds) on the session's day, UTC."""
    hours, minutes = (int(p) for p in hhmm.split(":"))
    return (DAY + dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)).timestamp()


HR_BASELINE = 72.0
SYS_BASELINE = (128 + 127 + 128) / 3  # 127.666...
NIBP = [  # (HH:MM, systolic, diastolic, mean)
    ("08:05", 128, 79, 95), ("08:20", 131, 80, 97), ("08:35", 127, 78, 94),
    ("08:55", 134, 82, 99), ("09:10", 139, 84, 102), ("09:25", 146, 88, 107),
    ("09:40", 156, 92, 113), ("09:55", 161, 97, 118), ("10:25", 148, 90, 109),
    ("10:40", 141, 86, 104), ("10:55", 138, 84, 102), ("11:10", 136, 83, 101),
    ("11:25", 135, 82, 100), ("11:40", 133, 81, 98), ("11:55", 132, 80, 97),
    ("12:10", 130, 80, 97), ("12:25", 129, 79, 96), ("12:40", 128, 78, 95),
]
"""Every reading; the pause (10:10-10:18) has none, 08:35 and 08:20 and 08:05 make the
baseline (127.7/79)."""


def _minutes() -> list[dict[str, Any]]:
    rnd = random.Random(3)
    rows: list[dict[str, Any]] = []
    t = at("08:05")
    while t <= at("12:40"):
        away = at("10:10") <= t < at("10:18")
        hr = 72 + rnd.gauss(0, 2) + (20 if at("10:30") <= t < at("10:35") else 0)
        spo2 = 91.0 if t == at("11:02") else round(97 + rnd.gauss(0, 0.6), 1)
        rows.append({"time": t, "HR": None if away else round(hr, 1),
                     "PR": None if away else round(hr + rnd.gauss(0, 1), 1),
                     "SPO2": None if away else min(spo2, 100.0)})
        t += 60
    return rows


def _episodes() -> list[dict[str, Any]]:
    return [
        Episode("hypertension", at("09:40"), at("09:55"), 161.0, SYS_BASELINE * 1.2,
                SYS_BASELINE, 2, "NIBP").to_dict(),
        Episode("tachycardia", at("10:30", 20), at("10:34", 5), 94.0, HR_BASELINE * 1.2,
                HR_BASELINE, 225, "HR").to_dict(),
        Episode("desaturation", at("11:02", 10), at("11:02", 50), 90.0, 93.0, None, 40,
                "SPO2").to_dict(),
    ]


def _alarm(hhmm: str, rule: str | None, event: str, value: float | None = None,
           message: str = "", user: str | None = None, reason: str | None = None,
           priority: str | None = "medium", seconds: float = 0.0) -> dict[str, Any]:
    return {"time": at(hhmm, seconds), "rule": rule, "priority": priority if rule else None,
            "event": event, "value": value, "message": message, "user": user, "reason": reason}


def _alarms() -> list[dict[str, Any]]:
    return [
        _alarm("08:40", None, "infusion_start", user="ada"),
        _alarm("09:40", "BP_RISE", "onset", 156, "Systolic 156 above 153 (baseline 128 x 1.20)",
               seconds=30),
        _alarm("09:40", "BP_RISE", "prompt", 156, "Repeat NIBP now (within 5 min)", seconds=30),
        _alarm("09:41", "BP_RISE", "acknowledged", user="ada", seconds=10),
        _alarm("09:55", "BP_RISE_SEVERE", "onset", 161, "BP_RISE on two readings in a row",
               priority="high", seconds=30),
        _alarm("09:56", "BP_RISE_SEVERE", "acknowledged", user="ben", priority="high",
               reason="anaesthetist informed, rate kept"),
        _alarm("10:25", "BP_RISE_SEVERE", "end", 148, priority="high", seconds=30),
        _alarm("10:25", "BP_RISE", "condition_end", 148, seconds=30),
        _alarm("10:26", "BP_RISE", "acknowledged", user="ada"),
        _alarm("10:26", "BP_RISE", "end", 148),
        _alarm("10:31", "HR_RISE", "onset", 93, "HR 93 above 86.4 (baseline 72 x 1.20)",
               seconds=20),
        _alarm("10:31", None, "audio_paused", user="ada", seconds=40),
        _alarm("10:32", "HR_RISE", "acknowledged", user="ada"),
        _alarm("10:35", "HR_RISE", "end", 80, seconds=5),
    ]


def _events() -> list[dict[str, Any]]:
    def event(hhmm: str, kind: str, detail: dict[str, Any], by: str = "ada",
              voided: bool = False, amended: bool = False) -> dict[str, Any]:
        return {"time": at(hhmm), "kind": kind, "detail": detail, "recorded_by": by,
                "voided": voided, "amended": amended}

    return [
        event("08:15", "premedication", {"drug": "clonidine", "dose_mg": 0.1, "route": "PO"}),
        event("08:20", "journal", {"pain": 7, "worst_pain": 9, "least_pain": 5, "pain_24h": 8,
                                   "affective": 2, "punishing": 1, "movement": 6,
                                   "relief_percent": 10, "character": ["aching", "burning"],
                                   "skin_colour_change": True}),
        event("08:30", "premedication", {"drug": "midazolam", "dose_mg": 2.0, "route": "IV"},
              by="ben"),
        event("11:20", "side_effect", {"effect": "restlessness"}, voided=True),
        event("11:30", "side_effect", {"effect": "headache", "severity": "mild",
                                       "intervention": None, "resolved_at": at("12:15")}),
        event("12:50", "note", {"note": "Comfortable after the infusion, drinking water."},
              by="ben", amended=True),
    ]


REPORT: dict[str, Any] = {
    "session": {
        "id": 17, "bed_id": "bed-3", "course_day": 3, "planned_dose_mg": 45.0, "dose_mg": 45.0,
        "dose_deviation_reason": None, "admitted_at": at("08:05"),
        "infusion_started_at": at("08:40"), "infusion_stopped_at": at("12:40"),
        "discharged_at": at("13:30"), "infusion_stop_reason": "completed",
        "steps": [
            {"step": "start", "time": at("08:40"), "user": "ada", "reason": None},
            {"step": "pause", "time": at("10:10"), "user": "ben", "reason": "to the toilet"},
            {"step": "resume", "time": at("10:18"), "user": "ben", "reason": None},
            {"step": "stop", "time": at("12:40"), "user": "ada", "reason": "completed"},
        ],
        "nurses": ["ada", "ben"],
        "devices": [{"id": "bed3-oxi", "protocol": "masimo"},
                    {"id": "bed3-monitor", "protocol": "ge_s5"}],
    },
    "patient": {"identifier": "MRN100042", "family_name": "\u0141ukasiewicz",
                "given_name": "Zo\u00eb", "birth_date": "1981-06-02", "sex": "F"},
    "course": {"protocol": "Low-dose ketamine, 10 infusions", "planned_sessions": 10},
    "baseline": {
        "hr": {"kind": "hr", "hr": HR_BASELINE, "method": "median ECG HR over 300 s (296 s valid)",
               "computed_at": at("08:40"), "confirmed_by": "ada", "confirmed_at": at("08:40"),
               "flagged": False, "notes": [], "reason": None},
        "bp": {"kind": "bp", "systolic": SYS_BASELINE, "diastolic": 79.0, "mean": 95.33,
               "method": "mean of 3 NIBP readings >= 180 s apart", "computed_at": at("08:40"),
               "confirmed_by": "ada", "confirmed_at": at("08:40"), "flagged": False,
               "notes": [], "reason": None},
    },
    "trends": {
        "minutes": _minutes(),
        "nibp": [{"time": at(t), "systolic": s, "diastolic": d, "mean": m}
                 for t, s, d, m in NIBP],
        "band": {"hr_high": HR_BASELINE * 1.2, "sys_high": SYS_BASELINE * 1.2, "spo2_low": 93},
    },
    "alarms": _alarms(),
    "episodes": _episodes(),
    "events": _events(),
}
"""The example report; use :func:`session_report` for a copy to change."""


def session_report(**sections: Any) -> dict[str, Any]:
    """A deep copy of :data:`REPORT` with some sections replaced."""
    return {**copy.deepcopy(REPORT), **copy.deepcopy(sections)}
