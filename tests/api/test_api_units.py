"""Units through their lifecycle over REST: register, results, transitions, release, ship, timeline."""

from __future__ import annotations

from typing import Any

from api.conftest import Api, assert_problem, json_registration

DIN = "G123498654321"
U = f"/api/v1/units/{DIN}"


def test_openapi_and_docs_are_served(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert spec["info"]["title"] == "cordmatch"
    for path in (
        "/api/v1/units",
        "/api/v1/units/{din}/release",
        "/api/v1/reservations",
        "/api/v1/search",
        "/api/v1/audit/verify",
        "/api/v1/units/import",
        "/api/v1/units/export.csv",
    ):
        assert path in spec["paths"], path
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_register_through_release_ship_and_infusion(api: Api) -> None:
    c = api.client
    r = c.post("/api/v1/units", json=json_registration(), headers=api.as_("tech"))
    assert r.status_code == 201
    assert r.headers["Location"] == U
    assert r.json()["state"] == "collected" and r.json()["din_labelled"].startswith(DIN)
    assert_problem(c.post(f"{U}/discard", json={"reason": "x"}, headers=api.as_("coord")), 403, "role")
    r = c.post(f"{U}/transitions", json={"target": "received"}, headers=api.as_("tech"))
    assert r.json()["state"] == "received"
    r = c.post(
        f"{U}/processing",
        headers=api.as_("tech"),
        json={"values": {"volume_ml": 25.0, "tnc": 1.3e9, "cd34": 4.5e6}, "red_cell_depleted": True},
    )
    assert r.json()["state"] == "processed" and r.json()["measurements"]["post_processing"]["tnc"] == 1.3e9
    c.put(
        f"{U}/measurements/pre_cryo",
        headers=api.as_("tech"),
        json={"volume_ml": 25.0, "tnc": 1.25e9, "cd34": 4.4e6, "viability_pct": 97.0},
    )
    for target in ("cryopreserved", "quarantine"):
        c.post(f"{U}/transitions", json={"target": target}, headers=api.as_("tech"))
    check = c.get(f"{U}/release-check", headers=api.as_("director")).json()
    assert check["passed"] is False
    missing = {i["key"] for i in check["items"] if i["verdict"] == "missing"}
    assert "sterility" in missing
    c.post(
        f"{U}/tests",
        headers=api.as_("tech"),
        json={
            "abo": "A",
            "rh": "pos",
            "idm_result": "negative",
            "sterility": "negative",
            "hb_screen": "normal",
            "segments": 2,
        },
    )
    c.put(
        f"{U}/measurements/post_thaw",
        headers=api.as_("tech"),
        json={"viable_cd34_pct": 88.0, "viable_cd45_pct": 65.0, "cfu": 140},
    )
    check = c.get(f"{U}/release-check", headers=api.as_("tech")).json()
    assert check["passed"] is True
    assert all({"key", "text", "value", "verdict", "source"} <= set(i) for i in check["items"])
    assert_problem(c.post(f"{U}/release", headers=api.as_("tech")), 403, "role")
    r = c.post(f"{U}/release", headers=api.as_("director"))
    assert r.status_code == 200, r.text
    rel = r.json()
    assert rel["released"] and not rel["exceptional"] and rel["decided_by"] == "director"
    assert c.get(U, headers=api.as_("coord")).json()["state"] == "available"
    r = c.post("/api/v1/reservations", json={"din": DIN, "patient_ref": "P-1"}, headers=api.as_("coord"))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert c.post(f"/api/v1/reservations/{rid}/ct-request", headers=api.as_("coord")).json()["ct_status"] == "requested"
    assert_problem(c.post(f"{U}/ship", headers=api.as_("tech")), 409, "ct_status")
    gl = "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"
    r = c.post(f"/api/v1/reservations/{rid}/ct-result", json={"gl": gl, "lab": "HLA lab"}, headers=api.as_("tech"))
    assert r.status_code == 200 and r.json()["ct_status"] == "done"
    assert c.post(f"{U}/ship", json={"note": "courier 1"}, headers=api.as_("tech")).json()["state"] == "shipped"
    assert c.post(f"{U}/infuse", headers=api.as_("tech")).json()["state"] == "infused"
    actions = [e["action"] for e in c.get(f"{U}/timeline", headers=api.as_("tech")).json()]
    assert actions[0] == "unit.register" and "unit.release" in actions and actions[-1] == "unit.infuse"
    chain = c.get("/api/v1/audit/verify", headers=api.as_("admin")).json()
    assert chain["ok"] and chain["rows"] > len(actions)


def test_typing_storage_exceptional_release_and_discard(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    c.post("/api/v1/units", json=json_registration(), headers=tech)
    gl = "A*02:01+A*03:01^B*07:02+B*44:02^DRB1*15:01+DRB1*04:01"
    r = c.post(f"{U}/typings", json={"gl": gl, "kind": "extended", "lab": "lab 2"}, headers=tech)
    assert r.status_code == 201 and r.json()["hla_gl"] == gl and len(r.json()["typings"]) == 2
    r = c.put(f"{U}/storage", json={"tank": "T2", "rack": "R1", "box": "B1", "slot": "9"}, headers=tech)
    assert r.json()["storage"]["tank"] == "T2"
    c.post("/api/v1/units", json=json_registration("G123498654322", "5"), headers=tech)
    taken = c.put(
        "/api/v1/units/G123498654322/storage", json={"tank": "T2", "rack": "R1", "box": "B1", "slot": "9"}, headers=tech
    )
    assert_problem(taken, 409, "storage")
    # straight to quarantine without results: release refused, then exceptional release
    for target in ("received",):
        c.post(f"{U}/transitions", json={"target": target}, headers=tech)
    c.post(f"{U}/processing", json={"values": {"tnc": 1e9}, "red_cell_depleted": False}, headers=tech)
    for target in ("cryopreserved", "quarantine"):
        c.post(f"{U}/transitions", json={"target": target}, headers=tech)
    body = assert_problem(c.post(f"{U}/release", headers=api.as_("director")), 409, "qc")
    assert "exceptional" in body["detail"]
    r = c.post(
        f"{U}/release", json={"exceptional_reason": "only match for a named patient"}, headers=api.as_("director")
    )
    assert r.status_code == 200 and r.json()["exceptional"] is True
    r = c.post("/api/v1/units/G123498654322/discard", json={"reason": "bag leaked"}, headers=tech)
    assert r.json()["state"] == "discarded"
    assert_problem(
        c.post("/api/v1/units/G123498654322/transitions", json={"target": "received"}, headers=tech), 409, "state"
    )


def test_list_filters_and_pagination(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    dins = [f"G1234986543{n:02d}" for n in range(21, 26)]
    for i, din in enumerate(dins):
        assert c.post("/api/v1/units", json=json_registration(din, str(10 + i)), headers=tech).status_code == 201
    c.post(f"/api/v1/units/{dins[0]}/transitions", json={"target": "received"}, headers=tech)
    first = c.get("/api/v1/units?limit=2", headers=tech)
    page: dict[str, Any] = first.json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["offset"] == 0
    assert page["links"]["next"].endswith("limit=2&offset=2") and page["links"]["prev"] is None
    assert 'rel="next"' in first.headers["Link"] and first.headers["X-Total-Count"] == "5"
    seen = [u["din"] for u in page["items"]]
    nxt = page["links"]["next"]
    while nxt:
        page = c.get(nxt, headers=tech).json()
        seen += [u["din"] for u in page["items"]]
        nxt = page["links"]["next"]
    assert sorted(seen) == sorted(dins) and len(set(seen)) == 5
    assert page["links"]["prev"] is not None
    received = c.get("/api/v1/units?state=received", headers=tech).json()
    assert [u["din"] for u in received["items"]] == [dins[0]]
    assert c.get("/api/v1/units?din_prefix=G12349865432", headers=tech).json()["total"] == 5
    assert c.get("/api/v1/units?bank_code=NOPE", headers=tech).json()["total"] == 0
    assert c.get("/api/v1/units", headers=api.as_("coord")).json()["total"] == 0  # nothing available yet
    assert_problem(c.get("/api/v1/units?state=frozen", headers=tech), 422, "state")
    assert_problem(c.get("/api/v1/units?limit=0", headers=tech), 422, "limit")
    assert_problem(c.get("/api/v1/units?limit=5000", headers=tech), 422, "limit")
    assert_problem(c.get("/api/v1/units?offset=-1", headers=tech), 422, "offset")
    assert_problem(c.get("/api/v1/units?collected_from=yesterday", headers=tech), 422, "collected_from")


def test_unit_visibility_and_not_found(api: Api) -> None:
    c = api.client
    c.post("/api/v1/units", json=json_registration(), headers=api.as_("tech"))
    assert_problem(c.get(U, headers=api.as_("coord")), 404, "din")  # not listed yet
    assert_problem(c.get("/api/v1/units/G123498654399", headers=api.as_("tech")), 404, "din")
    assert_problem(c.get("/api/v1/units/NOTADIN", headers=api.as_("tech")), 422, "din")
    assert_problem(c.get("/api/v1/nothing-here", headers=api.as_("tech")), 404)
    assert_problem(c.delete(U, headers=api.as_("tech")), 405)
