"""The bank's and coordinator's everyday pages (TestClient): CSV import with its per-line report (all or
nothing), confirmatory typing on the reservations page, a unit's match probability for a patient, and the
processing step that needs its counts."""

from __future__ import annotations

import re
from typing import Any

from web.conftest import csrf_of, demo_din, login

AVAILABLE, RESERVED, COLLECTED = demo_din(1), demo_din(5), demo_din(7)
HEADER = "din,product_code,bank_code,collected_at,collection_volume_ml,hla_gl"
PATIENT = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"


def _post_csv(client: Any, text: str) -> Any:
    token = csrf_of(client.get("/units/import").text)
    return client.post("/units/import", data={"csrf": token}, files={"file": ("units.csv", text.encode(), "text/csv")})


def test_csv_import_reports_every_bad_line_and_writes_nothing(client: Any) -> None:
    login(client, "tech")
    before = client.get("/api/v1/units").json()["total"]
    bad = (f"{HEADER}\nX999926000101,Z0001,DEMO,2026-01-05T10:00:00Z,80,\n"
           "X99992600010,Z0001,DEMO,2026-01-05T10:00:00Z,80,\n"
           "X999926000103,Z0001,NOPE,2026-01-05T10:00:00Z,lots,\n")  # fmt: skip
    r = _post_csv(client, bad)
    assert r.status_code == 422
    report = re.search(r'<table class="issues">(.*?)</table>', r.text, re.S)
    assert report, "no per-line report"
    lines = re.findall(r"<tr><td>(\d+)</td>", report.group(1))
    assert "3" in lines and "4" in lines and "2" not in lines
    assert "Nothing imported" in r.text
    assert client.get("/api/v1/units").json()["total"] == before  # all or nothing
    good = (f"{HEADER}\nX999926000101,Z0001,DEMO,2026-01-05T10:00:00Z,80,\n"
            "X999926000102,Z0001,DEMO,2026-01-06T10:00:00Z,75,\n")  # fmt: skip
    r = _post_csv(client, good)
    assert r.status_code == 200 and "2 units imported" in r.text and 'href="/units/X999926000101"' in r.text
    assert client.get("/api/v1/units").json()["total"] == before + 2
    r = _post_csv(client, "")
    assert r.status_code == 422 and 'id="f-file"' in r.text and "choose a CSV file" in r.text
    token = csrf_of(client.get("/units/import").text)
    r = client.post("/units/import", data={"csrf": token}, files={"file": ("u.csv", b"din\xff\xfe", "text/csv")})
    assert r.status_code == 422 and "not UTF-8" in r.text


def test_csv_import_is_for_bank_staff(client: Any) -> None:
    login(client, "coord")
    r = client.get("/units/import")
    assert r.status_code == 403 and "Your role (coordinator) may not register units" in r.text
    assert 'href="/units/import"' not in client.get("/units").text


def test_confirmatory_typing_from_the_reservations_page(client: Any) -> None:
    login(client, "coord")  # the demo reservation was made with a confirmatory-typing request
    page = client.get("/reservations").text
    rid = re.search(r"<tr>\s*<td>(\d+)</td>\s*<td><a href=\"/units/" + RESERVED, page)
    assert rid and "requested" in page
    assert "/ct-result" not in page  # a coordinator does not record typing results
    login(client, "tech")
    page = client.get("/reservations").text
    assert f'action="/reservations/{rid.group(1)}/ct-result"' in page
    token = csrf_of(page)
    r = client.post(f"/reservations/{rid.group(1)}/ct-result", data={"csrf": token, "gl": "A*01:99:99+nonsense"})
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text and "<details open>" in r.text
    r = client.post(f"/reservations/{rid.group(1)}/ct-result", data={"csrf": token, "gl": PATIENT, "lab": "HLA lab"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and "confirmatory%20typing%20recorded" in r.headers["location"]
    unit = client.get(f"/units/{RESERVED}").text
    assert "confirmatory, HLA lab" in unit and "superseded" in unit


def test_match_probability_page_per_locus(client: Any, tables: Any) -> None:
    login(client, "coord")
    page = client.get(f"/units/{AVAILABLE}").text
    assert f'href="/units/{AVAILABLE}/probability"' in page
    r = client.get(f"/units/{AVAILABLE}/probability", params={"patient_gl": PATIENT, "population": "CAU"})
    assert r.status_code == 200, r.text
    table = re.search(r'<table class="prob">(.*?)</table>', r.text, re.S)
    assert table and all(f">{locus}" in table.group(1) for locus in ("A", "B", "C", "DRB1"))
    assert "P(8/8)" in r.text and "%" in r.text
    assert "not typed (patient, unit): imputed" in r.text  # DQB1 is typed on neither side: said so
    r = client.get(f"/units/{AVAILABLE}/probability", params={"patient_gl": "A*99:99+A*01:01"})
    assert r.status_code == 422 and 'id="f-patient_gl"' in r.text and 'aria-invalid="true"' in r.text
    assert "Traceback" not in r.text


def test_processing_needs_its_counts(client: Any) -> None:
    login(client, "tech")
    token = csrf_of(client.get(f"/units/{COLLECTED}").text)
    client.post(f"/units/{COLLECTED}/transition", data={"csrf": token, "target": "received"})
    page = client.get(f"/units/{COLLECTED}").text
    menu = re.search(r'<select id="f-t-target"[^>]*>(.*?)</select>', page, re.S)
    assert menu is None or "processed" not in menu.group(1)  # the Next step menu does not offer it
    assert 'action="/units/' + COLLECTED + '/processing"' in page
    r = client.post(f"/units/{COLLECTED}/transition", data={"csrf": token, "target": "processed"})
    assert r.status_code == 409 and "post-processing counts" in r.text
    r = client.post(f"/units/{COLLECTED}/processing", data={"csrf": token, "volume_ml": "25"})
    assert r.status_code == 422 and re.search(r'id="f-p-tnc"[^>]*aria-invalid="true"', r.text)
    assert client.get(f"/api/v1/units/{COLLECTED}").json()["state"] == "received"


def test_unit_filter_takes_a_din_as_labelled_or_spaced(client: Any) -> None:
    login(client, "tech")
    labelled = client.get("/units").text.split(f'href="/units/{AVAILABLE}">')[1].split("<")[0]
    for typed in (labelled, f"{AVAILABLE[:5]} {AVAILABLE[5:7]} {AVAILABLE[7:]}", AVAILABLE[:9]):
        html = client.get("/units", params={"text": typed}).text
        assert f'href="/units/{AVAILABLE}"' in html, typed
