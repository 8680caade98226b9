"""The generic device shell: the tap sees every chunk read, before the codec, with its time."""

from __future__ import annotations

import asyncio
import time

import drivers
from drivers.base import Device
from drivers.transport import open_with
from monitor.domain.models import Observation
from simulators.port import PtyPort
from tests.conftest import MS

LINE = (b"02/22/16 22:47:45 SN=0000056661 SPO2=098% BPM=097 PI=03.60% SPCO=--.-% "
        b"SPMET=--.-% DESAT=-- PIDELTA=+-- ALARM=0000 EXC=000800\r\n")


async def _read_until(device: Device, count: int) -> list[Observation]:
    found: list[Observation] = []
    async with asyncio.timeout(2000 * MS):
        while len(found) < count:
            found += [e for e in await device.read_events() if isinstance(e, Observation)]
    return found


async def test_device_tap_sees_every_chunk_with_its_read_time(pty_port: PtyPort):
    seen: list[tuple[bytes, float]] = []
    before = time.time()
    device = await open_with(drivers.codec("masimo"), pty_port.path,
                             tap=lambda data, now: seen.append((data, now)))
    async with device:
        pty_port.write(LINE[:40])
        await asyncio.sleep(50 * MS)
        pty_port.write(LINE[40:])
        found = await _read_until(device, 2)
    assert b"".join(d for d, _ in seen) == LINE
    assert all(before <= now <= time.time() for _, now in seen)
    assert [now for _, now in seen] == sorted(now for _, now in seen)
    assert found[0].time == seen[-1][1]  # the codec got the tap's read time


async def test_device_tap_can_be_set_after_open(pty_port: PtyPort):
    device = await drivers.open_device(pty_port.path, "masimo")
    assert device.tap is None and device.settings.describe() == "9600 8N1"
    chunks: list[bytes] = []
    device.tap = lambda data, now: chunks.append(data)
    async with device:
        pty_port.write(LINE)
        await _read_until(device, 1)
    assert b"".join(chunks) == LINE


async def test_device_settings_are_those_it_was_opened_with(pty_port: PtyPort):
    async with await drivers.open_device(pty_port.path, "masimo", baudrate=19200) as device:
        assert device.settings.baudrate == 19200
