"""Simulated GE Datex-Ohmeda S/5 monitor: answers data requests with PHDB and wave records.

A bed with a capnograph (``Vitals.etco2``) also fills the CO2 group of the displayed
values, at the sea-level ambient pressure :data:`AMBIENT_MMHG`.
"""

from __future__ import annotations

import math

from drivers.base import SerialSettings
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
from simulators.base import DeviceCodec
from simulators.scenarios import Vitals
from simulators.waveforms import EcgSynth, PlethSynth

WAVE_CHUNKS_PER_S = 10
"""Wave records per second: 30 ECG and 10 pleth samples each (800 B/s at 19200 bit/s)."""
_MAX_BACKLOG_S = 2.0
"""A real monitor does not catch up on data it could not send; neither do we."""
AMBIENT_MMHG = 760.0
"""The ambient pressure the simulated gas module reports (sea level)."""


class GeS5DeviceCodec(DeviceCodec):
    """Sends nothing until asked, like the real monitor.

    After a displayed-values request it sends a PHDB record at once and then every
    ``tx_ival`` seconds (any positive interval is honoured so tests can run fast; the
    real monitor needs >= 5). After an AUX request it sends the NIBP measurement time the
    same way, just before the displayed values. After a waveform request it streams the
    requested ECG1 / pleth waves. Parsed requests come out of :meth:`events_received`.

    Args:
        dri_level: interface level reported in the records (10 = CARESCAPE '09).
        start_time: device clock at scenario time 0; defaults to the first :meth:`advance`.
    """

    name = "ge_s5"
    serial_settings = SerialSettings(**frames.SERIAL)  # type: ignore[arg-type]

    def __init__(self, dri_level: int = 10, start_time: float | None = None) -> None:
        super().__init__()
        self.dri_level = dri_level
        self._deframer = Deframer()
        self._clock0 = start_time
        # phdb_rcrd_type -> [interval (None: single shot), next due time (None: at once)]
        self._phdb: dict[int, list[float | None]] = {}
        self._waves: tuple[int, ...] = ()
        self._wave_t0: float | None = None
        self._wave_index: dict[int, int] = {}
        self._wave_chunks = 0
        self._ecg = EcgSynth(frames.WAVE_RATES[frames.WF_ECG1])
        self._pleth = PlethSynth(frames.WAVE_RATES[frames.WF_PLETH])
        self._r_nbr = 0
        self.bad_frames = 0

    # -- host requests ------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        for item in self._deframer.feed(data):
            if isinstance(item, BadFrame):
                self.bad_frames += 1
                continue
            try:
                self._request(item)
            except FrameError:
                self.bad_frames += 1

    def _request(self, record: Record) -> None:
        for typ, body in record.subrecords():
            if typ != 0:
                continue
            if record.maintype == frames.MT_PHDB:
                req = PhdbRequest.parse(body)
                self._requests.append(req)
                if req.tx_ival == 0:
                    self._phdb.pop(req.rcrd_type, None)
                elif req.rcrd_type in (frames.PH_DISPL, frames.PH_AUX_INFO):
                    interval = float(req.tx_ival) if req.tx_ival > 0 else None
                    self._phdb[req.rcrd_type] = [interval, None]
            elif record.maintype == frames.MT_WAVE:
                wreq = WaveRequest.parse(body)
                self._requests.append(wreq)
                if wreq.req_type == frames.WF_REQ_CONT_START:
                    self._waves = tuple(i for i in wreq.ids if i in frames.WAVE_RATES)
                    self._wave_t0 = None
                else:
                    self._waves = ()

    # -- device output ------------------------------------------------------------------------

    def advance(self, now: float, vitals: Vitals) -> None:
        if self._clock0 is None:
            self._clock0 = now
        # AUX (4) before displayed values (1): the host then knows the NIBP time in time.
        for rcrd_type in sorted(self._phdb, reverse=True):
            interval, due = self._phdb[rcrd_type]
            if due is not None and now < due:
                continue
            self._send_phdb(rcrd_type, now, vitals)
            if interval is None:
                del self._phdb[rcrd_type]
            else:
                nxt = (now if due is None else due) + interval
                self._phdb[rcrd_type][1] = nxt if nxt > now else now + interval
        if self._waves:
            self._send_waves(now, vitals)

    def _next_record(self, maintype: int, subs: list[tuple[int, bytes]], now: float) -> bytes:
        record = Record.build(maintype, subs, r_time=int(now), r_nbr=self._r_nbr,
                              dri_level=self.dri_level)
        self._r_nbr = (self._r_nbr + 1) & 0xFF
        return record.to_frame()

    def _nibp_clock(self, vitals: Vitals) -> int:
        if vitals.nibp is None or vitals.nibp_time is None or self._clock0 is None:
            return 0
        return int(self._clock0 + vitals.nibp_time)

    def _send_phdb(self, rcrd_type: int, now: float, vitals: Vitals) -> None:
        if rcrd_type == frames.PH_AUX_INFO:
            body = AuxInfo(self._nibp_clock(vitals)).serialize()
        else:
            body = self.displayed(int(now), vitals).serialize()
        self._send(self._next_record(frames.MT_PHDB, [(rcrd_type, body)], now))

    def displayed(self, when: int, vitals: Vitals) -> Phdb:
        """The basic-class displayed-values subrecord showing ``vitals`` at ``when``."""
        present = frames.STATUS_EXISTS | frames.STATUS_ACTIVE
        ecg_status = present | (frames.HR_SOURCE_ECG << frames.ECG_HR_SOURCE_SHIFT)
        groups = {frames.OFF_ECG: Group(ecg_status, 0, (frames.to_raw(vitals.hr),))}
        label = 0
        nibp_at = self._nibp_clock(vitals)
        if nibp_at and when - nibp_at > 60:
            label |= frames.NIBP_LABEL_OLD
        sys_, dia, mean = vitals.nibp if vitals.nibp is not None else (None, None, None)
        hr_at_nibp = None if vitals.nibp is None else vitals.pr
        groups[frames.OFF_NIBP] = Group(present, label, (
            frames.to_raw(sys_, 0.01), frames.to_raw(dia, 0.01), frames.to_raw(mean, 0.01),
            frames.to_raw(hr_at_nibp),
        ))
        off = vitals.sensor_off
        # A probe off the finger: the module is there but not measuring.
        spo2_status = frames.STATUS_EXISTS if off else present
        groups[frames.OFF_SPO2] = Group(spo2_status, 0, (
            frames.to_raw(None if off else vitals.spo2, 0.01),
            frames.to_raw(None if off else vitals.pr),
            frames.to_raw(None if off else vitals.pi, 0.01),
        ))
        if vitals.etco2 is not None or vitals.capno_off:
            groups[frames.OFF_CO2] = self._co2_group(vitals)
        return Phdb.build_basic(when, groups, dri_level=self.dri_level)

    @staticmethod
    def _co2_group(vitals: Vitals) -> Group:
        """A measuring gas module: a blocked line sets the occlusion bit, values invalid."""
        status = frames.STATUS_EXISTS | frames.STATUS_ACTIVE
        line_off = vitals.capno_off
        if line_off:
            status |= frames.CO2_OCCLUSION
        if vitals.apnea:
            status |= frames.CO2_APNEA
        return Group(status, frames.CO2_RR_SOURCE_CO2, (
            frames.co2_raw(None if line_off else vitals.etco2, AMBIENT_MMHG),
            frames.co2_raw(None if line_off else vitals.fico2, AMBIENT_MMHG),
            frames.to_raw(None if line_off else vitals.rr),
            frames.to_raw(AMBIENT_MMHG, frames.AMB_MMHG_PER_UNIT),
        ))

    def _send_waves(self, now: float, vitals: Vitals) -> None:
        chunk_s = 1.0 / WAVE_CHUNKS_PER_S
        if self._wave_t0 is None or now - (self._wave_t0 + self._wave_chunks * chunk_s) > (
            _MAX_BACKLOG_S
        ):
            self._wave_t0 = now - chunk_s  # the first chunk goes out at once
            self._wave_chunks = 0
            self._wave_index = {}
        due = math.floor((now - self._wave_t0) / chunk_s + 1e-9)
        while self._wave_chunks < due:
            self._wave_chunks += 1
            subs: list[tuple[int, bytes]] = []
            for wave_id in self._waves:
                subs.append((wave_id, self._wave_chunk(wave_id, vitals).serialize()))
            self._send(self._next_record(frames.MT_WAVE, subs, now))

    def _wave_chunk(self, wave_id: int, vitals: Vitals) -> WaveSubrecord:
        n = round(frames.WAVE_RATES[wave_id] / WAVE_CHUNKS_PER_S)
        values: list[float | None]
        if wave_id == frames.WF_PLETH:
            # The synth keeps running so the trace resumes in phase after a gap.
            values = list(self._pleth.next(n, vitals.pr))
            ok = not vitals.sensor_off and vitals.pr is not None
            scale = frames.PLETH_PER_UNIT
        else:
            real = self._recorded("ECG", wave_id, n)
            values = list(self._ecg.next(n, vitals.hr)) if real is None else real
            ok = vitals.hr is not None or real is not None
            scale = frames.ECG_MV_PER_UNIT
        if not ok:
            return WaveSubrecord((frames.DATA_INVALID,) * n)
        return WaveSubrecord(tuple(frames.to_raw(v, scale) for v in values))

    def _recorded(self, metric: str, wave_id: int, n: int) -> list[float | None] | None:
        """The next ``n`` samples of a recorded waveform, or None to synthesise."""
        if self.waveform_source is None or self.scenario_clock0 is None or self._wave_t0 is None:
            return None
        rate = frames.WAVE_RATES[wave_id]
        # Sample indices, not times, so every chunk has exactly n samples and none repeat.
        # The first chunk starts a tick before scenario time 0: start at the record's start.
        k = self._wave_index.setdefault(
            wave_id, max(0, round((self._wave_t0 - self.scenario_clock0) * rate)))
        values = self.waveform_source(metric, k / rate, (k + n) / rate, rate)
        if values is None or len(values) != n:
            return None
        self._wave_index[wave_id] = k + n
        return values
