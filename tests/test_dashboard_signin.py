"""Signing in to the central station in a real Chromium, against a live server fed by a
simulated monitor: the sign-in page as a nurse first meets it (wrong password, then the
right one), deep links kept through sign-in, signing out, a session ended on the server
while the dashboard is open (at the next action, or by the live stream's re-check), and what
a plain nurse may and may not do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from monitor.api.auth import LiveAuth
from tests import test_dashboard_ui as ui
from tests.conftest import ARTIFACTS
from tests.liveserver import TEST_PASSWORD
from tests.test_dashboard_ui import Bed, admit, open_dashboard, running_unit

pytestmark = pytest.mark.browser

console_errors = ui.console_errors
"""The page's console errors and failed requests (the fixture of the dashboard UI tests)."""

SPO2 = '[data-bed="bed-1"] [data-metric="SPO2"] .value'
SPO2_VALUE = re.compile(r"^(9\d|100)$")
LIVE_MS = 10_000
"""Waiting for live data where its promptness is not what is tested (a simulated device
that reconnects at the start should not fail a sign-out test); the 3 s promise is tested
in test_sign_in_as_a_new_user_would."""


def unexpected(errors: list[str], status: int) -> list[str]:
    """The errors other than the deliberate ``status`` answers: the failed response itself
    and Chromium's "Failed to load resource: ... status of <status>" console line."""
    return [e for e in errors if f"HTTP {status} " not in e and f"status of {status}" not in e]


async def fill_sign_in(page: Page, username: str, password: str) -> None:
    """Type into the sign-in form and press "Sign in", as a nurse would."""
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def expect_signed_in_as(page: Page, username: str, role: str, role_text: str) -> None:
    box = page.locator("#user-box")
    await expect(box).to_have_attribute("data-user", username)
    await expect(box).to_have_attribute("data-role", role)
    await expect(box.locator("#user-name")).to_have_text(username)
    await expect(box.locator("#user-role")).to_have_text(role_text)
    await expect(box.locator("#sign-out")).to_have_text("Sign out")


async def end_session_elsewhere(page: Page, base_url: str) -> None:
    """Another browser holding the same session cookie signs out: the session ends on the
    server while this page keeps its (now revoked) cookie."""
    browser = page.context.browser
    assert browser is not None
    other = await browser.new_context()
    try:
        await other.add_cookies(await page.context.cookies())
        res = await other.request.post(base_url + "/logout")
        assert res.ok and "error=signed_out" in res.url, (res.status, res.url)
    finally:
        await other.close()


async def test_sign_in_as_a_new_user_would(page: Page, tmp_path: Path, console_errors) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await page.set_viewport_size({"width": 1366, "height": 768})
        await page.goto(u.live.url + "/")
        # Anonymous: the dashboard is not served; the sign-in page says why.
        await expect(page).to_have_url(f"{u.live.url}/login?error=required&next=%2F")
        await expect(page.locator("input[name=username]")).to_be_visible()
        await expect(page.locator("input[name=username]")).to_be_focused()
        await expect(page.locator("input[name=password]")).to_be_visible()
        await expect(page.locator("input[name=password]")).to_have_attribute("type", "password")
        message = page.locator("#login-message")
        await expect(message).to_have_attribute("data-kind", "info")
        await expect(message).to_have_text("Sign in to see the central station.")
        await expect(page.locator("#login-next")).to_have_value("/")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "signin.png"))

        # A wrong password: back on the sign-in page with an error, no dashboard.
        await fill_sign_in(page, u.live.user, "not the password")
        await expect(page).to_have_url(re.compile(r"/login\?error=invalid&next=%2F$"))
        error = page.locator('#login-message[data-kind="error"]')
        await expect(error).to_be_visible()
        await expect(error).to_have_text("Wrong username or password.")
        await expect(error).to_have_attribute("role", "alert")
        await expect(page.locator("#user-box")).to_have_count(0)
        await expect(page.locator("[data-bed]")).to_have_count(0)
        assert not [c for c in await page.context.cookies() if c["name"] == "spu_session"]
        # The name is kept (never the password) and the cursor waits in the password.
        await expect(page.locator("input[name=username]")).to_have_value(u.live.user)
        await expect(page.locator("input[name=password]")).to_have_value("")
        await expect(page.locator("input[name=password]")).to_be_focused()
        await page.screenshot(path=str(ARTIFACTS / "signin-error.png"))

        # The right password: the dashboard, who is signed in, and live values.
        await fill_sign_in(page, u.live.user, TEST_PASSWORD)
        await expect(page).to_have_url(u.live.url + "/")
        await expect_signed_in_as(page, u.live.user, "charge_nurse", "charge nurse")
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=3000)
        cookie = next(c for c in await page.context.cookies() if c["name"] == "spu_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    # A wrong password is a redirect back to the form, not an HTTP error.
    assert not console_errors


async def test_deep_link_is_kept_through_sign_in(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed(), Bed()], page) as u:
        await page.goto(u.live.url + "/#bed/bed-2")
        await expect(page).to_have_url(re.compile(r"/login\?error=required&next=%2F#bed/bed-2$"))
        await expect(page.locator("#login-next")).to_have_value("/#bed/bed-2")
        await fill_sign_in(page, u.live.user, TEST_PASSWORD)
        await expect(page).to_have_url(u.live.url + "/#bed/bed-2")
        await expect(page.locator("body")).to_have_attribute("data-view", "detail")
        await expect(page.locator("#detail")).to_be_visible()
        await expect(page.locator("#beds")).to_be_hidden()
        await expect(page.locator(".detail .d-label")).to_have_text("Bed 2")
        await expect(page.locator(".admit-form")).to_be_visible(timeout=5000)
    assert not console_errors


async def test_sign_out(page: Page, tmp_path: Path, console_errors) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=LIVE_MS)
        await expect_signed_in_as(page, u.live.user, "charge_nurse", "charge nurse")
        token = next(c["value"] for c in await page.context.cookies()
                     if c["name"] == "spu_session")

        await page.locator("#sign-out").click()
        await expect(page).to_have_url(f"{u.live.url}/login?error=signed_out")
        message = page.locator("#login-message")
        await expect(message).to_have_attribute("data-kind", "info")
        await expect(message).to_have_text("You are signed out.")
        assert not [c for c in await page.context.cookies() if c["name"] == "spu_session"]

        # The dashboard asks to sign in again; the API refuses the browser ...
        await page.goto(u.live.url + "/")
        await expect(page).to_have_url(f"{u.live.url}/login?error=required&next=%2F")
        await expect(page.locator("input[name=password]")).to_be_visible()
        res = await page.request.get(u.live.url + "/api/beds")
        assert res.status == 401, await res.text()
        # ... and the old cookie, had anyone kept it: the session ended on the server.
        res = await page.request.get(u.live.url + "/api/me",
                                     headers={"Cookie": f"spu_session={token}"})
        assert res.status == 401, await res.text()
    assert not console_errors


async def test_session_ended_elsewhere_sends_the_next_action_to_sign_in(
    page: Page, tmp_path: Path, console_errors
) -> None:
    """The session is revoked on the server while the dashboard is open (here another
    browser holding the same cookie signs out): the next action is refused, the station goes
    to the sign-in page saying why, and signing in again comes back."""
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        tile = page.locator('[data-bed="bed-1"]')
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=LIVE_MS)

        await end_session_elsewhere(page, u.live.url)
        assert [c for c in await page.context.cookies() if c["name"] == "spu_session"], (
            "this station still holds its (now revoked) cookie"
        )

        await tile.locator('[data-action="audio-pause"]').click()
        await expect(page).to_have_url(re.compile(r"/login\?error=expired&next=%2F$"))
        message = page.locator('#login-message[data-kind="error"]')
        await expect(message).to_have_text("Your session ended. Please sign in again.")
        bed = await (await page.request.get(f"{u.live.url}/api/beds/bed-1",
                                            headers=u.live.headers)).json()
        assert bed["audio_paused_until"] is None, "the refused action must not have happened"

        await fill_sign_in(page, u.live.user, TEST_PASSWORD)
        await expect(page).to_have_url(u.live.url + "/")
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=LIVE_MS)
    errors = unexpected(console_errors, 401)
    assert not errors, errors
    assert any("HTTP 401 POST" in e and "/audio-pause" in e for e in console_errors), console_errors


async def test_session_ended_elsewhere_closes_a_watched_station(
    page: Page, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, console_errors
) -> None:
    """No action needed: the live stream re-checks its session (once a minute; here once a
    second) and closes when it ended; the station then goes to the sign-in page."""
    monkeypatch.setattr(LiveAuth, "RECHECK_S", 1.0)
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u, path="/#bed/bed-1")
        await expect(page.locator("body")).to_have_attribute("data-view", "detail")
        await expect(page.locator(".detail .d-label")).to_have_text("Bed 1")
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=LIVE_MS)
        await end_session_elsewhere(page, u.live.url)
        await expect(page).to_have_url(
            re.compile(r"/login\?error=expired&next=%2F%23bed%2Fbed-1$"), timeout=8000
        )
        await expect(page.locator('#login-message[data-kind="error"]')).to_have_text(
            "Your session ended. Please sign in again."
        )
        await expect(page.locator("#login-next")).to_have_value("/#bed/bed-1")
    errors = [e for e in unexpected(console_errors, 401) if "WebSocket" not in e]
    assert not errors, errors


async def test_nurse_acknowledges_but_may_not_change_alarm_settings(
    page: Page, tmp_path: Path, console_errors
) -> None:
    users = {"nurse.test": "charge_nurse", "nurse.only": "nurse"}
    async with running_unit(tmp_path, [Bed()], page, users=users) as u:
        await open_dashboard(page, u, user="nurse.only")
        await expect_signed_in_as(page, "nurse.only", "nurse", "nurse")
        await expect(page.locator('[data-bed="bed-1"] [data-metric="HR"] .value')).to_have_text(
            re.compile(r"^\d+$"), timeout=LIVE_MS
        )
        # A nurse admits and starts the infusion (as the nurse signed in on this page); with
        # no HR baseline yet, starting raises the low-priority NO_BASELINE alarm at once.
        await admit(page, u, "bed-1", "Role test", start=True)
        row = page.locator('[data-alarm-rule="NO_BASELINE"]')
        await expect(row).to_have_attribute("data-state", "active", timeout=10_000)
        await row.locator('[data-action="acknowledge"]').click()
        await expect(row).to_have_attribute("data-state", "acknowledged", timeout=5000)
        await expect(row.locator(".a-ack")).to_contain_text("nurse.only")
        log = await (await page.request.get(f"{u.live.url}/api/alarms/log?bed_id=bed-1")).json()
        acks = [e for e in log if e["event"] == "acknowledged"]
        assert acks and all(e["user"] == "nurse.only" for e in acks), log
        events = await (await page.request.get(f"{u.live.url}/api/beds/bed-1/events")).json()
        assert {e["recorded_by"] for e in events} <= {"nurse.only"}, events

        # Per-patient alarm settings need a charge nurse: refused, and the nurse is told.
        status = await page.evaluate("""async () => {
            const { act } = await import('/api.js');
            try {
                await act('/api/beds/bed-1/alarm-settings', {
                    reason: 'chronic low SpO2',
                    settings: { rules: { SPO2_LOW: { threshold: 88 } } },
                }, 'Alarm settings');
                return 200;
            } catch (err) {
                return err.status;
            }
        }""")
        assert status == 403
        await expect(page.locator(".toast").last).to_contain_text("not allowed")
        await expect(page.locator(".toast").last).to_contain_text("charge_nurse")
        await expect(page).to_have_url(u.live.url + "/")  # still signed in, still here
        settings = await (
            await page.request.get(f"{u.live.url}/api/beds/bed-1/alarm-settings")
        ).json()
        assert not settings["patient_overrides"], settings
    errors = unexpected(console_errors, 403)
    assert not errors, errors
    assert any("HTTP 403 POST" in e for e in console_errors), console_errors



async def test_change_your_own_password(page: Page, tmp_path: Path, console_errors) -> None:
    async with running_unit(tmp_path, [Bed()], page) as u:
        await open_dashboard(page, u)
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=LIVE_MS)
        await page.locator("#change-password").click()
        dialog = page.locator("#password-dialog")
        await expect(dialog).to_be_visible()
        fields = dialog.locator("input")
        message = dialog.locator("#password-message")

        async def submit(current: str, new: str, repeat: str) -> None:
            await fields.nth(0).fill(current)
            await fields.nth(1).fill(new)
            await fields.nth(2).fill(repeat)
            await dialog.get_by_role("button", name="Change password").click()

        await submit(TEST_PASSWORD, "new passphrase 1", "new passphrase 2")
        await expect(message).to_have_text("The two new passwords differ.")
        await submit("not my password", "new passphrase 1", "new passphrase 1")
        await expect(message).to_have_text("Not changed: the current password is wrong.")
        await expect(message).to_have_attribute("data-kind", "error")
        await submit(TEST_PASSWORD, "new passphrase 1", "new passphrase 1")
        await expect(message).to_have_text(re.compile(r"^Password changed\."))
        await page.screenshot(path=str(ARTIFACTS / "change-password.png"))
        await dialog.get_by_role("button", name="Close").click()
        await expect(dialog).to_be_hidden()
        # Still signed in here (a fresh session), and the new password is the one that works.
        await expect(page.locator(SPO2)).to_have_text(SPO2_VALUE, timeout=LIVE_MS)
        assert (await page.request.get(u.live.url + "/api/me")).ok
        await page.locator("#sign-out").click()
        await fill_sign_in(page, u.live.user, TEST_PASSWORD)
        await expect(page.locator('#login-message[data-kind="error"]')).to_be_visible()
        await fill_sign_in(page, u.live.user, "new passphrase 1")
        await expect(page).to_have_url(u.live.url + "/")
    assert not unexpected(console_errors, 403)
