"""py-ard's database: published whole, never opened in place, its failures never turned into empty answers."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from cordmatch.errors import ReferenceDataError
from cordmatch.imgt.build import KNOWN_ANSWERS, check_known_answers
from cordmatch.imgt.cache import cache_dir
from cordmatch.imgt.pyard_db import db_is_complete, init_pyard, publish_db, redux, shared_db
from cordmatch.imgt.release import RELEASE


@pytest.fixture(scope="module")
def work(tables) -> Path:  # type: ignore[no-untyped-def]  # tables: the release's database is built
    return cache_dir(release=RELEASE)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_published_database_is_complete_and_an_emptied_copy_is_not(work: Path, tmp_path: Path) -> None:
    assert db_is_complete(shared_db(work))
    assert not db_is_complete(tmp_path / "missing.sqlite3")
    damaged = tmp_path / "damaged.sqlite3"
    shutil.copyfile(shared_db(work), damaged)
    with sqlite3.connect(damaged) as con:  # what an interrupted py-ard start leaves: the table, no rows
        con.execute("delete from serology_mapping")
    assert not db_is_complete(damaged)


def test_starting_pyard_leaves_the_shared_database_untouched(work: Path) -> None:
    # py-ard re-creates serology_mapping on every start for releases before 3.64.0; it must do so on a copy
    before = _digest(shared_db(work))
    ard = init_pyard(work, RELEASE)
    assert _digest(shared_db(work)) == before
    assert publish_db(work, RELEASE) == shared_db(work)  # complete: not rebuilt
    assert redux(ard, "A*01:01:01:01", "S") == "A1"
    assert redux(ard, "B*07:02:01:01", "S") == "B7"


class _Broken:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def redux(self, name: str, level: str) -> str:
        raise self.exc


def test_only_pyards_own_refusals_become_no_answer() -> None:
    from pyard.exceptions import InvalidAlleleError

    assert redux(_Broken(InvalidAlleleError("C*02:10:01G is not a valid Allele")), "C*02:10:01G", "G") is None
    with pytest.raises(sqlite3.OperationalError):
        redux(_Broken(sqlite3.OperationalError("no such table: serology_mapping")), "A*01:01:01:01", "S")


def _coded(answers: dict[tuple[str, str], str]) -> tuple[list[str], dict[str, np.ndarray], dict[str, dict[str, int]]]:
    names = sorted({n for n, _ in answers})
    levels = {lv for _, lv in answers}
    texts: dict[str, dict[str, int]] = {lv: {} for lv in levels}
    results = {lv: np.full(len(names), -1, dtype=np.int32) for lv in levels}
    for (name, lv), text in answers.items():
        results[lv][names.index(name)] = texts[lv].setdefault(text, len(texts[lv]))
    return names, results, texts


def test_a_build_with_a_wrong_known_answer_is_refused() -> None:
    right = {(n, lv): want for n, lv, want in KNOWN_ANSWERS}
    check_known_answers(*_coded(right))
    wrong = {**right, ("A*01:01:01:01", "S"): ""}  # the empty serology answer of a damaged database
    with pytest.raises(ReferenceDataError, match=r"A\*01:01:01:01 at level S as ''"):
        check_known_answers(*_coded(wrong))
