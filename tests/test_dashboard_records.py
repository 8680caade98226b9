"""The records from the screen, in a real Chromium against a live server fed by simulated
GE S/5 monitors on ptys: a patient registered (and refused first, next to the field), their
course opened, admitted by picking, premedication off the plan, the journal saved and
amended, a side effect charted and voided, the infusion started with another dose,
paused, resumed and stopped, the discharge, the past session read back with its trends,
NIBP readings and alarm log, a follow-up journal; and the unit report of a cohort imported
from the screen by a charge nurse."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from monitor.records.cohort import write_cohort
from monitor.reports.statistics import unit_report
from simulators.scenarios import SCENARIOS
from tests import test_dashboard_ui as ui
from tests.conftest import ARTIFACTS, MS
from tests.study_cohort import study_cohort
from tests.test_dashboard_ui import INK_AT_LEAST, Bed, Unit, open_dashboard, running_unit

pytestmark = pytest.mark.browser

console_errors = ui.console_errors
"""The page's console errors and failed requests (the fixture of the dashboard UI tests)."""

USERS = {"nurse.ada": "nurse", "dr.lee": "charge_nurse"}
NIBP_EVERY_S = 15.0


@pytest.fixture
def nibp_often(monkeypatch: pytest.MonkeyPatch) -> str:
    """A resting patient whose cuff measures every 15 s, so that a short session has NIBP
    readings of its own."""
    stable = SCENARIOS["stable"]
    times = tuple(float(t) for t in range(10, int(stable.period), int(NIBP_EVERY_S)))
    monkeypatch.setitem(SCENARIOS, "records", dataclasses.replace(stable, name="records",
                                                                  nibp_times=times))
    return "records"


NOTHING_CUT = """() => [...document.querySelectorAll(
        '.records-page th, .records-page td, .records-page dd, .records-page h2')]
    .filter((c) => c.scrollWidth > c.clientWidth + 1)
    .concat([...document.querySelectorAll('.records-page .table-wrap')]
        .filter((w) => w.scrollWidth > w.clientWidth + 1))
    .map((c) => c.className + ': ' + c.textContent.slice(0, 60))"""
"""Cells, facts and tables of a records view that do not fit (cut or scrolling sideways)."""


def shot(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / name)


async def confirm(page: Page, text: str | None = None) -> None:
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    if text:
        await expect(dialog).to_contain_text(text)
    await dialog.locator('button[value="confirm"]').click()
    await expect(dialog).to_be_hidden()


async def give_reason(page: Page, reason: str | None, expected: str | None = None) -> None:
    """Answer the reason dialog (None: keep what it proposes)."""
    dialog = page.locator("#reason-dialog")
    await expect(dialog).to_be_visible()
    if expected is not None:
        await expect(page.locator("#reason-input")).to_have_value(expected)
    if reason is not None:
        await page.locator("#reason-input").fill(reason)
    await page.locator("#reason-ok").click()
    await expect(dialog).to_be_hidden()


async def pick(form: Locator, scale: str, value: str) -> None:
    await form.locator(f'[data-scale="{scale}"] .seg[data-value="{value}"]').click()


async def api(page: Page, u: Unit, path: str) -> object:
    res = await page.request.get(u.live.url + path)
    assert res.ok, await res.text()
    return await res.json()


async def register_patient(page: Page) -> int:
    """Register from the Patients view: refused first (a birth date in the future, named by
    the server), then registered; returns the new patient's id."""
    await page.locator("#nav-patients").click()
    await expect(page).to_have_url(re.compile(r"#patients$"))
    view = page.locator(".patients-page")
    await expect(view.locator("h2")).to_have_text("Patients")
    await expect(view.locator(".patients-table")).to_contain_text("No patient registered yet.")
    await view.locator('[data-action="register-open"]').click()
    form = view.locator("form.patient-form")
    await form.locator('[name="identifier"]').fill("MRN-0042")
    await form.locator('[name="family_name"]').fill("Rivera")
    await form.locator('[name="given_name"]').fill("Ana")
    await form.locator('[name="birth_date"]').fill("2090-04-12")
    await form.locator('[name="sex"]').select_option("F")
    await form.locator('[name="weight_kg"]').fill("70.5")
    await form.locator('[name="height_cm"]').fill("165")
    await form.locator('[name="asa_class"]').select_option("2")
    await form.locator('[name="crps_type"]').select_option("I")
    await form.locator('[name="affected_limb"]').select_option("left_arm")
    await form.locator('[name="medication"]').first.fill("gabapentin 300 mg")
    await form.locator('[data-action="medication-add"]').click()
    await form.locator('[name="medication"]').nth(1).fill("amitriptyline 25 mg")
    await form.locator('[data-action="patient-register"]').click()
    # The server's 422 names birth_date: shown under that field, which is marked.
    error = form.locator('[data-field="birth_date"] .field-error')
    await expect(error).to_contain_text("is not a plausible birth date", timeout=5000)
    await expect(form.locator('[name="birth_date"]')).to_have_attribute("aria-invalid", "true")
    await expect(form.locator('[name="birth_date"]')).to_be_focused()
    await page.screenshot(path=shot("records-register-refused.png"))
    await form.locator('[name="birth_date"]').fill("1981-04-12")
    await form.locator('[data-action="patient-register"]').click()
    await expect(page).to_have_url(re.compile(r"#patient/\d+$"), timeout=5000)
    return int(page.url.rsplit("/", 1)[1])


async def test_a_course_run_from_the_screen(
    page: Page, tmp_path: Path, console_errors, nibp_often: str
) -> None:
    beds = [Bed(scenario=nibp_often, hr=72), Bed(scenario=nibp_often, hr=66)]
    async with running_unit(tmp_path, beds, page, users=USERS, csp=ui.STRICT_CSP) as u:
        violations = await ui.report_csp_violations(page)  # the pages' policy (no inline)
        await page.set_viewport_size({"width": 1366, "height": 768})
        await open_dashboard(page, u)
        await expect(page.locator('[data-bed="bed-1"]')).to_be_visible()
        await ui.prove_policy_in_force(page, violations, console_errors)
        pid = await register_patient(page)
        patient = await api(page, u, f"/api/patients/{pid}")
        assert patient["medications"] == ["gabapentin 300 mg", "amitriptyline 25 mg"]
        assert (patient["sex"], patient["asa_class"], patient["crps_type"]) == ("F", 2, "I")
        assert patient["created_by"] == "nurse.ada"

        # The patient's page: identity; edit (only what changed is sent); open a course.
        view = page.locator(".patient-page")
        await expect(view.locator("h2")).to_have_text("Rivera, Ana")
        await expect(view.locator(".identity")).to_contain_text("Left arm")
        await view.locator('[data-action="patient-edit"]').click()
        await view.locator('form.patient-form [name="weight_kg"]').fill("69")
        async with page.expect_request(lambda r: r.method == "PATCH") as patch:
            await view.locator('[data-action="patient-save"]').click()
        assert (await patch.value).post_data_json == {"weight_kg": 69}
        await expect(view.locator(".identity")).to_contain_text("69 kg", timeout=5000)
        await view.locator('[data-action="course-open"]').click()
        await confirm(page, "40 mg on day 1")
        days = view.locator(".course-days tbody tr")
        await expect(days).to_have_count(10, timeout=5000)
        await expect(days.first).to_contain_text("40 mg")
        await expect(days.first).to_contain_text("next")
        await expect(days.last).to_contain_text("80 mg")
        await expect(view.locator(".course-done")).to_have_text(
            "0 of 10 days done · next: day 1, 40 mg")
        await page.screenshot(path=shot("records-patient-course.png"))
        assert not await page.evaluate(NOTHING_CUT)

        # The list finds the patient by name and by identifier.
        await page.goto(u.live.url + "/#patients")
        search = page.locator('.patients-page [name="q"]')
        for q in ("river", "0042"):
            await search.fill(q)
            await expect(page.locator(".patients-table tbody tr")).to_have_count(1)
            await expect(page.locator(".patients-table tbody")).to_contain_text("Rivera, Ana")

        # A second station has Bed 2 open and picks the same patient meanwhile.
        other = await page.context.new_page()
        await other.set_viewport_size({"width": 1366, "height": 768})
        await other.goto(u.live.url + "/#bed/bed-2")
        elsewhere = other.locator(".admit-form")
        await elsewhere.locator('[name="q"]').fill("Rivera")
        await elsewhere.locator('[data-action="pick"]', has_text="Rivera, Ana").click()
        await expect(elsewhere.locator(".picked-next")).to_have_text(
            "Day 1 of 10 · planned dose 40 mg")

        # Admission by picking the patient: the next course day and its planned dose.
        await page.goto(u.live.url + "/#bed/bed-1")
        picker = page.locator(".admit-form")
        await picker.locator('[name="q"]').fill("0042")
        await picker.locator('[data-action="pick"]', has_text="Rivera, Ana").click()
        await expect(picker.locator(".picked-next")).to_have_text(
            "Day 1 of 10 · planned dose 40 mg")
        await picker.locator('[data-action="admit"]').click()
        await expect(page.locator(".d-patient")).to_contain_text(
            "Rivera, Ana (MRN-0042) · Day 1", timeout=5000)
        await expect(page.locator(".d-dose")).to_have_text("Day 1 · planned 40 mg")
        link = await page.locator('.d-links a[href^="#session/"]').get_attribute("href")
        session_id = int(str(link).rsplit("/", 1)[1])

        # The other station admits too: the server's 409 is said there, with the way to her.
        await elsewhere.locator('[data-action="admit"]').click()
        await expect(elsewhere.locator(".form-message")).to_have_text(
            "Not admitted: MRN-0042 is already in Bed 1. Open Bed 1", timeout=5000)
        await expect(elsewhere.locator('.form-message a[href="#bed/bed-1"]')).to_be_visible()
        await other.screenshot(path=shot("records-admit-refused.png"))
        # Picked again there, she is shown in Bed 1 and cannot be admitted.
        await elsewhere.locator('[data-action="pick-again"]').click()
        choice = elsewhere.locator('[data-action="pick"]', has_text="Rivera, Ana")
        await elsewhere.locator('[name="q"]').fill("Rivera ")
        await expect(choice).to_contain_text("in Bed 1")
        await choice.click()
        await expect(elsewhere.locator(".picked-next")).to_have_text(
            "In Bed 1 now: discharge there first.")
        await expect(elsewhere.locator('[data-action="admit"]')).to_be_disabled()
        # A new patient registered from the picker is picked and can be admitted.
        await elsewhere.locator('[data-action="register-open"]').click()
        new = elsewhere.locator("form.patient-form")
        await new.locator('[name="identifier"]').fill("MRN-0043")
        await new.locator('[name="family_name"]').fill("Okafor")
        await new.locator('[data-action="patient-register"]').click()
        await expect(elsewhere.locator(".picked-name")).to_contain_text("Okafor", timeout=5000)
        await expect(elsewhere.locator(".picked-next")).to_contain_text("No active course")
        await elsewhere.locator('[data-action="admit"]').click()
        await expect(other.locator(".d-patient")).to_contain_text("Okafor", timeout=5000)
        await other.locator('[data-action="discharge"]').click()
        await confirm(other, "the session is cancelled and day 1 stays open")
        await expect(other.locator(".admit-form")).to_be_visible(timeout=5000)
        await other.close()

        await page.goto(u.live.url + "/#bed/bed-1")
        await expect(page.locator(".d-phase")).to_contain_text("Pre-infusion", timeout=5000)
        timeline = page.locator(".timeline")

        # Premedication off the plan: refused by the server, next to the reason; then given.
        premed = page.locator("form.premed-form")
        await premed.locator('[name="drug"]').select_option("midazolam")
        await expect(premed.locator('[name="dose_mg"]')).to_have_value("2")
        await expect(premed.locator('[name="route"]')).to_have_value("IV")
        await expect(premed.locator(".plan-hint")).to_have_text("Plan: midazolam 2–4 mg IV.")
        await premed.locator('[name="dose_mg"]').fill("5")
        await expect(premed.locator(".plan-hint")).to_contain_text("Off the plan")
        await premed.locator('[data-action="premedication"]').click()
        refusal = premed.locator('[data-field="detail.deviation_reason"] .field-error')
        await expect(refusal).to_contain_text("is off the plan", timeout=5000)
        await expect(premed.locator('[name="deviation_reason"]')).to_be_focused()
        await premed.locator('[name="deviation_reason"]').fill("very anxious today")
        await premed.locator('[data-action="premedication"]').click()
        await expect(timeline).to_contain_text(
            "Premedication: midazolam 5 mg IV (off the plan: very anxious today) (nurse.ada)",
            timeout=5000)
        await premed.locator('[name="drug"]').select_option("clonidine")
        await premed.locator('[data-action="premedication"]').click()
        await expect(timeline).to_contain_text("Premedication: clonidine 0.1 mg PO", timeout=5000)

        # The journal: saved, the form becomes the entry; amended with a reason.
        box = page.locator("details.journal-box")
        form = box.locator("form.journal-form")
        await pick(form, "pain", "7")
        await pick(form, "worst_pain", "9")
        await pick(form, "least_pain", "5")
        await form.locator('[data-action="journal"]').click()
        saved = box.locator(".journal-saved")
        await expect(saved).to_be_visible(timeout=5000)
        await expect(box.locator(".journal-status")).to_contain_text("Pain journal saved")
        await expect(saved.locator(".journal-scores")).to_contain_text("Least daily pain5")
        await expect(form).to_have_count(0)
        await saved.locator('[data-action="journal-amend"]').click()
        form = box.locator("form.journal-form")
        await expect(form.locator('[data-scale="pain"] .seg-value')).to_have_text("7")
        await pick(form, "least_pain", "4")
        await form.locator('[data-action="journal-amend-save"]').click()
        await expect(form.locator(".form-message")).to_have_text(
            "Give the reason for the amendment (at least 3 characters).")
        await form.locator('[name="reason"]').fill("patient corrected least pain")
        await form.locator('[data-action="journal-amend-save"]').click()
        await expect(saved.locator(".journal-scores")).to_contain_text("Least daily pain4",
                                                                      timeout=5000)
        await expect(saved.locator(".amended-note")).to_contain_text(
            "by nurse.ada: “patient corrected least pain”")
        old = timeline.locator('li[data-kind="journal"][data-status="amended"]')
        await expect(old).to_contain_text("least 5")
        await expect(old).to_contain_text("amended")
        current = timeline.locator('li[data-kind="journal"][data-status="current"]')
        await expect(current).to_contain_text("least 4")

        # A side effect: a resolution before the onset is refused at its field; charted; voided.
        # (Folded before the infusion, when side effects are rare.)
        await page.locator("details.side-effect-box summary").click()
        effect = page.locator("form.side-effect-form")
        await effect.locator('[name="effect"]').select_option("headache")
        await effect.locator('[data-scale="severity"] .seg[data-value="moderate"]').click()
        await effect.locator('[name="intervention"]').fill("paracetamol 1 g PO")
        onset = await effect.locator('[name="onset"]').input_value()
        h, m = map(int, onset.split(":"))
        await effect.locator('[name="resolved_at"]').fill(f"{(h - 1) % 24:02d}:{m:02d}")
        await effect.locator('[data-action="side-effect"]').click()
        resolved = effect.locator('[data-field="detail.resolved_at"] .field-error')
        await expect(resolved).to_contain_text("must not be before the onset", timeout=5000)
        await effect.locator('[name="resolved_at"]').fill("")
        await effect.locator('[data-action="side-effect"]').click()
        charted = timeline.locator('li[data-kind="side_effect"]')
        await expect(charted).to_contain_text(
            "Side effect: headache, moderate; intervention: paracetamol 1 g PO", timeout=5000)
        await charted.locator('[data-action="void"]').click()
        await give_reason(page, "charted on the wrong patient")
        await expect(charted).to_have_attribute("data-status", "voided", timeout=5000)
        await expect(charted).to_contain_text("voided")
        await expect(charted).to_contain_text("by nurse.ada: “charted on the wrong patient”")
        await expect(charted.locator('[data-action="void"]')).to_have_count(0)

        # The infusion with another dose: its reason is asked for by the server, then given.
        start = page.locator("form.start-form")
        await expect(start.locator(".dose-plan")).to_have_text("Day 1 · planned dose 40 mg")
        await start.locator('[name="deviate"]').check()
        await start.locator('[name="dose_mg"]').fill("45")
        await start.locator('[data-action="infusion-start"]').click()
        await confirm(page, "Dose: 45 mg instead of the planned 40 mg.")
        await expect(start.locator('[data-field="deviation_reason"] .field-error')).to_contain_text(
            "needs a deviation reason", timeout=5000)
        await start.locator('[name="deviation_reason"]').fill("doctor's order")
        await start.locator('[data-action="infusion-start"]').click()
        await confirm(page, "Start infusion now? The baseline will be frozen.")
        await expect(page.locator(".d-phase")).to_have_text(re.compile(r"^Infusion \d+:\d\d$"),
                                                            timeout=5000)
        await expect(page.locator(".d-dose")).to_have_text("Day 1 · 45 mg given (planned 40 mg)")
        await expect(timeline).to_contain_text("Infusion start (nurse.ada): 45 mg — doctor's order")
        await page.set_viewport_size({"width": 1366, "height": 2200})
        await page.screenshot(path=shot("records-bed-detail-charted.png"))
        await page.set_viewport_size({"width": 1366, "height": 768})

        # Pause with a reason, resume, stop (completed unless said otherwise).
        await page.locator('[data-action="infusion-pause"]').click()
        await give_reason(page, "nausea")
        await expect(page.locator(".d-phase")).to_have_text(re.compile(r"^Paused \d+:\d\d$"),
                                                            timeout=5000)
        await expect(page.locator(".d-infusion")).to_contain_text("paused since", timeout=5000)
        await expect(page.locator(".d-infusion")).to_contain_text("(nausea)")
        tile_phase = page.locator('[data-bed="bed-1"] .phase')
        await expect(tile_phase).to_have_attribute("data-phase", "paused")
        await page.locator('[data-action="infusion-resume"]').click()
        await confirm(page, "Resume the infusion now?")
        await expect(page.locator(".d-phase")).to_have_text(re.compile(r"^Infusion "), timeout=5000)
        await page.locator('[data-action="infusion-stop"]').click()
        await give_reason(page, None, expected="completed")
        await expect(page.locator(".d-phase")).to_contain_text("Post-infusion", timeout=5000)
        await expect(timeline).to_contain_text("Infusion pause (nurse.ada): nausea")
        await expect(timeline).to_contain_text("Infusion stop (nurse.ada): completed")

        # Vitals of the session's own (an NIBP among them), then the discharge.
        async with asyncio.timeout(40_000 * MS):
            while True:
                trends = await api(page, u, f"/api/sessions/{session_id}/trends")
                if trends["minutes"] and trends["nibp"]:
                    break
                await asyncio.sleep(1)
        await page.locator('[data-action="discharge"]').click()
        await confirm(page, "Discharge Rivera, Ana from Bed 1?")
        await expect(page.locator(".admit-form")).to_be_visible(timeout=5000)

        # The past session, from the patient's course.
        await page.goto(f"{u.live.url}/#patient/{pid}")
        row = page.locator('.course-days tr[data-day="1"]')
        await expect(row).to_contain_text("45 mg", timeout=5000)
        await expect(row).to_contain_text("Discharged")
        await expect(page.locator(".course-done")).to_have_text(
            "1 of 10 days done · next: day 2, 45 mg")
        await row.get_by_role("link", name="View the session of day 1").click()
        await expect(page).to_have_url(re.compile(rf"#session/{session_id}$"))
        past = page.locator(".past-page")
        await expect(past.locator("h2")).to_contain_text("Rivera, Ana · Day 1 of 10", timeout=5000)
        await page.wait_for_function(INK_AT_LEAST, arg=[".past-trend-canvas", 2000], timeout=8000)
        await expect(past.locator(".past-trend-canvas")).to_have_attribute(
            "data-points", re.compile(r"^[1-9]\d*$"))
        nibp = past.locator(".nibp-table tbody tr")
        await expect(nibp.first).to_contain_text(re.compile(r"^\d\d:\d\d:\d\d\d{2,3}/\d{2,3}"))
        log = past.locator(".alarm-log tbody")
        await expect(log).to_contain_text("infusion start")
        await expect(log).to_contain_text("nurse.ada")
        steps = past.locator(".steps-table tbody tr")
        await expect(steps).to_have_count(4)
        await expect(steps.nth(1)).to_contain_text("nausea")
        await expect(past.locator(".premed-table tbody tr")).to_have_count(2)
        await expect(past.locator('.side-effects-table tr[data-status="voided"]')).to_contain_text(
            "Headache")
        await expect(past.locator('.past-journal tr[data-status="amended"]')).to_have_count(1)
        await expect(past.locator('.past-journal tr[data-status="current"]')).to_have_count(1)
        await expect(past.locator(".episodes-table")).to_be_visible()
        await expect(past).to_contain_text("doctor's order")
        await expect(past.locator('[data-action="session-pdf"]')).to_have_attribute(
            "href", f"/api/reports/session/{session_id}.pdf")
        pdf = await page.request.get(f"{u.live.url}/api/reports/session/{session_id}.pdf")
        assert pdf.ok and (await pdf.body()).startswith(b"%PDF"), await pdf.text()
        await page.screenshot(path=shot("records-past-session-1366.png"))
        assert not await page.evaluate(NOTHING_CUT)
        await page.set_viewport_size({"width": 1366, "height": 2600})
        await page.screenshot(path=shot("records-past-session-1366-all.png"))
        await page.set_viewport_size({"width": 1920, "height": 1080})
        await page.wait_for_function(INK_AT_LEAST, arg=[".past-trend-canvas", 2000])
        await page.screenshot(path=shot("records-past-session-1920.png"))
        assert not await page.evaluate(NOTHING_CUT)

        # A follow-up journal on the course, listed by week; the course report.
        await past.locator("a.back").click()
        await expect(page).to_have_url(re.compile(rf"#patient/{pid}$"))
        view = page.locator(".patient-page")
        await view.locator('[data-action="follow-up-open"]').click()
        follow = view.locator('form.journal-form[aria-label="Follow-up journal"]')
        await expect(follow.locator('[name="week"]')).to_have_value("2")
        await pick(follow, "pain", "3")
        await pick(follow, "worst_pain", "4")
        await follow.locator('[data-action="follow-up"]').click()
        week = view.locator('.follow-up-table tr[data-week="2"]')
        await expect(week).to_contain_text("Week 2", timeout=5000)
        cells = [await c.text_content() for c in await week.locator("td").all()]
        assert cells[:2] == ["3", "4"], cells
        course_id = await view.locator(".course").first.get_attribute("data-course-id")
        course = await api(page, u, f"/api/courses/{course_id}")
        assert [f["follow_up_week"] for f in course["follow_ups"]] == [2]
        report = view.locator('[data-action="course-report"]')
        await expect(report).to_have_attribute("href", "/api/reports/course/MRN-0042.pdf")
        await page.set_viewport_size({"width": 1366, "height": 1500})
        await page.screenshot(path=shot("records-patient-follow-up.png"))
        assert not await page.evaluate(NOTHING_CUT)
        await page.set_viewport_size({"width": 1366, "height": 768})

        # Escape closes the records view: back to the overview.
        await page.locator("body").click(position={"x": 5, "y": 200})
        await page.keyboard.press("Escape")
        await expect(page.locator("#beds")).to_be_visible()
        await expect(page.locator("#records")).to_be_hidden()
        assert not violations, violations
    # The refusals asked for (registration, premedication, side effect, dose) are the only
    # errors (the other station's 409 was on its own page).
    unexpected = [e for e in console_errors
                  if not re.search(r"HTTP 422 POST|status of 422 \(Unprocessable", e)]
    assert not unexpected, unexpected
    assert sum("HTTP 422" in e for e in console_errors) == 4, console_errors


async def test_unit_report_of_an_imported_cohort(
    page: Page, tmp_path: Path, console_errors
) -> None:
    rows, _episodes = study_cohort()
    expected = unit_report(rows)["measures"]["pain"]["by_day"]["1"]
    good = write_cohort(rows)
    lines = good.splitlines()
    header = lines[0].split(",")
    bad_row = lines[5].split(",")
    bad_row[header.index("worst_pain")] = "11"
    bad = "\n".join([*lines[:5], ",".join(bad_row), *lines[6:]]) + "\n"
    async with running_unit(tmp_path, [Bed()], page, users=USERS, csp=ui.STRICT_CSP) as u:
        violations = await ui.report_csp_violations(page)
        await page.set_viewport_size({"width": 1366, "height": 768})
        # A nurse sees the report, not the research CSV.
        await open_dashboard(page, u, "/#reports")
        await expect(page.locator(".reports-page .report-summary")).to_contain_text(
            "0 patients", timeout=5000)
        assert await page.locator(".research").count() == 0
        # A charge nurse imports: a wrong row is named and nothing is kept; then the file.
        await open_dashboard(page, u, "/#reports", user="dr.lee")
        await page.reload()
        research = page.locator(".research")
        await expect(research).to_be_visible(timeout=5000)
        upload = research.locator('input[type="file"]')
        await upload.set_input_files(files=[{"name": "cohort-bad.csv", "mimeType": "text/csv",
                                             "buffer": bad.encode()}])
        await research.locator('[data-action="import"]').click()
        message = research.locator(".form-message")
        await expect(message).to_contain_text(
            "Not imported (nothing was kept): row 6, column worst_pain", timeout=10_000)
        await upload.set_input_files(files=[{"name": "cohort.csv", "mimeType": "text/csv",
                                             "buffer": good.encode()}])
        await research.locator('[data-action="import"]').click()
        await expect(message).to_contain_text("Imported cohort.csv: 40 patients, 400 sessions",
                                              timeout=20_000)
        # The report over the cohort's dates.
        await page.locator('.report-range [name="from"]').fill("2024-01-01")
        await page.locator('.report-range [name="to"]').fill("2024-12-31")
        await page.locator('[data-action="report-show"]').click()
        await expect(page.locator(".report-summary")).to_contain_text("40 patients · 400 sessions",
                                                                      timeout=30_000)
        cell = page.locator('.by-day td[data-measure="pain"][data-day="1"]')
        await expect(cell.locator(".mean-sd")).to_have_text(
            f"{expected['mean']:.2f} ± {expected['sd']:.2f}")
        await expect(cell.locator(".n")).to_have_text(f"({expected['n']})")
        await expect(page.locator('.day1-day10 tr[data-measure="pain"]')).to_contain_text(
            f"{expected['mean']:.2f} ± {expected['sd']:.2f}")
        await expect(page.locator('.incidence tr[data-effect="headache"]')).to_contain_text("4/40")
        await expect(page.locator('[data-action="unit-pdf"]')).to_have_attribute(
            "href", "/api/reports/unit.pdf?from=2024-01-01&to=2024-12-31")
        await expect(page.locator('[data-action="export"]')).to_have_attribute(
            "href", "/api/records/export?start=2024-01-01&end=2024-12-31")
        pdf = await page.request.get(
            f"{u.live.url}/api/reports/unit.pdf?from=2024-01-01&to=2024-12-31")
        assert pdf.ok and (await pdf.body()).startswith(b"%PDF")
        await page.set_viewport_size({"width": 1366, "height": 2400})
        await page.screenshot(path=shot("records-unit-report-1366-all.png"))
        # Nothing cut short at the station's screen sizes.
        for width, height in ((1366, 768), (1920, 1080)):
            await page.set_viewport_size({"width": width, "height": height})
            await page.screenshot(path=shot(f"records-unit-report-{width}.png"))
            clipped = await page.evaluate("""() => [...document.querySelectorAll(
                    '.reports-page th, .reports-page td')]
                .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)""")
            assert not clipped, clipped
            wrap = page.locator(".by-day").locator("xpath=..")
            assert await wrap.evaluate("w => w.scrollWidth <= w.clientWidth + 1"), width
        assert not violations, violations

    unexpected = [e for e in console_errors
                  if not re.search(r"HTTP 422 POST|status of 422 \(Unprocessable", e)]
    assert not unexpected, unexpected
