"""Fixtures of the scale tests: the bank world of the service tests (SQLite and PostgreSQL) and one small
LocalCluster of 2 worker processes shared by the Dask tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.conftest import _cheap_password_hashing, world  # noqa: F401  (fixtures)
from store.conftest import db_url, pg_schema_url, store  # noqa: F401  (fixtures)


@pytest.fixture(scope="session")
def client() -> Iterator[Any]:
    """A LocalCluster of 2 workers (one thread each) for the whole session."""
    from cordmatch.io.cluster import ClusterSpec, open_client

    with open_client(ClusterSpec(workers=2, memory_limit="1GiB")) as c:
        yield c
