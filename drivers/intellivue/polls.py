"""Polls of the IntelliVue Data Export protocol: requests and replies.

A poll is a confirmed action on the MDS: ``NOM_ACT_POLL_MDIB_DATA`` (single) or
``NOM_ACT_POLL_MDIB_DATA_EXT`` (extended), asking for every object of one class
(numerics, real-time sample arrays, the alarm monitor). An extended poll may carry
``NOM_ATTR_TIME_PD_POLL``: the monitor then keeps sending replies, as linked results, for
that period, which is how OpenICE polls continuously ([MDPNP] ``Intellivue.java``
``requestExtendedPoll``, ``AbstractDemoIntellivue.java`` ``CONTINUOUS_POLL_INTERVAL``;
[VSCMP] ``Class2.cs`` ``ext_poll_request_msg5``, ``ext_poll_request_wave_msg``,
``ext_poll_request_alert_msg``).

A reply holds the poll number, the monitor's relative and absolute time, the polled
class and a list of ``SingleContextPoll`` entries, each a list of objects (handle and
attribute list) ([VSCMP] ``Class3.cs`` ``PollPacketDecoder``, ``GetPacketTimestamp``,
``DecodePollObjects``, ``DecodeSingleContextPollObjects``, ``DecodeObservationPollObjects``).
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
    u16,
    u32,
)
from drivers.intellivue.rose import (
    ActionArgument,
    ActionResult,
    Apdu,
    DataMessage,
    Invoke,
    LinkedResult,
    Result,
)


@dataclass(frozen=True, slots=True)
class PollRequest:
    """``PollMdibDataReq`` (single) or ``PollMdibDataReqExt`` (extended) action data.

    Attributes:
        poll_number: chosen by the host, echoed in the reply.
        obj_class: ``NOM_MOC_VMO_METRIC_NU``, ``NOM_MOC_VMO_METRIC_SA_RT``,
            ``NOM_MOC_VMO_AL_MON``... (partition ``NOM_PART_OBJ``).
        attr_group: ``NOM_ATTR_GRP_*``, 0 for all attributes.
        extended: an extended poll; only those carry ``attributes``.
        attributes: extended poll options, e.g. ``NOM_ATTR_TIME_PD_POLL``.
        partition: of ``obj_class``.
    """

    poll_number: int
    obj_class: int
    attr_group: int = 0
    extended: bool = True
    attributes: tuple[Ava, ...] = ()
    partition: int = nom.NOM_PART_OBJ

    @property
    def action_type(self) -> int:
        """``NOM_ACT_POLL_MDIB_DATA_EXT`` or ``NOM_ACT_POLL_MDIB_DATA``."""
        return nom.NOM_ACT_POLL_MDIB_DATA_EXT if self.extended else nom.NOM_ACT_POLL_MDIB_DATA

    @property
    def period_ticks(self) -> int | None:
        """``NOM_ATTR_TIME_PD_POLL`` in 1/8 ms, or None when the poll is not periodic."""
        for a in self.attributes:
            if a.attribute_id == nom.NOM_ATTR_TIME_PD_POLL and len(a.value) == 4:
                return int.from_bytes(a.value, "big")
        return None

    @classmethod
    def parse(cls, data: bytes, extended: bool) -> PollRequest:
        """Parse the action data.

        Raises:
            FrameError: lengths that disagree.
        """
        r = Reader(data, "poll request")
        number, partition, code, group = r.u16(), r.u16(), r.u16(), r.u16()
        attrs = parse_attributes(r) if extended else ()
        r.end()
        return cls(number, code, group, extended, attrs, partition)

    def serialize(self) -> bytes:
        """The action data."""
        out = u16(self.poll_number) + u16(self.partition) + u16(self.obj_class)
        out += u16(self.attr_group)
        if self.extended:
            out += serialize_attributes(self.attributes)
        elif self.attributes:
            raise ValueError("only an extended poll carries attributes")
        return out

    def invoke(self, invoke_id: int) -> DataMessage:
        """The data message that sends this poll to the monitor's MDS."""
        arg = ActionArgument(self.action_type, self.serialize())
        return DataMessage(Invoke(invoke_id, nom.CMD_CONFIRMED_ACTION, arg.serialize()))


@dataclass(frozen=True, slots=True)
class ObservationPoll:
    """One object of a poll reply: its handle and attributes."""

    handle: int
    attributes: tuple[Ava, ...]

    def serialize(self) -> bytes:
        """The encoded object."""
        return u16(self.handle) + serialize_attributes(self.attributes)


@dataclass(frozen=True, slots=True)
class PollReply:
    """``PollMdibDataReply`` (single) or ``PollMdibDataReplyExt`` (extended).

    Attributes:
        poll_number: echoed from the request.
        rel_time: monitor relative time of the data (1/8 ms ticks).
        abs_time: monitor date and time, 8 BCD bytes (all ``FF``: unknown).
        obj_class: the polled object class.
        contexts: ``(MDS context id, objects)`` pairs (``SingleContextPoll``).
        attr_group: the polled attribute group.
        extended: an extended reply; only those carry ``sequence_no``.
        sequence_no: counts the replies of one extended poll.
        partition: of ``obj_class``.
    """

    poll_number: int
    rel_time: int
    abs_time: bytes
    obj_class: int
    contexts: tuple[tuple[int, tuple[ObservationPoll, ...]], ...]
    attr_group: int = 0
    extended: bool = True
    sequence_no: int = 0
    partition: int = nom.NOM_PART_OBJ

    @property
    def action_type(self) -> int:
        """``NOM_ACT_POLL_MDIB_DATA_EXT`` or ``NOM_ACT_POLL_MDIB_DATA``."""
        return nom.NOM_ACT_POLL_MDIB_DATA_EXT if self.extended else nom.NOM_ACT_POLL_MDIB_DATA

    @property
    def objects(self) -> list[ObservationPoll]:
        """Every object of every context."""
        return [o for _, objs in self.contexts for o in objs]

    @classmethod
    def parse(cls, data: bytes, extended: bool) -> PollReply:
        """Parse the action reply.

        Raises:
            FrameError: counts or lengths that disagree.
        """
        r = Reader(data, "poll reply")
        number = r.u16()
        seq = r.u16() if extended else 0
        rel, abs_time = r.u32(), r.take(8)
        partition, code, group = r.u16(), r.u16(), r.u16()
        count, body = read_counted(r, "poll info list")
        contexts = []
        for _ in range(count):
            context_id = body.u16()
            n_obj, objs = read_counted(body, "single context poll")
            polls = tuple(ObservationPoll(objs.u16(), parse_attributes(objs))
                          for _ in range(n_obj))
            objs.end()
            contexts.append((context_id, polls))
        body.end()
        r.end()
        return cls(number, rel, abs_time, code, tuple(contexts), group, extended, seq, partition)

    def serialize(self) -> bytes:
        """The action reply."""
        if len(self.abs_time) != 8:
            raise ValueError("abs_time must be 8 bytes")
        out = u16(self.poll_number)
        if self.extended:
            out += u16(self.sequence_no)
        out += u32(self.rel_time) + self.abs_time
        out += u16(self.partition) + u16(self.obj_class) + u16(self.attr_group)
        items = [u16(cid) + counted([o.serialize() for o in objs]) for cid, objs in self.contexts]
        return out + counted(items)

    def result(self, invoke_id: int, linked: tuple[int, int] | None = None) -> DataMessage:
        """The data message carrying this reply: a RORS, or a RORLS with ``(state, count)``."""
        res = ActionResult(self.action_type, self.serialize()).serialize()
        apdu: Apdu
        if linked is None:
            apdu = Result(invoke_id, nom.CMD_CONFIRMED_ACTION, res)
        else:
            apdu = LinkedResult(linked[0], linked[1], invoke_id, nom.CMD_CONFIRMED_ACTION, res)
        return DataMessage(apdu)
