"""Host side of the Nellcor ASCII printout: split the stream into lines, decode each one."""

from __future__ import annotations

import re
from typing import Any

from drivers.base import SerialSettings
from drivers.conformance import BlindSpot
from drivers.lines import LineCodec
from drivers.nellcor import frames
from drivers.nellcor.frames import ColumnsLine, DataLine, SettingsLine, VersionLine
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation

_TOKEN = re.compile(rb"\S+")
_DATE = re.compile(rb"\d\d-\w{3}-\d\d$")


class NellcorHostCodec(LineCodec):
    """Decodes Nellcor N-395/N-560/N-595 data lines into SpO2 and pulse rate.

    The device free-runs (a line every 2 s on the N-560/595) and needs no request, so
    :meth:`start` sends nothing. Header lines are not errors: their model, firmware and
    alarm limits go into a ``DeviceStatus`` (state ``info``) emitted, when they changed,
    just before the next data line's observations, stamped with that line's time.

    ``---`` values become ``None`` with :attr:`Flag.INVALID`; a trailing ``*``, or an
    SH/SL (PH/PL) status code, adds :attr:`Flag.OUT_OF_LIMIT` to SpO2 (pulse rate); other
    status codes flag both values (:data:`~drivers.nellcor.frames.STATUS_FLAGS`). The
    relative pulse amplitude (PA) is not reported: it has no standard unit or MDC term.

    Lines have no checksum: a data line whose value columns (:attr:`DataLine.layout`)
    differ from the lines before it is held back until the next data line, and dropped as
    damaged (counted) unless that line confirms the new columns
    (:class:`~drivers.lines.LineCodec`).

    Times are the device clock read as UTC when ``now`` is None, else ``now``.

    Args:
        device_id: stamped on every event.
    """

    name = "nellcor"
    max_line = frames.MAX_LINE
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, device_id: str = "device") -> None:
        super().__init__(device_id)
        self._info: dict[str, Any] = {"protocol": self.name}
        self._announced: dict[str, Any] = dict(self._info)

    def lost_bytes_blind_spot(self, stream: bytes, pos: int, size: int) -> BlindSpot | None:
        """After PA come only status codes: a lost code (or the spaces around it) cannot
        be told from one the device did not print. Values are not affected."""
        start = stream.rfind(b"\n", 0, pos) + 1
        end = stream.find(b"\r", pos)
        tokens = list(_TOKEN.finditer(stream[start:end]))
        if len(tokens) >= 5 and _DATE.match(tokens[0].group()) \
                and pos >= start + tokens[4].end() and pos + size <= end:
            return BlindSpot("Nellcor status area")
        return None

    def parse_line(self, line: bytes) -> Any:
        return frames.parse_line(line)

    def find_line_start(self, data: bytes) -> int:
        return frames.find_line_start(data)

    def line_layout(self, parsed: Any) -> tuple[int, ...] | None:
        return parsed.layout if isinstance(parsed, DataLine) else None

    def handle_line(self, parsed: Any, now: float | None) -> None:
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
