"""Alarm strips in a real Chromium: a GE S/5 simulated on a pty streams ECG and pleth, the
server stores them (full disclosure), an SpO2 alarm happens, and the nurse opens its strip
from the bed detail's alarm log and from the active alarm: ECG and pleth on a paper grid at
25 mm/s, the time scale from the onset, the alarm's facts, Earlier / Later, and the print
layout measured at true paper speed on one A4 landscape page. Under the strict
Content-Security-Policy the server is to send."""

from __future__ import annotations

import asyncio
import io
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pypdf
import pytest
from PIL import Image
from playwright.async_api import Page, Request, expect

from monitor.config import BedConfig, DeviceConfig, UnitConfig
from simulators.ge_s5 import GeS5DeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import Patient, Scenario, physiology, ramp
from tests.conftest import ARTIFACTS, MS
from tests.liveserver import LiveServer
from tests.test_dashboard_ui import STRICT_CSP, add_policy, report_csp_violations

pytestmark = pytest.mark.browser

FAST = {"rules": {"SPO2_LOW": {"delay": 2}}}
"""A short SPO2_LOW delay: the alarm comes seconds after the admission (as in
test_alarms_live)."""
PX_PER_MM = 96 / 25.4
"""CSS pixels per CSS millimetre."""
MINUS = "\u2212"
LATE_DESATURATION = Scenario(
    "late_desaturation", "SpO2 98 % at rest, about 91 % from 25 s", 600,
    lambda t, p: physiology(t, p, spo2_drop=7 * ramp(t, 25, 1, 500, 10)))
"""Time to admit the patient first, and 20 s of waveforms stored before the alarm."""


@dataclass
class Ward:
    live: LiveServer
    port: PtyPort


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Console errors, uncaught exceptions and failed requests of the page."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.request.method} {r.url}")
            if r.status >= 400 else None)
    return errors


@pytest.fixture
async def ward(tmp_path: Path, page: Page) -> AsyncIterator[Ward]:
    """Bed 1 with a GE S/5 (ECG 300 Hz, pleth 100 Hz) whose patient desaturates after 25 s,
    under the strict Content-Security-Policy."""
    port = PtyPort(link=str(tmp_path / "ttyGE"))
    sim = asyncio.create_task(run_scenario(GeS5DeviceCodec(), LATE_DESATURATION, port,
                                           patient=Patient(seed=3, hr=72, spo2=98)))
    unit = UnitConfig(name="SPU strip test", alarms=FAST, beds=[BedConfig(
        id="bed-1", label="Bed 1", devices=[DeviceConfig(
            id="bed-1-ge", protocol="ge_s5", port=port.path, options={"interval": 5})])])
    live = LiveServer(unit, db=str(tmp_path / "strip.db"), reconnect_max_s=0.5)
    add_policy(live.app, STRICT_CSP)
    await asyncio.to_thread(live.start)
    try:
        yield Ward(live, port)
    finally:
        await page.goto("about:blank")
        await asyncio.to_thread(live.stop)
        sim.cancel()
        await asyncio.gather(sim, return_exceptions=True)
        port.close()


async def get(page: Page, live: LiveServer, path: str, **params: Any) -> Any:
    res = await page.request.get(live.url + path, params=params)
    assert res.ok, await res.text()
    return await res.json()


STRIP_ROWS = """() => [...document.querySelectorAll('#strip svg.strip-row')].map((svg) => {
    const r = svg.getBoundingClientRect();
    const trace = (m) => svg.querySelector(`path.trace[data-metric="${m}"]`);
    const box = (p) => {
        if (!p) return null;
        const b = p.getBBox();
        return [b.x, b.y, b.width, b.height];
    };
    const at = (sel, side) => [...svg.querySelectorAll(sel)]
        .map((l) => l.getBoundingClientRect()[side]);
    return {
        t0: Number(svg.dataset.t0), seconds: Number(svg.dataset.seconds),
        width: r.width, height: r.height,
        viewBox: svg.getAttribute('viewBox'),
        ecgPoints: Number(trace('ECG')?.dataset.points || 0),
        plethPoints: Number(trace('PLETH')?.dataset.points || 0),
        ecgBox: box(trace('ECG')), plethBox: box(trace('PLETH')),
        rel: [...svg.querySelectorAll('text.t-rel')].map((t) => t.textContent),
        onsetLabel: svg.querySelector('text.t-onset')?.textContent ?? null,
        onsetLine: svg.querySelector('line.onset') ? Number(svg.querySelector('line.onset')
            .getAttribute('x1')) : null,
        majorV: at('line.grid-major.v', 'left'), majorH: at('line.grid-major.h', 'top'),
        minor: (svg.querySelector('path.grid-minor').getAttribute('d').match(/M/g) || []).length,
    };
})"""


def ink_columns(png: bytes, band_mm: tuple[float, float], height_mm: float,
                is_ink: Any) -> float:
    """Share of the image's columns with ink (``is_ink(r, g, b)``) between ``band_mm`` (from
    the top of a row ``height_mm`` tall)."""
    img = Image.open(io.BytesIO(png)).convert("RGB")
    w, h = img.size
    y0, y1 = (round(v / height_mm * h) for v in band_mm)
    px = img.load()
    inked = sum(any(is_ink(*px[x, y]) for y in range(y0, y1)) for x in range(w))
    return inked / w


def dark(r: int, g: int, b: int) -> bool:
    """The ECG's black (anti-aliased), not the paper's pink."""
    return max(r, g, b) < 150 and abs(r - b) < 40 and abs(r - g) < 40


def blue(r: int, g: int, b: int) -> bool:
    """The pleth's blue."""
    return b > 110 and b - r > 60 and b - g > 30


@pytest.mark.timeout(240)
async def test_alarm_strip_from_the_log_at_25_mm_per_s_printable_and_scrollable(
    page: Page, ward: Ward, console_errors: list[str]
) -> None:
    live = ward.live
    violations = await report_csp_violations(page)
    # window.print() opens no dialog here: count the calls instead.
    await page.add_init_script("window.print = () => { window.__prints = (window.__prints|0) + 1 }")
    await page.set_viewport_size({"width": 1600, "height": 1000})
    await live.sign_in(page)
    res = await page.request.post(f"{live.url}/api/beds/bed-1/admit",
                                  data={"patient_label": "Strip test", "patient_ref": "MRN-7",
                                        "infusion_day": 2})
    assert res.ok, await res.text()

    async def onset() -> dict[str, Any] | None:
        log = await get(page, live, "/api/alarms/log", bed_id="bed-1")
        return next((e for e in log if e["rule"] == "SPO2_LOW" and e["event"] == "onset"), None)

    async with asyncio.timeout(60_000 * MS):
        while (alarm := await onset()) is None:
            await asyncio.sleep(0.5)
    alarm_id, t_onset = alarm["alarm_id"], alarm["time"]
    res = await page.request.post(f"{live.url}/api/alarms/{alarm_id}/acknowledge", data={})
    assert res.ok, await res.text()

    waveform_requests: list[str] = []

    def seen(request: Request) -> None:
        if "/waveforms?" in request.url:
            waveform_requests.append(request.url)

    page.on("request", seen)
    await page.goto(live.url + "/#bed/bed-1")
    row = page.locator('.alarm-log tr[data-event="onset"]', has_text="SPO2_LOW")
    await expect(row).to_have_count(1, timeout=10_000)
    button = row.locator('[data-action="strip"]')
    await expect(button).to_have_text("Strip")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator(".log-wrap:has(.alarm-log)").screenshot(
        path=str(ARTIFACTS / "dashboard-strip-log.png"))
    await button.click()

    strip = page.locator("#strip")
    await expect(strip).to_be_visible()
    await expect(strip).to_have_attribute("data-alarm-id", alarm_id)
    await expect(strip).to_have_attribute("data-state", "loaded", timeout=5000)
    assert float(await strip.get_attribute("data-onset") or 0) == pytest.approx(t_onset, abs=1e-3)
    assert float(await strip.get_attribute("data-since") or 0) == pytest.approx(t_onset - 10,
                                                                                abs=1e-3)
    # The alarm's facts.
    fact = lambda key: strip.locator(f'[data-fact="{key}"]')  # noqa: E731
    await expect(strip.locator("#strip-title")).to_have_text("Alarm strip · Bed 1 · SPO2_LOW")
    await expect(fact("bed")).to_have_text("Bed 1")
    await expect(fact("patient")).to_have_text("Strip test (MRN-7) · Day 2")
    await expect(fact("alarm")).to_contain_text("SPO2_LOW")
    await expect(fact("priority")).to_have_text("medium")
    await expect(fact("value")).to_have_text(re.compile(r"^\d\d(\.\d)?\u00a0% \(limit 93\u00a0%\)"))
    await expect(fact("acknowledged")).to_have_text(
        re.compile(rf"^{re.escape(live.user)} at \d\d:\d\d:\d\d \((\+\d+|0) s\)$"))
    await expect(fact("scale")).to_have_text("25 mm/s · ECG 10 mm/mV · grid 1 mm / 5 mm")

    # Three rows of 10 s; the time scale in seconds from the onset: "0 s" at the onset,
    # which starts the second row, marked there.
    rows = await page.evaluate(STRIP_ROWS)
    assert [r["t0"] for r in rows] == pytest.approx([t_onset - 10, t_onset, t_onset + 10],
                                                    abs=1e-3)
    assert rows[0]["rel"][0] == f"{MINUS}10 s" and rows[0]["rel"][-1] == "0 s"
    assert rows[1]["rel"][0] == "0 s" and rows[1]["onsetLabel"] == "0 s"
    assert rows[1]["onsetLine"] == 0 and rows[0]["onsetLine"] is None
    assert rows[2]["rel"][-1] == "+20 s"
    assert f"{MINUS}5 s" in rows[0]["rel"] and "+13 s" in rows[2]["rel"]
    # The last seconds are still being stored (10-s blocks): the strip says so and fills in
    # by itself, to the whole 30 s of ECG (300 Hz) and pleth (100 Hz).
    await expect(strip.locator(".strip-status")).to_contain_text("still being stored")
    await page.wait_for_function("""() => {
        const rows = [...document.querySelectorAll('#strip svg.strip-row')];
        const n = (row, m) => Number(row.querySelector(`path.trace[data-metric="${m}"]`)
            ?.dataset.points || 0);
        return rows.length === 3 && rows.every((r) => n(r, 'ECG') >= 2990 && n(r, 'PLETH') >= 995);
    }""", timeout=60_000)
    await expect(strip.locator(".strip-status")).to_have_text("", timeout=10_000)
    rows = await page.evaluate(STRIP_ROWS)
    for r in rows:
        assert r["ecgBox"][2] > 249 and r["plethBox"][2] > 249, r

    # Ink, as pixels on the screen: the ECG's black and the pleth's blue in every row.
    for i in range(3):
        png = await strip.locator("svg.strip-row").nth(i).screenshot()
        assert ink_columns(png, (6, 29.5), 52, dark) > 0.97, f"row {i}: ECG"
        assert ink_columns(png, (30.5, 45), 52, blue) > 0.97, f"row {i}: pleth"

    # ECG at 10 mm/mV: the trace's height on paper is the signal's range in mV x 10.
    stored = await get(page, live, "/api/beds/bed-1/waveforms", since=t_onset - 10,
                       until=t_onset, metric="ECG")
    ecg = [v for s in stored["segments"] for v in s["samples"] if v is not None]
    assert rows[0]["ecgBox"][3] == pytest.approx((max(ecg) - min(ecg)) * 10, abs=0.05)
    # The strip fits the screen beside the alarm panel.
    box = await strip.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1600 - 340 + 1, box
    assert await strip.evaluate("s => s.scrollHeight <= s.clientHeight + 1")
    await strip.evaluate("s => s.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-strip-screen.png"))

    # Print: the button calls window.print(); the print layout has the strip alone, each
    # row 250 mm = 10 s at 25 mm/s, the grid's squares 1 mm and 5 mm.
    await strip.locator('[data-action="strip-print"]').click()
    assert await page.evaluate("window.__prints") == 1
    await page.emulate_media(media="print")
    for hidden in ("#beds", "#detail", ".alarm-panel", ".topbar", ".strip-tools"):
        await expect(page.locator(hidden)).to_be_hidden()
    await expect(strip).to_be_visible()
    year = time.strftime("%Y")
    await expect(strip.locator(".strip-printed")).to_contain_text(f"Printed {year}-")
    printed = await page.evaluate(STRIP_ROWS)
    assert [r["viewBox"] for r in printed] == ["0 0 250 52"] * 3
    mm = [r["width"] / PX_PER_MM for r in printed]
    assert mm == pytest.approx([250, 250, 250], abs=0.05)
    assert sum(mm) == pytest.approx(750, abs=0.1), "30 s of strip on 750 mm of paper"
    assert [m / r["seconds"] for m, r in zip(mm, printed, strict=True)] == pytest.approx(
        [25, 25, 25], abs=0.01), "25 mm/s"
    for r in printed:
        assert r["height"] / PX_PER_MM == pytest.approx(52, abs=0.05)
        v = [(b - a) / PX_PER_MM for a, b in zip(r["majorV"], r["majorV"][1:], strict=False)]
        h = [(b - a) / PX_PER_MM for a, b in zip(r["majorH"], r["majorH"][1:], strict=False)]
        assert len(v) == 50 and len(h) == 9, (len(v), len(h))
        assert v == pytest.approx([5] * 50, abs=0.01) and h == pytest.approx([5] * 9, abs=0.01)
        assert r["minor"] == 4 * 50 + 4 * 9, "four 1-mm lines inside each 5-mm square"
        # 0.2 s a major square: a second is 25 mm of paper.
        assert 5 / 25 == pytest.approx(r["seconds"] / len(v))
    await page.screenshot(path=str(ARTIFACTS / "dashboard-strip-print.png"), full_page=True)
    # As Chromium prints it: one A4 landscape page.
    pdf = await page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "dashboard-strip-print.pdf").write_bytes(pdf)
    pages = pypdf.PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) == 1, f"{len(pages)} pages"
    box = pages[0].mediabox
    assert (float(box.width) / 72 * 25.4, float(box.height) / 72 * 25.4) == pytest.approx(
        (297, 210), abs=0.5), "A4 landscape"
    await page.emulate_media(media="screen")

    # Earlier 10 s: the window from 20 s before the onset, from the bed's waveforms.
    await strip.locator('[data-action="strip-earlier"]').click()
    await expect(strip).to_have_attribute("data-since", f"{t_onset - 20:.3f}")
    await expect(strip).to_have_attribute("data-state", "loaded", timeout=5000)
    asked = [float(parse_qs(urlsplit(u).query)["since"][0]) for u in waveform_requests]
    assert any(abs(t - (t_onset - 20)) < 1e-3 for t in asked), (t_onset, asked)
    earlier = await page.evaluate(STRIP_ROWS)
    assert earlier[0]["rel"][0] == f"{MINUS}20 s" and earlier[2]["rel"][-1] == "+10 s"
    assert earlier[2]["onsetLabel"] == "0 s" and earlier[2]["onsetLine"] == 0
    assert earlier[0]["ecgPoints"] >= 2950 and earlier[0]["plethPoints"] >= 980, earlier[0]
    await expect(fact("window")).to_contain_text(f"({MINUS}20 s to +10 s)")
    await strip.evaluate("s => s.scrollTo(0, 0)")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-strip-earlier.png"))
    # Later, and back to the alarm's own window.
    await strip.locator('[data-action="strip-later"]').click()
    await strip.locator('[data-action="strip-later"]').click()
    await expect(strip).to_have_attribute("data-since", f"{t_onset:.3f}")
    await expect(strip).to_have_attribute("data-state", "loaded", timeout=5000)
    await strip.locator('[data-action="strip-alarm-window"]').click()
    await expect(strip).to_have_attribute("data-since", f"{t_onset - 10:.3f}")
    await expect(strip.locator('[data-action="strip-alarm-window"]')).to_be_disabled()

    # Escape closes the strip and keeps the bed detail.
    await page.keyboard.press("Escape")
    await expect(strip).to_be_hidden()
    await expect(page.locator("#detail")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"#bed/bed-1$"))
    await expect(button).to_be_focused()

    # The active alarm's own Strip, from the overview's alarm panel.
    await page.locator("a.back").click()
    await expect(page.locator("#beds")).to_be_visible()
    active = page.locator(f'.alarm-row[data-alarm-id="{alarm_id}"]')
    await active.locator('[data-action="strip"]').click()
    await expect(strip).to_have_attribute("data-state", "loaded", timeout=5000)
    await expect(strip).to_have_attribute("data-since", f"{t_onset - 10:.3f}")
    await expect(page.locator(".alarm-panel")).to_be_visible()  # alarms stay in view
    await page.screenshot(path=str(ARTIFACTS / "dashboard-strip-overview.png"))
    await page.emulate_media(media="print")
    await expect(page.locator("#beds")).to_be_hidden()
    await expect(page.locator(".alarm-panel")).to_be_hidden()
    await page.emulate_media(media="screen")
    await strip.locator('[data-action="strip-close"]').click()
    await expect(strip).to_be_hidden()
    assert not violations, violations
    assert not console_errors, console_errors


async def test_strip_draws_gaps_as_gaps_and_ecg_at_10_mm_per_mv(
    page: Page, tmp_path: Path, console_errors: list[str]
) -> None:
    """The drawing itself, on made-up segments: a null stretch and a missing stretch lift
    the pen (never a line across), a lone sample is a dot, a 1 mV step is 10 mm whatever
    the ECG's unit, and the pleth fits its channel."""
    unit = UnitConfig(name="SPU strip test", beds=[BedConfig(id="bed-1", label="Bed 1")])
    live = LiveServer(unit, db=str(tmp_path / "gaps.db"))
    await asyncio.to_thread(live.start)
    try:
        await live.sign_in(page)
        await page.goto(live.url + "/")
        await expect(page.locator('[data-bed="bed-1"]')).to_be_visible()
        got = await page.evaluate("""async () => {
            const { renderRow, pickTraces } = await import('/strip.js');
            const t0 = 1000;
            // 100 Hz: 0-4.99 s with 2.00-2.99 s null and one lone sample at 2.50 s; then
            // nothing for a second; then 6-9.99 s. A 1 mV square wave (0 / 1 mV, 1 s each).
            const ecg = (n, from) => Array.from({ length: n }, (_, i) =>
                Math.floor((from + i) / 100) % 2 ? 1 : 0);
            const first = ecg(500, 0).map((v, i) => (i >= 200 && i < 300 && i !== 250 ? null : v));
            const segs = (unit, k) => [
                { device_id: 'd', metric: 'ECG', time: t0, sample_rate: 100, unit,
                  samples: first.map((v) => (v === null ? null : v * k)) },
                { device_id: 'd', metric: 'ECG', time: t0 + 6, sample_rate: 100, unit,
                  samples: ecg(400, 600).map((v) => v * k) },
                { device_id: 'd', metric: 'PLETH', time: t0, sample_rate: 100, unit: '',
                  samples: Array.from({ length: 1000 }, (_, i) => 50 + 40 * Math.sin(i / 10)) },
            ];
            const out = {};
            for (const [unit, k] of [['mV', 1], ['uV', 1000]]) {
                const svg = renderRow({ t0, index: 0, onset: t0 + 5, priority: 'high',
                    rule: 'TEST', traces: pickTraces(segs(unit, k)), pendingAfter: Infinity });
                document.body.append(svg);
                const path = svg.querySelector('path.trace[data-metric="ECG"]');
                const pleth = svg.querySelector('path.trace[data-metric="PLETH"]').getBBox();
                const d = path.getAttribute('d');
                // x of every point, per subpath
                const subpaths = d.split('M').filter(Boolean).map((p) =>
                    [...p.matchAll(/(?:^|L)([\\d.]+) ([\\d.]+)/g)].map((m) => Number(m[1])));
                const b = path.getBBox();
                out[unit] = { points: Number(path.dataset.points),
                    dots: (d.match(/h0\\.01/g) || []).length,
                    subpaths: subpaths.map((xs) => [xs[0], xs[xs.length - 1], xs.length]),
                    height: b.height, pleth: [pleth.y, pleth.y + pleth.height],
                    onset: svg.querySelector('line.onset').getAttribute('x1') };
                svg.remove();
            }
            return out;
        }""")
    finally:
        await page.goto("about:blank")
        await asyncio.to_thread(live.stop)
    for unit in ("mV", "uV"):
        g = got[unit]
        # 0-1.99 s, the lone sample at 2.50 s, 3-4.99 s, 6-9.99 s: four pen strokes, nothing
        # drawn in 2-3 s (null) or 5-6 s (no data).
        assert g["subpaths"] == [[0, 49.75, 200], [62.5, 62.5, 1], [75, 124.75, 200],
                                 [150, 249.75, 400]], g
        assert g["dots"] == 1 and g["points"] == 801
        assert g["height"] == pytest.approx(10, abs=1e-6), "1 mV = 10 mm"
        assert 30 < g["pleth"][0] and g["pleth"][1] < 45, "the pleth in its channel"
        assert g["onset"] == "125"
    assert not console_errors, console_errors
