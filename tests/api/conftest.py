"""API fixtures: the app on a store (SQLite and PostgreSQL, each test its own), users of every role with
API tokens, and helpers to take a unit through its lifecycle."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from services.conftest import (  # noqa: F401  (fixtures and helpers)
    PASSWORD,
    T0,
    World,
    _cheap_password_hashing,
    good_registration,
    make_world,
    to_available,
    to_quarantine,
)
from store.conftest import db_url, pg_schema_url, store  # noqa: F401  (fixtures)

PRODUCT = "X0001"


@dataclass
class Api:
    client: Any  # fastapi.testclient.TestClient
    world: World
    headers: dict[str, dict[str, str]]  # role -> Authorization header

    def as_(self, who: str) -> dict[str, str]:
        return self.headers[who]


def json_registration(din: str = "G123498654321", slot: str = "1", **over: Any) -> dict[str, Any]:
    reg = good_registration(din, slot, **over)
    if not isinstance(reg["collected_at"], str):
        reg["collected_at"] = reg["collected_at"].isoformat()
    return reg


def make_api(store: Any, **app_kw: Any) -> Api:  # noqa: F811
    from fastapi.testclient import TestClient

    from cordmatch.server import create_app

    world = make_world(store)
    app_kw.setdefault("search_backend", None)
    app = create_app(store=store, clock=world.clock, **app_kw)
    client = TestClient(app, raise_server_exceptions=False)
    headers = {}
    for who in ("admin", "tech", "director", "coord", "coord2"):
        token = world.svc.users.issue_token(getattr(world, who), f"test {who}").token
        headers[who] = {"Authorization": f"Bearer {token}"}
    return Api(client, world, headers)


@pytest.fixture
def api(store: Any) -> Iterator[Api]:  # noqa: F811
    yield make_api(store)


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """The response is RFC 9457 problem+json with ``status`` (and an error naming ``field``)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:cordmatch:problem:")
    assert body["title"] and body["detail"]
    assert "Traceback" not in response.text
    if field is not None:
        fields = [str(e.get("field", "")).lower() for e in body.get("errors", [])]
        assert field.lower() in fields, body
    return body
