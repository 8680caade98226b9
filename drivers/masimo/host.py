"""Host side of Masimo ASCII 1: split the byte stream into lines, decode each record."""

from __future__ import annotations

import re

from drivers.base import HostCodec, SerialSettings
from drivers.masimo import frames
from drivers.masimo.frames import Record
from monitor.errors import FrameError
from monitor.models import DeviceState, DeviceStatus, Flag, Observation

_LINE_END = re.compile(rb"\r\n|\n|\r")

# Token -> metric alias. BPM is the oximeter's pulse rate, not an ECG heart rate.
_VALUES = (("SPO2", "SPO2"), ("BPM", "PR"), ("PI", "PI"), ("SPCO", "SPCO"),
           ("SPMET", "SPMET"), ("PVI", "PVI"))


class MasimoHostCodec(HostCodec):
    """Decodes Masimo ASCII 1 lines into SpO2, pulse rate, PI, SpCO, SpMet and PVI.

    The device free-runs at 1 Hz and needs no request, so :meth:`start` sends nothing.
    Blank lines between records are normal and ignored. A garbled line is counted in
    ``frames_bad``; if a valid record starts inside it, that record is still decoded.
    """

    name = "masimo"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, device_id: str = "device") -> None:
        super().__init__(device_id)
        self._buffer = bytearray()
        self._serial_number: str | None = None
        self._model: str | None = None

    def _feed(self, data: bytes, now: float | None) -> None:
        self._buffer += data
        while True:
            m = _LINE_END.search(self._buffer)
            if m is None:
                break
            # A lone CR at the very end may be the first half of CR LF: wait for more.
            if m.group() == b"\r" and m.end() == len(self._buffer):
                break
            line = bytes(self._buffer[: m.start()])
            del self._buffer[: m.end()]
            self._line(line, now)
        if len(self._buffer) > frames.MAX_LINE:
            # No terminator within any sane line length: keep only a possible record start.
            start = frames.find_record_start(bytes(self._buffer[1:]))
            cut = len(self._buffer) if start < 0 else start + 1
            self._bad_frame("overlong line", cut)
            del self._buffer[:cut]

    def receive_eof(self) -> None:
        if self._buffer.strip():
            self._bad_frame("partial line at end of stream", len(self._buffer))
        self._buffer.clear()

    def _line(self, line: bytes, now: float | None) -> None:
        if not line.strip():
            return  # blank lines separate records on some set-ups
        try:
            record = Record.parse(line)
        except FrameError as exc:
            start = frames.find_record_start(line[1:])
            if start < 0:
                self._bad_frame(str(exc), len(line))
                return
            # Garbage in front of a real record (a glitch mid-line): count it, keep the record.
            self._bad_frame(f"{exc}; resynchronised", start + 1)
            try:
                record = Record.parse(line[start + 1 :])
            except FrameError as exc2:
                self._bad_frame(str(exc2), len(line) - start - 1)
                return
        self.frames_ok += 1
        self._decode(record, now)

    def _decode(self, record: Record, now: float | None) -> None:
        when = record.device_time if now is None else now
        sn = record.raw("SN")
        if (sn, record.model) != (self._serial_number, self._model):
            self._serial_number, self._model = sn, record.model
            info = {"protocol": self.name, "model": record.model}
            if sn and "-" not in sn:
                info["serial_number"] = sn
            self._emit(DeviceStatus(self.device_id, DeviceState.INFO, when, "", info))
        flags = set(record.flags())
        alarm = record.bits("ALARM")
        if alarm & frames.ALARM_ACTIVE:
            flags.add(Flag.DEVICE_ALARM)
        if alarm & frames.ALARM_MUTED:
            flags.add(Flag.ALARM_SILENCED)
        for key, metric in _VALUES:
            if record.raw(key) is None:
                continue
            value = record.number(key)
            if value is None and metric not in ("SPO2", "PR"):
                continue  # unlicensed parameters are always "--"; only report core vitals
            obs_flags = set(flags)
            if value is None:
                obs_flags.add(Flag.INVALID)
            if metric == "SPO2" and alarm & (frames.ALARM_SPO2_HIGH | frames.ALARM_SPO2_LOW):
                obs_flags.add(Flag.OUT_OF_LIMIT)
            if metric == "PR" and alarm & (frames.ALARM_PULSE_HIGH | frames.ALARM_PULSE_LOW):
                obs_flags.add(Flag.OUT_OF_LIMIT)
            self._emit(Observation.of(metric, value, when, self.device_id, frozenset(obs_flags)))
