"""Remote operations (ROSE) and commands (CMIP) of the IntelliVue Data Export protocol.

A data message is ``E1 00`` (session id), the presentation context id (``00 02``), then
one remote operation: ``ro_type`` (invoke 1, result 2, error 3, linked result 5) and its
length, then the APDU: invoke id, command type (event report 0, confirmed event report 1,
get 3, set 4, confirmed set 5, confirmed action 7) and the command's argument or result
([VSCMP] ``Class2.cs`` ``mds_create_resp_msg``, ``poll_request_msg``...; ``Class3.cs``
``ProcessPacket``, ``ParseMDSCreateEventReport``, ``SendRTSAPriorityMessage``; [MDPNP]
``dataexport/``). The commands this driver needs: actions (polls), event reports (the
MDS create event) and their results, and the confirmed set of the wave priority list.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.intellivue import nomenclature as nom
from drivers.intellivue.encoding import (
    Ava,
    Reader,
    counted,
    parse_attributes,
    read_counted,
    serialize_attributes,
    sized,
    u16,
    u32,
)
from monitor.domain.errors import FrameError


@dataclass(frozen=True, slots=True)
class Invoke:
    """ROIV: a request (or the monitor's event report). ``argument`` is the command's."""

    invoke_id: int
    command_type: int
    argument: bytes

    def serialize(self) -> bytes:
        """The APDU after ``ro_type`` and its length."""
        return u16(self.invoke_id) + u16(self.command_type) + sized(self.argument)


@dataclass(frozen=True, slots=True)
class Result:
    """RORS: the (last) result of an invoke."""

    invoke_id: int
    command_type: int
    result: bytes

    def serialize(self) -> bytes:
        """The APDU after ``ro_type`` and its length."""
        return u16(self.invoke_id) + u16(self.command_type) + sized(self.result)


@dataclass(frozen=True, slots=True)
class Error:
    """ROER: the invoke failed with ``error_value`` (``ERR_*``)."""

    invoke_id: int
    error_value: int
    parameter: bytes = b""

    def serialize(self) -> bytes:
        """The APDU after ``ro_type`` and its length."""
        return u16(self.invoke_id) + u16(self.error_value) + sized(self.parameter)


@dataclass(frozen=True, slots=True)
class LinkedResult:
    """RORLS: one of several results of one invoke (``state`` ``RORLS_*``, ``count``)."""

    state: int
    count: int
    invoke_id: int
    command_type: int
    result: bytes

    def serialize(self) -> bytes:
        """The APDU after ``ro_type`` and its length."""
        return (bytes((self.state, self.count)) + u16(self.invoke_id) + u16(self.command_type)
                + sized(self.result))


Apdu = Invoke | Result | Error | LinkedResult

_RO_TYPES: dict[type[Apdu], int] = {Invoke: nom.ROIV_APDU, Result: nom.RORS_APDU,
                                    Error: nom.ROER_APDU, LinkedResult: nom.RORLS_APDU}


def _read_apdu(ro_type: int, r: Reader) -> Apdu:
    if ro_type == nom.RORLS_APDU:
        state, count = r.u8(), r.u8()
        return LinkedResult(state, count, r.u16(), r.u16(), r.sized())
    if ro_type == nom.ROIV_APDU:
        return Invoke(r.u16(), r.u16(), r.sized())
    if ro_type == nom.RORS_APDU:
        return Result(r.u16(), r.u16(), r.sized())
    if ro_type == nom.ROER_APDU:
        return Error(r.u16(), r.u16(), r.sized())
    raise FrameError(f"unknown remote operation type {ro_type}")


@dataclass(frozen=True, slots=True)
class DataMessage:
    """A data SPDU (``E1 00``, context id) holding one remote operation."""

    apdu: Apdu
    session_id: int = nom.DATA_SESSION_ID
    context_id: int = nom.DATA_CONTEXT_ID

    def serialize(self) -> bytes:
        """The message bytes (the user data of a serial frame)."""
        return (u16(self.session_id) + u16(self.context_id) + u16(_RO_TYPES[type(self.apdu)])
                + sized(self.apdu.serialize()))

    @classmethod
    def parse(cls, data: bytes) -> DataMessage:
        """Parse a data message.

        Raises:
            FrameError: not a data SPDU, or lengths that disagree.
        """
        r = Reader(data, "data message")
        session_id, context_id, ro_type = r.u16(), r.u16(), r.u16()
        if session_id >> 8 != nom.SI_DA:
            raise FrameError(f"session id {session_id:04X} is not a data SPDU")
        body = Reader(r.sized(), "remote operation")
        r.end()
        apdu = _read_apdu(ro_type, body)
        body.end()
        return cls(apdu, session_id, context_id)


# -- commands ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManagedObject:
    """``ManagedObjectId``: object class, MDS context and handle (6 bytes)."""

    obj_class: int = nom.NOM_MOC_VMS_MDS
    context: int = 0
    handle: int = 0

    @classmethod
    def read(cls, r: Reader) -> ManagedObject:
        """Read one from ``r``."""
        return cls(r.u16(), r.u16(), r.u16())

    def serialize(self) -> bytes:
        """The 6 bytes."""
        return u16(self.obj_class) + u16(self.context) + u16(self.handle)


@dataclass(frozen=True, slots=True)
class ActionArgument:
    """ROIV ``CMD_CONFIRMED_ACTION`` argument: the object, scope and action."""

    action_type: int
    data: bytes
    managed_object: ManagedObject = ManagedObject()
    scope: int = 0

    @classmethod
    def parse(cls, data: bytes) -> ActionArgument:
        """Parse the invoke argument.

        Raises:
            FrameError: lengths that disagree.
        """
        r = Reader(data, "action argument")
        obj, scope, action = ManagedObject.read(r), r.u32(), r.u16()
        out = cls(action, r.sized(), obj, scope)
        r.end()
        return out

    def serialize(self) -> bytes:
        """The invoke argument."""
        return (self.managed_object.serialize() + u32(self.scope) + u16(self.action_type)
                + sized(self.data))


@dataclass(frozen=True, slots=True)
class ActionResult:
    """RORS/RORLS ``CMD_CONFIRMED_ACTION`` result: the object and the action's reply."""

    action_type: int
    data: bytes
    managed_object: ManagedObject = ManagedObject()

    @classmethod
    def parse(cls, data: bytes) -> ActionResult:
        """Parse the result.

        Raises:
            FrameError: lengths that disagree.
        """
        r = Reader(data, "action result")
        obj, action = ManagedObject.read(r), r.u16()
        out = cls(action, r.sized(), obj)
        r.end()
        return out

    def serialize(self) -> bytes:
        """The result bytes."""
        return self.managed_object.serialize() + u16(self.action_type) + sized(self.data)


@dataclass(frozen=True, slots=True)
class EventReport:
    """ROIV ``CMD_(CONFIRMED_)EVENT_REPORT`` argument; for ``NOM_NOTI_MDS_CREAT`` the info
    is the MDS object id (6 bytes) followed by its attribute list."""

    event_type: int
    info: bytes
    event_time: int = 0
    managed_object: ManagedObject = ManagedObject()

    @classmethod
    def parse(cls, data: bytes) -> EventReport:
        """Parse the invoke argument.

        Raises:
            FrameError: lengths that disagree.
        """
        r = Reader(data, "event report")
        obj, event_time, event_type = ManagedObject.read(r), r.u32(), r.u16()
        out = cls(event_type, r.sized(), event_time, obj)
        r.end()
        return out

    def serialize(self) -> bytes:
        """The invoke argument."""
        return (self.managed_object.serialize() + u32(self.event_time) + u16(self.event_type)
                + sized(self.info))

    @classmethod
    def mds_create(cls, attributes: tuple[Ava, ...], event_time: int = 0,
                   mds: ManagedObject = ManagedObject()) -> EventReport:
        """The MDS create event report with the MDS attributes."""
        info = mds.serialize() + serialize_attributes(attributes)
        return cls(nom.NOM_NOTI_MDS_CREAT, info, event_time, mds)

    def mds_attributes(self) -> tuple[Ava, ...]:
        """The attributes of an MDS create event.

        Raises:
            FrameError: not an MDS create event, or a malformed attribute list.
        """
        if self.event_type != nom.NOM_NOTI_MDS_CREAT:
            raise FrameError(f"event {self.event_type} is not the MDS create event")
        r = Reader(self.info, "MDS create info")
        ManagedObject.read(r)
        avas = parse_attributes(r)
        r.end()
        return avas


@dataclass(frozen=True, slots=True)
class EventReportResult:
    """RORS ``CMD_CONFIRMED_EVENT_REPORT``: the host's answer to an event report."""

    event_type: int
    current_time: int = 0
    managed_object: ManagedObject = ManagedObject()
    info: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> EventReportResult:
        """Parse the result.

        Raises:
            FrameError: lengths that disagree.
        """
        r = Reader(data, "event report result")
        obj, current, event_type = ManagedObject.read(r), r.u32(), r.u16()
        out = cls(event_type, current, obj, r.sized())
        r.end()
        return out

    def serialize(self) -> bytes:
        """The result bytes."""
        return (self.managed_object.serialize() + u32(self.current_time)
                + u16(self.event_type) + sized(self.info))


@dataclass(frozen=True, slots=True)
class SetArgument:
    """ROIV ``CMD_CONFIRMED_SET`` argument: ``(modify operator, attribute)`` pairs."""

    modifications: tuple[tuple[int, Ava], ...]
    managed_object: ManagedObject = ManagedObject()
    scope: int = 0

    @classmethod
    def parse(cls, data: bytes) -> SetArgument:
        """Parse the invoke argument.

        Raises:
            FrameError: counts or lengths that disagree.
        """
        r = Reader(data, "set argument")
        obj, scope = ManagedObject.read(r), r.u32()
        count, body = read_counted(r, "modification list")
        mods = tuple((body.u16(), Ava(body.u16(), body.sized())) for _ in range(count))
        body.end()
        r.end()
        return cls(mods, obj, scope)

    def serialize(self) -> bytes:
        """The invoke argument."""
        items = [u16(op) + ava.serialize() for op, ava in self.modifications]
        return self.managed_object.serialize() + u32(self.scope) + counted(items)


@dataclass(frozen=True, slots=True)
class SetResult:
    """RORS ``CMD_CONFIRMED_SET``: the object and the attributes as now set."""

    attributes: tuple[Ava, ...]
    managed_object: ManagedObject = ManagedObject()

    @classmethod
    def parse(cls, data: bytes) -> SetResult:
        """Parse the result.

        Raises:
            FrameError: counts or lengths that disagree.
        """
        r = Reader(data, "set result")
        obj = ManagedObject.read(r)
        out = cls(parse_attributes(r), obj)
        r.end()
        return out

    def serialize(self) -> bytes:
        """The result bytes."""
        return self.managed_object.serialize() + serialize_attributes(self.attributes)
