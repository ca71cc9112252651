"""Compaction of a store's search change log (``search_changes``: one row per write to a unit, forever).

When a process writes an index file at horizon ``H`` (SQLite: the log's ``seq``; PostgreSQL: the oldest
transaction in flight), rows that no reader at ``H`` or later needs are deleted: the oldest first, at most
:data:`COMPACT_BATCH` per call, always keeping the newest :data:`KEEP_CHANGES` rows (a process a little
behind, such as a running server, still updates incrementally), and only when at least
:data:`COMPACT_MIN` rows can go. The same transaction records in ``search_meta`` (key ``log_start``) the
horizon below which rows may be missing; a reader whose index is older than that reads everything again
(:mod:`cordmatch.services.store_index`), so compaction never hides a change.

SQLite keeps the log's newest row, so ``seq`` never restarts. On PostgreSQL only rows of transactions that
ended before the horizon are deleted (their rows are all committed and were read).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from cordmatch.store.engine import Store

LOG_START_KEY = "log_start"
#: The newest change rows a compaction always keeps.
KEEP_CHANGES = 10_000
#: Compact only when at least this many rows can go ...
COMPACT_MIN = 10_000
#: ... and delete at most this many per call (a first read of a large bulk-loaded store stays short).
COMPACT_BATCH = 250_000

_SELECT_START = f"SELECT value FROM search_meta WHERE key = '{LOG_START_KEY}'"
_UPSERT_START = (
    f"INSERT INTO search_meta (key, value) VALUES ('{LOG_START_KEY}', :v) ON CONFLICT (key) DO UPDATE SET "
    "value = CAST({greatest}(CAST(search_meta.value AS BIGINT), CAST(excluded.value AS BIGINT)) AS VARCHAR(200))"
)


def log_start_of(session: Session) -> int:
    """The horizon below which the log was compacted (0: never)."""
    from sqlalchemy import text

    value = session.execute(text(_SELECT_START)).scalar()
    return int(value) if value is not None else 0


def log_start_sqlite(conn: sqlite3.Connection) -> int:
    """:func:`log_start_of` on a standard-library SQLite connection."""
    row = conn.execute(_SELECT_START).fetchone()
    return int(row[0]) if row is not None else 0


def compact(store: Store, horizon: int) -> int:
    """Delete change rows no reader at ``horizon`` or later needs (see the module); the rows deleted (0 when
    there is too little to gain, or the store is busy, read-only or in memory)."""
    if store.dialect == "postgresql":
        return _compact_postgresql(store, horizon)
    database = store.engine.url.database
    if store.dialect != "sqlite" or not database or database == ":memory:":
        return 0
    return compact_sqlite(Path(database), horizon)


def compact_sqlite(db: Path, horizon: int) -> int:
    """:func:`compact` for a SQLite file, on a connection of its own that waits at most 0.2 s for the write
    lock (a search never queues behind a long write: the next snapshot compacts instead)."""
    try:
        conn = sqlite3.connect(str(db), timeout=0.2, isolation_level=None)
    except sqlite3.Error:
        return 0
    try:
        conn.execute("BEGIN IMMEDIATE")
        lo, hi = conn.execute("SELECT min(seq), max(seq) FROM search_changes").fetchone()
        if lo is None:
            conn.execute("ROLLBACK")
            return 0
        cut = min(horizon, hi - KEEP_CHANGES, lo + COMPACT_BATCH - 1)  # delete seq <= cut
        if cut - lo + 1 < COMPACT_MIN:
            conn.execute("ROLLBACK")
            return 0
        deleted = conn.execute("DELETE FROM search_changes WHERE seq <= ?", (cut,)).rowcount
        conn.execute(_UPSERT_START.format(greatest="max").replace(":v", "?"), (str(cut),))
        conn.execute("COMMIT")
        return int(deleted)
    except sqlite3.Error:  # busy, read-only file or directory
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        return 0
    finally:
        conn.close()


def _compact_postgresql(store: Store, horizon: int) -> int:
    from sqlalchemy import text

    with store.transaction() as s:
        lo, hi = s.execute(text("SELECT min(seq), max(seq) FROM search_changes")).one()
        if lo is None or hi - KEEP_CHANGES - lo + 1 < COMPACT_MIN:
            return 0
        keep_after = hi - KEEP_CHANGES  # rows with a larger seq stay
        kept_xid = s.execute(text("SELECT min(xid) FROM search_changes WHERE seq > :k"), {"k": keep_after}).scalar()
        cut = horizon if kept_xid is None else min(horizon, int(kept_xid))  # delete xid < cut
        q = text(
            "WITH d AS (DELETE FROM search_changes WHERE seq IN (SELECT seq FROM search_changes "
            "WHERE xid < :cut AND seq <= :k ORDER BY seq LIMIT :n) RETURNING xid) SELECT count(*), max(xid) FROM d"
        )
        deleted, top = s.execute(q, {"cut": cut, "k": keep_after, "n": COMPACT_BATCH}).one()
        if not deleted:
            return 0
        s.execute(text(_UPSERT_START.format(greatest="GREATEST")), {"v": str(int(top) + 1)})
        return int(deleted)
