"""Registries for search and the simulator: where units are written and read.

TARGET is a Parquet file (``*.parquet``, :mod:`cordmatch.io.parquet_registry`), a directory of Parquet
partitions (:mod:`cordmatch.io.partitions`) or a database (SQLite file or SQLAlchemy URL) through the bank
store (:mod:`cordmatch.services.registry_store`: bulk insert, and the persistent search index of its
available units). :func:`open_registry` is the one way a search opens a TARGET.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.io.parquet_registry import RegistryChunk, index_from_table, is_parquet, read_registry
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.source import UnitSource

__all__ = ["export_store", "index_from_table", "is_database", "is_parquet", "open_registry", "write_registry"]


def is_database(target: str) -> bool:
    """True for a bank store target: a SQLAlchemy URL or a file that is neither Parquet nor a directory."""
    return "://" in target or not (is_parquet(target) or Path(target).is_dir())


def write_registry(
    target: str, chunks: Iterable[RegistryChunk], release: str, *, units: int = 0, partitions: int = 0
) -> int:
    """Write units to TARGET; returns the number of units written. ``partitions`` > 0: TARGET is a
    directory of that many Parquet partitions (``units``: how many the chunks hold)."""
    if partitions > 0:
        from cordmatch.io.partitions import write_partitions

        return write_partitions(target, chunks, release, units, partitions)
    if is_parquet(target):
        from cordmatch.io.parquet_registry import write_parquet

        return write_parquet(Path(target), chunks, release)
    from cordmatch.services.registry_store import write_store

    return write_store(target, chunks, release)


def open_registry(target: str, tables: NomenclatureTables) -> tuple[UnitIndex, UnitSource]:
    """Load TARGET and build its search index (from the coded columns when they match the release)."""
    from cordmatch.io.partitions import is_partitioned, read_table

    if is_partitioned(target):
        try:
            table = read_table(target)
        except InvalidInputError:
            raise
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise InvalidInputError(f"cannot read registry {target}: {exc}", where=target) from None
        return index_from_table(table, tables)
    if is_parquet(target):
        return read_registry(target, tables)
    if Path(target).is_dir():
        raise InvalidInputError(f"{target} is a directory but not a partitioned registry", where=target)
    from cordmatch.services.store_index import open_target_index

    return open_target_index(target, tables)


def chunk_from_records(
    records: list[UnitRecord], tables: NomenclatureTables, part_cache: dict[str, Any]
) -> RegistryChunk:
    """A registry chunk (record fields and coded typing) of search records, e.g. a bank's listed units."""
    from cordmatch.selection.records import columns_from_records

    cols, _ = columns_from_records(records, tables, part_cache)
    cols.unit_id = [r.unit_id for r in records]
    return RegistryChunk(
        cols=cols,
        hla=[r.hla for r in records],
        volume_ml=np.array([np.nan if r.volume_ml is None else r.volume_ml for r in records], dtype=np.float32),
        abo=[r.abo for r in records],  # type: ignore[misc]  # None: not recorded (a null in Parquet)
        rh=[r.rh for r in records],  # type: ignore[misc]
        bank=[r.bank for r in records],
        accredited=np.array([r.accredited for r in records], dtype=np.bool_),
        rbc_depleted=np.array([r.rbc_depleted for r in records], dtype=np.bool_),
        attached_segment=np.array([r.attached_segment for r in records], dtype=np.bool_),
        collection_date=[r.collection_date for r in records],  # type: ignore[misc]
        nima=[r.nima for r in records],
        population=[r.population for r in records],  # type: ignore[misc]
    )


def export_store(target: str, directory: str | os.PathLike[str], partitions: int, tables: NomenclatureTables) -> int:
    """Write the listed, typed units of the bank store at ``target`` (SQLite file or URL) as a partitioned
    registry under ``directory``, in unit-id order. Returns the units written."""
    from cordmatch.io.partitions import partition_sizes, write_partitions
    from cordmatch.services.bank_index import iter_search_records
    from cordmatch.store.engine import open_store

    partition_sizes(0, partitions)  # check the count before reading anything
    store = open_store(target, create=False)  # a typo is an error, never a new empty database
    chunks: list[RegistryChunk] = []
    cache: dict[str, Any] = {}
    try:
        with store.read() as s:
            for rows in iter_search_records(s):
                if rows:
                    chunks.append(chunk_from_records([r for _, r in rows], tables, cache))
    finally:
        store.close()
    n = sum(len(c.cols) for c in chunks)
    return write_partitions(directory, chunks, tables.release, n, partitions)
