"""Registry storage for search and the simulator: where units are written and read.

TARGET is a Parquet file (``*.parquet``) or a database (SQLite file or SQLAlchemy URL) through the bank
store. Seam: the bank store (``cordmatch.store``, branch ``bank``) is not on main yet; until it is,
database targets raise a clear error and :func:`writer_for` / :func:`open_registry` serve Parquet only.
Once it lands, the ``_store_*`` functions below call its bulk insert and unit query.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import UnitColumns, UnitIndex, date_code, pack_flags
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import add_records, nima_antigens
from cordmatch.sim.registry import RegistryChunk


def is_parquet(target: str) -> bool:
    return target.lower().endswith(".parquet")


def _store_available() -> bool:
    return importlib.util.find_spec("cordmatch.store") is not None


def _store_missing(target: str) -> InvalidInputError:
    return InvalidInputError(
        "database targets need the bank store (cordmatch.store), which is not on this branch yet; "
        "use a .parquet target (e.g. --db registry.parquet)",
        where=target,
    )


def write_registry(target: str, chunks: Iterable[RegistryChunk], release: str) -> int:
    """Write generated units to TARGET; returns the number of units written."""
    if is_parquet(target):
        from cordmatch.sim.export import write_parquet

        return write_parquet(Path(target), chunks, release)
    if not _store_available():
        raise _store_missing(target)
    raise _store_missing(target)  # pragma: no cover - replaced when the store lands


@dataclass
class ParquetRegistry:
    """A Parquet registry held in memory (a :class:`cordmatch.selection.UnitSource`)."""

    table: Any  # pyarrow.Table
    ids: np.ndarray  # S16 unit ids by row

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        out: dict[str, UnitRecord] = {}
        for uid in unit_ids:
            rows = np.flatnonzero(self.ids == uid.encode("ascii", "replace"))
            if len(rows):
                out[uid] = _record(self.table.slice(int(rows[0]), 1).to_pylist()[0])
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


def open_registry(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, ParquetRegistry]:
    """Load TARGET and build its search index (from the coded columns when they match the release)."""
    if not is_parquet(target):
        raise _store_missing(target)
    path = Path(target)
    if not path.exists():
        raise InvalidInputError(f"registry file {target} does not exist", where=target)
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises several types for unreadable files
        raise InvalidInputError(f"cannot read registry {target}: {exc}", where=target) from None
    meta = table.schema.metadata or {}
    n = table.num_rows
    index = UnitIndex(release=tables.release, capacity=max(16, n))
    ids = np.array([s.encode("ascii") for s in table.column("unit_id").to_pylist()], dtype="S16")
    if n == 0:
        return index, ParquetRegistry(table, ids)
    coded = meta.get(b"cordmatch.release") == tables.release.encode() and "hla_antigen" in table.column_names
    if coded:
        ag = np.asarray(table.column("hla_antigen").combine_chunks().flatten()).astype(np.int16).reshape(n, 4, 2)
        al = np.asarray(table.column("hla_allele").combine_chunks().flatten()).astype(np.int16).reshape(n, 4, 2)
        exact = np.asarray(table.column("hla_exact")).astype(np.bool_)
        col = {name: table.column(name).to_pylist() for name in ("abo", "rh", "nima", "collection_date")}
        flags = np.array(
            [
                pack_flags(accredited=a, rbc_depleted=r, attached_segment=s, abo=b, rh=h, nima=nm is not None)
                for a, r, s, b, h, nm in zip(
                    table.column("accredited").to_pylist(),
                    table.column("rbc_depleted").to_pylist(),
                    table.column("attached_segment").to_pylist(),
                    col["abo"],
                    col["rh"],
                    col["nima"],
                    strict=True,
                )
            ],
            dtype=np.uint16,
        )
        dates: list[dt.date | None] = col["collection_date"]
        cols = UnitColumns(
            unit_id=[s.decode() for s in ids],
            ag=ag,
            al=al,
            tnc=np.asarray(table.column("tnc")).astype(np.float32),
            cd34=np.asarray(table.column("cd34").fill_null(np.nan)).astype(np.float32),
            flags=flags,
            collected=np.array([date_code(d) for d in dates], dtype=np.uint16),
            exact=exact,
        )
        hla = table.column("hla").to_pylist()
        exact_typings: list[Any] = [hla[i] if exact[i] else None for i in range(n)]
        slots = index.add(cols, exact_typings)
        nima_cache: dict[str, frozenset[int]] = {}
        for i, nm in enumerate(col["nima"]):
            if nm:
                if nm not in nima_cache:
                    nima_cache[nm] = nima_antigens(nm, tables)
                index.set_nima(int(slots[i]), nima_cache[nm])
    else:
        add_records(index, [_record(r) for r in table.to_pylist()], tables)
    return index, ParquetRegistry(table, ids)
