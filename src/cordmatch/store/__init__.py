"""The bank's store: SQLAlchemy 2 + Alembic, embedded SQLite by default or PostgreSQL by URL.

``open_store(url_or_path)`` opens (and migrates) a store; see ``cordmatch.store.engine``. The names below are
imported on first use, so a module of this package that needs no SQLAlchemy (``store.revision``) loads
without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cordmatch.store.engine import Store, default_url, open_store, resolve_url

__all__ = ["Store", "default_url", "open_store", "resolve_url"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from cordmatch.store import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'cordmatch.store' has no attribute {name!r}")
