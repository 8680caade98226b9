"""The cluster link between two services in one process on a throwaway PostgreSQL: how fast a
change reaches the other server, healing after a lost notification, after the listening
connection is killed and for a message too big for a notification, and forwarded actions'
answers (errors raised again, a server that does not answer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from monitor.config import BedConfig, Settings, UnitConfig, database_url
from monitor.domain.errors import InvalidValue, RecordNotFound, UnknownAlarmError
from monitor.domain.models import Observation
from monitor.live import cluster_wire as wire
from monitor.live.cluster import _Peer
from monitor.live.forwarding import ServerUnavailable
from monitor.live.views import BedDelta
from monitor.service import Service
from monitor.storage.database import Store
from tests.conftest import ARTIFACTS, MS
from tests.pgserver import throwaway_postgres


@pytest.fixture(scope="module")
def postgres_url():
    yield from throwaway_postgres()


@contextlib.asynccontextmanager
async def running(url: str, name: str) -> AsyncIterator[Service]:
    """A service named ``name`` with one bed, ``bed-<name>``, and no devices."""
    store = await Store.open(database_url(url))
    unit = UnitConfig(beds=[BedConfig(id=f"bed-{name.lower()}")])
    service = Service(Settings(db=url, server_name=name), unit, store)
    task = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(service.started.wait(), 20)
        yield service
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await store.close()


async def eventually(check, timeout: float = 10_000 * MS):
    async with asyncio.timeout(timeout):
        while not (found := check()):
            await asyncio.sleep(0.02)
        return found


def _spo2(service: Service, bed: str) -> float | None:
    if not service.board.knows_bed(bed):
        return None
    latest = service.board.bed_dict(bed)["latest"].get("SPO2")
    return None if latest is None else latest["value"]


def _reading(service: Service, value: float, metric: str = "SPO2") -> None:
    bed = service.board.bed_ids[0]
    service.bus.publish(Observation.of(metric, value, time.time(), f"{bed}-ox", bed_id=bed))


@pytest.fixture
async def pair(postgres_url: str):
    async with running(postgres_url, "A") as a, running(postgres_url, "B") as b:
        await eventually(lambda: a.board.knows_bed("bed-b") and b.board.knows_bed("bed-a"))
        yield a, b


async def test_link_a_change_reaches_the_other_server_within_tens_of_ms(pair) -> None:
    a, b = pair
    arrivals = a.bus.subscribe(BedDelta, name="test")
    delays = []
    try:
        for i in range(40):
            arrivals.drain()
            sent = time.perf_counter()
            _reading(b, 90 + i % 9)
            async with asyncio.timeout(5_000 * MS):
                while not any(d.kind == "vitals" and d.bed_id == "bed-b"
                              for d in await _next(arrivals)):
                    pass
            delays.append((time.perf_counter() - sent) * 1000)
            await asyncio.sleep(0.15)  # a new batch each time, as readings come
    finally:
        arrivals.close()
    figures = {"B's reading to A's board (ms)": {
        "median": round(statistics.median(delays), 1),
        "p95": round(sorted(delays)[int(len(delays) * 0.95)], 1),
        "max": round(max(delays), 1), "count": len(delays)}}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "cluster-link-figures.json").write_text(json.dumps(figures, indent=1))
    assert statistics.median(delays) < 250


async def _next(sub) -> list:
    await sub.wait()
    return sub.drain()


async def test_link_heals_a_missed_notification(pair, monkeypatch) -> None:
    a, b = pair
    _reading(b, 91)
    await eventually(lambda: _spo2(a, "bed-b") == 91)
    receive = a.cluster._on_notify
    dropped = []

    def drop_one(conn, pid, channel, payload):
        if channel == wire.LIVE_CHANNEL and '"value": 80,' in payload and not dropped:
            dropped.append(payload)
            return
        receive(conn, pid, channel, payload)

    monkeypatch.setattr(a.cluster, "_on_notify", drop_one)
    # The listener holds the bound method: take the connection down so it listens anew.
    await _kill_listener(a)
    await eventually(lambda: a.cluster.listening)
    dropped.clear()
    _reading(b, 80)  # lost on its way to A
    await eventually(lambda: dropped)
    await asyncio.sleep(0.2)
    _reading(b, 120, "HR")  # A sees the gap and asks B for its whole picture
    await eventually(lambda: _spo2(a, "bed-b") == 80)
    assert a.cluster.peers["B"].gaps >= 1


async def _kill_listener(service: Service) -> None:
    async with service.store.engine.begin() as conn:
        await conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = :name"),
                           {"name": f"spu-monitor {service.cluster.name} listen"})


async def test_link_listens_again_after_its_connection_is_killed(pair) -> None:
    a, b = pair
    await _kill_listener(a)
    await eventually(lambda: not a.cluster.listening)
    _reading(b, 77)  # sent while A does not listen
    await eventually(lambda: a.cluster.listening)
    await eventually(lambda: _spo2(a, "bed-b") == 77)  # the whole picture asked on return
    assert not a.cluster.peers["B"].lost


async def test_link_a_message_too_big_goes_through_the_table(postgres_url: str,
                                                             monkeypatch) -> None:
    monkeypatch.setattr(wire, "PAYLOAD_LIMIT", 400)  # a whole bed no longer fits
    async with running(postgres_url, "A") as a, running(postgres_url, "B") as b:
        _reading(b, 93)
        await eventually(lambda: _spo2(a, "bed-b") == 93)
        assert b.cluster.stats["oversized"] > 0


async def test_forwarded_errors_are_raised_again_where_asked(pair) -> None:
    a, _ = pair
    with pytest.raises(UnknownAlarmError):
        await a.cluster.forward("B", "acknowledge", {"alarm_id": "bed-b/9/SPO2_LOW",
                                                     "user": "ada"})
    with pytest.raises(RecordNotFound, match="no bed 'bed-x'"):
        await a.cluster.forward("B", "pause_audio", {"bed_id": "bed-x", "user": "ada"})
    with pytest.raises(InvalidValue, match="unknown forwarded action"):
        await a.cluster.forward("B", "discharge", {})
    until = (await a.cluster.forward("B", "pause_audio", {"bed_id": "bed-b", "user": "ada",
                                                          "seconds": 60}))
    assert until["audio_paused_until"] > time.time() + 50


async def test_forwarding_to_a_server_that_does_not_answer_is_not_confirmed(pair) -> None:
    a, _ = pair
    a.cluster.peers["C"] = _Peer("C", asyncio.get_running_loop().time() + 3600)
    started = time.monotonic()
    with pytest.raises(ServerUnavailable, match="did not answer within 1 s"):
        await a.cluster.forwarder.forward("C", "acknowledge", {}, timeout=1.0)
    assert time.monotonic() - started < 3
    a.cluster.peers["C"].lost = True
    with pytest.raises(ServerUnavailable, match="not heard now"):
        await a.cluster.forward("C", "acknowledge", {})
    del a.cluster.peers["C"]


async def test_servers_starting_together_on_a_new_database_migrate_once(postgres_url: str
                                                                        ) -> None:
    import asyncpg

    server = postgres_url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(server + "/postgres")
    try:
        await admin.execute("CREATE DATABASE together")
    finally:
        await admin.close()
    stores = await asyncio.gather(*(Store.open(database_url(server + "/together"))
                                    for _ in range(3)))
    for store in stores:
        await store.close()
