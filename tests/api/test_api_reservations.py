"""Reservations over REST: create, one active per unit, cancel, CT, list with pagination, expiry."""

from __future__ import annotations

from api.conftest import Api, assert_problem
from services.conftest import to_available

DINS = ("G123498654321", "G123498654322", "G123498654323")


def test_reserve_cancel_list_and_expire(api: Api) -> None:
    for i, din in enumerate(DINS):
        to_available(api.world, din, str(i + 1))
    c, coord, coord2, tech = api.client, api.as_("coord"), api.as_("coord2"), api.as_("tech")
    r = c.post("/api/v1/reservations", json={"din": DINS[0], "patient_ref": "P-1", "days": 7}, headers=coord)
    assert r.status_code == 201, r.text
    res = r.json()
    assert res["status"] == "active" and res["centre"] == "Centre A" and res["reserved_by"] == "coord"
    assert_problem(
        c.post("/api/v1/reservations", json={"din": DINS[0], "patient_ref": "P-2"}, headers=coord2), 409, "din"
    )
    assert_problem(
        c.post("/api/v1/reservations", json={"din": DINS[1], "patient_ref": "P", "days": 0}, headers=coord), 422, "days"
    )
    assert_problem(
        c.post("/api/v1/reservations", json={"din": DINS[1], "patient_ref": ""}, headers=coord), 422, "patient_ref"
    )
    assert_problem(
        c.post("/api/v1/reservations", json={"din": "G123498654399", "patient_ref": "P"}, headers=coord), 404, "din"
    )
    for din in DINS[1:]:
        assert (
            c.post("/api/v1/reservations", json={"din": din, "patient_ref": "P-3"}, headers=coord2).status_code == 201
        )
    # a coordinator sees their centre's reservations; bank staff see all; pagination with links
    assert c.get("/api/v1/reservations", headers=coord).json()["total"] == 1
    page = c.get("/api/v1/reservations?limit=2", headers=tech).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["links"]["next"]
    assert len(c.get(page["links"]["next"], headers=tech).json()["items"]) == 1
    assert c.get(f"/api/v1/reservations?din={DINS[0]}", headers=tech).json()["items"][0]["id"] == res["id"]
    assert_problem(c.get("/api/v1/reservations?status=lost", headers=tech), 422, "status")
    # another centre may not cancel; own centre may; twice is a conflict
    rid = res["id"]
    assert_problem(c.post(f"/api/v1/reservations/{rid}/cancel", json={"reason": "no"}, headers=coord2), 404)
    assert_problem(c.post(f"/api/v1/reservations/{rid}/cancel", json={}, headers=coord), 422, "reason")
    r = c.post(f"/api/v1/reservations/{rid}/cancel", json={"reason": "patient found a donor"}, headers=coord)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(c.post(f"/api/v1/reservations/{rid}/cancel", json={"reason": "again"}, headers=coord), 409)
    assert_problem(c.post("/api/v1/reservations/999/cancel", json={"reason": "x"}, headers=coord), 404)
    assert c.get(f"/api/v1/units/{DINS[0]}", headers=tech).json()["state"] == "available"
    assert c.get("/api/v1/reservations?status=cancelled", headers=tech).json()["total"] == 1
    assert c.get("/api/v1/reservations?status=all", headers=tech).json()["total"] == 3
    # expiry: 31 days later the two 30-day reservations end
    api.world.clock.advance(days=31)
    assert c.post("/api/v1/reservations/expire", headers=tech).json() == {"expired": 2}
    assert c.get("/api/v1/reservations", headers=tech).json()["total"] == 0
    assert_problem(c.post(f"/api/v1/reservations/{rid}/ct-request", headers=coord), 409)
