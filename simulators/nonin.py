"""Simulated Nonin OEM module: DF#8 once a second or DF#2/#7 at 75 frames a second."""

from __future__ import annotations

import math

from drivers.base import SerialSettings
from drivers.nonin import frames
from drivers.nonin.frames import Packet, Record, SetFormat
from monitor.domain.errors import FrameError
from monitor.domain.models import Flag
from simulators.base import DeviceCodec
from simulators.scenarios import Vitals
from simulators.waveforms import PlethSynth

_MAX_REQUEST_BUFFER = 64


class NoninDeviceCodec(DeviceCodec):
    """Formats :class:`~simulators.scenarios.Vitals` as a Nonin module would send them.

    It answers the set-format command with ACK and switches format, or with NAK when the
    format is not in ``supported_formats``. Like the real device, display ("-D") values
    hold the last reading for ``display_hold`` seconds after the sensor comes off (with
    the sensor alarm set), then go to the missing markers (HR 511, SpO2 127).

    Args:
        data_format: 2, 7 or 8 at power-on.
        supported_formats: formats the set-format command may select.
        display_hold: seconds the display values survive a sensor-off.
        firmware: firmware revision byte sent in DF#2/#7 packets.
    """

    name = "nonin"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, data_format: int = 8, supported_formats: tuple[int, ...] = frames.FORMATS,
                 display_hold: float = 10.0, firmware: int = 0x94) -> None:
        super().__init__()
        if data_format not in frames.FORMATS:
            raise ValueError(f"Nonin data format must be 2, 7 or 8, not {data_format!r}")
        self.data_format = data_format
        self.supported_formats = tuple(supported_formats)
        self.display_hold = display_hold
        self.firmware = firmware
        self._pleth = PlethSynth(frames.FRAME_RATE)
        self._commands = bytearray()
        self._t0: float | None = None
        self._next: float | None = None  # DF#8: next whole second; DF#2/#7: next frame index
        self._queue: list[bytes] = []  # frames of the current packet not yet due
        self._held: tuple[int, int] = (frames.MISSING_RATE, frames.MISSING_SPO2)
        self._off_since: float | None = None

    # -- device output ----------------------------------------------------------------------

    def advance(self, now: float, vitals: Vitals) -> None:
        if self._t0 is None:
            self._t0 = now
        if self.data_format == 8:
            second = math.floor(now)
            if self._next is None:
                self._next = second
            while self._next <= second:
                self._send(self.record(self._next, vitals).serialize())
                self._next += 1
            return
        if self._next is None:
            self._next = math.floor((now - self._t0) * frames.FRAME_RATE)
        due = math.floor((now - self._t0) * frames.FRAME_RATE)
        out = bytearray()
        while self._next <= due:
            if not self._queue:
                when = self._t0 + self._next / frames.FRAME_RATE
                self._queue = [f.serialize() for f in self.packet_frames(when, vitals)]
            out += self._queue.pop(0)
            self._next += 1
        if out:
            self._send(bytes(out))

    @staticmethod
    def _current(vitals: Vitals) -> tuple[int, int]:
        """(pulse rate, SpO2) measured now, missing markers without a reading."""
        off = vitals.sensor_off
        rate = frames.MISSING_RATE if vitals.pr is None or off else round(vitals.pr)
        spo2 = frames.MISSING_SPO2 if vitals.spo2 is None or off else round(vitals.spo2)
        return min(rate, frames.MISSING_RATE), min(spo2, frames.MISSING_SPO2)

    def _display_values(self, when: float, vitals: Vitals) -> tuple[int, int]:
        """Display-formatted (pulse rate, SpO2): the last reading held after a sensor-off."""
        if not vitals.sensor_off:
            self._off_since = None
            self._held = self._current(vitals)
            return self._held
        if self._off_since is None:
            self._off_since = when
        if when - self._off_since < self.display_hold:
            return self._held
        return frames.MISSING_RATE, frames.MISSING_SPO2

    def record(self, when: float, vitals: Vitals) -> Record:
        """The DF#8 record showing ``vitals`` at ``when``."""
        rate, spo2 = self._display_values(when, vitals)
        status = 0
        if vitals.flags & {Flag.ARTIFACT, Flag.MOTION}:
            status |= frames.S8_ARTF
        if Flag.OUT_OF_TRACK in vitals.flags:
            status |= frames.S8_OOT
        if Flag.LOW_PERFUSION in vitals.flags:
            status |= frames.S8_LPRF
        elif Flag.MARGINAL_PERFUSION in vitals.flags:
            status |= frames.S8_MPRF
        status2 = frames.S2_SNSA if vitals.sensor_off else 0
        if Flag.LOW_BATTERY in vitals.flags:
            status2 |= frames.S2_LOW_BATTERY
        return Record(rate, spo2, status, status2)

    def packet_frames(self, when: float, vitals: Vitals) -> list[frames.Frame]:
        """The 25 DF#2/#7 frames of the packet starting at ``when``."""
        rate_d, spo2_d = self._display_values(when, vitals)
        rate, spo2 = self._current(vitals)
        status = frames.ST_ALWAYS
        if vitals.flags & {Flag.ARTIFACT, Flag.MOTION}:
            status |= frames.ST_ARTF
        if Flag.OUT_OF_TRACK in vitals.flags:
            status |= frames.ST_OOT
        if vitals.sensor_off:
            status |= frames.ST_SNSA
        if Flag.LOW_PERFUSION in vitals.flags:
            status |= frames.ST_RPRF
        elif Flag.MARGINAL_PERFUSION in vitals.flags:
            status |= frames.ST_RPRF | frames.ST_GPRF
        stat2 = frames.S2_LOW_BATTERY if Flag.LOW_BATTERY in vitals.flags else 0
        timer = int(when - (self._t0 or when)) & 0xFFFF
        packet = Packet.build(rate, spo2, rate_d, spo2_d, self.firmware, stat2, timer)
        shape = self._pleth.next(frames.FRAMES_PER_PACKET,
                                 None if vitals.sensor_off else vitals.pr)
        top = 0xFF if self.data_format == 2 else 0xFFFF
        pleth = [max(0, min(top, round(x * top))) for x in shape]
        return packet.frames([status] * frames.FRAMES_PER_PACKET, pleth, self.data_format)

    # -- host requests ----------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        buf = self._commands
        buf += data
        while buf:
            if buf[0] != frames.STX:
                del buf[0]
                continue
            size = SetFormat.size_at(buf)
            if size == 0:
                if len(buf) < 3:
                    break  # may still become a command
                del buf[0]
                continue
            if len(buf) < size:
                break
            try:
                command = SetFormat.parse(bytes(buf[:size]))
            except FrameError:
                del buf[0]
                continue
            del buf[:size]
            self._requests.append(command)
            self._set_format(command.data_format)
        if len(buf) > _MAX_REQUEST_BUFFER:
            del buf[:-_MAX_REQUEST_BUFFER]

    def _set_format(self, data_format: int) -> None:
        if data_format not in self.supported_formats or data_format not in frames.FORMATS:
            self._send(bytes((frames.NAK,)))
            return
        self._send(bytes((frames.ACK,)))
        if data_format != self.data_format:
            self.data_format = data_format
            self._next = None  # start the new format on the next tick, packets whole
            self._queue = []
