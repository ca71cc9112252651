"""Bad input and bad credentials answer problem+json naming the field; never a 500 with a traceback."""

from __future__ import annotations

from typing import Any

from api.conftest import Api, assert_problem, json_registration, make_api


def test_bad_registrations_name_the_field_and_write_nothing(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    cases: list[tuple[dict[str, Any], int, str]] = [
        (json_registration(din="G12349865432"), 422, "din"),  # 12 characters
        (json_registration(din="G1234986543210"), 422, "din"),  # wrong check character
        (json_registration(collected_at="2099-01-01T00:00:00+00:00"), 422, "collected_at"),
        (json_registration(collected_at="2026-05-01T00:00:00"), 422, "collected_at"),  # no time zone
        (json_registration(collection={"tnc": -5}), 422, "collection.tnc"),
        (json_registration(collection={"tnc": "many"}), 422, "collection.tnc"),
        (json_registration(collection={"viability_pct": 140}), 422, "collection.viability_pct"),
        (json_registration(product_code="Z9999"), 422, "product_code"),
        (json_registration(bank_code="NOPE"), 422, "bank_code"),
        (json_registration(hla_gl="A*01:01+"), 422, "hla_gl"),
        (json_registration(colour="blue"), 422, "colour"),  # unknown field
        ({k: v for k, v in json_registration().items() if k != "din"}, 422, "din"),  # missing field
    ]
    for body, status, field in cases:
        assert_problem(c.post("/api/v1/units", json=body, headers=tech), status, field)
    assert c.get("/api/v1/units", headers=tech).json()["total"] == 0
    assert c.post("/api/v1/units", json=json_registration(), headers=tech).status_code == 201
    assert_problem(c.post("/api/v1/units", json=json_registration(slot="2"), headers=tech), 409, "din")
    dup_slot = json_registration("G123498654322", slot="1")
    assert_problem(c.post("/api/v1/units", json=dup_slot, headers=tech), 409, "storage")
    malformed = c.post("/api/v1/units", content=b'{"din": ', headers={**tech, "content-type": "application/json"})
    assert_problem(malformed, 400)
    assert_problem(c.post("/api/v1/units", content=b"\xff\xfe", headers=tech), 422)
    din = "G123498654321"
    assert_problem(c.put(f"/api/v1/units/{din}/measurements/thawed", json={}, headers=tech), 422, "stage")
    assert_problem(c.post(f"/api/v1/units/{din}/transitions", json={"target": "available"}, headers=tech), 409, "state")
    assert_problem(c.post(f"/api/v1/units/{din}/transitions", json={"target": "gone"}, headers=tech), 422, "state")
    assert_problem(c.post(f"/api/v1/units/{din}/discard", json={"reason": " "}, headers=tech), 422, "reason")
    assert c.get("/api/v1/units", headers=tech).json()["total"] == 1


def test_authentication(api: Api) -> None:
    c = api.client
    body = assert_problem(c.get("/api/v1/units"), 401, "authorization")
    assert "Bearer" in body["detail"]
    assert c.get("/api/v1/units").headers["WWW-Authenticate"] == "Bearer"
    assert_problem(c.get("/api/v1/units", headers={"Authorization": "Bearer cmt_nope"}), 401)
    assert_problem(c.get("/api/v1/units", headers={"Authorization": "Basic eDp5"}), 401)
    assert_problem(c.post("/api/v1/auth/token", json={"username": "tech", "password": "wrong password"}), 401)
    assert_problem(c.post("/api/v1/auth/token", json={"username": "nobody", "password": "x" * 10}), 401)
    assert_problem(c.post("/api/v1/auth/token", json={"username": "tech"}), 422, "password")
    r = c.post("/api/v1/auth/token", json={"username": "coord", "password": "correct horse battery", "days": 1})
    assert r.status_code == 201
    me = c.get("/api/v1/me", headers={"Authorization": f"Bearer {r.json()['token']}"}).json()
    assert me == {"username": "coord", "role": "coordinator", "centre": "Centre A"}


def test_unexpected_errors_are_problem_json_without_traceback(store: Any) -> None:
    def broken(actor: Any, query: Any) -> dict[str, Any]:
        raise RuntimeError("secret internals /etc/passwd")

    api = make_api(store, search_backend=broken)
    r = api.client.post(
        "/api/v1/search", json={"patient_gl": "A*01:01+A*02:01", "weight_kg": 20}, headers=api.as_("coord")
    )
    body = assert_problem(r, 500)
    assert "secret" not in r.text and "passwd" not in r.text and "RuntimeError" not in body["detail"]


def test_nul_characters_are_refused_naming_the_field(api: Api) -> None:
    """PostgreSQL cannot store U+0000; every way in answers 422 naming the field, nothing is stored."""
    from services.conftest import to_available

    to_available(api.world, "G123498654322", "2")
    c = api.client
    cases: list[tuple[str, str, dict[str, Any], str, str]] = [
        ("POST", "/api/v1/reservations", {"json": {"din": "G123498654322", "patient_ref": "a\x00b"}}, "coord",
         "patient_ref"),
        ("POST", "/api/v1/users", {"json": {"username": "u\x00", "password": "long enough", "role": "technician"}},
         "admin", "username"),
        ("POST", "/api/v1/units", {"json": json_registration(collection={"tnc": 1, "x\x00": 2})}, "tech",
         "collection.x\x00"),
        ("GET", "/api/v1/units?bank_code=a%00b", {}, "tech", "bank_code"),
        ("POST", "/api/v1/units/import", {"content": b"din,product_code\nG1\x00,X\n",
                                          "headers": {"content-type": "text/csv"}}, "tech", "line 2"),
    ]  # fmt: skip
    for method, path, kw, who, field in cases:
        headers = {**api.as_(who), **kw.pop("headers", {})}
        body = assert_problem(c.request(method, path, headers=headers, **kw), 422)
        assert body["errors"][0]["field"] == field, body
    assert c.get("/api/v1/reservations", headers=api.as_("tech")).json()["total"] == 0
    assert c.get("/api/v1/units", headers=api.as_("tech")).json()["total"] == 1
