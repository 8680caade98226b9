"""Placing Nonin DF#2/#7 frames in their 25-frame packets, through gaps and lost frames.

Frames come in as ``(status, pleth, value)`` (:func:`drivers.nonin.frames.frame_fields`);
a packet comes out when it is complete, as its 25 places (``None`` for a frame lost or not
trusted), or as the reason it had to be given up.
"""

from __future__ import annotations

from typing import NamedTuple

from drivers.nonin.frames import FRAMES_PER_PACKET

FrameFields = tuple[int, int, int]
"""``(status, pleth, value)`` of one DF#2/#7 frame."""


class ClosedPacket(NamedTuple):
    """A packet whose frames all have a place."""

    slots: list[FrameFields | None]
    """The 25 frames in order; None where one was lost or not trusted."""
    start: float
    """Time of its first frame."""
    end: float
    """Time of its last frame received."""


class PacketAssembler:
    """Puts frames in their places, from each SYNC frame on.

    A packet is closed by the next SYNC frame, never by counting to 25: frames lost whole
    (exactly 5 bytes each) leave no gap in the stream, and only the count between two SYNC
    frames reveals them. After a gap (:meth:`gap`) the frames that follow form a *tail*,
    placed by counting back from the next SYNC frame.

    Each call returns None, a :class:`ClosedPacket`, or a string: why the packet being
    assembled was given up (the host counts it as a bad frame).
    """

    def __init__(self) -> None:
        self._slots: list[FrameFields | None] | None = None  # None until the next SYNC frame
        self._filled = 0
        self._tail: list[FrameFields | None] | None = None
        self._start = 0.0
        self._last = 0.0

    def reset(self) -> None:
        """Forget the packet being assembled (format change, end of stream)."""
        self._slots = None

    def frame(self, kept: FrameFields | None, sync: bool, when: float, next_sync: bool
              ) -> ClosedPacket | str | None:
        """Place one frame.

        Args:
            kept: the frame, or None to hold its place without using it (a frame that may
                be spliced across a loss).
            sync: it carries the SYNC bit: the first frame of a packet.
            when: its time.
            next_sync: the frame right after it is a SYNC frame, so a packet it completes
                can close at once.
        """
        closed: ClosedPacket | str | None = None
        slots = self._slots
        if sync:
            if slots is not None:
                closed = self._close()
            slots = self._slots = [None] * FRAMES_PER_PACKET
            slots[0] = kept
            self._filled = 1
            self._tail = None
            self._start = when
        elif slots is None:
            return None  # before the first SYNC: the frame's place in its packet is unknown
        elif self._tail is not None:
            self._tail.append(kept)
            if self._filled + len(self._tail) > FRAMES_PER_PACKET:
                return self._drop("more frames than a packet holds after a gap")
        elif self._filled >= FRAMES_PER_PACKET:
            return self._drop("no SYNC frame after 25 frames")
        else:
            slots[self._filled] = kept
            self._filled += 1
        self._last = when
        if next_sync and self._tail is None and self._filled == FRAMES_PER_PACKET:
            return self._close()  # 25 frames then a SYNC: no need to wait for the SYNC
        return closed

    def gap(self) -> ClosedPacket | str | None:
        """Bytes were skipped: the frames after them are placed from the next SYNC back.

        Frames already in the tail cannot be placed relative to those after a second gap.
        """
        if self._slots is not None:
            if self._tail is None and self._filled == FRAMES_PER_PACKET:
                return self._close()  # the damage hit the next packet's SYNC frame
            self._tail = []
        return None

    def _drop(self, reason: str) -> str:
        """Give up on the packet being assembled: its frames cannot all be placed."""
        self._slots, self._tail = None, None
        return f"DF#2/#7 packet dropped: {reason}"

    def _close(self) -> ClosedPacket | str:
        slots, tail, self._slots, self._tail = self._slots, self._tail, None, None
        assert slots is not None
        if tail is None and self._filled != FRAMES_PER_PACKET:
            # Whole frames were lost without a trace: which ones is unknown, so no frame
            # of this packet has a known place (its items would be read shifted).
            return (f"DF#2/#7 packet of {self._filled} frames between two SYNC frames: "
                    "frames lost")
        if tail:
            if self._filled + len(tail) > FRAMES_PER_PACKET:
                return "more frames than a packet holds after a gap"
            slots[FRAMES_PER_PACKET - len(tail) :] = tail
        return ClosedPacket(slots, self._start, self._last)
