"""The search print view in Debian's chromium: no horizontal overflow at 1280 and 768 px; screenshots and
a print-to-PDF saved under test-artifacts/reports/."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cordmatch.reports.search_render import render_html
from cordmatch.reports.search_report import build
from reports.test_search_report import OUTCOME, _ctx

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.mark.browser
def test_print_view_fits_and_prints(tmp_path: Path, browser: Any) -> None:
    if shutil.which("/usr/bin/chromium") is None:
        pytest.skip("MISSING /usr/bin/chromium: the print view is not checked in a browser")
    page_file = tmp_path / "print.html"
    page_file.write_text(render_html(build(OUTCOME, _ctx(patient_ref="P-1"))), encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 768):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(page_file.as_uri())
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        # under its own Content-Security-Policy the styles apply and the plot (a data: image) loads
        assert page.evaluate("getComputedStyle(document.querySelector('th')).backgroundColor") == ("rgb(238, 238, 238)")
        assert page.evaluate("document.querySelector('.plot img').naturalWidth") > 0
        page.screenshot(path=str(ARTIFACTS / f"search-print-{width}.png"), full_page=True)
        assert overflow <= 0, f"the print view overflows by {overflow} px at {width} px"
        sticking_out = page.evaluate(
            "[...document.querySelectorAll('body > *')].filter(e => e.getBoundingClientRect().right >"
            " document.body.getBoundingClientRect().right + 1).map(e => e.tagName + '.' + e.className)"
        )
        assert sticking_out == [], f"wider than the page at {width} px: {sticking_out}"
        if width == 1280:
            page.pdf(path=str(ARTIFACTS / "search-print-chromium.pdf"), prefer_css_page_size=True)
        page.close()
