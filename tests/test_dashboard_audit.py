"""The audit trail in the dashboard, for admins: the entries with who and when, and the
check of the hash chains; a nurse does not see it (and the API refuses her)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests import test_dashboard_ui as ui
from tests.conftest import ARTIFACTS
from tests.test_dashboard_ui import Bed, open_dashboard, running_unit

pytestmark = pytest.mark.browser

console_errors = ui.console_errors

USERS = {"admin.cy": "admin", "nurse.ada": "nurse"}


async def test_admins_read_the_audit_trail_and_check_its_chains(
    page: Page, tmp_path: Path, console_errors
) -> None:
    async with running_unit(tmp_path, [Bed()], page, users=USERS) as u:
        await open_dashboard(page, u, user="admin.cy")
        link = page.locator("#nav-audit")
        await expect(link).to_be_visible()
        await link.click()
        await expect(page.locator("body")).to_have_attribute("data-view", "audit")
        rows = page.locator(".audit-table tbody tr")
        await expect(rows.first).to_be_visible(timeout=5000)
        await expect(page.locator(".audit-table")).to_contain_text("sign in")
        await page.locator('[data-action="audit-verify"]').click()
        chains = page.locator(".audit-chains")
        await expect(chains).to_contain_text("intact", timeout=10_000)
        await expect(chains).to_have_attribute("data-state", "intact")
        # Filtered by action.
        await page.locator('input[name="action"]').fill("user_added")
        await page.locator('[data-action="audit-show"]').click()
        await expect(page.locator(".audit-table")).to_contain_text("user added")
        await expect(page.locator(".audit-table")).not_to_contain_text("sign in")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-audit.png"))
        # Someone with the database file changes an entry: the check says where.
        with sqlite3.connect(tmp_path / "ui.db") as conn:
            conn.execute("UPDATE audit_log SET user = 'mallory' WHERE id = 1")
        await page.locator('[data-action="audit-verify"]').click()
        await expect(chains).to_contain_text("BROKEN at audit_log entry 1", timeout=10_000)
        await expect(chains).to_have_attribute("data-state", "broken")
    assert not console_errors


async def test_nurses_do_not_see_the_audit_trail(page: Page, tmp_path: Path,
                                                 console_errors) -> None:
    async with running_unit(tmp_path, [Bed()], page, users=USERS) as u:
        await open_dashboard(page, u, user="nurse.ada")
        await expect(page.locator("#nav-audit")).to_be_hidden()
        r = await page.request.get(f"{u.live.url}/api/audit")
        assert r.status == 403
    assert not console_errors
