"""Every page for every role in Debian's chromium (Playwright) against the shared live server: screenshots
under test-artifacts/ (role-page.png), no horizontal overflow at 1280 and 768 px, nothing loaded from
outside the server (/docs and /redoc render with the network blocked), and the coordinator's and the
bank's everyday flows: compare units side by side, CSV import report, confirmatory typing, match probability."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlencode

import pytest

from web.conftest import CHROMIUM, demo_din, log_in, shot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is absent: apt-get install -y chromium"),
]

TYPING = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"
SEARCH = "/search?" + urlencode({"patient_gl": TYPING, "weight_kg": "20", "diagnosis": "AML"})
AVAILABLE, RESERVED, QUARANTINE = demo_din(2), demo_din(5), demo_din(6)
PROBABILITY = f"/units/{AVAILABLE}/probability?" + urlencode({"patient_gl": TYPING})

#: (page name, path) that each role works with.
PAGES: dict[str, list[tuple[str, str]]] = {
    "tech": [("units", "/units"), ("register", "/units/new"), ("import", "/units/import"),
             ("unit", f"/units/{QUARANTINE}"), ("release", f"/units/{QUARANTINE}/release"),
             ("reservations", "/reservations"), ("search", SEARCH)],
    "director": [("units", "/units"), ("unit", f"/units/{QUARANTINE}"), ("release", f"/units/{QUARANTINE}/release"),
                 ("reservations", "/reservations"), ("search", SEARCH), ("probability", PROBABILITY)],
    "coord": [("units", "/units"), ("unit", f"/units/{AVAILABLE}"), ("reservations", "/reservations"),
              ("search", SEARCH), ("probability", PROBABILITY)],
    "admin": [("units", "/units"), ("unit", f"/units/{AVAILABLE}"), ("search", SEARCH)],
}  # fmt: skip


def overflow(page: Any) -> int:
    """How many CSS px the page is wider than the window (0: no horizontal scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("role", sorted(PAGES))
def test_every_page_of_every_role_fits_1280_and_768(live_server: str, page: Any, role: str) -> None:
    log_in(page, live_server, role)
    too_wide: list[str] = []
    for name, path in PAGES[role]:
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(live_server + path)
        assert response is not None and response.status < 400, f"{role} {path}: {response and response.status}"
        page.wait_for_load_state("networkidle")
        assert "Traceback" not in page.content() and "Internal Server Error" not in page.content()
        shot(page, f"{role}-{name}")
        for width in (1280, 768):
            page.set_viewport_size({"width": width, "height": 900})
            if (extra := overflow(page)) > 0:
                too_wide.append(f"{path} at {width}px: {extra}px too wide")
        page.set_viewport_size({"width": 768, "height": 900})
        if name in ("search", "unit", "units"):
            shot(page, f"{role}-{name}-768")
    assert not too_wide, too_wide
    assert page.outside_requests == []  # nothing from the internet


def test_api_docs_render_with_the_network_blocked(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_server}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("cordmatch")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    shot(page, "docs-swagger-offline", full_page=False)
    page.goto(f"{live_server}/redoc")
    expect(page.locator(".api-info h1")).to_contain_text("cordmatch", timeout=20_000)
    shot(page, "docs-redoc-offline", full_page=False)
    assert page.outside_requests == [], page.outside_requests
    # the pages' own policy lets both UIs run (no inline script needed); it blocks, by design, only ReDoc's
    # "API docs by Redocly" logo, which the bundle would fetch from the internet
    assert [m for m in refused if "redoc.ly/redoc/logo" not in m] == [], refused


def test_coordinator_compares_units_side_by_side(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server, "coord")
    page.goto(live_server + SEARCH)
    rows = page.locator("table.results-table.single tr.result-row")
    assert rows.count() >= 2
    indication = page.locator("details.indication")
    expect(indication.locator("summary")).to_contain_text("Indication:")
    expect(indication.locator("li").first).to_be_hidden()  # details behind the one line
    dins = [rows.nth(i).locator("a.din").inner_text() for i in (0, 1)]
    for i in (0, 1):
        rows.nth(i).get_by_role("checkbox").check()
    page.get_by_role("button", name="Compare selected units").click()
    side = page.locator("table.compare-table")
    for din in dins:
        expect(side.locator("thead")).to_contain_text(din)
    expect(side).to_contain_text("P(engraftment by day 42)")
    shot(page, "coord-search-compare")
    # one unit only: the page says what to do, in words
    page.goto(live_server + SEARCH + "&compare=" + dins[0])
    expect(page.locator("#error-summary")).to_contain_text("select two or three units")


def test_technician_imports_a_csv_and_sees_the_per_line_report(live_server: str, page: Any, tmp_path: Any) -> None:
    from playwright.sync_api import expect

    header = "din,product_code,bank_code,collected_at,collection_volume_ml"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"{header}\nX999926000201,Z0001,DEMO,2026-01-05T10:00:00Z,80\nX99992600020,Z0001,DEMO,2026-01-05,x\n"
    )
    good = tmp_path / "good.csv"
    good.write_text(f"{header}\nX999926000201,Z0001,DEMO,2026-01-05T10:00:00Z,80\n")
    log_in(page, live_server, "tech")
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(str(bad))
    page.get_by_role("button", name="Check and import").click()
    report = page.locator("table.issues")
    expect(report).to_contain_text("3")
    expect(page.get_by_role("heading", name="Nothing imported")).to_be_visible()
    shot(page, "tech-import-report")
    page.get_by_label("CSV file").set_input_files(str(good))
    page.get_by_role("button", name="Check and import").click()
    expect(page.get_by_role("heading", name="1 unit imported")).to_be_visible()
    shot(page, "tech-import-done")


def test_technician_records_confirmatory_typing(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server, "tech")
    page.goto(f"{live_server}/reservations")
    row = page.locator("tr", has_text=RESERVED)
    row.locator("summary", has_text="Record confirmatory typing").click()
    row.get_by_label("Confirmatory typing").fill("A*01:01+nonsense")
    row.get_by_role("button", name="Record typing").click()
    row = page.locator("tr", has_text=RESERVED)
    expect(row.locator(".field-error")).to_contain_text("nonsense")
    shot(page, "tech-ct-error")
    row.get_by_label("Confirmatory typing").fill(TYPING)
    row.get_by_label("Laboratory").fill("Demo HLA lab")
    row.get_by_role("button", name="Record typing").click()
    page.get_by_role("status").filter(has_text="confirmatory typing recorded").wait_for()
    page.goto(f"{live_server}/units/{RESERVED}")
    expect(page.locator("ol.typings")).to_contain_text("confirmatory, Demo HLA lab")


def test_coordinator_sees_match_probability_per_locus(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server, "coord")
    page.goto(f"{live_server}/units/{AVAILABLE}")
    page.get_by_role("link", name="Match probability for a patient").click()
    page.get_by_label("HLA typing (GL string)").fill(TYPING)
    page.get_by_role("button", name="Estimate").click()
    table = page.locator("table.prob").first
    for locus in ("A", "B", "C", "DRB1"):
        expect(table.locator("th", has_text=locus).first).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("P(8/8)")
    shot(page, "coord-probability")


def test_login_page_fits_and_a_wrong_password_is_named(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{live_server}/units/{AVAILABLE}")
    assert "/login" in page.url
    page.get_by_label("User name").fill("coord")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    shot(page, "anonymous-login-error")
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        assert overflow(page) <= 0


def test_search_print_view_keeps_the_table_and_drops_the_forms(live_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    log_in(page, live_server, "coord")
    page.goto(live_server + SEARCH)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    page.emulate_media(media="print")
    expect(page.locator("table.results-table").first).to_be_visible()
    expect(page.locator("table.rules").first).to_be_visible()  # the reasons are printed
    expect(page.locator("form[role=search]")).to_be_hidden()
    expect(page.locator("#reserve-form")).to_be_hidden()
    expect(page.locator(".print-only").first).to_contain_text("Patient typing")
    shot(page, "coord-search-print")
