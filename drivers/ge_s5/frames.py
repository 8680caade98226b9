"""Wire format of the GE Datex-Ohmeda S/5 computer interface: framing, records, subrecords.

Sources: GE M1017617 "S/5 Computer Interface Specification" (framing, requests) and GE
8005313 "S/5 DRI Specification" (record and subrecord layouts), as summarised in the
project's protocol research notes (section 3). All multi-byte fields are little-endian.

Layers, each with ``parse`` and ``serialize`` as exact inverses:

- a **frame** is ``7E`` + escaped(record + checksum) + ``7E``; 0x7E and 0x7D inside (the
  checksum byte included) are sent as ``7D`` followed by the byte with bit 5 cleared.
  The checksum is the 8-bit sum of the unescaped record bytes. :class:`Deframer` splits
  a byte stream into records and :meth:`Record.to_frame` builds a frame.
- a **record** (:class:`Record`) is a 40-byte header (length, number, interface level,
  time, main type, eight subrecord descriptors) and a data area of subrecords.
- **subrecords**: :class:`PhdbRequest` and :class:`WaveRequest` (host to monitor),
  :class:`Phdb` (displayed values), :class:`AuxInfo` (NIBP measurement time) and
  :class:`WaveSubrecord` (int16 samples).

The monitor marks a value it cannot give with a special number at or below -32001
(:data:`SPECIAL_VALUES`); :func:`value_or_none` turns them into ``None``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from monitor.domain.errors import FrameError

SERIAL = {"baudrate": 19200, "bytesize": 8, "parity": "E", "stopbits": 1, "rtscts": True}
"""Line parameters: 19200 8E1 with RTS/CTS; the monitor does not allow others (M1017617 §2)."""

FLAG = 0x7E
ESCAPE = 0x7D
_ESCAPE_BIT = 0x20
_FLAG_BYTE = bytes((FLAG,))
_ESCAPE_BYTE = bytes((ESCAPE,))

HEADER_SIZE = 40
MAX_DATA = 1450
"""Largest data area the spec allows; anything longer is garbage."""
MAX_RECORD = HEADER_SIZE + MAX_DATA
N_DESC = 8
DESC_END = 0xFF
"""sr_type that ends the subrecord descriptor list."""

# r_maintype
MT_PHDB = 0
MT_WAVE = 1
MT_ALARM = 4
MT_NETWORK = 5

# sr_type of PHDB subrecords. Type 0 is a transmission request (host -> monitor); the
# monitor answers with subrecords whose type is the requested phdb_rcrd_type.
PH_XMIT_REQ = 0
PH_DISPL = 1
PH_10S_TREND = 2
PH_60S_TREND = 3
PH_AUX_INFO = 4

# phdb_class_bf bits (basic is always included).
CLASS_BASIC = 0x0
CLASS_EXT1 = 0x2
CLASS_EXT2 = 0x4
CLASS_EXT3 = 0x8

# Waveform ids (DRI_WF_*). ASSUMPTION: the search tool was unavailable, so these come from
# memory of the DRI spec's waveform table as used by open implementations (VSCapture's
# DataConstants): 0 is the request subrecord, 1-3 ECG leads, 4-7 invasive pressures,
# 8 plethysmogram, 9 CO2. Verify against 8005313 §5 on a real monitor.
WF_CMD = 0
WF_ECG1 = 1
WF_ECG2 = 2
WF_ECG3 = 3
WF_INVP1 = 4
WF_PLETH = 8
WF_CO2 = 9

WF_REQ_CONT_START = 0
WF_REQ_CONT_STOP = 1

WAVE_RATES: dict[int, float] = {WF_ECG1: 300.0, WF_ECG2: 300.0, WF_ECG3: 300.0,
                                WF_PLETH: 100.0}
"""Samples per second of the waveforms this project reads."""

ECG_MV_PER_UNIT = 0.01
"""ECG samples are in 10 µV units, as VSCapture (tested on real monitors) scales them;
the DRI values are 1/100 of their unit throughout."""
PLETH_PER_UNIT = 0.01
"""Pleth samples in 1/100 of their (relative) unit, scaled like VSCapture's; published as
a unitless curve, which is all a pleth display needs."""

# Special values (8005313 §3.4). Anything at or below -32001 is not a measurement.
DATA_INVALID = -32767
DATA_NOT_UPDATED = -32766
DATA_DISCONT = -32765
DATA_UNDER_RANGE = -32764
DATA_OVER_RANGE = -32763
DATA_NOT_CALIBRATED = -32762
SPECIAL_LIMIT = -32001
SPECIAL_VALUES: dict[int, str] = {
    DATA_INVALID: "invalid",
    DATA_NOT_UPDATED: "not updated",
    DATA_DISCONT: "discontinuity",
    DATA_UNDER_RANGE: "under range",
    DATA_OVER_RANGE: "over range",
    DATA_NOT_CALIBRATED: "not calibrated",
}

# Parameter group status bits (every group starts with status uint32 + label uint16).
STATUS_EXISTS = 0x1
STATUS_ACTIVE = 0x2
ECG_HR_SOURCE_SHIFT = 3
ECG_HR_SOURCE_MASK = 0xF
ECG_NOISE = 1 << 7
ECG_ARTIFACT = 1 << 8
HR_SOURCE_ECG = 1
HR_SOURCE_PLETH = 6
NIBP_LABEL_OLD = 1 << 8
"""NIBP label bit: the result shown is older than 60 s."""
NIBP_LABEL_MEASURING = 1 << 5

PHDB_SIZE = 278
CLASS_SIZE = 270
AUX_SIZE = 114
PHDB_REQ_SIZE = 9
WAVE_REQ_SIZE = 32
WAVE_HEADER_SIZE = 6

# Offsets inside the basic class union (8005313 §3.5; protocols.md table).
OFF_ECG = 0
OFF_ECG_HR = 6
OFF_NIBP = 72
OFF_NIBP_SYS = 78
OFF_NIBP_DIA = 80
OFF_NIBP_MEAN = 82
OFF_NIBP_HR = 84
OFF_SPO2 = 118
OFF_SPO2_VALUE = 124
OFF_SPO2_PR = 126
OFF_SPO2_IR_AMP = 128
OFF_CO2 = 132
"""CO2 group (8005313 §3.5.6): et and fi in 1/100 % of the ambient pressure, rr in 1/min,
amb_press in 1/10 mmHg; the same layout as VSCapture's ``co2_group_type``."""
OFF_CO2_ET = 138
OFF_CO2_FI = 140
OFF_CO2_RR = 142
OFF_CO2_AMB = 144

# CO2 status bits (8005313 table 3-25).
CO2_APNEA = 1 << 2
"""The monitor's own CO2 apnea detection."""
CO2_CALIBRATING = 1 << 3
CO2_ZEROING = 1 << 4
CO2_OCCLUSION = 1 << 5
CO2_AIR_LEAK = 1 << 6
CO2_APNEA_RESP = 1 << 7
"""Apnea from the impedance respiration: not a capnography finding, not read."""
# CO2 label bits 0-2: where the rr field comes from (table 3-27).
CO2_RR_SOURCE_MASK = 0x7
CO2_RR_SOURCE_NONE = 0
CO2_RR_SOURCE_CO2 = 1
CO2_RR_SOURCE_IMPEDANCE = 2
CO2_RR_ALWAYS_CO2_LEVEL = 8
"""From this interface level ('03) on, rr is always measured from CO2 (table 3-29)."""
AMB_MMHG_PER_UNIT = 0.1

_HEADER = struct.Struct("<hBBHIBBhh")  # r_len .. r_maintype: 16 bytes
_DESC = struct.Struct("<hB")
_PHDB_REQ = struct.Struct("<BhIh")
_PHDB_TAIL = struct.Struct("<BBH")
_WAVE_REQ_HEAD = struct.Struct("<hh")
_WAVE_HEAD = struct.Struct("<hHH")
_GROUP_HEAD = struct.Struct("<IH")
_INT16 = struct.Struct("<h")


def checksum(record: bytes) -> int:
    """8-bit sum of the unescaped record bytes."""
    return sum(record) & 0xFF


def escape(data: bytes) -> bytes:
    """Escape 0x7E and 0x7D as 0x7D followed by the byte with bit 5 cleared."""
    out = bytearray()
    for b in data:
        if b in (FLAG, ESCAPE):
            out += bytes((ESCAPE, b ^ _ESCAPE_BIT))
        else:
            out.append(b)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`.

    Raises:
        FrameError: a 0x7D ends the data, or a bare 0x7E is inside it.
    """
    # Runs between escapes are copied whole: most records hold no escape at all.
    out = bytearray()
    start = 0
    while (at := data.find(_ESCAPE_BYTE, start)) >= 0:
        run = data[start:at]
        if _FLAG_BYTE in run:
            raise FrameError("flag byte inside a frame")
        if at + 1 >= len(data):
            raise FrameError("escape byte at end of frame")
        out += run
        out.append(data[at + 1] ^ _ESCAPE_BIT)
        start = at + 2
    run = data[start:]
    if _FLAG_BYTE in run:
        raise FrameError("flag byte inside a frame")
    out += run
    return bytes(out)


def frame(record: bytes) -> bytes:
    """Wrap an unescaped record: flag, escaped record and checksum, flag."""
    return bytes((FLAG,)) + escape(record + bytes((checksum(record),))) + bytes((FLAG,))


def unframe(data: bytes) -> bytes:
    """The record inside one complete frame (flags included), checksum verified.

    Raises:
        FrameError: no flags, bad escaping or bad checksum.
    """
    if len(data) < 2 or data[0] != FLAG or data[-1] != FLAG:
        raise FrameError("frame must start and end with 0x7E")
    body = unescape(data[1:-1])
    if len(body) < 2:
        raise FrameError("frame too short")
    record, check = body[:-1], body[-1]
    if checksum(record) != check:
        raise FrameError(f"bad checksum {check:#04x}, expected {checksum(record):#04x}")
    return record


def is_special(value: int) -> bool:
    """True when ``value`` is one of the monitor's "no measurement" codes."""
    return value <= -32001


def value_or_none(raw: int, scale: float = 1.0) -> float | None:
    """``raw * scale``, or None when ``raw`` is a special value."""
    if is_special(raw):
        return None
    return round(raw * scale, 6)


def to_raw(value: float | None, scale: float = 1.0, invalid: int = DATA_INVALID) -> int:
    """Inverse of :func:`value_or_none`: ``None`` becomes ``invalid``; clamped to int16."""
    if value is None:
        return invalid
    return max(-32000, min(32767, round(value / scale)))


def co2_mmhg(raw: int, amb_raw: int) -> float | None:
    """A CO2 group fraction (1/100 %) as mmHg at the ambient pressure (1/10 mmHg).

    This is how VSCapture shows EtCO2 in mmHg (``et * amb_press`` x 1e-5). ``None`` when
    either is a special value or the pressure is not positive. Rounded to 0.1 mmHg.
    """
    if is_special(raw) or is_special(amb_raw) or amb_raw <= 0:
        return None
    return round(raw * amb_raw * 1e-5, 1)


def co2_raw(mmhg: float | None, amb_mmhg: float) -> int:
    """Inverse of :func:`co2_mmhg`: mmHg at ``amb_mmhg`` as 1/100 % (``None``: invalid)."""
    if mmhg is None:
        return DATA_INVALID
    return to_raw(100.0 * mmhg / amb_mmhg, 0.01)


# -- records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One Datex-Ohmeda record: the 40-byte header and its data area.

    ``r_len`` is not stored: it is always ``40 + len(data)``. The eight descriptors are
    kept as sent (entries after the 0xFF terminator included) so that parsing and
    serializing are exact inverses.

    Attributes:
        r_nbr: record number.
        dri_level: interface level (0 in requests; 10 = '09, 11 = '15 on CARESCAPE).
        plug_id: monitor plug id.
        r_time: transmit time, POSIX seconds of the monitor clock.
        maintype: ``MT_PHDB``, ``MT_WAVE``...
        descriptors: eight ``(sr_offset, sr_type)`` pairs.
        data: the data area.
        n_subnet, reserved2, reserved3: zero when sending.
    """

    r_nbr: int
    dri_level: int
    plug_id: int
    r_time: int
    maintype: int
    descriptors: tuple[tuple[int, int], ...]
    data: bytes
    n_subnet: int = 0
    reserved2: int = 0
    reserved3: int = 0

    @classmethod
    def parse(cls, record: bytes) -> Record:
        """Parse an unescaped record (without checksum).

        Raises:
            FrameError: too short, or ``r_len`` disagrees with the length received.
        """
        if len(record) < HEADER_SIZE:
            raise FrameError(f"record of {len(record)} bytes is shorter than its header")
        if len(record) > MAX_RECORD:
            raise FrameError(f"record of {len(record)} bytes is too long")
        r_len, nbr, level, plug, r_time, subnet, res2, res3, maintype = _HEADER.unpack_from(
            record
        )
        if r_len != len(record):
            raise FrameError(f"r_len {r_len} but {len(record)} bytes received")
        descs = tuple(_DESC.unpack_from(record, 16 + 3 * i) for i in range(N_DESC))
        return cls(nbr, level, plug, r_time, maintype, descs, bytes(record[HEADER_SIZE:]),
                   subnet, res2, res3)

    def serialize(self) -> bytes:
        """The unescaped record bytes."""
        head = _HEADER.pack(HEADER_SIZE + len(self.data), self.r_nbr, self.dri_level,
                            self.plug_id, self.r_time, self.n_subnet, self.reserved2,
                            self.reserved3, self.maintype)
        descs = b"".join(_DESC.pack(off, typ) for off, typ in self.descriptors)
        return head + descs + self.data

    @classmethod
    def from_frame(cls, data: bytes) -> Record:
        """Parse one complete frame, flags included.

        Raises:
            FrameError: bad framing, checksum or record.
        """
        return cls.parse(unframe(data))

    def to_frame(self) -> bytes:
        """The frame bytes as sent on the wire."""
        return frame(self.serialize())

    @classmethod
    def build(
        cls,
        maintype: int,
        subrecords: Iterable[tuple[int, bytes]],
        r_time: int = 0,
        r_nbr: int = 0,
        dri_level: int = 0,
        plug_id: int = 0,
    ) -> Record:
        """Lay out subrecords one after the other and describe them.

        Args:
            subrecords: ``(sr_type, bytes)`` pairs, at most 7 (the 8th slot ends the list).
        """
        subs = list(subrecords)
        if len(subs) >= N_DESC:
            raise ValueError(f"at most {N_DESC - 1} subrecords per record")
        descs: list[tuple[int, int]] = []
        data = bytearray()
        for typ, body in subs:
            descs.append((len(data), typ))
            data += body
        if len(data) > MAX_DATA:
            raise ValueError(f"data area of {len(data)} bytes exceeds {MAX_DATA}")
        # The terminator slot carries offset 0, as in GE's example request frames.
        descs.append((0, DESC_END))
        descs += [(0, 0)] * (N_DESC - len(descs))
        return cls(r_nbr, dri_level, plug_id, r_time, maintype, tuple(descs), bytes(data))

    def subrecords(self) -> list[tuple[int, bytes]]:
        """``(sr_type, bytes)`` of each described subrecord.

        A subrecord runs to the next descriptor's offset (or the end of the data area).

        Raises:
            FrameError: offsets out of range or decreasing.
        """
        used: list[tuple[int, int]] = []
        for off, typ in self.descriptors:
            if typ == DESC_END:
                break
            used.append((off, typ))
        out: list[tuple[int, bytes]] = []
        for i, (off, typ) in enumerate(used):
            end = used[i + 1][0] if i + 1 < len(used) else len(self.data)
            if not 0 <= off <= end <= len(self.data):
                raise FrameError(f"subrecord offset {off} out of range")
            out.append((typ, self.data[off:end]))
        return out


class BadFrame:
    """What :class:`Deframer` reports for bytes it had to throw away."""

    __slots__ = ("reason", "discarded")

    def __init__(self, reason: str, discarded: int) -> None:
        self.reason = reason
        self.discarded = discarded

    def __repr__(self) -> str:
        return f"BadFrame({self.reason!r}, {self.discarded})"


class Deframer:
    """Split a byte stream into records, whatever the chunking (pure; no I/O).

    Bytes between two flags are one candidate frame. A candidate that fails (bad escape,
    checksum or length) is reported and dropped; the next flag starts afresh, which is the
    resync. Memory is bounded: a candidate longer than any legal frame is dropped.
    """

    _LIMIT = 2 * (MAX_RECORD + 1)  # every byte escaped

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._overflow = 0

    def feed(self, data: bytes) -> list[Record | BadFrame]:
        """Consume ``data``; return the records completed and the garbage dropped."""
        out: list[Record | BadFrame] = []
        start = 0
        while start < len(data):
            idx = data.find(FLAG, start)
            if idx < 0:
                self._take(data[start:])
                break
            self._take(data[start:idx])
            self._close(out)
            self._in_frame = True
            start = idx + 1
        return out

    def eof(self) -> BadFrame | None:
        """The stream ended: report a partial frame, if any, and reset."""
        lost = len(self._buf) + self._overflow
        self._buf.clear()
        self._overflow = 0
        self._in_frame = False
        return BadFrame("partial frame at end of stream", lost) if lost else None

    def _take(self, chunk: bytes) -> None:
        if not chunk:
            return
        room = self._LIMIT - len(self._buf)
        if self._overflow or len(chunk) > room:
            self._overflow += len(chunk) - max(room, 0)
            self._buf += chunk[: max(room, 0)]
        else:
            self._buf += chunk

    def _close(self, out: list[Record | BadFrame]) -> None:
        body, overflow = bytes(self._buf), self._overflow
        self._buf.clear()
        self._overflow = 0
        if not body and not overflow:
            return  # back-to-back flags between frames
        if not self._in_frame:
            out.append(BadFrame("bytes before the first frame", len(body) + overflow))
            return
        if overflow:
            out.append(BadFrame("frame too long", len(body) + overflow))
            return
        try:
            out.append(Record.parse(unframe(bytes((FLAG,)) + body + bytes((FLAG,)))))
        except FrameError as exc:
            out.append(BadFrame(str(exc), len(body)))


# -- subrecords -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhdbRequest:
    """``dri_phdb_req``: ask the monitor for physiological data (9 bytes).

    Attributes:
        rcrd_type: ``PH_DISPL``, ``PH_10S_TREND``, ``PH_60S_TREND`` or ``PH_AUX_INFO``.
        tx_ival: seconds between transmissions (>= 5), -1 single shot, 0 stop.
        class_bf: OR of ``CLASS_EXT1``... (the basic class always comes).
    """

    rcrd_type: int
    tx_ival: int
    class_bf: int = CLASS_BASIC
    reserved: int = 0

    @classmethod
    def parse(cls, data: bytes) -> PhdbRequest:
        """Parse the subrecord.

        Raises:
            FrameError: too short.
        """
        if len(data) < PHDB_REQ_SIZE:
            raise FrameError("PHDB request shorter than 9 bytes")
        return cls(*_PHDB_REQ.unpack_from(data))

    def serialize(self) -> bytes:
        """The 9 subrecord bytes."""
        return _PHDB_REQ.pack(self.rcrd_type, self.tx_ival, self.class_bf, self.reserved)

    def record(self, dri_level: int = 0) -> Record:
        """The request record (main type PHDB, one subrecord of type 0)."""
        return Record.build(MT_PHDB, [(PH_XMIT_REQ, self.serialize())], dri_level=dri_level)


@dataclass(frozen=True, slots=True)
class WaveRequest:
    """Waveform request subrecord (32 bytes).

    Attributes:
        req_type: ``WF_REQ_CONT_START`` or ``WF_REQ_CONT_STOP``.
        types: the eight type slots as sent; the ids end at the first 0xFF.
        res: reserved word.
        reserved: 20 reserved bytes.
    """

    req_type: int
    types: tuple[int, ...]
    res: int = 0
    reserved: bytes = bytes(20)

    @classmethod
    def start(cls, ids: Iterable[int]) -> WaveRequest:
        """Request continuous transmission of waveforms ``ids`` (at most 7)."""
        wanted = list(ids)
        if len(wanted) > 7:
            raise ValueError("at most 7 waveforms per request")
        slots = wanted + [DESC_END] + [0] * (7 - len(wanted))
        return cls(WF_REQ_CONT_START, tuple(slots))

    @property
    def ids(self) -> tuple[int, ...]:
        """The requested waveform ids (before the 0xFF end mark)."""
        out: list[int] = []
        for t in self.types:
            if t == DESC_END:
                break
            out.append(t)
        return tuple(out)

    @classmethod
    def parse(cls, data: bytes) -> WaveRequest:
        """Parse the subrecord.

        Raises:
            FrameError: too short.
        """
        if len(data) < WAVE_REQ_SIZE:
            raise FrameError("waveform request shorter than 32 bytes")
        req_type, res = _WAVE_REQ_HEAD.unpack_from(data)
        return cls(req_type, tuple(data[4:12]), res, bytes(data[12:32]))

    def serialize(self) -> bytes:
        """The 32 subrecord bytes."""
        return _WAVE_REQ_HEAD.pack(self.req_type, self.res) + bytes(self.types) + self.reserved

    def record(self, dri_level: int = 0) -> Record:
        """The request record (main type WAVE, one subrecord of type 0)."""
        return Record.build(MT_WAVE, [(WF_CMD, self.serialize())], dri_level=dri_level)


@dataclass(frozen=True, slots=True)
class Group:
    """A parameter group's 6-byte header and its int16 values, as decoded."""

    status: int
    label: int
    values: tuple[int, ...]

    @property
    def exists(self) -> bool:
        """The module for this parameter is present."""
        return bool(self.status & STATUS_EXISTS)


@dataclass(frozen=True, slots=True)
class Phdb:
    """``dri_phdb``: one physiological data subrecord (278 bytes).

    The 270-byte class union is kept as bytes; :meth:`group` reads a parameter group from
    it and :meth:`build_basic` writes the groups this project uses.

    Attributes:
        time: POSIX seconds the values refer to.
        union: the 270-byte class union.
        marker: event marker.
        reserved: reserved byte.
        cl_drilvl_subt: bits 8-11 class (0 basic), low byte interface level.
    """

    time: int
    union: bytes
    marker: int = 0
    reserved: int = 0
    cl_drilvl_subt: int = 0

    @classmethod
    def parse(cls, data: bytes) -> Phdb:
        """Parse the subrecord.

        Raises:
            FrameError: shorter than 278 bytes.
        """
        if len(data) < PHDB_SIZE:
            raise FrameError(f"PHDB subrecord of {len(data)} bytes, expected {PHDB_SIZE}")
        (time,) = struct.unpack_from("<I", data)
        marker, reserved, subt = _PHDB_TAIL.unpack_from(data, 4 + CLASS_SIZE)
        return cls(time, bytes(data[4 : 4 + CLASS_SIZE]), marker, reserved, subt)

    def serialize(self) -> bytes:
        """The 278 subrecord bytes."""
        return (struct.pack("<I", self.time) + self.union
                + _PHDB_TAIL.pack(self.marker, self.reserved, self.cl_drilvl_subt))

    @property
    def phdb_class(self) -> int:
        """0 basic, 1 ext1, 2 ext2, 3 ext3."""
        return (self.cl_drilvl_subt >> 8) & 0x0F

    def group(self, offset: int, n_values: int) -> Group:
        """The parameter group starting at ``offset`` in the union."""
        status, label = _GROUP_HEAD.unpack_from(self.union, offset)
        values = struct.unpack_from(f"<{n_values}h", self.union, offset + 6)
        return Group(status, label, values)

    @classmethod
    def build_basic(
        cls,
        time: int,
        groups: dict[int, Group],
        dri_level: int = 0,
        marker: int = 0,
    ) -> Phdb:
        """A basic-class subrecord with the given groups (offset -> group); rest zero."""
        union = bytearray(CLASS_SIZE)
        for offset, g in groups.items():
            _GROUP_HEAD.pack_into(union, offset, g.status, g.label)
            struct.pack_into(f"<{len(g.values)}h", union, offset + 6, *g.values)
        return cls(time, bytes(union), marker, 0, dri_level & 0xFF)


@dataclass(frozen=True, slots=True)
class AuxInfo:
    """Auxiliary PHDB subrecord (114 bytes); only ``nibp_time`` is decoded.

    ASSUMPTION: ``nibp_time`` is the first field (uint32, 0 = unknown), per our reading of
    8005313 table 3-18; the remaining 110 bytes are kept as sent.
    """

    nibp_time: int
    rest: bytes = bytes(AUX_SIZE - 4)

    @classmethod
    def parse(cls, data: bytes) -> AuxInfo:
        """Parse the subrecord.

        Raises:
            FrameError: shorter than 114 bytes.
        """
        if len(data) < AUX_SIZE:
            raise FrameError(f"AUX subrecord of {len(data)} bytes, expected {AUX_SIZE}")
        (nibp_time,) = struct.unpack_from("<I", data)
        return cls(nibp_time, bytes(data[4:AUX_SIZE]))

    def serialize(self) -> bytes:
        """The 114 subrecord bytes."""
        return struct.pack("<I", self.nibp_time) + self.rest


@dataclass(frozen=True, slots=True)
class WaveSubrecord:
    """One waveform subrecord: header (``act_len``, status, reserved) and int16 samples.

    Attributes:
        samples: raw int16 samples; special values mark missing samples.
        status: waveform status bits, kept as sent.
        reserved: reserved word.
        padding: bytes after the samples up to the next subrecord, kept as sent.
    """

    samples: tuple[int, ...]
    status: int = 0
    reserved: int = 0
    padding: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> WaveSubrecord:
        """Parse the subrecord.

        Raises:
            FrameError: the header promises more samples than the subrecord holds.
        """
        if len(data) < WAVE_HEADER_SIZE:
            raise FrameError("waveform subrecord shorter than its header")
        n, status, reserved = _WAVE_HEAD.unpack_from(data)
        end = WAVE_HEADER_SIZE + 2 * n
        if n < 0 or end > len(data):
            raise FrameError(f"waveform subrecord claims {n} samples")
        samples = struct.unpack_from(f"<{n}h", data, WAVE_HEADER_SIZE)
        return cls(tuple(samples), status, reserved, bytes(data[end:]))

    def serialize(self) -> bytes:
        """The subrecord bytes."""
        n = len(self.samples)
        return (_WAVE_HEAD.pack(n, self.status, self.reserved)
                + struct.pack(f"<{n}h", *self.samples) + self.padding)
