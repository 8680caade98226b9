"""The coded lists and scales of the records: one place for each, used by the API, the
research CSV and the reports (the dashboard's choices come from ``GET /api/vocabulary``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEXES = ("F", "M")
"""Sex as the study reports it (female, male)."""

ASA_CLASSES = (1, 2, 3, 4, 5, 6)
"""ASA physical status (the study enrolled I and II)."""

CRPS_TYPES = ("I", "II")
"""Complex regional pain syndrome type."""

LIMBS = ("left_arm", "right_arm", "left_leg", "right_leg", "other")
"""The affected limb."""


@dataclass(frozen=True, slots=True)
class Scale:
    """A journal score: its inclusive range, what it asks, and the anchors of its ends."""

    low: int
    high: int
    question: str
    anchors: dict[int, str] = field(default_factory=dict)

    @property
    def range(self) -> tuple[int, int]:
        """``(low, high)``, inclusive."""
        return self.low, self.high

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"low": self.low, "high": self.high, "question": self.question,
                "anchors": {str(k): v for k, v in self.anchors.items()}}


_PAIN = {0: "no pain", 10: "worst pain possible"}
_AFFECTIVE = {0: "none", 1: "mild", 2: "moderate", 3: "severe", 4: "very severe"}

JOURNAL_SCALES: dict[str, Scale] = {
    "pain": Scale(0, 10, "Pain intensity now (verbal analogue scale)", _PAIN),
    "worst_pain": Scale(0, 10, "Worst pain of the day", _PAIN),
    "least_pain": Scale(0, 10, "Least pain of the day", _PAIN),
    "pain_24h": Scale(0, 10, "Pain over the past 24 hours", _PAIN),
    "affective": Scale(0, 4, "Affective component of pain", _AFFECTIVE),
    "punishing": Scale(0, 4, "Intensity of punishing pain", _AFFECTIVE),
    "movement": Scale(0, 10, "Ability to initiate movement of the affected limb",
                      {0: "cannot initiate movement", 10: "normal movement"}),
    "relief_percent": Scale(0, 100, "Overall pain relief so far (%)",
                            {0: "no relief", 100: "complete relief"}),
}
"""The daily pain journal (recorded before each infusion): the study's scales and anchors."""

JOURNAL_FIELDS = tuple(JOURNAL_SCALES)
"""The journal's scores, in the order of the research CSV."""

PAIN_CHARACTERS = ("burning", "aching", "punishing")

SIDE_EFFECTS = ("headache", "restlessness", "dysphoria", "hallucinations", "dreams",
                "nightmares", "nausea", "vomiting", "dizziness", "tachycardia", "hypertension",
                "desaturation", "other")
"""Side effects the study counts: charted by the nurses or detected from the vitals."""

SEVERITIES = ("mild", "moderate", "severe")

ROUTES = ("PO", "IV", "IM", "SL", "IN")
"""Routes of administration: by mouth, intravenous, intramuscular, sublingual, intranasal."""


@dataclass(frozen=True, slots=True)
class DrugPlan:
    """A premedication the protocol plans: its dose range and route, and the most any
    dose may be (above it the API refuses even with a reason: a slip of units)."""

    drug: str
    low_mg: float
    high_mg: float
    route: str
    hard_max_mg: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"drug": self.drug, "low_mg": self.low_mg, "high_mg": self.high_mg,
                "route": self.route, "hard_max_mg": self.hard_max_mg}


PREMEDICATION_PLAN = (
    DrugPlan("clonidine", 0.1, 0.1, "PO", 0.3),
    DrugPlan("midazolam", 2.0, 4.0, "IV", 10.0),
)
"""Given before each infusion: clonidine 0.1 mg by mouth, midazolam 2-4 mg."""

PREMEDICATIONS = (*(p.drug for p in PREMEDICATION_PLAN), "other")
"""Drugs that can be charted as premedication; ``other`` needs a note."""


def vocabulary() -> dict[str, Any]:
    """Every list and scale, JSON-ready, for screens and integrators."""
    return {
        "sexes": list(SEXES), "asa_classes": list(ASA_CLASSES), "crps_types": list(CRPS_TYPES),
        "limbs": list(LIMBS), "side_effects": list(SIDE_EFFECTS),
        "severities": list(SEVERITIES), "routes": list(ROUTES),
        "premedications": list(PREMEDICATIONS),
        "premedication_plan": [p.to_dict() for p in PREMEDICATION_PLAN],
        "journal": {name: s.to_dict() for name, s in JOURNAL_SCALES.items()},
        "pain_characters": list(PAIN_CHARACTERS),
    }
