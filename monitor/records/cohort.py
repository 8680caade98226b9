"""The study's research CSV: one row per patient and journal day, read and written as inverses.

The file has a header and exactly these columns, in this order (:data:`COLUMNS`)::

    patient, sex, birth_date, weight_kg, height_cm, day, date, dose_mg,
    pain, worst_pain, least_pain, pain_24h, affective, punishing, movement, relief_percent,
    side_effects

- ``day`` is a course day ``1`` to ``10``, or a follow-up journal written ``F<weeks>``
  (``F2``, ``F6``, ``F12``: weeks after the course). A follow-up row has no dose and no side
  effects. In a :class:`CohortRow` a course row has ``day`` set and ``follow_up_week``
  ``None``; a follow-up row the reverse. :attr:`CohortRow.label` gives back the cell text.
- Dates are ISO 8601 (``YYYY-MM-DD``). ``sex`` is ``F`` or ``M`` (``female`` and ``male``
  and any case are read too, and written as ``F``/``M``).
- Numbers may be empty (missing data); they are written without needless decimals
  (``7``, not ``7.0``) and read back to the same float.
- ``side_effects`` is a ``;``-separated list from :data:`SIDE_EFFECTS`, empty for none.

:func:`read_cohort` accepts UTF-8 with or without a byte order mark and CRLF or LF line
ends; :func:`write_cohort` writes UTF-8 text with LF line ends and no byte order mark. Either
refuses the whole file with one :class:`CohortError` naming the row (the header is row 1) and
the column: ``row 14, column worst_pain: 11 is outside 0-10``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any

from monitor.domain.errors import MonitorError
from monitor.records.vocabulary import JOURNAL_FIELDS, JOURNAL_SCALES, SIDE_EFFECTS

COLUMNS = ("patient", "sex", "birth_date", "weight_kg", "height_cm", "day", "date", "dose_mg",
           *JOURNAL_FIELDS, "side_effects")
"""The research CSV's columns, in order."""

COURSE_DAYS = 10
"""Infusions in a course (weekdays over two weeks)."""

MAX_FOLLOW_UP_WEEK = 520
"""The latest follow-up journal accepted, in weeks after the course (ten years)."""

_SEXES = {"f": "F", "female": "F", "m": "M", "male": "M"}
_LIMITS = {"weight_kg": 500.0, "height_cm": 300.0, "dose_mg": 1000.0}
"""Upper bounds that catch a unit or typing slip (all three must also be above 0)."""

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_DAY = re.compile(r"(\d+)|[Ff](\d+)", re.ASCII)
_FORMULA_START = ("=", "+", "-", "@")


class CohortError(MonitorError, ValueError):
    """A research CSV (or rows to write as one) that is refused as a whole.

    Examples: a missing ``worst_pain`` column, a pain score of 11, ``2024-02-30``, an unknown
    side effect, the same patient's day 3 twice, a file in Latin-1.

    Attributes:
        row: the row at fault (the header is row 1), or ``None`` for the file as a whole.
        column: the column at fault, or ``None``.
        problem: what is wrong, without the place.
    """

    def __init__(self, problem: str, row: int | None = None, column: str | None = None):
        place = ", ".join(p for p in (f"row {row}" if row is not None else "",
                                      f"column {column}" if column else "") if p)
        super().__init__(f"{place}: {problem}" if place else problem)
        self.row = row
        self.column = column
        self.problem = problem


class _FieldError(ValueError):
    """One field of a :class:`CohortRow` is invalid; read_cohort adds the row number."""

    def __init__(self, column: str, problem: str):
        super().__init__(f"column {column}: {problem}")
        self.column = column
        self.problem = problem


def format_number(value: float) -> str:
    """A number as the CSV writes it: the shortest text that reads back to the same float,
    without a needless ``.0`` (``7``, ``7.5``, ``0.1``)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _number(column: str, value: Any, low: float, high: float, above_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _FieldError(column, f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise _FieldError(column, f"{value!r} is not a number")
    if above_low and not low < number <= high:
        raise _FieldError(column, f"{format_number(number)} must be above "
                                  f"{format_number(low)} and at most {format_number(high)}")
    if not above_low and not low <= number <= high:
        raise _FieldError(column, f"{format_number(number)} is outside "
                                  f"{format_number(low)}-{format_number(high)}")
    return number


def _date(column: str, value: Any) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise _FieldError(column, f"{value!r} is not a date")
    return value


@dataclass(frozen=True, slots=True)
class CohortRow:
    """One patient's journal on one course day (or one follow-up), with who the patient is.

    Fields are the CSV's columns in order, then ``follow_up_week``. A course row has
    ``day`` 1-10 and ``follow_up_week`` ``None``; a follow-up row has ``day`` ``None`` and
    ``follow_up_week`` (weeks after the course, 1-520), and no dose or side effects.
    Construction normalises (``sex`` ``"female"`` -> ``"F"``, side effects lower-case and
    trimmed, numbers to float) and validates one row; :func:`read_cohort` and
    :func:`write_cohort` add the checks across rows.

    Raises:
        ValueError: a field is invalid (the message names the column).
    """

    patient: str
    sex: str
    birth_date: dt.date
    weight_kg: float | None
    height_cm: float | None
    day: int | None
    date: dt.date
    dose_mg: float | None = None
    pain: float | None = None
    worst_pain: float | None = None
    least_pain: float | None = None
    pain_24h: float | None = None
    affective: float | None = None
    punishing: float | None = None
    movement: float | None = None
    relief_percent: float | None = None
    side_effects: tuple[str, ...] = ()
    follow_up_week: int | None = None

    def __post_init__(self) -> None:
        self._set("patient", _patient(self.patient))
        self._set("sex", _sex(self.sex))
        _date("birth_date", self.birth_date)
        for name in ("weight_kg", "height_cm"):
            self._set_number(name, 0.0, _LIMITS[name], above_low=True)
        self._check_day()
        _date("date", self.date)
        if self.birth_date > self.date:
            raise _FieldError("birth_date", f"{self.birth_date.isoformat()} is after the "
                                            f"row's date {self.date.isoformat()}")
        if self.dose_mg is not None and self.follow_up_week is not None:
            raise _FieldError("dose_mg", f"a follow-up row ({self.label}) has no dose")
        self._set_number("dose_mg", 0.0, _LIMITS["dose_mg"], above_low=True)
        for name in JOURNAL_FIELDS:
            low, high = JOURNAL_SCALES[name].range
            self._set_number(name, low, high)
        if (self.worst_pain is not None and self.least_pain is not None
                and self.worst_pain < self.least_pain):
            raise _FieldError("worst_pain", f"{format_number(self.worst_pain)} is below "
                                            f"least_pain {format_number(self.least_pain)}")
        self._set("side_effects", _side_effects(self.side_effects))
        if self.side_effects and self.follow_up_week is not None:
            raise _FieldError("side_effects", f"a follow-up row ({self.label}) has no "
                                              "side effects")

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _set_number(self, name: str, low: float, high: float, above_low: bool = False) -> None:
        value = getattr(self, name)
        if value is not None:
            self._set(name, _number(name, value, low, high, above_low))

    def _check_day(self) -> None:
        day, week = self.day, self.follow_up_week
        if (day is None) == (week is None):
            raise _FieldError("day", "give either a course day or a follow-up week")
        if day is not None and (isinstance(day, bool) or not isinstance(day, int)
                                or not 1 <= day <= COURSE_DAYS):
            raise _FieldError("day", f"{day!r} is not a course day 1-{COURSE_DAYS}")
        if week is not None and (isinstance(week, bool) or not isinstance(week, int)
                                 or not 1 <= week <= MAX_FOLLOW_UP_WEEK):
            raise _FieldError("day", f"{week!r} is not a follow-up week "
                                     f"1-{MAX_FOLLOW_UP_WEEK}")

    @property
    def is_follow_up(self) -> bool:
        """Whether this is a follow-up journal after the course rather than a course day."""
        return self.follow_up_week is not None

    @property
    def label(self) -> str:
        """The ``day`` cell: ``"1"`` to ``"10"``, or ``"F2"`` for a follow-up at two weeks."""
        return str(self.day) if self.follow_up_week is None else f"F{self.follow_up_week}"


def _patient(value: Any) -> str:
    if not isinstance(value, str):
        raise _FieldError("patient", f"{value!r} is not text")
    text = value.strip()
    if not text:
        raise _FieldError("patient", "the patient is missing")
    if len(text) > 64 or not text.isprintable():
        raise _FieldError("patient", f"{text[:64]!r} is not an identifier (printable, "
                                     "at most 64 characters)")
    if text.startswith(_FORMULA_START):
        # A spreadsheet opening the file would run such a cell as a formula.
        raise _FieldError("patient", f"{text!r} may not start with "
                                     f"{', '.join(_FORMULA_START)}")
    return text


def _sex(value: Any) -> str:
    if not isinstance(value, str):
        raise _FieldError("sex", f"{value!r} is not F or M (female or male)")
    text = value.strip().lower()
    if not text:
        raise _FieldError("sex", "the sex is missing")
    if text not in _SEXES:
        raise _FieldError("sex", f"{value!r} is not F or M (female or male)")
    return _SEXES[text]


def _side_effects(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise _FieldError("side_effects", f"{value!r} is not a list of side effects")
    effects: list[str] = []
    for item in value:
        effect = item.strip().lower() if isinstance(item, str) else item
        if effect not in SIDE_EFFECTS:
            raise _FieldError("side_effects", f"{item!r} is not a known side effect "
                                              f"({', '.join(SIDE_EFFECTS)})")
        if effect in effects:
            raise _FieldError("side_effects", f"{effect} is listed twice")
        effects.append(effect)
    return tuple(effects)


# -- reading ---------------------------------------------------------------------------------

def _parse_number(column: str, text: str) -> float | None:
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise _FieldError(column, f"{text!r} is not a number")
    return float(text)


def _parse_date(column: str, text: str) -> dt.date:
    if not text:
        raise _FieldError(column, "the date is missing")
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _FieldError(column, f"{text!r} is not a date (YYYY-MM-DD)") from None


def _parse_day(text: str) -> tuple[int | None, int | None]:
    match = _DAY.fullmatch(text)
    if match and match.group(1):
        return int(match.group(1)), None
    if match:
        return None, int(match.group(2))
    if not text:
        raise _FieldError("day", "the day is missing")
    raise _FieldError("day", f"{text!r} is not a course day 1-{COURSE_DAYS} or a "
                             "follow-up week F<weeks>")


def _parse_row(cells: list[str]) -> CohortRow:
    cell = dict(zip(COLUMNS, (c.strip() for c in cells), strict=True))
    day, week = _parse_day(cell["day"])
    numbers = {name: _parse_number(name, cell[name])
               for name in ("weight_kg", "height_cm", "dose_mg", *JOURNAL_FIELDS)}
    return CohortRow(
        patient=cell["patient"], sex=cell["sex"],
        birth_date=_parse_date("birth_date", cell["birth_date"]),
        day=day, follow_up_week=week, date=_parse_date("date", cell["date"]),
        side_effects=tuple(e for e in cell["side_effects"].split(";") if e.strip()),
        **numbers,
    )


def _text(source: str | bytes | os.PathLike[str] | IO[str] | IO[bytes]) -> str:
    if isinstance(source, os.PathLike):
        with open(source, "rb") as file:
            source = file.read()
    elif not isinstance(source, str | bytes):
        try:
            source = source.read()
        except UnicodeDecodeError as exc:
            raise CohortError(f"the file is not UTF-8 text ({exc.reason})") from None
    if isinstance(source, str):
        return source.removeprefix("\ufeff")
    try:
        return source.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = source.count(b"\n", 0, exc.start) + 1
        bad = source[exc.start:exc.start + 1].hex()
        raise CohortError(f"the file is not UTF-8 text (byte 0x{bad} at offset {exc.start})",
                          row=row) from None


def _check_header(cells: list[str] | None) -> None:
    names = [c.strip().lower() for c in cells or []]
    if not any(names):
        raise CohortError(f"the header is missing; it must be {','.join(COLUMNS)}", row=1)
    for index, expected in enumerate(COLUMNS):
        if index >= len(names):
            raise CohortError(f"column {expected} is missing", row=1)
        if names[index] != expected:
            found = cells[index].strip() if cells else ""
            where = " (out of order)" if expected in names else ""
            raise CohortError(f"expected column {expected}{where}, found {found!r}",
                              row=1, column=expected)
    if len(names) > len(COLUMNS):
        extra = names[len(COLUMNS)]
        raise CohortError(f"unexpected column {extra!r} after {COLUMNS[-1]}", row=1)


def read_cohort(source: str | bytes | os.PathLike[str] | IO[str] | IO[bytes]
                ) -> list[CohortRow]:
    """Read a research CSV.

    Args:
        source: the CSV as text or UTF-8 bytes, a path, or an open file (text or binary).
            Blank lines are skipped (they still count in row numbers).

    Returns:
        The rows, in file order.

    Raises:
        CohortError: the first problem found, naming the row and the column; nothing is
            returned from a file with any problem.
    """
    reader = csv.reader(io.StringIO(_text(source), newline=""), strict=True)
    ledger = _Ledger()
    rows: list[CohortRow] = []
    number = 0
    try:
        header = next(reader, None)
        _check_header(header)
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(COLUMNS):
                raise CohortError(f"{len(cells)} cells, the header has {len(COLUMNS)}",
                                  row=number)
            try:
                row = _parse_row(cells)
            except _FieldError as exc:
                raise CohortError(exc.problem, row=number, column=exc.column) from None
            ledger.add(row, number)
            rows.append(row)
    except csv.Error as exc:
        raise CohortError(f"not a valid CSV ({exc})", row=number + 1) from None
    return rows


# -- writing and the checks across rows ------------------------------------------------------

class _Ledger:
    """What earlier rows said, to refuse a row that contradicts them."""

    def __init__(self) -> None:
        self._days: dict[tuple[str, str], int] = {}
        self._dates: dict[tuple[str, dt.date], tuple[str, int]] = {}
        self._people: dict[str, tuple[str, dt.date, int]] = {}

    def add(self, row: CohortRow, number: int) -> None:
        """Record a row, or raise CohortError if it contradicts an earlier one."""
        first = self._days.setdefault((row.patient, row.label), number)
        if first != number:
            what = f"follow-up {row.label}" if row.is_follow_up else f"day {row.label}"
            raise CohortError(f"patient {row.patient} has {what} on row {first} already",
                              row=number, column="day")
        sex, birth, first = self._people.setdefault(row.patient,
                                                    (row.sex, row.birth_date, number))
        if row.sex != sex:
            raise CohortError(f"patient {row.patient} is {sex} on row {first}",
                              row=number, column="sex")
        if row.birth_date != birth:
            raise CohortError(f"patient {row.patient} was born {birth.isoformat()} on row "
                              f"{first}", row=number, column="birth_date")
        if not row.is_follow_up:
            label, first = self._dates.setdefault((row.patient, row.date), (row.label, number))
            if first != number:
                raise CohortError(f"patient {row.patient} has day {label} on "
                                  f"{row.date.isoformat()} already (row {first})",
                                  row=number, column="date")


def _cells(row: CohortRow) -> list[str]:
    def number(value: float | None) -> str:
        return "" if value is None else format_number(value)

    return [row.patient, row.sex, row.birth_date.isoformat(), number(row.weight_kg),
            number(row.height_cm), row.label, row.date.isoformat(), number(row.dose_mg),
            *(number(getattr(row, name)) for name in JOURNAL_FIELDS),
            ";".join(row.side_effects)]


def write_cohort(rows: Iterable[CohortRow]) -> str:
    """Write rows as a research CSV; :func:`read_cohort` gives the same rows back.

    Args:
        rows: the rows, written in this order.

    Returns:
        The CSV text (LF line ends, no byte order mark).

    Raises:
        CohortError: rows that contradict each other (the same patient and day twice, two
            sexes for one patient...), naming the row as it would be in the file.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    ledger = _Ledger()
    for number, row in enumerate(rows, start=2):
        ledger.add(row, number)
        writer.writerow(_cells(row))
    return out.getvalue()
