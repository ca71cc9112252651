"""The search index of a SQLite bank file read with the standard library ``sqlite3`` (no SQLAlchemy import:
a CLI search pays no ORM start-up, and a full read of the units costs about half as much).

It does what :func:`cordmatch.services.store_index.coded_units` does, in one read-only transaction: the
index saved in the index file when nothing changed since it was written (same key, horizon and
fingerprint of the listed units); otherwise the file's codes brought up to date with the change log (the
changed units read and merged); or everything read again when there is no file, the log went back or was
compacted past it, the units changed without the log, or more than the full-reload share changed. The
file is written, and the log compacted (:func:`cordmatch.services.store_log.compact_sqlite`), when
``store_index`` would write it. A file that is not at the schema's head revision returns None: the caller
opens the store through SQLAlchemy, which migrates it. Records of the results are read by DIN with the
same columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.services import store_index as si
from cordmatch.services.search_rows import light_row, search_record
from cordmatch.services.store_log import compact_sqlite, log_start_sqlite

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
_FULL_BATCH = 20_000


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


@dataclass
class _Found:
    """What the file and the log gave: an index ready to search, or coded units to index (``save``: and to
    write to the index file, then compact the log)."""

    index: UnitIndex | None = None
    coded: si.CodedUnits | None = None
    save: bool = False


def _snapshot(conn: sqlite3.Connection, tables: NomenclatureTables) -> si.Snapshot | None:
    """The log's horizon, the store's key, the fingerprint and the compaction mark; None when the file is
    not at the schema's head revision (the full open migrates it)."""
    from cordmatch.store.revision import single_head_from_files

    head = single_head_from_files()
    if head is None or [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")] != [head]:
        return None
    found = conn.execute("SELECT value FROM search_meta WHERE key = 'store_id'").fetchone()
    key = si.index_key(found[0] if found else "no-store-id", tables)
    horizon = int(conn.execute("SELECT coalesce(max(seq), 0) FROM search_changes").fetchone()[0])
    n, ids, versions = conn.execute(_FINGERPRINT_SQL).fetchone()
    return si.Snapshot("sqlite", horizon, key, (int(n), int(ids), int(versions)), log_start_sqlite(conn))


def _usable(
    conn: sqlite3.Connection, snap: si.Snapshot, have: si.CodedUnits | None
) -> tuple[si.CodedUnits | None, list[int]]:
    """``have`` and the units changed since it, or (None, []) when it must be read again in full (the log
    went back or was compacted past it, or the units changed without the log)."""
    if have is None or snap.horizon < have.horizon or have.horizon < snap.log_start:
        return None, []
    changed = [int(u) for (u,) in conn.execute("SELECT DISTINCT unit_id FROM search_changes WHERE seq > ?",
                                                (have.horizon,))]  # fmt: skip
    if not changed and snap.fingerprint != have.fingerprint:
        return None, []
    return have, changed


def _read_all(conn: sqlite3.Connection, tables: NomenclatureTables, key: str) -> si.CodedUnits:
    """Every searchable unit, coded (the full read of ``store_index``, with the same columns and order)."""
    sql = _ROW_SQL.replace("WHERE {column} IN ({marks})", "WHERE u.state = 'available'")
    cursor = conn.execute(sql)
    cache: dict[str, Any] = {}
    parts = []
    while batch := cursor.fetchmany(_FULL_BATCH):
        rows = []
        for row in batch:
            values = list(row)
            values[15] = datetime.fromisoformat(values[15])  # stored naive UTC text
            rec = light_row(values)
            if rec is not None:
                rows.append(rec)
        parts.append(si.code_records(rows, tables, key, cache))
    return si.concat(parts, key)


def _current(conn: sqlite3.Connection, path: Path, tables: NomenclatureTables) -> _Found | None:
    """The store's searchable units as of this transaction, as ``store_index.coded_units`` gives them (the
    index saved in the file when nothing changed); None when the file needs the full open (migrations)."""
    snap = _snapshot(conn, tables)
    if snap is None:
        return None
    index_file = si.sqlite_index_path(path)
    if snap.log_start <= snap.horizon:  # nothing changed since the file: its built index as saved
        built = si.load_built(index_file, snap.key, snap.horizon, snap.fingerprint, tables.release)
        if built is not None:
            return _Found(index=built)
    have, changed = _usable(conn, snap, si.load(index_file, snap.key))
    if have is None or len(changed) > si.FULL_RELOAD_SHARE * max(len(have), 1000):
        full = _read_all(conn, tables, snap.key)
        full.horizon, full.fingerprint = snap.horizon, snap.fingerprint
        return _Found(coded=full, save=True)
    if not changed:
        return _Found(coded=have)
    update = si.code_records(_rows(conn, "u.id", sorted(changed)), tables, snap.key)
    out = si.merge(have, changed, update)
    out.horizon, out.fingerprint, out.unsaved = snap.horizon, snap.fingerprint, len(changed)
    return _Found(coded=out, save=out.unsaved >= si.save_threshold(len(out)))


def open_sqlite_index(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, SqliteSource] | None:
    """The search index and record source of the SQLite bank file ``target`` without SQLAlchemy (reading,
    merging, writing the index file and compacting the log as ``store_index`` does), or None when the file
    needs the full open (not at the schema's head revision, unreadable)."""
    path = sqlite_file(target)
    if path is None:
        return None
    try:
        conn = _connect(path)
    except sqlite3.Error:
        return None
    try:
        conn.execute("BEGIN")  # one snapshot for the revision, the log, the fingerprint and the rows
        found = _current(conn, path, tables)
        conn.execute("COMMIT")
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if found is None:
        return None
    if found.index is not None:
        return found.index, SqliteSource(path)
    assert found.coded is not None
    index = si.build_index(found.coded, tables.release)
    if found.save and si.save(found.coded, si.sqlite_index_path(path), index):
        compact_sqlite(path, found.coded.horizon)
    return index, SqliteSource(path)
