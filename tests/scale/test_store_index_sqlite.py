"""The SQLite fast path of the store index: the same units and records as the full open, without SQLAlchemy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.imgt import default_nomenclature
from cordmatch.selection.index import UnitIndex, index_state
from cordmatch.services import store_index
from cordmatch.services.store_index import StoreSource, build_index, coded_units, open_store_index
from cordmatch.services.store_index_sqlite import _connect, _current, _Found, open_sqlite_index
from scale.test_store_index import _same
from services.conftest import World, to_available


@pytest.fixture
def tables() -> NomenclatureTables:
    return default_nomenclature()


@pytest.fixture
def db(world: World) -> Path:
    if world.svc.store.dialect != "sqlite":
        pytest.skip("the fast path reads SQLite files")
    return Path(str(world.svc.store.engine.url.database))


def _same_index(a: UnitIndex, b: UnitIndex) -> None:
    sa, sb = index_state(a), index_state(b)
    assert sa is not None and sb is not None and sa.keys() == sb.keys()
    for name in sa:
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


def _fast(db: Path, tables: NomenclatureTables) -> _Found | None:
    conn = _connect(db)
    try:
        conn.execute("BEGIN")
        return _current(conn, db, tables)
    finally:
        conn.close()


def _full(world: World, tables: NomenclatureTables, db: Path, name: str) -> store_index.CodedUnits:
    """What the SQLAlchemy path reads afresh (its own index file, no process copy)."""
    store_index._memo.clear()
    return coded_units(world.svc.store, tables, path=db.with_name(name))


def test_fast_path_gives_what_the_full_open_gives(world: World, db: Path, tables: NomenclatureTables) -> None:
    for i in (1, 2, 3):
        to_available(world, f"G12349800000{i}", str(i))
    first = _fast(db, tables)  # no index file yet: everything read, to be written
    assert first is not None and first.save and first.coded is not None
    _same(first.coded, _full(world, tables, db, "a.npz"))
    index, source = open_sqlite_index(f"sqlite:///{db}", tables) or (None, None)  # writes the index file
    assert index is not None and source is not None and len(index) == 3
    saved = _fast(db, tables)  # nothing changed: the index saved in the file, not rebuilt
    assert saved is not None and saved.index is not None and not saved.save
    _same_index(saved.index, build_index(_full(world, tables, db, "b.npz"), tables.release))
    _same_index(saved.index, index)
    dins = ["G123498000001", "G123498000003", "G123498999999"]
    assert source.records(dins) == StoreSource(world.svc.store).records(dins)
    # a few changes (reserved, retyped): read and merged, as the full path does
    reservations = getattr(world.svc, "reservations", world.svc)
    reservations.reserve(world.coord, "G123498000002", "p1")
    units = getattr(world.svc, "units", world.svc)
    units.record_typing(world.tech, "G123498000001", "A*01:01+A*02:05^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01")
    fast = _fast(db, tables)
    assert fast is not None and fast.coded is not None and not fast.save
    assert [d.decode() for d in fast.coded.din] == ["G123498000001", "G123498000003"]
    _same(fast.coded, _full(world, tables, db, "c.npz"))


def test_fast_path_reads_again_or_steps_aside(
    world: World, db: Path, tables: NomenclatureTables, tmp_path: Path
) -> None:
    from sqlalchemy import text

    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    assert open_sqlite_index(str(db), tables) is not None
    with world.svc.store.transaction() as s:  # a write the log did not see (fingerprint moved)
        s.execute(text("DROP TRIGGER search_log_units_update"))
        s.execute(text("UPDATE units SET state = 'reserved', version = version + 1 WHERE din = 'G123498000001'"))
    found = _fast(db, tables)  # read everything again
    assert found is not None and found.save and found.coded is not None
    assert [d.decode() for d in found.coded.din] == ["G123498000002"]
    _same(found.coded, _full(world, tables, db, "d.npz"))
    with world.svc.store.transaction() as s:  # not at the head revision: the full open (migrations) decides
        head = s.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        s.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    assert open_sqlite_index(str(db), tables) is None
    with world.svc.store.transaction() as s:
        s.execute(text("UPDATE alembic_version SET version_num = :h"), {"h": head})
    assert open_sqlite_index(str(tmp_path / "missing.sqlite3"), tables) is None
    assert open_sqlite_index("postgresql://nowhere/db", tables) is None


def test_a_current_sqlite_search_imports_no_sqlalchemy(world: World, db: Path, tables: NomenclatureTables) -> None:
    to_available(world, "G123498000001", "1")
    open_store_index(world.svc.store, tables)
    code = (
        "import sys; from cordmatch.imgt import default_nomenclature; "
        "from cordmatch.services.registry import open_registry; "
        f"index, source = open_registry({str(db)!r}, default_nomenclature()); "
        "assert len(index) == 1 and source.records(['G123498000001']); "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def _shown(outcome: Any) -> list[tuple[Any, ...]]:
    return [(r.unit.unit_id, r.grade, r.checks, r.graded_by) for r in outcome.results]


def test_the_saved_index_searches_like_a_built_one(tmp_path: Path, tables: NomenclatureTables) -> None:
    from cordmatch.selection.search import search
    from cordmatch.services.registry import write_registry
    from cordmatch.services.search import SearchRequest, build_patient
    from cordmatch.sim.patients import generate_patients
    from cordmatch.sim.registry import generate_registry
    from cordmatch.store import open_store

    db = tmp_path / "sim.sqlite3"
    write_registry(str(db), generate_registry(600, 5, "mix", tables), tables.release)
    store = open_store(str(db))
    try:
        built, source = open_store_index(store, tables)
    finally:
        store.close()
    found = _fast(db, tables)
    assert found is not None and found.index is not None
    saved = found.index
    _same_index(saved, built)
    ranked = 0
    donors = next(iter(generate_registry(8, 5, "mix", tables))).hla  # patients typed like units of the bank
    for p, gl in zip(generate_patients(8, 8, "mix", tables), donors, strict=True):
        req = SearchRequest(target="", patient_gl=gl, weight_kg=20.0, antibodies_text=p.antibody_text(),
                            malignant=p.malignant, abo=p.abo)  # fmt: skip
        patient, _ = build_patient(req, tables)
        a = search(saved, source, patient, tables, top=8)
        b = search(built, source, patient, tables, top=8)
        assert _shown(a) == _shown(b)
        assert a.counts == b.counts
        ranked += len(a.results)
    assert ranked


def test_fast_path_after_a_compaction_misses_nothing(
    world: World, db: Path, tables: NomenclatureTables, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cordmatch.services import store_log

    monkeypatch.setattr(store_log, "KEEP_CHANGES", 2)
    monkeypatch.setattr(store_log, "COMPACT_MIN", 1)
    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    assert open_sqlite_index(str(db), tables) is not None  # the index file beside the store, at this horizon
    to_available(world, "G123498000003", "3")
    getattr(world.svc, "reservations", world.svc).reserve(world.coord, "G123498000001", "p1")
    to_available(world, "G123498000004", "4")
    newer = _full(world, tables, db, "newer.npz")  # another reader writes a newer file and compacts the log
    with world.svc.store.read() as s:
        assert store_log.log_start_of(s) > 0
    found = _fast(db, tables)  # the file beside is older than the compacted log: everything read again
    assert found is not None and found.save and found.coded is not None
    assert [d.decode() for d in found.coded.din] == ["G123498000002", "G123498000003", "G123498000004"]
    _same(found.coded, newer)
