"""Host side of the Nonin serial formats: detect or select DF#2/#7/#8, decode numerics and pleth."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from drivers.base import HostCodec, SerialSettings
from drivers.conformance import BlindSpot, Conformance, Variant
from drivers.nonin import frames
from drivers.nonin.detect import recognise
from drivers.nonin.frames import Frame, Record, SetFormat, frame_fields, record_fields
from drivers.nonin.packets import ClosedPacket, FrameFields, PacketAssembler
from drivers.nonin.readings import (
    Readings,
    display_readings,
    frame_flags,
    implausible,
    plausible,
    record_flags,
    record_readings,
    worst_perfusion,
)
from monitor.domain.errors import FrameError
from monitor.domain.metrics import METRICS
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation, Waveform

_REPLY_WAIT = {2: 150, 7: 150, 8: 3}
"""Good units in the requested format after which a missing ACK is no longer expected."""

_CONFIRM_SKIP = 2
"""DF#2/#7: damaged frames a good frame may be followed by and still be confirmed, when
the frames after them keep its frame boundaries (bytes replaced, not lost)."""

_TOGETHER = 0.5
"""DF#8: seconds within which the bytes of one record arrive (a burst of 4 ms, sent once a
second), so a record whose bytes arrived further apart is two records spliced by a loss."""

_NUMERICS_EVERY = 3
"""DF#2/#7: numerics once per second (every third packet), like DF#8 and the other drivers;
the waveform goes out with every packet."""


_Unit = tuple[int, tuple[int, ...], int, bool, bool]
"""A decoded record or frame, waiting for its time of arrival: ``(data_format, fields,
end, next_sync, suspect)``. ``fields`` come from :func:`~drivers.nonin.frames.record_fields`
or :func:`~drivers.nonin.frames.frame_fields`; ``end`` is the stream offset just after its
last byte; DF#2/#7 only: ``next_sync``, the frame right after it is a SYNC frame, and
``suspect``, its place is sure, its content is not. A plain tuple: one is made per frame."""


@dataclass(frozen=True, slots=True)
class _Note:
    """A state change found while splitting the stream (format locked, reply, gap)."""

    kind: str
    value: int = 0
    end: int = 0  # stream offset where it was noted


_FRAME_PERIOD = 1.0 / frames.FRAME_RATE


_SPO2 = METRICS["SPO2"]
_PR = METRICS["PR"]


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
    second apart is rejected); values outside
    :data:`~drivers.nonin.readings.PULSE_RATE_RANGE` and
    :data:`~drivers.nonin.readings.SPO2_RANGE` reject their record or packet; a packet is
    complete only when its 25 frames are followed by a SYNC frame (frames lost whole show
    only in that count); and the first frame after a gap, unless frame boundaries were
    kept, holds its place without giving a sample or an item. Every rejection counts in
    ``frames_bad``.

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
        self._packets = PacketAssembler()
        self._ahead: tuple[int, tuple[int, int, int], int] | None = None
        """DF#2/#7: (stream offset, fields, format) of the frame after the last one taken,
        parsed to confirm that one: the next step need not parse it again."""
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
        self._ahead = None
        self._packets.reset()

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        """Feed bytes read from the device (see :meth:`HostCodec.receive_data`)."""
        data = bytes(data)
        if now is not None:
            self._last_time = now
            if (len(data) == frames.RECORD_SIZE and self.data_format == 8 and not self._buf
                    and not self._awaiting_reply and self._record_alone(data, now)):
                return
        self._feed(data, now)

    def _feed(self, data: bytes, now: float | None) -> None:
        self._buf += data
        if now is not None and data:
            end = self._base + len(self._buf)
            self._reads.append((end - len(data), end, now))
        # Split first, time afterwards: a unit's arrival time depends on how many units
        # of the same chunk came after it.
        items: list[_Unit | _Note] = []
        step = self._step
        while (item := step()) is not None:
            if not isinstance(item, _Note):
                items.append(item)
            elif item.kind != "skip":
                items.append(replace(item, end=self._base + self._pos))
        if items:
            self._process(items, now)  # before the buffer moves on: times come from the reads
        self._base += self._pos
        del self._buf[: self._pos]
        self._pos = 0
        reads = self._reads
        while reads and reads[0][1] <= self._base:
            del reads[0]

    def _record_alone(self, data: bytes, now: float) -> bool:
        """The live DF#8 case, one record per read, in one step: False when ``data`` is not
        a plausible record (then the general path takes it).

        Exactly what :meth:`_step` and :meth:`_process` do with it: a record whose read
        began with it is confirmed by its bytes coming together, and arrived at ``now``.
        """
        readings = record_readings(data)
        if readings is None:
            return False
        self._base = self._last_end = self._base + frames.RECORD_SIZE
        self._junk = 0
        self.frames_ok += 1
        self._records_seen += 1
        self._numerics(readings, now)
        return True

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
        if fmt == 8:
            fields = record_fields(data)
            return len(data) == frames.RECORD_SIZE and fields is not None and \
                plausible(fields[0], fields[1])
        return fmt is not None and len(data) == frames.FRAME_SIZE and \
            frame_fields(data, 0, fmt) is not None

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
        fmt = self.data_format
        if fmt is None:
            return self._detect()
        fields: tuple[int, ...] | None
        if fmt == 8:
            size = frames.RECORD_SIZE
            if len(buf) - pos < size:
                return None
            fields = record_fields(buf, pos)
            if fields is not None and not plausible(fields[0], fields[1]):
                return self._skip(implausible(fields[0], fields[1]), size)
        else:
            size = frames.FRAME_SIZE
            if len(buf) - pos < size:
                return None
            ahead = self._ahead
            if ahead is not None and ahead[0] == self._base + pos and ahead[2] == fmt:
                fields = ahead[1]
            else:
                fields = frame_fields(buf, pos, fmt)
        if fields is None:
            return self._skip(self._why_not(pos, size, fmt) if self._junk == 0 else "", size)
        # A unit spliced from the two sides of lost bytes can pass every check of its own
        # (DF#8 has no checksum, DF#2/#7 an 8-bit sum): use it only once the stream goes on
        # in step after it.
        if fmt != 8 and not self._awaiting_reply and len(buf) < pos + 2 * size:
            return None  # as _confirmed() would say: the next frame is not all here yet
        if fmt != 8 and (following := frame_fields(buf, pos + size, fmt)) is not None:
            # The common case, as _confirmed() and _sync_at() would find it (no valid frame
            # starts with ACK or NAK); the next step starts with that frame.
            self._ahead = (self._base + pos + size, following, fmt)
            next_sync = bool(following[0] & frames.ST_SYNC)
        else:
            confirmed = self._confirmed(pos + size, fmt)
            if confirmed is None:
                return None  # the next bytes will tell
            if not confirmed:
                return self._skip(f"DF#{fmt} unit not followed in step by the next one", size)
            next_sync = self._sync_at(pos + size, fmt)
        # The first frame after skipped bytes may likewise be spliced across a loss: it
        # ends where the stream is back in step, but begins before the loss. Unless it is
        # a whole number of frames after the last good one (bytes replaced, none lost),
        # it holds its place in the packet but gives neither sample nor item.
        start = self._base + pos
        suspect = fmt != 8 and self._junk > 0 and (start - self._last_end) % size != 0
        self._pos = pos = pos + size
        self._junk = 0
        self._last_end = start + size
        self.frames_ok += 1
        if self._awaiting_reply and fmt == self.requested_format:
            self._good_since_request += 1
            if self._good_since_request >= _REPLY_WAIT[fmt]:
                self._awaiting_reply = False  # the device answers before switching, if ever
        return fmt, fields, self._base + pos, next_sync, suspect

    def _why_not(self, pos: int, size: int, fmt: int) -> str:
        """Why the bytes at ``pos`` are not a unit of ``fmt`` (for the debug log)."""
        chunk = bytes(self._buf[pos : pos + size])
        try:
            Record.parse(chunk) if fmt == 8 else Frame.parse(chunk, fmt)
        except FrameError as exc:
            return str(exc)
        return f"not a DF#{fmt} unit"

    def _sync_at(self, pos: int, fmt: int) -> bool:
        """A valid DF#2/#7 frame with SYNC starts at ``pos``."""
        if fmt == 8:
            return False
        fields = frame_fields(self._buf, pos, fmt)
        return fields is not None and bool(fields[0] & frames.ST_SYNC)

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
                if len(buf) < start + (k + 1) * size:
                    return None
                if frame_fields(buf, start + k * size, fmt) is None:
                    break
            else:
                return True
        return False

    def _skip(self, reason: str, size: int) -> _Note | None:
        """At a byte where the locked format does not parse: switch format or drop the byte.

        The locked format is never dropped on suspicion, so its good units right before
        and after a burst of noise are kept; another format takes over only once it is
        positively recognised here (the device was reconfigured or swapped).
        ``reason`` is logged for the first byte of a run of junk only.
        """
        if self._junk >= size:
            found = recognise(self._buf, self._pos)
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
        found = recognise(self._buf, self._pos)
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

    def _lock(self, fmt: int) -> None:
        self.data_format = fmt
        self._junk = 0
        self._last_end = self._base + self._pos

    def _lock_note(self, fmt: int) -> _Note:
        self._lock(fmt)
        return _Note("format", fmt)

    # -- events -----------------------------------------------------------------------------

    def _process(self, items: list[_Unit | _Note], now: float | None) -> None:
        """Emit what the items of one read give, in order.

        Times: with ``now``, an item's last byte came with a read at that read's ``now``,
        less one unit period per whole unit that read brought after it.
        """
        reads = self._reads
        packets = self._packets
        for item in items:
            if isinstance(item, _Note):
                fmt, item_end = self.data_format, item.end
            else:
                fmt, fields, item_end, next_sync, suspect = item
            if now is None:
                when = self._clock()
            else:
                when = now
                for _, end, read_at in reads:
                    if end >= item_end:
                        if fmt == 8:
                            when = read_at - (end - item_end) // frames.RECORD_SIZE
                        else:
                            when = read_at - (end - item_end) // frames.FRAME_SIZE \
                                * _FRAME_PERIOD
                        break
            if isinstance(item, _Note):
                self._note(item, when)
            elif fmt == 8:
                self._records_seen += 1
                self._numerics(display_readings(fields[0], fields[1],
                                         record_flags(fields[2], fields[3])), when)
            else:
                self._frames_seen += 1
                kept = None if suspect else cast(FrameFields, fields)
                done = packets.frame(kept, bool(fields[0] & frames.ST_SYNC), when, next_sync)
                if done is not None:
                    self._packet(done)

    def _clock(self) -> float:
        return self._records_seen + self._frames_seen / frames.FRAME_RATE

    def _note(self, note: _Note, when: float) -> None:
        if note.kind == "gap":
            self._packet(self._packets.gap())
            return
        if note.kind == "format":
            self._packets.reset()
            self._update_info(when, f"data format #{note.value}", data_format=note.value)
        elif note.kind == "ack":
            self._packets.reset()
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

    def _numerics(self, readings: Readings, when: float) -> None:
        spo2, spo2_flags, rate, rate_flags = readings
        emit = self._events.append
        emit(Observation(self.device_id, _SPO2.code, "SPO2", spo2, _SPO2.unit, when, spo2_flags))
        emit(Observation(self.device_id, _PR.code, "PR", rate, _PR.unit, when, rate_flags))

    def _packet(self, done: ClosedPacket | str | None) -> None:
        """Count a packet given up, or emit one closed: its pleth, and its numerics once a
        second (a damaged packet that lost the display items defers them to the next)."""
        if done is None:
            return
        if isinstance(done, str):
            self._bad_frame(done)
            return
        slots = done.slots
        present: list[FrameFields] = [f for f in slots if f is not None]
        flags: set[str] = set()
        for status in {f[0] for f in present}:
            flags |= frame_flags(status)
        item = [None if f is None else f[2] for f in slots]
        stat2 = item[frames.P_STAT2]
        if stat2 is not None and stat2 & frames.S2_LOW_BATTERY:
            flags.add(Flag.LOW_BATTERY)
        flags = worst_perfusion(flags)
        when = done.end
        firmware = item[frames.P_FIRMWARE]
        if firmware is not None:
            self._update_info(when, f"firmware revision {firmware}", firmware_revision=firmware)
        self._emit(Waveform(
            self.device_id, "PLETH", done.start, frames.FRAME_RATE,
            tuple(None if f is None else float(f[1]) for f in slots), "1", frozenset(flags),
        ))
        self._pending_flags |= flags
        self._packets_since_numerics += 1
        hr_msb, hr_lsb = item[frames.P_HR_D_MSB], item[frames.P_HR_D_LSB]
        spo2 = item[frames.P_SPO2_D]
        if hr_msb is not None and hr_lsb is not None and spo2 is not None and \
                not plausible(frames.join_rate(hr_msb, hr_lsb), spo2):
            self._bad_frame("DF#2/#7 packet with implausible display values")
            hr_msb = None
        if (self._packets_since_numerics >= _NUMERICS_EVERY or self._first_numerics) and \
                hr_msb is not None and hr_lsb is not None and spo2 is not None:
            pending, self._pending_flags = self._pending_flags, set()
            self._packets_since_numerics = 0
            self._first_numerics = False
            self._numerics(display_readings(frames.join_rate(hr_msb, hr_lsb), spo2,
                                     frozenset(pending)), when)
