"""The dashboard in a real Chromium: live values, offline state, server loss banner (each
page signed in first, as the default test user)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from simulators.masimo import MasimoDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import ARTIFACTS
from tests.liveserver import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
async def unit_server(tmp_path: Path):
    ports = [PtyPort(link=str(tmp_path / f"tty{i}")) for i in range(2)]
    sims = [asyncio.create_task(run_scenario(MasimoDeviceCodec(), SCENARIOS["stable"], p,
                                             patient=Patient(seed=i + 1, hr=64 + 10 * i)))
            for i, p in enumerate(ports)]
    unit = UnitConfig(name="SPU test", beds=[
        BedConfig(id=f"bed-{i + 1}", label=f"Bed {i + 1}", devices=[
            DeviceConfig(id=f"bed-{i + 1}-ox", protocol="masimo", port=p.path)])
        for i, p in enumerate(ports)
    ])
    live = LiveServer(unit, db=str(tmp_path / "ui.db"), reconnect_max_s=0.5)
    await asyncio.to_thread(live.start)
    yield live, ports, sims
    await asyncio.to_thread(live.stop)
    for s in sims:
        s.cancel()
    await asyncio.gather(*sims, return_exceptions=True)
    for p in ports:
        p.close()


async def open_signed_in(page: Page, live: LiveServer, path: str = "/") -> None:
    """Sign the page's browser context in, then open the dashboard."""
    await live.sign_in(page)
    await page.goto(live.url + path)


async def test_dashboard_shows_live_values_within_3_seconds(page: Page, unit_server) -> None:
    live, *_ = unit_server
    await open_signed_in(page, live)
    tile = page.locator('[data-bed="bed-1"]')
    await expect(tile).to_be_visible()
    await expect(tile.locator('[data-metric="SPO2"] .value')).to_have_text(
        re.compile(r"^(9\d|100)$"), timeout=3000)
    await expect(tile.locator('[data-metric="PR"] .value')).to_have_text(
        re.compile(r"^\d{2,3}$"), timeout=3000)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)


async def test_dashboard_shows_device_offline(page: Page, unit_server) -> None:
    live, ports, sims = unit_server
    await open_signed_in(page, live)
    tile = page.locator('[data-bed="bed-2"]')
    await expect(tile.locator('[data-metric="SPO2"] .value')).not_to_have_text("--", timeout=3000)
    sims[1].cancel()  # the device stops, then its cable is pulled
    await asyncio.gather(sims[1], return_exceptions=True)
    ports[1].unplug()
    await expect(tile).to_have_class(re.compile(r"\boffline\b"), timeout=3000)
    await expect(tile.locator(".state")).to_have_text("device offline")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard-device-offline.png"), full_page=True)


async def test_dashboard_banner_when_server_is_lost(page: Page, unit_server) -> None:
    live, *_ = unit_server
    await open_signed_in(page, live)
    banner = page.locator("#connection-banner")
    await expect(page.locator('[data-bed="bed-1"] [data-metric="SPO2"] .value')).not_to_have_text(
        "--", timeout=3000)
    await expect(banner).to_be_hidden()
    await asyncio.to_thread(live.stop)
    await expect(banner).to_be_visible(timeout=7000)
