"""The event bus: fan-out, bounded queues that drop the oldest, unsubscribe."""

from __future__ import annotations

import asyncio

from monitor.domain.models import DeviceStatus, Observation
from monitor.live.bus import Bus


def obs(v: float) -> Observation:
    return Observation.of("SPO2", v, 1000.0 + v, "d1")


async def test_bus_fans_out_to_every_subscriber(bus: Bus) -> None:
    async with bus.subscribe(name="a") as a, bus.subscribe(name="b") as b:
        bus.publish(obs(97))
        assert (await a.get()).value == 97
        assert (await b.get()).value == 97


async def test_bus_filters_by_type(bus: Bus) -> None:
    async with bus.subscribe(DeviceStatus, name="status") as sub:
        bus.publish(obs(97))
        bus.publish(DeviceStatus("d1", "connected", 1.0))
        assert isinstance(await sub.get(), DeviceStatus)
        assert sub.qsize() == 0


async def test_bus_drops_oldest_on_overflow_and_counts(bus: Bus) -> None:
    async with bus.subscribe(maxsize=3, name="slow") as sub:
        for v in range(10):
            bus.publish(obs(v))
        assert sub.dropped == 7
        assert [e.value for e in sub.drain()] == [7, 8, 9]


async def test_bus_slow_subscriber_does_not_affect_others(bus: Bus) -> None:
    async with bus.subscribe(maxsize=1, name="slow") as slow, bus.subscribe(name="fast") as fast:
        for v in range(5):
            bus.publish(obs(v))
        assert [e.value for e in fast.drain()] == [0, 1, 2, 3, 4]
        assert slow.dropped == 4


async def test_bus_leaving_context_unsubscribes(bus: Bus) -> None:
    async with bus.subscribe(name="x"):
        assert len(bus.subscriptions) == 1
    assert bus.subscriptions == []


async def test_bus_iteration_ends_when_closed() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.publish(obs(1))

    async def consume() -> list[float]:
        return [e.value async for e in sub]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    bus.close()
    assert await asyncio.wait_for(task, 1) == [1]


async def test_bus_wait_times_out_without_events(bus: Bus) -> None:
    async with bus.subscribe() as sub:
        assert await sub.wait(0.01) is False
        bus.publish(obs(2))
        assert await sub.wait(0.01) is True
