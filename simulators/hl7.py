"""Simulated HL7 monitor: pushes one ORU^R01 a second over MLLP and reads the ACKs."""

from __future__ import annotations

import math

from drivers.hl7 import frames
from drivers.hl7.frames import BadBlock, Encoding, Message, MllpDeframer, Segment
from monitor.domain.errors import FrameError
from simulators.base import DeviceCodec
from simulators.scenarios import Vitals

# (MDC code, reference id, unit code, unit id) per value, as Comen/Mindray-style monitors send.
_PCT = ("262688", "MDC_DIM_PERCENT")
_BPM = ("264864", "MDC_DIM_BEAT_PER_MIN")
_MMHG = ("266016", "MDC_DIM_MMHG")
_RPM = ("264928", "MDC_DIM_RESP_PER_MIN")
# Capnography as IEEE 11073 / IHE PCD senders code it (docs/devices/hl7.md).
_CAPNO_CODES = (("151708", "MDC_CONC_AWAY_CO2_ET", _MMHG), ("151716", "MDC_CONC_AWAY_CO2_INSP",
                _MMHG), ("151594", "MDC_CO2_RESP_RATE", _RPM))
_NIBP_CODES = {
    "noninv": (("150021", "MDC_PRESS_BLD_NONINV_SYS"), ("150022", "MDC_PRESS_BLD_NONINV_DIA"),
               ("150023", "MDC_PRESS_BLD_NONINV_MEAN")),
    "cuff": (("150301", "MDC_PRESS_CUFF_SYS"), ("150302", "MDC_PRESS_CUFF_DIA"),
             ("150303", "MDC_PRESS_CUFF_MEAN")),
}
INVALID = "-100"
"""What the simulated monitor sends when it has no value (the Mindray-style marker)."""


class Hl7DeviceCodec(DeviceCodec):
    """A monitor that sends an ORU^R01 every ``period`` seconds of device time.

    Each message carries ECG HR, SpO2 and pulse rate with OBX-14 times; NIBP OBX are
    added only when a new cuff measurement exists, stamped with its measurement time. A
    bed with a capnograph (``vitals.etco2``) adds EtCO2, FiCO2 and the airway rate, and a
    blocked sampling line sends them as ``-100`` with a CO2 line technical alert.
    ACKs from the host are parsed into ``(code, control id)`` pairs in
    :meth:`events_received`.

    Args:
        version: MSH-12.
        nibp_codes: ``noninv`` (MDC_PRESS_BLD_NONINV_*) or ``cuff`` (MDC_PRESS_CUFF_*).
        period: seconds between messages.
        utc_offset_minutes: the zone the monitor writes its timestamps in.
        start_time: device clock at scenario time 0; defaults to the first :meth:`advance`.
    """

    name = "hl7"

    def __init__(self, version: str = "2.6", nibp_codes: str = "noninv", period: float = 1.0,
                 utc_offset_minutes: int = 0, start_time: float | None = None) -> None:
        super().__init__()
        if nibp_codes not in _NIBP_CODES:
            raise ValueError(f"nibp_codes must be one of {sorted(_NIBP_CODES)}")
        if period <= 0:
            raise ValueError("period must be positive")
        self.version = version
        self.nibp_codes = nibp_codes
        self.period = period
        self.utc_offset_minutes = utc_offset_minutes
        self._clock0 = start_time
        self._next: float | None = None
        self._sent_nibp_time: float | None = None
        self._seq = 0
        self._deframer = MllpDeframer()
        self.unacked: dict[str, float] = {}
        self.bad_frames = 0

    def _feed(self, data: bytes) -> None:
        for item in self._deframer.feed(data):
            if isinstance(item, BadBlock):
                self.bad_frames += 1
                continue
            try:
                ack = Message.decode(item)
            except FrameError:
                self.bad_frames += 1
                continue
            msa = ack.all("MSA")
            if msa:
                code, control_id = msa[0].field(1), ack.encoding.unescape(msa[0].field(2))
                self.unacked.pop(control_id, None)
                self._requests.append((code, control_id))

    def advance(self, now: float, vitals: Vitals) -> None:
        if self._clock0 is None:
            self._clock0 = now
        if self._next is None:
            self._next = math.floor(now)
        while self._next <= now:
            self._send(frames.wrap(self.message(self._next, vitals).encode()))
            self._next += self.period

    def message(self, when: float, vitals: Vitals) -> Message:
        """The ORU^R01 showing ``vitals`` at ``when`` (advances the control id)."""
        self._seq += 1
        ts = frames.format_ts(when, self.utc_offset_minutes)
        control_id = f"{ts[:14]}{self._seq:04d}"
        self.unacked[control_id] = when
        enc = Encoding()
        segs = [
            Segment("MSH", ("|", enc.msh2, "SPU_SIM", "BED01", "", "", ts, "",
                            "ORU^R01^ORU_R01", control_id, "P", self.version, "", "", "",
                            "", "", "UNICODE UTF-8")),
            Segment("PID", ("", "", "SIM0001", "", "Doe^Simulated")),
            Segment("PV1", ("", "I", "^^BED01")),
            Segment("OBR", ("", "", "", "1^MON_PARAM^99SPU", "", "", ts)),
        ]
        off = vitals.sensor_off
        values = [
            ("147842", "MDC_ECG_HEART_RATE", "1.2.1.147842", vitals.hr, _BPM),
            ("150456", "MDC_PULS_OXIM_SAT_O2", "1.3.1.150456", None if off else vitals.spo2,
             _PCT),
            ("149530", "MDC_PULS_OXIM_PULS_RATE", "1.3.1.149530", None if off else vitals.pr,
             _BPM),
        ]
        capno = vitals.etco2 is not None or vitals.capno_off
        if capno:
            line_off = vitals.capno_off
            for (code, ref, unit), value in zip(_CAPNO_CODES, (
                    vitals.etco2, vitals.fico2, vitals.rr), strict=True):
                values.append((code, ref, f"1.5.1.{code}", None if line_off else value, unit))
        obx = [_obx(code, ref, sub, value, unit, ts, "") for code, ref, sub, value, unit
               in values]
        if capno and vitals.capno_off:
            # ASSUMPTION, as for the probe alert below: named, numeric code left empty.
            obx.append(Segment("OBX", ("", "ST", "^MDC_EVT_CO2_SAMPLE_LINE_OCCL^MDC",
                                       "1.5.1.0", "CO2 sampling line blocked", "", "", "",
                                       "", "", "F", "", "", ts)))
        if off:
            # ASSUMPTION: technical alert named after the MDC event partition; the numeric
            # code is left empty because it could not be checked against the standard.
            obx.append(Segment("OBX", ("", "ST", "^MDC_EVT_PROBE_DISCONN^MDC", "1.3.1.0",
                                       "SpO2 probe off", "", "", "", "", "", "F", "", "",
                                       ts)))
        nibp_at = self._nibp_clock(vitals)
        if vitals.nibp is not None and nibp_at is not None and nibp_at != self._sent_nibp_time:
            self._sent_nibp_time = nibp_at
            nibp_ts = frames.format_ts(nibp_at, self.utc_offset_minutes)
            for (code, ref), value in zip(_NIBP_CODES[self.nibp_codes], vitals.nibp,
                                          strict=True):
                obx.append(_obx(code, ref, f"1.1.9.{code}", value, _MMHG, nibp_ts,
                                "APERIODIC"))
        for i, seg in enumerate(obx, 1):
            segs.append(Segment("OBX", (str(i), *seg.fields[1:])))
        return Message(tuple(segs), enc)

    def _nibp_clock(self, vitals: Vitals) -> float | None:
        if vitals.nibp_time is None or self._clock0 is None:
            return None
        return float(math.floor(self._clock0 + vitals.nibp_time))


def _obx(code: str, ref: str, sub_id: str, value: float | None, unit: tuple[str, str],
         ts: str, kind: str) -> Segment:
    text = INVALID if value is None else f"{value:g}"
    fields = ["", "NM", f"{code}^{ref}^MDC", sub_id, text, f"{unit[0]}^{unit[1]}^MDC",
              "", "", "", "", "F", "", "", ts, "", "", kind]
    if not kind:
        del fields[14:]  # OBX-17 (observation method) only for aperiodic values
    return Segment("OBX", tuple(fields))
