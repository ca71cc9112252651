"""The inputs that once answered 5xx (issue 13) now answer 4xx problem+json naming the field."""

from __future__ import annotations

from typing import Any

from api.conftest import Api, assert_problem, json_registration


def test_unit_list_filters_never_answer_5xx(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    assert c.post("/api/v1/units", json=json_registration(), headers=tech).status_code == 201
    ok = c.get("/api/v1/units", params={"collected_from": "2026-01-01", "collected_to": "2026-12-01T00:00:00Z"},
               headers=tech)  # fmt: skip
    assert ok.status_code == 200, ok.text
    assert ok.json()["total"] == 1  # a bound without a time zone is UTC
    assert_problem(c.get("/api/v1/units", params={"collected_from": "0001-01-01"}, headers=tech), 422,
                   "collected_from")  # fmt: skip
    assert_problem(c.get("/api/v1/units", params={"min_tnc": "-9223372036854775809"}, headers=tech), 422, "min_tnc")
    assert_problem(c.get("/api/v1/units", params={"min_tnc": "1e308"}, headers=tech), 422, "min_tnc")
    r = c.get("/api/v1/units", params={"din_prefix": "%"}, headers=tech)
    assert r.status_code == 200 and r.json()["total"] == 0, r.text
    assert_problem(c.get("/api/v1/units", params={"abo": "A" * 5000}, headers=tech), 422, "abo")
    assert_problem(c.get("/api/v1/units", params={"bank_code": "B" * 5000}, headers=tech), 422, "bank_code")
    assert_problem(c.get("/api/v1/units", params={"offset": 2**70}, headers=tech), 422, "offset")


def test_token_lifetimes_are_bounded(api: Api) -> None:
    c = api.client
    for days in (10**9, 10**10, 2**63, 2**70, 0, -1):
        assert_problem(c.post("/api/v1/tokens", json={"name": "x", "days": days}, headers=api.as_("tech")), 422, "days")
        body = {"username": "tech", "password": "correct horse battery", "days": days}
        assert_problem(c.post("/api/v1/auth/token", json=body), 422, "days")
    assert_problem(c.delete(f"/api/v1/tokens/{2**70}", headers=api.as_("admin")), 422, "token_id")


def test_deep_nul_json_and_big_bodies(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    deep = b"[" * 5000 + b'"\\u0000"' + b"]" * 5000
    r = c.post("/api/v1/units", content=deep, headers={**tech, "content-type": "application/json"})
    assert_problem(r, 422)
    deep = b"[" * 5000 + b"1" + b"]" * 5000
    assert_problem(c.put("/api/v1/qc-criteria", content=deep,
                         headers={**api.as_("director"), "content-type": "application/json"}), 422)  # fmt: skip
    huge = {"target": "received", "reason": "x" * 2_000_000}
    assert_problem(c.post("/api/v1/units/G123498654321/transitions", json=huge, headers=tech), 413, "body")
    long_reason = {"target": "received", "reason": "x" * 100_000}
    assert_problem(c.post("/api/v1/units/G123498654321/transitions", json=long_reason, headers=tech), 422, "reason")


def test_implausible_numbers_are_refused_with_the_field(api: Api) -> None:
    c, tech = api.client, api.as_("tech")
    cases: list[tuple[dict[str, Any], str]] = [
        (json_registration(collection={"tnc": 1e308}), "collection.tnc"),
        (json_registration(collection={"cd34": 1e308}), "collection.cd34"),
        (json_registration(collection_volume_ml=5000.0), "collection_volume_ml"),
        (json_registration(tests={"segments": 2**70}), "tests.segments"),
        (json_registration(tests={"segments": 2**62}), "tests.segments"),
        (json_registration(collected_at="0001-01-01T00:00:00+00:00"), "collected_at"),
        (json_registration(bank_code="B" * 1000), "bank_code"),
        (json_registration(hla_gl="A*01:01" * 2000), "hla_gl"),
    ]
    for body, field in cases:
        assert_problem(c.post("/api/v1/units", json=body, headers=tech), 422, field)
    assert c.get("/api/v1/units", headers=tech).json()["total"] == 0


def test_a_writer_blocked_by_a_long_sqlite_transaction_gets_503_with_retry_after(tmp_path: Any) -> None:
    import sqlite3

    from api.conftest import PASSWORD, make_api
    from cordmatch.store import open_store

    db = tmp_path / "busy.sqlite3"
    store = open_store(str(db), busy_s=0.3)
    try:
        api = make_api(store)
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # e.g. a long CSV import holding the write lock
        try:
            r = api.client.post("/api/v1/auth/token", json={"username": "tech", "password": PASSWORD})
            body = assert_problem(r, 503)
            assert int(r.headers["Retry-After"]) > 0 and "nothing was changed" in body["detail"]
            assert api.client.get("/api/v1/units", headers=api.as_("tech")).status_code == 200  # reads go on
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        r = api.client.post("/api/v1/auth/token", json={"username": "tech", "password": PASSWORD})
        assert r.status_code == 201  # and once the lock is gone, writers proceed
    finally:
        store.close()


def test_unreadable_csv_import_is_422(api: Api) -> None:
    headers = {**api.as_("tech"), "content-type": "text/csv"}
    assert_problem(api.client.post("/api/v1/units/import", content=b"\r0", headers=headers), 422)


def test_long_antibody_texts_are_refused_quickly(store: Any) -> None:
    import time

    from api.conftest import make_api

    api = make_api(store, search_backend="auto")
    body = {"patient_gl": "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01", "weight_kg": 20,
            "antibodies": "A2 5000, " * 120_000}  # fmt: skip
    t = time.perf_counter()
    assert_problem(api.client.post("/api/v1/search", json=body, headers=api.as_("coord")), 413, "body")
    body["antibodies"] = "A2 5000, " * 600  # 5,400 characters: under the body limit, over the field limit
    r = api.client.post("/api/v1/search", json=body, headers=api.as_("coord"))
    assert r.status_code == 422, r.text
    assert time.perf_counter() - t < 10
    body["weight_kg"] = 1e-320
    body["antibodies"] = None
    assert api.client.post("/api/v1/search", json=body, headers=api.as_("coord")).status_code == 422
