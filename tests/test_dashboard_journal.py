"""The daily pain journal in the bed detail view, in a real Chromium against a live server
fed by a simulated monitor: charting an entry, seeing it in the timeline and the journal
table and through the API, amending it (one journal per session), refusing an inconsistent
entry on the client, and showing the server's refusal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests import test_dashboard_ui as ui
from tests.conftest import ARTIFACTS
from tests.test_dashboard_ui import Bed, Unit, admit, open_dashboard, running_unit

pytestmark = pytest.mark.browser

console_errors = ui.console_errors
"""The page's console errors and failed requests (the fixture of the dashboard UI tests)."""


async def open_bed_detail(page: Page, u: Unit, bed: str = "bed-1") -> Locator:
    """Open the bed's detail view; returns the journal form."""
    await page.goto(f"{u.live.url}/#bed/{bed}")
    await expect(page.locator(".detail .d-patient")).to_contain_text("J. Journal", timeout=5000)
    box = page.locator("details.journal-box")
    await expect(box).to_be_visible()
    if await box.get_attribute("open") is None:  # collapsed once the infusion has started
        await box.locator("summary").click()
    form = box.locator("form.journal-form")
    await expect(form).to_be_visible()
    return form


async def pick(form: Locator, scale: str, value: str) -> None:
    """Tap a segment of a scale."""
    await form.locator(f'[data-scale="{scale}"] .seg[data-value="{value}"]').click()


async def journal_events(page: Page, u: Unit, bed: str = "bed-1") -> list[dict]:
    res = await page.request.get(f"{u.live.url}/api/beds/{bed}/events")
    assert res.ok, await res.text()
    return [e for e in await res.json() if e["kind"] == "journal"]


async def test_pain_journal_is_charted_and_listed(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await open_dashboard(page, u)
        await admit(page, u, "bed-1", "J. Journal", day=2, dose=40)
        form = await open_bed_detail(page, u)
        await expect(page.locator(".journal-box summary")).to_have_text(
            "Pain journal (before the infusion)"
        )
        await expect(page.locator(".journal-table tbody")).to_contain_text(
            "No journal entry this session."
        )

        # Tapping the selected segment again clears it.
        await pick(form, "pain", "3")
        await expect(form.locator('[data-scale="pain"] .seg-value')).to_have_text("3")
        await pick(form, "pain", "3")
        await expect(form.locator('[data-scale="pain"] .seg-value')).to_have_text("—")
        assert await form.locator('input[name="pain"]:checked').count() == 0

        # Keyboard: one tab stop per scale, arrow keys move the choice.
        await pick(form, "pain", "6")
        await form.locator('[data-scale="pain"] input[value="6"]').press("ArrowRight")
        await expect(form.locator('[data-scale="pain"] .seg-value')).to_have_text("7")

        await pick(form, "worst_pain", "9")
        await pick(form, "least_pain", "5")
        await pick(form, "pain_24h", "8")
        await pick(form, "movement", "6")
        await pick(form, "affective", "2")
        await expect(form.locator('[data-scale="affective"] .seg-value')).to_have_text("2 moderate")
        await expect(form.locator('[data-scale="affective"] .seg[data-value="4"]')).to_contain_text(
            "very severe"
        )
        await pick(form, "punishing", "1")
        await form.locator('[name="relief_percent"]').fill("30")
        await form.locator('.chip:has(input[value="burning"])').click()
        await form.locator('.chip:has(input[value="aching"])').click()
        await pick(form, "skin_colour_change", "true")
        await form.locator('[name="note"]').fill("slept badly")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.locator(".journal-box").screenshot(
            path=str(ARTIFACTS / "dashboard-journal-form.png")
        )
        await form.locator('[data-action="journal"]').click()

        timeline = page.locator(".timeline")
        await expect(timeline).to_contain_text(
            "Pain journal: pain 7, worst 9, least 5, 24 h 8, movement 6, "
            "affective 2 (moderate), punishing 1, relief 30 %, aching/burning, "
            f"skin colour change — slept badly ({u.live.user})",
            timeout=5000,
        )
        # Saved, the form turns into the entry (one journal per session), with "Amend".
        box = page.locator("details.journal-box")
        await expect(box.locator(".journal-status")).to_contain_text("Pain journal saved")
        saved = box.locator(".journal-saved")
        await expect(saved).to_be_visible()
        await expect(form).to_have_count(0)
        await expect(saved.locator(".journal-scores")).to_contain_text("Pain now7")
        await expect(saved.locator(".saved-by")).to_contain_text(f"by {u.live.user}")

        rows = page.locator(".journal-table tbody tr")
        await expect(rows).to_have_count(1)
        cells = [await c.text_content() for c in await rows.first.locator("td").all()]
        assert re.fullmatch(r"\d\d:\d\d", cells[0]), cells
        assert cells[1:] == ["7", "9", "5", "8", "2", "6", "30\u00a0%", u.live.user], cells
        # The table fits the side panel: nothing to scroll sideways.
        wrap = page.locator(".journal-wrap")
        assert await wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1"), "table too wide"

        # Only what the nurse filled is sent.
        journal = await journal_events(page, u)
        assert len(journal) == 1
        assert journal[0]["recorded_by"] == u.live.user
        first = {
            "pain": 7,
            "worst_pain": 9,
            "least_pain": 5,
            "pain_24h": 8,
            "movement": 6,
            "affective": 2,
            "punishing": 1,
            "relief_percent": 30,
            "character": ["aching", "burning"],
            "skin_colour_change": True,
            "note": "slept badly",
        }
        assert journal[0]["detail"] == first

        # It is corrected by amending it: the form again, filled with the entry, and a reason.
        await saved.locator('[data-action="journal-amend"]').click()
        form = box.locator("form.journal-form")
        await expect(form.locator('[data-scale="pain"] .seg-value')).to_have_text("7")
        await expect(form.locator('[data-scale="affective"] .seg-value')).to_have_text("2 moderate")
        await expect(form.locator('[name="relief_percent"]')).to_have_value("30")
        await expect(form.locator('[name="note"]')).to_have_value("slept badly")
        await pick(form, "pain", "4")
        await pick(form, "movement", "8")
        await form.locator('[data-action="journal-amend-save"]').click()
        await expect(form.locator(".form-message")).to_have_text(
            "Give the reason for the amendment (at least 3 characters).")
        await expect(form.locator('[name="reason"]')).to_have_attribute("aria-invalid", "true")
        await form.locator('[name="reason"]').fill("scored again after the analgesic")
        await form.locator('[data-action="journal-amend-save"]').click()
        await expect(saved.locator(".journal-scores")).to_contain_text("Pain now4", timeout=5000)
        await expect(box.locator(".journal-status")).to_contain_text("Pain journal amended")
        await expect(saved.locator(".amended-note")).to_contain_text(
            f"by {u.live.user}: “scored again after the analgesic”")
        await expect(rows).to_have_count(1)
        await expect(rows.first.locator("td").nth(1)).to_have_text("4")  # reloaded
        cells = [await c.text_content() for c in await rows.first.locator("td").all()]
        assert cells[1:] == ["4", "9", "5", "8", "2", "8", "30\u00a0%", u.live.user], cells
        journal = await journal_events(page, u)
        assert [e["detail"] for e in journal] == [{**first, "pain": 4, "movement": 8}]
        # The original stays, marked amended, in the timeline and the history.
        old = timeline.locator('li[data-kind="journal"][data-status="amended"]')
        await expect(old).to_contain_text("pain 7")
        await expect(old).to_contain_text("amended")
        await expect(old).to_contain_text(f"by {u.live.user}: “scored again after the analgesic”")
        res = await page.request.get(f"{u.live.url}/api/beds/bed-1/events?history=true")
        history = [e for e in await res.json() if e["kind"] == "journal"]
        assert [(e["detail"]["pain"], e["amended"]) for e in history] == [(7, True), (4, False)]
        # A second journal is refused by the server too (another station, an old screen).
        res = await page.request.post(f"{u.live.url}/api/beds/bed-1/events",
                                      data={"kind": "journal", "detail": {"pain": 1}})
        assert res.status == 409 and "this session has its journal" in await res.text()

        # The picture: the session panel with the saved journal, timeline and table.
        await page.set_viewport_size({"width": 1920, "height": 2000})
        await page.locator(".journal-table").scroll_into_view_if_needed()
        await page.screenshot(path=str(ARTIFACTS / "dashboard-journal-bed-detail.png"))
    assert not console_errors


async def test_inconsistent_journal_is_refused_on_the_client(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await page.set_viewport_size({"width": 1366, "height": 768})
        await open_dashboard(page, u)
        await admit(page, u, "bed-1", "J. Journal", start=True)
        await page.goto(f"{u.live.url}/#bed/bed-1")
        # (Only the hash changes: the page may show the bed before the live stream brings
        # the infusion start. Wait for it.)
        await expect(page.locator(".d-phase")).to_have_text(
            re.compile(r"^Infusion \d+:\d\d$"), timeout=5000
        )
        # Taken before the infusion: once it runs, the journal is there but collapsed.
        await expect(page.locator("details.journal-box")).to_be_visible(timeout=5000)
        assert await page.locator("details.journal-box").get_attribute("open") is None
        form = await open_bed_detail(page, u)
        message = form.locator(".form-message")
        posts: list[str] = []
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)

        # Nothing filled.
        await form.locator('[data-action="journal"]').click()
        await expect(message).to_be_visible()
        await expect(message).to_contain_text("Enter at least one score")

        # Worst below least.
        await pick(form, "worst_pain", "3")
        await pick(form, "least_pain", "6")
        await form.locator('[data-action="journal"]').click()
        await expect(message).to_have_text(
            "Worst daily pain (3) cannot be less than least daily pain (6)."
        )
        await expect(form.locator('[data-scale="worst_pain"]')).to_have_attribute(
            "aria-invalid", "true"
        )
        await expect(form.locator('[data-scale="least_pain"]')).to_have_attribute(
            "aria-invalid", "true"
        )

        # Relief out of range.
        await pick(form, "worst_pain", "8")
        await form.locator('[name="relief_percent"]').fill("150")
        await form.locator('[data-action="journal"]').click()
        await expect(message).to_have_text("Overall relief must be a number from 0 to 100 %.")
        await expect(form.locator('[name="relief_percent"]')).to_have_attribute(
            "aria-invalid", "true"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        await form.locator('[data-action="journal"]').scroll_into_view_if_needed()
        await page.screenshot(path=str(ARTIFACTS / "dashboard-journal-refused.png"))
        assert not posts, f"nothing may be sent: {posts}"
        assert await journal_events(page, u) == []

        # Fixed: it goes through.
        await form.locator('[name="relief_percent"]').fill("40")
        await form.locator('[data-action="journal"]').click()
        await expect(page.locator(".timeline")).to_contain_text(
            "Pain journal: worst 8, least 6, relief 40 %", timeout=5000
        )
        await expect(page.locator(".journal-status")).to_contain_text("Pain journal saved")
        journal = await journal_events(page, u)
        assert [e["detail"] for e in journal] == [
            {"worst_pain": 8, "least_pain": 6, "relief_percent": 40}
        ]
    assert not console_errors


async def test_server_refusal_is_shown_in_the_form(
    page: Page, tmp_path: Path, console_errors
) -> None:
    """Something the client does not check (here a tampered segment value) comes back as a
    422 from the server: its text is shown in the form and nothing is charted."""
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        await admit(page, u, "bed-1", "J. Journal")
        form = await open_bed_detail(page, u)
        await form.locator('[data-scale="pain"] input[value="10"]').evaluate("i => i.value = '11'")
        await pick(form, "pain", "10")
        await form.locator('[data-action="journal"]').click()
        message = form.locator(".form-message")
        await expect(message).to_contain_text("the server refused the entry", timeout=5000)
        await expect(message).to_contain_text("detail.pain: must be a number from 0 to 10")
        assert await journal_events(page, u) == []
    # The refused POST is the only error, as expected.
    unexpected = [e for e in console_errors if "422" not in e]
    assert not unexpected, unexpected
    assert any("HTTP 422 POST" in e for e in console_errors), console_errors
