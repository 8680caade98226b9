"""Host side of the IntelliVue Data Export interface: associate, poll, decode."""

from __future__ import annotations

import logging
from typing import Any

from drivers.base import HostCodec, SerialSettings
from drivers.intellivue import decode
from drivers.intellivue import nomenclature as nom
from drivers.intellivue.encoding import label_text, parse_u32, u32
from drivers.intellivue.frames import (
    SERIAL,
    ActionResult,
    Association,
    Ava,
    BadFrame,
    DataMessage,
    Deframer,
    Error,
    EventReport,
    EventReportResult,
    Invoke,
    LinkedResult,
    MdseUserInfo,
    PollProfileSupport,
    PollReply,
    PollRequest,
    Result,
    SessionPdu,
    SetArgument,
    SystemModel,
    find,
    parse_message,
    release_request,
    release_response,
    serialize_text_ids,
    to_frame,
)
from drivers.intellivue.values import AbsoluteTime
from monitor.domain.errors import FrameError
from monitor.domain.models import DeviceState, DeviceStatus, Flag, Observation, Waveform

_LOGGER = logging.getLogger(__name__)

KEEPALIVE_S = 5.0
"""Send a keep-alive poll when nothing was sent for this long. OpenICE sends one after 8 s
without sending or 4 s without receiving (``AbstractDemoIntellivue`` ``OUT_CONNECTION_ASSERT``,
``IN_CONNECTION_ASSERT``); the monitor drops an association whose host falls silent."""
ASSOCIATION_TIMEOUT_S = 10.0
"""Ask again when an association request has not led to the MDS create event by then."""
RETRY_S = 10.0
"""After :data:`QUICK_RETRIES` failed associations in a row, ask at most this often."""
QUICK_RETRIES = 3
"""Associations asked for at once after an abort, refuse or release by the monitor."""
STALL_S = 5.0
"""Re-issue a periodic poll that has given no reply for this long."""

_POLLS = {
    "numerics": (nom.NOM_MOC_VMO_METRIC_NU, 0),
    "waves": (nom.NOM_MOC_VMO_METRIC_SA_RT, 0),
    "alarms": (nom.NOM_MOC_VMO_AL_MON, nom.NOM_ATTR_GRP_AL_MON),
}
"""Periodic extended polls: kind -> (object class, attribute group)."""

_STATES = ("idle", "associating", "waiting_mds", "associated", "released")


class IntelliVueHostCodec(HostCodec):
    """Philips IntelliVue MP/MX series over MIB/RS232 Data Export (sans-I/O).

    Session: :meth:`start` queues the association request. The association result is
    answered by nothing: the monitor then sends its MDS create event report, which the
    codec confirms, then it sets the wave priority list (ECG II and pleth) and starts
    three *periodic* extended polls (``NOM_ATTR_TIME_PD_POLL``, as OpenICE polls): numerics
    (the monitor answers about once a second), waves (about every 256 ms) and alarms. A
    sans-I/O codec acts only when bytes arrive, so the monitor's own cadence is the
    clock; with it the codec renews each poll when its period ends or when it stalls
    (:data:`STALL_S`), and sends a keep-alive poll when it has sent nothing for
    :data:`KEEPALIVE_S`. An abort, refuse or release from the monitor is answered by a new
    association request (:data:`QUICK_RETRIES` at once, then every :data:`RETRY_S`, as data
    arrives). :meth:`close` queues the release request.

    Values: ECG ``HR``, ``SPO2``, pleth ``PR``, NIBP ``NIBP_SYS``/``_DIA``/``_MEAN`` (once per
    measurement, timed by the numeric's absolute time stamp), ``RR``, ``AWRR``, ``ETCO2``,
    ``FICO2`` (see :mod:`drivers.intellivue.decode` for invalid values); ``ECG`` (lead II,
    mV) and ``PLETH`` waveforms scaled by the monitor's scale and range. The monitor's
    alarms flag the observations: :attr:`Flag.DEVICE_ALARM` on every value while any alarm
    is active, :attr:`Flag.OUT_OF_LIMIT` on the value a patient alarm is about, sensor
    flags from INOPs; each change of the alarm list is also a ``DeviceStatus`` (``info``,
    ``device_alarms``).

    Times: with the host clock (``now``), a value arrives at ``now`` and one with a time
    stamp is as old as the monitor says (reply time minus time stamp), so the monitor's
    clock setting does not matter; wave chunks end on arrival. Without ``now`` the
    monitor's own times are used (its clock read as UTC).

    Bad FCS, bad escapes, truncated or malformed frames are counted in ``frames_bad``
    (and ``bytes_discarded``) and skipped; decoding resumes at the next ``C0``.

    Args:
        device_id: put on every event.
        waveforms: also poll the ECG and pleth waves.
        alarms: also poll the alarm monitor.
        poll_period: seconds each periodic poll runs before it is renewed (10..3600).
    """

    name = "intellivue"
    serial_settings = SerialSettings(**SERIAL)  # type: ignore[arg-type]

    def __init__(self, device_id: str = "device", waveforms: bool = True, alarms: bool = True,
                 poll_period: float = 60.0) -> None:
        super().__init__(device_id)
        if not 10.0 <= float(poll_period) <= 3600.0:
            raise ValueError(f"poll_period must be 10..3600 s, got {poll_period}")
        self.waveforms = bool(waveforms)
        self.alarms = bool(alarms)
        self.poll_period = float(poll_period)
        self.state = "idle"
        """One of ``idle``, ``associating``, ``waiting_mds``, ``associated``, ``released``."""
        self._deframer = Deframer()
        self._waves = decode.WaveDecoder()
        self._now: float | None = None
        self._invoke = 0
        self._poll_number = 0
        self._last_sent: float | None = None
        self._asked_at: float | None = None
        self._failures = 0
        self._polls: dict[str, _Poll] = {}
        self._base: tuple[float, int] | None = None  # (MDS absolute time, relative time)
        self._alarm_flags: dict[str, frozenset[str]] = {}
        self._alarming = False
        self._alarm_texts: tuple[str, ...] = ()
        self._nibp_last: tuple[Any, ...] | None = None
        self._error_last: tuple[int, int] | None = None

    # -- the five methods -------------------------------------------------------------------

    def start(self) -> None:
        """Queue the association request."""
        self._associate()

    def close(self) -> None:
        """Queue the release request (the port is about to close)."""
        if self.state in ("associating", "waiting_mds", "associated"):
            self._send_pdu(release_request())
        self.state = "released"
        self._polls.clear()

    def receive_eof(self) -> None:
        lost = self._deframer.eof()
        if lost is not None:
            self._bad_frame(lost.reason, lost.discarded)

    def _feed(self, data: bytes, now: float | None) -> None:
        if now is not None:
            self._now = now
        for item in self._deframer.feed(data):
            if isinstance(item, BadFrame):
                self._bad_frame(item.reason, item.discarded)
                continue
            try:
                events = self._message(item.user_data, now)
            except FrameError as exc:
                self._bad_frame(str(exc), len(item.user_data) + 8)
                continue
            self.frames_ok += 1
            for event in events:
                self._emit(event)
        if now is not None:
            self._tick(now)

    # -- sending ----------------------------------------------------------------------------

    def _send_pdu(self, message: SessionPdu | DataMessage | Association) -> None:
        self._send(to_frame(message))
        self._last_sent = self._now

    def _next_invoke(self) -> int:
        self._invoke = self._invoke % 0xFFFF + 1
        return self._invoke

    def _associate(self) -> None:
        profile = PollProfileSupport.with_extensions(
            nom.POLL_EXT_PERIOD_NU_1SEC | nom.POLL_EXT_PERIOD_RTSA)
        request = Association(nom.SI_CN, MdseUserInfo.with_profile(profile))
        self._send_pdu(request)
        self.state = "associating"
        self._asked_at = self._now
        self._polls.clear()

    def _poll(self, kind: str) -> None:
        obj_class, group = _POLLS[kind]
        self._poll_number = self._poll_number % 0xFFFF + 1
        period = round(self.poll_period * nom.RELATIVE_TICKS_PER_S)
        request = PollRequest(self._poll_number, obj_class, group, True,
                              (Ava(nom.NOM_ATTR_TIME_PD_POLL, u32(period)),))
        invoke = self._next_invoke()
        self._send_pdu(request.invoke(invoke))
        self._polls[kind] = _Poll(invoke, self._now)

    def _keepalive(self) -> None:
        # OpenICE's keep-alive: a single poll of the alarm monitor's static attributes.
        self._poll_number = self._poll_number % 0xFFFF + 1
        request = PollRequest(self._poll_number, nom.NOM_MOC_VMO_AL_MON,
                              nom.NOM_ATTR_GRP_VMO_STATIC, extended=False)
        self._send_pdu(request.invoke(self._next_invoke()))

    def _start_polls(self) -> None:
        if self.waveforms:
            labels = serialize_text_ids((nom.NLS_NOM_ECG_ELEC_POTL_II,
                                         nom.NLS_NOM_PULS_OXIM_PLETH))
            arg = SetArgument(((nom.MODIFY_REPLACE,
                                Ava(nom.NOM_ATTR_POLL_RTSA_PRIO_LIST, labels)),))
            invoke = Invoke(self._next_invoke(), nom.CMD_CONFIRMED_SET, arg.serialize())
            self._send_pdu(DataMessage(invoke))
        for kind in self._kinds():
            self._poll(kind)

    def _kinds(self) -> list[str]:
        return [k for k in _POLLS if (k != "waves" or self.waveforms)
                and (k != "alarms" or self.alarms)]

    def _tick(self, now: float) -> None:
        """Whatever is due now that bytes arrived: polls, keep-alive, re-association."""
        if self.state == "associated":
            for kind in self._kinds():
                poll = self._polls.get(kind)
                if poll is None or poll.due(now, self.poll_period):
                    self._poll(kind)
            if self._last_sent is None:
                self._last_sent = now
            elif now - self._last_sent >= KEEPALIVE_S:
                self._keepalive()
        elif self.state in ("associating", "waiting_mds", "idle"):
            if self._asked_at is None:
                self._asked_at = now
            wait = ASSOCIATION_TIMEOUT_S if self.state != "idle" else RETRY_S
            if now - self._asked_at >= wait:
                self._failures += 1
                self._associate()

    # -- messages in ------------------------------------------------------------------------

    def _message(self, user_data: bytes, now: float | None) -> list[Any]:
        """Decode one message; return its events (emitted only if all of it decoded)."""
        message = parse_message(user_data)
        if isinstance(message, SessionPdu):
            return self._session(message, now)
        apdu = message.apdu
        if isinstance(apdu, Invoke):
            return self._invoke_in(apdu, now)
        if isinstance(apdu, Result | LinkedResult):
            return self._result(apdu, now)
        return self._error(apdu, now)

    def _status(self, detail: str, now: float | None, **info: Any) -> DeviceStatus:
        when = now if now is not None else (self._base[0] if self._base else 0.0)
        return DeviceStatus(self.device_id, DeviceState.INFO, when, detail,
                            {"protocol": self.name, **info})

    def _session(self, pdu: SessionPdu, now: float | None) -> list[Any]:
        si = pdu.si
        if si == nom.SI_AC:
            if self.state in ("associating", "idle"):
                self.state = "waiting_mds"
            return [self._status("association accepted", now, association="accepted")]
        if si == nom.SI_DN:
            return [self._status("association released", now, association="released")]
        if si in (nom.SI_RF, nom.SI_AB, nom.SI_FN):
            what = {nom.SI_RF: "refused", nom.SI_AB: "aborted", nom.SI_FN: "released"}[si]
            if si == nom.SI_FN:
                self._send_pdu(release_response())
            self._lost_association()
            return [self._status(f"association {what} by the monitor", now, association=what)]
        return []  # a request from the other side: not a monitor's message

    def _lost_association(self) -> None:
        self._polls.clear()
        if self.state == "released":
            return
        self._failures += 1
        if self._failures <= QUICK_RETRIES:
            self._associate()
        else:
            self.state = "idle"

    def _invoke_in(self, invoke: Invoke, now: float | None) -> list[Any]:
        if invoke.command_type not in (nom.CMD_EVENT_REPORT, nom.CMD_CONFIRMED_EVENT_REPORT):
            return []
        report = EventReport.parse(invoke.argument)
        attributes = report.mds_attributes() if report.event_type == nom.NOM_NOTI_MDS_CREAT \
            else None
        if invoke.command_type == nom.CMD_CONFIRMED_EVENT_REPORT:
            # Every confirmed report is confirmed, or the monitor waits for it.
            answer = EventReportResult(report.event_type, report.event_time,
                                       report.managed_object)
            self._send_pdu(DataMessage(Result(invoke.invoke_id, nom.CMD_CONFIRMED_EVENT_REPORT,
                                              answer.serialize())))
        if attributes is None:
            return []
        events = [self._mds(attributes, now)]
        if self.state != "released":
            self.state = "associated"
            self._failures = 0
            self._start_polls()
        return events

    def _mds(self, attributes: tuple[Ava, ...], now: float | None) -> DeviceStatus:
        info: dict[str, Any] = {}
        model = find(attributes, nom.NOM_ATTR_ID_MODEL)
        if model is not None:
            system = SystemModel.parse(model)
            info["manufacturer"] = label_text(system.manufacturer)
            info["model"] = label_text(system.model)
        abs_time = find(attributes, nom.NOM_ATTR_TIME_ABS)
        rel_time = find(attributes, nom.NOM_ATTR_TIME_REL)
        if abs_time is not None and rel_time is not None:
            when = AbsoluteTime.parse(abs_time).posix()
            rel = parse_u32(rel_time, "relative time")
            if when is not None:
                self._base = (when, rel)
        return self._status("monitor connected", now, **info)

    def _result(self, apdu: Result | LinkedResult, now: float | None) -> list[Any]:
        if apdu.command_type != nom.CMD_CONFIRMED_ACTION:
            return []  # the set of the wave priority list, the MDS create answer...
        result = ActionResult.parse(apdu.result)
        if result.action_type not in (nom.NOM_ACT_POLL_MDIB_DATA,
                                      nom.NOM_ACT_POLL_MDIB_DATA_EXT):
            return []
        reply = PollReply.parse(result.data,
                                extended=result.action_type == nom.NOM_ACT_POLL_MDIB_DATA_EXT)
        for poll in self._polls.values():
            if poll.invoke == apdu.invoke_id:
                poll.replied = now
                # The last reply of a periodic poll is a plain result: renew it.
                poll.ended = isinstance(apdu, Result)
        return self._reply(reply, now)

    def _error(self, error: Error, now: float | None) -> list[Any]:
        for kind, poll in self._polls.items():
            if poll.invoke == error.invoke_id:
                poll.rejected = True
                _LOGGER.debug("%s: monitor rejected the %s poll", self.name, kind)
        key = (error.invoke_id, error.error_value)
        if key[1] == (self._error_last or (0, -1))[1]:
            return []
        self._error_last = key
        return [self._status(f"monitor reported error {error.error_value}", now,
                             remote_error=error.error_value)]

    # -- poll replies -----------------------------------------------------------------------

    def _device_time(self, reply: PollReply) -> float | None:
        """The monitor clock at the reply: its absolute time, else the MDS base plus the
        elapsed relative time ([VSCMP] ``GetAbsoluteTimeFromRelativeTimestamp``)."""
        when = AbsoluteTime(reply.abs_time).posix()
        if when is not None:
            return when
        if self._base is not None:
            base, rel = self._base
            return base + ((reply.rel_time - rel) & 0xFFFFFFFF) / nom.RELATIVE_TICKS_PER_S
        return None

    def _reply(self, reply: PollReply, now: float | None) -> list[Any]:
        device_now = self._device_time(reply)
        if now is not None:
            arrival = now
        elif device_now is not None:
            arrival = device_now
        else:
            arrival = reply.rel_time / nom.RELATIVE_TICKS_PER_S
        if reply.obj_class == nom.NOM_MOC_VMO_METRIC_NU:
            return self._numerics(decode.numerics(reply.objects), arrival, device_now, now)
        if reply.obj_class == nom.NOM_MOC_VMO_METRIC_SA_RT:
            return [Waveform(self.device_id, c.metric, arrival - len(c.samples) / c.sample_rate,
                             c.sample_rate, c.samples, c.unit, c.flags)
                    for c in self._waves.decode(reply.objects)]
        if reply.obj_class == nom.NOM_MOC_VMO_AL_MON:
            active = decode.alarms(reply.objects)
            return [] if active is None else self._alarm_update(active, arrival)
        return []

    def _numerics(self, values: list[decode.Numeric], arrival: float,
                  device_now: float | None, now: float | None) -> list[Any]:
        out: list[Any] = []
        nibp = [v for v in values if v.metric in decode.NIBP]
        for v in values:
            if v.metric not in decode.NIBP:
                out.append(self._observation(v, self._when(v, arrival, device_now, now)))
        if nibp:
            key = tuple((v.metric, v.value, v.measured) for v in nibp)
            if key != self._nibp_last:
                self._nibp_last = key
                out += [self._observation(v, self._when(v, arrival, device_now, now))
                        for v in nibp]
        return out

    @staticmethod
    def _when(v: decode.Numeric, arrival: float, device_now: float | None,
              now: float | None) -> float:
        if v.measured is None:
            return arrival
        if now is None:
            return v.measured
        if device_now is None:
            return arrival
        # As old as the monitor says: its clock setting (and time zone) cancels out.
        return now - max(0.0, device_now - v.measured)

    def _observation(self, v: decode.Numeric, when: float) -> Observation:
        flags = set(v.flags) | self._alarm_flags.get(v.metric, frozenset())
        if self._alarming:
            flags.add(Flag.DEVICE_ALARM)
        return Observation.of(v.metric, v.value, when, self.device_id, frozenset(flags))

    def _alarm_update(self, active: tuple[decode.Alarm, ...], when: float) -> list[Any]:
        self._alarm_flags = decode.alarm_flags(active)
        self._alarming = bool(active)
        texts = tuple(a.describe() for a in active)
        if texts == self._alarm_texts:
            return []
        self._alarm_texts = texts
        detail = "monitor alarms: " + "; ".join(texts) if texts else "monitor alarms cleared"
        return [self._status(detail, when, device_alarms=list(texts))]


class _Poll:
    """One periodic poll the host runs: when it was asked, when it last replied."""

    __slots__ = ("invoke", "asked", "replied", "ended", "rejected")

    def __init__(self, invoke: int, asked: float | None) -> None:
        self.invoke = invoke
        self.asked = asked
        self.replied: float | None = None
        self.ended = False
        self.rejected = False

    def due(self, now: float, period: float) -> bool:
        """Whether to ask again: it ended, its period is over, or it stalled."""
        if self.rejected:
            return False
        if self.asked is None:
            self.asked = now  # asked before the clock was known
            return False
        last = max(self.asked, self.replied or self.asked)
        return self.ended or now - self.asked >= period or now - last >= STALL_S
