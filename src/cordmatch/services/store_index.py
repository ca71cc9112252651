"""Persistent coded search index of a bank store (SQLite or PostgreSQL): GL strings parsed once, ever.

The coded columns of every searchable unit (integer HLA codes, dose, flags, NIMA antigen ids) are kept in
an index file: beside a SQLite file (``<db>.cmindex.npz``), under the data directory for a server
(``search-index/<hash of the URL>.npz``). The file is keyed on the store's random id, the IPD-IMGT/HLA
release and the nomenclature tables' format and size (a new release or table build recodes everything),
and records how far it has read the store's change log (``search_changes``, filled by triggers on every
write to units, typings, measurements and banks: migration 0003). Opening the index reads the log since
then and reloads only the units it names, so a unit registered, reserved, released or retyped a moment ago
is seen by the next search.

Change horizon: SQLite serialises writers, so the log's largest ``seq`` in the reading snapshot marks what
was read. PostgreSQL may commit log rows out of ``seq`` order, so the horizon is the oldest transaction
still in flight when the read began (``pg_snapshot_xmin``): the next read takes every row written by that
transaction or a later one (rereading a unit is harmless, missing one is not).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import TABLES_FORMAT, NomenclatureTables
from cordmatch.selection.index import UnitColumns, UnitIndex, index_from_state, index_state
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import columns_from_records, nima_antigens
from cordmatch.services.store_log import compact, log_start_of

if TYPE_CHECKING:  # SQLAlchemy is imported where a store is read (a SQLite search may not need it)
    from sqlalchemy.orm import Session

    from cordmatch.selection.search import UnitSource
    from cordmatch.store.engine import Store

#: Format of the index file; bump when its layout or the coding changes.
INDEX_FORMAT = 1
#: Above this share of changed units, read everything again instead of the changes.
FULL_RELOAD_SHARE = 0.25
NIMA_WIDTH = 6
#: Rewrite the index file once this many units (or 1% of them) were reloaded since it was written.
SAVE_AFTER = 1000


@dataclass
class CodedUnits:
    """The searchable units of a store, coded, in unit-id order (the order a fresh read gives)."""

    key: str  # store id, release, tables format and size, index format
    horizon: int  # change-log position read up to (SQLite: seq; PostgreSQL: transaction id)
    db_id: npt.NDArray[np.int64]
    din: npt.NDArray[np.bytes_]
    ag: npt.NDArray[np.int16]  # (n, 4, 2)
    al: npt.NDArray[np.int16]
    tnc: npt.NDArray[np.float32]  # cells
    cd34: npt.NDArray[np.float32]  # cells, NaN = not recorded
    flags: npt.NDArray[np.uint16]
    collected: npt.NDArray[np.uint16]  # days since 1970
    exact: npt.NDArray[np.bool_]
    #: unit id -> GL string, for units graded exactly (typing not codable)
    exact_gl: dict[int, str] = field(default_factory=dict)
    #: unit id -> coded genotype alternatives (k, 4, 2) antigen and allele ids
    alternatives: dict[int, tuple[npt.NDArray[np.int16], npt.NDArray[np.int16]]] = field(default_factory=dict)
    #: unit id -> NIMA antigen ids
    nima: dict[int, frozenset[int]] = field(default_factory=dict)
    #: units reloaded since the index file was last written (the file is rewritten past a threshold; until
    #: then a new process replays the change log from the file's older horizon)
    unsaved: int = 0
    #: (count, sum of ids, sum of row versions) of the listed units when last read: a second check that
    #: nothing changed outside the change log (a restored backup, triggers dropped)
    fingerprint: tuple[int, int, int] = (0, 0, 0)

    def __len__(self) -> int:
        return len(self.db_id)


def index_key(store_id: str, tables: NomenclatureTables) -> str:
    """What stored codes depend on: the store, the release, the tables' format and size, the file format."""
    return f"{store_id}|{tables.release}|t{TABLES_FORMAT}|{len(tables.alleles)}|{len(tables.names)}|i{INDEX_FORMAT}"


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
    records = [r for _, r in rows]
    cols, _ = columns_from_records(records, tables, part_cache)
    ids = np.array([i for i, _ in rows], dtype=np.int64)
    out = CodedUnits(key, 0, ids, np.asarray([r.unit_id for r in records], dtype=np.bytes_), cols.ag, cols.al,
                     cols.tnc, cols.cd34, cols.flags, cols.collected, cols.exact)  # fmt: skip
    alts = cols.alternatives or [None] * len(rows)
    for k in np.flatnonzero(cols.exact):
        uid = int(ids[k])
        a = alts[int(k)]
        if a is not None:
            out.alternatives[uid] = (a[0].astype(np.int16), a[1].astype(np.int16))
        else:
            out.exact_gl[uid] = records[int(k)].hla
    cache: dict[str, frozenset[int]] = {}
    for uid, r in rows:
        if r.nima:
            if r.nima not in cache:
                cache[r.nima] = nima_antigens(r.nima, tables)
            out.nima[uid] = cache[r.nima]
    return out


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
def _pack_dict_rows(d: Mapping[int, Any], width: int, fill: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    owners = np.fromiter(d.keys(), dtype=np.int64, count=len(d))
    rows = np.full((len(d), width), fill, dtype=np.int16)
    for r, ids in enumerate(d.values()):
        vals = sorted(ids)[:width]
        rows[r, : len(vals)] = vals
    return owners, rows


def save(coded: CodedUnits, path: Path, index: UnitIndex | None = None) -> bool:
    """Write the index file (temporary name, then renamed: never half-written); False when not writable.
    ``index``: the search index built from ``coded``, kept too (prefix ``ix_``) so that a process finding
    the store unchanged loads it without building it (:func:`load_built`)."""
    nima_owner, nima_ids = _pack_dict_rows(coded.nima, NIMA_WIDTH, -1)
    alt_owner = [np.full(len(a[0]), uid, np.int64) for uid, a in coded.alternatives.items()]
    no_alt = np.zeros((0, 4, 2), np.int16)
    alt_ag = np.concatenate([a[0] for a in coded.alternatives.values()]) if alt_owner else no_alt
    alt_al = np.concatenate([a[1] for a in coded.alternatives.values()]) if alt_owner else no_alt
    arrays: dict[str, Any] = {
        "meta": np.array([coded.key, str(coded.horizon), *(str(v) for v in coded.fingerprint)]),
        "db_id": coded.db_id, "din": coded.din, "ag": coded.ag, "al": coded.al, "tnc": coded.tnc,
        "cd34": coded.cd34, "flags": coded.flags, "collected": coded.collected, "exact": coded.exact,
        "exact_id": np.fromiter(coded.exact_gl.keys(), np.int64, len(coded.exact_gl)),
        "exact_gl": np.array(list(coded.exact_gl.values()), dtype=np.str_),
        "nima_owner": nima_owner, "nima_ids": nima_ids,
        "alt_owner": np.concatenate(alt_owner) if alt_owner else np.zeros(0, np.int64),
        "alt_ag": alt_ag, "alt_al": alt_al,
    }  # fmt: skip
    state = index_state(index) if index is not None else None
    arrays.update({f"ix_{k}": v for k, v in (state or {}).items()})
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        return False
    return True


def load(path: Path, key: str) -> CodedUnits | None:
    """The index file at ``path`` when it exists, reads and carries ``key``; None otherwise."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = z["meta"]
            if str(meta[0]) != key:
                return None
            a = {name: z[name] for name in z.files if not name.startswith("ix_")}
    except (OSError, ValueError, KeyError):
        return None
    out = CodedUnits(key, int(meta[1]), a["db_id"], a["din"], a["ag"], a["al"], a["tnc"], a["cd34"], a["flags"],
                     a["collected"], a["exact"])  # fmt: skip
    if len(meta) >= 5:
        out.fingerprint = (int(meta[2]), int(meta[3]), int(meta[4]))
    out.exact_gl = dict(zip(a["exact_id"].tolist(), a["exact_gl"].tolist(), strict=True))
    owners_ids = zip(a["nima_owner"].tolist(), a["nima_ids"].tolist(), strict=True)
    out.nima = {o: frozenset(x for x in row if x >= 0) for o, row in owners_ids}
    owners = a["alt_owner"]
    for uid in np.unique(owners):
        rows = owners == uid
        out.alternatives[int(uid)] = (a["alt_ag"][rows], a["alt_al"][rows])
    return out


def load_built(path: Path, key: str, horizon: int, fingerprint: tuple[int, int, int], release: str) -> UnitIndex | None:
    """The search index saved in the index file at ``path`` when the file carries ``key``, was written at
    ``horizon`` with ``fingerprint`` (nothing changed since) and holds the built index; None otherwise."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = z["meta"]
            if [str(v) for v in meta] != [key, str(horizon), *(str(v) for v in fingerprint)] or "ix_ids" not in z:
                return None
            state = {name[3:]: z[name] for name in z.files if name.startswith("ix_")}
    except (OSError, ValueError, KeyError):
        return None
    return index_from_state(state, release)


def sqlite_index_path(db: Path) -> Path:
    """The index file beside the SQLite file ``db``."""
    return db.with_name(db.name + ".cmindex.npz")


def index_path(store: Store) -> Path:
    """Where the index file of ``store`` lives: beside a SQLite file, else under the data directory."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return sqlite_index_path(Path(url.database))
    from cordmatch.paths import data_dir

    digest = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:20]
    return data_dir() / "search-index" / f"{digest}.npz"


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
    from sqlalchemy import text

    from cordmatch.services.bank_index import iter_postgresql_search_rows, iter_search_records

    rows_iter = iter_search_records(session, unit_ids=unit_ids, light=True)
    if session.get_bind().dialect.name == "postgresql" and unit_ids is None:
        # a server-side cursor plans for the first 10% of rows by default (nested loops): plan for all of them
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        rows_iter = iter_postgresql_search_rows(session)
    cache: dict[str, Any] = {}
    parts = [code_records(rows, tables, key, cache) for rows in rows_iter]
    return concat(parts, key)


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
    coded = coded_units(store, tables, path=path)
    with _memo_lock:
        saved = [index for c, index in _last_built if c is coded and index.release == tables.release]
        _last_built.clear()
    return (saved[0] if saved else build_index(coded, tables.release)), StoreSource(store)


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
