"""The index file of a store's coded search index: the coded units it keeps, what they are keyed on, and
writing and reading the file (with the search index built from those codes, kept beside them so that a
process finding the store unchanged loads it instead of building it). Used by
:mod:`cordmatch.services.store_index` and its SQLite fast path."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import TABLES_FORMAT, NomenclatureTables
from cordmatch.selection.index import UnitIndex, index_from_state, index_state

if TYPE_CHECKING:
    from cordmatch.store.engine import Store

#: Format of the index file; bump when its layout or the coding changes.
INDEX_FORMAT = 1
NIMA_WIDTH = 6


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
    #: id of the index-file write whose saved search index was built from exactly these codes ("": none).
    #: Only the object read from (or written to) that file carries it: any change gives a new object
    #: (``store_index.merge``, a full read), so a carried id means the saved index is current whenever these
    #: codes are.
    file_build: str = ""

    def __len__(self) -> int:
        return len(self.db_id)


def index_key(store_id: str, tables: NomenclatureTables) -> str:
    """What stored codes depend on: the store, the release, the tables' format and size, the file format."""
    return f"{store_id}|{tables.release}|t{TABLES_FORMAT}|{len(tables.alleles)}|{len(tables.names)}|i{INDEX_FORMAT}"


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
    the store unchanged loads it without building it (:func:`load_built`, :func:`saved_index`). Each write
    gets a random id (``meta[5]``), recorded in ``coded.file_build`` when the index was saved with it."""
    nima_owner, nima_ids = _pack_dict_rows(coded.nima, NIMA_WIDTH, -1)
    alt_owner = [np.full(len(a[0]), uid, np.int64) for uid, a in coded.alternatives.items()]
    no_alt = np.zeros((0, 4, 2), np.int16)
    alt_ag = np.concatenate([a[0] for a in coded.alternatives.values()]) if alt_owner else no_alt
    alt_al = np.concatenate([a[1] for a in coded.alternatives.values()]) if alt_owner else no_alt
    build = os.urandom(12).hex()
    arrays: dict[str, Any] = {
        "meta": np.array([coded.key, str(coded.horizon), *(str(v) for v in coded.fingerprint), build]),
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
    coded.file_build = build if state is not None else ""
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
    out.file_build = str(meta[5]) if len(meta) >= 6 else ""
    out.exact_gl = dict(zip(a["exact_id"].tolist(), a["exact_gl"].tolist(), strict=True))
    owners_ids = zip(a["nima_owner"].tolist(), a["nima_ids"].tolist(), strict=True)
    out.nima = {o: frozenset(x for x in row if x >= 0) for o, row in owners_ids}
    owners = a["alt_owner"]
    for uid in np.unique(owners):
        rows = owners == uid
        out.alternatives[int(uid)] = (a["alt_ag"][rows], a["alt_al"][rows])
    return out


def _saved_state(path: Path, accept: Callable[[list[str]], bool]) -> dict[str, npt.NDArray[Any]] | None:
    """The arrays of the search index saved in the index file at ``path`` when the file holds one and
    ``accept`` takes its ``meta`` (key, horizon, fingerprint, write id); None otherwise. One open of the
    file: a file renamed over it meanwhile is not mixed in."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if not accept([str(v) for v in z["meta"]]) or "ix_ids" not in z:
                return None
            return {name[3:]: z[name] for name in z.files if name.startswith("ix_")}
    except (OSError, ValueError, KeyError):
        return None


def load_built(path: Path, key: str, horizon: int, fingerprint: tuple[int, int, int], release: str) -> UnitIndex | None:
    """The search index saved in the index file at ``path`` when the file carries ``key``, was written at
    ``horizon`` with ``fingerprint`` (nothing changed since) and holds the built index; None otherwise."""
    want = [key, str(horizon), *(str(v) for v in fingerprint)]
    state = _saved_state(path, lambda meta: meta[: len(want)] == want)
    return index_from_state(state, release) if state is not None else None


def saved_index(path: Path, coded: CodedUnits, release: str) -> UnitIndex | None:
    """The search index built from exactly ``coded``, as saved in the index file at ``path``: when
    ``coded`` carries the id of a file write (:attr:`CodedUnits.file_build`) and the file at ``path`` is
    still that write (same key and write id: a file rewritten since gives None, never another build)."""
    if not coded.file_build:
        return None
    state = _saved_state(path, lambda meta: len(meta) >= 6 and meta[0] == coded.key and meta[5] == coded.file_build)
    return index_from_state(state, release) if state is not None else None


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
