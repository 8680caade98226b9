"""The API docs page (/docs) in a real Chromium under the server's Content-Security-Policy:
our own page reads /openapi.json and lists every operation with its method, path, summary,
parameters, request body and responses; nothing comes from another origin."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from monitor.config import BedConfig, UnitConfig
from tests.conftest import ARTIFACTS
from tests.liveserver import LiveServer
from tests.test_dashboard_ui import STRICT_CSP, report_csp_violations

pytestmark = pytest.mark.browser


async def test_api_docs_page_lists_the_operations_under_the_csp(page: Page,
                                                                tmp_path: Path) -> None:
    live = LiveServer(UnitConfig(beds=[BedConfig(id="bed-1")]), db=str(tmp_path / "d.db"))
    await asyncio.to_thread(live.start)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        violations = await report_csp_violations(page)
        await live.sign_in(page)
        response = await page.goto(live.url + "/docs")
        assert response is not None and response.status == 200
        assert response.headers.get("content-security-policy") == STRICT_CSP
        spec = live.app.openapi()
        operations = [(m, p) for p, item in spec["paths"].items() for m in item]
        ops = page.locator("details.op")
        await expect(ops).to_have_count(len(operations), timeout=8000)
        change = page.locator('details.op[data-method="post"][data-path="/api/me/password"]')
        await change.locator("summary").click()
        await expect(change.locator(".op-body")).to_contain_text("current_password: string")
        await expect(change.locator('.responses [data-status="429"]')).to_be_visible()
        await expect(change.locator('.responses [data-status="422"]')).to_contain_text(
            "detail")
        beds = page.locator('details.op[data-method="get"][data-path="/api/beds/{bed_id}/'
                            'observations"]')
        await beds.locator("summary").click()
        await expect(beds.locator(".parameters")).to_contain_text("bed_id")
        await expect(beds.locator(".parameters")).to_contain_text("limit")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "apidocs.png"), full_page=False)
        assert all(url.startswith(live.url) for url in requests), requests
        assert not violations, violations
        assert not errors, errors
    finally:
        await page.goto("about:blank")
        await asyncio.to_thread(live.stop)
