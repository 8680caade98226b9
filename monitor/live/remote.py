"""Other servers' beds, as this server shows them (several servers on one database).

Each bed has one owner: the server whose unit file names it, whose board builds its picture
(:mod:`monitor.live.board`). The owner sends its live messages to the other servers
(:mod:`monitor.live.cluster`); here they are folded into the same JSON form the owner's
``/api/beds`` has, and go out again as this server's :class:`~monitor.live.views.BedDelta`,
so screens cannot tell a remote bed from a local one. Pure: no I/O, no clock.

A server that is no longer heard gives each of its beds a bed-level technical alarm,
``SERVER_LOST``, and its devices show ``stale``: nobody here knows what that bed looks like
now. It ends when the server is heard again (its fresh picture follows).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.domain.models import AlarmEvent
from monitor.live.views import AlarmView, BedDelta, DeviceView, sort_alarms, worst_state

_LOGGER = logging.getLogger(__name__)

SERVER_LOST = "SERVER_LOST"
"""The rule id of the technical condition on the beds of a server that is not heard."""

_FULL_FIELDS = ("label", "devices", "latest", "alarms")
"""A ``bed`` message with these is a whole bed (else only the fields that changed)."""


@dataclass(frozen=True, slots=True)
class RemoteUpdate:
    """Live messages of another server's beds (``vitals``, ``device``, ``alarm``, ``bed``),
    in the order its board made them.

    Attributes:
        server: the owner.
        messages: the live-stream messages, as the owner sent them.
        beds: the owner's beds now, in its order, when known (beds missing are dropped).
    """

    server: str
    messages: tuple[Mapping[str, Any], ...] = ()
    beds: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ServerHeard:
    """Another server went silent (``lost``) or was heard again.

    Attributes:
        server: which.
        lost: True when it is no longer heard, False when it is heard again.
        time: POSIX seconds.
        message: for the nurse (the technical alarm's text).
    """

    server: str
    lost: bool
    time: float
    message: str = ""


@dataclass(frozen=True, slots=True)
class ConditionAcknowledged:
    """A nurse acknowledged a ``SERVER_LOST`` alarm (on this server or another one)."""

    alarm_id: str
    user: str
    time: float


REMOTE_EVENTS = (RemoteUpdate, ServerHeard, ConditionAcknowledged)
"""What :class:`RemoteBeds` folds."""


def is_whole_bed(bed: Mapping[str, Any]) -> bool:
    """True when a ``bed`` message carries the whole bed, not only changed fields."""
    return isinstance(bed.get("id"), str) and all(k in bed for k in _FULL_FIELDS)


def alarm_view(d: Mapping[str, Any]) -> AlarmView:
    """An alarm in its JSON form (as another server sent it) as a view."""
    values: dict[str, Any] = {name: d.get(name) for name in AlarmView.__slots__}
    values["onset"] = float(d.get("onset") or 0.0)
    return AlarmView(**values)


@dataclass(slots=True)
class _Bed:
    server: str
    data: dict[str, Any]
    lost_alarm: AlarmView | None = None


@dataclass(slots=True)
class _Server:
    beds: list[str] = field(default_factory=list)
    lost: ServerHeard | None = None


class RemoteBeds:
    """The beds of the other servers, folded from their messages.

    Args:
        local: this server's beds (another server naming one of them is ignored, and
            logged once).
    """

    def __init__(self, local: Iterable[str]) -> None:
        self._local = set(local)
        self._beds: dict[str, _Bed] = {}
        self._servers: dict[str, _Server] = {}
        self._clashes: set[tuple[str, str]] = set()

    # -- folding ----------------------------------------------------------------------------

    def fold(self, event: object) -> list[BedDelta]:
        """Apply one of :data:`REMOTE_EVENTS`; return the deltas for this server's screens."""
        if isinstance(event, RemoteUpdate):
            return self._update(event)
        if isinstance(event, ServerHeard):
            return self._heard(event)
        if isinstance(event, ConditionAcknowledged):
            return self.acknowledge_condition(event.alarm_id, event.user, event.time)[1]
        return []

    def _update(self, update: RemoteUpdate) -> list[BedDelta]:
        server = self._servers.setdefault(update.server, _Server())
        deltas: list[BedDelta] = []
        for message in update.messages:
            deltas += self._message(update.server, message)
        if update.beds is not None:
            listed = [b for b in update.beds if self._owned(update.server, b)]
            for gone in set(server.beds) - set(listed):
                if self._beds.get(gone) is not None and self._beds[gone].server == update.server:
                    del self._beds[gone]
            server.beds = listed
        return deltas

    def _owned(self, server: str, bed_id: str) -> bool:
        if bed_id not in self._local:
            return True
        if (server, bed_id) not in self._clashes:
            self._clashes.add((server, bed_id))
            _LOGGER.error("server %s also serves bed %s: this server's bed is shown, not "
                          "that one (give every bed one server)", server, bed_id)
        return False

    def _message(self, server: str, message: Mapping[str, Any]) -> list[BedDelta]:
        kind = message.get("type")
        if kind == "bed":
            return self._bed_message(server, message.get("bed") or {})
        bed_id = message.get("bed_id")
        bed = self._beds.get(bed_id) if isinstance(bed_id, str) else None
        if bed is None or bed.server != server:
            return []  # not whole yet: its server sends the whole bed when asked
        data = bed.data
        if kind == "vitals":
            latest = data.setdefault("latest", {})
            for metric, value in (message.get("values") or {}).items():
                previous = latest.get(metric)
                if previous is None or previous.get("time", 0) <= value.get("time", 0):
                    latest[metric] = value
        elif kind == "device":
            device = message.get("device")
            if isinstance(device, Mapping):
                data["devices"] = _with_device(data.get("devices", []), dict(device))
            data["connection"] = message.get("connection", data.get("connection"))
        elif kind == "alarm":
            data["alarms"] = list(message.get("alarms") or [])
            data["audio_paused_until"] = message.get("audio_paused_until")
        else:
            return []
        body = {k: v for k, v in message.items() if k != "type"}
        return [BedDelta(str(kind), bed.data["id"], body)]

    def _bed_message(self, server: str, fields: Mapping[str, Any]) -> list[BedDelta]:
        bed_id = fields.get("id")
        if not isinstance(bed_id, str) or not self._owned(server, bed_id):
            return []
        bed = self._beds.get(bed_id)
        if bed is None or bed.server != server:
            if not is_whole_bed(fields):
                return []
            if bed is not None:
                _LOGGER.warning("bed %s moved from server %s to %s", bed_id, bed.server, server)
            bed = self._beds[bed_id] = _Bed(server, {})
            owner = self._servers.setdefault(server, _Server())
            if bed_id not in owner.beds:
                owner.beds.append(bed_id)
        merged = {**bed.data, **copy.deepcopy(dict(fields))}
        if merged == bed.data:
            return []  # a periodic whole picture that changes nothing here
        bed.data = merged
        if bed.lost_alarm is not None:
            return [BedDelta("bed", bed_id, {"bed": self.bed(bed_id)})]
        return [BedDelta("bed", bed_id, {"bed": dict(fields)})]

    def _heard(self, event: ServerHeard) -> list[BedDelta]:
        server = self._servers.setdefault(event.server, _Server())
        if event.lost == (server.lost is not None):
            return []
        server.lost = event if event.lost else None
        deltas: list[BedDelta] = []
        for bed_id in server.beds:
            bed = self._beds.get(bed_id)
            if bed is None or bed.server != event.server:
                continue
            if event.lost:
                bed.lost_alarm = _lost_alarm(bed_id, event)
                record = _record(bed.lost_alarm, "onset", event.time)
            else:
                ended, bed.lost_alarm = bed.lost_alarm, None
                if ended is None:
                    continue
                record = _record(ended, "end", event.time, reason="server heard again")
            deltas += self._alarm_deltas(bed_id, record)
            view = self.bed(bed_id)
            deltas.append(BedDelta("bed", bed_id, {"bed": {
                "id": bed_id, "devices": view["devices"], "connection": view["connection"]}}))
        return deltas

    def _alarm_deltas(self, bed_id: str, record: AlarmEvent) -> list[BedDelta]:
        view = self.bed(bed_id)
        return [BedDelta("alarm", bed_id, {
            "bed_id": bed_id, "event": record.to_dict(), "alarms": view["alarms"],
            "audio_paused_until": view.get("audio_paused_until")})]

    def acknowledge_condition(self, alarm_id: str, user: str, at: float
                              ) -> tuple[dict[str, Any] | None, list[BedDelta]]:
        """Acknowledge a ``SERVER_LOST`` alarm: the alarm as it now is (None when there is
        no such alarm, or it was acknowledged already) and the deltas."""
        for bed_id, bed in self._beds.items():
            alarm = bed.lost_alarm
            if alarm is None or alarm.alarm_id != alarm_id:
                continue
            if alarm.acknowledged:
                return alarm.to_dict(), []
            bed.lost_alarm = alarm_view({**alarm.to_dict(), "acknowledged": True,
                                         "acked_by": user, "acked_at": at})
            return bed.lost_alarm.to_dict(), self._alarm_deltas(
                bed_id, _record(bed.lost_alarm, "acknowledged", at, user=user))
        return None, []

    # -- reading ----------------------------------------------------------------------------

    def owner(self, bed_id: str) -> str | None:
        """The server of a remote bed (None: not a bed of another server)."""
        bed = self._beds.get(bed_id)
        return None if bed is None else bed.server

    def server_lost(self, server: str) -> bool:
        """True while ``server`` is not heard."""
        known = self._servers.get(server)
        return known is not None and known.lost is not None

    def alarm_bed(self, alarm_id: str) -> str | None:
        """The remote bed with this active alarm (None: no remote bed has it)."""
        for bed_id, bed in self._beds.items():
            if bed.lost_alarm is not None and bed.lost_alarm.alarm_id == alarm_id:
                return bed_id
            if any(a.get("alarm_id") == alarm_id for a in bed.data.get("alarms", [])):
                return bed_id
        return None

    def is_condition(self, alarm_id: str) -> bool:
        """True for a ``SERVER_LOST`` alarm (this server's own, never forwarded)."""
        return any(b.lost_alarm is not None and b.lost_alarm.alarm_id == alarm_id
                   for b in self._beds.values())

    def bed(self, bed_id: str) -> dict[str, Any]:
        """A remote bed as ``/api/beds`` shows it.

        Raises:
            KeyError: no such remote bed.
        """
        bed = self._beds[bed_id]
        view = copy.deepcopy(bed.data)
        if bed.lost_alarm is not None:
            lost = bed.lost_alarm
            view["alarms"] = [a.to_dict() for a in sort_alarms(
                [lost, *(alarm_view(a) for a in view.get("alarms", []))])]
            view["devices"] = [
                d if d.get("state") == "disconnected" else
                {**d, "state": "stale", "since": lost.onset, "detail": lost.message}
                for d in view.get("devices", [])]
            view["connection"] = worst_state(
                DeviceView(d.get("id", ""), d.get("protocol", ""), d.get("port", ""),
                           d.get("state", "")) for d in view["devices"])
        return view

    def beds(self) -> list[dict[str, Any]]:
        """Every remote bed: by server name, then in its server's order."""
        return [self.bed(b) for _, server in sorted(self._servers.items())
                for b in server.beds if b in self._beds]

    def bed_ids(self) -> list[str]:
        """The remote beds' ids, in :meth:`beds` order."""
        return [b for _, server in sorted(self._servers.items())
                for b in server.beds if b in self._beds]

    def alarms(self, bed_id: str | None = None) -> list[AlarmView]:
        """Active alarms of one remote bed or of all, as views (screen order not applied)."""
        ids = [bed_id] if bed_id is not None else list(self._beds)
        return [alarm_view(a) for b in ids if b in self._beds
                for a in self.bed(b).get("alarms", [])]

    def servers(self) -> dict[str, list[str]]:
        """Each server heard of and its beds."""
        return {name: list(s.beds) for name, s in sorted(self._servers.items())}


def _with_device(devices: list[dict[str, Any]], device: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    out = [device if d.get("id") == device.get("id") else d for d in devices]
    return out if device in out else [*out, device]


def _lost_alarm(bed_id: str, event: ServerHeard) -> AlarmView:
    return AlarmView(
        alarm_id=f"{bed_id}/{SERVER_LOST}/{event.server}/{int(event.time)}", bed_id=bed_id,
        rule=SERVER_LOST, priority="medium", technical=True, latching=False,
        onset=event.time, value=None, worst=None, threshold=None, baseline=None, delay=None,
        message=event.message or f"Server {event.server} not heard",
        condition_active=True, acknowledged=False, acked_by=None, acked_at=None,
        escalated=False)


def _record(alarm: AlarmView, what: str, at: float, user: str | None = None,
            reason: str | None = None) -> AlarmEvent:
    return AlarmEvent(alarm.alarm_id, alarm.bed_id, alarm.rule, alarm.priority, True, what, at,
                      message=alarm.message, user=user, reason=reason)
