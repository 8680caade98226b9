"""Host side of HL7 v2 ORU^R01 over MLLP: decode MDC-coded OBX vitals and acknowledge."""

from __future__ import annotations

import math
import re
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.base import HostCodec
from drivers.conformance import BlindSpot
from drivers.hl7 import frames
from drivers.hl7.frames import BadBlock, Message, MllpDeframer, Segment
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation

# MDC context-free code and reference id -> metric alias (protocols.md section 7). Both
# NIBP code families are in use: NONINV (Comen, most gateways) and CUFF (Mindray-style).
MDC_METRICS: dict[str, str] = {
    "150456": "SPO2", "MDC_PULS_OXIM_SAT_O2": "SPO2",
    "147842": "HR", "MDC_ECG_HEART_RATE": "HR",
    "149530": "PR", "MDC_PULS_OXIM_PULS_RATE": "PR",
    "149522": "PR", "MDC_PULS_RATE": "PR",
    "150021": "NIBP_SYS", "MDC_PRESS_BLD_NONINV_SYS": "NIBP_SYS",
    "150022": "NIBP_DIA", "MDC_PRESS_BLD_NONINV_DIA": "NIBP_DIA",
    "150023": "NIBP_MEAN", "MDC_PRESS_BLD_NONINV_MEAN": "NIBP_MEAN",
    "150301": "NIBP_SYS", "MDC_PRESS_CUFF_SYS": "NIBP_SYS",
    "150302": "NIBP_DIA", "MDC_PRESS_CUFF_DIA": "NIBP_DIA",
    "150303": "NIBP_MEAN", "MDC_PRESS_CUFF_MEAN": "NIBP_MEAN",
    # Capnography (docs/devices/hl7.md). End-tidal CO2: 151708 (term 20636) is
    # MDC_CONC_AWAY_CO2_ET, which the 11073 gas harmonisation uses for partial pressure
    # and concentration alike (OBX-6 says which) and some senders name MDC_AWAY_CO2_ET;
    # 151728 (term 20656) is the older MDC_AWAY_CO2_ET that Philips exports.
    "151708": "ETCO2", "MDC_CONC_AWAY_CO2_ET": "ETCO2", "MDC_AWAY_CO2_ET": "ETCO2",
    "151728": "ETCO2",
    # Inspired CO2: 151716 MDC_CONC_AWAY_CO2_INSP (term 20644); the inspired minimum,
    # 151718 MDC_CONC_AWAY_CO2_INSP_MIN (20646) and 151738 MDC_AWAY_CO2_INSP_MIN (20666).
    "151716": "FICO2", "MDC_CONC_AWAY_CO2_INSP": "FICO2",
    "151718": "FICO2", "MDC_CONC_AWAY_CO2_INSP_MIN": "FICO2",
    "151738": "FICO2", "MDC_AWAY_CO2_INSP_MIN": "FICO2",
    # Respiration rate from the airway (the capnograph): 151570 MDC_AWAY_RESP_RATE and
    # 151594 MDC_CO2_RESP_RATE. From the chest (impedance) or unspecified: RR.
    "151570": "AWRR", "MDC_AWAY_RESP_RATE": "AWRR",
    "151594": "AWRR", "MDC_CO2_RESP_RATE": "AWRR",
    "151578": "RR", "MDC_TTHOR_RESP_RATE": "RR",
    "151562": "RR", "MDC_RESP_RATE": "RR",
}
"""OBX-3 code (numeric or reference id) -> metric alias."""

# Units that need converting to the metric's unit (MDC_DIM_KILO_PASCAL = 4*65536 + 3843).
_KPA = {"265987", "MDC_DIM_KILO_PASCAL", "kPa", "KPA"}
_MMHG_PER_KPA = 7.50062
_PERCENT = {"262688", "MDC_DIM_PERCENT", "%"}

INVALID_VALUES = frozenset({"-100"})
"""Values some monitors (Mindray-style) send for "no measurement"."""

VALID_RANGES: dict[str, tuple[float, float]] = {
    "SPO2": (0.0, 100.0),
    "HR": (0.0, 350.0),
    "PR": (0.0, 350.0),
    "NIBP_SYS": (0.0, 400.0),
    "NIBP_DIA": (0.0, 400.0),
    "NIBP_MEAN": (0.0, 400.0),
    "ETCO2": (0.0, 150.0),
    "FICO2": (0.0, 150.0),
    "AWRR": (0.0, 200.0),
    "RR": (0.0, 200.0),
}
"""Values a monitor can measure (%, /min, mmHg). A number outside is not a reading: the
message lost bytes (``-100`` shorn of a digit, two fields run together), and is rejected."""

# Unit families (OBX-6 code or name) by metric; another family's unit means damage.
_UNITS: dict[str, frozenset[str]] = {
    "percent": frozenset({"262688", "MDC_DIM_PERCENT", "%"}),
    "rate": frozenset({"264864", "MDC_DIM_BEAT_PER_MIN", "/min", "{beats}/min", "bpm",
                       "BPM", "264928", "MDC_DIM_RESP_PER_MIN", "{breaths}/min",
                       "{breath}/min", "rpm", "brpm"}),
    "pressure": frozenset({"266016", "MDC_DIM_MMHG", "mmHg", "mm[Hg]", "MMHG", "265987",
                           "MDC_DIM_KILO_PASCAL", "kPa", "KPA"}),
}
_UNIT_FAMILY = {"SPO2": "percent", "HR": "rate", "PR": "rate", "NIBP_SYS": "pressure",
                "NIBP_DIA": "pressure", "NIBP_MEAN": "pressure", "ETCO2": "pressure",
                "FICO2": "pressure", "AWRR": "rate", "RR": "rate"}
_CO2 = frozenset({"ETCO2", "FICO2"})
_CAPNO = frozenset({"ETCO2", "FICO2", "AWRR"})
_PRESSURES = frozenset({"NIBP_SYS", "NIBP_DIA", "NIBP_MEAN", "ETCO2", "FICO2"})
"""Metrics in mmHg that a monitor may send in kPa."""
_SET_ID = re.compile(r"^\d*$")
_VALUE_TYPE = re.compile(r"^([A-Z]{2,3})?$")
_MDC_CODE = re.compile(r"^\d*$")

ORU_SEGMENTS = frozenset({
    "MSH", "SFT", "UAC", "NTE", "PID", "PD1", "PRT", "NK1", "ARV", "PV1", "PV2", "ORC",
    "OBR", "TQ1", "TQ2", "CTD", "OBX", "FT1", "CTI", "SPM", "SAC", "ROL", "TXA", "DSC",
})
"""Segments an ORU^R01 may hold (HL7 v2.3 to v2.9), besides site-defined Z segments."""
_ABNORMAL = frozenset({"L", "H", "LL", "HH", "<", ">", "A", "AA", "LU", "HU"})
_NIBP = frozenset({"NIBP_SYS", "NIBP_DIA", "NIBP_MEAN"})


def technical_event(name: str) -> frozenset[str]:
    """Metrics a technical-alert OBX (``MDC_EVT_...`` reference id) says are sensor-off.

    ASSUMPTION: matched on the name (probe/sensor or lead, with off/disconnected/unplugged;
    for the capnograph, a name with CO2 or AWAY and off/disconnected/unplugged/occluded)
    because the numeric event codes could not be checked against the standard here.
    """
    name = name.upper()
    if not name.startswith("MDC_EVT_") or not any(
        k in name for k in ("OFF", "DISCONN", "UNPLUG", "OCCL")
    ):
        return frozenset()
    if "CO2" in name or "AWAY" in name:
        return _CAPNO  # the capnograph's sampling line or sensor
    if "OCCL" in name:
        return frozenset()
    if "PROBE" in name or "SENSOR" in name:
        return frozenset({"SPO2", "PR"})
    if "LEAD" in name:
        return frozenset({"HR"})
    return frozenset()


def _zone(name: str) -> tzinfo | None:
    if name == "local":
        return None
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


class Hl7HostCodec(HostCodec):
    """Decodes HL7 v2 ORU^R01 results into HR, PR, SpO2, NIBP and capnography observations.

    Every MLLP block gets an original-mode ACK in :meth:`data_to_send`: ``AA`` when the
    message parsed (other message types are accepted and ignored), ``AE`` when it is
    malformed but its control id (MSH-10) can be read. A block without a readable MSH
    cannot be acknowledged; it is only counted.

    - OBX-3 is matched on its numeric MDC code or its reference id.
    - The time of each value is OBX-14, else OBR-7 of its order, else MSH-7.
    - Capnography: EtCO2 and FiCO2 (mmHg; kPa converted, a percentage cannot be and gives
      ``None``), the airway respiration rate (``AWRR``) and the chest-impedance or
      unspecified rate (``RR``); :data:`MDC_METRICS` lists the codes.
    - ``-100``, an empty value, a non-number or result status ``X`` give ``None`` with
      :attr:`Flag.INVALID`; abnormal flags (OBX-8) give :attr:`Flag.OUT_OF_LIMIT`; a
      probe-off or lead-off technical alert OBX in the same message gives
      :attr:`Flag.SENSOR_OFF` on the values it concerns (:func:`technical_event`).
    - A NIBP value repeated with the same value and time (monitors that resend the last
      cuff result with its measurement time) is published once.
    - HL7 has no checksum. An ORU^R01 that shows lost bytes is rejected as a whole
      (counted, acknowledged ``AE``) before any value is read (:func:`check_result`).

    Args:
        device_id: put on every event.
        timezone: zone of timestamps without a UTC offset: ``local`` (this computer's),
            ``UTC`` or an IANA name such as ``Europe/Paris``.
    """

    name = "hl7"

    def __init__(self, device_id: str = "device", timezone: str = "local") -> None:
        super().__init__(device_id)
        self._tz = _zone(timezone)
        self._deframer = MllpDeframer()
        self._nibp_seen: dict[str, tuple[float | None, float]] = {}
        self._sender: tuple[str, str] | None = None
        self.acks_sent = 0

    def lost_bytes_blind_spot(self, stream: bytes, pos: int, size: int) -> BlindSpot | None:
        """What :func:`check_result` cannot see (see :func:`lost_bytes_blind_spot`)."""
        return lost_bytes_blind_spot(stream, pos, size)

    def _feed(self, data: bytes, now: float | None) -> None:
        for item in self._deframer.feed(data):
            if isinstance(item, BadBlock):
                self._bad_frame(item.reason, item.discarded)
            else:
                self._payload(item, now)

    def receive_eof(self) -> None:
        lost = self._deframer.eof()
        if lost is not None:
            self._bad_frame(lost.reason, lost.discarded)

    def _ack(self, control_id: str, code: str, original: Message | None, now: float | None,
             text: str = "") -> None:
        ack = frames.build_ack(control_id, code, original, now, text)
        self._send(frames.wrap(ack.encode()))
        self.acks_sent += 1

    def _payload(self, payload: bytes, now: float | None) -> None:
        try:
            message = Message.decode(payload)
            if not message.msh.field(9):
                raise FrameError("MSH-9 message type is empty")
            if not message.control_id:
                raise FrameError("MSH-10 control id is empty")
            if message.message_type == ("ORU", "R01"):
                check_result(message)
        except FrameError as exc:
            control_id = frames.control_id_of(payload)
            self._bad_frame(str(exc), len(payload))
            if control_id:
                self._ack(control_id, frames.ACK_ERROR, None, now, str(exc))
            return
        self.frames_ok += 1
        self._ack(message.control_id, frames.ACK_ACCEPT, message, now)
        if message.message_type == ("ORU", "R01"):
            self._result(message, now)

    def _result(self, message: Message, now: float | None) -> None:
        enc = message.encoding
        msh = message.msh
        msg_time = frames.parse_ts(msh.component(7, 1, enc), self._tz)
        sender = (msh.component(3, 1, enc), msh.component(4, 1, enc))
        if sender != self._sender:
            self._sender = sender
            info = {"protocol": self.name, "application": sender[0], "facility": sender[1],
                    "version": message.version}
            when = msg_time if msg_time is not None else (now or self._last_time)
            self._emit(DeviceStatus(self.device_id, DeviceState.INFO, when, "", info))
        # Technical alerts may come after the values they qualify: look for them first.
        off: set[str] = set()
        for seg in message.all("OBX"):
            off |= technical_event(seg.component(3, 2, enc).strip())
        order_time: float | None = None
        for seg in message.segments:
            if seg.name == "OBR":
                order_time = frames.parse_ts(seg.component(7, 1, enc), self._tz)
            elif seg.name == "OBX":
                fallback = order_time if order_time is not None else msg_time
                if fallback is None:
                    fallback = now if now is not None else self._last_time
                self._obx(seg, message, fallback, off)

    def _obx(self, seg: Segment, message: Message, fallback: float, off: set[str]) -> None:
        enc = message.encoding
        metric = _metric(seg, enc)
        if metric is None:
            return
        when = frames.parse_ts(seg.component(14, 1, enc), self._tz)
        if when is None:
            when = fallback
        flags: set[str] = set()
        value = _number(seg.component(5, 1, enc))
        if seg.field(11).strip().upper() == "X":  # "results cannot be obtained"
            value = None
        if value is not None and metric in _PRESSURES:
            unit = {seg.component(6, 1, enc).strip(), seg.component(6, 2, enc).strip()}
            if unit & _KPA:
                value = round(value * _MMHG_PER_KPA, 1)
            elif metric in _CO2 and unit & _PERCENT:
                # A CO2 fraction needs the ambient pressure to be mmHg; the message does
                # not carry it, and 760 mmHg would be wrong away from sea level.
                value = None
        if value is None:
            flags.add(Flag.INVALID)
        if metric in off:
            flags.add(Flag.SENSOR_OFF)
        if _ABNORMAL & {f.strip().upper() for f in seg.field(8).split(enc.repetition or "~")}:
            flags.add(Flag.OUT_OF_LIMIT)
        if metric in _NIBP:
            if self._nibp_seen.get(metric) == (value, when):
                return
            self._nibp_seen[metric] = (value, when)
        self._emit(Observation.of(metric, value, when, self.device_id, frozenset(flags)))


def _metric(seg: Segment, enc: frames.Encoding) -> str | None:
    """The metric of an OBX (by OBX-3 code, else name), or None when not read."""
    return MDC_METRICS.get(seg.component(3, 1, enc).strip()) or MDC_METRICS.get(
        seg.component(3, 2, enc).strip()
    )


def check_result(message: Message) -> None:
    """Reject an ORU^R01 whose structure shows lost bytes.

    HL7 has no checksum, but a loss that reaches a separator runs fields together or
    shifts them, which these checks see: every segment is one an ORU^R01 holds
    (:data:`ORU_SEGMENTS`, Z segments); MSH-7, OBR-7 and OBX-14 parse as timestamps (a
    segment terminator lost runs the next segment into one); OBX-1 is digits, OBX-2 a
    data type, an OBX-3 in MDC reads ``code^MDC_NAME^MDC``, OBX-4 has no components; for
    a value this driver reads, OBX-3's code and name agree, OBX-5 is one plain value, not
    negative (but for ``-100``) nor outside :data:`VALID_RANGES`, and OBX-6 is a unit of
    the right kind. A loss inside a value (``98`` read as ``9``) cannot be seen.

    Raises:
        FrameError: what is wrong.
    """
    enc = message.encoding
    for seg in message.segments:
        if seg.name not in ORU_SEGMENTS and not seg.name.startswith("Z"):
            raise FrameError(f"segment {seg.name} has no place in an ORU^R01")
    for name, seg, n in (("MSH", message.msh, 7), *(("OBR", s, 7) for s in message.all("OBR"))):
        stamp = seg.component(n, 1, enc)
        if stamp.strip() and frames.parse_ts(stamp) is None:
            raise FrameError(f"{name}-{n} {stamp[:20]!r} is not a timestamp")
    for seg in message.all("OBX"):
        if not _SET_ID.match(seg.field(1).strip()):
            raise FrameError(f"OBX-1 {seg.field(1)[:20]!r} is not a set id")
        if not _VALUE_TYPE.match(seg.field(2).strip()):
            raise FrameError(f"OBX-2 {seg.field(2)[:20]!r} is not a value type")
        _check_identifier(seg.field(3), enc)
        if enc.component and enc.component in seg.field(4):
            raise FrameError(f"OBX-4 sub-id {seg.field(4)[:40]!r} has components")
        stamp = seg.component(14, 1, enc)
        if stamp.strip() and frames.parse_ts(stamp) is None:
            raise FrameError(f"OBX-14 {stamp[:20]!r} is not a timestamp")
        metric = _metric(seg, enc)
        if metric is None:
            continue
        by_name = MDC_METRICS.get(seg.component(3, 2, enc).strip())
        if by_name is not None and by_name != metric:
            raise FrameError(f"OBX-3 code and name disagree: {seg.field(3)[:40]!r}")
        raw = seg.field(5)
        if any(sep and sep in raw for sep in (enc.component, enc.repetition,
                                               enc.subcomponent)):
            raise FrameError(f"{metric}: OBX-5 {raw[:20]!r} is not one value")
        text = enc.unescape(raw).strip()
        value = _number(text)
        lo, hi = VALID_RANGES[metric]
        if text.startswith("-") and text not in INVALID_VALUES and value is not None:
            raise FrameError(f"{metric}: negative value {text[:20]!r}")
        if value is not None and not lo <= _in_mmhg(value, seg, enc) <= hi:
            raise FrameError(f"{metric}: {text[:20]!r} is outside {lo:g}..{hi:g}")
        units = {seg.component(6, 1, enc).strip(), seg.component(6, 2, enc).strip()}
        family = _UNIT_FAMILY[metric]
        allowed = {family, "percent"} if metric in _CO2 else {family}  # CO2 may be in %
        if any(units & other for kind, other in _UNITS.items() if kind not in allowed):
            raise FrameError(f"{metric}: OBX-6 {seg.field(6)[:40]!r} is not a {family} unit")


def lost_bytes_blind_spot(stream: bytes, pos: int, size: int) -> BlindSpot | None:
    """Why losing ``stream[pos:pos + size]`` may go unnoticed, or None.

    HL7 has no checksum: the host sees a loss only where it breaks the MLLP block, or the
    structure of an OBX it reads, up to its value (OBX-1 to OBX-5 and the separators
    between them: fields run together or shift). A loss inside OBX-5 changes the value.
    """
    start_block, end_block = frames.START_BLOCK[0], frames.END_BLOCK[0]
    framing = [b for b in stream[pos : pos + size] if b in (start_block, end_block)]
    if end_block in framing and start_block in framing[framing.index(end_block) :]:
        # A block's end and the next one's start both lost: one block holds two messages,
        # and an ORU^R01 may hold several order groups.
        return BlindSpot("two HL7 messages run into one")
    if framing:
        return None
    start = max(stream.rfind(b"\r", 0, pos), stream.rfind(frames.START_BLOCK, 0, pos)) + 1
    end = stream.find(b"\r", pos)
    fields = stream[start:end].split(b"|")
    if fields[0] != b"OBX" or len(fields) < 7:
        return BlindSpot("HL7 field that the host does not check")
    code = fields[3].split(b"^")
    if not any(c.decode(errors="replace") in MDC_METRICS for c in code[:2]):
        return BlindSpot("HL7 OBX that the host does not read")
    value_at = start + len(b"|".join(fields[:5])) + 1
    value_end = value_at + len(fields[5])
    if pos >= value_at and pos + size <= value_end:
        return BlindSpot("HL7 OBX-5 value", values=True)
    if pos <= value_end:
        return None  # reaches OBX-1 to OBX-5 or a separator between them
    return BlindSpot("HL7 OBX field after the value")


def _check_identifier(field: str, enc: frames.Encoding) -> None:
    """An OBX-3 coded in MDC reads ``code^MDC_NAME^MDC``: the numeric code (or nothing),
    the reference id (or nothing), then the coding system.

    Raises:
        FrameError: "MDC" elsewhere, or a code or name of the wrong shape.
    """
    parts = [p.strip() for p in field.split(enc.component)] if enc.component else [field]
    if "MDC" not in parts[:3]:
        return  # another coding system: nothing to check
    if len(parts) < 3 or parts[2] != "MDC" or not _MDC_CODE.match(parts[0]) or \
            (parts[1] and not parts[1].startswith("MDC_")):
        raise FrameError(f"OBX-3 {field[:40]!r} is not an MDC identifier")


def _in_mmhg(value: float, seg: Segment, enc: frames.Encoding) -> float:
    units = {seg.component(6, 1, enc).strip(), seg.component(6, 2, enc).strip()}
    return value * _MMHG_PER_KPA if units & _KPA else value


def _number(text: str) -> float | None:
    """OBX-5 as a number, or None for empty, non-numeric or the ``-100`` invalid marker."""
    text = text.strip()
    if not text or text in INVALID_VALUES:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or value == -100.0:
        return None
    return value
