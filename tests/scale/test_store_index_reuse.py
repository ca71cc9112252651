"""The search index saved in a store's index file is loaded, not built, when the store did not change since
it was written (also when PostgreSQL's horizon moved on); any change to a listed unit builds it again, and
the next search sees that change (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.imgt import default_nomenclature
from cordmatch.selection.index import UnitIndex, index_state
from cordmatch.services import store_index, store_log
from cordmatch.services.bank_search import BankSearch
from cordmatch.services.store_index import build_index, coded_units, open_store_index
from services.conftest import World, good_registration, to_available

DINS = ("G123498000001", "G123498000002", "G123498000003")


@pytest.fixture
def tables() -> NomenclatureTables:
    return default_nomenclature()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the search indexes built from codes (a loaded one is not counted)."""
    calls: list[int] = []
    real = store_index.build_index

    def counted(coded: store_index.CodedUnits, release: str) -> UnitIndex:
        calls.append(len(coded))
        return real(coded, release)

    monkeypatch.setattr(store_index, "build_index", counted)
    return calls


def _open(world: World, tables: NomenclatureTables, path: Path, *, memo: bool = False) -> UnitIndex:
    """What a search opens (``memo``: in this process again; else as a new process, from the file)."""
    if not memo:
        store_index._memo.clear()
    index, _ = open_store_index(world.svc.store, tables, path=path)
    return index


def _current(index: UnitIndex, world: World, tables: NomenclatureTables, tmp_path: Path) -> list[str]:
    """Asserts ``index`` equals the index built from a fresh read of the store (no file, no process copy,
    no compaction); its DINs."""
    with world.svc.store.read() as s:
        key = store_index.index_key(store_index.store_id(s), tables)
        fresh = build_index(store_index._read(s, tables, key, None), tables.release)
    got, want = index_state(index), index_state(fresh)
    assert got is not None and want is not None and got.keys() == want.keys()
    for name in got:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    return [d.decode() for d in index.ids[: len(index)]]


def _other_transactions(world: World) -> None:
    """Transactions that move PostgreSQL's horizon without touching a unit (SQLite: nothing to move)."""
    if world.svc.store.dialect == "postgresql":
        for _ in range(3):
            with world.svc.store.engine.begin() as conn:
                conn.execute(text("SELECT pg_current_xact_id()"))


def _file_horizon(path: Path) -> int:
    """The change-log horizon the index file at ``path`` was written at."""
    with np.load(path, allow_pickle=False) as z:
        return int(str(z["meta"][1]))


def _three(world: World) -> None:
    for i, din in enumerate(DINS, start=1):
        to_available(world, din, str(i))


def test_an_unchanged_store_loads_the_saved_index(
    world: World, tables: NomenclatureTables, tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bank.cmindex.npz"
    _three(world)
    first = _open(world, tables, path)
    assert builds == [3]  # built once, for the file and the search
    _other_transactions(world)
    real = store_index._horizon  # however far other transactions moved it (another database's may hold it)
    monkeypatch.setattr(store_index, "_horizon", lambda s, dialect: real(s, dialect) + 1000)
    again = _open(world, tables, path)  # a new process: the file's codes, current, with their index
    assert builds == [3]
    assert _current(again, world, tables, tmp_path) == list(DINS)
    builds.clear()
    assert _open(world, tables, path, memo=True) is not first  # this process again: loaded again, not built
    assert builds == []
    # a server's first search, on the store's own index file (the same file copied there): its index too
    own = store_index.index_path(world.svc.store)
    own.parent.mkdir(parents=True, exist_ok=True)
    own.write_bytes(path.read_bytes())
    store_index._memo.clear()
    index, _ = BankSearch(world.svc.store, tables).index()
    assert builds == [] and _current(index, world, tables, tmp_path) == list(DINS)


def _register(w: World) -> None:
    to_available(w, "G123498000004", "4")


def _reserve(w: World) -> None:
    w.svc.reservations.reserve(w.coord, DINS[1], "p1")


def _cancel(w: World) -> None:
    res = w.svc.reservations.reserve(w.coord, DINS[1], "p1")
    w.svc.reservations.cancel_reservation(w.coord, res.id, "patient transplanted elsewhere")


def _quarantine(w: World) -> None:  # the corrected count fails the release check
    w.svc.units.correct_measurement(w.tech, DINS[1], "pre_cryo", {"tnc": 1.0e8}, reason="recount")


def _discard(w: World) -> None:
    w.svc.units.discard(w.tech, DINS[1], "bag broken")


def _correct(w: World) -> None:
    w.svc.units.correct_measurement(w.tech, DINS[1], "pre_cryo", {"tnc": 1.9e9}, reason="transcription error")


def _retype(w: World) -> None:
    w.svc.units.record_typing(w.tech, DINS[1], "A*01:01+A*02:05^B*07:02+B*08:01^DRB1*15:01+DRB1*03:01")


def _nima(w: World) -> None:
    w.svc.units.set_nima(w.tech, DINS[1], "A*24:02^B*35:01")


#: change -> (what does it, the units listed after it)
CHANGES: dict[str, tuple[Callable[[World], None], list[str]]] = {
    "registered": (_register, [*DINS, "G123498000004"]),
    "reserved": (_reserve, [DINS[0], DINS[2]]),
    "released again": (_cancel, list(DINS)),
    "quarantined": (_quarantine, [DINS[0], DINS[2]]),
    "discarded": (_discard, [DINS[0], DINS[2]]),
    "counts corrected": (_correct, list(DINS)),
    "retyped": (_retype, list(DINS)),
    "given a NIMA": (_nima, list(DINS)),
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("memo", [False, True], ids=["new process", "same process"])
def test_every_change_builds_the_index_again(
    world: World, tables: NomenclatureTables, tmp_path: Path, builds: list[int], change: str, memo: bool
) -> None:
    path = tmp_path / "bank.cmindex.npz"
    _three(world)
    before = _open(world, tables, path)
    assert builds == [3]
    do, listed = CHANGES[change]
    do(world)
    _other_transactions(world)
    after = _open(world, tables, path, memo=memo)
    assert len(builds) == 2  # built again from the changed codes, never the saved index
    assert _current(after, world, tables, tmp_path) == listed
    if change in ("counts corrected", "retyped", "given a NIMA"):  # same DINs, other arrays
        assert not all(np.array_equal(a, b) for a, b in zip(_arrays(before), _arrays(after), strict=True))


def _arrays(index: UnitIndex) -> list[np.ndarray]:
    state = index_state(index)
    assert state is not None
    return [state[k] for k in ("gid", "tnc", "nima_slots", "nima_ids")]


def test_a_change_in_flight_when_the_file_was_written_is_seen_once_committed(
    world: World, tables: NomenclatureTables, tmp_path: Path, builds: list[int]
) -> None:
    path = tmp_path / "bank.cmindex.npz"
    _three(world)
    slow = world.svc.store.engine.connect()
    try:
        tx = slow.begin()
        slow.execute(text("UPDATE units SET state = 'reserved', version = version + 1 WHERE din = :d"),
                     {"d": DINS[0]})  # fmt: skip
        assert _current(_open(world, tables, path), world, tables, tmp_path) == list(DINS)  # not committed yet
        assert _current(_open(world, tables, path), world, tables, tmp_path) == list(DINS)
        assert len(builds) == 1  # nothing committed since the file: its index
        tx.commit()
    finally:
        slow.close()
    assert _current(_open(world, tables, path), world, tables, tmp_path) == [DINS[1], DINS[2]]
    assert len(builds) == 2


def test_a_compacted_log_builds_the_index_again(
    world: World, tables: NomenclatureTables, tmp_path: Path, builds: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An old file whose later changes (a reservation) were compacted away: its index is not used."""
    monkeypatch.setattr(store_log, "KEEP_CHANGES", 1)
    monkeypatch.setattr(store_log, "COMPACT_MIN", 1)
    old, new = tmp_path / "old.npz", tmp_path / "new.npz"
    _three(world)
    assert _current(_open(world, tables, old), world, tables, tmp_path) == list(DINS)
    world.svc.reservations.reserve(world.coord, DINS[0], "p1")
    world.svc.units.register_unit(world.tech, good_registration("G123498000009", slot="9"))  # not listed: kept
    assert _current(_open(world, tables, new), world, tables, tmp_path) == [DINS[1], DINS[2]]  # compacts
    with world.svc.store.read() as s:
        assert store_log.log_start_of(s) > _file_horizon(old)
    builds.clear()
    assert _current(_open(world, tables, old), world, tables, tmp_path) == [DINS[1], DINS[2]]
    assert builds == [2]  # read in full and built, not the old file's index
    builds.clear()
    assert _current(_open(world, tables, old), world, tables, tmp_path) == [DINS[1], DINS[2]]
    assert builds == []  # rewritten with the current codes: its index again


def test_a_file_rewritten_since_is_not_mixed_in(
    world: World, tables: NomenclatureTables, tmp_path: Path, builds: list[int]
) -> None:
    """Codes kept in this process and the file rewritten by another process: the file's index is not
    taken for these codes (another write), the index is built from them."""
    path = tmp_path / "bank.cmindex.npz"
    _three(world)
    _open(world, tables, path)
    coded = coded_units(world.svc.store, tables, path=path)
    assert coded.file_build
    other = store_index.CodedUnits(**{**coded.__dict__, "file_build": ""})
    store_index.save(other, path, build_index(other, tables.release))  # another process's write
    builds.clear()
    assert store_index.saved_index(path, coded, tables.release) is None
    assert _current(store_index.index_of(coded, tables.release, path), world, tables, tmp_path) == list(DINS)
    assert builds == [3] and coded.file_build == ""
