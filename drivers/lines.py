"""The shared host side of line-based ASCII protocols (Masimo ASCII 1, Nellcor printout).

Bytes are split into lines on CR LF, LF or a lone CR. A lone CR ends its line at once: if
an LF follows, it only makes an empty line, which is ignored, so devices that end lines
with CR alone are not held back a line. A line that will not parse is counted; if a valid
line starts inside it (noise in front of a record), that line is still decoded. A buffer
that grows past ``max_line`` without a terminator is garbage and is cut, keeping only a
possible line start.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from typing import Any, ClassVar

from drivers.base import HostCodec
from monitor.errors import FrameError

_LINE_END = re.compile(rb"\r\n|\n|\r")


class LineCodec(HostCodec):
    """Base class: subclasses give :meth:`parse_line`, :meth:`find_line_start` and
    :meth:`handle_line`."""

    max_line: ClassVar[int] = 512
    """Longer runs without a terminator are garbage."""

    def __init__(self, device_id: str = "device") -> None:
        super().__init__(device_id)
        self._buffer = bytearray()

    @abstractmethod
    def parse_line(self, line: bytes) -> Any:
        """Parse one line (without terminator).

        Raises:
            FrameError: not a line of this protocol.
        """

    @abstractmethod
    def find_line_start(self, data: bytes) -> int:
        """Index in ``data`` where a valid line could start, or -1."""

    @abstractmethod
    def handle_line(self, parsed: Any, now: float | None) -> None:
        """Turn a parsed line into events."""

    def _feed(self, data: bytes, now: float | None) -> None:
        self._buffer += data
        start = 0
        while (m := _LINE_END.search(self._buffer, start)) is not None:
            self._line(bytes(self._buffer[start : m.start()]), now)
            start = m.end()
        del self._buffer[:start]
        while len(self._buffer) > self.max_line:
            found = self.find_line_start(bytes(self._buffer[1:]))
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
            return  # blank lines separate records on some set-ups
        try:
            parsed = self.parse_line(line)
        except FrameError as exc:
            start = self.find_line_start(line[1:])
            if start < 0:
                self._bad_frame(str(exc), len(line))
                return
            self._bad_frame(f"{exc}; resynchronised", start + 1)
            try:
                parsed = self.parse_line(line[start + 1 :])
            except FrameError as exc2:
                self._bad_frame(str(exc2), len(line) - start - 1)
                return
        self.frames_ok += 1
        self.handle_line(parsed, now)
