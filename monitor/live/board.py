"""The live picture of the unit: the one owner of what each bed looks like now.

The board folds bus events into typed views (:mod:`monitor.live.views`): device readings
and states from the runners, alarm pictures from the rules feed, session changes from the
service. Each change goes back onto the bus as a :class:`~monitor.live.views.BedDelta`,
which the live stream sends as it is; ``/api/beds`` and the stream's first message are
the board's snapshot. It never touches the database, so screens stay fast however long
the history grows.

Only the board reads its queue. Readers call :meth:`Board.catch_up` (the snapshot does)
so that what was published just before a request is in its answer.

With several servers on one database the board also holds the other servers' beds
(:class:`~monitor.live.remote.RemoteBeds`, folded from what their boards send): the
snapshot and the alarms list every bed; :meth:`Board.has_bed` and :meth:`Board.bed` stay
this server's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import drivers
from monitor.config import UnitConfig
from monitor.domain.models import DeviceStatus, Observation
from monitor.live.bus import Bus
from monitor.live.remote import REMOTE_EVENTS, RemoteBeds
from monitor.live.views import (
    AlarmPicture,
    AlarmView,
    BedDelta,
    BedView,
    DeviceView,
    LatestValue,
    SessionChanged,
    SystemCondition,
    sort_alarms,
)

BOARD_EVENTS = (Observation, DeviceStatus, AlarmPicture, SessionChanged, SystemCondition,
                *REMOTE_EVENTS)
"""What the board folds."""


@dataclass(slots=True)
class _Bed:
    id: str
    label: str
    devices: dict[str, DeviceView]
    latest: dict[str, LatestValue] = field(default_factory=dict)
    admission: dict[str, Any] | None = None
    picture: AlarmPicture | None = None

    def view(self) -> BedView:
        return BedView(self.id, self.label, tuple(self.devices.values()), dict(self.latest),
                       self.admission, self.picture or AlarmPicture(self.id))


class Board:
    """Latest values, device states, alarms and sessions per bed.

    Args:
        bus: where events come from and deltas go.
        unit: the beds and their devices.
    """

    def __init__(self, bus: Bus, unit: UnitConfig) -> None:
        self.bus = bus
        self._beds = {
            bed.id: _Bed(bed.id, bed.title, {
                d.id: DeviceView(d.id, d.protocol, d.port,
                                 can_start_nibp=drivers.codec_class(d.protocol).can_start_nibp)
                for d in bed.devices})
            for bed in unit.beds
        }
        self._system: dict[str, SystemCondition] = {}
        self.remote = RemoteBeds(self._beds)
        """The other servers' beds (none without a cluster)."""
        self._subscription = bus.subscribe(*BOARD_EVENTS, maxsize=100_000, name="board")

    # -- folding --------------------------------------------------------------------------

    async def run(self) -> None:
        """Fold events as they come until the bus closes."""
        sub = self._subscription
        while not sub.closed:
            await sub.wait()
            self.catch_up()

    def catch_up(self) -> None:
        """Apply everything queued now and publish the resulting deltas."""
        events = self._subscription.drain()
        if events:
            for delta in self.apply_all(events):
                self.bus.publish(delta)

    def apply_all(self, events: Iterable[object]) -> list[BedDelta]:
        """Fold ``events``; return the deltas (readings of one device grouped into one)."""
        vitals: dict[str, dict[str, Any]] = {}
        deltas: list[BedDelta] = []
        for event in events:
            if isinstance(event, Observation):
                self._reading(event, vitals)
            elif isinstance(event, DeviceStatus):
                deltas += self._device(event)
            elif isinstance(event, AlarmPicture):
                deltas += self._alarms(event)
            elif isinstance(event, SessionChanged):
                deltas += self._session(event)
            elif isinstance(event, SystemCondition):
                deltas.append(self._system_condition(event))
            elif isinstance(event, REMOTE_EVENTS):
                deltas += self.remote.fold(event)
        return [BedDelta("vitals", m["bed_id"], m) for m in vitals.values()] + deltas

    def _reading(self, obs: Observation, vitals: dict[str, dict[str, Any]]) -> None:
        bed = self._beds.get(obs.bed_id)
        if bed is None:
            return
        previous = bed.latest.get(obs.metric)
        if previous is not None and previous.time > obs.time:
            return  # an older reading (a replayed NIBP) never hides a newer one
        latest = LatestValue.of(obs)
        bed.latest[obs.metric] = latest
        msg = vitals.setdefault(obs.device_id, {"bed_id": bed.id, "device_id": obs.device_id,
                                                "time": obs.time, "values": {}})
        msg["time"] = max(msg["time"], obs.time)
        msg["values"][obs.metric] = latest.to_dict()

    def _device(self, status: DeviceStatus) -> list[BedDelta]:
        bed = self._beds.get(status.bed_id)
        if bed is None or status.device_id not in bed.devices:
            return []
        device = bed.devices[status.device_id].with_status(status)
        bed.devices[status.device_id] = device
        view = bed.view()
        return [BedDelta("device", bed.id, {
            "bed_id": bed.id, "device_id": device.id, "state": status.state,
            "time": status.time, "detail": status.detail, "info": dict(status.info),
            "device": device.to_dict(), "connection": view.connection})]

    def _alarms(self, picture: AlarmPicture) -> list[BedDelta]:
        bed = self._beds.get(picture.bed_id)
        if bed is None:
            return []
        changed = not picture.same_view(bed.picture)
        bed.picture = picture
        alarms = [a.to_dict() for a in picture.alarms]
        deltas = [BedDelta("alarm", bed.id, {
            "bed_id": bed.id, "event": e.to_dict(), "alarms": alarms,
            "audio_paused_until": picture.audio_paused_until}) for e in picture.events]
        if changed:
            # Only the fields the picture fills in: the alarm message (if any) carries the
            # alarms, but the baseline or the NIBP due time may have changed with them.
            deltas.append(BedDelta("bed", bed.id, {"bed": {"id": bed.id,
                                                           **picture.to_dict()}}))
        return deltas

    def _session(self, change: SessionChanged) -> list[BedDelta]:
        bed = self._beds.get(change.bed_id)
        if bed is None:
            return []
        bed.admission = None if change.admission is None else dict(change.admission)
        # ``what`` tells screens what changed (``event``: something was charted or
        # corrected), so a bed detail reloads its entries only then.
        return [BedDelta("bed", bed.id, {"bed": bed.view().to_dict(), "what": change.what,
                                         "time": change.time})]

    def _system_condition(self, condition: SystemCondition) -> BedDelta:
        self._system[condition.key] = condition
        return BedDelta("system", None, {"conditions": self.system_conditions()})

    # -- reading ----------------------------------------------------------------------------

    def has_bed(self, bed_id: str) -> bool:
        """Whether this server has this bed (its own, not another server's)."""
        return bed_id in self._beds

    def knows_bed(self, bed_id: str) -> bool:
        """Whether this bed is this server's or another server's."""
        self.catch_up()
        return bed_id in self._beds or self.remote.owner(bed_id) is not None

    def owner(self, bed_id: str) -> str | None:
        """The other server that has this bed (None: this server's, or unknown)."""
        self.catch_up()
        return None if bed_id in self._beds else self.remote.owner(bed_id)

    def bed_dict(self, bed_id: str) -> dict[str, Any]:
        """One bed, this server's or another's, JSON-ready (as ``/api/beds`` has it).

        Raises:
            KeyError: no such bed.
        """
        if bed_id in self._beds:
            return self.bed(bed_id).to_dict()
        return self.remote.bed(bed_id)

    def acknowledge_condition(self, alarm_id: str, user: str, at: float
                              ) -> dict[str, Any] | None:
        """Acknowledge a ``SERVER_LOST`` alarm here; the alarm, or None when there is none."""
        self.catch_up()
        alarm, deltas = self.remote.acknowledge_condition(alarm_id, user, at)
        for delta in deltas:
            self.bus.publish(delta)
        return alarm

    @property
    def bed_ids(self) -> list[str]:
        """The unit's beds in configuration order."""
        return list(self._beds)

    def bed(self, bed_id: str) -> BedView:
        """One bed now.

        Raises:
            KeyError: no such bed.
        """
        self.catch_up()
        return self._beds[bed_id].view()

    def beds(self) -> list[BedView]:
        """Every bed now, in configuration order."""
        self.catch_up()
        return [b.view() for b in self._beds.values()]

    def snapshot(self) -> list[dict[str, Any]]:
        """Every bed, JSON-ready (``/api/beds`` and the live stream's first message): this
        server's in configuration order, then the other servers' beds."""
        return [b.to_dict() for b in self.beds()] + self.remote.beds()

    def alarms(self, bed_id: str | None = None) -> list[AlarmView]:
        """Active alarms of one bed or of the unit (every server's beds), highest priority
        then newest first."""
        self.catch_up()
        if bed_id is not None and bed_id not in self._beds:
            return list(sort_alarms(self.remote.alarms(bed_id)))
        beds = [self._beds[bed_id]] if bed_id is not None else list(self._beds.values())
        own = [a for b in beds if b.picture for a in b.picture.alarms]
        return list(sort_alarms(own if bed_id is not None else own + self.remote.alarms()))

    def system_conditions(self) -> list[dict[str, Any]]:
        """Technical conditions of the service that hold now (storage failing...)."""
        return [c.to_dict() for c in self._system.values() if c.active]
