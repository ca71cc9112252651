"""Bulk writes of generated registries into a store: chunked transactions, audited, valid DINs, searchable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from cordmatch.bank.din import parse_din
from cordmatch.errors import ConflictError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.imgt import default_nomenclature
from cordmatch.selection.search import search
from cordmatch.services.registry import open_registry, write_registry
from cordmatch.services.search import SearchRequest, build_patient
from cordmatch.sim import registry as sim_registry
from cordmatch.sim.patients import generate_patients
from cordmatch.sim.registry import generate_registry, sim_din
from cordmatch.store import audit, open_store


@pytest.fixture
def tables() -> NomenclatureTables:
    return default_nomenclature()


def test_sim_dins_are_valid_and_distinct() -> None:
    ids = [0, 1, 998_998, 999_998, 999_999, 5_000_000, 99_999_999, 100_000_000]
    dins = [sim_din(i) for i in ids]
    assert len(set(dins)) == len(dins)
    for d in dins:
        assert str(parse_din(d)) == d
        assert parse_din(d + parse_din(d).check) == parse_din(d)  # the check character checks out
    assert dins[0] == "X999926000001" and dins[3] == "X999926999999" and dins[4] == "X999925000001"


def test_chunked_bulk_write_is_audited_and_searches_like_parquet(
    db_url: str, tables: NomenclatureTables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_registry, "CHUNK", 400)
    n = 1500
    assert write_registry(db_url, generate_registry(n, 11, "mix", tables), tables.release) == n
    parquet = str(tmp_path / "same.parquet")
    write_registry(parquet, generate_registry(n, 11, "mix", tables), tables.release)
    store = open_store(db_url)
    try:
        with store.read() as s:
            report = audit.verify(s)
            rows = audit.history(s, "registry", "sim")
        assert report.ok and report.rows == 4  # one audit row per chunk of 400
        assert [r["after"]["units"] for r in rows] == [400, 400, 400, 300]
        assert rows[0]["after"]["first"] == "X999926000001" and rows[-1]["after"]["last"] == sim_din(n - 1)
    finally:
        store.close()
    db_index, db_source = open_registry(db_url, tables)
    pq_index, pq_source = open_registry(parquet, tables)
    assert len(db_index) == len(pq_index) == n
    for p in generate_patients(6, 3, "mix", tables):
        req = SearchRequest(target="", patient_gl=p.hla, weight_kg=p.weight_kg, antibodies_text=p.antibody_text(),
                            malignant=p.malignant, abo=p.abo)  # fmt: skip
        patient, _ = build_patient(req, tables)
        a = search(db_index, db_source, patient, tables, top=5)
        b = search(pq_index, pq_source, patient, tables, top=5)
        assert [r.unit.unit_id for r in a.results] == [r.unit.unit_id for r in b.results]
        assert a.counts == b.counts


def test_same_seed_twice_is_a_conflict_and_keeps_the_store_whole(db_url: str, tables: NomenclatureTables) -> None:
    write_registry(db_url, generate_registry(50, 3, "CAU", tables), tables.release)
    with pytest.raises(ConflictError, match="already in this store"):
        write_registry(db_url, generate_registry(50, 3, "CAU", tables), tables.release)
    store = open_store(db_url)
    try:
        with store.read() as s:
            assert audit.verify(s).ok
            assert len(audit.history(s, "registry", "sim")) == 1
        index, _ = open_registry(db_url, tables)
        assert len(index) == 50
    finally:
        store.close()


def _triggers(db_url: str) -> list[tuple[str, str]]:
    store = open_store(db_url)
    try:
        with store.read() as s:
            if store.dialect == "sqlite":
                q = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
            else:
                q = (  # this schema's triggers, enabled or not
                    "SELECT t.tgname, c.relname || ' ' || t.tgenabled::text FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE NOT t.tgisinternal AND n.nspname = current_schema() ORDER BY 1"
                )
            return [(str(a), str(b)) for a, b in s.execute(text(q)).all()]
    finally:
        store.close()


def test_bulk_write_logs_every_unit_and_keeps_the_triggers(db_url: str, tables: NomenclatureTables) -> None:
    before = _triggers(db_url)
    assert before  # the change log's triggers exist
    write_registry(db_url, generate_registry(30, 4, "CAU", tables), tables.release)
    assert _triggers(db_url) == before  # the same triggers, same SQL, after the bulk write
    store = open_store(db_url)
    try:
        with store.read() as s:
            logged = set(s.execute(text("SELECT DISTINCT unit_id FROM search_changes")).scalars())
            units = set(s.execute(text("SELECT id FROM units")).scalars())
        assert units and units <= logged  # every new unit is in the change log
        with store.transaction() as s:  # a later write is still logged by the triggers
            s.execute(text("UPDATE units SET state = 'reserved' WHERE id = :i"), {"i": min(units)})
        with store.read() as s:
            last = s.execute(text("SELECT unit_id FROM search_changes ORDER BY seq DESC LIMIT 1")).scalar_one()
        assert last == min(units)
    finally:
        store.close()
    with pytest.raises(ConflictError):  # a failed chunk rolls the trigger swap back with everything else
        write_registry(db_url, generate_registry(30, 4, "CAU", tables), tables.release)
    assert _triggers(db_url) == before
