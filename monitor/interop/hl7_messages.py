"""Outgoing HL7 v2.6 messages, pure: observation results as ORU^R01 (IHE PCD-01) and
alarms as ORU^R40 (IHE PCD-04), written with the inbound driver's segments and escaping
(:mod:`drivers.hl7.frames`).

Codes are IEEE 11073-10101 (MDC) context-free codes, partition x 65536 + term code
(docs/interfaces.md lists each with its source):

- metrics: SpO2 150456 MDC_PULS_OXIM_SAT_O2, ECG heart rate 147842 MDC_ECG_HEART_RATE,
  pulse rate 149530 MDC_PULS_OXIM_PULS_RATE, NIBP 150021/150022/150023
  MDC_PRESS_BLD_NONINV_SYS/DIA/MEAN;
- units: 262688 MDC_DIM_PERCENT, 264864 MDC_DIM_BEAT_PER_MIN, 266016 MDC_DIM_MMHG;
- alarms: 196616 MDC_EVT_ALARM (the OBR, and technical alarms), 196648 MDC_EVT_HI,
  196670 MDC_EVT_LO; the alarm's attributes 68480 MDC_ATTR_ALERT_SOURCE, 68481
  MDC_ATTR_EVENT_PHASE, 68482 MDC_ATTR_ALARM_STATE, 68483
  MDC_ATTR_ALARM_INACTIVATION_STATE, 68484 MDC_ATTR_ALARM_PRIORITY, 68485
  MDC_ATTR_ALERT_TYPE.

OBX-11 (result status, HL7 table 0085): ``F`` for a final result (the median of a closed
interval, a complete NIBP reading), ``R`` for a partial interval sent when the bed is
discharged or the service stops mid-interval, ``X`` when the parameter was measured but
gave no usable value (artifact, invalid, sensor off): OBX-5 is then empty, never a number.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.hl7.frames import Encoding, Message, Segment, format_ts

VERSION = "2.6"
PCD01_PROFILE = "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
"""MSH-21 of an observation result (IHE PCD-01, Communicate PCD Data)."""
PCD04_PROFILE = "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4.1^ISO"
"""MSH-21 of an alarm (IHE PCD-04, Report Alert)."""
MONITORING_OF_PATIENT = "182777000^monitoring of patient^SCT"
"""OBR-4 of periodic results (SNOMED CT, as IHE PCD-01 messages carry it)."""
LOCAL_SYSTEM = "99SPU"
"""The coding system of this product's own codes (rule ids), HL7's local ``99`` form."""

ENC = Encoding()


@dataclass(frozen=True, slots=True)
class Mdc:
    """One MDC term: context-free code and reference id."""

    code: str
    name: str

    @property
    def cwe(self) -> str:
        """``code^REFID^MDC`` as OBX-3/OBX-6 carry it."""
        return f"{self.code}^{self.name}^MDC"


PERCENT = Mdc("262688", "MDC_DIM_PERCENT")
BEAT_PER_MIN = Mdc("264864", "MDC_DIM_BEAT_PER_MIN")
MMHG = Mdc("266016", "MDC_DIM_MMHG")


@dataclass(frozen=True, slots=True)
class OutMetric:
    """How a metric goes out: its MDC term, unit and place in the containment tree."""

    term: Mdc
    unit: Mdc
    sub_id: str
    """OBX-4: MDS.VMD.channel.metric (1 = this station; VMD 1 ECG, 2 SpO2, 3 NIBP)."""


OUT_METRICS: dict[str, OutMetric] = {
    "HR": OutMetric(Mdc("147842", "MDC_ECG_HEART_RATE"), BEAT_PER_MIN, "1.1.1.1"),
    "SPO2": OutMetric(Mdc("150456", "MDC_PULS_OXIM_SAT_O2"), PERCENT, "1.2.1.1"),
    "PR": OutMetric(Mdc("149530", "MDC_PULS_OXIM_PULS_RATE"), BEAT_PER_MIN, "1.2.1.2"),
    "NIBP_SYS": OutMetric(Mdc("150021", "MDC_PRESS_BLD_NONINV_SYS"), MMHG, "1.3.1.1"),
    "NIBP_DIA": OutMetric(Mdc("150022", "MDC_PRESS_BLD_NONINV_DIA"), MMHG, "1.3.1.2"),
    "NIBP_MEAN": OutMetric(Mdc("150023", "MDC_PRESS_BLD_NONINV_MEAN"), MMHG, "1.3.1.3"),
}
"""Every metric sent, by alias."""

EVT_ALARM = Mdc("196616", "MDC_EVT_ALARM")
EVT_HI = Mdc("196648", "MDC_EVT_HI")
EVT_LO = Mdc("196670", "MDC_EVT_LO")
ATTR_ALERT_SOURCE = Mdc("68480", "MDC_ATTR_ALERT_SOURCE")
ATTR_EVENT_PHASE = Mdc("68481", "MDC_ATTR_EVENT_PHASE")
ATTR_ALARM_STATE = Mdc("68482", "MDC_ATTR_ALARM_STATE")
ATTR_INACTIVATION_STATE = Mdc("68483", "MDC_ATTR_ALARM_INACTIVATION_STATE")
ATTR_ALARM_PRIORITY = Mdc("68484", "MDC_ATTR_ALARM_PRIORITY")
ATTR_ALERT_TYPE = Mdc("68485", "MDC_ATTR_ALERT_TYPE")

ALARM_SOURCES: dict[str, tuple[str, Mdc | None]] = {
    "SPO2_LOW": ("SPO2", EVT_LO),
    "SPO2_SEVERE": ("SPO2", EVT_LO),
    "HR_RISE": ("HR", EVT_HI),
    "HR_LIMIT": ("HR", None),  # high or low: decided by the value against the threshold
    "BP_RISE": ("NIBP_SYS", EVT_HI),
    "BP_RISE_SEVERE": ("NIBP_SYS", EVT_HI),
    "BP_LIMIT": ("NIBP_SYS", EVT_HI),
}
"""Physiological rules -> (the metric they watch, the event: above or below a limit).
Other rules (technical) go out as MDC_EVT_ALARM with an alert-source OBX."""

PHASES = {"onset": "start", "escalation": "escalate", "acknowledged": "update", "end": "end"}
"""Alarm-log event -> MDC_ATTR_EVENT_PHASE. Only these events go out."""
PRIORITIES = {"high": "PH", "medium": "PM", "low": "PL"}
"""Alarm priority -> the PCD-04 interpretation code (OBX-8, and the priority OBX)."""

STATUS_FINAL = "F"
STATUS_PARTIAL = "R"
STATUS_NO_VALUE = "X"


@dataclass(frozen=True, slots=True)
class PatientContext:
    """Who and where: the session's patient record and bed (PID and PV1)."""

    bed_id: str
    session_id: int | None = None
    identifier: str = ""
    family_name: str = ""
    given_name: str = ""
    birth_date: str | None = None
    sex: str | None = None
    unit: str = "SPU"


@dataclass(frozen=True, slots=True)
class Result:
    """One value to send: a metric, its value (``None``: no usable value) and status."""

    metric: str
    value: float | None
    time: float
    status: str = STATUS_FINAL
    device_id: str = ""


@dataclass(frozen=True, slots=True)
class Sender:
    """MSH-3 and MSH-4."""

    application: str = "SPU_MONITOR"
    facility: str = "SPU"


def utc_offset_minutes(t: float) -> int:
    """The local zone's offset from UTC at ``t``, in minutes."""
    offset = _dt.datetime.fromtimestamp(t).astimezone().utcoffset()
    return 0 if offset is None else int(offset.total_seconds() // 60)


def hl7_time(t: float) -> str:
    """``YYYYMMDDHHMMSS+ZZZZ`` in the local zone, with its offset (so it is exact)."""
    return format_ts(t, utc_offset_minutes(t))


def number(value: float) -> str:
    """A value as OBX-5 writes it: at most one decimal, no trailing ``.0``."""
    rounded = round(value, 1)
    return f"{rounded:.0f}" if float(rounded).is_integer() else f"{rounded:.1f}"


def _text(value: str) -> str:
    return ENC.escape_text(value)


def _msh(sender: Sender, when: float, control_id: str, trigger: str, profile: str
         ) -> Segment:
    fields = ["|", ENC.msh2, _text(sender.application), _text(sender.facility), "", "",
              hl7_time(when), "", f"ORU^{trigger}^ORU_{trigger}", _text(control_id), "P",
              VERSION, "", "", "AL", "NE", "", "UNICODE UTF-8", "", "", profile]
    return Segment("MSH", tuple(fields))


def _pid(ctx: PatientContext, sender: Sender) -> Segment:
    ident = f"{_text(ctx.identifier)}^^^{_text(sender.facility)}^MR" if ctx.identifier else ""
    name = (f"{_text(ctx.family_name)}^{_text(ctx.given_name)}^^^^^L"
            if ctx.family_name else "")
    birth = (ctx.birth_date or "").replace("-", "")
    return Segment("PID", ("1", "", ident, "", name, "", birth, ctx.sex or ""))


def _pv1(ctx: PatientContext, sender: Sender) -> Segment:
    location = f"{_text(ctx.unit)}^^{_text(ctx.bed_id)}^{_text(sender.facility)}"
    visit = "" if ctx.session_id is None else f"{ctx.session_id}^^^{_text(sender.facility)}^VN"
    fields = ["", "O", location] + [""] * 15 + [visit]
    return Segment("PV1", tuple(fields))


def _obx(set_id: int, value_type: str, ident: str, sub_id: str, value: str, unit: str = "",
         ref_range: str = "", flags: str = "", status: str = STATUS_FINAL, when: str = "",
         observer: str = "", equipment: str = "") -> Segment:
    fields = [str(set_id), value_type, ident, sub_id, value, unit, ref_range, flags, "", "",
              status, "", "", when, "", observer, "", equipment]
    while fields and fields[-1] == "":
        fields.pop()
    return Segment("OBX", tuple(fields))


def oru_r01(sender: Sender, ctx: PatientContext, control_id: str, results: Sequence[Result],
            start: float, end: float | None, when: float) -> Message:
    """An observation result (IHE PCD-01): one OBR for the interval (or the NIBP
    measurement), one OBX per result.

    Args:
        sender: MSH-3/MSH-4.
        ctx: the patient and bed (PID, PV1).
        control_id: MSH-10, unique.
        results: the values, in order.
        start: OBR-7, when the observation began (the interval's start, the reading's time).
        end: OBR-8, when it ended (the interval's end), or None.
        when: MSH-7.
    """
    obr = Segment("OBR", ("1", f"{_text(control_id)}^{_text(sender.application)}",
                          f"{_text(control_id)}^{_text(sender.application)}",
                          MONITORING_OF_PATIENT, "", "", hl7_time(start),
                          "" if end is None else hl7_time(end)))
    segments = [_msh(sender, when, control_id, "R01", PCD01_PROFILE), _pid(ctx, sender),
                _pv1(ctx, sender), obr]
    for i, r in enumerate(results, start=1):
        out = OUT_METRICS[r.metric]
        usable = r.value is not None and math.isfinite(r.value) and r.status != STATUS_NO_VALUE
        segments.append(_obx(
            i, "NM", out.term.cwe, out.sub_id, number(r.value) if usable and r.value is not None
            else "", out.unit.cwe, status=r.status if usable else STATUS_NO_VALUE,
            when=hl7_time(r.time), equipment=_text(r.device_id)))
    return Message(tuple(segments), ENC)


@dataclass(frozen=True, slots=True)
class AlarmReport:
    """What an alarm message says: the alarm-log record and what is known of the alarm."""

    alarm_id: str
    rule: str
    event: str
    priority: str
    technical: bool
    time: float
    value: float | None = None
    threshold: float | None = None
    message: str = ""
    acknowledged: bool = False
    acked_by: str | None = None


def _alarm_event(report: AlarmReport) -> tuple[str, Mdc, str]:
    """(the source metric or "", the MDC event, the abnormality flag H/L or "")."""
    source = ALARM_SOURCES.get(report.rule)
    if source is None or report.technical:
        return "", EVT_ALARM, ""
    metric, event = source
    if event is None:
        low = (report.value is not None and report.threshold is not None
               and report.value < report.threshold)
        event = EVT_LO if low else EVT_HI
    return metric, event, "L" if event is EVT_LO else "H"


def _limit(report: AlarmReport, flag: str) -> str:
    if report.threshold is None:
        return ""
    return (">" if flag == "L" else "<") + number(report.threshold)


def oru_r40(sender: Sender, ctx: PatientContext, control_id: str, report: AlarmReport,
            when: float) -> Message:
    """An alarm's onset, escalation, acknowledgement or end (IHE PCD-04, Report Alert).

    OBR-3 (filler order number) is the alarm's id, the same from onset to end, so a
    receiver ties the phases together. OBX 1 names the event (MDC) and the rule (this
    product's code, ``99SPU``) with OBX-8 abnormality~priority~kind; OBX 2 the value
    against its limit (or the alert source); then the phase, the alarm state, the
    inactivation state (OBX-16: who acknowledged), the priority and the alert type.
    """
    metric, event, flag = _alarm_event(report)
    prefix = OUT_METRICS[metric].sub_id if metric else "1.0.0.0"
    priority = PRIORITIES.get(report.priority, "PU")
    kind = "ST" if report.technical else "SP"
    obr = Segment("OBR", ("1", f"{_text(control_id)}^{_text(sender.application)}",
                          f"{_text(report.alarm_id)}^{_text(sender.application)}",
                          EVT_ALARM.cwe, "", "", hl7_time(report.time)))
    ident = f"{event.cwe}^{_text(report.rule)}^{_text(report.rule)}^{LOCAL_SYSTEM}"
    at = hl7_time(report.time)
    flags = "~".join(f for f in (flag, priority, kind) if f)
    segments = [_msh(sender, when, control_id, "R40", PCD04_PROFILE), _pid(ctx, sender),
                _pv1(ctx, sender), obr,
                _obx(1, "ST", ident, f"{prefix}.1", _text(report.message or report.rule),
                     flags=flags, when=at)]
    if metric:
        out = OUT_METRICS[metric]
        value = "" if report.value is None else number(report.value)
        segments.append(_obx(2, "NM", out.term.cwe, f"{prefix}.2", value, out.unit.cwe,
                             _limit(report, flag),
                             status=STATUS_FINAL if value else STATUS_NO_VALUE, when=at))
    else:
        segments.append(_obx(2, "ST", ATTR_ALERT_SOURCE.cwe, f"{prefix}.2",
                             _text(report.rule), when=at))
    ended = report.event == "end"
    inactivation = "alert-acknowledged" if report.acknowledged else "enabled"
    segments += [
        _obx(3, "ST", ATTR_EVENT_PHASE.cwe, f"{prefix}.3", PHASES.get(report.event, "update")),
        _obx(4, "ST", ATTR_ALARM_STATE.cwe, f"{prefix}.4", "inactive" if ended else "active"),
        _obx(5, "ST", ATTR_INACTIVATION_STATE.cwe, f"{prefix}.5", inactivation,
             observer=_text(report.acked_by or "") if report.acknowledged else ""),
        _obx(6, "ST", ATTR_ALARM_PRIORITY.cwe, f"{prefix}.6", priority),
        _obx(7, "ST", ATTR_ALERT_TYPE.cwe, f"{prefix}.7", kind),
    ]
    return Message(tuple(segments), ENC)


def ack_code(message: Message) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, MSA-3) of an acknowledgement ("" where absent)."""
    for seg in message.all("MSA"):
        enc = message.encoding
        return (seg.component(1, 1, enc).upper(), seg.component(2, 1, enc),
                seg.component(3, 1, enc))
    return "", "", ""
