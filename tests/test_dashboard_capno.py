"""Capnography on the tiles, in a real Chromium at the small station screen (1366x768):
EtCO2 with its unit and the respiration rate on beds that have them, nothing on beds
that do not, the sampling-line mark, APNEA in the alarm band, and labels that still fit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.conftest import ARTIFACTS
from tests.test_dashboard_ui import (
    TILE_TEXT_PROBLEMS,
    Bed,
    admit,
    open_dashboard,
    running_unit,
)
from tests.test_dashboard_ui import console_errors as console_errors  # the fixture

pytestmark = pytest.mark.browser

CLIPPED = """() => [...document.querySelectorAll(
        '[data-bed] [data-metric] .value, [data-bed] [data-metric] .unit, '
        + '[data-bed] [data-metric] .label, [data-bed] .capno-flag')]
    .filter((v) => v.getClientRects().length)
    .filter((v) => {
        const tile = v.closest('.bed').getBoundingClientRect();
        const r = v.getBoundingClientRect();
        return v.scrollWidth > v.clientWidth + 1 || r.right > tile.right - 2 ||
            r.bottom > tile.bottom - 2;
    })
    .map((v) => v.closest('[data-bed]').dataset.bed + ':' + v.className + ':'
                + v.textContent)"""


async def test_capnography_on_tiles_at_1366x768(page: Page, tmp_path: Path,
                                                 console_errors: list[str]) -> None:
    beds = [Bed("capnography"), Bed("hypoventilation", speed=4.0),
            Bed("capno_line", speed=4.0), Bed("apnea", speed=4.0)]
    beds += [Bed(hr=64 + 3 * i) for i in range(3)] + [Bed(protocol="nonin")]
    async with running_unit(tmp_path, beds, page) as u:
        await page.set_viewport_size({"width": 1366, "height": 768})
        await open_dashboard(page, u)
        for i in range(len(beds)):
            await admit(page, u, f"bed-{i + 1}", f"Patient {chr(65 + i)}. Longname",
                        day=1 + i, start=True)
        capno = page.locator('[data-bed="bed-1"] .capno-row')
        await expect(capno).to_be_visible(timeout=15_000)
        await expect(capno.locator('[data-metric="ETCO2"] .value')).to_have_text(
            re.compile(r"^\d+$"), timeout=15_000)
        await expect(capno.locator('[data-metric="ETCO2"] .unit')).to_have_text("mmHg")
        await expect(capno.locator('[data-metric="RESP"] .label')).to_have_text("RR")
        await expect(capno.locator('[data-metric="RESP"] .value')).to_have_text(
            re.compile(r"^\d+$"))
        # no capnograph on these beds: no capnography row at all
        for i in (5, 8):
            await expect(page.locator(f'[data-bed="bed-{i}"] .capno-row')).to_be_hidden()
        # the blocked line is marked, and the apnoeic bed alarms (high priority)
        await expect(page.locator('[data-bed="bed-3"] .capno-flag')).to_have_text(
            "CO₂ LINE", timeout=30_000)
        await expect(page.locator('[data-bed="bed-4"] .alarm-band')).to_have_attribute(
            "data-priority", "high", timeout=40_000)
        await expect(page.locator('[data-bed="bed-4"] .alarm-text')).to_contain_text(
            re.compile(r"breath|apnea"))
        problems = await page.evaluate(TILE_TEXT_PROBLEMS)
        clipped = await page.evaluate(CLIPPED)
        for i in range(len(beds)):
            box = await page.locator(f'[data-bed="bed-{i + 1}"]').bounding_box()
            assert box is not None and box["y"] + box["height"] <= 768 + 1
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-capnography-1366x768.png"))
        with_row = await page.locator('[data-bed="bed-1"] .strip').bounding_box()
        without = await page.locator('[data-bed="bed-5"] .strip').bounding_box()
        assert with_row is not None and without is not None
        # the capnography row takes its room from the ECG strip, which stays readable
        assert with_row["height"] >= max(24.0, 0.5 * without["height"]), (with_row, without)
        assert not problems, "\n".join(problems)
        assert not clipped, clipped
    assert not console_errors
