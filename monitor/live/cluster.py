"""Several servers on one PostgreSQL database: each one shows every bed, live.

Each ``spu-monitor serve`` has its own unit file (its beds and devices) and owns those beds:
it reads their devices, runs their rules and keeps their records. This link makes the
other servers show them too, with PostgreSQL as the only thing in between:

- **fan-out**: every 100 ms at most, one notification on
  :data:`~monitor.live.cluster_wire.LIVE_CHANNEL` carries the batch of this server's board
  deltas for its own beds (split to stay under PostgreSQL's payload limit); each receiver
  folds them into its board (:mod:`monitor.live.remote`) and sends them on to its screens.
  With nothing to send, an empty batch goes every second: a heartbeat.
- **healing**: a whole picture of this server's beds goes every 30 s, when a receiver asks
  (it saw a gap in the numbering, a new instance, a bed it does not have) and after this
  server dropped deltas; the ``servers`` table keeps a snapshot (every 10 s) for a server
  that starts later or a message too big to send.
- **a server lost**: one not heard for :data:`LOST_AFTER_S` gives its beds the technical
  alarm ``SERVER_LOST`` here, until it is heard again. The table's heartbeat (every 2 s)
  tells a server that starts later which servers are alive.
- **forwarding**: an acknowledgement or an audio pause for another server's bed is sent to
  that server on :data:`~monitor.live.cluster_wire.CONTROL_CHANNEL`, executed there (and
  committed) and answered (:mod:`monitor.live.forwarding`).

Notifications are received on a dedicated asyncpg connection (``add_listener``), opened
again when it drops; they are sent through the store's pool. Only on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from monitor.live import cluster_wire as wire
from monitor.live.board import Board
from monitor.live.bus import Bus
from monitor.live.forwarding import Forwarder, Handler, ServerUnavailable
from monitor.live.remote import ConditionAcknowledged, RemoteUpdate, ServerHeard, is_whole_bed
from monitor.live.views import BedDelta
from monitor.storage import servers
from monitor.storage.database import Store

_LOGGER = logging.getLogger(__name__)

BATCH_S = 0.1
"""At most one notification batch per this long: deltas wait at most this for company."""
BEAT_S = 1.0
"""An empty batch (a heartbeat) goes when nothing else went for this long."""
HEARTBEAT_S = 2.0
"""The ``servers`` table's heartbeat."""
SNAPSHOT_S = 10.0
"""The ``servers`` table's snapshot of this server's beds is refreshed this often."""
WHOLE_S = 30.0
"""A whole picture of this server's beds goes to the others this often."""
LOST_AFTER_S = 8.0
"""Another server not heard for this long raises ``SERVER_LOST`` on its beds (it sends
something every second: this is eight missed heartbeats, and under 10 s after it stops)."""
RESYNC_MIN_S = 1.0
"""A whole picture is asked of one server once a second at most."""
LISTEN_CHECK_S = 2.0
"""How often the listening connection is checked (a dropped one is opened again)."""

_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


@dataclass(slots=True)
class _Peer:
    name: str
    heard: float
    """Loop time of the last message from it (or of its last table heartbeat)."""
    instance: str = ""
    seq: int = 0
    url: str = ""
    whole: set[str] = field(default_factory=set)
    lost: bool = False
    asked: float = float("-inf")
    gaps: int = 0
    received: int = 0


class Cluster:
    """This server among the others on one PostgreSQL database.

    Args:
        bus: the board's deltas come from it; remote updates go onto it.
        board: this server's board (its beds' pictures).
        store: the PostgreSQL store (the ``servers`` table; notifications are sent through
            its pool).
        name: this server's name, unique among them.
        url: where nurses reach this server (named when another server refuses an action
            on one of this server's beds).
        handler: executes an action forwarded by another server.
    """

    def __init__(self, bus: Bus, board: Board, store: Store, name: str, url: str,
                 handler: Handler) -> None:
        self.bus = bus
        self.board = board
        self.store = store
        self.name = name
        self.url = url
        self.instance = secrets.token_hex(6)
        self.forwarder = Forwarder(name, self._control, handler)
        self.subscription = bus.subscribe(BedDelta, maxsize=50_000, name="cluster")
        self.listening = False
        self.peers: dict[str, _Peer] = {}
        self.stats: collections.Counter[str] = collections.Counter()
        self.delays_ms: collections.deque[float] = collections.deque(maxlen=1000)
        """Sent-to-received times of the other servers' batches (their clocks and ours)."""
        self.echo_ms: collections.deque[float] = collections.deque(maxlen=1000)
        """Sent-to-received times of this server's own batches (one clock)."""
        self._local = set(board.bed_ids)
        self._started = time.time()
        self._seq = 0
        self._whole_wanted = True
        self._last_sent = float("-inf")
        self._next_whole = 0.0
        self._dropped = 0
        self._inbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=20_000)
        self._loaded = False
        self._warned: set[str] = set()

    def parts(self) -> list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]]:
        """The supervised parts: sending, the table's heartbeat, listening, receiving."""
        return [("cluster-send", self._send_loop), ("cluster-heartbeat", self._heartbeat_loop),
                ("cluster-listen", self._listen_loop), ("cluster-receive", self._receive_loop)]

    # -- sending ----------------------------------------------------------------------------

    def _whole_texts(self) -> list[str]:
        return [BedDelta("bed", b.id, {"bed": b.to_dict()}).text for b in self.board.beds()]

    async def _send_loop(self) -> None:
        await self._register()
        try:
            while True:
                await self._send_once()
        except asyncio.CancelledError:
            # Stopped (SIGTERM): the others raise SERVER_LOST now, not in LOST_AFTER_S.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(1.0):
                    await self._send_bye()
            raise

    async def _send_once(self) -> None:
        """Wait for deltas (at most :data:`BATCH_S`), then send them, a whole picture when
        one is due, or a heartbeat when nothing went for :data:`BEAT_S`."""
        loop = asyncio.get_running_loop()
        sub = self.subscription
        await sub.wait(BATCH_S)
        pause = self._last_sent + BATCH_S - loop.time()
        if pause > 0:
            await asyncio.sleep(pause)
        texts = [d.text for d in sub.drain() if d.bed_id in self._local]
        now = loop.time()
        whole = self._whole_wanted or now >= self._next_whole or sub.dropped != self._dropped
        if whole:
            self._whole_wanted = False
            self._dropped = sub.dropped
            self._next_whole = now + WHOLE_S
            texts += self._whole_texts()
        if not texts and now < self._last_sent + BEAT_S:
            return
        try:
            await self._send_batch(texts, self.board.bed_ids if whole or not texts else None)
        except (SQLAlchemyError, OSError) as exc:
            self.stats["send_failures"] += 1
            self._whole_wanted = True  # what was not sent is in the next whole picture
            self._warn("send", "cannot notify the other servers (%s): retrying", exc)
            await asyncio.sleep(1.0)
            return
        self._recovered("send")
        self._last_sent = loop.time()

    async def _send_bye(self) -> None:
        self._seq += 1
        head = {**wire.header(self.name, self.instance), "bye": True}
        await self._notify(wire.LIVE_CHANNEL, [wire.envelope(head, self._seq, time.time(), [])])

    async def _send_batch(self, texts: list[str], beds: list[str] | None) -> None:
        head = wire.header(self.name, self.instance, beds)
        groups, too_big = wire.pack(head, texts)
        payloads = []
        now = time.time()
        for group in groups:
            self._seq += 1
            payloads.append(wire.envelope(head, self._seq, now, group))
        if too_big:
            # Only the table can carry it: the snapshot first, then say where it is.
            self.stats["oversized"] += len(too_big)
            await self._heartbeat(snapshot=True)
            self._seq += 1
            payloads.append(wire.envelope(wire.header(self.name, self.instance, beds, True),
                                          self._seq, now, []))
        await self._notify(wire.LIVE_CHANNEL, payloads)
        self.stats["sent"] += len(payloads)

    async def _notify(self, channel: str, payloads: Iterable[str]) -> None:
        async with self.store.engine.begin() as conn:
            for payload in payloads:
                await conn.execute(_NOTIFY, {"channel": channel, "payload": payload})

    async def _control(self, kind: str, to: str, **fields: Any) -> None:
        await self._notify(wire.CONTROL_CHANNEL, [wire.control(kind, self.name, to, **fields)])

    # -- the servers table ------------------------------------------------------------------

    async def _register(self) -> None:
        now = time.time()
        await servers.register(self.store, servers.ServerRecord(
            self.name, self.instance, self.url, self.board.bed_ids, os.getpid(),
            self._started, now, [b.to_dict() for b in self.board.beds()], now))

    async def _heartbeat(self, snapshot: bool) -> None:
        beds = [b.to_dict() for b in self.board.beds()] if snapshot else None
        if not await servers.heartbeat(self.store, self.name, self.instance, time.time(),
                                       beds):
            _LOGGER.error("the servers table's row of %s was removed or taken by another "
                          "process: registering again (give every server its own name)",
                          self.name)
            await self._register()

    async def _heartbeat_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_snapshot = loop.time() + SNAPSHOT_S
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            snapshot = loop.time() >= next_snapshot
            try:
                await self._heartbeat(snapshot)
            except (SQLAlchemyError, OSError) as exc:
                self._warn("heartbeat", "cannot write this server's heartbeat (%s)", exc)
                continue
            self._recovered("heartbeat")
            if snapshot:
                next_snapshot = loop.time() + SNAPSHOT_S

    # -- listening --------------------------------------------------------------------------

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        try:
            self._inbox.put_nowait((channel, payload))
        except asyncio.QueueFull:
            self.stats["inbox_dropped"] += 1  # the gap in numbering asks for a resync

    async def _listen_loop(self) -> None:
        import asyncpg

        url = self.store.engine.url
        # The store's URL as asyncpg's own: its ``ssl`` (or ``sslmode``) is an argument.
        ssl = url.query.get("ssl") or url.query.get("sslmode")
        options: dict[str, Any] = {"ssl": ssl} if isinstance(ssl, str) else {}
        dsn = url.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        backoff = 1.0
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(dsn, timeout=10, **options, server_settings={
                    "application_name": f"spu-monitor {self.name} listen"[:63]})
                for channel in (wire.LIVE_CHANNEL, wire.CONTROL_CHANNEL):
                    await conn.add_listener(channel, self._on_notify)
                self.listening = True
                self._recovered("listen")
                self._inbox.put_nowait(("", "connected"))
                backoff = 1.0
                while not conn.is_closed():
                    await asyncio.sleep(LISTEN_CHECK_S)
                    await conn.fetchval("SELECT 1", timeout=5)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError
                    ) as exc:
                self._warn("listen", "not listening to the other servers (%s): "
                           "connecting again", exc)
            finally:
                self.listening = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    # -- receiving --------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_table = loop.time() + SNAPSHOT_S
        while True:
            try:
                async with asyncio.timeout(0.5):
                    channel, payload = await self._inbox.get()
            except TimeoutError:
                pass
            else:
                try:
                    await self._receive(channel, payload)
                except (SQLAlchemyError, OSError) as exc:
                    self._warn("receive", "cannot read the servers table (%s)", exc)
            if loop.time() >= next_table and self._loaded:
                next_table = loop.time() + SNAPSHOT_S
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await self._load_table()
            self._check_lost()

    async def _receive(self, channel: str, payload: str) -> None:
        if channel == "":
            await self._load_table()
            self._loaded = True
            await self._ask_whole("*")
            return
        message = wire.parse(payload)
        if message is None:
            return
        if channel == wire.LIVE_CHANNEL:
            await self._live(message)
        elif channel == wire.CONTROL_CHANNEL and message.get("from") != self.name \
                and message.get("to") in (self.name, "*"):
            await self._on_control(message)

    async def _live(self, envelope: dict[str, Any]) -> None:
        sender, instance, seq = envelope.get("s"), envelope.get("i"), envelope.get("n")
        if not isinstance(sender, str) or not isinstance(seq, int):
            return
        delay_ms = (time.time() - float(envelope.get("t") or 0.0)) * 1000
        if sender == self.name:
            if instance == self.instance:
                self.echo_ms.append(delay_ms)
            elif "name" not in self._warned:
                self._warned.add("name")
                _LOGGER.error("another server is also named %s: give each its own "
                              "(MONITOR_SERVER_NAME)", self.name)
            return
        loop = asyncio.get_running_loop()
        peer = self.peers.get(sender)
        if peer is None:
            peer = self.peers[sender] = _Peer(sender, loop.time())
        self._heard(peer)
        self.delays_ms.append(delay_ms)
        peer.received += 1
        if peer.instance != instance:
            peer.instance, peer.whole = str(instance), set()
            await self._ask_whole(sender)
            with contextlib.suppress(SQLAlchemyError, OSError):
                record = await servers.server(self.store, sender)
                peer.url = record.url if record is not None else peer.url
        elif seq != peer.seq + 1:
            peer.gaps += 1
            await self._ask_whole(sender)
        peer.seq = seq
        if envelope.get("table"):
            await self._from_table(sender)
        received = wire.messages(envelope)
        peer.whole.update(m["bed"]["id"] for m in received
                          if m.get("type") == "bed" and is_whole_bed(m.get("bed") or {}))
        beds = envelope.get("beds")
        if isinstance(beds, list) and set(beds) - peer.whole:
            await self._ask_whole(sender)
        self.bus.publish(RemoteUpdate(sender, tuple(received),
                                      tuple(beds) if isinstance(beds, list) else None))
        if envelope.get("bye"):
            self._lose(peer, f"Server {sender} was stopped")

    def _heard(self, peer: _Peer) -> None:
        peer.heard = asyncio.get_running_loop().time()
        if peer.lost:
            peer.lost = False
            _LOGGER.info("server %s is heard again", peer.name)
            self.bus.publish(ServerHeard(peer.name, False, time.time()))

    def _check_lost(self) -> None:
        now = asyncio.get_running_loop().time()
        why = "" if self.listening else " (this server's database link is down)"
        for peer in self.peers.values():
            if not peer.lost and now - peer.heard >= LOST_AFTER_S:
                self._lose(peer, f"Server {peer.name} not heard for {LOST_AFTER_S:.0f} s{why}")

    def _lose(self, peer: _Peer, why: str) -> None:
        if peer.lost:
            return
        peer.lost = True
        _LOGGER.warning("%s", why)
        self.bus.publish(ServerHeard(peer.name, True, time.time(),
                                     f"{why}: this bed is not monitored here"))

    async def _ask_whole(self, server: str) -> None:
        now = asyncio.get_running_loop().time()
        peer = self.peers.get(server)
        if peer is not None:
            if now - peer.asked < RESYNC_MIN_S:
                return
            peer.asked = now
        try:
            await self._control("resync", server)
        except (SQLAlchemyError, OSError) as exc:
            self._warn("send", "cannot ask for a whole picture (%s)", exc)

    async def _load_table(self) -> None:
        """Learn the servers from the table: their addresses, the snapshots of servers not
        heard of yet, the servers taken out of it."""
        loop = asyncio.get_running_loop()
        records = {r.name: r for r in await servers.servers(self.store) if r.name != self.name}
        for name in [p for p in self.peers if p not in records]:
            if self.peers[name].lost:  # taken out of service: its beds go away
                del self.peers[name]
                self.bus.publish(RemoteUpdate(name, (), ()))
        for record in records.values():
            peer = self.peers.get(record.name)
            if peer is None:
                age = max(0.0, time.time() - record.heartbeat_at)
                peer = self.peers[record.name] = _Peer(record.name, loop.time() - age)
                self.bus.publish(_snapshot_update(record))
                peer.whole = {b["id"] for b in record.snapshot or []}
            peer.url = record.url

    async def _from_table(self, server: str) -> None:
        record = await servers.server(self.store, server)
        if record is not None:
            self.bus.publish(_snapshot_update(record))

    # -- forwarding ---------------------------------------------------------------------------

    async def _on_control(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "resync":
            self._whole_wanted = True
        elif kind == "req":
            self.forwarder.request(message)
        elif kind == "rep":
            self.forwarder.answer(message)
        elif kind == "ack":
            self.bus.publish(ConditionAcknowledged(str(message.get("alarm_id")),
                                                   str(message.get("user")),
                                                   float(message.get("at") or time.time())))

    async def forward(self, server: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
        """Have ``server`` execute an action on one of its beds, and return its answer.

        Raises:
            ServerUnavailable: the server is not heard, or did not answer in time.
            MonitorError: what the server answered (an unknown alarm...).
        """
        peer = self.peers.get(server)
        if not self.listening or peer is None or peer.lost:
            raise ServerUnavailable(f"server {server} is not heard now: the action cannot be "
                                    "done there")
        return await self.forwarder.forward(server, op, args)

    async def announce_acknowledged(self, alarm_id: str, user: str, at: float) -> None:
        """Tell the other servers that a ``SERVER_LOST`` alarm was acknowledged here."""
        try:
            await self._control("ack", "*", alarm_id=alarm_id, user=user, at=at)
        except (SQLAlchemyError, OSError) as exc:
            _LOGGER.error("cannot tell the other servers of an acknowledgement (%s)", exc)

    def url_of(self, server: str) -> str:
        """Where nurses reach ``server`` (empty when unknown)."""
        peer = self.peers.get(server)
        return peer.url if peer is not None else ""

    # -- health ---------------------------------------------------------------------------

    def _warn(self, key: str, message: str, exc: BaseException) -> None:
        self.stats[f"{key}_errors"] += 1
        if key not in self._warned:
            self._warned.add(key)
            _LOGGER.error(message, exc)

    def _recovered(self, key: str) -> None:
        if key in self._warned:
            self._warned.discard(key)
            _LOGGER.info("cluster %s recovered", key)

    def health(self) -> dict[str, Any]:
        """For ``/healthz``: this server, the others as heard, the counters and delays."""
        now = asyncio.get_running_loop().time()
        remote = self.board.remote.servers()
        return {
            "server": self.name, "instance": self.instance, "listening": self.listening,
            "servers": {p.name: {"url": p.url, "lost": p.lost,
                                 "heard_s_ago": round(now - p.heard, 2),
                                 "beds": remote.get(p.name, []), "gaps": p.gaps,
                                 "received": p.received}
                        for p in self.peers.values()},
            "counters": dict(self.stats + self.forwarder.stats),
            "delay_ms": _percentiles(self.delays_ms),
            "echo_ms": _percentiles(self.echo_ms),
        }


def _snapshot_update(record: servers.ServerRecord) -> RemoteUpdate:
    beds = record.snapshot or []
    return RemoteUpdate(record.name, tuple({"type": "bed", "bed": b} for b in beds),
                        tuple(record.beds))


def _percentiles(values: Iterable[float]) -> dict[str, float] | None:
    ordered = sorted(values)
    if not ordered:
        return None
    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": pick(0.5), "p95": pick(0.95), "max": round(ordered[-1], 1),
            "count": len(ordered)}
