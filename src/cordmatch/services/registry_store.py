"""Generated registries in the bank store (SQLite file or SQLAlchemy URL) and the search index read back.

Writing: one transaction for the whole registry (never half-written): the simulator's banks (when absent),
one synthetic product code, then per chunk a bulk insert of units (state ``available``), their
pre-cryopreservation measurements and initial HLA typings, and one audit row for the import. Unit ids are
the simulator's (``CB`` + 10 digits), not ISBT 128 DINs.

Reading: :func:`cordmatch.services.bank_index.iter_available_units` (the bank's feed of listed units).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from cordmatch.errors import ConflictError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import add_records
from cordmatch.sim.registry import BANKS, RegistryChunk
from cordmatch.store.engine import Store

SIM_PRODUCT_CODE = "X9990"
SIM_PRODUCT_DESCRIPTION = "Synthetic HPC, Cord Blood (cordmatch sim; not an ISBT 128 code)"
ACTOR = "cordmatch sim"


def _bank_code(name: str) -> str:
    return "SIM" + "".join(w[0] for w in name.split())[:6].upper()


def write_store(target: str, chunks: Iterable[RegistryChunk], release: str) -> int:
    """Bulk-insert generated units into the store at ``target``; returns how many were written."""
    from cordmatch.store import audit
    from cordmatch.store.engine import open_store
    from cordmatch.store.models import Bank, HlaTyping, Measurement, ProductCode, Unit
    from cordmatch.store.types import utcnow

    store = open_store(target)
    rows = 0
    try:
        with store.transaction() as s:
            if s.get(ProductCode, SIM_PRODUCT_CODE) is None:
                s.add(ProductCode(code=SIM_PRODUCT_CODE, description=SIM_PRODUCT_DESCRIPTION))
            bank_ids: dict[str, int] = {}
            for name, accredited in BANKS:
                code = _bank_code(name)
                b = s.execute(select(Bank).where(Bank.code == code)).scalar_one_or_none()
                if b is None:
                    b = Bank(code=code, name=name, accreditation="FACT-NetCord" if accredited else "none")
                    s.add(b)
                    s.flush()
                bank_ids[name] = b.id
            now = utcnow()
            for chunk in chunks:
                c = chunk.cols
                unit_rows = [
                    {
                        "din": str(c.unit_id[i]),
                        "product_code": SIM_PRODUCT_CODE,
                        "bank_id": bank_ids[chunk.bank[i]],
                        "state": "available",
                        "version": 1,
                        "collected_at": dt.datetime.combine(chunk.collection_date[i], dt.time(12), dt.UTC),
                        "registered_at": now,
                        "collection_volume_ml": None,
                        "abo": chunk.abo[i],
                        "rh": "pos" if chunk.rh[i] == "+" else "neg",
                        "segments": 1 if chunk.attached_segment[i] else 0,
                        "nima_gl": chunk.nima[i],
                        "red_cell_depleted": bool(chunk.rbc_depleted[i]),
                        "exceptional_release": False,
                    }
                    for i in range(len(c))
                ]
                if not unit_rows:
                    continue
                ids = {din: uid for uid, din in s.execute(insert(Unit).returning(Unit.id, Unit.din), unit_rows)}
                meas = []
                typ = []
                for i in range(len(c)):
                    uid = ids[str(c.unit_id[i])]
                    cd34 = float(c.cd34[i])
                    meas.append(
                        {
                            "unit_id": uid,
                            "stage": "pre_cryo",
                            "volume_ml": float(chunk.volume_ml[i]),
                            "tnc": float(c.tnc[i]),
                            "cd34": None if cd34 != cd34 else cd34,
                            "recorded_at": now,
                        }
                    )
                    typ.append(
                        {"unit_id": uid, "gl": chunk.hla[i], "kind": "initial", "lab": ACTOR, "recorded_at": now}
                    )
                s.execute(insert(Measurement), meas)
                s.execute(insert(HlaTyping), typ)
                rows += len(unit_rows)
            audit.append(
                s,
                actor=ACTOR,
                action="sim.registry.import",
                entity="registry",
                entity_id="sim",
                after={"units": rows, "release": release},
            )
    except IntegrityError as exc:
        raise ConflictError(
            "some generated unit ids are already in this store (same seed twice?); use a new database",
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


def open_store_registry(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, StoreRegistry]:
    """The available units of the store at ``target`` and their search index."""
    from cordmatch.store.engine import open_store

    store = open_store(target, create=False)  # a typo in --db is an error, never a new empty database
    try:
        records = records_from_store(store)
    finally:
        store.close()
    return index_records(records, tables)
