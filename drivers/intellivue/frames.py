"""Wire format of the IntelliVue MIB/RS232 Data Export interface, shared by the driver and
its simulator: every layer with ``parse`` and ``serialize`` as exact inverses.

Layers, outside in (each in its own module, all re-exported here):

1. **Serial frame** (:mod:`drivers.intellivue.serial`): ``C0`` + escaped(``11 01`` +
   length + user data + FCS-16) + ``C1``; :class:`Deframer` splits a byte stream.
2. **Session** (:mod:`drivers.intellivue.session`): association request, result,
   refuse, release request and response, abort; :class:`Association` carries the
   ``MDSEUserInfoStd`` with the poll profile.
3. **Remote operations and commands** (:mod:`drivers.intellivue.rose`): data messages
   ``E1 00 00 02`` holding an invoke, result, error or linked result, whose argument is an
   action (poll), event report (the MDS create event), set (wave priority list) or their
   results.
4. **Polls** (:mod:`drivers.intellivue.polls`): single and extended poll requests and
   replies, the replies' objects carrying attribute lists.
5. **Attribute values** (:mod:`drivers.intellivue.values`,
   :mod:`drivers.intellivue.attributes`): FLOAT-Type, numerics, absolute time, sample
   arrays and their scale, alarm lists.

Sources: the open implementations VSCaptureMP (xeonfusion) and OpenICE (mdpnp), which
follow the Philips "Data Export Interface Programming Guide"; the file of each structure
is named in the module that encodes it, and in :mod:`drivers.intellivue.nomenclature`.
"""

from __future__ import annotations

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.attributes import (
    DevAlarmEntry,
    DeviceAlertCondition,
    SaObsValue,
    SaSpec,
    ScaleRangeSpec,
    StrAlMonInfo,
    SystemModel,
    parse_alarm_list,
    parse_compound_samples,
    parse_text_ids,
    serialize_alarm_list,
    serialize_text_ids,
)
from drivers.intellivue.encoding import Ava, find, parse_string, serialize_string
from drivers.intellivue.polls import ObservationPoll, PollReply, PollRequest
from drivers.intellivue.rose import (
    ActionArgument,
    ActionResult,
    Apdu,
    DataMessage,
    Error,
    EventReport,
    EventReportResult,
    Invoke,
    LinkedResult,
    ManagedObject,
    Result,
    SetArgument,
    SetResult,
)
from drivers.intellivue.serial import (
    SERIAL,
    BadFrame,
    Deframer,
    SerialFrame,
    escape,
    fcs16,
    fcs_bytes,
    unescape,
)
from drivers.intellivue.session import (
    Association,
    MdseUserInfo,
    PollProfileSupport,
    SessionPdu,
    abort,
    parse_session_pdu,
    refuse,
    release_request,
    release_response,
)
from drivers.intellivue.values import (
    AbsoluteTime,
    Float,
    NuObsValue,
    parse_compound_numeric,
    serialize_compound_numeric,
)
from monitor.domain.errors import FrameError

__all__ = [
    "SERIAL", "AbsoluteTime", "ActionArgument", "ActionResult", "Apdu", "Association",
    "Ava", "BadFrame", "DataMessage", "Deframer", "DevAlarmEntry", "DeviceAlertCondition",
    "Error", "EventReport", "EventReportResult", "Float", "Invoke", "LinkedResult",
    "ManagedObject", "MdseUserInfo", "NuObsValue", "ObservationPoll", "PollProfileSupport",
    "PollReply", "PollRequest", "Result", "SaObsValue", "SaSpec", "ScaleRangeSpec",
    "SerialFrame", "SessionPdu", "SetArgument", "SetResult", "StrAlMonInfo", "SystemModel",
    "abort", "escape", "fcs16", "fcs_bytes", "find", "parse_alarm_list",
    "parse_compound_numeric", "parse_compound_samples", "parse_message", "parse_session_pdu",
    "parse_string", "parse_text_ids", "refuse", "release_request", "release_response",
    "serialize_alarm_list", "serialize_compound_numeric", "serialize_string",
    "serialize_text_ids", "to_frame", "unescape",
]

Message = SessionPdu | DataMessage
"""What the user data of a serial frame holds."""


def parse_message(user_data: bytes) -> Message:
    """The session message in a serial frame's user data: a data message (``E1``) or an
    association message.

    Raises:
        FrameError: an unknown session id or a malformed message.
    """
    if not user_data:
        raise FrameError("empty user data")
    if user_data[0] == nom.SI_DA:
        return DataMessage.parse(user_data)
    return parse_session_pdu(user_data)


def to_frame(message: Message | Association) -> bytes:
    """The serial frame bytes that carry ``message``."""
    return SerialFrame(message.serialize()).serialize()
