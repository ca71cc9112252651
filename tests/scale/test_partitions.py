"""A partitioned registry keeps its coded typing columns usable: readers take them instead of recoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cordmatch.imgt import default_nomenclature
from cordmatch.io.parquet_registry import CODING, CODING_KEY
from cordmatch.io.partitions import read_table, write_partitions
from cordmatch.selection.index import index_state
from cordmatch.services.registry import index_from_table
from cordmatch.sim.registry import generate_registry


def test_partitions_carry_the_coding_and_read_like_a_recode(tmp_path: Path) -> None:
    tables = default_nomenclature()
    reg = tmp_path / "reg"
    write_partitions(reg, generate_registry(600, 5, "mix", tables), tables.release, 600, 3)
    table = read_table(reg)
    assert (table.schema.metadata or {}).get(CODING_KEY) == CODING
    coded, _ = index_from_table(table, tables)
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != CODING_KEY}
    recoded, _ = index_from_table(table.replace_schema_metadata(meta), tables)
    a, b = index_state(coded), index_state(recoded)
    assert a is not None and b is not None
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name], equal_nan=a[name].dtype.kind == "f"), name
