"""Property: schemathesis fuzzing of the whole OpenAPI (valid and invalid inputs, every role) never gets
a 5xx, and every 4xx is problem+json, on SQLite and PostgreSQL. Bounded: a few examples per operation."""

from __future__ import annotations

from typing import Any

from api.conftest import make_api
from api.fuzzing import DINS, fuzz_app
from services.conftest import to_available, to_quarantine


def test_schemathesis_fuzz_finds_no_server_error(store: Any) -> None:
    api = make_api(store, search_backend="auto")
    to_available(api.world, DINS[0], "1")
    to_quarantine(api.world, DINS[1], "2")
    report = fuzz_app(api.client.app, api.headers, max_examples=10)
    print(report.line())
    assert report.sent > 300
    assert not report.server_errors, report.server_errors[:5]
    assert not report.not_problem_json, report.not_problem_json[:5]
    assert api.world.svc.catalogue.verify_audit(api.world.admin).ok  # (the fuzz may have revoked the admin's token)
