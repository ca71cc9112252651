"""POST /api/v1/search on the bank store: the selection rules of issue 10 through the API (422 problems,
antibodies per unit, investigational gate, population)."""

from __future__ import annotations

from typing import Any

from api.conftest import assert_problem, make_api
from services.conftest import to_available

PATIENT = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01"
DR4 = "A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*04:01+DRB1*03:01"  # 5/6, DRB1*04 carries DR53


def _api(store: Any) -> Any:
    api = make_api(store, search_backend="auto")
    for din, slot, typing in (("G123498654321", "1", PATIENT), ("G123498654322", "2", DR4)):
        to_available(api.world, din, slot)
        api.world.svc.units.record_typing(api.world.tech, din, typing, kind="extended")
    return api


def test_search_rules_through_the_api(store: Any) -> None:
    api = _api(store)
    c, coord = api.client, api.as_("coord")
    query: dict[str, Any] = {"patient_gl": PATIENT, "weight_kg": 3}
    # a patient typed at A only: 422 naming the missing loci
    p = assert_problem(c.post("/api/v1/search", json={**query, "patient_gl": "A*01:01+A*02:01"}, headers=coord), 422)
    assert "HLA-B" in p["detail"] and "HLA-DRB1" in p["detail"]
    assert_problem(c.post("/api/v1/search", json={**query, "population": "EUR"}, headers=coord), 422, "population")
    out = c.post("/api/v1/search", json={**query, "population": "CAU"}, headers=coord).json()
    assert [r["unit_id"] for r in out["results"]][:1] == ["G123498654321"]
    # anti-DR53: the DRB1*04 unit (DRB4 not typed) is a possible DSA, said plainly
    out = c.post("/api/v1/search", json={**query, "antibodies": "DR53,6000"}, headers=coord).json()
    by_id = {r["unit_id"]: r for r in out["results"]}
    dr4 = by_id["G123498654322"]
    assert any("possible DSA, type DRB3/4/5" in ch["value"] for ch in dr4["checks"])
    assert all(
        ch["value"] == "none" for ch in by_id["G123498654321"]["checks"] if ch["rule"].startswith("donor-specific")
    )
    # DQ antibody: untyped DQ is "not assessed", never "none"
    out = c.post("/api/v1/search", json={**query, "antibodies": "DQB1*03:01,4000"}, headers=coord).json()
    for r in out["results"]:
        dsa = [ch for ch in r["checks"] if ch["rule"].startswith("donor-specific")]
        assert dsa and dsa[0]["value"].startswith("not assessed") and dsa[0]["verdict"] == "flag"
    # investigational use: nothing ranked without research; with it every result says INVESTIGATIONAL
    out = c.post("/api/v1/search", json={**query, "diagnosis": "autism"}, headers=coord).json()
    assert out["results"] == [] and any("INVESTIGATIONAL" in n for n in out["notes"])
    out = c.post("/api/v1/search", json={**query, "diagnosis": "autism", "research": True}, headers=coord).json()
    assert out["results"]
    assert all(any("INVESTIGATIONAL" in ch["value"] for ch in r["checks"]) for r in out["results"])
