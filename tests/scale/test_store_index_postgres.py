"""The PostgreSQL full read of a store's index (one COPY, parsed by Arrow, coded column-wise) gives the same
coded units as coding the SQLAlchemy read's records one by one, whatever the session's time zone and
however odd the units' facts (no pre-cryopreservation count, unknown ABO/Rh, NULL depletion, odd
accreditation text, an empty NIMA, typings graded exactly, units that are not searchable)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy import text

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.index import EPOCH
from cordmatch.services import store_index
from cordmatch.services.bank_index import iter_search_records
from cordmatch.services.coded_columns import code_unit_columns
from cordmatch.services.index_file import CodedUnits
from cordmatch.services.registry import write_registry
from cordmatch.services.store_index_pg import iter_unit_columns
from cordmatch.sim.registry import generate_registry
from cordmatch.store import open_store

ARRAYS = ("db_id", "din", "ag", "al", "tnc", "cd34", "flags", "collected", "exact")

#: units made odd by id (mod 17): each edge the column read must treat as the record read does
EDGES = (
    "UPDATE measurements SET stage = 'post_processing' WHERE stage = 'pre_cryo' AND unit_id % 17 = 1",
    "UPDATE measurements SET cd34 = NULL WHERE unit_id % 17 = 2",
    "UPDATE units SET abo = NULL, rh = NULL WHERE id % 17 = 3",
    "UPDATE units SET abo = 'X', rh = 'unk' WHERE id % 17 = 4",
    "UPDATE units SET red_cell_depleted = NULL WHERE id % 17 = 5",
    "UPDATE units SET red_cell_depleted = false, segments = 0 WHERE id % 17 = 6",
    "UPDATE units SET nima_gl = '' WHERE id % 17 = 7",
    "UPDATE units SET nima_gl = 'A*02:01^B*44:02^DRB1*04:01' WHERE id % 17 = 8",
    "UPDATE measurements SET tnc = 0 WHERE unit_id % 17 = 9",
    "UPDATE hla_typings SET gl = '' WHERE unit_id % 17 = 10",
    "UPDATE units SET state = 'reserved' WHERE id % 17 = 11",
    "UPDATE hla_typings SET gl = 'A*01:01+A*02:01^B*08:01+B*44:02^DRB1*03:01+DRB1*04:01^DQB1*02:01+DQB1*03:02' "
    "WHERE unit_id % 17 = 12",
    "UPDATE hla_typings SET gl = 'A*01:01~B*08:01+A*02:01~B*44:02^DRB1*03:01+DRB1*04:01' WHERE unit_id % 17 = 13",
    "UPDATE banks SET accreditation = ' None ' WHERE id % 2 = 0",
    "UPDATE banks SET name = 'Bank, \"quoted\"', accreditation = E'FACT,\\n\"NetCord\"' WHERE id % 2 = 1",
)


def _same(a: CodedUnits, b: CodedUnits) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    assert a.exact_gl == b.exact_gl and a.nima == b.nima
    assert a.alternatives.keys() == b.alternatives.keys()
    for k, (ag, al) in a.alternatives.items():
        assert np.array_equal(ag, b.alternatives[k][0]) and np.array_equal(al, b.alternatives[k][1])


@pytest.mark.postgres
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_copy_read_equals_the_record_read(pg_schema_url: str, tables: NomenclatureTables, zone: str) -> None:
    write_registry(pg_schema_url, generate_registry(340, 4, "mix", tables), tables.release)
    store = open_store(pg_schema_url)
    try:
        with store.transaction() as s:  # collections near midnight UTC: the date depends on the zone read in
            s.execute(text("UPDATE units SET collected_at = :t WHERE id % 3 = 0"),
                      {"t": datetime(2025, 3, 1, 23, 30, tzinfo=UTC)})  # fmt: skip
            s.execute(text("UPDATE units SET collected_at = :t WHERE id % 3 = 1"),
                      {"t": datetime(2025, 3, 2, 0, 30, tzinfo=UTC)})  # fmt: skip
            for sql in EDGES:
                s.execute(text(sql))
        with store.read() as s:
            s.execute(text(f"SET LOCAL TimeZone = '{zone}'"))
            cache: dict[str, object] = {}
            expected = store_index.concat(
                [store_index.code_records(rows, tables, "k", cache) for rows in iter_search_records(s, light=True)], "k"
            )
            got = store_index.concat([code_unit_columns(raw, tables, "k", {}) for raw in iter_unit_columns(s)], "k")
            # small blocks: many block boundaries, some inside a quoted field with a line break
            small = [code_unit_columns(raw, tables, "k", {}) for raw in iter_unit_columns(s, block_bytes=2048)]
    finally:
        store.close()
    assert 250 < len(expected) < 340  # the unsearchable ones (no TNC, no typing, reserved) are left out
    _same(got, expected)
    assert len(small) > 5
    _same(store_index.concat(small, "k"), expected)
    assert got.nima and got.exact.any()
    days = {int(i) % 3: int(c) for i, c in zip(got.db_id, got.collected, strict=True) if int(i) % 3 != 2}
    assert days == {0: (date(2025, 3, 1) - EPOCH).days, 1: (date(2025, 3, 2) - EPOCH).days}  # the UTC dates
