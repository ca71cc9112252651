"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; nothing downloads a browser)
against the real server: log in, register a unit through to its QC release, search, reserve.
Screenshots are saved under test-artifacts/."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from web.conftest import CHROMIUM, log_in, shot

DIN = "X999926000061"
TYPING = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent: apt-get install -y chromium"),
]


def log_out(page: Any) -> None:
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login**")


def move(page: Any, target: str) -> None:
    page.get_by_label("Next step").select_option(target)
    page.get_by_role("button", name="Move").click()
    page.get_by_role("status").filter(has_text="state changed").wait_for()


def test_register_through_release_then_search_and_reserve(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    base = live_server
    page.goto(f"{base}/units")
    assert "/login" in page.url  # pages need a session
    log_in(page, base, "tech")
    expect(page.get_by_role("heading", name="Units")).to_be_visible()
    shot(page, "01-unit-list")

    # register: first with a wrong check character (the field is named), then correctly
    page.get_by_role("link", name="Register unit").click()
    page.get_by_label("DIN (ISBT 128)").fill(DIN + "Q")
    page.get_by_label("Product code").select_option("Z0001")
    page.get_by_label("Bank").select_option("DEMO")
    when = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Collected at (UTC)").fill(when)
    page.get_by_label("Volume (mL)").fill("95")
    page.get_by_label("TNC (cells)").fill("1.9e9")
    page.get_by_label("CD34+ (cells)").fill("6e6")
    page.get_by_label("HLA typing (GL string)").fill(TYPING)
    for part, value in (("Tank", "T7"), ("Rack", "R1"), ("Box", "B1"), ("Slot", "61")):
        page.get_by_label(part, exact=True).fill(value)
    page.get_by_role("button", name="Register unit").click()
    din_field = page.get_by_label("DIN (ISBT 128)")
    expect(din_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(".field-error")).to_contain_text("check character")
    shot(page, "02-register-error")
    din_field.fill(DIN)
    page.get_by_role("button", name="Register unit").click()
    page.get_by_role("status").filter(has_text="registered").wait_for()
    expect(page.get_by_role("heading", level=1)).to_contain_text("collected")

    # processing and results through to quarantine
    move(page, "received")
    form = page.locator("form[action$='/processing']")
    form.get_by_label("TNC (cells)").fill("1.7e9")
    form.get_by_label("CD34+ (cells)").fill("5.5e6")
    form.get_by_role("button", name="Record processing").click()
    page.get_by_role("status").filter(has_text="processing recorded").wait_for()
    page.locator("summary", has_text="Record counts").click()
    counts = page.locator("form[action$='/measurement']")
    counts.get_by_label("Stage").select_option("pre_cryo")
    counts.get_by_label("Volume (mL)").fill("25")
    counts.get_by_label("TNC (cells)").fill("1.6e9")
    counts.get_by_label("CD34+ (cells)").fill("5.2e6")
    counts.get_by_label("Viability (%)").fill("96")
    counts.get_by_role("button", name="Record counts").click()
    page.get_by_role("status").filter(has_text="counts recorded").wait_for()
    move(page, "cryopreserved")
    move(page, "quarantine")
    page.locator("summary", has_text="Record test results").click()
    tests = page.locator("form[action$='/tests']")
    tests.get_by_label("ABO").select_option("O")
    tests.get_by_label("Rh").select_option("pos")
    tests.get_by_label("Maternal IDM").select_option("negative")
    tests.get_by_label("Sterility").select_option("negative")
    tests.get_by_label("Haemoglobinopathy screen").select_option("normal")
    tests.get_by_label("Attached segments").fill("2")
    tests.get_by_role("button", name="Record results").click()
    page.get_by_role("status").filter(has_text="test results recorded").wait_for()
    page.locator("summary", has_text="Record counts").click()
    counts.get_by_label("Stage").select_option("post_thaw")
    counts.get_by_label("Post-thaw viable CD34+ (%)").fill("91")
    counts.get_by_label("Post-thaw viable CD45+ (%)").fill("72")
    counts.get_by_label("CFU (colonies)").fill("160")
    counts.get_by_role("button", name="Record counts").click()
    page.get_by_role("status").filter(has_text="counts recorded").wait_for()
    page.get_by_role("link", name="Release checklist").click()
    expect(page.locator(".verdict")).to_contain_text("Every required criterion passes")
    expect(page.get_by_text("Only a bank director can sign the release.")).to_be_visible()
    log_out(page)

    # the director signs the release from the checklist
    log_in(page, base, "director")
    page.goto(f"{base}/units/{DIN}/release")
    rows = page.locator("table.checklist tbody tr")
    assert rows.count() >= 10
    expect(page.locator("table.checklist")).not_to_contain_text("missing")
    shot(page, "03-release-checklist")
    page.get_by_role("button", name="Release unit").click()
    page.get_by_role("status").filter(has_text="now available").wait_for()
    expect(page.get_by_role("heading", level=1)).to_contain_text("available")
    expect(page.locator("ol.timeline")).to_contain_text("unit.release")
    shot(page, "04-unit-released-timeline")
    log_out(page)

    # the coordinator searches (or sees why search is not available) and reserves
    log_in(page, base, "coord")
    page.get_by_role("link", name="Search").click()
    expect(page.get_by_role("heading", name="Unit search")).to_be_visible()
    page.get_by_label("HLA typing (GL string)").fill(TYPING)
    page.get_by_label("Weight (kg)").fill("20")
    page.get_by_label("Explain a unit (DIN)").fill(DIN)
    page.get_by_role("button", name="Search").click()
    first = page.locator("table.results-table.single tr.result-row").first
    expect(first).to_contain_text(DIN)
    expect(first).to_contain_text("8/8")
    reasons = page.locator("tr.reasons-row").first
    expect(reasons.locator("table.rules")).to_be_hidden()  # folded until asked for
    reasons.locator("summary").first.click()
    expect(reasons.locator("table.rules tbody tr").first).to_contain_text("HLA match")
    expect(page.locator("#explain-heading")).to_contain_text("ranked")
    shot(page, "05-search-results")
    # reserve from the table
    page.get_by_label("Patient reference").fill("PT-2026-0042")
    page.get_by_label("Request confirmatory typing").check()
    first.get_by_role("button", name=f"Reserve {DIN}").click()
    page.get_by_role("status").filter(has_text="unit reserved").wait_for()
    expect(page.get_by_role("heading", level=1)).to_contain_text("reserved")
    page.get_by_role("link", name="Reservations").first.click()
    expect(page.locator("table")).to_contain_text("PT-2026-0042")
    shot(page, "06-reservations")
