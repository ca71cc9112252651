"""The report and label pages: a session with the right role, PDFs that read back, labels whose barcodes
decode, errors in words with the right status, nothing cached and nothing loaded from the internet."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from cordmatch.bank.din import check_flag
from reports.conftest import barcodes, demo_din, login, pdf_png, pdf_text

PATIENT = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture
def search_client(tmp_path: Path, seeded_db: Path) -> Any:
    """A client of an app that searches the demo store's available units."""
    from fastapi.testclient import TestClient

    from cordmatch.server import create_app

    db = tmp_path / "search.sqlite3"
    shutil.copyfile(seeded_db, db)
    return TestClient(create_app(str(db)), raise_server_exceptions=False)


QUERY = {"patient_gl": PATIENT, "weight_kg": "18", "policy": "nmdp", "top": "5", "abo": "A",
         "antibodies": "A*24:02,4200", "patient_ref": "P-0042"}  # fmt: skip


@pytest.mark.parametrize(
    "path", ["/search/report.pdf", "/search/print", f"/units/{demo_din(1)}/report.pdf",
             f"/units/{demo_din(1)}/label.pdf", f"/units/{demo_din(1)}/label.svg"],
)  # fmt: skip
def test_a_session_is_needed(client: Any, path: str) -> None:
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_search_report_pdf(search_client: Any, tmp_path: Path) -> None:
    login(search_client, "coord")
    r = search_client.get("/search/report.pdf", params=QUERY)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.headers["cache-control"] == "no-store"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "search-report.pdf").write_bytes(r.content)
    text = " ".join(pdf_text(r.content, tmp_path).split())
    for needle in ("Cord blood unit search report", "P-0042", "IPD-IMGT/HLA 3.58", "by coord", "B*08:01+B*44:02",
                   "18 kg", "A*24:02 MFI 4200", "policy nmdp", demo_din(1), "Reasons, unit by unit",
                   "Thresholds in force", "single_tnc_min", "[V] seen in a cited source", "[U] unverified",
                   "Estimated neutrophil engraftment", "engrafted by"):  # fmt: skip
        assert needle in text, needle
    assert "e+0" not in text and "None" not in text
    assert "Rh not typed" not in text  # the demo units are Rh typed


def test_search_report_says_antibodies_were_not_assessed(search_client: Any, tmp_path: Path) -> None:
    login(search_client, "coord")
    q = {k: v for k, v in QUERY.items() if k != "antibodies"}
    text = " ".join(pdf_text(search_client.get("/search/report.pdf", params=q).content, tmp_path).split())
    assert "donor-specific antibodies were NOT assessed" in text


def test_print_view_is_self_contained(search_client: Any) -> None:
    login(search_client, "coord")
    r = search_client.get("/search/print", params=QUERY)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    html = r.text
    assert "Thresholds in force" in html and demo_din(1) in html and "data:image/svg+xml;base64," in html
    assert (
        "script-src" not in r.headers["content-security-policy"]
        and "unsafe-inline" in r.headers["content-security-policy"]
    )
    assert "<script" not in html and "onclick" not in html
    assert "[V] seen in a cited source" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the print view loads nothing from outside"
    (ARTIFACTS / "search-print.html").write_text(html, encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [({"weight_kg": "-3"}, 422, "weight"), ({"weight_kg": ""}, 422, "weight in kg"),
     ({"patient_gl": "A*99:99"}, 422, "A*99:99"), ({"policy": "fastest"}, 422, "policy")],
)  # fmt: skip
def test_bad_search_is_said_in_words(search_client: Any, change: dict[str, str], status: int, needle: str) -> None:
    login(search_client, "coord")
    for path in ("/search/report.pdf", "/search/print"):
        r = search_client.get(path, params={**QUERY, **change})
        assert r.status_code == status and needle in r.text, (path, r.status_code)
        assert "pydantic" not in r.text and "Traceback" not in r.text


def test_search_report_needs_a_search_backend(client: Any) -> None:
    login(client, "coord")
    assert client.get("/search/report.pdf", params=QUERY).status_code == 501


def test_unit_report_as_coordinator(client: Any, tmp_path: Path) -> None:
    login(client, "coord")
    r = client.get(f"/units/{demo_din(1)}/report.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert "QC release checklist" in pdf_text(r.content, tmp_path)
    assert client.get(f"/units/{demo_din(6)}/report.pdf").status_code == 404  # not listed for centres
    r = client.get("/units/G123498654321X/report.pdf")
    assert r.status_code == 422 and "wrong check character" in r.text


def test_labels_for_bank_staff(client: Any, tmp_path: Path) -> None:
    login(client, "tech")
    din = demo_din(3)
    r = client.get(f"/units/{din}/label.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    decoded = set(barcodes(pdf_png(r.content, tmp_path)))
    dates = {b for b in decoded if b[:3] == "=*0" and len(b) == 8 and b[2:].isdigit()}  # =* + cyyjjj
    assert len(dates) == 1  # demo unit 3 is AB RhD negative (Table 4: 28)
    assert decoded - dates == {f"={din}{check_flag(din)}", "=<Z0001V00", "=%2800"}
    r = client.get(f"/units/{din}/label.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content
    assert "style-src 'unsafe-inline'" in r.headers["content-security-policy"]  # the drawing's styles apply


def test_labels_refused_to_coordinators(client: Any) -> None:
    login(client, "coord")
    r = client.get(f"/units/{demo_din(1)}/label.pdf")
    assert r.status_code == 403 and "bank staff" in r.text


def test_report_curves_agree_with_the_search(search_client: Any) -> None:
    """The curves are the report's own estimates: for every unit they give the day-42 probability the
    search stated in its engraftment check."""
    from cordmatch.reports.service import search_report
    from cordmatch.services.auth import Principal
    from cordmatch.services.search_query import SearchQuery

    app = search_client.app
    coord = next(u for u in app.state.bank.users.list_users(_admin(app)) if u.username == "coord")
    actor = Principal(coord.id, coord.username, coord.role, "x")
    query = SearchQuery(patient_gl=PATIENT, weight_kg=18, antibodies="A*02:01,3000")
    report = search_report(app.state.search_backend, actor, query)
    assert report.curves
    by_label = dict(report.curves)
    for u in report.units:
        est = by_label[f"#{u.rank} {u.unit_id}"]
        assert u.p42 == f"{100 * est.p_engraft_day42:.0f} %", (u.unit_id, u.p42)


def _admin(app: Any) -> Any:
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    return app.state.bank.users.authenticate("admin", DEMO_PASSWORD)
