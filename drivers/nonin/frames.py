"""Wire format of Nonin serial data formats #2, #7 and #8 and the set-format command.

Three device-to-host formats share one 9600 8N1 link (Nonin 9560 Bluetooth specification):

- **DF#8**, one 4-byte :class:`Record` per second: ``STATUS HR SPO2 STATUS2``. Only the
  first byte has bit 7 set; there is no checksum.
- **DF#2**, 75 five-byte :class:`Frame` per second: ``01 STATUS PLETH FLOAT CHK``.
- **DF#7**, the same rate and packet map with a 16-bit pleth:
  ``STATUS PLETH_MSB PLETH_LSB FLOAT CHK``.

In DF#2 and DF#7, 25 frames make a packet (1/3 s). The STATUS byte of frame 1 carries the
SYNC bit, and the FLOAT byte of frame *n* carries item *n* of the packet map
(:class:`Packet`). ``CHK`` is the sum of the four bytes before it, modulo 256.

The host selects a format with :class:`SetFormat`; the device answers :data:`ACK` or
:data:`NAK`. Every ``parse`` here is the exact inverse of the matching ``serialize``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.domain.errors import FrameError
from monitor.domain.models import Flag

SERIAL = {"baudrate": 9600, "bytesize": 8, "parity": "N", "stopbits": 1}
"""Line parameters of the OEM and Bluetooth modules: 9600 8N1, no flow control."""

ACK = 0x06
NAK = 0x15
STX = 0x02
ETX = 0x03
OP_SET_FORMAT = 0x70

FORMATS = (2, 7, 8)
"""Data formats this package decodes (DF#13, spot check, is not continuous monitoring)."""

FRAME_SIZE = 5
RECORD_SIZE = 4
FRAMES_PER_PACKET = 25
FRAME_RATE = 75.0
"""DF#2/#7 frames per second; also the pleth sample rate."""

MISSING_RATE = 511
"""Pulse-rate value that means "no reading"."""
MISSING_SPO2 = 127
"""SpO2 value that means "no reading"."""

# DF#2 / DF#7 STATUS byte.
ST_ALWAYS = 0x80
ST_ARTF = 0x20  # artifact in this frame
ST_OOT = 0x10  # out of track: the signal cannot be followed
ST_SNSA = 0x08  # sensor alarm: finger out or sensor unplugged
ST_RPRF = 0x04  # red perfusion (with GPRF: yellow)
ST_GPRF = 0x02  # green perfusion
ST_SYNC = 0x01  # first frame of a packet

# DF#8 byte 1 (bits 1..0 are HR8..HR7).
S8_OOT = 0x20
S8_LPRF = 0x10  # low perfusion
S8_MPRF = 0x08  # marginal perfusion
S8_ARTF = 0x04
S8_FLAG_MASK = 0x7C  # bits that are status, not pulse rate (bit 6 is reserved)

# DF#8 byte 4, and the DF#2/#7 STAT2 item (packet frame 8).
S2_SPA = 0x20  # SmartPoint algorithm
S2_SNSA = 0x08  # sensor alarm (DF#8 only)
S2_LOW_BATTERY = 0x01

# Packet map: index (0-based) of each item's frame within a DF#2/#7 packet.
P_HR_MSB, P_HR_LSB, P_SPO2, P_FIRMWARE = 0, 1, 2, 3
P_TIMER_MSB, P_TIMER_LSB, P_STAT2 = 5, 6, 7
P_SPO2_D, P_SPO2_FAST, P_SPO2_BB = 8, 9, 10
P_EHR_MSB, P_EHR_LSB, P_ESPO2, P_ESPO2_D = 13, 14, 15, 16
P_HR_D_MSB, P_HR_D_LSB, P_EHR_D_MSB, P_EHR_D_LSB = 19, 20, 21, 22


def checksum(data: bytes | Sequence[int]) -> int:
    """Sum of ``data`` modulo 256, the DF#2/#7 frame check."""
    return sum(data) & 0xFF


def split_rate(rate: int) -> tuple[int, int]:
    """A 9-bit rate as (MSB item, LSB item): HR8..HR7 in bits 1..0, HR6..HR0 in bits 6..0."""
    return (rate >> 7) & 0x03, rate & 0x7F


def join_rate(msb: int, lsb: int) -> int:
    """Inverse of :func:`split_rate`. Other bits are ignored, as the specification says."""
    return ((msb & 0x03) << 7) | (lsb & 0x7F)


def perfusion_flags(red: bool, green: bool) -> set[str]:
    """DF#2/#7 perfusion colour as flags: red alone is low, red with green (yellow) marginal."""
    if red and green:
        return {Flag.MARGINAL_PERFUSION}
    if red:
        return {Flag.LOW_PERFUSION}
    return set()  # green (good) or no indication in this frame


def record_fields(data: bytes | bytearray, pos: int = 0) -> tuple[int, int, int, int] | None:
    """``(pulse_rate, spo2, status, status2)`` of the DF#8 record at ``data[pos:pos + 4]``,
    or None when those bytes are not one (too few, or bit 7 not on the first byte only).

    What :meth:`Record.parse` checks, without building a :class:`Record`: the host's
    path for every record. ``Record.parse`` says why bytes are not one.
    """
    if len(data) < pos + RECORD_SIZE:
        return None
    b1, b2, b3, b4 = data[pos], data[pos + 1], data[pos + 2], data[pos + 3]
    if not b1 & 0x80 or (b2 | b3 | b4) & 0x80:
        return None
    return ((b1 & 0x03) << 7) | b2, b3, b1 & S8_FLAG_MASK, b4


def frame_fields(data: bytes | bytearray, pos: int, data_format: int
                 ) -> tuple[int, int, int] | None:
    """``(status, pleth, value)`` of the DF#``data_format`` frame at ``data[pos:pos + 5]``,
    or None when those bytes are not one (too few, no start byte or status bit, bad
    checksum).

    What :meth:`Frame.parse` checks, without building a :class:`Frame`: the host's path
    for every frame. ``Frame.parse`` says why bytes are not one.
    """
    if len(data) < pos + FRAME_SIZE:
        return None
    b0, b1, b2, b3 = data[pos], data[pos + 1], data[pos + 2], data[pos + 3]
    if (b0 + b1 + b2 + b3) & 0xFF != data[pos + 4]:
        return None
    if data_format == 2:
        if b0 != 0x01 or not b1 & 0x80:
            return None
        return b1, b2, b3
    if not b0 & 0x80:
        return None
    return b0, (b1 << 8) | b2, b3


@dataclass(frozen=True, slots=True)
class Record:
    """One DF#8 record: display-formatted pulse rate and SpO2 with status, once a second.

    Attributes:
        pulse_rate: 0..511 /min; :data:`MISSING_RATE` when there is no reading.
        spo2: 0..127 %; :data:`MISSING_SPO2` when there is no reading.
        status: the flag bits of byte 1 (``S8_*``, within :data:`S8_FLAG_MASK`).
        status2: byte 4 (``S2_*``), 0..127.
    """

    pulse_rate: int
    spo2: int
    status: int = 0
    status2: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.pulse_rate <= 511:
            raise ValueError(f"pulse rate {self.pulse_rate} outside 0..511")
        if not 0 <= self.spo2 <= 127:
            raise ValueError(f"SpO2 {self.spo2} outside 0..127")
        if self.status & ~S8_FLAG_MASK:
            raise ValueError(f"status {self.status:#x} has bits outside {S8_FLAG_MASK:#x}")
        if not 0 <= self.status2 <= 127:
            raise ValueError(f"status2 {self.status2:#x} outside 0..0x7f")

    @classmethod
    def parse(cls, data: bytes) -> Record:
        """Parse exactly four bytes.

        Raises:
            FrameError: wrong length, or bit 7 not set on byte 1 only.
        """
        if len(data) != RECORD_SIZE:
            raise FrameError(f"DF#8 record needs 4 bytes, got {len(data)}")
        b1, b2, b3, b4 = data
        if not b1 & 0x80 or (b2 | b3 | b4) & 0x80:
            raise FrameError("DF#8 sync bit not on byte 1 only")
        return cls(join_rate(b1, b2), b3, b1 & S8_FLAG_MASK, b4)

    def serialize(self) -> bytes:
        """The four bytes of the record."""
        msb, lsb = split_rate(self.pulse_rate)
        return bytes((0x80 | self.status | msb, lsb, self.spo2, self.status2))

    def flags(self) -> set[str]:
        """Quality flags the record carries (not :attr:`Flag.INVALID`: that is per value)."""
        out: set[str] = set()
        if self.status & S8_OOT:
            out.add(Flag.OUT_OF_TRACK)
        if self.status & S8_ARTF:
            out.add(Flag.ARTIFACT)
        if self.status & S8_LPRF:
            out.add(Flag.LOW_PERFUSION)
        elif self.status & S8_MPRF:
            out.add(Flag.MARGINAL_PERFUSION)
        if self.status2 & S2_SNSA:
            out.add(Flag.SENSOR_OFF)
        if self.status2 & S2_LOW_BATTERY:
            out.add(Flag.LOW_BATTERY)
        return out


@dataclass(frozen=True, slots=True)
class Frame:
    """One DF#2 or DF#7 frame, 1/75 s of data.

    Attributes:
        status: the STATUS byte (``ST_*``); bit 7 is always set.
        pleth: one pleth sample, 0..255 in DF#2 and 0..65535 in DF#7.
        value: the FLOAT byte: item ``n`` of the packet map in frame ``n``.
        data_format: 2 or 7.
    """

    status: int
    pleth: int
    value: int
    data_format: int = 2

    def __post_init__(self) -> None:
        if self.data_format not in (2, 7):
            raise ValueError(f"frames exist in data formats 2 and 7, not {self.data_format}")
        if not 0x80 <= self.status <= 0xFF:
            raise ValueError(f"status {self.status:#x} must have bit 7 set")
        top = 0xFF if self.data_format == 2 else 0xFFFF
        if not 0 <= self.pleth <= top:
            raise ValueError(f"pleth {self.pleth} outside 0..{top}")
        if not 0 <= self.value <= 0xFF:
            raise ValueError(f"value {self.value} outside 0..255")

    @classmethod
    def parse(cls, data: bytes, data_format: int = 2) -> Frame:
        """Parse exactly five bytes of ``data_format`` (2 or 7).

        Raises:
            FrameError: wrong length, missing start byte or status bit, bad checksum.
            ValueError: ``data_format`` is not 2 or 7.
        """
        if data_format not in (2, 7):
            raise ValueError(f"frames exist in data formats 2 and 7, not {data_format}")
        if len(data) != FRAME_SIZE:
            raise FrameError(f"DF#{data_format} frame needs 5 bytes, got {len(data)}")
        if data_format == 2:
            if data[0] != 0x01:
                raise FrameError(f"DF#2 frame starts with {data[0]:#04x}, not 0x01")
            status, pleth = data[1], data[2]
        else:
            status, pleth = data[0], (data[1] << 8) | data[2]
        if not status & 0x80:
            raise FrameError(f"status byte {status:#04x} lacks bit 7")
        if checksum(data[:4]) != data[4]:
            raise FrameError(f"bad checksum {data[4]:#04x}, expected {checksum(data[:4]):#04x}")
        return cls(status, pleth, data[3], data_format)

    def serialize(self) -> bytes:
        """The five bytes of the frame, checksum included."""
        if self.data_format == 2:
            body = bytes((0x01, self.status, self.pleth, self.value))
        else:
            body = bytes((self.status, self.pleth >> 8, self.pleth & 0xFF, self.value))
        return body + bytes((checksum(body),))

    @property
    def sync(self) -> bool:
        """True on the first frame of a packet."""
        return bool(self.status & ST_SYNC)

    def flags(self) -> set[str]:
        """Quality flags of this frame's STATUS byte."""
        out = perfusion_flags(bool(self.status & ST_RPRF), bool(self.status & ST_GPRF))
        if self.status & ST_ARTF:
            out.add(Flag.ARTIFACT)
        if self.status & ST_OOT:
            out.add(Flag.OUT_OF_TRACK)
        if self.status & ST_SNSA:
            out.add(Flag.SENSOR_OFF)
        return out


@dataclass(frozen=True, slots=True)
class Packet:
    """The 25 FLOAT bytes of a DF#2/#7 packet, read through the packet map.

    "-D" values are display-formatted: they hold the last reading for 10 s after the finger
    comes out (with SNSA set) and then go to the missing markers. The others go missing at once.

    Attributes:
        values: the FLOAT byte of each of the 25 frames, in order.
    """

    values: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.values) != FRAMES_PER_PACKET:
            raise ValueError(f"a packet has 25 values, got {len(self.values)}")
        if any(not 0 <= v <= 0xFF for v in self.values):
            raise ValueError("packet values are bytes")

    @classmethod
    def from_frames(cls, frames: Sequence[Frame]) -> Packet:
        """The packet carried by 25 frames, the first one with SYNC.

        Raises:
            FrameError: not 25 frames, or SYNC not on the first one only.
        """
        if len(frames) != FRAMES_PER_PACKET:
            raise FrameError(f"a packet has 25 frames, got {len(frames)}")
        if not frames[0].sync or any(f.sync for f in frames[1:]):
            raise FrameError("SYNC must be set on the first frame of a packet only")
        return cls(tuple(f.value for f in frames))

    @classmethod
    def build(
        cls,
        pulse_rate: int,
        spo2: int,
        pulse_rate_d: int | None = None,
        spo2_d: int | None = None,
        firmware: int = 0,
        stat2: int = 0,
        timer: int = 0,
    ) -> Packet:
        """Lay out values as the device does. ``-D`` values default to the plain ones.

        Args:
            pulse_rate, spo2: 4-beat averages (also used for the extended and fast items).
            pulse_rate_d, spo2_d: display-formatted values.
            firmware: firmware revision byte.
            stat2: ``S2_*`` bits.
            timer: seconds counter, 0..65535.
        """
        hr_d = pulse_rate if pulse_rate_d is None else pulse_rate_d
        sp_d = spo2 if spo2_d is None else spo2_d
        v = [0] * FRAMES_PER_PACKET
        v[P_HR_MSB], v[P_HR_LSB] = split_rate(pulse_rate)
        v[P_SPO2] = spo2
        v[P_FIRMWARE] = firmware
        v[P_TIMER_MSB], v[P_TIMER_LSB] = (timer >> 8) & 0xFF, timer & 0xFF
        v[P_STAT2] = stat2
        v[P_SPO2_D] = sp_d
        v[P_SPO2_FAST] = spo2
        v[P_SPO2_BB] = spo2
        v[P_EHR_MSB], v[P_EHR_LSB] = split_rate(pulse_rate)
        v[P_ESPO2] = spo2
        v[P_ESPO2_D] = sp_d
        v[P_HR_D_MSB], v[P_HR_D_LSB] = split_rate(hr_d)
        v[P_EHR_D_MSB], v[P_EHR_D_LSB] = split_rate(hr_d)
        return cls(tuple(v))

    def frames(self, statuses: Sequence[int], pleth: Sequence[int], data_format: int = 2
               ) -> list[Frame]:
        """The 25 frames carrying this packet.

        Args:
            statuses: 25 STATUS bytes; SYNC is set on the first and cleared on the others.
            pleth: 25 samples.
            data_format: 2 or 7.
        """
        out = []
        for i, (status, sample, value) in enumerate(zip(statuses, pleth, self.values,
                                                         strict=True)):
            status = (status | ST_ALWAYS | ST_SYNC) if i == 0 else (status | ST_ALWAYS) & ~ST_SYNC
            out.append(Frame(status, sample, value, data_format))
        return out

    @property
    def pulse_rate(self) -> int:
        """4-beat average pulse rate (missing at once without a finger)."""
        return join_rate(self.values[P_HR_MSB], self.values[P_HR_LSB])

    @property
    def spo2(self) -> int:
        """4-beat average SpO2."""
        return self.values[P_SPO2]

    @property
    def pulse_rate_d(self) -> int:
        """Display-formatted pulse rate: what the device's screen shows."""
        return join_rate(self.values[P_HR_D_MSB], self.values[P_HR_D_LSB])

    @property
    def spo2_d(self) -> int:
        """Display-formatted SpO2: what the device's screen shows."""
        return self.values[P_SPO2_D]

    @property
    def firmware(self) -> int:
        """Firmware revision byte."""
        return self.values[P_FIRMWARE]

    @property
    def stat2(self) -> int:
        """``S2_*`` bits (SmartPoint, low battery)."""
        return self.values[P_STAT2]

    @property
    def timer(self) -> int:
        """The device's seconds counter."""
        return (self.values[P_TIMER_MSB] << 8) | self.values[P_TIMER_LSB]


@dataclass(frozen=True, slots=True)
class SetFormat:
    """The host's "set data format" command.

    The short form is ``02 70 02 02 FF 03``. The extended form of newer modules adds an
    option byte (spot-check and Bluetooth bits) and a checksum, the sum modulo 256 of the
    bytes from the opcode to the option: ``02 70 04 02 FF OPT SUM 03``.

    Attributes:
        data_format: the format requested (``FF``).
        option: the option byte of the extended form, or None for the short form.
    """

    data_format: int
    option: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.data_format <= 0xFF:
            raise ValueError("data format is a byte")
        if self.option is not None and not 0 <= self.option <= 0xFF:
            raise ValueError("option is a byte")

    @classmethod
    def parse(cls, data: bytes) -> SetFormat:
        """Parse a complete command (6 or 8 bytes).

        Raises:
            FrameError: not a well-formed set-format command.
        """
        if len(data) == 6 and data[:4] == bytes((STX, OP_SET_FORMAT, 2, 2)) and data[5] == ETX:
            return cls(data[4])
        if len(data) == 8 and data[:4] == bytes((STX, OP_SET_FORMAT, 4, 2)) and data[7] == ETX:
            if checksum(data[1:6]) != data[6]:
                raise FrameError("bad set-format checksum")
            return cls(data[4], data[5])
        raise FrameError("not a set-format command")

    def serialize(self) -> bytes:
        """The command's bytes."""
        if self.option is None:
            return bytes((STX, OP_SET_FORMAT, 2, 2, self.data_format, ETX))
        body = bytes((OP_SET_FORMAT, 4, 2, self.data_format, self.option))
        return bytes((STX,)) + body + bytes((checksum(body), ETX))

    @staticmethod
    def size_at(data: bytes | bytearray, pos: int = 0) -> int:
        """Length of the command starting at ``pos`` judged by its length byte (0: not one)."""
        if len(data) - pos < 3 or data[pos] != STX or data[pos + 1] != OP_SET_FORMAT:
            return 0
        return {2: 6, 4: 8}.get(data[pos + 2], 0)
