"""The search page as a comparison table (TestClient, a fake search backend with the selection's shapes):
one row per unit with its cautions, reasons folded, the indication in one line, 2-3 units side by side,
reserve from the table, double grafts in the same form, and no machine words on the page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cordmatch.server import create_app
from web.conftest import csrf_of, demo_din, login

A, B, C = demo_din(1), demo_din(2), demo_din(3)
PATIENT = {"patient_gl": "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01",
           "weight_kg": "20", "diagnosis": "AML"}  # fmt: skip


def _check(rule: str, value: str, verdict: str, threshold: str = "", source: str = "Dehn 2019 [V]") -> dict[str, str]:
    return {"rule": rule, "value": value, "threshold": threshold, "verdict": verdict, "source": source}


def _unit(rank: int, din: str, m8: int | None, tnc: float, extra: list[dict[str, str]]) -> dict[str, Any]:
    checks = [
        _check("HLA match (8 alleles, bidirectional)", f"{m8}/8" if m8 is not None else "unresolved (at most 7/8)",
               "pass" if m8 is not None else "flag", ">= 4/8"),
        _check("TNC dose, single unit", f"{tnc:.2f} x10^7/kg", "pass", ">= 3"),
        _check("unit age", "2.2 years", "pass", "<= 10 years"),
        _check("estimated neutrophil engraftment", f"median day 27 (day 19-39); P(engraft by day 42) {70 + rank}%",
               "info", source="cordmatch.outcomes model"),
        *extra,
    ]  # fmt: skip
    return {
        "rank": rank, "unit_id": din, "match_8": {"bidirectional": m8}, "match_6": {"bidirectional": 5},
        "tnc_per_kg": tnc, "cd34_per_kg": 1.94, "unit": {"bank": "Demo Bank", "accredited": True, "abo": "O",
                                                 "rh": "+"},
        "checks": checks, "reasons": [],
    }  # fmt: skip


def backend(actor: Any, query: Any) -> dict[str, Any]:
    units = [
        _unit(1, A, 7, 5.25, []),
        _unit(2, B, None, 4.1, [_check("red cells", "RBC replete", "flag", "depleted preferred")]),
        _unit(3, C, 6, 3.2, [_check("donor-specific antibodies (virtual crossmatch)", "possible: B*44 (unit typed "
                                    "at antigen level)", "flag", "MFI >= 1000", "per-centre setting [U]")]),
    ]  # fmt: skip
    double = {
        "units": [units[0], units[2]], "combined_tnc_per_kg": 8.45, "combined_cd34_per_kg": 3.1,
        "unit_to_unit": {"match_6": {"bidirectional": 4}, "match_8": {"bidirectional": 5}},
        "checks": [_check("unit-to-unit HLA match", "4/6", "pass", ">= 4/6", "Eurocord [V]"),
                   _check("estimated neutrophil engraftment", "median day 24; P(engraft by day 42) 88%", "info")],
        "reasons": [],
    }  # fmt: skip
    return {
        "policy": query.policy, "patient": {"abo": query.abo}, "counts": {"units": 4, "passing_filters": 3},
        "results": units, "double_units": [double],
        "notes": ["indication: AML CR1 (paediatric): ASTCT S (standard of care; ASTCT-table [V]); more words",
                  "indication: AML CR2 (paediatric): ASTCT S (standard of care; ASTCT-table [V]); more words",
                  "no unit passes the hard filters; use --explain UNIT to see why a unit was excluded"],
        "explain": {"unit_id": C, "status": "ranked", "rank": 3, "checks": units[2]["checks"],
                    "explanation": ["ranked #3"]},
    }  # fmt: skip


@pytest.fixture
def coord(tmp_path: Path, seeded_db: Path) -> TestClient:
    shutil.copyfile(seeded_db, tmp_path / "s.sqlite3")
    c = TestClient(create_app(str(tmp_path / "s.sqlite3"), search_backend=backend))
    login(c, "coord")
    return c


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="result-row" id="row-[^"]+">(.*?)</tr>', html, re.S)


def test_one_row_per_unit_with_badges_and_folded_reasons(coord: TestClient) -> None:
    html = coord.get("/search", params=PATIENT).text
    single = rows(html.split('id="h-doubles"')[0])
    assert len(single) == 3 and A in single[0] and B in single[1] and C in single[2]
    assert "7/8" in single[0] and "5.25" in single[0] and "1.94" in single[0] and "71%" in single[0]
    assert "O+" in single[0] and "2.2 y" in single[0] and "Demo Bank" in single[0]
    assert "?/8" in single[1] and "HLA unresolved: confirm typing" in single[1] and "RBC replete" in single[1]
    assert "possible DSA: B*44" in single[2]
    assert 'class="badge' not in single[0]  # nothing to caution
    assert html.count('<tr class="reasons-row">') == 4 and "<details open" not in html  # folded
    assert "TNC dose, single unit" in html and "≥ 3" in html
    assert f'href="/units/{A}/probability?patient_gl=A%2A01%3A01' in html  # per-locus probability, one click
    # the indication in one line, details behind it; plain words, the [V]/[U] legend
    assert re.search(r'<details class="indication"><summary>Indication: 2 settings match the diagnosis; '
                     r'ASTCT categories: S, S</summary>', html)  # fmt: skip
    text = " ".join(re.sub(r"<[^>]+>", " ", html.split("<main")[1]).split())
    assert "--explain" not in text and "x10^" not in text and ">=" not in text.replace("&gt;", ">")
    assert "[U] unverified" in text and "[V] the rule or threshold was seen" in text
    assert "Patient ABO not given" in text


def test_double_grafts_in_the_same_table_form(coord: TestClient) -> None:
    html = coord.get("/search", params=PATIENT).text
    doubles = rows(html.split('id="h-doubles"')[1])
    assert len(doubles) == 1 and A in doubles[0] and C in doubles[0]
    assert "8.45" in doubles[0] and "88%" in doubles[0] and "7/8 + 6/8" in doubles[0]
    assert "possible DSA" in doubles[0]  # a member's caution shows on the graft
    assert "double=1" in html.split('id="h-doubles"')[1]


def test_compare_two_or_three_units_side_by_side(coord: TestClient) -> None:
    r = coord.get("/search", params={**PATIENT, "compare": [A, C]})
    assert r.status_code == 200
    side = r.text.split('id="h-compare"')[1].split("</table>")[0]
    assert A in side and C in side and B not in side
    assert "RBC replete" not in side and "possible DSA" in side and "donor-specific antibodies" in side
    assert 'value="' + A + '" form="compare-form" id="cmp-' + A + '" checked' in r.text
    r = coord.get("/search", params={**PATIENT, "compare": [A]})
    assert r.status_code == 422 and "select two or three units" in r.text
    r = coord.get("/search", params={**PATIENT, "compare": [A, B, C, demo_din(4)]})
    assert r.status_code == 422


def test_reserve_from_the_table(coord: TestClient) -> None:
    html = coord.get("/search", params=PATIENT).text
    assert f'formaction="/units/{A}/reserve"' in html and 'id="reserve-form"' in html
    r = coord.post(f"/units/{A}/reserve", data={"csrf": csrf_of(html), "patient_ref": "PT-77", "days": "30"},
                   follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith(f"/units/{A}")
    assert "PT-77" in coord.get("/reservations").text


def test_a_technician_sees_no_reserve_buttons_and_bad_input_has_no_library_words(
    tmp_path: Path, seeded_db: Path
) -> None:
    shutil.copyfile(seeded_db, tmp_path / "t.sqlite3")
    tech = TestClient(create_app(str(tmp_path / "t.sqlite3"), search_backend=backend))
    login(tech, "tech")
    html = tech.get("/search", params=PATIENT).text
    assert "formaction=" not in html and len(rows(html)) == 4
    r = tech.get("/search", params={**PATIENT, "weight_kg": "-3"})
    assert r.status_code == 422 and "pydantic" not in r.text and "http" not in r.text.split("<main")[1]
    assert "Weight (kg)" in r.text and "greater than 0" in r.text


def test_report_links_appear_once_the_report_routes_exist(coord: TestClient) -> None:
    from fastapi.responses import Response

    html = coord.get("/search", params=PATIENT).text
    assert "/search/report.pdf" not in html and "data-print" in html  # not built yet: the browser prints
    app: Any = coord.app

    async def stub() -> Response:
        return Response(b"%PDF-")

    for path in ("/search/report.pdf", "/search/print", "/units/{din}/report.pdf", "/units/{din}/label.pdf"):
        app.add_api_route(path, stub)
    html = coord.get("/search", params=PATIENT).text
    assert 'href="/search/report.pdf?patient_gl=' in html and 'href="/search/print?patient_gl=' in html
    unit = coord.get(f"/units/{A}").text
    assert f'href="/units/{A}/report.pdf"' in unit and f'href="/units/{A}/label.pdf"' in unit


def test_explain_takes_the_din_as_the_unit_list_shows_it(coord: TestClient) -> None:
    seen: list[str | None] = []
    app: Any = coord.app
    app.state.search_backend = lambda actor, query: seen.append(query.explain) or backend(actor, query)
    labelled = coord.get("/units").text.split(f'href="/units/{A}">')[1].split("<")[0]
    assert labelled != A and labelled.startswith(A)  # the list shows the check character
    assert coord.get("/search", params={**PATIENT, "explain": labelled}).status_code == 200
    assert coord.get("/search", params={**PATIENT, "explain": "CB-000042"}).status_code == 200
    assert seen == [A, "CB-000042"]
    wrong = A + ("Q" if not labelled.endswith("Q") else "R")
    r = coord.get("/search", params={**PATIENT, "explain": wrong})
    assert r.status_code == 422 and 'id="f-explain"' in r.text and "check character" in r.text


def test_compare_keeps_every_search_field(coord: TestClient) -> None:
    seen: list[Any] = []
    app: Any = coord.app
    app.state.search_backend = lambda actor, query: seen.append(query) or backend(actor, query)
    html = coord.get("/search", params={**PATIENT, "population": "AFA", "research": "on"}).text
    hidden = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html.split('id="compare-form"')[1])
    )
    assert hidden["population"] == "AFA" and hidden["research"] == "on" and hidden["diagnosis"] == "AML"
    coord.get("/search", params={**hidden, "compare": [A, B]})
    assert seen[-1].population == "AFA" and seen[-1].research is True
