"""Simulated Philips IntelliVue monitor on its MIB/RS232 Data Export port."""

from __future__ import annotations

from dataclasses import dataclass

from drivers.base import SerialSettings
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.attributes import (
    DevAlarmEntry,
    DeviceAlertCondition,
    SaObsValue,
    SaSpec,
    ScaleRangeSpec,
    StrAlMonInfo,
    SystemModel,
    parse_text_ids,
    serialize_alarm_list,
)
from drivers.intellivue.encoding import u16, u32
from drivers.intellivue.frames import (
    SERIAL,
    ActionArgument,
    Association,
    Ava,
    BadFrame,
    DataMessage,
    Deframer,
    Error,
    EventReport,
    Invoke,
    MdseUserInfo,
    ObservationPoll,
    PollProfileSupport,
    PollReply,
    PollRequest,
    Result,
    SessionPdu,
    SetArgument,
    SetResult,
    abort,
    parse_message,
    refuse,
    release_response,
    to_frame,
)
from drivers.intellivue.values import (
    AbsoluteTime,
    Float,
    NuObsValue,
    serialize_compound_numeric,
)
from monitor.domain.errors import FrameError
from monitor.domain.models import Flag
from simulators.base import DeviceCodec
from simulators.scenarios import Vitals
from simulators.waveforms import EcgSynth, PlethSynth

ASSOCIATION_TIMEOUT_S = 15.0
"""The simulated monitor aborts an association whose host has said nothing for this long."""
NUMERIC_INTERVAL_S = 1.0
"""Periodic numerics and alarm replies: once a second (``POLL_EXT_PERIOD_NU_1SEC``)."""
WAVE_INTERVAL_S = 0.256
"""Periodic wave replies: every 256 ms."""
_MAX_BACKLOG_S = 2.0
"""A real monitor does not catch up on data it could not send; neither do we."""

ECG_SCALE = ScaleRangeSpec(Float(-2, -4096), Float(-3, 40955), 0, 0x3FFF)
"""-40.96..40.955 mV on 0..0x3FFF (5 µV a step): the ECG default of [VSCMP] ``Class3.cs``."""
ECG_SPEC_FLAGS = nom.SA_STATIC_SCALE | nom.SA_EXT_VAL_RANGE
PLETH_SCALE = ScaleRangeSpec(Float(0, 0), Float(0, 1), 0, 0x0FFF)
"""ASSUMPTION: the pleth as a relative 0..1 curve on 12 bits; a real monitor sends its own."""

# Simulated alarm limits: (metric, low, high, source, handle, text).
_LIMITS = (
    ("hr", 50.0, 120.0, nom.NOM_ECG_CARD_BEAT_RATE, 0x0101, "HR"),
    ("spo2", 90.0, None, nom.NOM_PULS_OXIM_SAT_O2, 0x0102, "SpO2"),
    ("rr", 8.0, 30.0, nom.NOM_RESP_RATE, 0x0105, "RESP"),
)
_DESAT = 80.0
_NIBP_SYS_LIMITS = (90.0, 160.0)


@dataclass
class _Periodic:
    """A periodic extended poll the simulated monitor is serving."""

    request: PollRequest
    invoke_id: int
    interval: float
    due: float | None
    end: float | None
    count: int = 0


class IntelliVueDeviceCodec(DeviceCodec):
    """Answers like an IntelliVue's Data Export port; sends nothing until associated.

    An association request is answered by the association result and, at once, the MDS
    create event report; polls are served once the host has confirmed it. A periodic
    extended poll (``NOM_ATTR_TIME_PD_POLL``) is answered by linked results, once a second
    for numerics and alarms and every 256 ms for waves, then by a final result when its
    period ends; other polls by one result. A confirmed set of the wave priority list
    picks the waves sent (ECG II at ``ecg_rate``, pleth at ``pleth_rate``). A release
    request is answered by the release response; a host silent for
    :data:`ASSOCIATION_TIMEOUT_S` gets an abort.

    Values: HR, SpO2, pleth pulse rate, respiration rate and the latest NIBP, whose
    numeric carries its measurement time (``NOM_ATTR_TIME_STAMP_ABS``). A missing value is
    NaN with state *invalid*, motion or artifact make SpO2 and pulse *questionable*. The
    monitor raises its own alarms (HR, SpO2, respiration and NIBP systolic limits, desat)
    and INOPs (SpO2 sensor off, ECG leads off) and marks the numerics *in alarm*.
    Parsed host requests come out of :meth:`events_received`.

    Args:
        start_time: device clock at scenario time 0; defaults to the first :meth:`advance`.
        ecg_rate, pleth_rate: samples per second.
        refuse_association: refuse every association request (for tests).
    """

    name = "intellivue"
    serial_settings = SerialSettings(**SERIAL)  # type: ignore[arg-type]

    def __init__(self, start_time: float | None = None, ecg_rate: float = 500.0,
                 pleth_rate: float = 125.0, refuse_association: bool = False) -> None:
        super().__init__()
        self.ecg_rate = float(ecg_rate)
        self.pleth_rate = float(pleth_rate)
        self.refuse_association = refuse_association
        self.state = "idle"
        """``idle``, ``waiting_result`` (MDS create sent) or ``associated``."""
        self.bad_frames = 0
        self._deframer = Deframer()
        self._clock0 = start_time
        self._now: float | None = None
        self._vitals = Vitals()
        self._last_rx: float | None = None
        self._invoke = 0
        self._polls: dict[int, _Periodic] = {}
        self._waves: tuple[int, ...] = (nom.NLS_NOM_ECG_ELEC_POTL_II,
                                        nom.NLS_NOM_PULS_OXIM_PLETH)
        self._ecg = EcgSynth(self.ecg_rate)
        self._pleth = PlethSynth(self.pleth_rate)
        self._wave_index: dict[str, int] = {}
        self._alarm_changes = 0
        self._alarm_last: tuple[DevAlarmEntry, ...] = ()

    # -- host requests --------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        for item in self._deframer.feed(data):
            if isinstance(item, BadFrame):
                self.bad_frames += 1
                continue
            try:
                self._message(item.user_data)
            except FrameError:
                self.bad_frames += 1
                continue
            self._last_rx = self._now

    def _reply(self, message: SessionPdu | DataMessage | Association) -> None:
        self._send(to_frame(message))

    def _message(self, user_data: bytes) -> None:
        message = parse_message(user_data)
        if isinstance(message, SessionPdu):
            self._session(message)
            return
        apdu = message.apdu
        if isinstance(apdu, Invoke):
            self._invoked(apdu)
        elif isinstance(apdu, Result) and apdu.command_type == nom.CMD_CONFIRMED_EVENT_REPORT:
            if self.state == "waiting_result":
                self.state = "associated"

    def _session(self, pdu: SessionPdu) -> None:
        if pdu.si == nom.SI_CN:
            request = Association.from_pdu(pdu)
            self._requests.append(request)
            self._polls.clear()
            if self.refuse_association:
                self.state = "idle"
                self._reply(refuse())
                return
            self._reply(Association(nom.SI_AC, _server_info()))
            self._reply(self._mds_create())
            self.state = "waiting_result"
        elif pdu.si == nom.SI_FN:
            self._requests.append(pdu)
            self._reply(release_response())
            self._drop()
        elif pdu.si == nom.SI_AB:
            self._requests.append(pdu)
            self._drop()

    def _drop(self) -> None:
        self.state = "idle"
        self._polls.clear()

    def _invoked(self, invoke: Invoke) -> None:
        if self.state == "idle":
            return  # no association: a real monitor does not answer
        if invoke.command_type == nom.CMD_CONFIRMED_ACTION:
            arg = ActionArgument.parse(invoke.argument)
            if arg.action_type in (nom.NOM_ACT_POLL_MDIB_DATA, nom.NOM_ACT_POLL_MDIB_DATA_EXT):
                extended = arg.action_type == nom.NOM_ACT_POLL_MDIB_DATA_EXT
                self._poll(invoke.invoke_id, PollRequest.parse(arg.data, extended))
                return
        elif invoke.command_type == nom.CMD_CONFIRMED_SET:
            setting = SetArgument.parse(invoke.argument)
            self._requests.append(setting)
            for _, ava in setting.modifications:
                if ava.attribute_id == nom.NOM_ATTR_POLL_RTSA_PRIO_LIST:
                    self._waves = parse_text_ids(ava.value)
            done = SetResult(tuple(ava for _, ava in setting.modifications))
            self._reply(DataMessage(Result(invoke.invoke_id, nom.CMD_CONFIRMED_SET,
                                           done.serialize())))
            return
        self._reply(DataMessage(Error(invoke.invoke_id, nom.ERR_NO_SUCH_ACTION)))

    def _poll(self, invoke_id: int, request: PollRequest) -> None:
        self._requests.append(request)
        period = request.period_ticks
        if request.extended and period:
            interval = WAVE_INTERVAL_S if request.obj_class == nom.NOM_MOC_VMO_METRIC_SA_RT \
                else NUMERIC_INTERVAL_S
            end = None if self._now is None else self._now + period / nom.RELATIVE_TICKS_PER_S
            self._polls[request.obj_class] = _Periodic(request, invoke_id, interval, None, end)
            return
        when = self._now if self._now is not None else (self._clock0 or 0.0)
        self._reply(self._poll_reply(request, when).result(invoke_id))

    # -- device output --------------------------------------------------------------------

    def advance(self, now: float, vitals: Vitals) -> None:
        if self._clock0 is None:
            self._clock0 = now
        self._now = now
        self._vitals = vitals
        if self.state != "idle" and self._last_rx is not None and \
                now - self._last_rx > ASSOCIATION_TIMEOUT_S:
            self._reply(abort())
            self._drop()
            return
        if self.state != "associated":
            return
        # Alarms first: a host flags the numerics that follow with them.
        order = (nom.NOM_MOC_VMO_AL_MON, nom.NOM_MOC_VMO_METRIC_NU, nom.NOM_MOC_VMO_METRIC_SA_RT)
        for obj_class in sorted(self._polls, key=lambda c: order.index(c) if c in order else 9):
            self._serve(self._polls[obj_class], now)

    def _serve(self, poll: _Periodic, now: float) -> None:
        if poll.due is None:
            poll.due = now
            if poll.end is None:
                period = poll.request.period_ticks or 0
                poll.end = now + period / nom.RELATIVE_TICKS_PER_S
        if now - poll.due > _MAX_BACKLOG_S:
            poll.due = now
        while poll.due <= now + 1e-9:
            when = poll.due
            reply = self._poll_reply(poll.request, when, sequence=poll.count)
            last = poll.end is not None and when + poll.interval > poll.end
            if last:
                self._reply(reply.result(poll.invoke_id))
                del self._polls[poll.request.obj_class]
                return
            state = nom.RORLS_FIRST if poll.count == 0 else nom.RORLS_NOT_FIRST_NOT_LAST
            self._reply(reply.result(poll.invoke_id, (state, poll.count & 0xFF)))
            poll.count += 1
            poll.due += poll.interval

    def _rel_time(self, when: float) -> int:
        return round((when - (self._clock0 or 0.0)) * nom.RELATIVE_TICKS_PER_S) & 0xFFFFFFFF

    def _poll_reply(self, request: PollRequest, when: float, sequence: int = 0) -> PollReply:
        objects: tuple[ObservationPoll, ...] = ()
        if request.obj_class == nom.NOM_MOC_VMO_METRIC_NU:
            objects = self._numerics(when)
        elif request.obj_class == nom.NOM_MOC_VMO_METRIC_SA_RT:
            objects = self._wave_objects(request)
        elif request.obj_class == nom.NOM_MOC_VMO_AL_MON and \
                request.attr_group != nom.NOM_ATTR_GRP_VMO_STATIC:
            objects = (self._alarm_object(),)
        contexts = ((0, objects),) if objects else ()
        return PollReply(request.poll_number, self._rel_time(when),
                         AbsoluteTime.of(when).serialize(), request.obj_class, contexts,
                         request.attr_group, request.extended, sequence & 0xFFFF)

    def _mds_create(self) -> DataMessage:
        when = self._now if self._now is not None else (self._clock0 or 0.0)
        model = SystemModel(b"SPU Monitor simulator", b"IntelliVue MP50")
        attributes = (
            Ava(nom.NOM_ATTR_ID_MODEL, model.serialize()),
            Ava(nom.NOM_ATTR_TIME_ABS, AbsoluteTime.of(when).serialize()),
            Ava(nom.NOM_ATTR_TIME_REL, u32(self._rel_time(when))),
            Ava(nom.NOM_ATTR_VMS_MDS_STAT, u16(6)),  # OPERATING ([VSCMP] MDSStatus)
        )
        self._invoke = self._invoke % 0xFFFF + 1
        report = EventReport.mds_create(attributes, self._rel_time(when))
        return DataMessage(Invoke(self._invoke, nom.CMD_CONFIRMED_EVENT_REPORT,
                                  report.serialize()))

    # -- numerics ---------------------------------------------------------------------------

    def _in_alarm(self, metric: str, value: float | None) -> bool:
        if value is None:
            return False
        for name, low, high, *_ in _LIMITS:
            if name == metric:
                return (low is not None and value < low) or (high is not None and value > high)
        return False

    def _numeric(self, handle: int, physio: int, unit: int, value: float | None,
                 state: int = 0) -> ObservationPoll:
        if value is None:
            state |= nom.MS_INVALID
        nu = NuObsValue(physio, state, unit, Float.of(value))
        return ObservationPoll(handle, (Ava(nom.NOM_ATTR_NU_VAL_OBS, nu.serialize()),))

    def _numerics(self, when: float) -> tuple[ObservationPoll, ...]:
        v = self._vitals
        off = v.sensor_off
        shaky = nom.MS_QUESTIONABLE if v.flags & {Flag.MOTION, Flag.ARTIFACT} else 0
        alarm = nom.MS_MSMT_STATE_IN_ALARM
        spo2 = None if off else v.spo2
        objects = [
            self._numeric(0x0101, nom.NOM_ECG_CARD_BEAT_RATE, nom.NOM_DIM_BEAT_PER_MIN, v.hr,
                          alarm if self._in_alarm("hr", v.hr) else 0),
            self._numeric(0x0102, nom.NOM_PULS_OXIM_SAT_O2, nom.NOM_DIM_PERCENT, spo2,
                          shaky | (alarm if self._in_alarm("spo2", spo2) else 0)),
            self._numeric(0x0103, nom.NOM_PLETH_PULS_RATE, nom.NOM_DIM_BEAT_PER_MIN,
                          None if off else v.pr, shaky),
            self._numeric(0x0105, nom.NOM_RESP_RATE, nom.NOM_DIM_RESP_PER_MIN, v.rr,
                          alarm if self._in_alarm("rr", v.rr) else 0),
        ]
        if v.nibp is not None:
            objects.append(self._nibp(v.nibp))
        return tuple(objects)

    def _nibp(self, nibp: tuple[float, float, float]) -> ObservationPoll:
        low, high = _NIBP_SYS_LIMITS
        alarm = nom.MS_MSMT_STATE_IN_ALARM if not low <= nibp[0] <= high else 0
        values = [NuObsValue(physio, alarm, nom.NOM_DIM_MMHG, Float.of(value))
                  for physio, value in zip((nom.NOM_PRESS_BLD_NONINV_SYS,
                                            nom.NOM_PRESS_BLD_NONINV_DIA,
                                            nom.NOM_PRESS_BLD_NONINV_MEAN), nibp, strict=True)]
        attributes = [Ava(nom.NOM_ATTR_NU_CMPD_VAL_OBS, serialize_compound_numeric(values))]
        taken = self._nibp_clock()
        if taken is not None:
            attributes.append(Ava(nom.NOM_ATTR_TIME_STAMP_ABS, AbsoluteTime.of(taken).raw))
        return ObservationPoll(0x0104, tuple(attributes))

    def _nibp_clock(self) -> float | None:
        t = self._vitals.nibp_time
        return None if t is None or self._clock0 is None else self._clock0 + t

    # -- alarms -----------------------------------------------------------------------------

    def _alarms(self) -> tuple[list[DevAlarmEntry], list[DevAlarmEntry]]:
        v = self._vitals
        patient: list[DevAlarmEntry] = []
        technical: list[DevAlarmEntry] = []
        spo2 = None if v.sensor_off else v.spo2
        values = {"hr": v.hr, "spo2": spo2, "rr": v.rr}
        for metric, low, high, source, handle, label in _LIMITS:
            value = values[metric]
            if value is None:
                continue
            if metric == "spo2" and value < _DESAT:
                patient.append(_entry(source, nom.NOM_EVT_DESAT, nom.HI_PRI_P_AL, handle, "DESAT"))
            elif low is not None and value < low:
                patient.append(_entry(source, nom.NOM_EVT_LO, nom.MED_PRI_P_AL, handle,
                                      f"{label} LOW"))
            elif high is not None and value > high:
                patient.append(_entry(source, nom.NOM_EVT_HI, nom.MED_PRI_P_AL, handle,
                                      f"{label} HIGH"))
        if v.nibp is not None:
            low, high = _NIBP_SYS_LIMITS
            code, word = (nom.NOM_EVT_HI, "HIGH") if v.nibp[0] > high else (nom.NOM_EVT_LO, "LOW")
            if not low <= v.nibp[0] <= high:
                patient.append(_entry(nom.NOM_PRESS_BLD_NONINV_SYS, code, nom.MED_PRI_P_AL,
                                      0x0104, f"NBPs {word}"))
        if v.sensor_off:
            text = "SpO2 NO SENSOR" if Flag.NO_SENSOR in v.flags else "SpO2 SENSOR OFF"
            technical.append(_entry(nom.NOM_PULS_OXIM_SAT_O2, nom.NOM_EVT_SENSOR_DISCONN,
                                    nom.MED_PRI_T_AL, 0x0102, text))
        if v.hr is None:
            technical.append(_entry(nom.NOM_ECG_ELEC_POTL_II, nom.NOM_EVT_LEADS_OFF,
                                    nom.MED_PRI_T_AL, 0x0201, "LEADS OFF"))
        return patient, technical

    def _alarm_object(self) -> ObservationPoll:
        patient, technical = self._alarms()
        current = tuple(patient + technical)
        if current != self._alarm_last:
            self._alarm_last = current
            self._alarm_changes = (self._alarm_changes + 1) & 0xFFFF
        max_p = max((e.alarm_type for e in patient), default=nom.NO_ALERT)
        max_t = max((e.alarm_type for e in technical), default=nom.NO_ALERT)
        condition = DeviceAlertCondition(0, self._alarm_changes, max_p, max_t, max(max_p, max_t))
        return ObservationPoll(0x0001, (
            Ava(nom.NOM_ATTR_DEV_AL_COND, condition.serialize()),
            Ava(nom.NOM_ATTR_AL_MON_P_AL_LIST, serialize_alarm_list(patient)),
            Ava(nom.NOM_ATTR_AL_MON_T_AL_LIST, serialize_alarm_list(technical)),
        ))

    # -- waves ------------------------------------------------------------------------------

    def _wave_objects(self, request: PollRequest) -> tuple[ObservationPoll, ...]:
        out = []
        if nom.NLS_NOM_ECG_ELEC_POTL_II in self._waves:
            out.append(self._ecg_object())
        if nom.NLS_NOM_PULS_OXIM_PLETH in self._waves:
            out.append(self._pleth_object())
        return tuple(out)

    def _wave(self, handle: int, label: int, physio: int, rate: float, unit: int,
              spec: SaSpec, scale: ScaleRangeSpec, values: list[float | None],
              state: int) -> ObservationPoll:
        raw = [scale.lower_scaled if v is None else scale.scaled(v) for v in values]
        sa = SaObsValue(physio, state, spec.pack(raw))
        return ObservationPoll(handle, (
            Ava(nom.NOM_ATTR_ID_LABEL, u32(label)),
            Ava(nom.NOM_ATTR_SA_SPECN, spec.serialize()),
            Ava(nom.NOM_ATTR_SCALE_SPECN_I16, scale.serialize()),
            Ava(nom.NOM_ATTR_TIME_PD_SAMP, u32(round(nom.RELATIVE_TICKS_PER_S / rate))),
            Ava(nom.NOM_ATTR_UNIT_CODE, u16(unit)),
            Ava(nom.NOM_ATTR_SA_VAL_OBS, sa.serialize()),
        ))

    def _ecg_object(self) -> ObservationPoll:
        n = round(self.ecg_rate * WAVE_INTERVAL_S)
        real = self._recorded("ECG", n, self.ecg_rate)
        values: list[float | None] = list(self._ecg.next(n, self._vitals.hr)) \
            if real is None else real
        ok = real is not None or self._vitals.hr is not None
        spec = SaSpec(n, 16, 14, ECG_SPEC_FLAGS)
        return self._wave(0x0201, nom.NLS_NOM_ECG_ELEC_POTL_II, nom.NOM_ECG_ELEC_POTL_II,
                          self.ecg_rate, nom.NOM_DIM_MILLI_VOLT, spec, ECG_SCALE, values,
                          0 if ok else nom.MS_INVALID)

    def _pleth_object(self) -> ObservationPoll:
        n = round(self.pleth_rate * WAVE_INTERVAL_S)
        # The synth keeps running so the trace resumes in phase after a gap.
        values: list[float | None] = list(self._pleth.next(n, self._vitals.pr))
        ok = not self._vitals.sensor_off and self._vitals.pr is not None
        spec = SaSpec(n, 16, 12, nom.SA_SMOOTH_CURVE)
        return self._wave(0x0202, nom.NLS_NOM_PULS_OXIM_PLETH, nom.NOM_PLETH, self.pleth_rate,
                          nom.NOM_DIM_DIMLESS, spec, PLETH_SCALE, values,
                          0 if ok else nom.MS_INVALID)

    def _recorded(self, metric: str, n: int, rate: float) -> list[float | None] | None:
        """The next ``n`` samples of a recorded waveform, or None to synthesise."""
        if self.waveform_source is None or self.scenario_clock0 is None or self._now is None:
            return None
        # Sample indices, not times, so every chunk has exactly n samples and none repeat.
        k = self._wave_index.setdefault(
            metric, max(0, round((self._now - self.scenario_clock0) * rate)))
        values = self.waveform_source(metric, k / rate, (k + n) / rate, rate)
        if values is None or len(values) != n:
            return None
        self._wave_index[metric] = k + n
        return values


def _entry(source: int, code: int, alarm_type: int, handle: int, text: str) -> DevAlarmEntry:
    info = StrAlMonInfo(0, 0, 0, 0, text).serialize()
    return DevAlarmEntry(source, code, alarm_type, 0, nom.NOM_MOC_VMO_METRIC_NU, 0, handle,
                         nom.STR_ALMON_INFO, info)


def _server_info() -> MdseUserInfo:
    profile = PollProfileSupport.with_extensions(
        nom.POLL_EXT_PERIOD_NU_1SEC | nom.POLL_EXT_PERIOD_RTSA, min_poll_period=1000,
        max_mtu_rx=1000, max_mtu_tx=2500)
    return MdseUserInfo.with_profile(profile, system_type=nom.SYST_SERVER)
