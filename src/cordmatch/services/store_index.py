"""Persistent coded search index of a bank store (SQLite or PostgreSQL): GL strings parsed once, ever.

The coded columns of every searchable unit (integer HLA codes, dose, flags, NIMA antigen ids) are kept in
an index file (:mod:`cordmatch.services.index_file`): beside a SQLite file (``<db>.cmindex.npz``), under
the data directory for a server (``search-index/<hash of the URL>.npz``). The file is keyed on the store's
random id, the IPD-IMGT/HLA release and the nomenclature tables' format and size (a new release or table
build recodes everything), and records how far it has read the store's change log (``search_changes``,
filled by triggers on every write to units, typings, measurements and banks: migration 0003). Opening the
index reads the log since then and reloads only the units it names, so a unit registered, reserved,
released or retyped a moment ago is seen by the next search.

Change horizon: SQLite serialises writers, so the log's largest ``seq`` in the reading snapshot marks what
was read. PostgreSQL may commit log rows out of ``seq`` order, so the horizon is the oldest transaction
still in flight when the read began (``pg_snapshot_xmin``): the next read takes every row written by that
transaction or a later one (rereading a unit is harmless, missing one is not).

The index file also keeps the search index built from its codes, with a random id of that write. Codes
read from the file and found current (no log row since the file's horizon, same fingerprint) are the
same object, still carrying that id, and the search index saved with them is loaded instead of built
(:func:`index_of`); any change gives new codes without the id, and the index is built from them. This
does not depend on the horizon staying put (PostgreSQL's moves with every transaction on the server).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.columns import raw_from_records
from cordmatch.selection.index import UnitColumns, UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.services.coded_columns import code_unit_columns
from cordmatch.services.index_file import INDEX_FORMAT as INDEX_FORMAT
from cordmatch.services.index_file import CodedUnits as CodedUnits
from cordmatch.services.index_file import index_key as index_key
from cordmatch.services.index_file import index_path as index_path
from cordmatch.services.index_file import load as load
from cordmatch.services.index_file import load_built as load_built
from cordmatch.services.index_file import save as save
from cordmatch.services.index_file import saved_index as saved_index
from cordmatch.services.index_file import sqlite_index_path as sqlite_index_path
from cordmatch.services.store_log import compact, log_start_of

if TYPE_CHECKING:  # SQLAlchemy is imported where a store is read (a SQLite search may not need it)
    from sqlalchemy.orm import Session

    from cordmatch.selection.search import UnitSource
    from cordmatch.store.engine import Store

#: Above this share of changed units, read everything again instead of the changes.
FULL_RELOAD_SHARE = 0.25
#: Rewrite the index file once this many units (or 1% of them) were reloaded since it was written.
SAVE_AFTER = 1000


def _empty(key: str, horizon: int) -> CodedUnits:
    z4 = np.zeros((0, 4, 2), dtype=np.int16)
    f = np.zeros(0, dtype=np.float32)
    u = np.zeros(0, dtype=np.uint16)
    return CodedUnits(key, horizon, np.zeros(0, np.int64), np.zeros(0, "S13"), z4, z4.copy(), f, f.copy(), u,
                      u.copy(), np.zeros(0, np.bool_))  # fmt: skip


def code_records(
    rows: Sequence[tuple[int, UnitRecord]],
    tables: NomenclatureTables,
    key: str,
    part_cache: dict[str, Any] | None = None,
) -> CodedUnits:
    """Parse and code (unit id, record) rows once (``part_cache``: locus parts already coded)."""
    if not rows:
        return _empty(key, 0)
    return code_unit_columns(raw_from_records([r for _, r in rows], [i for i, _ in rows]), tables, key, part_cache)


def merge(base: CodedUnits, drop: Iterable[int], add: CodedUnits) -> CodedUnits:
    """``base`` without the units ``drop`` plus ``add``, in unit-id order."""
    drop_ids = np.fromiter(drop, dtype=np.int64)
    keep = ~np.isin(base.db_id, drop_ids)
    order = np.argsort(np.concatenate([base.db_id[keep], add.db_id]), kind="stable")

    def cat(a: npt.NDArray[Any], b: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.concatenate([a[keep], b])[order]

    width = max(base.din.dtype.itemsize, add.din.dtype.itemsize)
    din = np.concatenate([base.din[keep].astype(f"S{width}"), add.din.astype(f"S{width}")])[order]
    gone = set(drop_ids.tolist())
    out = CodedUnits(base.key, add.horizon, cat(base.db_id, add.db_id), din, cat(base.ag, add.ag),
                     cat(base.al, add.al), cat(base.tnc, add.tnc), cat(base.cd34, add.cd34),
                     cat(base.flags, add.flags), cat(base.collected, add.collected),
                     cat(base.exact, add.exact))  # fmt: skip
    for name in ("exact_gl", "alternatives", "nima"):
        merged = {k: v for k, v in getattr(base, name).items() if k not in gone}
        merged.update(getattr(add, name))
        setattr(out, name, merged)
    return out


def build_index(coded: CodedUnits, release: str) -> UnitIndex:
    """The search index of coded units (slots in unit-id order)."""
    n = len(coded)
    index = UnitIndex(release=release, capacity=max(16, n))
    if n == 0:
        return index
    ids = coded.db_id.tolist()
    alternatives = [coded.alternatives.get(i) if e else None for i, e in zip(ids, coded.exact.tolist(), strict=True)]
    typings = [coded.exact_gl.get(i) if e else None for i, e in zip(ids, coded.exact.tolist(), strict=True)]
    cols = UnitColumns(coded.din, coded.ag, coded.al, coded.tnc, coded.cd34, coded.flags, coded.collected,
                       coded.exact, alternatives)  # fmt: skip
    slots = index.add(cols, typings)
    if coded.nima:
        pos = np.searchsorted(coded.db_id, np.fromiter(coded.nima.keys(), dtype=np.int64))
        index.set_nima([int(slots[p]) for p in pos], list(coded.nima.values()))
    return index


# --------------------------------------------------------------------------- the index file
# --------------------------------------------------------------------------- reading the store
def _horizon(session: Session, dialect: str) -> int:
    from sqlalchemy import func, select, text

    from cordmatch.store.models import SearchChange

    if dialect == "postgresql":
        return int(session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one())
    return int(session.execute(select(func.coalesce(func.max(SearchChange.seq), 0))).scalar_one())


def _fingerprint(session: Session) -> tuple[int, int, int]:
    """(count, sum of ids, sum of row versions) of the listed units (one aggregate on the state index)."""
    from sqlalchemy import case, func, select

    from cordmatch.bank.lifecycle import UnitState
    from cordmatch.store.models import Unit

    listed = Unit.state == UnitState.AVAILABLE.value
    # one sequential scan (4x cheaper than the state index plus a row look-up per listed unit)
    q = select(
        func.coalesce(func.sum(case((listed, 1), else_=0)), 0),
        func.coalesce(func.sum(case((listed, Unit.id), else_=0)), 0),
        func.coalesce(func.sum(case((listed, Unit.version), else_=0)), 0),
    )
    n, ids, versions = session.execute(q).one()
    return int(n), int(ids), int(versions)


def _changed(session: Session, dialect: str, since: int) -> list[int]:
    from sqlalchemy import select

    from cordmatch.store.models import SearchChange

    col = SearchChange.xid if dialect == "postgresql" else SearchChange.seq
    cond = col >= since if dialect == "postgresql" else col > since
    return [int(u) for u in session.execute(select(SearchChange.unit_id).where(cond).distinct()).scalars()]


def _read(session: Session, tables: NomenclatureTables, key: str, unit_ids: Sequence[int] | None) -> CodedUnits:

    from cordmatch.services.bank_index import iter_search_records

    cache: dict[str, Any] = {}
    if session.get_bind().dialect.name == "postgresql" and unit_ids is None:
        from cordmatch.services.store_index_pg import iter_unit_columns

        return concat([code_unit_columns(raw, tables, key, cache) for raw in iter_unit_columns(session)], key)
    rows_iter = iter_search_records(session, unit_ids=unit_ids, light=True)
    return concat([code_records(rows, tables, key, cache) for rows in rows_iter], key)


def concat(parts: Sequence[CodedUnits], key: str) -> CodedUnits:
    """Coded parts already in unit-id order, one after the other."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty(key, 0)
    if len(parts) == 1:
        return parts[0]
    width = max(p.din.dtype.itemsize for p in parts)
    names = ("db_id", "ag", "al", "tnc", "cd34", "flags", "collected", "exact")
    arrays = {n: np.concatenate([getattr(p, n) for p in parts]) for n in names}
    din = np.concatenate([p.din.astype(f"S{width}") for p in parts])
    out = CodedUnits(key, 0, arrays["db_id"], din, arrays["ag"], arrays["al"], arrays["tnc"], arrays["cd34"],
                     arrays["flags"], arrays["collected"], arrays["exact"])  # fmt: skip
    for p in parts:
        out.exact_gl.update(p.exact_gl)
        out.alternatives.update(p.alternatives)
        out.nima.update(p.nima)
    return out


def store_id(session: Session) -> str:
    from sqlalchemy import select

    from cordmatch.store.models import SearchMeta

    found = session.execute(select(SearchMeta.value).where(SearchMeta.key == "store_id")).scalar()
    return found or "no-store-id"


_memo: dict[str, CodedUnits] = {}
_memo_lock = threading.Lock()
#: The search index last built to be saved, with the coded units it was built from (at most one kept: the
#: caller that opens the index right after takes it instead of building it again).
_last_built: list[tuple[CodedUnits, UnitIndex]] = []


def _built(coded: CodedUnits, release: str) -> UnitIndex:
    index = build_index(coded, release)
    with _memo_lock:
        _last_built[:] = [(coded, index)]
    return index


@dataclass(frozen=True)
class Snapshot:
    """What one read transaction saw of the store's change log and listed units."""

    dialect: str
    horizon: int
    key: str
    fingerprint: tuple[int, int, int]
    log_start: int  # an index older than this must be read in full (the log was compacted past it)


def coded_units(store: Store, tables: NomenclatureTables, *, path: Path | None = None) -> CodedUnits:
    """The store's searchable units, coded: from this process's copy or the index file, brought up to date
    with the change log; read in full the first time (and then written to the index file). After writing
    the index file, change-log rows older than it are compacted (:func:`compact`)."""
    from sqlalchemy import text

    path = path if path is not None else index_path(store)
    dialect = store.dialect
    memo_key = f"{store.url}|{path}"
    with store.read() as s:
        if dialect == "postgresql":  # one snapshot for the horizon, the log, the fingerprint and the rows
            s.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        horizon = _horizon(s, dialect)  # first: later commits are seen again next time
        snap = Snapshot(dialect, horizon, index_key(store_id(s), tables), _fingerprint(s), log_start_of(s))
        with _memo_lock:
            have = _memo.get(memo_key)
        if have is None or have.key != snap.key:
            have = load(path, snap.key)
        have, saved = _bring_up_to_date(s, snap, have, tables, path)
    if saved:
        compact(store, have.horizon)
    with _memo_lock:
        _memo[memo_key] = have
    return have


def _bring_up_to_date(
    s: Session, snap: Snapshot, have: CodedUnits | None, tables: NomenclatureTables, path: Path
) -> tuple[CodedUnits, bool]:
    """``have`` (None: nothing usable) brought to ``snap``; and whether the index file was written."""
    changed: list[int] = []
    if have is not None:
        if snap.horizon < have.horizon or have.horizon < snap.log_start:
            have = None  # the log went back, or was compacted past this index: read everything again
        else:
            changed = _changed(s, snap.dialect, have.horizon)
            if not changed and snap.fingerprint != have.fingerprint:
                have = None  # the units changed without the log: read everything again
    if have is None or len(changed) > FULL_RELOAD_SHARE * max(len(have), 1000):
        have = _read(s, tables, snap.key, None)
        have.horizon, have.fingerprint = snap.horizon, snap.fingerprint
        return have, save(have, path, _built(have, tables.release))
    if not changed:
        have.horizon = snap.horizon  # nothing to reload: the same object (callers may keep what they built)
        return have, False
    unsaved = have.unsaved + len(changed)
    update = _read(s, tables, snap.key, sorted(changed))
    have = merge(have, changed, update)
    have.horizon, have.fingerprint, have.unsaved = snap.horizon, snap.fingerprint, unsaved
    if unsaved >= save_threshold(len(have)) and save(have, path, _built(have, tables.release)):
        have.unsaved = 0
        return have, True
    return have, False


def save_threshold(units: int) -> int:
    """Units reloaded since the index file was written after which it is rewritten."""
    return max(SAVE_AFTER, units // 100)


class StoreSource:
    """Unit records read from the store on demand, by DIN (a :class:`cordmatch.selection.UnitSource`)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        from cordmatch.services.bank_index import iter_search_records

        out: dict[str, UnitRecord] = {}
        with self.store.read() as s:
            for rows in iter_search_records(s, dins=list(unit_ids)):
                out.update((r.unit_id, r) for _, r in rows)
        return out


def open_store_index(
    store: Store, tables: NomenclatureTables, *, path: Path | None = None
) -> tuple[UnitIndex, StoreSource]:
    """The search index of an opened store (persistent, incremental) and its record source (``path``: the
    index file, by default :func:`index_path`)."""
    path = path if path is not None else index_path(store)
    coded = coded_units(store, tables, path=path)
    return index_of(coded, tables.release, path), StoreSource(store)


def index_of(coded: CodedUnits, release: str, path: Path) -> UnitIndex:
    """The search index of ``coded``: the one this process just built for the index file at ``path``, else
    the one saved in that file with exactly these codes (the store unchanged since the file was written:
    :func:`saved_index`), else built now."""
    with _memo_lock:
        built = [index for c, index in _last_built if c is coded and index.release == release]
        _last_built.clear()
    if built:
        return built[0]
    saved = saved_index(path, coded, release)
    if saved is not None:
        return saved
    coded.file_build = ""  # the file was rewritten since: do not look again
    return build_index(coded, release)


def open_target_index(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, UnitSource]:
    """The search index of the store at ``target`` (a URL or a SQLite file) and its record source. A SQLite
    file whose index file is current (or a few changes behind) is read with the standard library alone;
    anything else opens the store through SQLAlchemy (migrations, PostgreSQL, a full read)."""
    from cordmatch.services.store_index_sqlite import open_sqlite_index

    fast = open_sqlite_index(target, tables)
    if fast is not None:
        return fast
    from cordmatch.store.engine import open_store

    # a typo in --db is an error, never a new empty database
    return open_store_index(open_store(target, create=False), tables)
