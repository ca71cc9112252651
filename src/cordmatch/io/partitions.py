"""A registry as partitioned Parquet: ``DIR/part-00000.parquet`` ... and a manifest ``DIR/registry.json``.

Each partition has the single-file layout of :mod:`cordmatch.io.parquet_registry` (record fields, coded typing, the
IPD-IMGT/HLA release in the metadata). Units are split into contiguous blocks in registry order, so reading
the partitions one after the other gives the same unit order (and the same search tie-breaks) as one file.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cordmatch.errors import InvalidInputError
from cordmatch.io.parquet_registry import (
    CODING,
    CODING_KEY,
    FORMAT,
    FORMAT_KEY,
    RELEASE_KEY,
    RegistryChunk,
    chunk_table,
    empty_chunk,
)

MANIFEST = "registry.json"
LAYOUT = "cordmatch-partitioned-registry-v1"
MAX_PARTITIONS = 10_000


@dataclass(frozen=True)
class Partition:
    """One partition: its file, its first unit's position in the registry, and its number of units."""

    path: Path
    offset: int
    units: int


def partition_sizes(n: int, partitions: int) -> list[int]:
    """Units per partition: ``n`` split into ``partitions`` contiguous blocks differing by at most one."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise InvalidInputError(
            f"--partitions must be between 1 and {MAX_PARTITIONS}, not {partitions}", where="--partitions"
        )
    base, extra = divmod(n, partitions)
    return [base + (1 if k < extra else 0) for k in range(partitions)]


def is_partitioned(target: str | os.PathLike[str]) -> bool:
    """True when ``target`` is a directory holding a partitioned registry."""
    return (Path(target) / MANIFEST).is_file()


def _split(chunks: Iterable[RegistryChunk], sizes: list[int]) -> Iterator[tuple[int, Any]]:
    """(partition number, pyarrow table) pieces of the chunks, in order."""
    part, room = 0, sizes[0] if sizes else 0
    for chunk in chunks:
        table = chunk_table(chunk)
        start = 0
        while start < table.num_rows:
            while room == 0:
                part += 1
                room = sizes[part]
            take = min(room, table.num_rows - start)
            yield part, table.slice(start, take)
            start += take
            room -= take


def write_partitions(
    directory: str | os.PathLike[str],
    chunks: Iterable[RegistryChunk],
    release: str,
    n: int,
    partitions: int,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write ``n`` units from ``chunks`` as ``partitions`` Parquet files under ``directory`` (built in a
    temporary directory beside it, then renamed: never half-written). Returns the units written."""
    import pyarrow.parquet as pq

    sizes = partition_sizes(n, partitions)
    final = Path(directory)
    if final.exists() and not is_partitioned(final) and any(final.iterdir()):
        raise InvalidInputError(
            f"{final} exists and is not a partitioned registry; choose a new directory", where=str(final)
        )
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # the coded columns were coded with this table format: readers use them instead of parsing every GL string
    meta = {RELEASE_KEY: release.encode(), FORMAT_KEY: FORMAT, CODING_KEY: CODING}
    schema = chunk_table(empty_chunk()).schema.with_metadata(meta)
    written = [0] * len(sizes)
    writers: dict[int, Any] = {}
    try:
        for part, table in _split(chunks, sizes):
            if part not in writers:
                for done in [k for k in writers if k < part]:
                    writers.pop(done).close()
                writers[part] = pq.ParquetWriter(tmp / _name(part), schema, compression="zstd")
            writers[part].write_table(table.replace_schema_metadata(schema.metadata))
            written[part] += table.num_rows
            if progress is not None:
                progress(sum(written), n)
        for w in writers.values():
            w.close()
        for k in range(len(sizes)):
            if not (tmp / _name(k)).exists():  # an empty partition: schema only
                pq.ParquetWriter(tmp / _name(k), schema, compression="zstd").close()
        if written != sizes:
            raise InvalidInputError(f"expected {n} units, got {sum(written)}", where="--units")
        entries = [{"file": _name(k), "offset": sum(sizes[:k]), "units": sizes[k]} for k in range(len(sizes))]
        manifest = {"layout": LAYOUT, "release": release, "units": n, "partitions": entries}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    except BaseException:
        for w in writers.values():
            w.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return n


def _name(k: int) -> str:
    return f"part-{k:05d}.parquet"


def read_manifest(directory: str | os.PathLike[str]) -> list[Partition]:
    """The partitions of the registry in ``directory``; InvalidInputError when it is not one."""
    root = Path(directory)
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"{root} is not a partitioned registry (no {MANIFEST})", where=str(root)) from None
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {root / MANIFEST}: {exc}", where=str(root)) from None
    if not isinstance(data, dict) or data.get("layout") != LAYOUT:
        raise InvalidInputError(f"{root / MANIFEST} is not a {LAYOUT} manifest", where=str(root))
    out = []
    for p in data["partitions"]:
        path = root / str(p["file"])
        if not path.is_file():
            raise InvalidInputError(f"partition {path} is missing", where=str(path))
        out.append(Partition(path, int(p["offset"]), int(p["units"])))
    return out


def read_table(directory: str | os.PathLike[str]) -> Any:
    """All partitions as one pyarrow Table, in registry order (metadata of the first partition)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = read_manifest(directory)
    tables = [pq.read_table(p.path) for p in parts]
    meta = tables[0].schema.metadata
    return pa.concat_tables([t.replace_schema_metadata(meta) for t in tables]).replace_schema_metadata(meta)
