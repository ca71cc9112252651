"""A registry as a Parquet file (pyarrow): one row per unit, the record fields plus the coded typing.

The coded columns (``hla_antigen``, ``hla_allele``: 8 int16 per unit, loci A, B, C, DRB1 x 2 positions;
``hla_exact``) let a reader build the search index without parsing every GL string; the file metadata
records the IPD-IMGT/HLA release they were coded with (a reader recodes when it differs). Writing streams
:class:`RegistryChunk` s (generated units, or a bank's units); reading gives the search index and a
:class:`ParquetRegistry` (a :class:`cordmatch.selection.source.UnitSource`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import TABLES_FORMAT, NomenclatureTables
from cordmatch.selection.index import (
    ABO_CODES,
    ABO_KNOWN,
    ABO_SHIFT,
    ACCREDITED,
    LIVE,
    NIMA,
    RBC_DEPLETED,
    RH_KNOWN,
    RH_POS,
    SEGMENT,
    UnitColumns,
    UnitIndex,
)
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import add_records, nima_antigens

RELEASE_KEY = b"cordmatch.release"
FORMAT_KEY = b"cordmatch.format"
FORMAT = b"registry-v1"
#: The nomenclature tables' coding the hla_antigen/hla_allele ids refer to (a reader recodes when it differs).
CODING_KEY = b"cordmatch.coding"
CODING = f"tables-v{TABLES_FORMAT}".encode()


@dataclass
class RegistryChunk:
    """Units, columnar: index columns plus the record fields the index does not hold."""

    cols: UnitColumns
    hla: list[str]
    volume_ml: npt.NDArray[np.float32]
    abo: list[str]
    rh: list[str]
    bank: list[str]
    accredited: npt.NDArray[np.bool_]
    rbc_depleted: npt.NDArray[np.bool_]
    attached_segment: npt.NDArray[np.bool_]
    collection_date: list[dt.date]
    nima: list[str | None]
    population: list[str]


def is_parquet(target: str) -> bool:
    return target.lower().endswith(".parquet")


def chunk_table(chunk: RegistryChunk) -> Any:
    """A pyarrow Table of one chunk."""
    import pyarrow as pa

    c = chunk.cols
    m = len(c)
    return pa.table(
        {
            "unit_id": pa.array(list(c.unit_id), pa.string()),
            "hla": pa.array(chunk.hla, pa.string()),
            "tnc": pa.array(c.tnc.astype(np.float64)),
            "cd34": pa.array(c.cd34.astype(np.float64), from_pandas=True),
            "volume_ml": pa.array(chunk.volume_ml.astype(np.float64), from_pandas=True),  # NaN: not recorded
            "abo": pa.array(chunk.abo, pa.string()),
            "rh": pa.array(chunk.rh, pa.string()),
            "bank": pa.array(chunk.bank, pa.string()),
            "accredited": pa.array(chunk.accredited),
            "collection_date": pa.array(chunk.collection_date, pa.date32()),
            "rbc_depleted": pa.array(chunk.rbc_depleted),
            "attached_segment": pa.array(chunk.attached_segment),
            "nima": pa.array(chunk.nima, pa.string()),
            "population": pa.array(chunk.population, pa.string()),
            "hla_antigen": pa.FixedSizeListArray.from_arrays(pa.array(c.ag.reshape(m * 8)), 8),
            "hla_allele": pa.FixedSizeListArray.from_arrays(pa.array(c.al.reshape(m * 8)), 8),
            "hla_exact": pa.array(c.exact),
            "hla_alternatives": pa.array(
                [
                    None if a is None else np.concatenate([a[0].reshape(-1, 8), a[1].reshape(-1, 8)], axis=1).ravel()
                    for a in (c.alternatives or [None] * m)
                ],
                pa.list_(pa.int16()),
            ),
        }
    )


def empty_chunk() -> RegistryChunk:
    """A chunk of no units (the schema of an empty registry)."""
    z = np.zeros(0, dtype=np.float32)
    cols = UnitColumns(
        [],
        np.zeros((0, 4, 2), np.int16),
        np.zeros((0, 4, 2), np.int16),
        z,
        z,
        np.zeros(0, np.uint16),
        np.zeros(0, np.uint16),
        np.zeros(0, np.bool_),
    )
    b = np.zeros(0, dtype=np.bool_)
    return RegistryChunk(cols, [], z, [], [], [], b, b, b, [], [], [])


def write_parquet(path: Path, chunks: Iterable[RegistryChunk], release: str) -> int:
    """Stream chunks into one Parquet file (written to a temporary name, then renamed). Returns rows."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    writer = None
    rows = 0
    try:
        for chunk in chunks:
            table = chunk_table(chunk)
            if writer is None:
                meta = dict(table.schema.metadata or {})
                meta[RELEASE_KEY] = release.encode()
                meta[FORMAT_KEY] = FORMAT
                meta[CODING_KEY] = CODING
                writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta), compression="zstd")
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
            rows += table.num_rows
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    if writer is None:  # an empty registry: schema only
        table = chunk_table(empty_chunk())
        meta = {RELEASE_KEY: release.encode(), FORMAT_KEY: FORMAT, CODING_KEY: CODING}
        writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta), compression="zstd")
        writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
    writer.close()
    tmp.replace(path)
    return rows


def _id_hashes(ids: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hashes of fixed-width byte ids, vectorised over the rows."""
    width = ids.dtype.itemsize
    cols = np.ascontiguousarray(ids).view(np.uint8).reshape(len(ids), width)
    h = np.full(len(ids), 0xCBF29CE484222325, dtype=np.uint64)
    prime = np.uint64(0x100000001B3)
    with np.errstate(over="ignore"):
        for k in range(width):
            h ^= cols[:, k].astype(np.uint64)
            h *= prime
    return h


@dataclass
class ParquetRegistry:
    """A Parquet registry held in memory (a :class:`cordmatch.selection.UnitSource`). Records are found by
    unit id through sorted id hashes (built on first use: 16 bytes per unit), not a scan per id."""

    table: Any  # pyarrow.Table
    ids: np.ndarray  # unit ids (fixed-width bytes) by row
    _hashes: np.ndarray | None = None  # sorted id hashes
    _rows: np.ndarray | None = None  # row of each sorted hash

    def _lookup(self) -> tuple[np.ndarray, np.ndarray]:
        if self._hashes is None or self._rows is None:
            h = _id_hashes(self.ids)
            self._rows = np.argsort(h, kind="stable")
            self._hashes = h[self._rows]
        return self._hashes, self._rows

    def row_of(self, unit_id: str) -> int | None:
        key = unit_id.encode("ascii", "replace")
        if len(key) > self.ids.dtype.itemsize or not len(self.ids):
            return None
        hashes, rows = self._lookup()
        h = _id_hashes(np.array([key], dtype=self.ids.dtype))[0]
        lo, hi = np.searchsorted(hashes, h, "left"), np.searchsorted(hashes, h, "right")
        for r in rows[lo:hi]:
            if self.ids[r] == key:
                return int(r)
        return None

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        out: dict[str, UnitRecord] = {}
        for uid in unit_ids:
            row = self.row_of(uid)
            if row is not None:
                out[uid] = _record(self.table.slice(row, 1).to_pylist()[0])
        return out


def _record(row: dict[str, Any]) -> UnitRecord:
    cd34 = row.get("cd34")
    return UnitRecord(
        unit_id=row["unit_id"],
        hla=row["hla"],
        tnc=float(row["tnc"]),
        cd34=None if cd34 is None or cd34 != cd34 else float(cd34),
        volume_ml=row.get("volume_ml"),
        abo=row.get("abo"),
        rh=row.get("rh"),
        bank=row.get("bank") or "",
        accredited=bool(row.get("accredited")),
        collection_date=row.get("collection_date"),
        rbc_depleted=bool(row.get("rbc_depleted", True)),
        attached_segment=bool(row.get("attached_segment", True)),
        nima=row.get("nima"),
        population=row.get("population"),
    )


def _alternatives(table: Any, exact: np.ndarray) -> list[tuple[np.ndarray, np.ndarray] | None] | None:
    """Coded genotype alternatives of ambiguous units (rows of 8 antigen + 8 allele ids)."""
    if "hla_alternatives" not in table.column_names:
        return None
    out: list[tuple[np.ndarray, np.ndarray] | None] = [None] * table.num_rows
    rows = np.flatnonzero(exact)
    values = table.column("hla_alternatives").take(rows).to_pylist() if len(rows) else []
    for r, v in zip(rows, values, strict=True):
        if v:
            a = np.asarray(v, dtype=np.int16).reshape(-1, 16)
            out[int(r)] = (a[:, :8].reshape(-1, 4, 2), a[:, 8:].reshape(-1, 4, 2))
    return out


def _dates(table: Any) -> np.ndarray:
    """Collection dates as uint16 days since 1970 (0 = unknown)."""
    days = table.column("collection_date").cast("int32").fill_null(0)
    return np.clip(np.asarray(days).astype(np.int64), 0, 65535).astype(np.uint16)


def _flags(table: Any) -> np.ndarray:
    """Index flag bits from the record columns, vectorised."""
    import pyarrow.compute as pc

    def boolean(name: str) -> np.ndarray:
        return np.asarray(table.column(name).fill_null(False)).astype(np.uint16)

    f = np.full(table.num_rows, LIVE, dtype=np.uint16)
    f |= boolean("accredited") * ACCREDITED
    f |= boolean("rbc_depleted") * RBC_DEPLETED
    f |= boolean("attached_segment") * SEGMENT
    f |= np.asarray(pc.is_valid(table.column("nima"))).astype(np.uint16) * NIMA
    abo = np.asarray(table.column("abo").fill_null("").to_numpy(zero_copy_only=False)).astype("U2")
    for name, code in ABO_CODES.items():
        f |= np.where(abo == name, ABO_KNOWN | (code << ABO_SHIFT), 0).astype(np.uint16)
    rh = np.asarray(table.column("rh").fill_null("").to_numpy(zero_copy_only=False)).astype("U1")
    f |= np.where(rh == "+", RH_KNOWN | RH_POS, np.where(rh == "-", RH_KNOWN, 0)).astype(np.uint16)
    return f


def read_registry(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, ParquetRegistry]:
    """The search index and records of the Parquet file ``target``."""
    path = Path(target)
    if not path.exists():
        raise InvalidInputError(f"registry file {target} does not exist", where=target)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InvalidInputError(f"cannot read registry {target}: {exc}", where=target) from None
    return index_from_table(table, tables)


def index_from_table(table: Any, tables: NomenclatureTables) -> tuple[UnitIndex, ParquetRegistry]:
    """The search index of a registry table (pyarrow; coded columns used when they match the release)."""
    meta = table.schema.metadata or {}
    n = table.num_rows
    index = UnitIndex(release=tables.release, capacity=max(16, n))
    ids = np.asarray(table.column("unit_id").to_numpy(zero_copy_only=False).astype(str), dtype=np.bytes_)
    if n == 0:
        return index, ParquetRegistry(table, ids)
    coded = (
        meta.get(b"cordmatch.release") == tables.release.encode()
        and meta.get(CODING_KEY) == CODING  # antigen/allele ids of this table format (else recode)
        and "hla_antigen" in table.column_names
    )
    if coded:
        ag = np.asarray(table.column("hla_antigen").combine_chunks().flatten()).astype(np.int16).reshape(n, 4, 2)
        al = np.asarray(table.column("hla_allele").combine_chunks().flatten()).astype(np.int16).reshape(n, 4, 2)
        exact = np.asarray(table.column("hla_exact")).astype(np.bool_)
        col = {name: table.column(name).to_pylist() for name in ("nima", "collection_date")}
        flags = _flags(table)
        cols = UnitColumns(
            unit_id=ids,
            ag=ag,
            al=al,
            tnc=np.asarray(table.column("tnc")).astype(np.float32),
            cd34=np.asarray(table.column("cd34").fill_null(np.nan)).astype(np.float32),
            flags=flags,
            collected=_dates(table),
            exact=exact,
        )
        cols.alternatives = _alternatives(table, exact)
        rows = np.flatnonzero(exact)
        hla_exact = table.column("hla").take(rows).to_pylist() if len(rows) else []
        exact_typings: list[Any] = [None] * n
        for r, gl in zip(rows, hla_exact, strict=True):
            exact_typings[int(r)] = gl
        slots = index.add(cols, exact_typings)
        nima_cache: dict[str, frozenset[int]] = {}
        nima_slots: list[int] = []
        nima_ids: list[frozenset[int]] = []
        for i, nm in enumerate(col["nima"]):
            if nm:
                if nm not in nima_cache:
                    nima_cache[nm] = nima_antigens(nm, tables)
                nima_slots.append(int(slots[i]))
                nima_ids.append(nima_cache[nm])
        index.set_nima(nima_slots, nima_ids)
    else:
        add_records(index, [_record(r) for r in table.to_pylist()], tables)
    return index, ParquetRegistry(table, ids)
