"""The PostgreSQL full read of a store's index (driver cursor, no SQLAlchemy row processing) reads the same
rows as the SQLAlchemy read, whatever the session's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.services.bank_index import iter_postgresql_search_rows, iter_search_records
from cordmatch.services.registry import write_registry
from cordmatch.sim.registry import generate_registry
from cordmatch.store import open_store

FIELDS = ("unit_id", "hla", "tnc", "cd34", "volume_ml", "abo", "rh", "bank", "accredited", "collection_date",
          "rbc_depleted", "attached_segment", "nima", "population")  # fmt: skip


def _rows(rows: list[list[tuple[int, object]]]) -> list[tuple[object, ...]]:
    return [(uid, *(getattr(r, f) for f in FIELDS)) for part in rows for uid, r in part]


@pytest.mark.postgres
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_driver_read_equals_the_sqlalchemy_read(pg_schema_url: str, tables: NomenclatureTables, zone: str) -> None:
    write_registry(pg_schema_url, generate_registry(300, 4, "mix", tables), tables.release)
    store = open_store(pg_schema_url)
    try:
        with store.transaction() as s:  # collections near midnight UTC: the date depends on the zone read in
            s.execute(text("UPDATE units SET collected_at = :t WHERE id % 3 = 0"),
                      {"t": datetime(2025, 3, 1, 23, 30, tzinfo=UTC)})  # fmt: skip
            s.execute(text("UPDATE units SET collected_at = :t WHERE id % 3 = 1"),
                      {"t": datetime(2025, 3, 2, 0, 30, tzinfo=UTC)})  # fmt: skip
        with store.read() as s:
            s.execute(text(f"SET LOCAL TimeZone = '{zone}'"))
            expected = _rows(list(iter_search_records(s, light=True)))
            got = _rows(list(iter_postgresql_search_rows(s, batch=70)))
    finally:
        store.close()
    assert len(expected) > 250
    assert got == expected
    dates = {int(str(row[0])) % 3: row[10] for row in got if int(str(row[0])) % 3 != 2}
    assert dates == {0: date(2025, 3, 1), 1: date(2025, 3, 2)}  # the UTC dates, as the store's type reads them
