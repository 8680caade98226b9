"""Host side of Masimo ASCII 1: split the byte stream into lines, decode each record."""

from __future__ import annotations

from drivers.base import SerialSettings
from drivers.lines import LineCodec
from drivers.masimo import frames
from drivers.masimo.frames import Record
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation

# Token -> metric alias. BPM is the oximeter's pulse rate, not an ECG heart rate.
_VALUES = (("SPO2", "SPO2"), ("BPM", "PR"), ("PI", "PI"), ("SPCO", "SPCO"),
           ("SPMET", "SPMET"), ("PVI", "PVI"))


class MasimoHostCodec(LineCodec):
    """Decodes Masimo ASCII 1 lines into SpO2, pulse rate, PI, SpCO, SpMet and PVI.

    The device free-runs at 1 Hz and needs no request, so :meth:`start` sends nothing.
    Blank lines between records are normal and ignored. A garbled line is counted in
    ``frames_bad``; if a valid record starts inside it, that record is still decoded.
    Lines have no checksum: a line whose keys or value widths (:attr:`Record.layout`)
    differ from the lines before it is held back until the next line, and dropped as
    damaged (counted) unless that line confirms the new layout
    (:class:`~drivers.lines.LineCodec`).
    """

    name = "masimo"
    max_line = frames.MAX_LINE
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, device_id: str = "device") -> None:
        super().__init__(device_id)
        self._serial_number: str | None = None
        self._model: str | None = None

    def parse_line(self, line: bytes) -> Record:
        return Record.parse(line)

    def find_line_start(self, data: bytes) -> int:
        return frames.find_record_start(data)

    def handle_line(self, parsed: Record, now: float | None) -> None:
        self._decode(parsed, now)

    def line_layout(self, parsed: Record) -> tuple[tuple[str, str], ...]:
        return parsed.layout

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
