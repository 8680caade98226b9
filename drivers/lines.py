"""The shared host side of line-based ASCII protocols (Masimo ASCII 1, Nellcor printout).

Bytes are split into lines on CR LF, LF or a lone CR. A lone CR ends its line at once: if
an LF follows, it only makes an empty line, which is ignored, so devices that end lines
with CR alone are not held back a line. A line that will not parse is counted; if a valid
line starts inside it (noise in front of a record), that line is still decoded. A buffer
that grows past ``max_line`` without a terminator is garbage and is cut, keeping only a
possible line start.

These lines carry no checksum, so a line that lost a byte or a few (a digit, a space, part
of a key) may still parse, with a wrong number. A device prints every line in the same
layout (fixed-width values, fixed columns), and a loss changes it. So a subclass may give
each data line a *layout* (:meth:`LineCodec.line_layout`): a line in the layout of the
lines before it is decoded at once; a line in another layout is held back until the next
one. If that one has the same new layout, the device changed it (another model, a column
that widened) and both are decoded; otherwise the held line was damaged: it is counted in
``frames_bad`` and dropped. The first data line sets the layout: nothing comes before it
to compare it with.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Hashable
from typing import Any, ClassVar

from drivers.base import HostCodec
from monitor.domain.errors import FrameError

_LINE_END = re.compile(rb"\r\n|\n|\r")


class LineCodec(HostCodec):
    """Base class: subclasses give :meth:`parse_line`, :meth:`find_line_start` and
    :meth:`handle_line`."""

    max_line: ClassVar[int] = 512
    """Longer runs without a terminator are garbage."""

    def __init__(self, device_id: str = "device") -> None:
        super().__init__(device_id)
        self._buffer = bytearray()
        self._layout: Hashable | None = None  # of the last data lines decoded
        self._held: tuple[Any, float | None, Hashable, int] | None = None
        """A data line in a new layout, waiting for the next one: (parsed, now, layout,
        length)."""

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

    def line_layout(self, parsed: Any) -> Hashable | None:
        """The layout of a parsed data line, or None for a line exempt from the check.

        Two undamaged lines of one device have equal layouts whatever their values.
        """
        return None

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
        """Drop a partial line (counted) and a line held back (never confirmed)."""
        if self._buffer.strip():
            self._bad_frame("partial line at end of stream", len(self._buffer))
        self._buffer.clear()
        self._held = None

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
            line = line[start + 1 :]
        layout = self.line_layout(parsed)
        if layout is None:
            self._accept(parsed, now)
            return
        held, self._held = self._held, None
        if self._layout is None:
            self._layout = layout
        if layout == self._layout:
            if held is not None:
                self._bad_frame("line layout differs from the lines around it", held[3])
            self._accept(parsed, now)
        elif held is not None and layout == held[2]:
            self._layout = layout  # two lines in a row: the device's layout changed
            self._accept(held[0], held[1])
            self._accept(parsed, now)
        else:
            if held is not None:
                self._bad_frame("line layout differs from the lines around it", held[3])
            self._held = (parsed, now, layout, len(line))

    def _accept(self, parsed: Any, now: float | None) -> None:
        self.frames_ok += 1
        self.handle_line(parsed, now)
