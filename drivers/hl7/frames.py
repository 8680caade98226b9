"""Wire format of HL7 v2 over MLLP: block framing, messages, segments, timestamps, ACKs.

MLLP wraps each message as ``0x0B`` + message + ``0x1C 0x0D``. A message is segments
separated by carriage returns; a segment is fields separated by ``|``, fields hold
components (``^``), repetitions (``~``) and subcomponents (``&``). The separators are
whatever the sender declares in MSH-1 and MSH-2. :meth:`Message.parse` and
:meth:`Message.serialize` are exact inverses (for messages that use one segment
terminator throughout, as HL7 requires).

Sources: HL7 v2.6 chapters 2 (control) and 7 (observations), and public monitor samples
(Comen, Mindray) collected in the project's protocol research notes (section 6).
"""

from __future__ import annotations

import calendar
import re
import time as _time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from monitor.domain.errors import FrameError

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c"
CARRIAGE_RETURN = b"\x0d"
MAX_MESSAGE = 256 * 1024
"""Longer blocks are garbage: a vitals message is a few kilobytes."""

DEFAULT_ENCODING = "^~\\&"
_SEGMENT_SPLIT = re.compile(r"\r\n|\r|\n")
_SEGMENT_NAME = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_TS = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$"
)


def wrap(message: bytes) -> bytes:
    """One MLLP block around ``message``."""
    return START_BLOCK + message + END_BLOCK + CARRIAGE_RETURN


class BadBlock:
    """What :class:`MllpDeframer` reports for bytes it had to throw away."""

    __slots__ = ("reason", "discarded")

    def __init__(self, reason: str, discarded: int) -> None:
        self.reason = reason
        self.discarded = discarded

    def __repr__(self) -> str:
        return f"BadBlock({self.reason!r}, {self.discarded})"


class MllpDeframer:
    """Split a byte stream into MLLP message payloads, whatever the chunking (pure).

    A block ends at ``0x1C``; the ``0x0D`` after it, and CR/LF between blocks, are
    skipped. Other bytes outside a block are reported. A start byte inside a block means
    the end was lost: the partial block is reported and a new one starts. Memory is
    bounded by :data:`MAX_MESSAGE`.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_block = False
        self._overflow = 0
        self._junk = 0

    def feed(self, data: bytes) -> list[bytes | BadBlock]:
        """Consume ``data``; return completed payloads and the garbage dropped."""
        out: list[bytes | BadBlock] = []
        i, n = 0, len(data)
        while i < n:
            if not self._in_block:
                j = data.find(START_BLOCK, i)
                stop = n if j < 0 else j
                self._junk += sum(1 for b in data[i:stop] if b not in b"\r\n")
                if j < 0:
                    break
                if self._junk:
                    out.append(BadBlock("bytes outside a block", self._junk))
                    self._junk = 0
                self._in_block = True
                i = j + 1
                continue
            end = data.find(END_BLOCK, i)
            restart = data.find(START_BLOCK, i)
            if restart >= 0 and (end < 0 or restart < end):
                # A new block starts before this one ended: the end marker was lost.
                self._append(data[i:restart])
                _, size = self._take()
                out.append(BadBlock("block without end marker", size))
                i = restart + 1
                continue
            if end < 0:
                self._append(data[i:])
                break
            self._append(data[i:end])
            payload, size = self._take()
            out.append(BadBlock("block too long", size) if payload is None else payload)
            self._in_block = False
            i = end + 1
        return out

    def eof(self) -> BadBlock | None:
        """The stream ended: report a partial block or trailing junk, and reset."""
        lost = len(self._buf) + self._overflow + self._junk
        self._buf.clear()
        self._overflow = self._junk = 0
        self._in_block = False
        return BadBlock("partial block at end of stream", lost) if lost else None

    def _append(self, chunk: bytes) -> None:
        room = max(MAX_MESSAGE - len(self._buf), 0)
        if len(chunk) > room:
            self._overflow += len(chunk) - room
            chunk = chunk[:room]
        self._buf += chunk

    def _take(self) -> tuple[bytes | None, int]:
        """The block collected so far (None if it overflowed) and its size; reset."""
        size = len(self._buf) + self._overflow
        payload = None if self._overflow else bytes(self._buf)
        self._buf.clear()
        self._overflow = 0
        return payload, size


# -- messages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Encoding:
    """The separators a message declares in MSH-1 and MSH-2."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    @property
    def msh2(self) -> str:
        """MSH-2 as it is written."""
        return self.component + self.repetition + self.escape + self.subcomponent

    def unescape(self, text: str) -> str:
        """Replace ``\\F\\``, ``\\S\\``, ``\\T\\``, ``\\R\\``, ``\\E\\`` by the characters."""
        if not self.escape or self.escape not in text:
            return text
        table = {"F": self.field, "S": self.component, "T": self.subcomponent,
                 "R": self.repetition, "E": self.escape}
        e = re.escape(self.escape)
        return re.sub(f"{e}([FSTRE]){e}", lambda m: table[m.group(1)], text)

    def escape_text(self, text: str) -> str:
        """Inverse of :meth:`unescape` for the five separators."""
        if not self.escape:
            return text
        out = text.replace(self.escape, f"{self.escape}E{self.escape}")
        for ch, code in ((self.field, "F"), (self.component, "S"),
                         (self.subcomponent, "T"), (self.repetition, "R")):
            out = out.replace(ch, f"{self.escape}{code}{self.escape}")
        return out


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment kept as its field strings, numbered as HL7 numbers them.

    For MSH, field 1 is the field separator itself and field 2 the encoding characters,
    so ``msh.field(9)`` is the message type, as in the standard.
    """

    name: str
    fields: tuple[str, ...]  # fields[0] is field 1

    def field(self, n: int) -> str:
        """Raw field ``n`` (1-based), or "" when absent."""
        return self.fields[n - 1] if 1 <= n <= len(self.fields) else ""

    def component(self, n: int, c: int, enc: Encoding) -> str:
        """Component ``c`` (1-based) of the first repetition of field ``n``, unescaped."""
        value = self.field(n).split(enc.repetition)[0] if enc.repetition else self.field(n)
        parts = value.split(enc.component)
        return enc.unescape(parts[c - 1]) if 1 <= c <= len(parts) else ""

    def serialize(self, enc: Encoding) -> str:
        """The segment's text."""
        if self.name == "MSH":
            return "MSH" + enc.field + enc.field.join(self.fields[1:])
        return enc.field.join((self.name, *self.fields))


@dataclass(frozen=True, slots=True)
class Message:
    """An HL7 v2 message.

    Attributes:
        segments: the segments in order; the first is MSH.
        encoding: separators from MSH-1/MSH-2.
        terminator: the segment terminator used (``\\r`` per the standard).
        trailing: whether the last segment is followed by a terminator.
    """

    segments: tuple[Segment, ...]
    encoding: Encoding = Encoding()
    terminator: str = "\r"
    trailing: bool = True

    @classmethod
    def parse(cls, text: str) -> Message:
        """Parse a message's text.

        Raises:
            FrameError: no MSH, bad separators or a malformed segment name.
        """
        if not text.startswith("MSH") or len(text) < 8:
            raise FrameError("message does not start with MSH")
        fs = text[3]
        if fs.isalnum() or fs in "\r\n":
            raise FrameError("bad field separator in MSH")
        m = _SEGMENT_SPLIT.search(text)
        terminator = m.group() if m else "\r"
        lines = text.split(terminator)
        trailing = lines[-1] == ""
        if trailing:
            lines.pop()
        msh2 = text[4:].split(fs, 1)[0]
        if not 1 <= len(msh2) <= 5 or any(ch.isalnum() for ch in msh2):
            raise FrameError("bad encoding characters in MSH-2")
        chars = list(msh2) + [""] * (4 - len(msh2))
        enc = Encoding(fs, chars[0], chars[1], chars[2], chars[3])
        segments: list[Segment] = []
        for line in lines:
            if _SEGMENT_SPLIT.search(line):
                raise FrameError("mixed segment terminators")
            name = line[:3]
            if not _SEGMENT_NAME.match(name) or (len(line) > 3 and line[3] != fs):
                raise FrameError(f"malformed segment {line[:10]!r}")
            rest = line[4:].split(fs) if len(line) > 3 else []
            if name == "MSH":
                segments.append(Segment(name, (fs, *rest)))
            else:
                segments.append(Segment(name, tuple(rest)))
        if not segments or segments[0].name != "MSH":
            raise FrameError("message does not start with MSH")
        return cls(tuple(segments), enc, terminator, trailing)

    def serialize(self) -> str:
        """The message text."""
        body = self.terminator.join(s.serialize(self.encoding) for s in self.segments)
        return body + (self.terminator if self.trailing else "")

    @classmethod
    def decode(cls, payload: bytes) -> Message:
        """Parse an MLLP payload, decoding it with the character set named in MSH-18.

        Raises:
            FrameError: not a message.
        """
        # Latin-1 never fails and keeps ASCII separators where they are: read MSH-18 first.
        return cls.parse(payload.decode(charset_of(payload), errors="replace"))

    def encode(self, charset: str = "utf-8") -> bytes:
        """The message bytes (without MLLP framing)."""
        return self.serialize().encode(charset, errors="replace")

    @property
    def msh(self) -> Segment:
        """The header segment."""
        return self.segments[0]

    def all(self, name: str) -> list[Segment]:
        """Every segment called ``name``."""
        return [s for s in self.segments if s.name == name]

    @property
    def control_id(self) -> str:
        """MSH-10."""
        return self.encoding.unescape(self.msh.field(10))

    @property
    def message_type(self) -> tuple[str, str]:
        """(MSH-9.1, MSH-9.2), e.g. ("ORU", "R01")."""
        return (self.msh.component(9, 1, self.encoding), self.msh.component(9, 2, self.encoding))

    @property
    def version(self) -> str:
        """MSH-12.1."""
        return self.msh.component(12, 1, self.encoding)


def charset_of(payload: bytes) -> str:
    """The Python codec for the character set in MSH-18 (UTF-8 unless Latin-1 is named)."""
    head = payload.split(b"\r", 1)[0].decode("latin-1")
    if len(head) > 3:
        fields = head.split(head[3])
        # fields[0] is "MSH" and fields[1] is MSH-2, so MSH-n is fields[n - 1].
        charset = fields[17].upper() if len(fields) > 17 else ""
        if "8859/1" in charset or "8859-1" in charset:
            return "latin-1"
    return "utf-8"


def control_id_of(payload: bytes) -> str:
    """MSH-10 read leniently from a payload that may not parse, or ""."""
    head = payload.split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
    if not head.startswith("MSH") or len(head) < 4:
        return ""
    fields = head.split(head[3])
    return fields[9].strip() if len(fields) > 9 else ""


# -- timestamps -------------------------------------------------------------------------------


def parse_ts(text: str, default_tz: tzinfo | None = UTC) -> float | None:
    """HL7 TS/DTM ``YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`` as POSIX seconds.

    Args:
        text: the timestamp (only its first component is read).
        default_tz: zone of timestamps without an offset; ``None`` means the local zone
            of this computer.

    Returns:
        The time, or None when ``text`` is empty or not a timestamp.
    """
    m = _TS.match(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, sec, frac, zone = m.groups()
    try:
        naive = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0),
                         int(minute or 0), int(sec or 0))
        if zone:
            sign = -1 if zone[0] == "-" else 1
            hh, mm = int(zone[1:3]), int(zone[3:5])
            if hh > 23 or mm > 59:
                return None
            tz: tzinfo = timezone(sign * timedelta(hours=hh, minutes=mm))
            stamp = naive.replace(tzinfo=tz).timestamp()
        elif default_tz is None:
            stamp = naive.timestamp()  # naive datetimes are read in the local zone
        else:
            stamp = naive.replace(tzinfo=default_tz).timestamp()
    except (ValueError, OverflowError, OSError):
        return None
    if frac:
        stamp += int(frac) / 10 ** len(frac)
    return stamp


def format_ts(t: float, utc_offset_minutes: int = 0) -> str:
    """``YYYYMMDDHHMMSS+ZZZZ`` for POSIX time ``t`` shown at the given UTC offset."""
    tm = _time.gmtime(int(t) + utc_offset_minutes * 60)
    sign = "-" if utc_offset_minutes < 0 else "+"
    off = abs(utc_offset_minutes)
    return (f"{tm.tm_year:04d}{tm.tm_mon:02d}{tm.tm_mday:02d}{tm.tm_hour:02d}{tm.tm_min:02d}"
            f"{tm.tm_sec:02d}{sign}{off // 60:02d}{off % 60:02d}")


def to_posix_utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
                 second: int = 0) -> float:
    """POSIX seconds of a UTC calendar time (a small helper for tests and simulators)."""
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


# -- acknowledgements -------------------------------------------------------------------------

ACK_ACCEPT = "AA"
ACK_ERROR = "AE"
ACK_REJECT = "AR"


def build_ack(
    control_id: str,
    code: str = ACK_ACCEPT,
    original: Message | None = None,
    when: float | None = None,
    text: str = "",
) -> Message:
    """The original-mode acknowledgement of a message.

    Args:
        control_id: MSH-10 of the message acknowledged (MSA-2).
        code: ``AA`` accepted, ``AE`` error, ``AR`` rejected.
        original: the message, when it parsed: its sender becomes the receiver, and its
            version and trigger are echoed.
        when: MSH-7 of the ACK (POSIX seconds); omitted when None.
        text: MSA-3 text message, for errors.
    """
    enc = Encoding()
    sending_app, sending_fac, version, trigger = "", "", "2.6", ""
    if original is not None:
        o = original.msh
        # Swap sender and receiver: the monitor is the receiver of the ACK.
        sending_app, sending_fac = o.field(3), o.field(4)
        version = original.version or version
        trigger = original.message_type[1]
    msh = Segment("MSH", (
        "|", enc.msh2, "SPU_MONITOR", "", sending_app, sending_fac,
        "" if when is None else format_ts(when), "",
        f"ACK^{trigger}^ACK" if trigger else "ACK", f"ACK{control_id}"[:199], "P", version,
    ))
    msa = [code, enc.escape_text(control_id)]
    if text:
        msa.append(enc.escape_text(text)[:80])
    return Message((msh, Segment("MSA", tuple(msa))), enc)
