"""What a charted entry may say, checked whoever sends it (pure: no I/O).

The dashboard limits choices too, but the records never rely on a screen: a premedication
dose is checked against the course's plan here (off the plan needs a reason; above the
drug's hard maximum is refused, a slip of units), a journal's worst pain must not be below
its least, a side effect's resolution not before its onset. Errors name the field at fault
(``detail.dose_mg``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from monitor.domain.errors import ChartError
from monitor.records.vocabulary import (
    JOURNAL_SCALES,
    PAIN_CHARACTERS,
    PREMEDICATION_PLAN,
    PREMEDICATIONS,
    ROUTES,
    SEVERITIES,
    SIDE_EFFECTS,
    DrugPlan,
)

EVENT_KINDS = ("premedication", "side_effect", "note", "journal")
"""What can be charted against a session."""

OTHER_DRUG_MAX_MG = 1000.0


def _fail(field: str, message: str) -> ChartError:
    return ChartError(f"detail.{field}: {message}", field=f"detail.{field}")


def _text(detail: dict[str, Any], name: str, required: bool = False,
          limit: int = 500) -> str | None:
    value = detail.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _fail(name, "is required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _fail(name, f"must be text of at most {limit} characters")
    return value.strip()


def _number(detail: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = detail.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or not low <= value <= high:
        raise _fail(name, f"must be a number from {low:g} to {high:g}")
    return float(value)


def _unknown(kind: str, detail: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(detail) - allowed)
    if extra:
        raise ChartError(f"unknown field(s) for {kind}: {', '.join(extra)}",
                         field=f"detail.{extra[0]}")


def premedication(detail: dict[str, Any], plan: Sequence[DrugPlan] = PREMEDICATION_PLAN
                  ) -> dict[str, Any]:
    """A premedication given: drug, dose, route, and a reason when off the plan."""
    _unknown("premedication", detail,
             {"drug", "dose_mg", "route", "deviation_reason", "note"})
    drug = detail.get("drug")
    if drug not in PREMEDICATIONS:
        raise _fail("drug", f"must be one of {', '.join(PREMEDICATIONS)}")
    planned = next((p for p in plan if p.drug == drug), None)
    hard_max = planned.hard_max_mg if planned else OTHER_DRUG_MAX_MG
    dose = detail.get("dose_mg")
    if dose is not None and (isinstance(dose, bool) or not isinstance(dose, int | float)
                             or not math.isfinite(dose) or not 0 < dose <= hard_max):
        raise _fail("dose_mg", f"must be a number of mg above 0, at most {hard_max:g}"
                    + (f" for {drug}" if planned else ""))
    route = detail.get("route", planned.route if planned else None)
    if route is not None and route not in ROUTES:
        raise _fail("route", f"must be one of {', '.join(ROUTES)}")
    reason = _text(detail, "deviation_reason")
    out: dict[str, Any] = {"drug": drug}
    if dose is not None:
        out["dose_mg"] = float(dose)
    if route is not None:
        out["route"] = route
    if planned is not None and _off_plan(planned, out) and reason is None:
        raise _fail("deviation_reason", f"{_describe(out)} is off the plan "
                    f"({planned.drug} {planned.low_mg:g}-{planned.high_mg:g} mg "
                    f"{planned.route}): say why")
    if reason is not None:
        out["deviation_reason"] = reason
    note = _text(detail, "note", required=drug == "other")
    if note:
        out["note"] = note
    return out


def _off_plan(planned: DrugPlan, given: dict[str, Any]) -> bool:
    dose = given.get("dose_mg")
    off_dose = dose is not None and not planned.low_mg - 1e-9 <= dose <= planned.high_mg + 1e-9
    return off_dose or given.get("route", planned.route) != planned.route


def _describe(given: dict[str, Any]) -> str:
    dose = given.get("dose_mg")
    return " ".join(p for p in (given["drug"], f"{dose:g} mg" if dose else "",
                                given.get("route", "")) if p)


def side_effect(detail: dict[str, Any]) -> dict[str, Any]:
    """A side effect observed: effect, severity, intervention, onset and resolution."""
    _unknown("side_effect", detail,
             {"effect", "severity", "intervention", "onset", "resolved_at", "note"})
    effect = detail.get("effect")
    if effect not in SIDE_EFFECTS:
        raise _fail("effect", f"must be one of {', '.join(SIDE_EFFECTS)}")
    out: dict[str, Any] = {"effect": effect}
    severity = detail.get("severity")
    if severity is not None:
        if severity not in SEVERITIES:
            raise _fail("severity", f"must be one of {', '.join(SEVERITIES)}")
        out["severity"] = severity
    intervention = _text(detail, "intervention")
    if intervention is not None:
        out["intervention"] = intervention
    onset = _number(detail, "onset", 0, 1e11)
    resolved = _number(detail, "resolved_at", 0, 1e11)
    if onset is not None:
        out["onset"] = onset
    if resolved is not None:
        if onset is not None and resolved < onset:
            raise _fail("resolved_at", "must not be before the onset")
        out["resolved_at"] = resolved
    note = _text(detail, "note", required=effect == "other")
    if note:
        out["note"] = note
    return out


def journal(detail: dict[str, Any]) -> dict[str, Any]:
    """The daily pain journal: the study's scores, pain character, skin colour change."""
    _unknown("journal", detail, {*JOURNAL_SCALES, "character", "skin_colour_change", "note"})
    out: dict[str, Any] = {}
    for name, scale in JOURNAL_SCALES.items():
        value = _number(detail, name, scale.low, scale.high)
        if value is not None:
            out[name] = int(value) if value.is_integer() else value
    worst, least = out.get("worst_pain"), out.get("least_pain")
    if worst is not None and least is not None and worst < least:
        raise _fail("worst_pain", f"worst pain {worst:g} is below least pain {least:g}")
    character = detail.get("character", [])
    if not isinstance(character, list) or not set(character) <= set(PAIN_CHARACTERS):
        raise _fail("character", f"must be a list of {', '.join(PAIN_CHARACTERS)}")
    if character:
        out["character"] = sorted(set(character))
    if "skin_colour_change" in detail:
        if not isinstance(detail["skin_colour_change"], bool):
            raise _fail("skin_colour_change", "must be true or false")
        out["skin_colour_change"] = detail["skin_colour_change"]
    if not any(name in out for name in JOURNAL_SCALES):
        raise ChartError("a journal entry needs at least one score", field="detail")
    note = _text(detail, "note")
    if note:
        out["note"] = note
    return out


def note(detail: dict[str, Any]) -> dict[str, Any]:
    """A free note."""
    _unknown("note", detail, {"note"})
    return {"note": _text(detail, "note", required=True)}


_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "side_effect": side_effect, "journal": journal, "note": note,
}


def validate_detail(kind: str, detail: dict[str, Any],
                    plan: Sequence[DrugPlan] = PREMEDICATION_PLAN) -> dict[str, Any]:
    """Check a charted entry's content; return it normalised.

    Raises:
        ChartError: an unknown kind or content, naming the field at fault.
    """
    if kind not in EVENT_KINDS:
        raise ChartError(f"unknown event kind {kind!r} (known: {', '.join(EVENT_KINDS)})",
                         field="kind")
    if not isinstance(detail, dict):
        raise ChartError("detail must be an object", field="detail")
    if kind == "premedication":
        return premedication(detail, plan)
    return _CHECKS[kind](detail)
