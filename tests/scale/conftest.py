"""Fixtures of the scale tests: the bank world of the service tests (SQLite and PostgreSQL)."""

from __future__ import annotations

from services.conftest import _cheap_password_hashing, world  # noqa: F401  (fixtures)
from store.conftest import db_url, pg_schema_url, store  # noqa: F401  (fixtures)
