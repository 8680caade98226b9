"""Host side of the Nonin serial formats: detect or select DF#2/#7/#8, decode numerics and pleth."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from drivers.base import HostCodec, SerialSettings
from drivers.conformance import BlindSpot, Conformance, Variant
from drivers.nonin import frames
from drivers.nonin.frames import Frame, Record, SetFormat
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation, Waveform

_DETECT_UNITS = 3
"""Consecutive valid units needed to recognise a format. With three, no clean stream of one
format can pass for another: DF#2/#7 status bytes (bit 7 set) recur every 5 bytes and would
land on a DF#8 data byte, and a DF#8 status byte would break DF#2/#7 framing."""

_REPLY_WAIT = {2: 150, 7: 150, 8: 3}
"""Good units in the requested format after which a missing ACK is no longer expected."""

_CONFIRM_SKIP = 2
"""DF#2/#7: damaged frames a good frame may be followed by and still be confirmed, when
the frames after them keep its frame boundaries (bytes replaced, not lost)."""

_TOGETHER = 0.5
"""DF#8: seconds within which the bytes of one record arrive (a burst of 4 ms, sent once a
second), so a record whose bytes arrived further apart is two records spliced by a loss."""

PULSE_RATE_RANGE = (18, 321)
"""Pulse rates the modules measure (/min); anything else but the 511 marker is damage."""
SPO2_RANGE = (0, 100)
"""SpO2 the modules measure (%); anything else but the 127 marker is damage."""

_NUMERICS_EVERY = 3
"""DF#2/#7: numerics once per second (every third packet), like DF#8 and the other drivers;
the waveform goes out with every packet."""


@dataclass(frozen=True, slots=True)
class _Unit:
    """A decoded record or frame, waiting for its time of arrival."""

    data_format: int
    unit: Record | Frame
    end: int = 0  # stream offset just after its last byte
    next_sync: bool = False  # DF#2/#7: the frame right after it is a SYNC frame
    suspect: bool = False  # DF#2/#7: its place is sure, its content is not


@dataclass(frozen=True, slots=True)
class _Note:
    """A state change found while splitting the stream (format locked, reply, gap)."""

    kind: str
    value: int = 0
    end: int = 0  # stream offset where it was noted


def _plausible(rate: int, spo2: int) -> bool:
    """A pulse rate and SpO2 a module can send: in range, or the missing markers."""
    lo, hi = PULSE_RATE_RANGE
    ok_rate = rate == frames.MISSING_RATE or lo <= rate <= hi
    ok_spo2 = spo2 == frames.MISSING_SPO2 or SPO2_RANGE[0] <= spo2 <= SPO2_RANGE[1]
    return ok_rate and ok_spo2


def _check_record(record: Record) -> Record:
    """``record`` if its values are plausible.

    Raises:
        FrameError: a value no module sends (a record spliced from two).
    """
    if not _plausible(record.pulse_rate, record.spo2):
        raise FrameError(f"DF#8 record with implausible PR {record.pulse_rate} "
                         f"or SpO2 {record.spo2}")
    return record


def _unit_period(data_format: int) -> float:
    return 1.0 if data_format == 8 else 1.0 / frames.FRAME_RATE


def _worst_perfusion(flags: set[str]) -> set[str]:
    # Low perfusion is worse than marginal: report only the worse of the two.
    if Flag.LOW_PERFUSION in flags:
        flags.discard(Flag.MARGINAL_PERFUSION)
    return flags


class NoninHostCodec(HostCodec):
    """Decodes Nonin data formats #2, #7 and #8 into SpO2, pulse rate and pleth.

    With ``data_format=None`` the format is recognised from the stream (three valid units:
    under 0.3 s for DF#2/#7, about 3 s for DF#8). With a format, :meth:`start` sends the
    set-format command; until the device answers, whatever format it still sends is
    decoded; its ACK locks the requested format and a NAK is reported as a
    ``DeviceStatus`` (state ``info``) while decoding goes on with what the device sends.
    In both modes the locked format is kept through noise; another format takes over only
    when it is positively recognised in the stream (a reconfigured or swapped device).

    Numerics are the display-formatted ("-D") values in every format: they are what the
    oximeter's own screen shows, so the central station and the bedside agree, and DF#8
    carries nothing else. The device holds them for 10 s after the finger comes out, with
    the sensor alarm set; held values are not measurements, so while the alarm is set (and
    for the missing markers HR 511, SpO2 127) values are ``None`` with
    :attr:`Flag.INVALID`, plus :attr:`Flag.SENSOR_OFF`.
    DF#8 gives them once a second. DF#2/#7 give them once a second too (every third
    packet) with the flags of all frames since the last numerics, plus one ``PLETH``
    :class:`~monitor.domain.models.Waveform` of 25 samples per packet (raw counts, 8 or 16 bit).
    A corrupted frame is counted, skipped and resynchronised on the next frame; frames after
    it are placed by counting back from the next SYNC, so the packet still goes out with
    ``None`` for the lost samples, and numerics come from the items that survived.

    Lost bytes: DF#8 has no checksum and DF#2/#7 an 8-bit one, so a unit spliced from the
    two sides of a loss can pass its own checks. A unit is therefore used only once the
    stream goes on in step after it (the next record or frame follows; a DF#8 record whose
    four bytes came together, by the read times, is used at once, one whose bytes came a
    second apart is rejected); values outside :data:`PULSE_RATE_RANGE` and
    :data:`SPO2_RANGE` reject their record or packet; a packet is complete only when its
    25 frames are followed by a SYNC frame (frames lost whole show only in that count);
    and the first frame after a gap, unless frame boundaries were kept, holds its place
    without giving a sample or an item. Every rejection counts in ``frames_bad``.

    Times: with ``now``, a unit arrived with the read that brought its last byte, less one
    unit period for each whole unit that read brought after it; a waveform's time is that
    of its first frame. Without ``now``, a counter starting at 0.0 advances 1/75 s per
    frame and 1 s per DF#8 record.

    Args:
        device_id: stamped on every event.
        data_format: 2, 7 or 8 to request that format; None to detect it.
    """

    name = "nonin"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]
    conformance = Conformance(variants=(
        Variant("df8", {"data_format": 8}, {"data_format": 8}),
        Variant("df7", {"data_format": 7}, {"data_format": 7}),
        Variant("df2", {"data_format": 2}, {"data_format": 2}),
        # The host requests format 8 from a device that powers on in format 2.
        Variant("df2-to-8", {"data_format": 8}, {"data_format": 2}),
        # The host detects whatever format the device sends.
        Variant("detect-df2", {}, {"data_format": 2}),
        Variant("detect-df8", {}, {"data_format": 8}),
    ))

    def __init__(self, device_id: str = "device", data_format: int | None = None) -> None:
        if data_format is not None and data_format not in frames.FORMATS:
            raise ValueError(f"Nonin data format must be 2, 7 or 8, not {data_format!r}")
        super().__init__(device_id)
        self.requested_format = data_format
        self.data_format: int | None = None
        """The format being decoded, None while detecting."""
        self._awaiting_reply = False
        self._good_since_request = 0
        self._buf = bytearray()
        self._pos = 0
        self._base = 0  # stream offset of ``_buf[0]``
        self._reads: list[tuple[int, int, float]] = []  # (start, end) stream offsets, ``now``
        self._junk = 0  # bytes discarded since the last good unit while locked
        self._last_end = 0  # stream offset just after the last good unit
        self._frames_seen = 0  # the clock without ``now``: integer counts do not drift
        self._records_seen = 0
        self._info: dict[str, Any] = {"protocol": self.name}
        self._announced: dict[str, Any] = dict(self._info)
        # DF#2/#7 packet assembly: 25 places filled from SYNC on, then (after a gap) a tail
        # of frames placed by counting back from the next SYNC.
        self._slots: list[Frame | None] | None = None  # None until the next SYNC frame
        self._filled = 0
        self._tail: list[Frame | None] | None = None
        self._packet_start = 0.0
        self._last_frame_time = 0.0
        self._packets_since_numerics = 0
        self._first_numerics = True
        self._pending_flags: set[str] = set()

    # -- the five methods -------------------------------------------------------------------

    def start(self) -> None:
        """Queue the set-format command when a format was requested."""
        if self.requested_format is not None:
            self._send(SetFormat(self.requested_format).serialize())
            self._awaiting_reply = True
            self._good_since_request = 0

    def receive_eof(self) -> None:
        """Drop a partial unit (counted) and any partial packet."""
        rest = bytes(self._buf[self._pos :])
        if self.data_format is not None and rest and not self._whole_unit(rest):
            self._bad_frame("partial unit at end of stream", len(rest))
        # A whole unit left over was never confirmed by a next one: dropped, not counted.
        self._base += len(self._buf)
        self._buf.clear()
        self._pos = 0
        self._reads.clear()
        self._slots = None

    def _feed(self, data: bytes, now: float | None) -> None:
        self._buf += data
        if now is not None and data:
            end = self._base + len(self._buf)
            self._reads.append((end - len(data), end, now))
        # Split first, time afterwards: a unit's arrival time depends on how many units
        # of the same chunk came after it.
        items: list[_Unit | _Note] = []
        while (item := self._step()) is not None:
            if isinstance(item, _Note) and item.kind != "skip":
                items.append(replace(item, end=self._base + self._pos))
            elif isinstance(item, _Unit):
                items.append(item)
        times = None if now is None else self._arrivals(items, now)
        self._base += self._pos
        del self._buf[: self._pos]
        self._pos = 0
        while self._reads and self._reads[0][1] <= self._base:
            del self._reads[0]
        self._process(items, times)

    def _came_together(self, start: int, end: int) -> bool | None:
        """Whether bytes ``start:end`` of the buffer came in one burst.

        False: they were read more than ``_TOGETHER`` s apart. True: within it, and the
        first read that brought them began with them (so the burst cannot hold the two
        sides of a loss). None: it cannot be told (reads without a time, or a read that
        also brought older bytes: the host was late).
        """
        first, last = self._base + start, self._base + end
        reads = [(lo, when) for lo, hi, when in self._reads if hi > first and lo < last]
        if not reads:
            return None
        times = [when for _, when in reads]
        if max(times) - min(times) > _TOGETHER:
            return False
        covered = sum(min(hi, last) - max(lo, first) for lo, hi, _ in self._reads
                      if hi > first and lo < last)
        if covered != last - first or reads[0][0] != first:
            return None
        return True

    def _whole_unit(self, data: bytes) -> bool:
        """``data`` is exactly one valid unit of the locked format."""
        fmt = self.data_format
        try:
            if fmt == 8:
                _check_record(Record.parse(data))
            elif fmt is not None:
                Frame.parse(data, fmt)
        except FrameError:
            return False
        return fmt is not None

    def lost_bytes_blind_spot(self, stream: bytes, pos: int, size: int) -> BlindSpot | None:
        """DF#8 records lost whole (4, 8... bytes from a record's first byte, the only one
        with bit 7 set) leave a clean stream: DF#8 has no checksum and no counter."""
        run = stream[pos : pos + size + 1]
        if self.data_format == 8 and size % frames.RECORD_SIZE == 0 and all(
                bool(b & 0x80) == (k % frames.RECORD_SIZE == 0) for k, b in enumerate(run)):
            return BlindSpot("whole DF#8 records")
        return None

    # -- splitting the stream ---------------------------------------------------------------

    def _step(self) -> _Unit | _Note | None:
        """Consume one unit, reply or junk byte at the head of the buffer; None: need more."""
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            return None
        head = buf[pos]
        # ACK and NAK can never start a unit of any format, so they are unambiguous here.
        if self._awaiting_reply and head in (frames.ACK, frames.NAK):
            self._pos += 1
            self._awaiting_reply = False
            if head == frames.ACK and self.requested_format is not None:
                self._lock(self.requested_format)
            return _Note("ack" if head == frames.ACK else "nak", self.requested_format or 0)
        if self.data_format is None:
            return self._detect()
        fmt = self.data_format
        size = frames.RECORD_SIZE if fmt == 8 else frames.FRAME_SIZE
        if len(buf) - pos < size:
            return None
        chunk = bytes(buf[pos : pos + size])
        unit: Record | Frame
        try:
            if fmt == 8:
                unit = _check_record(Record.parse(chunk))
            else:
                unit = Frame.parse(chunk, fmt)
        except FrameError as exc:
            return self._skip(str(exc), size)
        # A unit spliced from the two sides of lost bytes can pass every check of its own
        # (DF#8 has no checksum, DF#2/#7 an 8-bit sum): use it only once the stream goes on
        # in step after it.
        confirmed = self._confirmed(pos + size, fmt)
        if confirmed is None:
            return None  # the next bytes will tell
        if not confirmed:
            return self._skip(f"DF#{fmt} unit not followed in step by the next one", size)
        # The first frame after skipped bytes may likewise be spliced across a loss: it
        # ends where the stream is back in step, but begins before the loss. Unless it is
        # a whole number of frames after the last good one (bytes replaced, none lost),
        # it holds its place in the packet but gives neither sample nor item.
        start = self._base + pos
        suspect = fmt != 8 and self._junk > 0 and (start - self._last_end) % size != 0
        self._pos += size
        self._junk = 0
        self._last_end = start + size
        self.frames_ok += 1
        if self._awaiting_reply and fmt == self.requested_format:
            self._good_since_request += 1
            if self._good_since_request >= _REPLY_WAIT[fmt]:
                self._awaiting_reply = False  # the device answers before switching, if ever
        return _Unit(fmt, unit, self._base + self._pos, self._sync_at(self._pos, fmt), suspect)

    def _sync_at(self, pos: int, fmt: int) -> bool:
        """A valid DF#2/#7 frame with SYNC starts at ``pos``."""
        chunk = bytes(self._buf[pos : pos + frames.FRAME_SIZE])
        if fmt == 8 or len(chunk) < frames.FRAME_SIZE:
            return False
        try:
            return Frame.parse(chunk, fmt).sync
        except FrameError:
            return False

    def _confirmed(self, pos: int, fmt: int) -> bool | None:
        """Whether the stream at ``pos``, just after a unit, goes on in step with it.

        DF#8: the next byte starts a record (bit 7 set), or, while it has not come, the
        record's four bytes came together (a record is a burst of 4 ms; the two sides of a
        loss are a second apart). DF#2/#7: a valid frame follows, either at once or, past
        a damaged frame or two, a whole number of frames later (then it must be followed
        by another valid frame): bytes replaced by noise keep the frame boundaries, lost
        bytes do not. None: not enough bytes yet.
        """
        buf = self._buf
        together = None
        if fmt == 8:
            together = self._came_together(pos - frames.RECORD_SIZE, pos)
            if together is False:
                return False
        if pos >= len(buf):
            return together
        if self._awaiting_reply and buf[pos] in (frames.ACK, frames.NAK):
            return True  # the device answers the set-format command between two units
        if fmt == 8:
            return bool(buf[pos] & 0x80)
        size = frames.FRAME_SIZE
        for skip in range(_CONFIRM_SKIP + 1):
            start = pos + skip * size
            window = 1 if skip == 0 else 2
            for k in range(window):
                chunk = bytes(buf[start + k * size : start + (k + 1) * size])
                if len(chunk) < size:
                    return None
                try:
                    Frame.parse(chunk, fmt)
                except FrameError:
                    break
            else:
                return True
        return False

    def _skip(self, reason: str, size: int) -> _Note | None:
        """At a byte where the locked format does not parse: switch format or drop the byte.

        The locked format is never dropped on suspicion, so its good units right before
        and after a burst of noise are kept; another format takes over only once it is
        positively recognised here (the device was reconfigured or swapped).
        """
        if self._junk >= size:
            found = self._recognise(self._pos)
            if found is None:
                return None  # undecided until a few more bytes arrive
            fmt, offset = found
            if fmt and fmt != self.data_format:
                self._pos += offset
                self.bytes_discarded += offset
                return self._lock_note(fmt)
        self._pos += 1
        if self._junk == 0:
            self._bad_frame(reason, 1)
        else:
            self.bytes_discarded += 1
        self._junk += 1
        return _Note("gap") if self._junk == 1 else _Note("skip")

    def _detect(self) -> _Note | None:
        found = self._recognise(self._pos)
        if found is None:
            return None
        fmt, offset = found
        if fmt:
            self._pos += offset
            self.bytes_discarded += offset
            return self._lock_note(fmt)
        self._pos += 1
        self.bytes_discarded += 1
        return _Note("skip")

    def _recognise(self, pos: int) -> tuple[int, int] | None:
        """Which format starts at ``pos`` (or, for DF#2, a few bytes on): ``(format,
        offset)``, ``(0, 0)`` for none, None while the bytes so far cannot tell.

        Checks stop at the first contradiction, so noise is rejected after a byte or two
        instead of waiting for a full detection window.
        """
        df8 = self._records_at(pos)
        if df8:
            return 8, 0
        df2 = self._frames_at(pos, 2)
        if df2:
            return 2, 0
        df7 = self._frames_at(pos, 7)
        if df7:
            # A quiet DF#2 stream (01 80 00 00 81...) also reads as DF#7 one byte in;
            # its constant 0x01 makes DF#2 the more specific, preferred reading.
            for k in range(1, frames.FRAME_SIZE):
                later = self._frames_at(pos + k, 2)
                if later is None:
                    return None
                if later:
                    return 2, k
            return 7, 0
        if df8 is None or df2 is None or df7 is None:
            return None
        return 0, 0

    def _frames_at(self, pos: int, fmt: int) -> bool | None:
        """True: DF#``fmt`` frames start at ``pos``; False: they cannot; None: undecided."""
        for i in range(_DETECT_UNITS):
            start = pos + i * frames.FRAME_SIZE
            chunk = bytes(self._buf[start : start + frames.FRAME_SIZE])
            if len(chunk) < frames.FRAME_SIZE:
                # Reject early on the bytes already there (start byte, status bit 7).
                if fmt == 2 and ((chunk[:1] and chunk[0] != 0x01)
                                 or (len(chunk) > 1 and not chunk[1] & 0x80)):
                    return False
                if fmt == 7 and chunk[:1] and not chunk[0] & 0x80:
                    return False
                return None
            try:
                Frame.parse(chunk, fmt)
            except FrameError:
                return False
        return True

    def _records_at(self, pos: int) -> bool | None:
        """Three DF#8 records and the status byte of a fourth: bit 7 on every 4th byte only."""
        n = _DETECT_UNITS * frames.RECORD_SIZE + 1
        window = self._buf[pos : pos + n]
        for i, b in enumerate(window):
            if bool(b & 0x80) != (i % frames.RECORD_SIZE == 0):
                return False
        return True if len(window) == n else None

    def _lock(self, fmt: int) -> None:
        self.data_format = fmt
        self._junk = 0
        self._last_end = self._base + self._pos

    def _lock_note(self, fmt: int) -> _Note:
        self._lock(fmt)
        return _Note("format", fmt)

    # -- events -----------------------------------------------------------------------------

    def _arrivals(self, items: list[_Unit | _Note], now: float) -> list[float]:
        """When each item arrived: its last byte came with a read at ``now`` of that read,
        less one unit period per whole unit that read brought after it."""
        out: list[float] = []
        for item in items:
            t = now
            for _, end, when in self._reads:
                if end >= item.end:
                    fmt = item.data_format if isinstance(item, _Unit) else self.data_format
                    size = frames.RECORD_SIZE if fmt == 8 else frames.FRAME_SIZE
                    t = when - (end - item.end) // size * _unit_period(fmt or 2)
                    break
            out.append(t)
        return out

    def _process(self, items: list[_Unit | _Note], times: list[float] | None) -> None:
        for i, item in enumerate(items):
            when = self._clock() if times is None else times[i]
            if isinstance(item, _Unit):
                if item.data_format == 8:
                    self._records_seen += 1
                else:
                    self._frames_seen += 1
                if isinstance(item.unit, Record):
                    self._record(item.unit, when)
                else:
                    self._frame(item.unit, when, item.next_sync, item.suspect)
            else:
                self._note(item, when)

    def _clock(self) -> float:
        return self._records_seen + self._frames_seen / frames.FRAME_RATE

    def _note(self, note: _Note, when: float) -> None:
        if note.kind == "gap":
            self._gap()
            return
        if note.kind == "format":
            self._slots = None
            self._update_info(when, f"data format #{note.value}", data_format=note.value)
        elif note.kind == "ack":
            self._slots = None
            self._update_info(when, f"data format #{note.value} acknowledged",
                              data_format=note.value, force=True)
        elif note.kind == "nak":
            self._emit(DeviceStatus(
                self.device_id, DeviceState.INFO, when,
                f"device refused data format #{note.value} (NAK); decoding what it sends",
                {**self._info, "data_format_refused": note.value},
            ))

    def _update_info(self, when: float, detail: str, force: bool = False, **facts: Any) -> None:
        self._info.update(facts)
        if force or self._info != self._announced:
            self._announced = dict(self._info)
            self._emit(DeviceStatus(self.device_id, DeviceState.INFO, when, detail,
                                    dict(self._info)))

    def _record(self, record: Record, when: float) -> None:
        self._numerics(record.pulse_rate, record.spo2, record.flags(), when)

    def _numerics(self, rate: int, spo2: int, flags: set[str], when: float) -> None:
        flags = _worst_perfusion(flags)
        # While the sensor alarm is set the display values are only held, not measured: a
        # held 98 % must not stand in for a patient who may be desaturating off the probe.
        held = Flag.SENSOR_OFF in flags
        for metric, raw, missing in (("SPO2", spo2, frames.MISSING_SPO2),
                                     ("PR", rate, frames.MISSING_RATE)):
            obs_flags = set(flags)
            value: float | None = float(raw)
            if raw == missing or held:
                value = None
                obs_flags.add(Flag.INVALID)
            self._emit(Observation.of(metric, value, when, self.device_id,
                                      frozenset(obs_flags)))

    def _frame(self, frame: Frame, when: float, next_sync: bool = False,
               suspect: bool = False) -> None:
        # A packet is closed by the next SYNC frame, never by counting to 25: frames lost
        # whole (exactly 5 bytes each) leave no gap, and only the count between two SYNC
        # frames reveals them.
        kept = None if suspect else frame
        if frame.sync:
            if self._slots is not None:
                self._close_packet()
            self._slots = [kept] + [None] * (frames.FRAMES_PER_PACKET - 1)
            self._filled = 1
            self._tail = None
            self._packet_start = when
        elif self._slots is None:
            return  # before the first SYNC: the frame's place in its packet is unknown
        elif self._tail is not None:
            self._tail.append(kept)
            if self._filled + len(self._tail) > frames.FRAMES_PER_PACKET:
                self._drop_packet("more frames than a packet holds after a gap")
                return
        elif self._filled >= frames.FRAMES_PER_PACKET:
            self._drop_packet("no SYNC frame after 25 frames")
            return
        else:
            self._slots[self._filled] = kept
            self._filled += 1
        self._last_frame_time = when
        if next_sync and self._tail is None and self._filled == frames.FRAMES_PER_PACKET:
            self._close_packet()  # 25 frames then a SYNC: no need to wait for the SYNC

    def _drop_packet(self, reason: str) -> None:
        """Give up on the packet being assembled: its frames cannot all be placed."""
        self._slots, self._tail = None, None
        self._bad_frame(f"DF#2/#7 packet dropped: {reason}")

    def _gap(self) -> None:
        # Frames after a gap get their place by counting back from the next SYNC. Frames
        # already in the tail cannot be placed relative to those after a second gap.
        if self._slots is not None:
            if self._tail is None and self._filled == frames.FRAMES_PER_PACKET:
                self._close_packet()  # the damage hit the next packet's SYNC frame
            else:
                self._tail = []

    def _close_packet(self) -> None:
        slots, tail, self._slots, self._tail = self._slots, self._tail, None, None
        assert slots is not None
        if tail is None and self._filled != frames.FRAMES_PER_PACKET:
            # Whole frames were lost without a trace: which ones is unknown, so no frame
            # of this packet has a known place (its items would be read shifted).
            self._bad_frame(f"DF#2/#7 packet of {self._filled} frames between two SYNC "
                            "frames: frames lost")
            return
        if tail:
            if self._filled + len(tail) > frames.FRAMES_PER_PACKET:
                self._bad_frame("more frames than a packet holds after a gap")
                return
            slots[frames.FRAMES_PER_PACKET - len(tail) :] = tail
        present = [f for f in slots if f is not None]
        flags: set[str] = set()
        for member in present:
            flags |= member.flags()
        item = [None if f is None else f.value for f in slots]
        stat2 = item[frames.P_STAT2]
        if stat2 is not None and stat2 & frames.S2_LOW_BATTERY:
            flags.add(Flag.LOW_BATTERY)
        flags = _worst_perfusion(flags)
        when = self._last_frame_time
        firmware = item[frames.P_FIRMWARE]
        if firmware is not None:
            self._update_info(when, f"firmware revision {firmware}", firmware_revision=firmware)
        self._emit(Waveform(
            self.device_id, "PLETH", self._packet_start, frames.FRAME_RATE,
            tuple(None if f is None else float(f.pleth) for f in slots), "1", frozenset(flags),
        ))
        self._pending_flags |= flags
        self._packets_since_numerics += 1
        # Once a second; a damaged packet that lost the display items defers to the next.
        hr_msb, hr_lsb = item[frames.P_HR_D_MSB], item[frames.P_HR_D_LSB]
        spo2 = item[frames.P_SPO2_D]
        if hr_msb is not None and hr_lsb is not None and spo2 is not None and \
                not _plausible(frames.join_rate(hr_msb, hr_lsb), spo2):
            self._bad_frame("DF#2/#7 packet with implausible display values")
            hr_msb = None
        if (self._packets_since_numerics >= _NUMERICS_EVERY or self._first_numerics) and \
                hr_msb is not None and hr_lsb is not None and spo2 is not None:
            pending, self._pending_flags = self._pending_flags, set()
            self._packets_since_numerics = 0
            self._first_numerics = False
            self._numerics(frames.join_rate(hr_msb, hr_lsb), spo2, pending, when)
