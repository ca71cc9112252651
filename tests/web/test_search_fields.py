"""The search page's selection fields (issue 10): patient population and the research option reach the
search backend and stay in the form."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cordmatch.server import create_app
from web.conftest import login


def test_population_and_research_fields(tmp_path: Path, seeded_db: Path) -> None:
    seen: list[Any] = []

    def backend(actor: Any, query: Any) -> dict[str, Any]:
        seen.append(query)
        return {"policy": query.policy, "patient": {}, "counts": {}, "double_units": [], "results": [],
                "notes": ["INVESTIGATIONAL: Cerebral palsy ..."]}  # fmt: skip

    shutil.copyfile(seeded_db, tmp_path / "s.sqlite3")
    c = TestClient(create_app(str(tmp_path / "s.sqlite3"), search_backend=backend))
    login(c, "coord")
    empty = c.get("/search")
    assert 'name="population"' in empty.text and 'name="research"' in empty.text
    params = {"patient_gl": "A*01:01+A*02:01^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01", "weight_kg": "18",
              "population": "AFA", "research": "on", "diagnosis": "cerebral palsy"}  # fmt: skip
    r = c.get("/search", params=params)
    assert r.status_code == 200
    assert seen[-1].population == "AFA" and seen[-1].research is True
    assert '<option value="AFA" selected>' in r.text
    assert 'id="f-research" checked' in r.text and "INVESTIGATIONAL" in r.text
    c.get("/search", params={**params, "research": ""})
    assert seen[-1].research is False
