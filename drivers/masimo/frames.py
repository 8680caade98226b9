"""Wire format of Masimo "ASCII 1": one CR LF terminated line per second.

A line is a date and a time then space-separated ``KEY=VALUE`` tokens, for example
(one line on the wire, folded here)::

    02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% SPMET=--.-%
    DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800

The token set depends on the model and firmware, so tokens are read by key, never by
position. A value containing ``-`` means "no data". ``EXC`` and ``ALARM`` are hex bit fields.
:meth:`Record.parse` and :meth:`Record.serialize` are exact inverses.
"""

from __future__ import annotations

import calendar
import re
import time as _time
from dataclasses import dataclass, field

from monitor.domain.errors import FrameError
from monitor.domain.models import Flag

SERIAL = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}
"""Line parameters from the Rad-8 manual: 9600 8N1, no handshake."""

TERMINATOR = b"\r\n"
MAX_LINE = 512
"""Longer lines are garbage: real lines are under 250 characters."""

# Exception bits (Rad-8 operator's manual, trend format).
EXC_NO_SENSOR = 0x001
EXC_DEFECTIVE_SENSOR = 0x002
EXC_LOW_PERFUSION = 0x004
EXC_PULSE_SEARCH = 0x008
EXC_INTERFERENCE = 0x010
EXC_SENSOR_OFF = 0x020
EXC_AMBIENT_LIGHT = 0x040
EXC_UNRECOGNIZED_SENSOR = 0x080
EXC_LOW_SIGNAL_IQ = 0x400
EXC_SET = 0x800  # "Masimo SET" mode: normal when reading well

EXC_FLAGS: dict[int, Flag] = {
    EXC_NO_SENSOR: Flag.NO_SENSOR,
    EXC_DEFECTIVE_SENSOR: Flag.DEFECTIVE_SENSOR,
    EXC_LOW_PERFUSION: Flag.LOW_PERFUSION,
    EXC_PULSE_SEARCH: Flag.PULSE_SEARCH,
    EXC_INTERFERENCE: Flag.INTERFERENCE,
    EXC_SENSOR_OFF: Flag.SENSOR_OFF,
    EXC_AMBIENT_LIGHT: Flag.AMBIENT_LIGHT,
    EXC_UNRECOGNIZED_SENSOR: Flag.UNRECOGNIZED_SENSOR,
    EXC_LOW_SIGNAL_IQ: Flag.LOW_SIGNAL_IQ,
}

# ALARM bits: unpublished by Masimo, reverse-engineered on a Rad-8.
ALARM_SPO2_HIGH = 0x01
ALARM_SPO2_LOW = 0x02
ALARM_PULSE_HIGH = 0x04
ALARM_PULSE_LOW = 0x08
ALARM_ACTIVE = 0x10
ALARM_MUTED = 0x20

TIMESTAMP_RE = re.compile(rb"\d\d/\d\d/\d\d \d\d:\d\d:\d\d")
_SHAPE = re.compile(r"[0-9A-Fa-f+-]")
_TIMESTAMP_STR_RE = re.compile(r"^(\d\d)/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)$")

MODEL_TOKENS: dict[str, tuple[str, ...]] = {
    "rad8": (
        "SN", "SPO2", "BPM", "PI", "SPCO", "SPMET", "DESAT", "PIDELTA", "ALARM", "EXC",
    ),
    "radical7": (
        "SN", "SPO2", "BPM", "PI", "SPCO", "SPMET", "DESAT", "PIDELTA", "PVI", "ALARM", "EXC",
    ),
    "radical7_color": (
        "SN", "SPO2", "BPM", "PI", "SPCO", "SPMET", "SPHB", "SPOC", "RESVD", "DESAT",
        "PIDELTA", "PVI", "ALARM", "EXC", "EXC1",
    ),
}
"""Token order each model sends (from public captures)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One ASCII 1 line, kept as its raw tokens so that it serializes back byte for byte.

    Attributes:
        date: ``MM/DD/YY`` as sent.
        clock: ``HH:MM:SS`` as sent.
        tokens: ``(key, raw value)`` pairs in order.
        separator: the white space between tokens (one space on every known model).
    """

    date: str
    clock: str
    tokens: tuple[tuple[str, str], ...]
    separator: str = " "
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update(self.tokens)

    # -- wire -----------------------------------------------------------------------------

    @classmethod
    def parse(cls, line: bytes) -> Record:
        """Parse one line without its terminator.

        Raises:
            FrameError: not an ASCII 1 record.
        """
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError as exc:
            raise FrameError("non-ASCII bytes in line") from exc
        parts = text.split(" ")
        if len(parts) < 3 or not _TIMESTAMP_STR_RE.match(f"{parts[0]} {parts[1]}"):
            raise FrameError("line does not start with MM/DD/YY HH:MM:SS")
        tokens: list[tuple[str, str]] = []
        for part in parts[2:]:
            key, sep, value = part.partition("=")
            if not sep or not key or not key.isalnum() or not key.isupper():
                raise FrameError(f"malformed token {part[:20]!r}")
            if not value.isprintable():
                raise FrameError("unprintable characters in value")
            tokens.append((key, value))
        keys = {k for k, _ in tokens}
        if "SPO2" not in keys or "BPM" not in keys:
            raise FrameError("line lacks SPO2= or BPM=")
        if len(keys) != len(tokens):
            raise FrameError("duplicate key in line")
        return cls(parts[0], parts[1], tuple(tokens))

    def serialize(self) -> bytes:
        """The line's bytes, without terminator."""
        body = self.separator.join(f"{k}={v}" for k, v in self.tokens)
        return f"{self.date} {self.clock} {body}".encode("ascii")

    # -- typed access -----------------------------------------------------------------------

    @property
    def layout(self) -> tuple[tuple[str, str], ...]:
        """The keys in order, each with the shape of its value (digits, hex digits and
        ``+``/``-`` as ``#``): equal for two undamaged lines of one device, whatever
        their values, since the device prints fixed-width values (``---%`` for ``098%``).
        """
        return tuple((key, _SHAPE.sub("#", value)) for key, value in self.tokens)

    def raw(self, key: str) -> str | None:
        """Raw value of ``key``, or None when the model does not send it."""
        return self._index.get(key)

    def number(self, key: str) -> float | None:
        """Numeric value of ``key``; None when absent or "no data" (any ``-``)."""
        raw = self._index.get(key)
        if raw is None:
            return None
        text = raw.rstrip("%")
        if "-" in text or not text:
            return None
        try:
            return float(text)
        except ValueError:
            return None

    def bits(self, key: str) -> int:
        """Hex bit field ``key`` as an int (0 when absent or unreadable)."""
        raw = self._index.get(key)
        if not raw:
            return 0
        try:
            return int(raw, 16)
        except ValueError:
            return 0

    @property
    def device_time(self) -> float:
        """The device clock as POSIX seconds, read as UTC."""
        m = _TIMESTAMP_STR_RE.match(f"{self.date} {self.clock}")
        assert m is not None  # parse() checked it
        month, day, year, hh, mm, ss = (int(g) for g in m.groups())
        try:
            return float(calendar.timegm((2000 + year, month, day, hh, mm, ss, 0, 0, 0)))
        except (ValueError, OverflowError):
            return 0.0

    @property
    def model(self) -> str:
        """Best guess of the model family from the tokens present."""
        if "EXC1" in self._index or "SPHB" in self._index:
            return "radical7_color"
        if "PVI" in self._index:
            return "radical7"
        return "rad8"

    def flags(self) -> frozenset[str]:
        """Quality flags from ``EXC``."""
        exc = self.bits("EXC")
        return frozenset(flag for bit, flag in EXC_FLAGS.items() if exc & bit)

    # -- building (the simulator side) -----------------------------------------------------

    @classmethod
    def build(
        cls,
        when: float,
        spo2: float | None,
        bpm: float | None,
        pi: float | None = None,
        exc: int = EXC_SET,
        alarm: int = 0,
        serial_number: str | None = "0000056661",
        model: str = "rad8",
        pvi: float | None = None,
    ) -> Record:
        """Format a record as the device would.

        Args:
            when: POSIX seconds shown on the device clock (UTC).
            spo2, bpm, pi, pvi: values, None for "no data".
            exc, alarm: bit fields.
            serial_number: up to 10 digits, None for unknown.
            model: a key of :data:`MODEL_TOKENS`.
        """
        if model not in MODEL_TOKENS:
            raise ValueError(f"unknown Masimo model {model!r}")
        tm = _time.gmtime(when)
        alarm_digits = 6 if model == "radical7_color" else 4
        exc_digits = 7 if model == "radical7_color" else 6
        values = {
            "SN": "----------" if serial_number is None else serial_number.zfill(10)[:10],
            "SPO2": "---%" if spo2 is None else f"{round(spo2):03d}%",
            "BPM": "---" if bpm is None else f"{round(bpm):03d}",
            "PI": "--.--%" if pi is None else f"{pi:05.2f}%",
            "SPCO": "--.-%",
            "SPMET": "--.-%",
            "SPHB": "--.-",
            "SPOC": "--",
            "RESVD": "---",
            "DESAT": "--",
            "PIDELTA": "+--",
            "PVI": "---" if pvi is None else f"{round(pvi):03d}",
            "ALARM": f"{alarm:0{alarm_digits}X}",
            "EXC": f"{exc:0{exc_digits}X}",
            "EXC1": "00000000",
        }
        tokens = tuple((k, values[k]) for k in MODEL_TOKENS[model])
        return cls(
            f"{tm.tm_mon:02d}/{tm.tm_mday:02d}/{tm.tm_year % 100:02d}",
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}",
            tokens,
        )


def find_record_start(line: bytes) -> int:
    """Index of the first ``MM/DD/YY HH:MM:SS`` in ``line``, or -1."""
    m = TIMESTAMP_RE.search(line)
    return -1 if m is None else m.start()
