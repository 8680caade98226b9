"""Host side of the GE S/5 computer interface: request data, decode displayed values and waves."""

from __future__ import annotations

from collections.abc import Sequence

from drivers.base import HostCodec, SerialSettings
from drivers.conformance import Conformance
from drivers.ge_s5 import frames
from drivers.ge_s5.frames import (
    AuxInfo,
    BadFrame,
    Deframer,
    Group,
    Phdb,
    PhdbRequest,
    Record,
    WaveRequest,
    WaveSubrecord,
)
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation, Waveform

MIN_INTERVAL = 5
"""The monitor sends periodic displayed values at most every 5 s (M1017617 §3)."""

_WAVE_SLACK = 3.0
"""How far a waveform chunk may drift from its record time before the timeline restarts.
Record times are whole seconds, so a continuous stream always stays within ~1 s."""

# Waveform id -> (metric, unit, scale from wire counts). ECG1 is the monitor's first
# displayed lead, which we publish as the ECG trace.
_WAVES: dict[int, tuple[str, str, float]] = {
    frames.WF_ECG1: ("ECG", "mV", frames.ECG_MV_PER_UNIT),
    frames.WF_PLETH: ("PLETH", "1", frames.PLETH_PER_UNIT),
}


_INT16_RANGE = (-32768, 32767)
_SCALED: dict[float, dict[int, float | None]] = {}
"""Per scale, :func:`~drivers.ge_s5.frames.value_or_none` of every raw sample value seen
(at most 65536: the samples are int16), so a waveform is scaled by look-up."""


def scaled_samples(raw: Sequence[int], scale: float) -> tuple[float | None, ...]:
    """:func:`~drivers.ge_s5.frames.value_or_none` of each sample, in order."""
    table = _SCALED.setdefault(scale, {})
    try:
        return tuple(map(table.__getitem__, raw))
    except KeyError:
        for value in raw:
            if value not in table and _INT16_RANGE[0] <= value <= _INT16_RANGE[1]:
                table[value] = frames.value_or_none(value, scale)
        return tuple(table[v] if v in table else frames.value_or_none(v, scale) for v in raw)


class GeS5HostCodec(HostCodec):
    """Decodes S/5 displayed values (ECG HR, NIBP, SpO2, pulse rate, CO2) and ECG/pleth waves.

    The monitor sends nothing until asked: :meth:`start` queues the requests once.

    - HR is published only when the monitor says its HR comes from ECG (status bits 3-6).
      With another source (pleth, an arterial line) the number is not an ECG heart rate,
      and the oximeter's pulse rate is already published as PR.
    - The displayed record repeats the last NIBP result every time, so NIBP is published
      only when the result changes. Its time is the measurement time from the AUX
      subrecord when known, else the record time; the monitor's "older than 60 s" label
      bit adds :attr:`Flag.STALE`.
    - CO2 (a measuring gas module only): EtCO2 and FiCO2 in mmHg (the 1/100 % fractions
      at the ambient pressure the group carries), and the rate as ``AWRR`` (or as ``RR``
      when an older monitor says it comes from the impedance). Occlusion or air leak add
      :attr:`Flag.SENSOR_DISCONNECT` (a sampling-line problem), calibrating or zeroing
      :attr:`Flag.INVALID`, the monitor's CO2 apnea :attr:`Flag.APNEA`.
    - Special values (at or below -32001) become ``None`` with :attr:`Flag.INVALID`;
      groups whose module is absent (status bit 0 clear) are skipped.

    Times: when the host passes ``now`` (the live case), a value's time is its arrival
    time minus its age at transmission (``r_time`` minus its own time), so the monitor's
    clock setting does not matter; wave chunks end on arrival. Without ``now`` (replay)
    the monitor's own times are used.

    Args:
        device_id: put on every event.
        interval: seconds between displayed-value records (at least 5).
        waveforms: also request ECG lead 1 (300 Hz) and pleth (100 Hz).
    """

    name = "ge_s5"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]
    # Nothing comes until the requests are answered, then numerics every 5 s at best.
    conformance = Conformance(first_value=15.0)

    def __init__(self, device_id: str = "device", interval: int = 5,
                 waveforms: bool = True) -> None:
        super().__init__(device_id)
        if not MIN_INTERVAL <= int(interval) <= 3600:
            raise ValueError(f"interval must be 5..3600 s, got {interval}")
        self.interval = int(interval)
        self.waveforms = bool(waveforms)
        self._deframer = Deframer()
        self._nibp_time = 0
        self._nibp_last: tuple[float | None, ...] | None = None
        self._nibp_last_time = 0
        self._wave_next: dict[int, float] = {}
        self._dri_level: int | None = None

    def start(self) -> None:
        """Queue the displayed-values, AUX (NIBP time) and, if enabled, waveform requests."""
        displ = PhdbRequest(frames.PH_DISPL, self.interval, frames.CLASS_BASIC)
        aux = PhdbRequest(frames.PH_AUX_INFO, self.interval, frames.CLASS_BASIC)
        self._send(displ.record().to_frame())
        self._send(aux.record().to_frame())
        if self.waveforms:
            wave = WaveRequest.start([frames.WF_ECG1, frames.WF_PLETH])
            self._send(wave.record().to_frame())

    def stop_requests(self) -> None:
        """Queue the requests that stop periodic transmission (before closing the port)."""
        self._send(PhdbRequest(frames.PH_DISPL, 0).record().to_frame())
        self._send(PhdbRequest(frames.PH_AUX_INFO, 0).record().to_frame())
        if self.waveforms:
            stop = WaveRequest(frames.WF_REQ_CONT_STOP, (frames.DESC_END,) + (0,) * 7)
            self._send(stop.record().to_frame())

    # -- bytes in ---------------------------------------------------------------------------

    def _feed(self, data: bytes, now: float | None) -> None:
        for item in self._deframer.feed(data):
            if isinstance(item, BadFrame):
                self._bad_frame(item.reason, item.discarded)
                continue
            try:
                self._record(item, now)
            except FrameError as exc:
                self._bad_frame(str(exc), len(item.data) + frames.HEADER_SIZE)
                continue
            self.frames_ok += 1

    def receive_eof(self) -> None:
        lost = self._deframer.eof()
        if lost is not None:
            self._bad_frame(lost.reason, lost.discarded)

    # -- records ----------------------------------------------------------------------------

    def _record(self, record: Record, now: float | None) -> None:
        subs = record.subrecords()  # validates offsets before anything is emitted
        if record.maintype == frames.MT_PHDB:
            # Parse everything first so a bad subrecord rejects the record as a whole.
            aux = [AuxInfo.parse(d) for t, d in subs if t == frames.PH_AUX_INFO]
            displ = [Phdb.parse(d) for t, d in subs if t == frames.PH_DISPL]
            for a in aux:
                if a.nibp_time:
                    self._nibp_time = a.nibp_time
            for phdb in displ:
                if phdb.phdb_class == 0:
                    self._basic(phdb, record.r_time, now)
        elif record.maintype == frames.MT_WAVE:
            waves = [(t, WaveSubrecord.parse(d)) for t, d in subs if t in _WAVES]
            for wave_id, sub in waves:
                self._wave(wave_id, sub, record.r_time, now)

    @staticmethod
    def _time(device_time: float, r_time: int, now: float | None) -> float:
        # With a host clock, a value is as old as the monitor says it was when the record
        # left (r_time - device_time) at arrival. This needs no state, so a lost record
        # cannot shift later times, and a monitor clock set wrong does not matter.
        if now is None:
            return float(device_time)
        return now - (r_time - device_time)

    def _basic(self, phdb: Phdb, r_time: int, now: float | None) -> None:
        when = self._time(phdb.time, r_time, now)
        level = phdb.cl_drilvl_subt & 0xFF
        if level != self._dri_level:
            self._dri_level = level
            info = {"protocol": self.name, "dri_level": level}
            self._emit(DeviceStatus(self.device_id, DeviceState.INFO, when, "", info))
        ecg = phdb.group(frames.OFF_ECG, 1)
        if ecg.exists:
            source = (ecg.status >> frames.ECG_HR_SOURCE_SHIFT) & frames.ECG_HR_SOURCE_MASK
            if source == frames.HR_SOURCE_ECG:
                flags: set[str] = set()
                if ecg.status & frames.ECG_NOISE:
                    flags.add(Flag.INTERFERENCE)
                if ecg.status & frames.ECG_ARTIFACT:
                    flags.add(Flag.ARTIFACT)
                self._value("HR", ecg.values[0], 1.0, when, flags)
        nibp = phdb.group(frames.OFF_NIBP, 3)
        if nibp.exists:
            self._nibp(nibp, phdb.time, r_time, now)
        spo2 = phdb.group(frames.OFF_SPO2, 2)
        if spo2.exists:
            # ASSUMPTION: a present oximeter that is not measuring has its probe off or
            # unplugged; the displayed-values record has no finer probe status.
            off = set() if spo2.status & frames.STATUS_ACTIVE else {Flag.SENSOR_OFF}
            self._value("SPO2", spo2.values[0], 0.01, when, set(off))
            self._value("PR", spo2.values[1], 1.0, when, set(off))
        co2 = phdb.group(frames.OFF_CO2, 4)
        # A gas module in the rack that is not measuring is no capnography: nothing is
        # published (the rules' CO2_LINE notices a capnograph that stops giving values).
        if co2.exists and co2.status & frames.STATUS_ACTIVE:
            self._co2(co2, level, when)

    def _co2(self, group: Group, level: int, when: float) -> None:
        et, fi, rr, amb = group.values
        flags: set[str] = set()
        if group.status & (frames.CO2_OCCLUSION | frames.CO2_AIR_LEAK):
            flags.add(Flag.SENSOR_DISCONNECT)  # no (or a diluted) sample reaches the sensor
        if group.status & (frames.CO2_CALIBRATING | frames.CO2_ZEROING):
            flags.add(Flag.INVALID)  # a routine pause of a few seconds, not a reading
        if group.status & frames.CO2_APNEA:
            flags.add(Flag.APNEA)
        self._publish("ETCO2", frames.co2_mmhg(et, amb), when, set(flags))
        self._publish("FICO2", frames.co2_mmhg(fi, amb), when, set(flags))
        source = group.label & frames.CO2_RR_SOURCE_MASK
        if level >= frames.CO2_RR_ALWAYS_CO2_LEVEL or source == frames.CO2_RR_SOURCE_CO2:
            self._value("AWRR", rr, 1.0, when, set(flags))
        elif source == frames.CO2_RR_SOURCE_IMPEDANCE:
            self._value("RR", rr, 1.0, when, set())  # the chest, not the airway

    def _value(self, metric: str, raw: int, scale: float, when: float, flags: set[str]) -> None:
        self._publish(metric, frames.value_or_none(raw, scale), when, flags)

    def _publish(self, metric: str, value: float | None, when: float, flags: set[str]) -> None:
        if value is None:
            flags = flags | {Flag.INVALID}
        self._emit(Observation.of(metric, value, when, self.device_id, frozenset(flags)))

    def _nibp(self, group: Group, record_time: int, r_time: int, now: float | None) -> None:
        values = tuple(frames.value_or_none(v, 0.01) for v in group.values)
        measured = self._nibp_time
        # A new result, or the same numbers from a new measurement (known times differ).
        new_time = bool(measured and self._nibp_last_time and measured != self._nibp_last_time)
        if values == self._nibp_last and not new_time:
            return
        self._nibp_last = values
        if measured:
            self._nibp_last_time = measured
        when = self._time(measured or record_time, r_time, now)
        flags: set[str] = set()
        if group.label & frames.NIBP_LABEL_OLD:
            flags.add(Flag.STALE)
        for metric, value in zip(("NIBP_SYS", "NIBP_DIA", "NIBP_MEAN"), values, strict=True):
            f = flags | {Flag.INVALID} if value is None else flags
            self._emit(Observation.of(metric, value, when, self.device_id, frozenset(f)))

    def _wave(self, wave_id: int, sub: WaveSubrecord, r_time: int, now: float | None) -> None:
        metric, unit, scale = _WAVES[wave_id]
        rate = frames.WAVE_RATES[wave_id]
        if not sub.samples:
            return
        duration = len(sub.samples) / rate
        if now is not None:
            # The monitor sends a chunk as soon as it is complete: it ends on arrival.
            # Stateless on purpose: a lost record leaves a gap instead of shifting the
            # samples after it (serial jitter is a few ms at 19200 bit/s).
            t0 = now - duration
        else:
            # Replaying bytes without arrival times: keep one continuous sample timeline,
            # restarted from the whole-second r_time when the chunks stop lining up.
            t0_next = self._wave_next.get(wave_id)
            t0 = float(r_time) - duration if t0_next is None or abs(
                t0_next + duration - r_time) > _WAVE_SLACK else t0_next
            self._wave_next[wave_id] = t0 + duration
        samples = scaled_samples(sub.samples, scale)
        self._emit(Waveform(self.device_id, metric, t0, rate, samples, unit))
