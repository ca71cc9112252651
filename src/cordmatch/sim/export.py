"""Parquet export of generated units (pyarrow): one row per unit, record fields plus the coded typing.

The coded columns (``hla_antigen``, ``hla_allele``: 8 int16 per unit, loci A, B, C, DRB1 x 2 positions;
``hla_exact``) let a reader build the search index without parsing every GL string; the file metadata
records the IPD-IMGT/HLA release they were coded with (a reader recodes when it differs).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cordmatch.hla.tables import TABLES_FORMAT
from cordmatch.sim.registry import RegistryChunk

RELEASE_KEY = b"cordmatch.release"
FORMAT_KEY = b"cordmatch.format"
FORMAT = b"registry-v1"
#: The nomenclature tables' coding the hla_antigen/hla_allele ids refer to (a reader recodes when it differs).
CODING_KEY = b"cordmatch.coding"
CODING = f"tables-v{TABLES_FORMAT}".encode()


def chunk_table(chunk: RegistryChunk) -> Any:
    """A pyarrow Table of one chunk."""
    import pyarrow as pa

    c = chunk.cols
    m = len(c)
    return pa.table(
        {
            "unit_id": pa.array(list(c.unit_id), pa.string()),
            "hla": pa.array(chunk.hla, pa.string()),
            "tnc": pa.array(c.tnc.astype(np.float64)),
            "cd34": pa.array(c.cd34.astype(np.float64), from_pandas=True),
            "volume_ml": pa.array(chunk.volume_ml.astype(np.float64), from_pandas=True),  # NaN: not recorded
            "abo": pa.array(chunk.abo, pa.string()),
            "rh": pa.array(chunk.rh, pa.string()),
            "bank": pa.array(chunk.bank, pa.string()),
            "accredited": pa.array(chunk.accredited),
            "collection_date": pa.array(chunk.collection_date, pa.date32()),
            "rbc_depleted": pa.array(chunk.rbc_depleted),
            "attached_segment": pa.array(chunk.attached_segment),
            "nima": pa.array(chunk.nima, pa.string()),
            "population": pa.array(chunk.population, pa.string()),
            "hla_antigen": pa.FixedSizeListArray.from_arrays(pa.array(c.ag.reshape(m * 8)), 8),
            "hla_allele": pa.FixedSizeListArray.from_arrays(pa.array(c.al.reshape(m * 8)), 8),
            "hla_exact": pa.array(c.exact),
            "hla_alternatives": pa.array(
                [
                    None if a is None else np.concatenate([a[0].reshape(-1, 8), a[1].reshape(-1, 8)], axis=1).ravel()
                    for a in (c.alternatives or [None] * m)
                ],
                pa.list_(pa.int16()),
            ),
        }
    )


def empty_chunk() -> RegistryChunk:
    from cordmatch.selection.index import UnitColumns

    z = np.zeros(0, dtype=np.float32)
    cols = UnitColumns(
        [],
        np.zeros((0, 4, 2), np.int16),
        np.zeros((0, 4, 2), np.int16),
        z,
        z,
        np.zeros(0, np.uint16),
        np.zeros(0, np.uint16),
        np.zeros(0, np.bool_),
    )
    b = np.zeros(0, dtype=np.bool_)
    return RegistryChunk(cols, [], z, [], [], [], b, b, b, [], [], [])


def write_parquet(path: Path, chunks: Iterable[RegistryChunk], release: str) -> int:
    """Stream chunks into one Parquet file (written to a temporary name, then renamed). Returns rows."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    writer = None
    rows = 0
    try:
        for chunk in chunks:
            table = chunk_table(chunk)
            if writer is None:
                meta = dict(table.schema.metadata or {})
                meta[RELEASE_KEY] = release.encode()
                meta[FORMAT_KEY] = FORMAT
                meta[CODING_KEY] = CODING
                writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta), compression="zstd")
            writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
            rows += table.num_rows
    except BaseException:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
        raise
    if writer is None:  # an empty registry: schema only
        table = chunk_table(empty_chunk())
        meta = {RELEASE_KEY: release.encode(), FORMAT_KEY: FORMAT, CODING_KEY: CODING}
        writer = pq.ParquetWriter(tmp, table.schema.with_metadata(meta), compression="zstd")
        writer.write_table(table.replace_schema_metadata(writer.schema.metadata))
    writer.close()
    tmp.replace(path)
    return rows
