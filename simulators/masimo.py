"""Simulated Masimo Rad-8 / Radical-7 writing ASCII 1 lines once a second."""

from __future__ import annotations

import math

from drivers.base import SerialSettings
from drivers.masimo import frames
from drivers.masimo.frames import Record
from monitor.domain.models import Flag
from simulators.base import DeviceCodec
from simulators.scenarios import Vitals

_EXC_FOR_FLAG: dict[str, int] = {str(flag): bit for bit, flag in frames.EXC_FLAGS.items()}


class MasimoDeviceCodec(DeviceCodec):
    """Emits one ASCII 1 record per whole second of device time.

    Args:
        model: ``rad8``, ``radical7`` or ``radical7_color`` (token sets differ).
        serial_number: the instrument serial number printed in ``SN=``.
        blank_lines: put an empty line between records, as some set-ups show.
    """

    name = "masimo"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, model: str = "rad8", serial_number: str | None = "0000056661",
                 blank_lines: bool = False) -> None:
        super().__init__()
        if model not in frames.MODEL_TOKENS:
            raise ValueError(f"unknown Masimo model {model!r}")
        self.model = model
        self.serial_number = serial_number
        self.blank_lines = blank_lines
        self._next_second: float | None = None

    def advance(self, now: float, vitals: Vitals) -> None:
        second = math.floor(now)
        if self._next_second is None:
            self._next_second = second
        while self._next_second <= second:
            self._send(self.encode(self._next_second, vitals))
            self._next_second += 1

    def encode(self, when: float, vitals: Vitals) -> bytes:
        """The bytes of one record showing ``vitals`` at ``when``."""
        return self.record(when, vitals).serialize() + frames.TERMINATOR + (
            frames.TERMINATOR if self.blank_lines else b""
        )

    def record(self, when: float, vitals: Vitals) -> Record:
        """The record showing ``vitals`` at ``when``."""
        exc = frames.EXC_SET
        for flag in vitals.flags:
            exc |= _EXC_FOR_FLAG.get(flag, 0)
        if Flag.MOTION in vitals.flags or Flag.ARTIFACT in vitals.flags:
            exc |= frames.EXC_INTERFERENCE
        off = vitals.sensor_off
        if off:
            exc &= ~frames.EXC_SET
        return Record.build(
            when,
            None if off else vitals.spo2,
            None if off else vitals.pr,
            None if off else vitals.pi,
            exc=exc,
            serial_number=self.serial_number,
            model=self.model,
        )
