"""Serial framing of the IntelliVue MIB/RS232 Data Export interface.

A frame is ``C0`` + escaped(header + user data + FCS) + ``C1``. The 4-byte header is
protocol id ``0x11``, message type ``0x01`` and the 16-bit big-endian user-data length.
Inside the frame, the FCS included, ``C0``, ``C1`` and ``7D`` are sent as ``7D`` + the byte
XOR ``0x20``; ``7D C1`` aborts a frame. The FCS is the 16-bit frame check sequence of
RFC 1662 (PPP in HDLC-like framing: the reflected CRC-CCITT, initial ``0xFFFF``) over the
unescaped header and user data, sent as its one's complement, low byte first: the FCS
that VSCaptureMP, following the Data Export Interface Programming Guide, implements and
attributes to RFC 1171 (the same FCS-16 as RFC 1662).

Sources: [VSCMP] ``Class3.cs`` (``CRCmethods``, which cites RFC 1171; the receive path
``CreateFrameListFromByte``; the transmit path ``WriteBuffer``, which leaves the FCS
unescaped, a latent bug) and [MDPNP] ``interop-lab/.../intellivue/RS232Adapter.java``
(escapes the FCS too, and checks protocol id and message type); see
:mod:`drivers.intellivue.nomenclature`.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.encoding import u16
from monitor.domain.errors import FrameError

SERIAL = {"baudrate": 115200, "bytesize": 8, "parity": "N", "stopbits": 1, "rtscts": False}
"""MIB/RS232 port of the MP series and RS232 port of the MX series: 115200 8N1, no
handshake ([VSCMP] ``Class3.cs`` ``MPSerialPort``; [MDPNP] ``RS232Adapter.java``)."""

HEADER_SIZE = 4
FCS_SIZE = 2
MAX_USER_DATA = 8192
"""Longest user data accepted; monitors announce MTUs of 1000-2500 bytes."""

# -- FCS (RFC 1662 section C.2) ------------------------------------------------------------


def _fcs_table() -> tuple[int, ...]:
    table = []
    for b in range(256):
        v = b
        for _ in range(8):
            v = (v >> 1) ^ 0x8408 if v & 1 else v >> 1
        table.append(v)
    return tuple(table)


_FCS_TABLE = _fcs_table()


def fcs16(data: bytes, fcs: int = 0xFFFF) -> int:
    """The RFC 1662 16-bit FCS of ``data`` (before the final one's complement)."""
    table = _FCS_TABLE
    for b in data:
        fcs = (fcs >> 8) ^ table[(fcs ^ b) & 0xFF]
    return fcs


def fcs_bytes(data: bytes) -> bytes:
    """The two FCS bytes sent after ``data``: one's complement, low byte first."""
    v = fcs16(data) ^ 0xFFFF
    return bytes((v & 0xFF, v >> 8))


_ESC = bytes((nom.ESC,))
_ESCAPED = {b ^ nom.ESC_XOR: b for b in (nom.BOF, nom.EOF, nom.ESC)}


def escape(data: bytes) -> bytes:
    """``C0``, ``C1`` and ``7D`` as ``7D`` + byte XOR ``0x20``."""
    # 7D first: the escapes of C0 and C1 contain a 7D that must stay as it is.
    out = bytes(data).replace(_ESC, b"\x7d\x5d")
    return out.replace(b"\xc0", b"\x7d\xe0").replace(b"\xc1", b"\x7d\xe1")


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`.

    Raises:
        FrameError: a bare ``C0``/``C1``, ``7D`` at the end (an aborted frame) or ``7D``
            before a byte that is never escaped.
    """
    if nom.BOF in data or nom.EOF in data:
        raise FrameError("unescaped C0 or C1 inside a frame")
    if nom.ESC not in data:
        return bytes(data)
    head, *parts = data.split(_ESC)
    out = [head]
    for i, part in enumerate(parts):
        if not part:
            raise FrameError("frame aborted (7D before the end of frame)"
                             if i == len(parts) - 1 else "bad escape 7D 7D")
        original = _ESCAPED.get(part[0])
        if original is None:
            raise FrameError(f"bad escape 7D {part[0]:02X}")
        out += (bytes((original,)), part[1:])
    return b"".join(out)


@dataclass(frozen=True, slots=True)
class SerialFrame:
    """One serial frame: the user data (a session message) and the header fields."""

    user_data: bytes
    protocol_id: int = nom.PROTOCOL_ID
    msg_type: int = nom.MSG_TYPE

    def serialize(self) -> bytes:
        """The bytes on the wire, ``C0`` to ``C1``."""
        body = bytes((self.protocol_id, self.msg_type)) + u16(len(self.user_data))
        body += self.user_data
        return bytes((nom.BOF,)) + escape(body + fcs_bytes(body)) + bytes((nom.EOF,))

    @classmethod
    def parse(cls, data: bytes) -> SerialFrame:
        """Parse one complete frame, ``C0`` and ``C1`` included.

        Raises:
            FrameError: bad delimiters, escapes, header, length or FCS.
        """
        if len(data) < 2 or data[0] != nom.BOF or data[-1] != nom.EOF:
            raise FrameError("a frame starts with C0 and ends with C1")
        return cls.from_body(unescape(data[1:-1]))

    @classmethod
    def from_body(cls, body: bytes) -> SerialFrame:
        """Parse the unescaped bytes between ``C0`` and ``C1``.

        Raises:
            FrameError: bad header, length or FCS.
        """
        if len(body) < HEADER_SIZE + FCS_SIZE:
            raise FrameError(f"frame of {len(body)} bytes is shorter than header and FCS")
        protocol_id, msg_type = body[0], body[1]
        length = body[2] << 8 | body[3]
        if protocol_id != nom.PROTOCOL_ID or msg_type != nom.MSG_TYPE:
            raise FrameError(f"unknown frame header {protocol_id:02X} {msg_type:02X}")
        if length != len(body) - HEADER_SIZE - FCS_SIZE:
            raise FrameError(f"header says {length} bytes of user data, frame has "
                             f"{len(body) - HEADER_SIZE - FCS_SIZE}")
        if fcs16(body) != 0xF0B8:  # RFC 1662's "good FCS" over data and FCS together
            raise FrameError("bad FCS")
        return cls(bytes(body[HEADER_SIZE:-FCS_SIZE]), protocol_id, msg_type)


class BadFrame:
    """What :class:`Deframer` reports for bytes it had to throw away."""

    __slots__ = ("reason", "discarded")

    def __init__(self, reason: str, discarded: int) -> None:
        self.reason = reason
        self.discarded = discarded

    def __repr__(self) -> str:
        return f"BadFrame({self.reason!r}, {self.discarded})"


class Deframer:
    """Split a byte stream into serial frames, whatever the chunking (pure; no I/O).

    A ``C0`` starts a frame (one already open is dropped as truncated), ``C1`` ends it.
    Bytes outside frames are dropped and reported once per run at the next ``C0``. A
    candidate that fails to parse is reported and dropped; the next ``C0`` is the resync.
    Memory is bounded: a candidate longer than any legal frame is dropped.
    """

    _LIMIT = 2 * (HEADER_SIZE + MAX_USER_DATA + FCS_SIZE)  # every byte escaped

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._overflow = 0
        self._outside = 0  # bytes outside any frame since the last report

    def feed(self, data: bytes) -> list[SerialFrame | BadFrame]:
        """Consume ``data``; return the frames completed and the garbage dropped."""
        out: list[SerialFrame | BadFrame] = []
        pos, n = 0, len(data)
        while pos < n:
            if not self._in_frame:
                start = data.find(nom.BOF, pos)
                if start < 0:
                    self._outside += n - pos
                    break
                self._outside += start - pos
                if self._outside:
                    out.append(BadFrame("bytes outside a frame", self._outside))
                    self._outside = 0
                self._in_frame = True
                pos = start + 1
                continue
            stop = _find_delimiter(data, pos)
            if stop < 0:
                self._take(data[pos:])
                break
            self._take(data[pos:stop])
            if data[stop] == nom.BOF:
                out.append(BadFrame("frame cut short by a new C0", self._pending()))
                self._reset(in_frame=True)
            else:
                out.append(self._close())
            pos = stop + 1
        return out

    def eof(self) -> BadFrame | None:
        """The stream ended: report a partial frame or trailing garbage, and reset."""
        lost = self._outside + (self._pending() if self._in_frame else 0)
        self._outside = 0
        self._reset(in_frame=False)
        return BadFrame("partial frame at end of stream", lost) if lost else None

    def _pending(self) -> int:
        return 1 + len(self._buf) + self._overflow  # the C0 too

    def _reset(self, in_frame: bool) -> None:
        self._buf.clear()
        self._overflow = 0
        self._in_frame = in_frame

    def _take(self, chunk: bytes) -> None:
        room = self._LIMIT - len(self._buf)
        if self._overflow or len(chunk) > room:
            self._overflow += len(chunk) - max(room, 0)
            self._buf += chunk[: max(room, 0)]
        else:
            self._buf += chunk

    def _close(self) -> SerialFrame | BadFrame:
        size = self._pending() + 1  # and the C1
        body, overflow = bytes(self._buf), self._overflow
        self._reset(in_frame=False)
        if overflow:
            return BadFrame("frame too long", size)
        try:
            return SerialFrame.from_body(unescape(body))
        except FrameError as exc:
            return BadFrame(str(exc), size)


def _find_delimiter(data: bytes, pos: int) -> int:
    """Index of the next ``C0`` or ``C1`` at or after ``pos``, or -1."""
    a, b = data.find(nom.BOF, pos), data.find(nom.EOF, pos)
    if a < 0:
        return b
    return a if b < 0 else min(a, b)
