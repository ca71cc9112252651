"""Reports and labels through the REST API (Bearer token): PDFs and SVG, problem+json errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cordmatch.bank.din import check_flag
from reports.conftest import barcodes, demo_din, pdf_png, pdf_text

PATIENT = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"


@pytest.fixture
def api(tmp_path: Path, seeded_db: Path) -> Any:
    from fastapi.testclient import TestClient

    from cordmatch.server import create_app
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    db = tmp_path / "api.sqlite3"
    shutil.copyfile(seeded_db, db)
    app = create_app(str(db), web=False)
    client = TestClient(app, raise_server_exceptions=False)
    svc = app.state.bank
    client.tokens = {}  # type: ignore[attr-defined]
    for who in ("tech", "coord"):
        token = svc.users.issue_token(svc.users.authenticate(who, DEMO_PASSWORD), "test").token
        client.tokens[who] = {"Authorization": f"Bearer {token}"}  # type: ignore[attr-defined]
    return client


def test_search_report(api: Any, tmp_path: Path) -> None:
    r = api.post("/api/v1/search/report.pdf", params={"patient_ref": "P-9"}, headers=api.tokens["coord"],
                 json={"patient_gl": PATIENT, "weight_kg": 18, "top": 3})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = pdf_text(r.content, tmp_path)
    assert "P-9" in text and demo_din(1) in text and "Thresholds in force" in text
    r = api.post("/api/v1/search/report.pdf", headers=api.tokens["coord"], json={"patient_gl": PATIENT,
                                                                                 "weight_kg": -1})  # fmt: skip
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def test_unit_report_and_labels(api: Any, tmp_path: Path) -> None:
    din = demo_din(4)
    r = api.get(f"/api/v1/units/{din}/report.pdf", headers=api.tokens["coord"])
    assert r.status_code == 200 and "QC release checklist" in pdf_text(r.content, tmp_path)
    r = api.get(f"/api/v1/units/{din}/label.pdf", headers=api.tokens["tech"])
    assert r.status_code == 200
    decoded = set(barcodes(pdf_png(r.content, tmp_path)))
    dates = {b for b in decoded if b[:3] == "=*0" and len(b) == 8 and b[2:].isdigit()}  # =* + cyyjjj
    assert len(dates) == 1  # demo unit 4 is O RhD positive (Table 4: 51)
    assert decoded - dates == {f"={din}{check_flag(din)}", "=<Z0001V00", "=%5100"}
    r = api.get(f"/api/v1/units/{din}/label.svg", headers=api.tokens["tech"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")


@pytest.mark.parametrize(
    ("path", "who", "status", "needle"),
    [("/units/{din}/label.pdf", "coord", 403, "bank staff"),
     ("/units/{din}/label.png", "tech", 422, "PDF or SVG"),
     ("/units/{din}/label.pdf?division=0", "tech", 422, "division"),
     ("/units/G123498654321X/report.pdf", "tech", 422, "wrong check character"),
     ("/units/{din}/report.pdf", None, 401, "")],
)  # fmt: skip
def test_errors_are_problems(api: Any, path: str, who: str | None, status: int, needle: str) -> None:
    headers = api.tokens[who] if who else {}
    r = api.get("/api/v1" + path.format(din=demo_din(1)), headers=headers)
    assert r.status_code == status and r.headers["content-type"].startswith("application/problem+json")
    assert needle in r.text
