"""The search index of a SQLite bank file read with the standard library ``sqlite3`` (no SQLAlchemy import:
a CLI search of a current index pays no ORM start-up).

Used only when it gives exactly what :func:`cordmatch.services.store_index.coded_units` would: the file is
at the schema's head revision, the index file carries the store's key, the change log neither went back
nor was compacted past the file's horizon, and either nothing changed (same fingerprint of the listed
units) or a few units changed (fewer than the index's rewrite threshold and its full-reload share: they are
read and merged in memory, as a process copy would be). Anything else (no index file yet, a migration to
run, many changes, an unreadable file) returns None and the caller opens the store through SQLAlchemy,
which reads, merges and rewrites as usual. Records of the results are read by DIN with the same columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.services import store_index as si
from cordmatch.services.search_rows import search_record
from cordmatch.services.store_log import log_start_sqlite

#: The search row of a unit (the columns of ``cordmatch.services.bank_index``'s bulk read, same order).
_ROW_SQL = (
    "SELECT u.id, u.din, u.state, t.gl, pre.id, pre.tnc, pre.cd34, pre.volume_ml, post.tnc, post.cd34, "
    "post.volume_ml, u.abo, u.rh, b.name, b.accreditation, u.collected_at, u.red_cell_depleted, u.segments, "
    "u.nima_gl FROM units u JOIN banks b ON b.id = u.bank_id "
    "LEFT OUTER JOIN hla_typings t ON t.unit_id = u.id AND t.superseded_by IS NULL "
    "LEFT OUTER JOIN measurements pre ON pre.unit_id = u.id AND pre.stage = 'pre_cryo' "
    "LEFT OUTER JOIN measurements post ON post.unit_id = u.id AND post.stage = 'post_processing' "
    "WHERE {column} IN ({marks}) ORDER BY u.id"
)
_FINGERPRINT_SQL = (
    "SELECT coalesce(sum(CASE WHEN state = 'available' THEN 1 ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN state = 'available' THEN id ELSE 0 END), 0), "
    "coalesce(sum(CASE WHEN state = 'available' THEN version ELSE 0 END), 0) FROM units"
)
_BATCH = 500


def sqlite_file(target: str) -> Path | None:
    """The SQLite file of ``target`` (a path or a plain ``sqlite:///`` URL) when it exists; None otherwise."""
    if "://" in target:
        if not target.startswith("sqlite:///") or "?" in target:
            return None
        path = Path(target[len("sqlite:///") :])
    else:
        path = Path(target).expanduser().resolve()
    return path if path.is_file() else None


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _rows(conn: sqlite3.Connection, column: str, keys: Sequence[Any]) -> list[tuple[int, UnitRecord]]:
    """Search records of the units whose ``column`` is one of ``keys``, in unit-id order."""
    out: list[tuple[int, UnitRecord]] = []
    for start in range(0, len(keys), _BATCH):
        part = keys[start : start + _BATCH]
        sql = _ROW_SQL.format(column=column, marks=", ".join("?" for _ in part))
        for row in conn.execute(sql, tuple(part)):
            values = list(row)
            values[15] = datetime.fromisoformat(values[15])  # stored naive UTC text
            rec = search_record(values)
            if rec is not None:
                out.append(rec)
    return out


class SqliteSource:
    """Unit records of a SQLite bank file read on demand, by DIN (a :class:`cordmatch.selection.UnitSource`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        conn = _connect(self.path)
        try:
            return {r.unit_id: r for _, r in _rows(conn, "u.din", list(unit_ids))}
        finally:
            conn.close()


def _current(conn: sqlite3.Connection, path: Path, tables: NomenclatureTables) -> si.CodedUnits | UnitIndex | None:
    """The coded units from the index file brought up to date, or the index saved in it when nothing changed,
    when that needs no SQLAlchemy; else None."""
    from cordmatch.store.revision import single_head_from_files

    head = single_head_from_files()
    if head is None or [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")] != [head]:
        return None
    found = conn.execute("SELECT value FROM search_meta WHERE key = 'store_id'").fetchone()
    key = si.index_key(found[0] if found else "no-store-id", tables)
    horizon = int(conn.execute("SELECT coalesce(max(seq), 0) FROM search_changes").fetchone()[0])
    n, ids, versions = conn.execute(_FINGERPRINT_SQL).fetchone()
    fingerprint = (int(n), int(ids), int(versions))
    index_file = si.sqlite_index_path(path)
    if log_start_sqlite(conn) <= horizon:  # nothing changed since the file: its built index as saved
        built = si.load_built(index_file, key, horizon, fingerprint, tables.release)
        if built is not None:
            return built
    have = si.load(index_file, key)
    if have is None or horizon < have.horizon or have.horizon < log_start_sqlite(conn):
        return None
    changed = [int(u) for (u,) in conn.execute("SELECT DISTINCT unit_id FROM search_changes WHERE seq > ?",
                                                (have.horizon,))]  # fmt: skip
    if not changed:
        return have if fingerprint == have.fingerprint else None
    if len(changed) >= si.save_threshold(len(have)) or len(changed) > si.FULL_RELOAD_SHARE * max(len(have), 1000):
        return None  # the full path reads them and rewrites the index file
    update = si.code_records(_rows(conn, "u.id", sorted(changed)), tables, key)
    out = si.merge(have, changed, update)
    out.horizon, out.fingerprint, out.unsaved = horizon, fingerprint, len(changed)
    return out


def open_sqlite_index(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, SqliteSource] | None:
    """The search index and record source of the SQLite bank file ``target`` without SQLAlchemy, or None
    when that cannot be told exactly (the caller then opens the store in full)."""
    path = sqlite_file(target)
    if path is None:
        return None
    try:
        conn = _connect(path)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for the revision, the log, the fingerprint and the rows
        coded = _current(conn, path, tables)
        conn.execute("COMMIT")
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if coded is None:
        return None
    index = coded if isinstance(coded, UnitIndex) else si.build_index(coded, tables.release)
    return index, SqliteSource(path)
