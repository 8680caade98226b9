"""Recognising which Nonin data format (#2, #7 or #8) a byte stream is in, from any offset."""

from __future__ import annotations

from drivers.nonin import frames
from drivers.nonin.frames import frame_fields

DETECT_UNITS = 3
"""Consecutive valid units needed to recognise a format. With three, no clean stream of one
format can pass for another: DF#2/#7 status bytes (bit 7 set) recur every 5 bytes and would
land on a DF#8 data byte, and a DF#8 status byte would break DF#2/#7 framing."""


def recognise(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """Which format starts at ``buf[pos]`` (or, for DF#2, a few bytes on).

    Checks stop at the first contradiction, so noise is rejected after a byte or two
    instead of waiting for a full detection window.

    Returns:
        ``(format, offset)``; ``(0, 0)`` for none; None while the bytes so far cannot tell.
    """
    df8 = records_at(buf, pos)
    if df8:
        return 8, 0
    df2 = frames_at(buf, pos, 2)
    if df2:
        return 2, 0
    df7 = frames_at(buf, pos, 7)
    if df7:
        # A quiet DF#2 stream (01 80 00 00 81...) also reads as DF#7 one byte in;
        # its constant 0x01 makes DF#2 the more specific, preferred reading.
        for k in range(1, frames.FRAME_SIZE):
            later = frames_at(buf, pos + k, 2)
            if later is None:
                return None
            if later:
                return 2, k
        return 7, 0
    if df8 is None or df2 is None or df7 is None:
        return None
    return 0, 0


def frames_at(buf: bytes | bytearray, pos: int, fmt: int) -> bool | None:
    """True: :data:`DETECT_UNITS` DF#``fmt`` frames start at ``pos``; False: they cannot;
    None: undecided yet."""
    for i in range(DETECT_UNITS):
        start = pos + i * frames.FRAME_SIZE
        chunk = bytes(buf[start : start + frames.FRAME_SIZE])
        if len(chunk) < frames.FRAME_SIZE:
            # Reject early on the bytes already there (start byte, status bit 7).
            if fmt == 2 and ((chunk[:1] and chunk[0] != 0x01)
                             or (len(chunk) > 1 and not chunk[1] & 0x80)):
                return False
            if fmt == 7 and chunk[:1] and not chunk[0] & 0x80:
                return False
            return None
        if frame_fields(chunk, 0, fmt) is None:
            return False
    return True


def records_at(buf: bytes | bytearray, pos: int) -> bool | None:
    """:data:`DETECT_UNITS` DF#8 records and the status byte of a fourth: bit 7 on every
    4th byte only. None: undecided yet."""
    n = DETECT_UNITS * frames.RECORD_SIZE + 1
    window = buf[pos : pos + n]
    for i, b in enumerate(window):
        if bool(b & 0x80) != (i % frames.RECORD_SIZE == 0):
            return False
    return True if len(window) == n else None
