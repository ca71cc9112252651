"""Store fixtures: every store test runs on SQLite and on PostgreSQL (own schema, dropped afterwards).

PostgreSQL: ``$CORDMATCH_TEST_PG`` or postgresql+psycopg://postgres@127.0.0.1:5432/test. Tests skip
PostgreSQL only when the server is unreachable, with a loud warning.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache

import pytest

from cordmatch.config import Settings

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_BASE = Settings.from_env().test_pg or PG_DEFAULT


@cache
def pg_unreachable() -> str | None:
    import psycopg

    dsn = PG_BASE.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # pragma: no cover - environment dependent
        return f"{type(exc).__name__}: {exc}"
    return None


def skip_unless_pg() -> None:
    why = pg_unreachable()
    if why:
        msg = f"!!! PostgreSQL at {PG_BASE} UNREACHABLE, PostgreSQL store tests SKIPPED: {why}"
        warnings.warn(msg, stacklevel=2)
        print("\n" + msg)
        pytest.skip(msg)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema of its own; the schema is dropped afterwards."""
    skip_unless_pg()
    import psycopg

    schema = f"cm_test_{uuid.uuid4().hex[:12]}"
    dsn = PG_BASE.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_BASE else "?"
    try:
        yield f"{PG_BASE}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bank.sqlite3'}"
    else:
        yield request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(db_url: str):  # type: ignore[no-untyped-def]
    from cordmatch.store import open_store

    s = open_store(db_url)
    try:
        yield s
    finally:
        s.close()


NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
