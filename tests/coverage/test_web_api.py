"""The director's page and ``GET /api/v1/coverage`` on the demo bank: the report keys, the curve as inline
SVG, problem+json / a named field for bad input, and who may see it."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.conftest import assert_problem
from services.conftest import _cheap_password_hashing  # noqa: F401  (fixture)
from web.conftest import client, login, seeded_db, web_app  # noqa: F401  (fixtures)


def test_api_report_keys_and_errors(client: Any) -> None:  # noqa: F811
    login(client, "director")
    r = client.get("/api/v1/coverage", params={"population": "CAU", "patients": 40, "seed": 2, "sizes": "2,4"})
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("patients", "population", "p_at_least", "p_at_least_with_dose", "p_double", "median_units", "ci95"):
        assert key in body
    assert body["registry_units"] == 4 and [s["units"] for s in body["sizes"]] == [2, 4]
    assert client.get("/api/v1/coverage", params={"population": "CAU", "patients": 40, "seed": 2,
                                                  "sizes": "2,4"}).json() == body  # fmt: skip
    assert_problem(client.get("/api/v1/coverage", params={"patients": 50_000}), 422, "patients")
    assert_problem(client.get("/api/v1/coverage", params={"population": "EUR"}), 422, "population")
    assert_problem(client.get("/api/v1/coverage", params={"sizes": "2,99"}), 422, "sizes")
    assert_problem(client.get("/api/v1/coverage", params={"level": "3/6"}), 422, "level")
    assert_problem(client.get("/api/v1/coverage", params={"weight_kg": -1}), 422, "weight_kg")
    assert_problem(client.get("/api/v1/coverage", params={"seed": -5}), 422, "seed")
    assert_problem(client.get("/api/v1/coverage", params={"patients": "many"}), 422)


def _token(http: Any, username: str) -> dict[str, str]:
    from cordmatch.services.bank_demo import DEMO_PASSWORD

    r = http.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


CANDIDATES = [
    {"unit_id": "cand-common", "hla": "A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01", "tnc": 4e9},
    {"unit_id": "cand-rare", "hla": "A*80:01+A*80:01^B*82:01+B*82:01^DRB1*10:01+DRB1*10:01", "tnc": 4e9},
]


def test_api_ranks_recruitment_candidates(client: Any) -> None:  # noqa: F811
    h = _token(client, "director")
    body = {"candidates": CANDIDATES, "population": "CAU", "patients": 60, "seed": 3}
    r = client.post("/api/v1/coverage/recruitment", json=body, headers=h)
    assert r.status_code == 200, r.text
    rec = r.json()["recruitment"]
    assert rec["with_dose"] is True and rec["level"] == "5/6" and rec["patients_unserved"] > 0
    # common CAU haplotypes (A1-B8-DR3, A2-B7-DR15) serve unserved patients; a rare typing serves none
    assert [(c["rank"], c["unit_id"]) for c in rec["candidates"]] == [(1, "cand-common"), (2, "cand-rare")]
    assert rec["candidates"][0]["newly_served"] > 0 == rec["candidates"][1]["newly_served"]
    assert rec["candidates"][0]["by_population"] == {"CAU": rec["candidates"][0]["newly_served"]}
    # the same answer as the CLI's service path for the same question
    assert client.post("/api/v1/coverage/recruitment", json=body, headers=h).json() == r.json()


def test_api_recruitment_names_the_bad_candidate(client: Any) -> None:  # noqa: F811
    h = _token(client, "director")

    def post(cands: list[dict[str, Any]], **extra: Any) -> Any:
        return client.post("/api/v1/coverage/recruitment", json={"candidates": cands, "patients": 20, **extra},
                           headers=h)  # fmt: skip

    bad_hla = [CANDIDATES[0], {"unit_id": "x", "hla": "A*99:99+A*01:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"}]
    body = assert_problem(post(bad_hla), 422, "candidates[1]")
    assert "hla" in body["detail"]
    assert_problem(post([CANDIDATES[0], CANDIDATES[0]]), 422, "candidates[1]")  # repeated unit_id
    assert_problem(post([{**CANDIDATES[0], "tnc": -5}]), 422, "candidates[0]")
    assert_problem(post([]), 422)
    assert_problem(post(CANDIDATES, level="3/6"), 422, "level")
    assert_problem(post(CANDIDATES, patients=50_000), 422, "patients")
    assert client.post("/api/v1/coverage/recruitment", json={"candidates": CANDIDATES}).status_code == 401
    coord = _token(client, "coord")
    assert client.post("/api/v1/coverage/recruitment", json={"candidates": CANDIDATES},
                       headers=coord).status_code == 403  # fmt: skip


def test_api_needs_a_bank_role(client: Any) -> None:  # noqa: F811
    assert client.get("/api/v1/coverage").status_code == 401
    login(client, "coord")
    assert client.get("/api/v1/coverage").status_code == 403


def test_director_page(client: Any) -> None:  # noqa: F811
    login(client, "director")
    page = client.get("/coverage")
    assert page.status_code == 200 and "Who does this inventory serve?" in page.text
    assert 'href="/coverage"' in page.text  # in the main navigation
    r = client.get("/coverage", params={"run": "1", "population": "all", "patients": "30", "seed": "1",
                                        "policy": "nmdp", "weight_kg": "", "sizes": "2,4", "level": "5/6",
                                        "underserved": "5"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert 'src="data:image/svg+xml;base64,' in r.text and "Under-served haplotypes" in r.text
    assert "<svg" not in r.text and "style=" not in r.text  # nothing the page's style-src policy would block
    for pop in ("AFA", "API", "CAU", "HIS"):
        assert f"{pop} (30)" in r.text
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', r.text)  # nothing loaded from elsewhere
    bad = client.get("/coverage", params={"run": "1", "patients": "lots"})
    assert bad.status_code == 422 and 'href="#f-patients"' in bad.text


def test_page_refuses_coordinators(client: Any) -> None:  # noqa: F811
    login(client, "coord")
    assert client.get("/coverage").status_code == 403


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.fixed_dictionaries(
        {},
        optional={
            "population": st.sampled_from(["CAU", "mix", "all", "AFA,HIS", "", "EUR", "CAU,CAU"]) | st.text(max_size=8),
            "patients": st.integers(-5, 60) | st.text(max_size=6),
            "seed": st.integers(-(2**70), 2**70) | st.text(max_size=6),
            "weight_kg": st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=6),
            "no_dose": st.booleans() | st.text(max_size=4),
            "policy": st.sampled_from(["nmdp", "eurocord", "dose-first", "x"]),
            "sizes": st.sampled_from(["1,2", "4", "0", "5", "a,b", ""]) | st.text(max_size=8),
            "level": st.sampled_from(["4/6", "8/8", "9/9"]) | st.text(max_size=4),
            "underserved": st.integers(-3, 2000) | st.text(max_size=4),
        },
    )
)
def test_api_never_fails_on_odd_queries(client: Any, params: dict[str, Any]) -> None:  # noqa: F811
    login(client, "director")
    params.setdefault("patients", 5)
    r = client.get("/api/v1/coverage", params={k: str(v) for k, v in params.items()})
    assert r.status_code < 500, (params, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/problem+json") and "Traceback" not in r.text
