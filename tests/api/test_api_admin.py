"""Users, tokens, banks, product codes, QC criteria, audit verification, CSV import/export, search seam."""

from __future__ import annotations

import csv
import io
from typing import Any

from api.conftest import Api, assert_problem, make_api
from services.conftest import to_available

HEADER = "din,product_code,bank_code,collected_at,collection_tnc,abo,tank,rack,box,slot"


def test_users_and_tokens(api: Api) -> None:
    c, admin = api.client, api.as_("admin")
    users = c.get("/api/v1/users?limit=2", headers=admin).json()
    assert users["total"] == 5 and len(users["items"]) == 2 and users["links"]["next"]
    body = {"username": "tech2", "password": "long enough pw", "role": "technician"}
    r = c.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["role"] == "technician"
    assert_problem(c.post("/api/v1/users", json=body, headers=admin), 409, "username")
    assert_problem(
        c.post("/api/v1/users", json={**body, "username": "t3", "password": "short"}, headers=admin), 422, "password"
    )
    assert_problem(c.post("/api/v1/users", json={**body, "username": "t3", "role": "king"}, headers=admin), 422, "role")
    token = c.post("/api/v1/tokens", json={"name": "t2", "for_user": "tech2"}, headers=admin).json()
    h2 = {"Authorization": f"Bearer {token['token']}"}
    assert c.get("/api/v1/me", headers=h2).json()["username"] == "tech2"
    assert c.patch("/api/v1/users/tech2", json={"active": False}, headers=admin).json()["active"] is False
    assert_problem(c.get("/api/v1/me", headers=h2), 401)
    assert_problem(c.patch("/api/v1/users/ghost", json={"active": False}, headers=admin), 404, "username")
    own = c.post("/api/v1/tokens", json={"name": "mine", "days": 2}, headers=api.as_("tech")).json()
    h3 = {"Authorization": f"Bearer {own['token']}"}
    assert c.get("/api/v1/me", headers=h3).status_code == 200
    assert c.delete(f"/api/v1/tokens/{own['id']}", headers=h3).status_code == 204
    assert_problem(c.get("/api/v1/me", headers=h3), 401)
    assert_problem(c.delete("/api/v1/tokens/9999", headers=admin), 404)
    assert_problem(c.post("/api/v1/tokens", json={"name": "x", "days": 0}, headers=admin), 422, "days")


def test_banks_product_codes_criteria_and_audit(api: Api) -> None:
    c, admin = api.client, api.as_("admin")
    r = c.post("/api/v1/banks", json={"code": "BANK2", "name": "Second bank", "accreditation": "AABB"}, headers=admin)
    assert r.status_code == 201
    assert_problem(c.post("/api/v1/banks", json={"code": "BANK2", "name": "again"}, headers=admin), 409, "bank_code")
    assert {b["code"] for b in c.get("/api/v1/banks", headers=api.as_("coord")).json()} == {"BANK1", "BANK2"}
    assert c.put(
        "/api/v1/product-codes", json={"codes": {"X0002": "HPC, Cord Blood (test)"}}, headers=admin
    ).json() == {"loaded": 1}
    assert_problem(c.put("/api/v1/product-codes", json={"codes": {"bad code": "x"}}, headers=admin), 422)
    criteria = c.get("/api/v1/qc-criteria", headers=api.as_("tech")).json()
    assert criteria and all(cr["source"] for cr in criteria)
    mine = [{"key": "tnc_pre_cryo", "kind": "ge", "threshold": 1.5e9, "source": "our bank SOP 12 [U]"}]
    assert_problem(c.put("/api/v1/qc-criteria", json=mine, headers=api.as_("tech")), 403)
    assert_problem(c.put("/api/v1/qc-criteria", json=[{"key": "tnc_pre_cryo", "kind": "ge", "threshold": 1}],
                         headers=admin), 422)  # fmt: skip
    assert_problem(c.put("/api/v1/qc-criteria", json=[{**mine[0], "kind": "about"}], headers=admin), 422)
    assert c.put("/api/v1/qc-criteria", json=mine, headers=api.as_("director")).json()[0]["threshold"] == 1.5e9
    assert [cr["key"] for cr in c.get("/api/v1/qc-criteria", headers=admin).json()] == ["tnc_pre_cryo"]
    chain = c.get("/api/v1/audit/verify", headers=admin).json()
    assert chain["ok"] is True and chain["broken_at"] is None and chain["rows"] > 5


def test_bank_contact_is_set_shown_and_audited(api: Api) -> None:
    c, admin = api.client, api.as_("admin")
    contact = "Search desk: +44 20 0000 0000, search@bank3.invalid"
    r = c.post("/api/v1/banks", json={"code": "BANK3", "name": "Third bank", "contact": contact}, headers=admin)
    assert r.status_code == 201 and r.json()["contact"] == contact
    r = c.put("/api/v1/banks/BANK1/contact", json={"contact": "  desk@bank1.invalid  "}, headers=admin)
    assert r.status_code == 200 and r.json()["contact"] == "desk@bank1.invalid"
    banks = {b["code"]: b["contact"] for b in c.get("/api/v1/banks", headers=api.as_("coord")).json()}
    assert banks == {"BANK1": "desk@bank1.invalid", "BANK3": contact}
    assert c.put("/api/v1/banks/BANK1/contact", json={"contact": None}, headers=admin).json()["contact"] is None
    assert_problem(c.put("/api/v1/banks/NOPE/contact", json={"contact": "x"}, headers=admin), 404, "bank_code")
    assert_problem(c.put("/api/v1/banks/BANK1/contact", json={"contact": "x"}, headers=api.as_("coord")), 403)
    assert_problem(c.put("/api/v1/banks/BANK1/contact", json={"contact": "x" * 501}, headers=admin), 422, "contact")
    chain = c.get("/api/v1/audit/verify", headers=admin).json()
    assert chain["ok"] is True


def test_csv_import_is_all_or_nothing_with_a_per_line_report(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    good = [
        "G123498654331,X0001,BANK1,2026-05-01T08:00:00+00:00,1.5e9,O,T9,R1,B1,1",
        "G123498654332,X0001,BANK1,2026-05-02T08:00:00+00:00,1.4e9,A,T9,R1,B1,2",
    ]
    bad = [
        *good,
        "G12349865433,X0001,BANK1,2026-05-02T08:00:00+00:00,1.4e9,A,T9,R1,B1,3",  # short DIN
        "G123498654334,X0001,BANK1,2026-05-02T08:00:00+00:00,-1,A,T9,R1,B1,4",  # negative TNC
        "G123498654335,X0001,BANK1,2099-05-02T08:00:00+00:00,1e9,A,T9,R1,B1,5",  # future
        "G123498654336,X0001,BANK1,2026-05-02T08:00:00+00:00,1e9,A,T9,R1,B1,1",  # slot of line 2
    ]
    csv_headers = {**tech, "content-type": "text/csv"}
    r = c.post("/api/v1/units/import", content="\n".join([HEADER, *bad]).encode(), headers=csv_headers)
    body = assert_problem(r, 422)
    lines = {(e["line"], e["field"]) for e in body["errors"]}
    assert {4, 5, 6, 7} == {line for line, _ in lines}, body["errors"]
    assert (5, "collection_tnc") in lines and (6, "collected_at") in lines and (7, "storage") in lines
    assert c.get("/api/v1/units", headers=tech).json()["total"] == 0  # nothing written
    r = c.post("/api/v1/units/import", content="\n".join([HEADER, *good]).encode(), headers=csv_headers)
    assert r.status_code == 201 and r.json()["imported"] == 2
    assert_problem(c.post("/api/v1/units/import", content=b"\xff\xfe", headers=csv_headers), 422, "body")
    assert_problem(c.post("/api/v1/units/import", content=b"a,b\n1,2\n", headers=csv_headers), 422, "header")
    exported = c.get("/api/v1/units/export.csv?state=collected", headers=api.as_("director"))
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["din"] for r in rows) == ["G123498654331", "G123498654332"]
    assert rows[0]["state"] == "collected"
    assert c.get("/api/v1/units/export.csv?state=available", headers=tech).text.count("\n") == 1  # header only


def test_search_seam(store: Any) -> None:
    calls: list[Any] = []

    def fake(actor: Any, query: Any) -> dict[str, Any]:
        calls.append((actor.username, query))
        return {
            "policy": query.policy,
            "results": [{"rank": 1, "unit_id": "G123498654321", "reasons": ["x"]}],
            "double_units": [],
            "notes": [],
            "counts": {},
            "patient": {},
        }

    api = make_api(store, search_backend=fake)
    to_available(api.world)
    body = {"patient_gl": "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01", "weight_kg": 18.5}
    r = api.client.post("/api/v1/search", json=body, headers=api.as_("coord"))
    assert r.status_code == 200 and r.json()["results"][0]["rank"] == 1
    assert calls[0][0] == "coord" and calls[0][1].weight_kg == 18.5
    assert_problem(
        api.client.post("/api/v1/search", json={**body, "weight_kg": -3}, headers=api.as_("coord")), 422, "weight_kg"
    )
    assert_problem(api.client.post("/api/v1/search", json=body), 401)


def test_search_without_backend_is_a_clear_501(api: Api) -> None:
    body = {"patient_gl": "A*01:01+A*02:01", "weight_kg": 20}
    problem = assert_problem(api.client.post("/api/v1/search", json=body, headers=api.as_("coord")), 501, "search")
    assert "not enabled" in problem["detail"]


def test_search_ranks_the_available_units_of_the_bank(store: Any) -> None:
    """The real search (selection issue) over the bank store: ranked, explained, never a reserved unit."""
    api = make_api(store, search_backend="auto")
    gl = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"
    other = "A*03:01+A*24:02^B*07:02+B*35:01^C*04:01+C*07:02^DRB1*04:01+DRB1*11:01"
    for din, slot, typing in (("G123498654321", "1", gl), ("G123498654322", "2", other)):
        to_available(api.world, din, slot)
        api.world.svc.units.record_typing(api.world.tech, din, typing, kind="extended")
    c, coord = api.client, api.as_("coord")
    query = {"patient_gl": gl, "weight_kg": 18, "explain": "G123498654322"}
    out = c.post("/api/v1/search", json=query, headers=coord).json()
    ranked = [r["unit_id"] for r in out["results"]]
    assert ranked[0] == "G123498654321" and out["results"][0]["match_8"]["bidirectional"] == 8
    assert all(r["reasons"] for r in out["results"]) and out["counts"]["units"] == 2
    assert out["explain"]["unit_id"] == "G123498654322" and out["explain"]["explanation"]
    assert any("source" in ch for ch in out["results"][0]["checks"])
    # reserved units leave the index at once (the index follows the available units)
    assert (
        c.post("/api/v1/reservations", json={"din": "G123498654321", "patient_ref": "P"}, headers=coord).status_code
        == 201
    )
    out = c.post("/api/v1/search", json={**query, "explain": None}, headers=coord).json()
    assert "G123498654321" not in [r["unit_id"] for r in out["results"]] and out["counts"]["units"] == 1
    assert_problem(c.post("/api/v1/search", json={**query, "patient_gl": "A*01:01"}, headers=coord), 422, "patient_gl")
    assert_problem(c.post("/api/v1/search", json={**query, "policy": "fastest"}, headers=coord), 422, "policy")
    assert_problem(c.post("/api/v1/search", json={**query, "antibodies": "A*02:01,lots"}, headers=coord), 422,
                   "antibodies")  # fmt: skip
