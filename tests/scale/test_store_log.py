"""Compaction of the search change log: rows go, no change is ever missed (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.imgt import default_nomenclature
from cordmatch.services import store_index, store_log
from cordmatch.services.store_index import coded_units
from services.conftest import World, to_available


@pytest.fixture
def tables() -> NomenclatureTables:
    return default_nomenclature()


def _dins(world: World, tables: NomenclatureTables, path: Path, *, memo: bool = True) -> list[str]:
    if not memo:
        store_index._memo.clear()
    return [d.decode() for d in coded_units(world.svc.store, tables, path=path).din]


def _log(world: World) -> tuple[int, int]:
    """(rows in the change log, recorded log start)."""
    with world.svc.store.read() as s:
        rows = int(s.execute(text("SELECT count(*) FROM search_changes")).scalar_one())
        return rows, store_log.log_start_of(s)


def _reservations(world: World) -> object:
    return getattr(world.svc, "reservations", world.svc)  # the bank service, or its reservations part


def test_compaction_never_hides_a_change(
    world: World, tables: NomenclatureTables, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_log, "KEEP_CHANGES", 2)
    monkeypatch.setattr(store_log, "COMPACT_MIN", 1)
    old, new = tmp_path / "old.npz", tmp_path / "new.npz"
    to_available(world, "G123498000001", "1")
    to_available(world, "G123498000002", "2")
    assert _dins(world, tables, old) == ["G123498000001", "G123498000002"]
    old_horizon = store_index._memo[f"{world.svc.store.url}|{old}"].horizon
    # registered and released, reserved, registered and released: many log rows after the old file
    to_available(world, "G123498000003", "3")
    res = _reservations(world).reserve(world.coord, "G123498000001", "p1")  # type: ignore[attr-defined]
    to_available(world, "G123498000004", "4")
    rows_before, _ = _log(world)
    # a fresh reader writes a newer index file and compacts the log past the old one
    assert _dins(world, tables, new, memo=False) == ["G123498000002", "G123498000003", "G123498000004"]
    rows_after, start = _log(world)
    assert 2 <= rows_after < rows_before  # the newest rows are left (PostgreSQL: all of the newest transaction)
    if world.svc.store.dialect == "sqlite":
        assert rows_after == 2
    assert start > old_horizon  # the old index is now older than the log
    # the old index (process copy and file): read again in full, nothing missed
    assert _dins(world, tables, old) == ["G123498000002", "G123498000003", "G123498000004"]
    assert _dins(world, tables, old, memo=False) == ["G123498000002", "G123498000003", "G123498000004"]
    # a released reservation after the compaction is seen by both, incrementally
    _reservations(world).cancel_reservation(world.coord, res.id, "patient transplanted elsewhere")  # type: ignore[attr-defined]
    every = ["G123498000001", "G123498000002", "G123498000003", "G123498000004"]
    assert _dins(world, tables, old) == every
    assert _dins(world, tables, new, memo=False) == every


def test_small_logs_are_left_alone(world: World, tables: NomenclatureTables, tmp_path: Path) -> None:
    to_available(world, "G123498000001", "1")
    rows, _ = _log(world)
    assert _dins(world, tables, tmp_path / "i.npz", memo=False) == ["G123498000001"]
    assert _log(world) == (rows, 0)  # fewer rows than COMPACT_MIN: nothing deleted, nothing recorded


def test_a_busy_sqlite_store_is_not_waited_for(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = world.svc.store
    if store.dialect != "sqlite":
        pytest.skip("SQLite write lock")
    monkeypatch.setattr(store_log, "KEEP_CHANGES", 0)
    monkeypatch.setattr(store_log, "COMPACT_MIN", 1)
    to_available(world, "G123498000001", "1")
    db = Path(str(store.engine.url.database))
    with store.transaction() as s:
        s.connection()  # BEGIN IMMEDIATE: holds the write lock
        assert store_log.compact_sqlite(db, 10**9) == 0
    assert store_log.compact_sqlite(db, 10**9) > 0
