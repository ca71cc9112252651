"""The bank's store: SQLAlchemy 2 + Alembic, embedded SQLite by default or PostgreSQL by URL.

``open_store(url_or_path)`` opens (and migrates) a store; see ``cordmatch.store.engine``.
"""

from cordmatch.store.engine import Store, default_url, open_store, resolve_url

__all__ = ["Store", "default_url", "open_store", "resolve_url"]
