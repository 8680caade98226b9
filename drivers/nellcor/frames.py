"""Wire format of the Nellcor N-395/N-560/N-595 ASCII real-time printout: one line per 2 s.

The data port prints a header block, repeated now and then, and a data line every 2 s::

    N-560    VERSION 1.61.00    CRC:XXXX  SpO2 Limit: 95-100%    PR Limit: 59-148BPM
                                 ADULT           25SAT-S
    TIME                 %SpO2   BPM     PA     Status
    07-Jan-04 11:24:50   100     105      88                   AO

Header line 1 (:class:`VersionLine`) names the model, firmware and alarm limits ("CRC" is the
firmware's, not a line check); line 2 (:class:`SettingsLine`) the limit set and SatSeconds;
line 3 (:class:`ColumnsLine`) titles the columns. A :class:`DataLine` holds the device
clock, SpO2, pulse rate (BPM), relative pulse amplitude (PA) and two-letter status codes.
A value is ``---`` when unavailable and ends in ``*`` when outside the alarm limits.

Columns differ between models, so lines are read by tokens and the white space between
them is kept only to serialize back byte for byte. Lines end in CR LF.
"""

from __future__ import annotations

import calendar
import re
import time as _time
from dataclasses import dataclass
from typing import ClassVar, Self

from monitor.domain.errors import FrameError
from monitor.domain.models import Flag

SERIAL = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}
"""Line parameters of the data port: 9600 8N1, no handshake."""

TERMINATOR = b"\r\n"
MAX_LINE = 200
"""Longer lines are garbage: real lines are about 80 characters."""

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {m.upper(): i + 1 for i, m in enumerate(MONTHS)}

STATUS_CODES: dict[str, str] = {
    "AO": "alarm off",
    "AS": "alarm silenced",
    "LB": "low battery",
    "LM": "loss of pulse with motion",
    "LP": "loss of pulse",
    "MO": "motion",
    "PH": "pulse rate upper limit alarm",
    "PL": "pulse rate lower limit alarm",
    "PS": "pulse search",
    "SH": "SpO2 upper limit alarm",
    "SL": "SpO2 lower limit alarm",
    "SD": "sensor disconnect",
    "SO": "sensor off",
}
"""Status codes of the data line and their meaning."""

STATUS_FLAGS: dict[str, frozenset[str]] = {
    # "Alarm off" silences the audible alarm for good, so it is reported like "silenced":
    # either way the bedside device will not sound.
    "AO": frozenset({Flag.ALARM_SILENCED}),
    "AS": frozenset({Flag.ALARM_SILENCED}),
    "LB": frozenset({Flag.LOW_BATTERY}),
    "LM": frozenset({Flag.LOSS_OF_PULSE, Flag.MOTION}),
    "LP": frozenset({Flag.LOSS_OF_PULSE}),
    "MO": frozenset({Flag.MOTION}),
    "PS": frozenset({Flag.PULSE_SEARCH}),
    "SD": frozenset({Flag.SENSOR_DISCONNECT}),
    "SO": frozenset({Flag.SENSOR_OFF}),
}
"""Flags a status code puts on every value of its line."""

SPO2_LIMIT_CODES = frozenset({"SH", "SL"})
PR_LIMIT_CODES = frozenset({"PH", "PL"})

STATUS_SLOTS: tuple[tuple[str, ...], ...] = (
    ("MO", "LM", "LP", "PS"),
    ("SD", "SO"),
    ("SH", "SL"),
    ("PH", "PL"),
    ("LB",),
    ("AO", "AS"),
)
"""Three-character status columns of the N-560 printout, from column 44. Only the places of
MO (first) and AO (last) are seen in the real capture; the others are a guess. Parsing
never relies on them."""

_DATE_RE = re.compile(r"^(\d\d)-([A-Za-z]{3})-(\d\d)$")
_CLOCK_RE = re.compile(r"^(\d\d):(\d\d):(\d\d)$")
_VALUE_RE = re.compile(r"^(\d{1,3}|---)\*?$")
_STATUS_RE = re.compile(r"^[A-Z]{2}$")
_TOKEN_RE = re.compile(r"\S+")
START_RE = re.compile(rb"\d\d-[A-Za-z]{3}-\d\d \d\d:\d\d:\d\d")
"""Start of a data line, to resynchronise inside a garbled line."""

_VERSION_RE = re.compile(
    r"^\s*(?P<model>\S+)\s+VERSION\s+(?P<version>\S+)\s+CRC:\s*(?P<crc>\S+)\s+"
    r"SpO2\s+Limit:\s*(?P<spo2_lo>\d{1,3})-(?P<spo2_hi>\d{1,3})%\s+"
    r"PR\s+Limit:\s*(?P<pr_lo>\d{1,3})-(?P<pr_hi>\d{1,3})\s*BPM\s*$",
    re.IGNORECASE,
)
_SETTINGS_RE = re.compile(
    r"^\s+(?P<limit_set>[A-Za-z]+)\s+(?P<sat_seconds>\d{1,3})\s*SAT-S"
    r"(?:\s+SPO2\s+RESP\s+MODE:\s*(?P<resp_mode>[A-Za-z]+))?\s*$",
    re.IGNORECASE,
)
_COLUMNS_RE = re.compile(r"^\s*TIME\s+%SpO2\s+BPM\s+PA\s+Status\s*$", re.IGNORECASE)


def _decode(line: bytes) -> str:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        raise FrameError("non-ASCII bytes in line") from exc
    if not text.isprintable():
        raise FrameError("control characters in line")
    return text


@dataclass(frozen=True, slots=True)
class _HeaderLine:
    """A header line, kept as sent so that it serializes back byte for byte.

    Attributes:
        text: the line as sent, without terminator.
    """

    text: str
    _pattern: ClassVar[re.Pattern[str]]
    _what: ClassVar[str]

    @classmethod
    def parse(cls, line: bytes) -> Self:
        """Parse one line without terminator.

        Raises:
            FrameError: not a line of this kind.
        """
        text = _decode(line)
        if not cls._pattern.match(text):
            raise FrameError(f"not a Nellcor {cls._what}")
        return cls(text)

    def serialize(self) -> bytes:
        """The line's bytes, without terminator."""
        return self.text.encode("ascii")


@dataclass(frozen=True, slots=True)
class VersionLine(_HeaderLine):
    """Header line 1: model, firmware version, firmware CRC and alarm limits."""

    _pattern: ClassVar[re.Pattern[str]] = _VERSION_RE
    _what: ClassVar[str] = "version line"

    @classmethod
    def build(cls, model: str, version: str, spo2_limits: tuple[int, int],
              pr_limits: tuple[int, int], crc: str = "XXXX") -> VersionLine:
        """Format the line in the N-560 layout."""
        spo2 = f"{spo2_limits[0]}-{spo2_limits[1]}%"
        pr = f"{pr_limits[0]}-{pr_limits[1]}BPM"
        return cls(f"{model:<8} VERSION {version:<10} CRC:{crc:<4}  SpO2 Limit: {spo2:<10} "
                   f"PR Limit: {pr}")

    def _group(self, name: str) -> str:
        m = _VERSION_RE.match(self.text)
        if m is None:
            raise ValueError(f"not a version line: {self.text!r}")
        return m.group(name)

    @property
    def model(self) -> str:
        """Model name, ``N-560``."""
        return self._group("model")

    @property
    def version(self) -> str:
        """Firmware version, ``1.61.00``."""
        return self._group("version")

    @property
    def spo2_limits(self) -> tuple[int, int]:
        """SpO2 alarm limits (low, high), %."""
        return int(self._group("spo2_lo")), int(self._group("spo2_hi"))

    @property
    def pr_limits(self) -> tuple[int, int]:
        """Pulse-rate alarm limits (low, high), /min."""
        return int(self._group("pr_lo")), int(self._group("pr_hi"))


@dataclass(frozen=True, slots=True)
class SettingsLine(_HeaderLine):
    """Header line 2, indented: limit set (ADULT, NEO), SatSeconds, optional response mode."""

    _pattern: ClassVar[re.Pattern[str]] = _SETTINGS_RE
    _what: ClassVar[str] = "settings line"

    @classmethod
    def build(cls, limit_set: str = "ADULT", sat_seconds: int = 0) -> SettingsLine:
        """Format the line in the N-560 layout."""
        return cls(f"{'':29}{limit_set:<14}{f'{sat_seconds}SAT-S':>9}")

    def _match(self) -> re.Match[str]:
        m = _SETTINGS_RE.match(self.text)
        if m is None:
            raise ValueError(f"not a settings line: {self.text!r}")
        return m

    @property
    def limit_set(self) -> str:
        """``ADULT`` or ``NEO``: the alarm limit set in use."""
        return self._match().group("limit_set").upper()

    @property
    def sat_seconds(self) -> int:
        """SatSeconds alarm management setting (0 = off)."""
        return int(self._match().group("sat_seconds"))

    @property
    def resp_mode(self) -> str | None:
        """``NORMAL`` or ``FAST`` response mode, when the model prints it."""
        mode = self._match().group("resp_mode")
        return None if mode is None else mode.upper()


@dataclass(frozen=True, slots=True)
class ColumnsLine(_HeaderLine):
    """Header line 3: the column titles.

    Attributes:
        text: the line as sent, without terminator.
    """

    text: str = "TIME                 %SpO2   BPM     PA     Status"

    _pattern: ClassVar[re.Pattern[str]] = _COLUMNS_RE
    _what: ClassVar[str] = "column title line"


@dataclass(frozen=True, slots=True)
class DataLine:
    """One data line, kept as raw tokens so that it serializes back byte for byte.

    Attributes:
        date: ``dd-MMM-yy`` as sent.
        clock: ``HH:MM:SS`` as sent.
        spo2, bpm, pa: raw values: digits or ``---``, maybe followed by ``*``.
        status: two-letter status codes in order.
        gaps: the white space before each token and after the last (one more than the
            tokens); empty for single spaces.
    """

    date: str
    clock: str
    spo2: str
    bpm: str
    pa: str
    status: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.gaps and len(self.gaps) != len(self.tokens) + 1:
            raise ValueError("gaps needs one entry more than there are tokens")

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every token of the line in order."""
        return (self.date, self.clock, self.spo2, self.bpm, self.pa, *self.status)

    @classmethod
    def parse(cls, line: bytes) -> DataLine:
        """Parse one line without terminator.

        Raises:
            FrameError: not a data line.
        """
        text = _decode(line)
        tokens = _TOKEN_RE.findall(text)
        if len(tokens) < 5:
            raise FrameError("data line has fewer than 5 fields")
        date, clock, spo2, bpm, pa, *status = tokens
        if not _DATE_RE.match(date) or date[3:6].upper() not in _MONTH_NUMBER:
            raise FrameError(f"bad date {date[:12]!r}")
        if not _CLOCK_RE.match(clock):
            raise FrameError(f"bad time {clock[:12]!r}")
        for value in (spo2, bpm, pa):
            if not _VALUE_RE.match(value):
                raise FrameError(f"bad value {value[:12]!r}")
        for code in status:
            if not _STATUS_RE.match(code):
                raise FrameError(f"bad status code {code[:12]!r}")
        gaps = tuple(re.split(r"\S+", text))
        return cls(date, clock, spo2, bpm, pa, tuple(status), gaps)

    def serialize(self) -> bytes:
        """The line's bytes, without terminator."""
        tokens = self.tokens
        if not self.gaps:
            return " ".join(tokens).encode("ascii")
        parts = [self.gaps[0]]
        for token, gap in zip(tokens, self.gaps[1:], strict=True):
            parts += [token, gap]
        return "".join(parts).encode("ascii")

    @classmethod
    def build(cls, when: float, spo2: float | None, bpm: float | None, pa: float | None,
              status: tuple[str, ...] = (), spo2_star: bool = False, bpm_star: bool = False
              ) -> DataLine:
        """Format a line in the N-560 column layout (as the real capture shows).

        Args:
            when: POSIX seconds shown on the device clock (UTC).
            spo2, bpm, pa: values, None for ``---``.
            status: status codes; each goes to its column (:data:`STATUS_SLOTS`).
            spo2_star, bpm_star: mark the value as outside its alarm limits.
        """
        tm = _time.gmtime(when)
        date = f"{tm.tm_mday:02d}-{MONTHS[tm.tm_mon - 1]}-{tm.tm_year % 100:02d}"
        clock = f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"

        def fmt(value: float | None, star: bool = False) -> str:
            return ("---" if value is None else str(round(value))) + ("*" if star else "")

        # Right-aligned 3-wide number columns ending at 23, 31 and 39, the star after them.
        cells = [(fmt(spo2, spo2_star), 21), (fmt(bpm, bpm_star), 29), (fmt(pa), 37)]
        text = f"{date} {clock}"
        tokens = [date, clock]
        gaps = ["", " "]
        for cell, column in cells:
            digits = cell.rstrip("*")
            pad = column + 3 - len(digits) - len(text)
            gaps.append(" " * max(pad, 1))
            text += gaps[-1] + cell
            tokens.append(cell)
        for code in _order_status(status):
            column = 44 + 3 * _slot(code)
            gaps.append(" " * max(column - len(text), 1))
            text += gaps[-1] + code
        gaps.append("")
        return cls(date, clock, tokens[2], tokens[3], tokens[4], _order_status(status),
                   tuple(gaps))

    @property
    def layout(self) -> tuple[int, ...]:
        """Where the SpO2, BPM and PA digits end, in characters from the date's start.

        The device right-aligns each value in its column, so two undamaged lines of one
        device have equal layouts whatever their values (one printing single spaces
        changes it only when a value gains or loses a digit); a lost byte shifts it.
        """
        gaps = self.gaps or ("",) + (" ",) * len(self.tokens)
        ends = []
        col = 0
        for i, token in enumerate(self.tokens[:5]):
            if i:
                col += len(gaps[i])
            col += len(token)
            ends.append(col - len(token) + len(token.rstrip("*")))
        return tuple(ends[2:])

    # -- typed access -----------------------------------------------------------------------

    @staticmethod
    def number(raw: str) -> float | None:
        """A raw value as a number; None for ``---``."""
        digits = raw.rstrip("*")
        return None if not digits.isdigit() else float(digits)

    @staticmethod
    def starred(raw: str) -> bool:
        """True when the raw value is marked outside its alarm limits."""
        return raw.endswith("*")

    @property
    def device_time(self) -> float:
        """The device clock as POSIX seconds, read as UTC (0.0 if the date is impossible)."""
        d, mon, y = _DATE_RE.match(self.date).groups()  # type: ignore[union-attr]
        hh, mm, ss = (int(g) for g in _CLOCK_RE.match(self.clock).groups())  # type: ignore[union-attr]
        year = int(y) + (1900 if int(y) >= 70 else 2000)  # the N-200 era printed 97, 98...
        try:
            return float(calendar.timegm(
                (year, _MONTH_NUMBER[mon.upper()], int(d), hh, mm, ss, 0, 0, 0)))
        except (ValueError, OverflowError, KeyError):
            return 0.0


def _slot(code: str) -> int:
    for i, codes in enumerate(STATUS_SLOTS):
        if code in codes:
            return i
    return len(STATUS_SLOTS)


def _order_status(status: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(status, key=_slot))


Line = VersionLine | SettingsLine | ColumnsLine | DataLine
"""Any line of the printout."""


def parse_line(line: bytes) -> Line:
    """Parse one line, whichever kind it is.

    Raises:
        FrameError: no kind of Nellcor line.
    """
    if START_RE.match(line.lstrip()):
        return DataLine.parse(line)
    for kind in (VersionLine, SettingsLine, ColumnsLine):
        try:
            return kind.parse(line)
        except FrameError:
            continue
    raise FrameError("not a Nellcor line")


def find_line_start(line: bytes) -> int:
    """Index of the first data-line timestamp in ``line``, or -1."""
    m = START_RE.search(line)
    return -1 if m is None else m.start()
