"""Simulated Nellcor N-560/N-595 printing its ASCII real-time table on the data port."""

from __future__ import annotations

import math

from drivers.base import SerialSettings
from drivers.nellcor import frames
from drivers.nellcor.frames import ColumnsLine, DataLine, SettingsLine, VersionLine
from monitor.domain.models import Flag
from simulators.base import DeviceCodec
from simulators.scenarios import Vitals

_FLAG_CODES = (
    (Flag.MOTION, "MO"),
    (Flag.PULSE_SEARCH, "PS"),
    (Flag.LOSS_OF_PULSE, "LP"),
    (Flag.SENSOR_DISCONNECT, "SD"),
    (Flag.LOW_BATTERY, "LB"),
)

_FIRMWARE = {"N-560": "1.61.00", "N-595": "1.61.00", "N-395": "1.3.0.4"}


class NellcorDeviceCodec(DeviceCodec):
    """Prints a header block on start and every ``header_every`` data lines, and a data
    line every ``interval`` seconds of device time, in the N-560 column layout.

    Limit alarms are computed from ``spo2_limits``/``pr_limits`` (``*`` and SH/SL/PH/PL).

    Args:
        model: model name printed in the header (``N-560``, ``N-595``...).
        spo2_limits, pr_limits: alarm limits (low, high).
        limit_set: ``ADULT`` or ``NEO``.
        sat_seconds: SatSeconds setting.
        alarm_audio: ``on``, ``off`` (prints AO) or ``silenced`` (prints AS).
        header_every: data lines between header blocks.
        interval: seconds between data lines.
    """

    name = "nellcor"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, model: str = "N-560", spo2_limits: tuple[int, int] = (85, 100),
                 pr_limits: tuple[int, int] = (40, 170), limit_set: str = "ADULT",
                 sat_seconds: int = 0, alarm_audio: str = "on", header_every: int = 25,
                 interval: float = 2.0) -> None:
        super().__init__()
        if alarm_audio not in ("on", "off", "silenced"):
            raise ValueError("alarm_audio must be on, off or silenced")
        if header_every < 1 or interval <= 0:
            raise ValueError("header_every and interval must be positive")
        self.model = model
        self.spo2_limits = spo2_limits
        self.pr_limits = pr_limits
        self.limit_set = limit_set
        self.sat_seconds = sat_seconds
        self.alarm_audio = alarm_audio
        self.header_every = header_every
        self.interval = interval
        self._next: float | None = None
        self._lines = 0

    def start(self) -> None:
        """Print the header block, as the device does when switched on."""
        self._send(self.header())

    def header(self) -> bytes:
        """The three header lines, terminators included."""
        lines = (
            VersionLine.build(self.model, _FIRMWARE.get(self.model, "1.61.00"),
                              self.spo2_limits, self.pr_limits),
            SettingsLine.build(self.limit_set, self.sat_seconds),
            ColumnsLine(),
        )
        return b"".join(line.serialize() + frames.TERMINATOR for line in lines)

    def advance(self, now: float, vitals: Vitals) -> None:
        if self._next is None:
            self._next = float(math.floor(now))
        while self._next <= now:
            if self._lines and self._lines % self.header_every == 0:
                self._send(self.header())
            self._send(self.line(self._next, vitals).serialize() + frames.TERMINATOR)
            self._lines += 1
            self._next += self.interval

    def line(self, when: float, vitals: Vitals) -> DataLine:
        """The data line showing ``vitals`` at ``when``."""
        off = vitals.sensor_off
        spo2 = None if off else vitals.spo2
        bpm = None if off else vitals.pr
        pa = None if off or vitals.pi is None else max(0.0, min(254.0, vitals.pi * 25))
        codes = [code for flag, code in _FLAG_CODES if flag in vitals.flags]
        if Flag.ARTIFACT in vitals.flags and "MO" not in codes:
            codes.append("MO")
        if off:
            codes.append("SO")
        spo2_star = bpm_star = False
        if spo2 is not None and not self.spo2_limits[0] <= round(spo2) <= self.spo2_limits[1]:
            spo2_star = True
            codes.append("SL" if spo2 < self.spo2_limits[0] else "SH")
        if bpm is not None and not self.pr_limits[0] <= round(bpm) <= self.pr_limits[1]:
            bpm_star = True
            codes.append("PL" if bpm < self.pr_limits[0] else "PH")
        if self.alarm_audio != "on":
            codes.append("AO" if self.alarm_audio == "off" else "AS")
        return DataLine.build(when, spo2, bpm, pa, tuple(codes), spo2_star, bpm_star)
