"""Generated registries in the bank store (SQLite file or SQLAlchemy URL) and the search index read back.

Writing: the simulator's banks (when absent) and one synthetic product code, then one transaction per chunk
of 50,000 units: executemany inserts of units (state ``available``, explicit ids), their
pre-cryopreservation measurements and initial HLA typings, and one audit row naming the chunk. Unit ids are ISBT 128
DINs of a synthetic facility (:func:`cordmatch.sim.registry.sim_din`).

Reading (coverage, benchmarks): the available units as search records and their index; a search opens a
store through :func:`cordmatch.services.registry.open_registry`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import IntegrityError

from cordmatch.errors import ConflictError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.io.parquet_registry import RegistryChunk
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import add_records
from cordmatch.store.engine import Store

SIM_PRODUCT_CODE = "X9990"
SIM_PRODUCT_DESCRIPTION = "Synthetic HPC, Cord Blood (cordmatch sim; not an ISBT 128 code)"
ACTOR = "cordmatch sim"


def _bank_code(name: str) -> str:
    return "SIM" + "".join(w[0] for w in name.split())[:6].upper()


def _ensure_banks(store: Store, banks: Iterable[tuple[str, bool]], bank_ids: dict[str, int]) -> dict[str, int]:
    """The chunk's banks (name, accredited) and the synthetic product code, added when absent: bank name -> id
    (``bank_ids``, the banks seen so far, updated)."""
    banks = [(name, accredited) for name, accredited in dict.fromkeys(banks) if name not in bank_ids]
    if not banks and bank_ids:
        return bank_ids
    from cordmatch.store.models import Bank, ProductCode

    with store.transaction() as s:
        if s.get(ProductCode, SIM_PRODUCT_CODE) is None:
            s.add(ProductCode(code=SIM_PRODUCT_CODE, description=SIM_PRODUCT_DESCRIPTION))
        for name, accredited in banks:
            code = _bank_code(name)
            b = s.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
            if b is None:
                b = Bank(code=code, name=name, accreditation="FACT-NetCord" if accredited else "none")
                s.add(b)
                s.flush()
            bank_ids[name] = b.id
    return bank_ids


def _new_unit_ids(conn: Connection, n: int) -> list[int]:
    """``n`` unit ids for explicit inserts: the sequence's next values (PostgreSQL), or after the largest id
    (SQLite: the transaction holds the write lock, so no one else takes them)."""
    if conn.dialect.name == "postgresql":
        q = text("SELECT nextval(pg_get_serial_sequence('units', 'id')) FROM generate_series(1, :n)")
        return [int(v) for v in conn.execute(q, {"n": n}).scalars()]
    top = int(conn.execute(text("SELECT coalesce(max(id), 0) FROM units")).scalar_one())
    return list(range(top + 1, top + 1 + n))


_UNIT_COLUMNS = ("id", "din", "product_code", "bank_id", "state", "version", "collected_at", "registered_at",
                 "abo", "rh", "segments", "nima_gl", "red_cell_depleted", "exceptional_release")  # fmt: skip
_MEASUREMENT_COLUMNS = ("unit_id", "stage", "volume_ml", "tnc", "cd34", "recorded_at")
_TYPING_COLUMNS = ("unit_id", "gl", "kind", "lab", "recorded_at")


def _timestamp(dialect: str) -> Any:
    """How a UTC datetime is passed to the driver: SQLite stores naive UTC text (as ``UTCDateTime`` does)."""
    if dialect == "sqlite":
        return lambda d: d.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return lambda d: d


def _chunk_rows(
    chunk: RegistryChunk, ids: list[int], bank_ids: dict[str, int], now: dt.datetime, dialect: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rows (driver values, in the ``_*_COLUMNS`` order) of units, pre-cryopreservation measurements and
    initial typings of one chunk."""
    c = chunk.cols
    ts = _timestamp(dialect)
    noon = dt.time(12)
    at = ts(now)
    days = {d: ts(dt.datetime.combine(d, noon, dt.UTC)) for d in set(chunk.collection_date)}
    dins = [str(u) for u in c.unit_id]
    tnc = c.tnc.astype(float).tolist()
    cd34 = [None if v != v else v for v in c.cd34.astype(float).tolist()]
    volume = chunk.volume_ml.astype(float).tolist()
    units = [
        (uid, din, SIM_PRODUCT_CODE, bank_ids[bank], "available", 1, days[day], at,
         abo, "pos" if rh == "+" else "neg", 1 if sg else 0, nima, bool(r), False)
        for uid, din, bank, day, abo, rh, sg, nima, r in zip(
            ids, dins, chunk.bank, chunk.collection_date, chunk.abo, chunk.rh, chunk.attached_segment.tolist(),
            chunk.nima, chunk.rbc_depleted.tolist(), strict=True)
    ]  # fmt: skip
    meas = [(uid, "pre_cryo", v, t, cd, at) for uid, v, t, cd in zip(ids, volume, tnc, cd34, strict=True)]
    typ = [(uid, gl, "initial", ACTOR, at) for uid, gl in zip(ids, chunk.hla, strict=True)]
    return units, meas, typ


def write_store(target: str, chunks: Iterable[RegistryChunk], release: str) -> int:
    """Bulk-insert generated units into the store at ``target``; returns how many were written.

    One transaction per chunk (executemany of units, measurements, typings, then one audit row naming the
    chunk's first and last DIN and its count): a failure keeps the chunks already written, each complete and
    audited, and says how many.
    """
    from cordmatch.store import audit, bulk
    from cordmatch.store.engine import open_store
    from cordmatch.store.types import utcnow

    store = open_store(target)
    rows = 0
    try:
        bank_ids: dict[str, int] = {}
        for chunk in chunks:
            m = len(chunk.cols)
            if m == 0:
                continue
            _ensure_banks(store, zip(chunk.bank, chunk.accredited.tolist(), strict=True), bank_ids)
            with store.transaction() as s:
                conn = s.connection()
                now = utcnow()
                ids = _new_unit_ids(conn, m)
                units, meas, typ = _chunk_rows(chunk, ids, bank_ids, now, conn.dialect.name)
                with bulk.logged_once(conn, ids[0], ids[-1]):
                    bulk.insert_rows(conn, "units", _UNIT_COLUMNS, units)
                    bulk.insert_rows(conn, "measurements", _MEASUREMENT_COLUMNS, meas)
                    bulk.insert_rows(conn, "hla_typings", _TYPING_COLUMNS, typ)
                audit.append(
                    s,
                    actor=ACTOR,
                    action="sim.registry.import",
                    entity="registry",
                    entity_id="sim",
                    after={"units": m, "first": units[0][1], "last": units[-1][1], "release": release},
                )
            rows += m
        if rows and store.dialect == "postgresql":
            with store.transaction() as s:  # fresh statistics: the planner's estimates were for empty tables
                for table in ("units", "measurements", "hla_typings", "search_changes"):
                    s.execute(text(f"ANALYZE {table}"))
    except IntegrityError as exc:
        done = f"{rows:,} units were written before (complete chunks, audited); " if rows else ""
        raise ConflictError(
            f"some generated unit ids are already in this store (same seed twice?); {done}use a new database",
            where=target,
        ) from exc
    finally:
        store.close()
    return rows


@dataclass
class StoreRegistry:
    """Unit records read from the store (a :class:`cordmatch.selection.UnitSource`)."""

    by_id: dict[str, UnitRecord]

    def records(self, unit_ids: Sequence[str]) -> Mapping[str, UnitRecord]:
        return {u: self.by_id[u] for u in unit_ids if u in self.by_id}


def records_from_store(store: Store) -> list[UnitRecord]:
    """The available units of an opened store as search records (units without typing or TNC left out)."""
    from cordmatch.services.bank_index import iter_available_units

    return [
        UnitRecord(
            unit_id=u.din,
            hla=u.typing_gl,
            tnc=float(u.tnc),
            cd34=u.cd34,
            volume_ml=u.cryo_volume_ml,
            abo=u.abo,
            rh={"pos": "+", "neg": "-"}.get(u.rh or ""),
            bank=u.bank_name,
            accredited=u.accredited,
            collection_date=u.collected_at.date(),
            rbc_depleted=bool(u.red_cell_depleted) if u.red_cell_depleted is not None else True,
            attached_segment=u.attached_segments > 0,
            nima=u.nima_gl,
        )
        for u in iter_available_units(store, batch=5000)
        if u.typing_gl and u.tnc
    ]


def index_records(records: Sequence[UnitRecord], tables: NomenclatureTables) -> tuple[UnitIndex, StoreRegistry]:
    """The search index of ``records`` and their source."""
    index = UnitIndex(release=tables.release, capacity=max(16, len(records)))
    add_records(index, records, tables)
    return index, StoreRegistry({r.unit_id: r for r in records})
