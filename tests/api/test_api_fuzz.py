"""Property: whatever JSON (or bytes) a client sends, the API answers a status below 500, and every
error is problem+json without a traceback (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.conftest import make_api
from services.conftest import to_available

DIN = "G123498654321"
scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5), max_leaves=12
)
REG_KEYS = ["din", "product_code", "bank_code", "collected_at", "collection_volume_ml", "collection", "tests",
            "hla_gl", "nima_gl", "red_cell_depleted", "storage"]  # fmt: skip
registrations = st.dictionaries(st.sampled_from(REG_KEYS), json_values, max_size=len(REG_KEYS)) | st.fixed_dictionaries(
    {
        "din": st.text(max_size=16) | st.just(DIN),
        "product_code": st.sampled_from(["X0001", "", "x"]) | st.text(max_size=6),
        "bank_code": st.sampled_from(["BANK1", ""]) | st.text(max_size=6),
        "collected_at": st.sampled_from(["2026-05-01T08:00:00+00:00", "2026-05-01", "soon"]) | st.text(max_size=30),
        "collection": st.fixed_dictionaries({"tnc": scalars, "cd34": scalars, "viability_pct": scalars}),
        "hla_gl": st.text(max_size=40),
        "storage": st.fixed_dictionaries({"tank": scalars, "rack": scalars, "box": scalars, "slot": scalars}),
    }
)
ENDPOINTS = [
    ("POST", "/api/v1/units", registrations),
    ("POST", f"/api/v1/units/{DIN}/transitions", json_values),
    ("PUT", f"/api/v1/units/{DIN}/measurements/pre_cryo", json_values),
    ("POST", f"/api/v1/units/{DIN}/tests", json_values),
    ("POST", f"/api/v1/units/{DIN}/typings", st.fixed_dictionaries({"gl": st.text(max_size=40)}) | json_values),
    ("POST", "/api/v1/reservations", st.fixed_dictionaries(
        {"din": st.just(DIN) | st.text(max_size=15), "patient_ref": st.text(max_size=30), "days": scalars})),
    ("POST", "/api/v1/users", json_values),
    ("POST", "/api/v1/search", json_values),
    ("POST", "/api/v1/search", st.fixed_dictionaries(
        {"patient_gl": st.text(max_size=60) | st.just("A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01"),
         "weight_kg": scalars, "antibodies": st.none() | st.text(max_size=40), "policy": st.sampled_from(
             ["nmdp", "eurocord", "dose-first", "x"]), "explain": st.none() | st.text(max_size=14)})),
]  # fmt: skip


def test_any_body_gets_a_problem_not_a_crash(store: Any) -> None:
    api = make_api(store, search_backend="auto")  # the real search gets random patients too
    to_available(api.world, "G123498654322", "2")
    api.client.post("/api/v1/units", json={**_reg(), "collected_at": "2026-05-01T08:00:00+00:00"},
                    headers=api.as_("tech"))  # fmt: skip

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data(), who=st.sampled_from(["tech", "director", "coord", "admin"]))
    def check(data: st.DataObject, who: str) -> None:
        method, path, bodies = data.draw(st.sampled_from(ENDPOINTS))
        if data.draw(st.booleans()):
            kw: dict[str, Any] = {"json": data.draw(bodies)}
        else:
            kw = {"content": data.draw(st.binary(max_size=40)), "headers": {"content-type": "application/json"}}
        headers = {**api.as_(who), **kw.pop("headers", {})}
        try:
            r = api.client.request(method, path, headers=headers, **kw)
        except ValueError:  # the client itself refuses to encode NaN/inf as JSON
            return
        assert r.status_code < 500, (method, path, kw, r.status_code, r.text)
        if r.status_code >= 400:
            assert r.headers["content-type"].startswith("application/problem+json"), r.text
            assert "Traceback" not in r.text

    check()
    assert api.client.get("/api/v1/audit/verify", headers=api.as_("admin")).json()["ok"] is True


def _reg() -> dict[str, Any]:
    from api.conftest import json_registration

    return json_registration(DIN, "1")
