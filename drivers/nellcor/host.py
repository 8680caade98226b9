"""Host side of the Nellcor ASCII printout: split the stream into lines, decode each one."""

from __future__ import annotations

import re
from typing import Any

from drivers.base import HostCodec, SerialSettings
from drivers.nellcor import frames
from drivers.nellcor.frames import ColumnsLine, DataLine, SettingsLine, VersionLine
from monitor.errors import FrameError
from monitor.models import DeviceState, DeviceStatus, Flag, Observation

_LINE_END = re.compile(rb"\r\n|\n|\r")


class NellcorHostCodec(HostCodec):
    """Decodes Nellcor N-395/N-560/N-595 data lines into SpO2 and pulse rate.

    The device free-runs (a line every 2 s on the N-560/595) and needs no request, so
    :meth:`start` sends nothing. Header lines are not errors: their model, firmware and
    alarm limits go into a ``DeviceStatus`` (state ``info``) emitted, when they changed,
    just before the next data line's observations, stamped with that line's time.

    ``---`` values become ``None`` with :attr:`Flag.INVALID`; a trailing ``*``, or an
    SH/SL (PH/PL) status code, adds :attr:`Flag.OUT_OF_LIMIT` to SpO2 (pulse rate); other
    status codes flag both values (:data:`~drivers.nellcor.frames.STATUS_FLAGS`). The
    relative pulse amplitude (PA) is not reported: it has no standard unit or MDC term.

    Times are the device clock read as UTC when ``now`` is None, else ``now``.

    Args:
        device_id: stamped on every event.
    """

    name = "nellcor"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, device_id: str = "device") -> None:
        super().__init__(device_id)
        self._buffer = bytearray()
        self._info: dict[str, Any] = {"protocol": self.name}
        self._announced: dict[str, Any] = dict(self._info)

    def _feed(self, data: bytes, now: float | None) -> None:
        self._buffer += data
        start = 0
        while True:
            # A CR at the very end ends the line now: if an LF follows, it only makes an
            # empty line, which is ignored, so CR-only devices are not held back a line.
            m = _LINE_END.search(self._buffer, start)
            if m is None:
                break
            self._line(bytes(self._buffer[start : m.start()]), now)
            start = m.end()
        del self._buffer[:start]
        while len(self._buffer) > frames.MAX_LINE:
            # No terminator within any sane line length: keep only a possible line start.
            found = frames.find_line_start(bytes(self._buffer[1:]))
            cut = len(self._buffer) if found < 0 else found + 1
            self._bad_frame("overlong line", cut)
            del self._buffer[:cut]

    def receive_eof(self) -> None:
        """Drop a partial line (counted)."""
        if self._buffer.strip():
            self._bad_frame("partial line at end of stream", len(self._buffer))
        self._buffer.clear()

    def _line(self, line: bytes, now: float | None) -> None:
        if not line.strip():
            return  # blank lines separate blocks on some printouts
        try:
            parsed = frames.parse_line(line)
        except FrameError as exc:
            start = frames.find_line_start(line[1:])
            if start < 0:
                self._bad_frame(str(exc), len(line))
                return
            # Noise in front of a real data line (a glitch mid-line): count it, keep the line.
            self._bad_frame(f"{exc}; resynchronised", start + 1)
            try:
                parsed = DataLine.parse(line[start + 1 :])
            except FrameError as exc2:
                self._bad_frame(str(exc2), len(line) - start - 1)
                return
        self.frames_ok += 1
        if isinstance(parsed, DataLine):
            self._data(parsed, now)
        elif isinstance(parsed, VersionLine):
            lo, hi = parsed.spo2_limits
            plo, phi = parsed.pr_limits
            self._info.update(model=parsed.model, firmware=parsed.version,
                              spo2_limits=[lo, hi], pr_limits=[plo, phi])
        elif isinstance(parsed, SettingsLine):
            self._info.update(limit_set=parsed.limit_set, sat_seconds=parsed.sat_seconds)
            if parsed.resp_mode is not None:
                self._info["resp_mode"] = parsed.resp_mode
        else:
            assert isinstance(parsed, ColumnsLine)

    def _data(self, line: DataLine, now: float | None) -> None:
        when = line.device_time if now is None else now
        if self._info != self._announced:
            self._announced = dict(self._info)
            detail = " ".join(str(self._info[k]) for k in ("model", "firmware") if k in self._info)
            self._emit(DeviceStatus(self.device_id, DeviceState.INFO, when, detail,
                                    dict(self._info)))
        common: set[str] = set()
        for code in line.status:
            common |= frames.STATUS_FLAGS.get(code, frozenset())
        codes = set(line.status)
        for metric, raw, limit_codes in (("SPO2", line.spo2, frames.SPO2_LIMIT_CODES),
                                         ("PR", line.bpm, frames.PR_LIMIT_CODES)):
            flags = set(common)
            value = DataLine.number(raw)
            if value is None:
                flags.add(Flag.INVALID)
            if DataLine.starred(raw) or codes & limit_codes:
                flags.add(Flag.OUT_OF_LIMIT)
            self._emit(Observation.of(metric, value, when, self.device_id, frozenset(flags)))
