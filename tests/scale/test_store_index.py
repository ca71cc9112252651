"""The persistent coded search index of a store: written once, read incrementally, never stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.imgt import default_nomenclature
from cordmatch.services import store_index
from cordmatch.services.store_index import CodedUnits, coded_units, load, open_store_index
from services.conftest import World, good_registration, to_available


@pytest.fixture
def tables() -> NomenclatureTables:
    return default_nomenclature()


def _fresh(world: World, tables: NomenclatureTables, tmp_path: Path) -> CodedUnits:
    """What a first read of the store gives (new index file, no process copy)."""
    store_index._memo.clear()
    return coded_units(world.svc.store, tables, path=tmp_path / f"fresh{np.random.randint(1 << 30)}.npz")


def _same(a: CodedUnits, b: CodedUnits) -> None:
    for name in ("db_id", "din", "ag", "al", "tnc", "flags", "collected", "exact"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.cd34, b.cd34)
    assert a.nima == b.nima and a.exact_gl == b.exact_gl and a.alternatives.keys() == b.alternatives.keys()


def _dins(world: World, tables: NomenclatureTables, path: Path, *, memo: bool = True) -> list[str]:
    if not memo:
        store_index._memo.clear()
    return [d.decode() for d in coded_units(world.svc.store, tables, path=path).din]


def test_every_write_is_seen_by_the_next_search(world: World, tables: NomenclatureTables, tmp_path: Path) -> None:
    path = tmp_path / "bank.cmindex.npz"
    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    assert _dins(world, tables, path) == ["G123498000001", "G123498000002"]
    assert path.exists()
    # registered (and released to the listing) after the index file was written
    to_available(world, "G123498000003", "3")
    assert _dins(world, tables, path, memo=False) == ["G123498000001", "G123498000002", "G123498000003"]
    # reserved: gone from the next search, in this process and from the file
    res = world.svc.reservations.reserve(world.coord, "G123498000002", "p1")
    assert _dins(world, tables, path) == ["G123498000001", "G123498000003"]
    assert _dins(world, tables, path, memo=False) == ["G123498000001", "G123498000003"]
    # reservation cancelled: listed again
    world.svc.reservations.cancel_reservation(world.coord, res.id, "patient transplanted elsewhere")
    assert _dins(world, tables, path) == ["G123498000001", "G123498000002", "G123498000003"]
    # retyped and given a NIMA: the codes follow
    world.svc.units.record_typing(world.tech, "G123498000001", "A*01:01+A*02:05^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01")
    world.svc.units.set_nima(world.tech, "G123498000003", "A*24:02^B*35:01")
    incremental = coded_units(world.svc.store, tables, path=path)
    _same(incremental, _fresh(world, tables, tmp_path))
    assert len(incremental.nima) == 1
    # the index built from it ranks the units of the store
    index, source = open_store_index(world.svc.store, tables)
    assert len(index) == 3
    assert set(source.records(["G123498000001", "G123498000002"])) == {"G123498000001", "G123498000002"}


def test_release_or_tables_change_invalidates_the_file(
    world: World, tables: NomenclatureTables, tmp_path: Path
) -> None:
    path = tmp_path / "bank.cmindex.npz"
    to_available(world, "G123498000001", "1")
    coded = coded_units(world.svc.store, tables, path=path)
    assert load(path, coded.key) is not None
    assert load(path, coded.key.replace(tables.release, "3.99.0")) is None
    assert load(path, coded.key.replace("|i", "|x")) is None


def test_a_world_without_units_gives_an_empty_index(world: World, tables: NomenclatureTables, tmp_path: Path) -> None:
    world.svc.units.register_unit(world.tech, good_registration("G123498000009", slot="9"))  # not listed
    index, _ = open_store_index(world.svc.store, tables)
    assert len(index) == 0


def test_positions_coded_alone_equal_the_whole_part(tables: NomenclatureTables) -> None:
    from cordmatch.selection.records import _code_part, _parse_part

    parts = ["A*01:01+A*02:01", "A*02:01+A*01:01", "A*02:XX+A*01:XX", "B*07:02+B*07:02", "A*01:01N+A*02:01",
             "A*02:01/A*02:05+A*03:01", "A*02:01+A*02:01/A*03:01", "DRB1*15:01+DRB1*04:XX", "C*07:01+C*07:02",
             "A*02:01+B*07:02", "A*02:01", "A*01:01+A*02:01|A*01:01+A*03:01"]  # fmt: skip
    cache: dict[str, object] = {}
    for part in parts:
        fast = _code_part(part, tables, cache)  # type: ignore[arg-type]
        whole = _parse_part(part, tables)
        assert (fast is None) == (whole is None), part
        if fast is not None and whole is not None:
            assert fast[0] == whole[0] and np.array_equal(fast[1], whole[1]) and np.array_equal(fast[2], whole[2])


def test_whole_strings_coded_from_parts_equal_the_whole_parse(tables: NomenclatureTables) -> None:
    from cordmatch.hla.typing import parse_typing
    from cordmatch.matching.coded import code_typing
    from cordmatch.selection.records import fast_codes

    gls = ["A*01:01+A*02:01^B*07:02+B*08:01^C*07:01+C*07:02^DRB1*15:01+DRB1*03:01", "B*07:02+B*08:01^A*02:XX+A*01:01",
           " A*02:01+A*02:01 ^DRB1*04:XX+DRB1*04:XX", "A*01:01+A*02:01^A*03:01+A*02:01",
           "A*01:01~B*08:01+A*02:01~B*07:02",
           "A*01:01+A*02:01|A*01:01+A*03:01^B*07:02+B*08:01", "A*01:01N+A*02:01^B*07:02+B*08:01",
           "A*01:01+A*02:01^DQB1*02:01+DQB1*03:01", "A*01:01+A*02:01^B*07:02+B*08:01"]  # fmt: skip
    cache: dict[str, object] = {}
    for _ in range(2):  # a fresh cache, then the same strings again from it
        ok, ag, al = fast_codes(gls, tables, cache)
        for i, gl in enumerate(gls):
            if ok[i]:
                whole = code_typing(parse_typing(gl, tables))
                assert whole is not None, gl
                assert np.array_equal(ag[i], whole[0]) and np.array_equal(al[i], whole[1]), gl
    assert ok.tolist() == [True, True, True, False, False, False, True, False, True]  # a null position: whole part
    assert len(fast_codes([], tables, cache)[0]) == 0


def test_alternatives_coded_with_shared_positions_equal_fresh_ones(tables: NomenclatureTables) -> None:
    from cordmatch.hla.typing import parse_typing
    from cordmatch.selection.records import alternative_codes

    gls = ["A*01:01+A*02:01|A*01:01+A*03:01^B*07:02+B*08:01", "A*01:01N+A*02:01|A*01:01+A*02:01^B*07:02+B*08:01",
           "A*02:01+A*01:01|A*03:01+A*01:01^B*07:02+B*08:01|B*07:02+B*44:02", "A*02:XX+A*01:01|A*02:01+A*24:02",
           "A*01:01+A*02:01|A*01:01+A*03:01^B*07:02+B*08:01"]  # fmt: skip
    cache: dict[object, tuple[bool, tuple[int, int] | None]] = {}
    for gl in gls * 2:
        shared = alternative_codes(parse_typing(gl, tables), cache=cache)
        fresh = alternative_codes(parse_typing(gl, tables))
        assert (shared is None) == (fresh is None), gl
        if shared is not None and fresh is not None:
            assert np.array_equal(shared[0], fresh[0]) and np.array_equal(shared[1], fresh[1]), gl


@pytest.mark.postgres
def test_postgres_change_committed_out_of_order_is_not_missed(
    pg_schema_url: str, tables: NomenclatureTables, tmp_path: Path
) -> None:
    """A transaction that logged its change first but commits last is still seen (transaction horizon)."""
    from sqlalchemy import text

    from cordmatch.store import open_store
    from services.conftest import make_world

    store = open_store(pg_schema_url)
    try:
        world = make_world(store)
        path = tmp_path / "pg.npz"
        to_available(world, "G123498000001", "1")
        to_available(world, "G123498000002", "2")
        assert len(coded_units(store, tables, path=path)) == 2
        slow = store.engine.connect()
        tx = slow.begin()
        slow.execute(text("UPDATE units SET state = 'reserved' WHERE din = 'G123498000001'"))  # logged first
        to_available(world, "G123498000003", "3")  # logged later, committed first
        assert [d.decode() for d in coded_units(store, tables, path=path).din] == [
            "G123498000001", "G123498000002", "G123498000003"]  # fmt: skip
        tx.commit()
        slow.close()
        assert [d.decode() for d in coded_units(store, tables, path=path).din] == ["G123498000002", "G123498000003"]
    finally:
        store.close()


def test_changes_outside_the_log_are_not_missed(world: World, tables: NomenclatureTables, tmp_path: Path) -> None:
    """Triggers dropped (or any write the log did not see): the listed units' fingerprint still changes."""
    from sqlalchemy import text

    path = tmp_path / "bank.cmindex.npz"
    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    assert len(coded_units(world.svc.store, tables, path=path)) == 2
    store = world.svc.store
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            names = conn.execute(
                text("SELECT name FROM sqlite_master WHERE type='trigger' AND name LIKE 'search_log%'")
            )
            for (name,) in names.all():
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            for table in ("units", "hla_typings", "measurements", "banks"):
                conn.execute(text(f"DROP TRIGGER search_log_{table} ON {table}"))
        conn.execute(text("UPDATE units SET state = 'reserved', version = version + 1 WHERE din = 'G123498000001'"))
    assert _dins(world, tables, path) == ["G123498000002"]
    assert _dins(world, tables, path, memo=False) == ["G123498000002"]


def test_a_restored_older_copy_is_read_again(world: World, tables: NomenclatureTables, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    store = world.svc.store
    if store.dialect != "sqlite":
        pytest.skip("a file copy is a SQLite backup")
    db = Path(str(store.engine.url.database))
    path = tmp_path / "bank.cmindex.npz"
    to_available(world, "G123498000001", "1")
    assert _dins(world, tables, path) == ["G123498000001"]
    store.engine.dispose()
    raw = sqlite3.connect(db)  # a consistent copy: the WAL checkpointed into the file
    raw.execute("PRAGMA wal_checkpoint(FULL)")
    raw.close()
    shutil.copy(db, tmp_path / "backup.sqlite3")
    to_available(world, "G123498000002", "2")
    world.svc.reservations.reserve(world.coord, "G123498000001", "p1")
    assert _dins(world, tables, path) == ["G123498000002"]
    store.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.sqlite3", db)
    from cordmatch.store import open_store

    restored = open_store(str(db))
    try:
        assert [d.decode() for d in coded_units(restored, tables, path=path).din] == ["G123498000001"]
        store_index._memo.clear()
        assert [d.decode() for d in coded_units(restored, tables, path=path).din] == ["G123498000001"]
    finally:
        restored.close()
