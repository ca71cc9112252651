"""Every endpoint checks the role through the service layer: forbidden access answers 403 problem+json."""

from __future__ import annotations

from typing import Any

from api.conftest import Api, assert_problem, json_registration
from services.conftest import to_available, to_quarantine

DIN_Q = "G123498654321"  # quarantine
DIN_A = "G123498654322"  # available
CSV = "din,product_code,bank_code,collected_at\nG123498654330,X0001,BANK1,2026-05-01T08:00:00+00:00\n"

# (role, method, path, json body or csv text) that must be refused with 403
FORBIDDEN: list[tuple[str, str, str, Any]] = [
    ("coord", "POST", "/api/v1/units", json_registration("G123498654329", "9")),
    ("admin", "POST", "/api/v1/units", json_registration("G123498654329", "9")),
    ("coord", "POST", f"/api/v1/units/{DIN_Q}/transitions", {"target": "discarded", "reason": "x"}),
    ("coord", "POST", f"/api/v1/units/{DIN_Q}/tests", {"abo": "O"}),
    ("coord", "PUT", f"/api/v1/units/{DIN_Q}/measurements/post_thaw", {"cfu": 1}),
    ("coord", "POST", f"/api/v1/units/{DIN_Q}/typings", {"gl": "A*01:01+A*01:01"}),
    ("coord", "PUT", f"/api/v1/units/{DIN_Q}/storage", {"tank": "a", "rack": "b", "box": "c", "slot": "d"}),
    ("coord", "POST", f"/api/v1/units/{DIN_Q}/discard", {"reason": "x"}),
    ("admin", "POST", f"/api/v1/units/{DIN_Q}/discard", {"reason": "x"}),
    ("tech", "POST", f"/api/v1/units/{DIN_Q}/release", None),
    ("coord", "POST", f"/api/v1/units/{DIN_Q}/release", None),
    ("admin", "POST", f"/api/v1/units/{DIN_Q}/release", None),
    ("coord", "GET", f"/api/v1/units/{DIN_A}/timeline", None),
    ("coord", "GET", f"/api/v1/units/{DIN_Q}/release-check", None),
    ("coord", "POST", f"/api/v1/units/{DIN_A}/ship", None),
    ("tech", "POST", "/api/v1/reservations", {"din": DIN_A, "patient_ref": "P"}),
    ("admin", "POST", "/api/v1/reservations", {"din": DIN_A, "patient_ref": "P"}),
    ("coord", "POST", "/api/v1/reservations/expire", None),
    ("tech", "GET", "/api/v1/users", None),
    ("director", "POST", "/api/v1/users", {"username": "x", "password": "y" * 10, "role": "admin"}),
    ("coord", "PATCH", "/api/v1/users/tech", {"active": False}),
    ("tech", "POST", "/api/v1/tokens", {"name": "t", "for_user": "director"}),
    ("tech", "POST", "/api/v1/banks", {"code": "B2", "name": "Bank 2"}),
    ("coord", "PUT", "/api/v1/product-codes", {"codes": {"X0002": "x"}}),
    ("tech", "GET", "/api/v1/audit/verify", None),
    ("coord", "GET", "/api/v1/audit/verify", None),
    ("coord", "GET", "/api/v1/units/export.csv", None),
    ("coord", "POST", "/api/v1/units/import", CSV),
    ("admin", "POST", "/api/v1/units/import", CSV),
]


def test_forbidden_per_role(api: Api) -> None:
    to_quarantine(api.world, DIN_Q, "1")
    to_available(api.world, DIN_A, "2")
    before = api.client.get("/api/v1/audit/verify", headers=api.as_("admin")).json()["rows"]
    for who, method, path, body in FORBIDDEN:
        kw: dict[str, Any] = {"headers": dict(api.as_(who))}
        if isinstance(body, str):
            kw["content"] = body.encode()
            kw["headers"]["content-type"] = "text/csv"
        elif body is not None:
            kw["json"] = body
        r = api.client.request(method, path, **kw)
        assert r.status_code == 403, (who, method, path, r.text)
        assert_problem(r, 403)
    after = api.client.get("/api/v1/audit/verify", headers=api.as_("admin")).json()["rows"]
    assert after == before  # nothing was written
    assert api.client.get(f"/api/v1/units/{DIN_Q}", headers=api.as_("tech")).json()["state"] == "quarantine"


def test_allowed_reads_per_role(api: Api) -> None:
    to_available(api.world, DIN_A, "2")
    c = api.client
    for who in ("tech", "director", "coord", "admin"):
        assert c.get("/api/v1/units", headers=api.as_(who)).status_code == 200, who
        assert c.get(f"/api/v1/units/{DIN_A}", headers=api.as_(who)).status_code == 200, who
        assert c.get("/api/v1/banks", headers=api.as_(who)).status_code == 200, who
        assert c.get("/api/v1/qc-criteria", headers=api.as_(who)).status_code == 200, who
    assert c.get(f"/api/v1/units/{DIN_A}", headers=api.as_("coord")).json()["storage"] is None  # hidden
    assert c.get("/api/v1/audit/verify", headers=api.as_("director")).json()["ok"] is True
