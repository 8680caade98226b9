"""Device supervision over real ptys: connect, stale, unplug, replug behind a stable link."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

import pytest

import drivers
from monitor.config import DeviceConfig
from monitor.domain.errors import DeviceOpenError
from monitor.domain.models import DeviceStatus, Observation
from monitor.live.bus import Bus, Subscription
from monitor.live.runner import DeviceRunner
from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS
from tests.conftest import MS


async def next_matching(sub: Subscription, predicate, timeout: float) -> object:
    async with asyncio.timeout(timeout):
        while True:
            event = await sub.get()
            if predicate(event):
                return event


@contextlib.asynccontextmanager
async def supervised(runner: DeviceRunner):
    """Run ``runner`` for the duration of the block."""
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def send(port: PtyPort, codec: MasimoDeviceCodec, when: float, vitals) -> None:
    """The simulated device sends what it shows at ``when``."""
    codec.advance(when, vitals)
    for chunk in codec.data_to_send():
        port.write(chunk)


def status(state: str):
    return lambda e: isinstance(e, DeviceStatus) and e.state == state


def spo2(e: object) -> bool:
    return isinstance(e, Observation) and e.metric == "SPO2" and e.value is not None


@pytest.fixture
async def running(tmp_path: Path, bus: Bus):
    """A Masimo simulator on a pty with a stable link, and a runner reading the link."""
    port = PtyPort(link=str(tmp_path / "ttyUSB-oximeter"))
    sim = asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"], port,
                                           speed=1.0))
    runner = DeviceRunner(bus, DeviceConfig(id="bed-1-ox", protocol="masimo", port=port.path),
                          "bed-1", stale_after_s=1.5, reconnect_max_s=0.5)
    sub = bus.subscribe(name="test")
    task = asyncio.create_task(runner.run())
    yield port, runner, sub
    task.cancel()
    sim.cancel()
    await asyncio.gather(task, sim, return_exceptions=True)
    sub.close()
    port.close()


async def test_runner_connects_and_publishes_observations(running) -> None:
    port, runner, sub = running
    await next_matching(sub, status("connected"), 5000 * MS)
    obs = await next_matching(sub, spo2, 5000 * MS)
    assert obs.device_id == "bed-1-ox"
    assert runner.connects == 1


async def test_runner_unplug_then_replug_resumes_without_restart(running) -> None:
    port, runner, sub = running
    await next_matching(sub, spo2, 5000 * MS)
    port.unplug()
    lost = await next_matching(sub, status("disconnected"), 3000 * MS)
    assert lost.device_id == "bed-1-ox"
    await asyncio.sleep(0.3)
    port.plug()
    await next_matching(sub, status("connected"), 5000 * MS)
    await next_matching(sub, spo2, 5000 * MS)
    assert runner.connects == 2 and runner.outages == 1


async def test_unplugged_link_does_not_lead_to_the_next_pty(tmp_path: Path) -> None:
    """While the cable is out its stable link is gone, as udev removes a by-id link.

    A link left pointing at the dead ``/dev/pts/N`` opens the next pty given that number,
    whoever made it (the kernel hands out the lowest free one): a runner retrying the link
    then reads another simulator's bytes, even another test process's, and that device's
    driver fails with "device reports readiness to read but returned no data".
    """
    pulled = PtyPort(link=str(tmp_path / "ttyPULLED"))
    pulled.unplug()
    other = PtyPort(link=str(tmp_path / "ttyOTHER"))  # usually takes the number just freed
    try:
        try:
            device = await drivers.open_device(pulled.path, "masimo")
        except DeviceOpenError:
            pass
        else:
            await device.aclose()
            pytest.fail(f"{pulled.path} is unplugged, yet it opened "
                        f"{os.readlink(pulled.path)} (the other pty is {other.slave_path})")
        with pytest.raises(FileNotFoundError):
            os.readlink(pulled.path)
        pulled.plug()
        assert os.readlink(pulled.path) == pulled.slave_path != other.slave_path
    finally:
        other.close()
        pulled.close()


async def test_a_port_has_one_reader(pty_port: PtyPort) -> None:
    """A second reader would split the byte stream (both seeing corrupt frames): while
    one driver holds the port, another's open fails, clearly; once closed it opens."""
    first = await drivers.open_device(pty_port.path, "masimo")
    try:
        with pytest.raises(DeviceOpenError, match="cannot open serial port"):
            second = await drivers.open_device(pty_port.path, "masimo")
            await second.aclose()
    finally:
        await first.aclose()
    again = await drivers.open_device(pty_port.path, "masimo")
    await again.aclose()


async def test_runner_reports_stale_when_device_goes_quiet(tmp_path: Path, bus: Bus) -> None:
    port = PtyPort(link=str(tmp_path / "ttyQUIET"))
    runner = DeviceRunner(bus, DeviceConfig(id="quiet", protocol="masimo", port=port.path),
                          "bed-1", stale_after_s=0.3)
    async with bus.subscribe(name="t") as sub, supervised(runner):
        try:
            await next_matching(sub, status("connected"), 3000 * MS)
            await next_matching(sub, status("stale"), 3000 * MS)
            send(port, MasimoDeviceCodec(), 1_790_000_000, SCENARIOS["stable"].at(0))
            await next_matching(sub, status("connected"), 3000 * MS)
        finally:
            port.close()


async def test_runner_missing_port_retries_and_connects_when_plugged(tmp_path: Path,
                                                                     bus: Bus) -> None:
    link = tmp_path / "ttyLATE"
    runner = DeviceRunner(bus, DeviceConfig(id="late", protocol="masimo", port=str(link)),
                          "bed-1", reconnect_max_s=0.2)
    async with bus.subscribe(name="t") as sub, supervised(runner):
        lost = await next_matching(sub, status("disconnected"), 3000 * MS)
        assert "cannot open" in lost.detail
        port = PtyPort(link=str(link))
        try:
            await next_matching(sub, status("connected"), 3000 * MS)
        finally:
            port.close()


async def test_runner_sensor_off_status(tmp_path: Path, bus: Bus) -> None:
    port = PtyPort(link=str(tmp_path / "ttySO"))
    runner = DeviceRunner(bus, DeviceConfig(id="so", protocol="masimo", port=port.path),
                          "bed-1")
    async with bus.subscribe(name="t") as sub, supervised(runner):
        try:
            await next_matching(sub, status("connected"), 3000 * MS)
            codec = MasimoDeviceCodec()
            send(port, codec, 1_790_000_000, SCENARIOS["sensor_off"].at(35))
            await next_matching(sub, status("sensor_off"), 3000 * MS)
            send(port, codec, 1_790_000_001, SCENARIOS["sensor_off"].at(70))
            await next_matching(sub, status("connected"), 3000 * MS)
        finally:
            port.close()


async def test_runner_counts_garbage_and_keeps_decoding(tmp_path: Path, bus: Bus) -> None:
    port = PtyPort(link=str(tmp_path / "ttyNOISE"))
    runner = DeviceRunner(bus, DeviceConfig(id="noisy", protocol="masimo", port=port.path),
                          "bed-1")
    async with bus.subscribe(name="t") as sub, supervised(runner):
        try:
            await next_matching(sub, status("connected"), 3000 * MS)
            port.write(bytes(range(256)) * 3 + b"\r\n")  # line noise on the cable
            send(port, MasimoDeviceCodec(), 1_790_000_000, SCENARIOS["stable"].at(0))
            assert (await next_matching(sub, spo2, 3000 * MS)).device_id == "noisy"
            stats = runner.stats
            assert stats["frames_bad"] >= 1 and stats["bytes_discarded"] > 0
            assert stats["frames_ok"] >= 1 and stats["state"] == "connected"
        finally:
            port.close()
