"""The nomenclature cache: the table format and build revision are in the file name; stale files are not read."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cordmatch.hla.tables import TABLES_FORMAT, NomenclatureTables
from cordmatch.imgt.build import BUILD_REVISION
from cordmatch.imgt.cache import cache_file


def test_cache_file_names_the_format(tmp_path: Path) -> None:
    assert TABLES_FORMAT == 3
    assert BUILD_REVISION == 3
    assert cache_file(tmp_path).name == "tables-v3r3.npz"


def test_tables_round_trip_and_refuse_other_formats(tables) -> None:  # type: ignore[no-untyped-def]
    arrays = tables.to_arrays()
    again = NomenclatureTables.from_arrays(arrays)
    assert again.serology_names == tables.serology_names
    assert np.array_equal(again.serology_relation, tables.serology_relation)
    assert again.expand("DRB4*01:03N") == tables.expand("DRB4*01:03N")
    meta = arrays["meta"].tobytes().decode().split("\n")
    stale = dict(arrays, meta=np.frombuffer(f"{meta[0]}\n2".encode(), dtype=np.uint8).copy())
    try:
        NomenclatureTables.from_arrays(stale)
    except ValueError as exc:
        assert "format 2" in str(exc)
    else:
        raise AssertionError("a format-2 cache must not be read")
