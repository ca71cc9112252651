"""The pages without a browser: sessions, CSRF, role-dependent actions, form errors naming the field,
reservations, and ranked, explained search results through the search seam."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cordmatch.server import create_app
from web.conftest import csrf_of, demo_din, login

AVAILABLE = demo_din(1)
RESERVED = demo_din(5)
QUARANTINE = demo_din(6)  # post-thaw counts missing: the checklist fails until they are recorded
COLLECTED = demo_din(7)


def alert_text(html: str) -> str:
    """The text of the error summary and the field errors (tags stripped)."""
    parts = re.findall(r'<div class="error-summary" role="alert"[^>]*>(.*?)</div>', html, re.S)
    parts += re.findall(r'<p id="e-[^"]*" class="field-error" role="alert">(.*?)</p>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", p) for p in parts).replace("&#39;", "'")


def test_pages_need_a_session_and_logout_revokes_it(client: Any) -> None:
    for path in ("/units", f"/units/{AVAILABLE}", "/units/new", "/reservations", "/search"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path
    token = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"csrf": token, "username": "director", "password": "nope nope"})
    assert bad.status_code == 401 and "wrong password" in alert_text(bad.text)
    assert 'aria-invalid="true"' in bad.text
    assert client.post("/login", data={"csrf": "forged", "username": "director", "password": "x"}).status_code == 403
    login(client, "director")
    cookie = client.cookies.get("cordmatch_session")
    assert cookie and client.get("/units").status_code == 200
    # the session cookie reads the API (GET) but does not write through it (no Bearer, no CSRF)
    assert client.get("/api/v1/me").json()["username"] == "director"
    assert client.post("/api/v1/reservations/expire").status_code == 401
    client.post("/logout", data={"csrf": csrf_of(client.get("/units").text)})
    assert client.get("/units", follow_redirects=False).status_code == 303
    client.cookies.set("cordmatch_session", cookie)  # a stolen cookie is dead after log-out
    assert client.get("/units", follow_redirects=False).status_code == 303


def test_logout_with_a_wrong_csrf_token_still_revokes(client: Any) -> None:
    login(client, "director")
    cookie = client.cookies.get("cordmatch_session")
    client.post("/logout", data={"csrf": "wrong"})
    client.cookies.set("cordmatch_session", cookie)
    assert client.get("/units", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_security_headers_on_pages_and_api(client: Any) -> None:
    for path in ("/login", "/api/v1/me", "/static/cordmatch.css"):
        h = client.get(path).headers
        csp = h["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp, path
        assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff", path
    assert "strict-transport-security" not in client.get("/login").headers


def test_secure_cookies_option(seeded_db: Path, tmp_path: Path) -> None:
    shutil.copyfile(seeded_db, tmp_path / "s.sqlite3")
    c = TestClient(create_app(str(tmp_path / "s.sqlite3"), search_backend=None, secure_cookies=True),
                   base_url="https://testserver")  # fmt: skip
    r = c.get("/login")
    assert "secure" in r.headers["set-cookie"].lower() and "strict-transport-security" in r.headers
    token = csrf_of(r.text)
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    r = c.post("/login", data={"csrf": token, "username": "coord", "password": DEMO_PASSWORD, "next": "/units"},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    session = [v for k, v in r.headers.multi_items() if k == "set-cookie" and "cordmatch_session" in v]
    assert session and "secure" in session[0].lower() and "httponly" in session[0].lower()


def test_unit_list_filters_and_detail(client: Any) -> None:
    login(client, "tech")
    html = client.get("/units").text
    assert html.count('href="/units/Z9999') == 8
    available = client.get("/units?state=available").text
    assert AVAILABLE in available and QUARANTINE not in available
    assert available.count('href="/units/Z9999') == 4
    assert client.get("/units?abo=AB").text.count('href="/units/Z9999') == 1
    assert client.get("/units?bank_code=DEMO&state=available").text.count('href="/units/Z9999') == 4
    assert client.get(f"/units?text={AVAILABLE}").text.count('href="/units/Z9999') == 1
    csv_link = re.search(r'href="(/api/v1/units/export.csv[^"]*)"', available)
    assert csv_link and "state=available" in csv_link.group(1)
    exported = client.get(csv_link.group(1).replace("&amp;", "&"))
    assert exported.status_code == 200 and exported.text.count("\n") == 5  # header + 4 available units
    bad = client.get("/units?state=frozen")
    assert bad.status_code == 422 and "unknown unit state" in bad.text
    detail = client.get(f"/units/{RESERVED}").text
    assert "unit.register" in detail and "unit.reserve" in detail and "DEMO-PATIENT-1" in detail
    assert client.get(f"/units/{AVAILABLE[:-2]}99").status_code == 404


def test_register_form_names_the_field_and_keeps_the_input(client: Any) -> None:
    login(client, "tech")
    token = csrf_of(client.get("/units/new").text)
    base = {"csrf": token, "din": "X999926000070", "product_code": "Z0001", "bank_code": "DEMO",
            "collected_at": "2026-01-10T10:00", "collection.tnc": "1.5e9", "hla_gl": ""}  # fmt: skip
    cases = [
        ({"din": "X99992600007"}, "din", "not a DIN"),
        ({"collection.tnc": "lots"}, "collection.tnc", "not a number"),
        ({"collection.tnc": "-1"}, "collection.tnc", "must not be negative"),
        ({"collected_at": "2999-01-01T00:00"}, "collected_at", "in the future"),
        ({"storage.tank": "T1"}, "storage.rack", "tank, rack, box and slot"),
        ({"din": QUARANTINE}, "din", "already registered"),
    ]
    for change, field, text in cases:
        r = client.post("/units/new", data={**base, **change})
        assert r.status_code in (409, 422), (change, r.status_code)
        assert text in alert_text(r.text), (change, alert_text(r.text))
        assert f'id="f-{field}"' in r.text and re.search(rf'id="f-{re.escape(field)}"[^>]*aria-invalid="true"', r.text)
        assert 'value="1.5e9"' in r.text or "collection.tnc" in change  # input kept
    r = client.post("/units/new", data={**base, "csrf": "x" * 64})
    assert r.status_code == 403
    r = client.post("/units/new", data=base, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/units/X999926000070")


def test_results_forms_and_illegal_moves(client: Any) -> None:
    login(client, "tech")
    din = COLLECTED
    token = csrf_of(client.get(f"/units/{din}").text)
    r = client.post(f"/units/{din}/transition", data={"csrf": token, "target": "quarantine"})
    assert r.status_code == 409 and "cannot move from collected to quarantine" in alert_text(r.text)
    r = client.post(f"/units/{din}/transition", data={"csrf": token, "target": "received"}, follow_redirects=False)
    assert r.status_code == 303 and "state%20changed" in r.headers["location"]
    r = client.post(f"/units/{din}/processing", data={"csrf": token, "tnc": "1.2e9", "cd34": "9e9"})
    assert r.status_code == 422 and "exceeds tnc" in alert_text(r.text)
    r = client.post(f"/units/{din}/processing", data={"csrf": token, "tnc": "1.2e9", "red_cell_depleted": "on"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    r = client.post(f"/units/{din}/tests", data={"csrf": token, "abo": "Q"})
    assert r.status_code == 422 and "abo" in r.text
    r = client.post(f"/units/{din}/typing", data={"csrf": token, "gl": "", "kind": "initial"})
    assert r.status_code == 422 and "GL string" in alert_text(r.text)
    r = client.post(f"/units/{din}/discard", data={"csrf": token, "reason": ""})
    assert r.status_code == 422 and "reason" in r.text
    page = client.get(f"/units/{din}").text
    assert "processed" in page and "unit.process" in page


def test_release_checklist_and_who_may_sign(client: Any) -> None:
    login(client, "tech")
    page = client.get(f"/units/{QUARANTINE}/release").text
    assert "missing" in page and "post-thaw" in page
    assert "Only a bank director can sign" in page and '<button type="submit">Release' not in page
    token = csrf_of(page)
    r = client.post(f"/units/{QUARANTINE}/release", data={"csrf": token})
    assert r.status_code == 403 and "Your role (technician) may not sign a QC release" in alert_text(r.text)
    assert "unit.release" not in alert_text(r.text)  # no permission identifiers on pages
    login(client, "director")
    page = client.get(f"/units/{QUARANTINE}/release").text
    assert "Exceptional release" in page and "exceptional_reason" in page
    token = csrf_of(page)
    r = client.post(f"/units/{QUARANTINE}/release", data={"csrf": token})
    assert r.status_code == 409 and "does not meet the release criteria" in alert_text(r.text)
    assert re.search(r'id="f-exceptional_reason"[^>]*aria-invalid="true"', r.text)
    r = client.post(f"/units/{QUARANTINE}/release", data={"csrf": token, "exceptional_reason": "only 8/8 match"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and "exceptional" in r.headers["location"]
    page = client.get(f"/units/{QUARANTINE}").text
    assert "Exceptional release:" in page and "only 8/8 match" in page and "unit.release.exceptional" in page


def test_reserve_and_cancel_as_coordinator(client: Any) -> None:
    login(client, "coord")
    assert client.get("/units/new").status_code == 403
    listing = client.get("/units").text
    assert "Download these units" not in listing
    assert QUARANTINE not in listing and AVAILABLE in listing  # coordinators see listed units only
    page = client.get(f"/units/{AVAILABLE}").text
    assert "Reserve this unit" in page and "Record counts" not in page and "tank" not in page
    token = csrf_of(page)
    r = client.post(f"/units/{AVAILABLE}/reserve", data={"csrf": token, "patient_ref": ""})
    assert r.status_code == 422 and "patient_ref" in r.text
    r = client.post(f"/units/{AVAILABLE}/reserve", data={"csrf": token, "patient_ref": "PT-9", "days": "10"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    r = client.post(f"/units/{AVAILABLE}/reserve", data={"csrf": token, "patient_ref": "PT-10"})
    assert r.status_code == 409 and "Reserve this unit" not in r.text  # reserved now: no second form
    listing = client.get("/reservations").text
    rid = client.get(f"/api/v1/reservations?din={AVAILABLE}").json()["items"][0]["id"]
    assert "PT-9" in listing and f'action="/reservations/{rid}/cancel"' in listing
    r = client.post(f"/reservations/{rid}/cancel", data={"csrf": token, "reason": ""})
    assert r.status_code == 422
    r = client.post(f"/reservations/{rid}/cancel", data={"csrf": token, "reason": "other unit chosen"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "PT-9" in client.get("/reservations?status=cancelled").text


def test_search_page_without_and_with_a_backend(client: Any, tmp_path: Path, seeded_db: Path) -> None:
    login(client, "coord")
    page = client.get("/search")
    assert page.status_code == 200 and "not enabled" in page.text and "disabled" in page.text
    assert client.get("/search?patient_gl=A*01:01%2BA*02:01&weight_kg=20").status_code == 501

    def backend(actor: Any, query: Any) -> dict[str, Any]:
        return {
            "policy": query.policy, "patient": {}, "counts": {"listed": 4, "ranked": 1}, "double_units": [],
            "notes": ["standard dose thresholds apply"],
            "results": [{
                "rank": 1, "unit_id": AVAILABLE, "match_6": {"bidirectional": 6}, "match_8": {"bidirectional": 7},
                "tnc_per_kg": 4.2, "cd34_per_kg": 1.9, "unit": {"bank": "DEMO1", "accredited": True, "abo": "O"},
                "reasons": ["HLA 7/8 (one DRB1 mismatch): ranked first [NMDP 2011 [V]]",
                            "TNC dose 4.2 x10^7/kg >= 3.0: pass [Dehn 2019 [V]]"],
            }],
        }  # fmt: skip

    shutil.copyfile(seeded_db, tmp_path / "s.sqlite3")
    app = create_app(str(tmp_path / "s.sqlite3"), search_backend=backend)
    c2 = TestClient(app)
    login(c2, "coord")
    r = c2.get(
        "/search", params={"patient_gl": "A*01:01+A*02:01^B*07:02+B*08:01", "weight_kg": "18", "policy": "eurocord"}
    )
    assert r.status_code == 200
    row = re.search(r'<tr class="result-row" id="row-[^"]+">(.*?)</tr>', r.text, re.S)
    assert row and AVAILABLE in row.group(1) and "<td>1</td>" in row.group(1) and "7/8" in row.group(1)
    assert "TNC dose 4.2 ×10⁷/kg ≥ 3: pass" in r.text and "standard dose thresholds" in r.text
    assert "(eurocord)" in r.text
    assert "/plots/engraftment.svg?tnc=4.2&amp;cd34=1.9&amp;m8=7&amp;m6=6" in r.text
    r = c2.get("/search", params={"patient_gl": "A*01:01", "weight_kg": "heavy"})
    assert r.status_code == 422 and "not a number" in alert_text(r.text)
    r = c2.get("/search", params={"patient_gl": "A*01:01", "weight_kg": "-2"})
    assert r.status_code == 422 and "weight_kg" in r.text


def test_engraftment_plot_is_an_svg_and_bad_numbers_are_named(client: Any) -> None:
    r = client.get("/plots/engraftment.svg", params={"tnc": "4.2", "cd34": "1.9", "m8": "7", "m6": "6"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"  # needs a session
    login(client, "coord")
    r = client.get("/plots/engraftment.svg", params={"tnc": "4.2", "cd34": "1.9", "m8": "7", "m6": "6"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.lstrip().startswith("<?xml") and "<svg" in r.text
    r = client.get("/plots/engraftment.svg", params={"tnc": "lots"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "tnc" in r.json()["detail"]
    r = client.get("/plots/engraftment.svg", params={"tnc": "-1"})
    assert r.status_code == 422
    assert client.get("/plots/engraftment.svg").status_code == 422
    for bad in ({"tnc": "1e-320"}, {"tnc": "4", "cd34": "1e-320", "m8": "99"}, {"tnc": "4", "m6": str(10**400)}):
        r = client.get("/plots/engraftment.svg", params=bad)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", (bad, r.text)
    r = client.get("/plots/engraftment.svg", params={"tnc": "2.5e7"})  # cells/kg typed where x10^7/kg is asked
    assert r.status_code == 422 and "x10^7" in r.json()["detail"] and r.json()["errors"][0]["field"] == "tnc"


def test_released_unit_counts_are_corrected_with_a_reason_and_the_holder_is_alerted(client: Any) -> None:
    login(client, "tech")
    page = client.get(f"/units/{RESERVED}").text
    assert "Correct counts" in page and 'name="correction"' in page
    token = csrf_of(page)
    r = client.post(f"/units/{RESERVED}/measurement", data={"csrf": token, "stage": "pre_cryo", "tnc": "1.0e8"})
    assert r.status_code == 409 and "correction" in alert_text(r.text)  # a plain recording is refused
    r = client.post(f"/units/{RESERVED}/measurement",
                    data={"csrf": token, "stage": "pre_cryo", "tnc": "1.0e8", "correction": "1"})  # fmt: skip
    assert r.status_code == 422 and "reason" in alert_text(r.text)  # no correction without a reason
    r = client.post(f"/units/{RESERVED}/measurement", data={"csrf": token, "stage": "pre_cryo", "tnc": "1.0e8",
                                                           "correction": "1", "reason": "recount"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get(f"/units/{RESERVED}").text
    assert "Counts corrected after reservation" in page and "recount" in page
    assert "counts corrected" in client.get("/reservations").text


def test_login_page_is_throttled(client: Any) -> None:
    for _ in range(5):
        token = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"csrf": token, "username": "director", "password": "nope nope"})
        assert r.status_code == 401
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "username": "director", "password": "nope nope"})
    assert r.status_code == 429 and "too many failed log-ins" in alert_text(r.text)
