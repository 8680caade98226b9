"""The central-station dashboard in a real Chromium, against a live server fed by simulated
GE S/5 monitors on ptys: live values, waveforms, alarms, sound, bed detail, session flow,
server loss, and screenshots of the overview at the two station screen sizes. Every page
signs in first (the default test user); actions record that user."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

import tests.liveserver as liveserver_module
from monitor.config import BedConfig, DeviceConfig, UnitConfig
from simulators.ge_s5 import GeS5DeviceCodec
from simulators.nonin import NoninDeviceCodec
from simulators.port import PtyPort, run_scenario
from simulators.scenarios import SCENARIOS, Patient
from tests.conftest import ARTIFACTS
from tests.liveserver import TEST_PASSWORD, LiveServer

pytestmark = pytest.mark.browser

@dataclass
class Bed:
    scenario: str = "stable"
    speed: float = 1.0
    hr: float = 72.0
    spo2: float = 98.0
    sys: float = 122.0
    protocol: str = "ge_s5"


@dataclass
class Unit:
    live: LiveServer
    ports: list[PtyPort]
    sims: list[asyncio.Task[None]]
    db: str
    tmp: Path
    unit: UnitConfig
    extra: list[LiveServer] = field(default_factory=list)

    async def stop_device(self, i: int) -> None:
        """The device stops sending, then its cable is pulled."""
        self.sims[i].cancel()
        await asyncio.gather(self.sims[i], return_exceptions=True)
        self.ports[i].unplug()


DEVICE_OPTIONS = {"ge_s5": {"interval": 5}, "nonin": {"data_format": 7}}


def _codec(protocol: str) -> GeS5DeviceCodec | NoninDeviceCodec:
    """GE S/5: ECG 300 Hz + pleth 100 Hz; Nonin in data format 7: pleth 75 Hz only."""
    return GeS5DeviceCodec() if protocol == "ge_s5" else NoninDeviceCodec(data_format=7)


@contextlib.asynccontextmanager
async def running_unit(
    tmp_path: Path,
    beds: list[Bed],
    page: Page,
    users: dict[str, str] | None = None,
) -> AsyncIterator[Unit]:
    """Start simulators and a live server (with ``users``, username -> role; by default the
    test server's users); on exit leave the page first (so that its reconnection attempts
    to the stopped server are not counted as errors)."""
    ports = [PtyPort(link=str(tmp_path / f"tty{i}")) for i in range(len(beds))]
    sims = [
        asyncio.create_task(
            run_scenario(
                _codec(b.protocol),
                SCENARIOS[b.scenario],
                p,
                speed=b.speed,
                patient=Patient(seed=i + 1, hr=b.hr, spo2=b.spo2, sys=b.sys),
            )
        )
        for i, (b, p) in enumerate(zip(beds, ports, strict=True))
    ]
    unit = UnitConfig(
        name="SPU test",
        beds=[
            BedConfig(
                id=f"bed-{i + 1}",
                label=f"Bed {i + 1}",
                devices=[
                    DeviceConfig(
                        id=f"bed-{i + 1}-{b.protocol}",
                        protocol=b.protocol,
                        port=p.path,
                        options=DEVICE_OPTIONS[b.protocol],
                    )
                ],
            )
            for i, (b, p) in enumerate(zip(beds, ports, strict=True))
        ],
    )
    db = str(tmp_path / "ui.db")
    live = LiveServer(unit, db=db, users=users, reconnect_max_s=0.5)
    await asyncio.to_thread(live.start)
    u = Unit(live, ports, sims, db, tmp_path, unit)
    try:
        yield u
    finally:
        await page.goto("about:blank")
        for server in [live, *u.extra]:
            await asyncio.to_thread(server.stop)
        for s in sims:
            s.cancel()
        await asyncio.gather(*sims, return_exceptions=True)
        for p in ports:
            p.close()


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of the page; each test asserts none."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on(
        "response",
        lambda r: (
            errors.append(f"HTTP {r.status} {r.request.method} {r.url}")
            if r.status >= 400
            else None
        ),
    )
    return errors


async def open_dashboard(page: Page, u: Unit, path: str = "/", user: str | None = None) -> None:
    """Sign the page in (as ``user``, by default the server's first test user), then open
    the dashboard at ``path``."""
    await u.live.sign_in(page, user)
    await page.goto(u.live.url + path)


async def admit(
    page: Page, u: Unit, bed: str, label: str, day: int = 1, dose: float = 35, start: bool = False
) -> None:
    """Admit a patient through the API (as another station would)."""
    res = await page.request.post(
        f"{u.live.url}/api/beds/{bed}/admit",
        data={"patient_label": label, "infusion_day": day, "dose_mg": dose},
    )
    assert res.ok, await res.text()
    if start:
        res = await page.request.post(f"{u.live.url}/api/beds/{bed}/infusion/start", data={})
        assert res.ok, await res.text()


CANVAS_INK = """(sel) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let ink = 0, sum = 0;
    for (let i = 3; i < d.length; i += 4) {
        if (d[i] > 0) { ink++; sum = (sum * 31 + i) % 1000000007; }
    }
    return {ink, sum, w: c.width, h: c.height};
}"""


INK_AT_LEAST = """([sel, min]) => {
    const c = document.querySelector(sel);
    if (!c || !c.width) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] && ++n >= min) return true;
    return false;
}"""
NO_INK = """(sel) => {
    const c = document.querySelector(sel);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i]) return false;
    return true;
}"""


# ---- live values, waveforms, sound ----------------------------------------------------------


async def test_live_values_within_3_seconds(page: Page, tmp_path: Path, console_errors) -> None:
    async with running_unit(tmp_path, [Bed(hr=64), Bed(hr=90)], page) as u:
        await open_dashboard(page, u)
        tile = page.locator('[data-bed="bed-2"]')
        await expect(tile).to_be_visible()
        await expect(tile.locator('[data-metric="HR"] .value')).to_have_text(
            re.compile(r"^(8\d|9\d)$"), timeout=3000
        )
        await expect(tile.locator('[data-metric="SPO2"] .value')).to_have_text(
            re.compile(r"^(9\d|100)$"), timeout=3000
        )
        await expect(tile.locator('[data-metric="PR"] .value')).to_have_text(
            re.compile(r"^\d{2,3}$"), timeout=3000
        )
        await expect(tile.locator('[data-metric="NIBP"] .value')).to_have_text(
            re.compile(r"^\d{2,3}/\d{2,3}$"), timeout=3000
        )
        # A fresh reading: the next one in 15 minutes, said as a countdown.
        await expect(tile.locator(".nibp-times .next")).to_have_text(
            re.compile(r"^next in 1[45] min$")
        )
        await expect(tile.locator(".state")).to_have_text("connected")
        await expect(page.locator("#connection-banner")).to_be_hidden()
    assert not console_errors


async def test_waveform_sweeps_and_leaves_a_gap_when_data_stops(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed(), Bed()], page) as u:
        await open_dashboard(page, u)
        canvas = '[data-bed="bed-1"] canvas.strip-canvas'
        await expect(page.locator('[data-bed="bed-1"] .strip-label')).to_have_text(
            "ECG", timeout=4000
        )
        await page.wait_for_function(INK_AT_LEAST, arg=[canvas, 300], timeout=8000)
        first = await page.evaluate(CANVAS_INK, canvas)
        await asyncio.sleep(0.7)
        second = await page.evaluate(CANVAS_INK, canvas)
        assert first["ink"] > 200 and second["ink"] > 200
        assert first["sum"] != second["sum"], "the trace should sweep on"
        # The device stops: no invented line. After one sweep (5 s) the strip is empty.
        await u.stop_device(0)
        await page.wait_for_function(NO_INK, arg=canvas, timeout=9000)
        # ... while the other bed keeps drawing.
        other = await page.evaluate(CANVAS_INK, '[data-bed="bed-2"] canvas.strip-canvas')
        assert other["ink"] > 200
    assert not console_errors


async def test_strip_shows_pleth_when_the_bed_has_no_ecg(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed(), Bed(protocol="nonin")], page) as u:
        await open_dashboard(page, u)
        tile = page.locator('[data-bed="bed-2"]')
        await expect(tile.locator(".strip-label")).to_have_text("Pleth", timeout=5000)
        await page.wait_for_function(
            INK_AT_LEAST, arg=['[data-bed="bed-2"] canvas.strip-canvas', 300], timeout=8000
        )
        await expect(tile.locator('[data-metric="SPO2"] .value')).to_have_text(
            re.compile(r"^(9\d|100)$"), timeout=3000
        )
        await expect(page.locator('[data-bed="bed-1"] .strip-label')).to_have_text("ECG")
    assert not console_errors


async def test_null_samples_are_drawn_as_a_gap(page: Page, tmp_path: Path, console_errors) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        result = await page.evaluate("""async () => {
            const { Sweep } = await import('/waveform.js');
            const c = document.createElement('canvas');
            c.style.cssText = 'width:300px;height:60px;position:fixed;left:0;top:0';
            document.body.append(c);
            const s = new Sweep(c, { seconds: 4, range: [-1, 1] });
            s.resize();
            // 3 s of a 100 Hz sine with samples 100-199 missing (null), delivered in real
            // time in 100 ms batches as the server does; the sweep spans 4 s.
            const samples = Array.from({ length: 300 }, (_, i) =>
                i >= 100 && i < 200 ? null : Math.sin(i / 8));
            for (let t = 0; t <= 3600; t += 20) {
                const i = t / 10;
                if (t % 100 === 0 && i < 300) s.push(samples.slice(i, i + 10), 100, t);
                s.frame(t);
            }
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const cols = [];
            for (let x = 0; x < c.width; x++) {
                let n = 0;
                for (let y = 0; y < c.height; y++) if (d[(y * c.width + x) * 4 + 3]) n++;
                cols.push(n);
            }
            c.remove();
            const inked = cols.map((n, x) => n ? x : -1).filter((x) => x >= 0);
            const first = inked[0], last = inked[inked.length - 1];
            // the longest run of empty columns between the first and last inked ones
            let run = 0, longest = 0, emptyInside = 0;
            for (let x = first; x <= last; x++) {
                if (cols[x]) { run = 0; continue; }
                emptyInside++; run++; longest = Math.max(longest, run);
            }
            return { width: c.width, first, last, longest, emptyInside, inked: inked.length };
        }""")
        px = result["width"] / 400
        # 100 missing samples = 100 columns minus the line's round caps on each side
        assert 94 * px <= result["longest"] <= 101 * px, result
        assert result["emptyInside"] == result["longest"], (
            f"one gap only, elsewhere a line: {result}"
        )
        assert result["last"] - result["first"] >= 290 * px, result
    assert not console_errors


async def test_sound_off_is_visible_until_enabled_and_sound_test(
    page: Page, tmp_path: Path, console_errors
) -> None:
    # Chromium here may play without a gesture; make it behave like a locked-down browser.
    await page.add_init_script("""(() => {
        const Real = window.AudioContext;
        window.AudioContext = class extends Real {
            constructor(...a) { super(...a); this.suspend(); }
        };
    })()""")
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        button = page.locator("#sound-toggle")
        await expect(page.locator("body")).to_have_attribute("data-sound", "off")
        await expect(button).to_have_text("Sound is off — click to enable")
        await expect(button).to_be_visible()
        await button.click()
        await expect(page.locator("body")).to_have_attribute("data-sound", "on")
        await expect(button).to_have_text("Sound on")
        await expect(page.locator("body")).to_have_attribute("data-playing", "")
        before = int(await page.locator("body").get_attribute("data-pulses") or 0)
        await page.locator("#sound-test").click()
        await expect(page.locator("body")).to_have_attribute("data-sound-test", "playing")
        # high burst (10 pulses) at once, then medium (3) and low (1)
        after = int(await page.locator("body").get_attribute("data-pulses") or 0)
        assert after - before == 10
        await expect(page.locator("body")).to_have_attribute(
            "data-sound-test", "done", timeout=8000
        )
        assert int(await page.locator("body").get_attribute("data-pulses") or 0) - before == 14
    assert not console_errors


# ---- connection loss --------------------------------------------------------------------------


async def test_banner_on_server_loss_and_recovery(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        banner = page.locator("#connection-banner")
        hr = page.locator('[data-bed="bed-1"] [data-metric="HR"]')
        await expect(hr.locator(".value")).to_have_text(re.compile(r"^\d+$"), timeout=3000)
        await expect(banner).to_be_hidden()
        await asyncio.to_thread(u.live.stop)
        await expect(banner).to_be_visible(timeout=7000)
        await expect(banner).to_contain_text("lost")
        await expect(page.locator("body")).to_have_class(re.compile(r"\bdisconnected\b"))
        await expect(hr).to_have_class(re.compile(r"\bstale\b"))
        await expect(page.locator('[data-bed="bed-1"] .state')).to_have_text("no server")
        # The server comes back on the same address: the page reconnects by itself.
        monkeypatch.setattr(liveserver_module, "free_port", lambda: u.live.port)
        again = LiveServer(u.unit, db=u.db, reconnect_max_s=0.5)
        u.extra.append(again)
        await asyncio.to_thread(again.start)
        await expect(banner).to_be_hidden(timeout=8000)
        await expect(page.locator('[data-bed="bed-1"] .state')).to_have_text(
            "connected", timeout=8000
        )
        await expect(hr).not_to_have_class(re.compile(r"\bstale\b"), timeout=8000)
    # The browser logs its failed reconnection attempts while the server is down.
    assert not [e for e in console_errors if "WebSocket" not in e and "ERR_CONNECTION" not in e]


# ---- alarms (need the alarm backend) ----------------------------------------------------------


async def test_desaturation_alarm_is_shown_sounds_and_is_acknowledged(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed(), Bed(scenario="desaturation", speed=4.0)], page) as u:
        await open_dashboard(page, u)
        await admit(page, u, "bed-2", "Desat test", start=False)
        row = page.locator('[data-alarm-rule="SPO2_LOW"], [data-alarm-rule="SPO2_SEVERE"]').first
        await expect(row).to_be_visible(timeout=60_000)
        await expect(row).to_have_attribute("data-bed-id", "bed-2")
        await expect(row).to_have_attribute("data-state", "active")
        tile = page.locator('[data-bed="bed-2"]')
        await expect(tile).to_have_class(re.compile(r"\balarm-(medium|high)\b"))
        await expect(tile.locator(".alarm-text")).to_contain_text(re.compile("SpO", re.I))
        await expect(page.locator("body")).to_have_attribute(
            "data-playing", re.compile("^(medium|high)$")
        )
        await expect(page.locator("#alarm-announcer")).to_contain_text("Bed 2")
        # IEC 60601-1-8 visual signal: flashing, ~2 Hz for high, ~0.6 Hz for medium.
        period = await tile.evaluate("t => getComputedStyle(t).animationDuration")
        prio = await row.get_attribute("data-priority")
        assert period == {"high": "0.5s", "medium": "1.67s"}[prio], (prio, period)
        rule = await row.get_attribute("data-alarm-rule")
        target = page.locator(f'[data-alarm-rule="{rule}"]')
        await target.locator('[data-action="acknowledge"]').click()
        await expect(target).to_have_attribute("data-state", "acknowledged", timeout=5000)
        await expect(target.locator(".a-ack")).to_contain_text(u.live.user)
        # Acknowledged: audio stops for it; the colour stays, steady.
        await expect(page.locator("body")).not_to_have_attribute(
            "data-playing", re.compile("^(medium|high)$"), timeout=3000
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-ui-alarm.png"))
        log = await (await page.request.get(f"{u.live.url}/api/alarms/log?bed_id=bed-2")).json()
        assert any(e["event"] == "acknowledged" and e["user"] == u.live.user for e in log), log
    assert not console_errors


async def test_alarm_panel_order_and_audio_follow_priority(
    page: Page, tmp_path: Path, console_errors
) -> None:
    """Alarms as the contract describes them (injected into the page's state, so that the
    ordering and the audio choice are tested whatever the rules raise)."""
    async with running_unit(tmp_path, [Bed(), Bed()], page) as u:
        await open_dashboard(page, u)
        await expect(page.locator('[data-bed="bed-2"] [data-metric="HR"] .value')).to_have_text(
            re.compile(r"^\d+$"), timeout=3000
        )
        # The page reconnects once the beds are known (to ask for their waveforms), and the
        # new connection's snapshot replaces the alarms: inject only after it, i.e. once
        # waveforms flow. (Values alone may come from the first connection's snapshot.)
        for bed in ("bed-1", "bed-2"):
            await page.wait_for_function(
                INK_AT_LEAST, arg=[f'[data-bed="{bed}"] canvas.strip-canvas', 20], timeout=8000
            )
        await page.evaluate("""async () => {
            const { applyMessage, serverNow } = await import('/state.js');
            const now = serverNow();
            const alarm = (bed, id, rule, priority, ago, extra = {}) => ({
                alarm_id: `${bed}/${id}/${rule}`, bed_id: bed, rule, priority,
                technical: false, latching: false, onset: now - ago, value: 1, worst: 1,
                threshold: null, baseline: null, delay: 0, message: `${rule} test`,
                condition_active: true, acknowledged: false, acked_by: null, acked_at: null,
                escalated: false, ...extra });
            // Each bed's list in the server's order (highest priority, then newest first).
            applyMessage({ type: 'alarm', bed_id: 'bed-1', event: {}, audio_paused_until: null,
                alarms: [alarm('bed-1', 2, 'HIGH_OLD', 'high', 50),
                         alarm('bed-1', 1, 'LOW_NEW', 'low', 1)] });
            applyMessage({ type: 'alarm', bed_id: 'bed-2', event: {}, audio_paused_until: null,
                alarms: [alarm('bed-2', 4, 'HIGH_NEW', 'high', 10),
                         alarm('bed-2', 3, 'MED', 'medium', 5)] });
        }""")
        rows = page.locator(".alarm-row")
        await expect(rows).to_have_count(4)
        order = [await r.get_attribute("data-alarm-rule") for r in await rows.all()]
        assert order == ["HIGH_NEW", "HIGH_OLD", "MED", "LOW_NEW"]
        await expect(page.locator("body")).to_have_attribute("data-playing", "high")
        await expect(page.locator('[data-bed="bed-1"]')).to_have_class(
            re.compile(r"\balarm-high\b")
        )
        await expect(page.locator('[data-bed="bed-2"]')).to_have_class(
            re.compile(r"\balarm-high\b")
        )
        # Bed 1's high alarm acknowledged and bed 2 audio-paused (its high and medium alarms
        # fall silent): only bed 1's low alarm is left to sound.
        await page.evaluate("""async () => {
            const { patchAlarm, patchBed, serverNow } = await import('/state.js');
            patchAlarm('bed-1/2/HIGH_OLD',
                       { acknowledged: true, acked_by: 'x', acked_at: serverNow() });
            patchBed('bed-2', { audio_paused_until: serverNow() + 60 });
        }""")
        await expect(page.locator("body")).to_have_attribute("data-playing", "low")
        await expect(page.locator('[data-bed="bed-2"] .audio-paused')).to_have_text(
            re.compile(r"^audio paused (1:00|0:5\d)$")
        )
        await expect(page.locator('[data-alarm-rule="HIGH_OLD"]')).to_have_attribute(
            "data-state", "acknowledged"
        )
        await expect(page.locator('[data-bed="bed-1"]')).to_have_class(re.compile(r"\backed\b"))
    assert not console_errors


async def test_audio_pause_countdown(page: Page, tmp_path: Path, console_errors) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        tile = page.locator('[data-bed="bed-1"]')
        await expect(tile.locator('[data-metric="HR"] .value')).to_have_text(
            re.compile(r"^\d+$"), timeout=3000
        )
        await tile.locator('[data-action="audio-pause"]').click()
        paused = tile.locator(".audio-paused")
        await expect(paused).to_have_text(re.compile(r"^audio paused (2:00|1:5\d)$"), timeout=3000)
        first = await paused.text_content()
        await asyncio.sleep(2.2)
        assert await paused.text_content() != first, "the countdown runs"
        bed = await (await page.request.get(f"{u.live.url}/api/beds/bed-1")).json()
        assert bed["audio_paused_until"] is not None
        # The pause is recorded as the signed-in user's.
        log = await (await page.request.get(f"{u.live.url}/api/alarms/log?bed_id=bed-1")).json()
        assert [e["user"] for e in log if e["event"] == "audio_paused"] == [u.live.user], log
    assert not console_errors


async def test_nibp_countdown_says_next_in_due_now_and_overdue(
    page: Page, tmp_path: Path, console_errors
) -> None:
    """The time to the next NIBP never reads as a clock time ("next 13:50"), and the tile
    and the bed detail say the same."""
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        words = await page.evaluate("""async () => {
            const { nibpCountdown } = await import('/format.js');
            return [900, 830, 120, 119.5, 119, 45, 0.2, 0, -59.5, -60, -130, -3900]
                .map((s) => { const c = nibpCountdown(s); return `${c.kind}: ${c.text}`; });
        }""")
        assert words == [
            "next: next in 15 min", "next: next in 13 min", "next: next in 2 min",
            "next: next in 2 min", "next: next in 1:59", "next: next in 0:45",
            "next: next in 0:01", "due: due now", "due: due now",
            "overdue: overdue 1 min", "overdue: overdue 2 min", "overdue: overdue 1 h 05",
        ]
        tile = page.locator('[data-bed="bed-1"] .nibp-times .next')
        await expect(tile).to_have_text(re.compile(r"^next in 1[45] min$"), timeout=3000)
        await page.goto(u.live.url + "/#bed/bed-1")
        detail = page.locator('[data-detail-metric="NIBP"] .next')
        await expect(detail).to_have_text(re.compile(r"^next in 1[45] min$"), timeout=5000)
        await expect(page.locator('[data-detail-metric="NIBP"] .sub')).to_contain_text("ago")
        # Due in 13:50, in 0:45, 10 s ago, 2:10 ago (set and read at once, as the server
        # would send it).
        seen = await page.evaluate("""async () => {
            const { patchBed, serverNow } = await import('/state.js');
            const tile = document.querySelector('[data-bed="bed-1"] .nibp-times .next');
            const detail = document.querySelector('[data-detail-metric="NIBP"] .next');
            return [830, 45, -10, -130].map((left) => {
                patchBed('bed-1', { nibp_due_at: serverNow() + left });
                return [tile.textContent, tile.className, detail.textContent, detail.className];
            });
        }""")
        assert seen == [
            ["next in 13 min", "next", "next in 13 min", "next"],
            ["next in 0:45", "next", "next in 0:45", "next"],
            ["due now", "next due", "due now", "next due"],
            ["overdue 2 min", "next overdue", "overdue 2 min", "next overdue"],
        ]
        await expect(detail).to_have_css("color", "rgb(255, 214, 10)")  # yellow: --medium
    assert not console_errors


# ---- bed detail and session flow ---------------------------------------------------------------


async def test_admit_and_start_infusion_from_the_screen(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed(), Bed()], page) as u:
        await open_dashboard(page, u)
        await page.locator('[data-bed="bed-2"] [data-metric="HR"]').click()
        await expect(page).to_have_url(re.compile(r"#bed/bed-2$"))
        # The bed is free: a new patient is registered from the admit picker, then admitted.
        picker = page.locator(".admit-form")
        await expect(picker).to_be_visible()
        await picker.locator('[data-action="register-open"]').click()
        patient = picker.locator("form.patient-form")
        await patient.locator('[name="identifier"]').fill("MRN-1")
        await patient.locator('[name="family_name"]').fill("Doe")
        await patient.locator('[name="given_name"]').fill("J.")
        await patient.locator('[data-action="patient-register"]').click()
        await expect(picker.locator(".picked-next")).to_contain_text("No active course",
                                                                     timeout=5000)
        await picker.locator('[data-action="admit"]').click()
        await expect(page.locator(".d-patient")).to_contain_text("Doe, J. (MRN-1) · Day 1",
                                                                 timeout=5000)
        await expect(page.locator(".d-phase")).to_contain_text("Pre-infusion")
        # Start the infusion: the confirm dialog says the baseline freezes.
        await page.locator('[data-action="infusion-start"]').click()
        dialog = page.locator("#confirm-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog).to_contain_text("Start infusion now? The baseline will be frozen.")
        await dialog.locator('button[value="confirm"]').click()
        await expect(page.locator(".d-phase")).to_have_text(
            re.compile(r"^Infusion \d+:\d\d$"), timeout=5000
        )
        await expect(page.locator('[data-action="infusion-stop"]')).to_be_visible()
        await expect(page.locator(".timeline")).to_contain_text("Infusion start")
        # Chart a premedication (folded once the infusion runs).
        await page.locator("details.premed-box summary").click()
        chart = page.locator("form.premed-form")
        await chart.locator('[name="drug"]').select_option("midazolam")
        await chart.locator('[name="dose_mg"]').fill("3")
        await chart.locator('[data-action="premedication"]').click()
        await expect(page.locator(".timeline")).to_contain_text("midazolam 3 mg", timeout=5000)
        await expect(page.locator(".timeline")).to_contain_text(f"Admitted ({u.live.user})")
        # Re-baseline: the reason is mandatory.
        await page.locator(".rebaseline-box summary").click()
        rebase = page.locator("form.rebaseline-form")
        await rebase.locator('[name="hr"]').fill("70")
        await rebase.locator('[data-action="rebaseline"]').click()
        assert await rebase.locator('[name="reason"]').evaluate("i => !i.validity.valid")
        await rebase.locator('[name="reason"]').fill("first readings taken while anxious")
        await rebase.locator('[data-action="rebaseline"]').click()
        await expect(page.locator(".d-baseline")).to_contain_text("HR 70", timeout=5000)
        # Back to the overview: the tile shows the patient and the infusion time.
        await page.locator("a.back").click()
        tile = page.locator('[data-bed="bed-2"]')
        await expect(tile.locator(".patient")).to_have_text("Doe, J. · Day 1")
        await expect(tile.locator(".phase")).to_have_text(re.compile(r"^Infusion \d+:\d\d$"))
        events = await (await page.request.get(f"{u.live.url}/api/beds/bed-2/events")).json()
        assert [e["detail"]["drug"] for e in events] == ["midazolam"]
        # Every action is recorded as the signed-in user's.
        assert [e["recorded_by"] for e in events] == [u.live.user]
        baseline = await (await page.request.get(f"{u.live.url}/api/beds/bed-2/baseline")).json()
        assert baseline["hr"]["confirmed_by"] == u.live.user, baseline
        assert baseline["hr"]["reason"] == "first readings taken while anxious", baseline
        log = await (await page.request.get(f"{u.live.url}/api/alarms/log?bed_id=bed-2")).json()
        users = {e["event"]: e["user"] for e in log
                 if e["event"] in ("infusion_start", "rebaseline")}
        assert users == {"infusion_start": u.live.user, "rebaseline": u.live.user}, log
    assert not console_errors


async def test_bed_detail_shows_waveforms_trends_and_log(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed(hr=70)], page) as u:
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await open_dashboard(page, u)
        await admit(page, u, "bed-1", "A. Patient", day=2, dose=40, start=True)
        res = await page.request.post(
            f"{u.live.url}/api/beds/bed-1/events",
            data={"kind": "side_effect", "detail": {"effect": "dysphoria"}},
        )
        assert res.ok, await res.text()
        await page.goto(u.live.url + "/#bed/bed-1")
        await expect(page.locator(".detail .d-patient")).to_contain_text("A. Patient", timeout=5000)
        for wave in ("ECG", "PLETH"):
            sel = f'canvas[data-wave="{wave}"]'
            await page.wait_for_function(INK_AT_LEAST, arg=[sel, 300], timeout=8000)
        await asyncio.sleep(12)  # trends refresh every 10 s: let some history build up
        await expect(page.locator("canvas.trend-canvas")).to_have_attribute(
            "data-points", re.compile(r"^[1-9]\d*$"), timeout=12_000
        )
        await expect(page.locator(".alarm-log tbody tr").first).to_be_visible()
        await expect(page.locator(".timeline")).to_contain_text("Side effect: dysphoria")
        await expect(page.locator(".timeline")).to_contain_text("Infusion start")
        await expect(page.locator('[data-action="infusion-stop"]')).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-ui-bed-detail.png"))
    assert not console_errors


# ---- screenshots at the station's screen sizes ---------------------------------------------------


async def _overview_screenshot(
    page: Page, tmp_path: Path, n: int, width: int, height: int, name: str
) -> None:
    beds = [Bed(hr=60 + 3 * i, sys=112 + 2 * i) for i in range(n)]
    beds[1] = Bed(scenario="desaturation", speed=4.0)
    beds[2] = Bed(scenario="hr_rise", speed=3.0, hr=70)
    async with running_unit(tmp_path, beds, page) as u:
        await page.set_viewport_size({"width": width, "height": height})
        await open_dashboard(page, u)
        for i in range(n - 1):
            await admit(
                page,
                u,
                f"bed-{i + 1}",
                f"Patient {chr(65 + i)}. {'Longname' * (i % 3)}",
                day=1 + i % 10,
                start=i % 2 == 0,
            )
        await u.stop_device(n - 1)  # the last bed's monitor goes offline
        last = page.locator(f'[data-bed="bed-{n}"]')
        await expect(last).to_have_class(re.compile(r"\boffline\b"), timeout=8000)
        await expect(page.locator('[data-bed="bed-1"] [data-metric="HR"] .value')).to_have_text(
            re.compile(r"^\d+$"), timeout=3000
        )
        # The desaturating bed alarms (SPO2_LOW, then SPO2_SEVERE).
        await expect(page.locator('[data-alarm-rule^="SPO2_"]').first).to_be_visible(timeout=60_000)
        # Every tile fits the viewport: nothing to scroll at these sizes.
        for i in range(n):
            box = await page.locator(f'[data-bed="bed-{i + 1}"]').bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= height + 1, f"bed-{i + 1} is below the fold"
            assert box["x"] + box["width"] <= width + 1
        # No clipped numerals: every value fits its box.
        clipped = await page.evaluate("""() => [...document.querySelectorAll(
                '[data-bed] [data-metric] .value, [data-bed] [data-metric] .unit, '
                + '[data-bed] .bed-label')]
            .filter((v) => {
                const tile = v.closest('.bed').getBoundingClientRect();
                const r = v.getBoundingClientRect();
                return v.scrollWidth > v.clientWidth + 1 || r.right > tile.right - 2 ||
                    r.bottom > tile.bottom - 2;
            })
            .map((v) => v.closest('[data-bed]').dataset.bed + ':' + v.className + ':'
                        + v.textContent)""")
        assert not clipped, clipped
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / name))


async def test_overview_8_beds_at_1366x768(page: Page, tmp_path: Path, console_errors) -> None:
    await _overview_screenshot(page, tmp_path, 8, 1366, 768, "dashboard-ui-8-beds-1366x768.png")
    assert not console_errors


async def test_overview_16_beds_at_1920x1080(page: Page, tmp_path: Path, console_errors) -> None:
    await _overview_screenshot(page, tmp_path, 16, 1920, 1080, "dashboard-ui-16-beds-1920x1080.png")
    assert not console_errors


# ---- tile labels in full at the small station screen ---------------------------------------------

TILE_TEXT_PROBLEMS = """() => [...document.querySelectorAll('[data-bed]')].flatMap((tile) => {
    const box = tile.getBoundingClientRect();
    const where = (e) => `${tile.dataset.bed} .${e.className.split(' ')[0]}`;
    // Every label in full: not cut (no ellipsis, no overflow), inside the tile, not tiny.
    const texts = [...tile.querySelectorAll(
            '.bed-label, .patient, .state, .baseline, .phase, .audio-paused')]
        .filter((e) => e.textContent.trim())
        .flatMap((e) => {
            const r = e.getBoundingClientRect();
            const range = document.createRange();
            range.selectNodeContents(e);
            const text = range.getBoundingClientRect();
            const size = parseFloat(getComputedStyle(e).fontSize);
            const why = [];
            if (e.scrollWidth > e.clientWidth)
                why.push(`scrollWidth ${e.scrollWidth} > clientWidth ${e.clientWidth}`);
            if (e.scrollHeight > e.clientHeight + 1)
                why.push(`scrollHeight ${e.scrollHeight} > clientHeight ${e.clientHeight}`);
            if (text.left < r.left - 1 || text.right > r.right + 1)
                why.push(`text ${text.left}-${text.right} outside its box ${r.left}-${r.right}`);
            if (text.left < box.left || text.right > box.right || text.bottom > box.bottom + 1)
                why.push('text outside the tile');
            if (size < 11) why.push(`font ${size}px`);
            return why.length ? [`${where(e)}: "${e.textContent}": ${why.join(', ')}`] : [];
        });
    // A line that wraps takes room from the strip, never from its neighbours: the rows
    // do not overlap and their content does not spill out of them.
    const rows = [...tile.children];
    const stacked = rows.flatMap((e, i) => {
        const r = e.getBoundingClientRect();
        const why = [];
        if (i && r.top < rows[i - 1].getBoundingClientRect().bottom - 1)
            why.push('overlaps the row above');
        if (r.bottom > box.bottom + 1) why.push('below the tile');
        if (!e.classList.contains('strip')) {
            const out = [...e.querySelectorAll('*')].filter((c) => {
                const cr = c.getBoundingClientRect();
                return cr.height && (cr.top < r.top - 1 || cr.bottom > r.bottom + 1);
            });
            if (out.length) why.push(`.${out[0].className} spills out of its row`);
        }
        return why.length ? [`${where(e)}: ${why.join(', ')}`] : [];
    });
    return [...texts, ...stacked];
})"""


@pytest.mark.parametrize("n", [8, 16])
async def test_tile_names_and_baseline_in_full_at_1366x768(
    page: Page, tmp_path: Path, console_errors, n: int
) -> None:
    """The demo's labels at the small station screen ("Demo patient 10 · Day 10" on a bed
    whose device is offline, "NO BASELINE" beside the pre-infusion time) are shown in full,
    never cut with an ellipsis, and a line that has to wrap pushes nothing onto another."""
    beds = [Bed(hr=60 + 3 * i, sys=112 + 2 * i) for i in range(n - 1)] + [Bed(protocol="nonin")]
    async with running_unit(tmp_path, beds, page) as u:
        await page.set_viewport_size({"width": 1366, "height": 768})
        await open_dashboard(page, u)
        # As the demo does: every bed admitted, all but the last with a baseline and the
        # infusion running; the last (an oximeter only: no ECG, no NIBP) has no baseline.
        for i in range(n):
            bed = f"bed-{i + 1}"
            await admit(page, u, bed, f"Demo patient {i + 1}", day=1 + i % 10)
            if i == n - 1:
                continue
            res = await page.request.post(
                f"{u.live.url}/api/beds/{bed}/baseline",
                data={"reason": "demo: resting values", "hr": 100 + i, "sys": 140, "dia": 90},
            )
            assert res.ok, await res.text()
            res = await page.request.post(f"{u.live.url}/api/beds/{bed}/infusion/start", data={})
            assert res.ok, await res.text()
        # "Bed 10 Demo patient 10 · Day 10", its device lost and the alarm audio paused.
        offline = min(10, n - 1)
        await u.stop_device(offline - 1)
        res = await page.request.post(
            f"{u.live.url}/api/beds/bed-{offline}/audio-pause", data={"seconds": 120}
        )
        assert res.ok, await res.text()
        await expect(page.locator(f'[data-bed="bed-{offline}"]')).to_have_class(
            re.compile(r"\boffline\b"), timeout=8000
        )
        await expect(page.locator(f'[data-bed="bed-{offline}"] .state')).to_have_text(
            "device offline"
        )
        await expect(page.locator(f'[data-bed="bed-{offline}"] .audio-paused')).to_have_text(
            re.compile(r"^audio paused \d:\d\d$")
        )
        for i in range(n):
            tile = page.locator(f'[data-bed="bed-{i + 1}"]')
            await expect(tile.locator(".patient")).to_have_text(
                f"Demo patient {i + 1} · Day {1 + i % 10}"
            )
            await expect(tile.locator(".baseline")).to_have_text(
                "NO BASELINE" if i == n - 1 else f"Baseline HR {100 + i} · BP 140/90"
            )
        await expect(page.locator(f'[data-bed="bed-{n}"] .phase')).to_have_text(
            re.compile(r"^Pre-infusion · \d+:\d\d in bed$")
        )
        problems = await page.evaluate(TILE_TEXT_PROBLEMS)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"dashboard-ui-{n}-beds-labels-1366x768.png"))
        assert not problems, "\n".join(problems)
        # The longest bottom line there is: a provisional HR and BP baseline an hour into
        # the pre-infusion phase (shown as the server would send it, measured at once).
        problems = await page.evaluate(f"""async () => {{
            const {{ patchBed, serverNow, state }} = await import('/state.js');
            const bed = state.beds.get('bed-{n - 1}');
            patchBed('bed-{n - 1}', {{
                baseline: {{ hr: {{ hr: 100 }}, bp: {{ systolic: 140, diastolic: 90 }},
                            preview: true }},
                admission: {{ ...bed.admission, phase: 'pre_infusion',
                              infusion_started_at: null, admitted_at: serverNow() - 3723 }} }});
            const tile = document.querySelector('[data-bed="bed-{n - 1}"]');
            return [tile.querySelector('.baseline').textContent,
                    tile.querySelector('.phase').textContent, ...({TILE_TEXT_PROBLEMS})()];
        }}""")
        assert problems[:2] == [
            "Prov. baseline HR 100 · BP 140/90", "Pre-infusion · 1:02:03 in bed"
        ], problems
        assert not problems[2:], "\n".join(problems[2:])
    assert not console_errors


# ---- a strict Content-Security-Policy ------------------------------------------------------------

STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
"""The policy the server sends on every response: no inline script, style or handler."""

REPORT_CSP_VIOLATIONS = """document.addEventListener('securitypolicyviolation', (e) =>
    window.reportCspViolation([e.effectiveDirective, 'refused', e.blockedURI || 'inline', 'at',
        `${e.sourceFile || location.pathname}:${e.lineNumber}`, e.sample].join(' ').trim()));"""


async def report_csp_violations(page: Page) -> list[str]:
    """Every Content-Security-Policy violation the page's documents report, from now on."""
    violations: list[str] = []
    await page.expose_function("reportCspViolation", lambda text: violations.append(text))
    await page.add_init_script(REPORT_CSP_VIOLATIONS)
    return violations


async def prove_policy_in_force(page: Page, violations: list[str], errors: list[str]) -> None:
    """A style attribute set through setAttribute is refused, and reported: the policy is in
    force and the listener hears it. The deliberate violation is then forgotten."""
    seen, logged = len(violations), len(errors)
    await page.evaluate("""() => {
        const probe = document.createElement('div');
        probe.setAttribute('style', 'color: red');
        document.body.append(probe);
        probe.remove();
    }""")
    for _ in range(30):
        if len(violations) > seen:
            break
        await asyncio.sleep(0.1)
    assert len(violations) == seen + 1, f"the policy is not in force: {violations}"
    assert violations.pop().startswith("style-src-attr refused inline"), violations
    await asyncio.sleep(0.2)  # the browser's own console line about it
    errors[logged:] = [e for e in errors[logged:] if "Content Security Policy" not in e]


async def test_dashboard_and_sign_in_work_under_a_strict_csp(
    page: Page, tmp_path: Path, console_errors
) -> None:
    """Both pages under the policy the server sends: signing in through the form, the
    overview with live values and waveforms (the live WebSocket on the same origin is allowed
    by connect-src 'self'), the password dialog, the bed detail with trends, the session
    forms and the confirm dialog. The browser reports no violation."""
    async with running_unit(tmp_path, [Bed(), Bed()], page) as u:
        violations = await report_csp_violations(page)
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        # Not signed in: a link to a bed leads to the sign-in page.
        response = await page.goto(u.live.url + "/#bed/bed-2")
        assert response is not None
        assert response.headers.get("content-security-policy") == STRICT_CSP
        await expect(page).to_have_url(re.compile(r"/login\?error=required"))
        await expect(page.locator("#login-message")).to_have_text(
            "Sign in to see the central station."
        )
        await expect(page.locator("#login-next")).to_have_value("/#bed/bed-2")
        await prove_policy_in_force(page, violations, console_errors)
        await page.locator("#login-username").fill(u.live.user)
        await page.locator("#login-password").fill(TEST_PASSWORD)
        await page.locator("#login-submit").click()
        # The form's post and its redirect are allowed by form-action 'self'; back at the bed.
        await expect(page.locator(".detail .d-label")).to_have_text("Bed 2", timeout=8000)
        await admit(page, u, "bed-2", "CSP test")
        await page.locator("a.back").click()
        tile = page.locator('[data-bed="bed-2"]')
        await expect(tile.locator('[data-metric="HR"] .value')).to_have_text(
            re.compile(r"^\d+$"), timeout=5000
        )
        await expect(tile.locator(".patient")).to_have_text("CSP test · Day 1", timeout=5000)
        await page.wait_for_function(
            INK_AT_LEAST, arg=['[data-bed="bed-2"] canvas.strip-canvas', 300], timeout=8000
        )
        # Those values and waveforms came over the live stream, ws: on the same origin.
        assert any(url.startswith(u.live.ws_url + "/ws/live") for url in sockets), sockets
        # Layout set from script (CSSOM, allowed): the tile grid.
        assert await page.locator("#beds").evaluate("b => b.style.gridTemplateColumns") != ""
        await page.locator("#sound-toggle").click()
        await expect(page.locator("#sound-toggle")).to_have_text("Sound on")
        await page.locator("#change-password").click()
        await expect(page.locator("#password-dialog")).to_be_visible()
        await page.locator("#password-cancel").click()
        await expect(page.locator("#password-dialog")).to_be_hidden()
        # The bed detail: waveforms, trends, the session's forms.
        await tile.locator('[data-metric="SPO2"]').click()
        await expect(page.locator(".detail .d-patient")).to_contain_text("CSP test")
        await page.wait_for_function(
            INK_AT_LEAST, arg=['canvas[data-wave="ECG"]', 300], timeout=8000
        )
        await expect(page.locator("canvas.trend-canvas")).to_have_attribute(
            "data-points", re.compile(r"^\d+$"), timeout=8000
        )
        # The pain scales' 11 segments are laid out by a custom property set from script.
        segs = page.locator('[data-scale="pain"] .segs')
        columns = await segs.evaluate("s => getComputedStyle(s).gridTemplateColumns")
        assert len(columns.split()) == 11, columns
        await page.locator('[data-scale="pain"] .seg[data-value="4"]').click()
        await expect(page.locator('[data-scale="pain"] .seg-value')).to_have_text("4")
        await page.locator('[data-scale="pain"] .seg[data-value="4"]').click()  # clears it
        await expect(page.locator('[data-scale="pain"] .seg-value')).to_have_text("—")
        await page.locator('[data-action="infusion-start"]').click()
        await expect(page.locator("#confirm-dialog")).to_be_visible()
        await page.locator('#confirm-dialog button[value="cancel"]').click()
        await expect(page.locator("#confirm-dialog")).to_be_hidden()
        await page.keyboard.press("Escape")
        await expect(page.locator("#beds")).to_be_visible()
        await prove_policy_in_force(page, violations, console_errors)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-ui-strict-csp.png"))
        # Signing out is a form post too.
        await page.locator("#sign-out").click()
        await expect(page.locator("#login-message")).to_have_text("You are signed out.")
        assert not violations, "\n".join(violations)
    assert not console_errors
