"""The SQLite fast path of the store index: the same units and records as the full open, without SQLAlchemy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.imgt import default_nomenclature
from cordmatch.services import store_index
from cordmatch.services.store_index import StoreSource, coded_units, open_store_index
from cordmatch.services.store_index_sqlite import _connect, _current, open_sqlite_index
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


def _fast(db: Path, tables: NomenclatureTables) -> store_index.CodedUnits | None:
    conn = _connect(db)
    try:
        conn.execute("BEGIN")
        return _current(conn, db, tables)
    finally:
        conn.close()


def test_fast_path_gives_what_the_full_open_gives(world: World, db: Path, tables: NomenclatureTables) -> None:
    for i in (1, 2, 3):
        to_available(world, f"G12349800000{i}", str(i))
    assert open_sqlite_index(str(db), tables) is None  # no index file yet: the full open writes it
    open_store_index(world.svc.store, tables)
    fast = _fast(db, tables)
    assert fast is not None
    store_index._memo.clear()
    _same(fast, coded_units(world.svc.store, tables))
    index, source = open_sqlite_index(f"sqlite:///{db}", tables) or (None, None)
    assert index is not None and source is not None and len(index) == 3
    dins = ["G123498000001", "G123498000003", "G123498999999"]
    assert source.records(dins) == StoreSource(world.svc.store).records(dins)
    # a few changes (reserved, retyped): read and merged, as the full path does
    reservations = getattr(world.svc, "reservations", world.svc)
    reservations.reserve(world.coord, "G123498000002", "p1")
    units = getattr(world.svc, "units", world.svc)
    units.record_typing(world.tech, "G123498000001", "A*01:01+A*02:05^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01")
    fast = _fast(db, tables)
    assert fast is not None and [d.decode() for d in fast.din] == ["G123498000001", "G123498000003"]
    store_index._memo.clear()
    _same(fast, coded_units(world.svc.store, tables, path=db.with_name("fresh.npz")))


def test_fast_path_steps_aside(world: World, db: Path, tables: NomenclatureTables, tmp_path: Path) -> None:
    to_available(world, "G123498000001", "1")
    open_store_index(world.svc.store, tables)
    assert _fast(db, tables) is not None
    with world.svc.store.transaction() as s:  # a write the log did not see (fingerprint moved)
        from sqlalchemy import text

        s.execute(text("DROP TRIGGER search_log_units_update"))
        s.execute(text("UPDATE units SET version = version + 1"))
    assert _fast(db, tables) is None
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
