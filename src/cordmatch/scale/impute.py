"""Imputing a whole partitioned registry on dask.distributed: one partition per task.

Each task imputes its partition's units with :func:`cordmatch.services.probability.impute_registry` (every
distinct typing once; the worker keeps the haplotype index between tasks) and, with a patient, scores every
unit. Rows come back in registry order as the CSV rows ``cordmatch impute-registry`` writes, so the answers
can be compared line by line with the single-process path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cordmatch.errors import InvalidInputError
from cordmatch.io.partitions import Partition

#: Columns of the per-unit CSV.
HEADER = ("unit_id", "genotypes", "estimate", "p_8_of_8", "p_at_least_7_of_8", "p_6_of_6", "reason")


@dataclass
class PartitionImputation:
    """The CSV rows of one partition and its counts (distinct typings, cache hits, units without estimate)."""

    rows: list[tuple[str, ...]]
    distinct_typings: int
    cache_hits: int
    problems: int


_held: dict[str, Any] = {}
_held_lock = threading.Lock()


def _haplotype_index() -> Any:
    """The default haplotype index of this worker process (built once)."""
    with _held_lock:
        if "index" not in _held:
            from cordmatch.bootstrap import worker_tables
            from cordmatch.io.frequency_sets import load_index

            _held["index"] = load_index(tables=worker_tables())
        return _held["index"]


def impute_rows(
    units: Sequence[tuple[str, str]],
    population: Any,
    patient_gl: str | None,
    *,
    use_cache: bool = False,
    index: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> PartitionImputation:
    """Impute (unit id, GL string) rows and, with ``patient_gl``, score each unit: the CSV rows."""
    from cordmatch.bootstrap import worker_tables
    from cordmatch.services.probability import impute_registry, impute_typing, score_units

    tables = worker_tables()
    idx = index if index is not None else _haplotype_index()
    result = impute_registry(units, population, tables=tables, index=idx, use_cache=use_cache, progress=progress)
    summary = None
    if patient_gl is not None:
        post = impute_typing(patient_gl, population, tables=tables, index=idx)
        if not post.ok:
            raise InvalidInputError(f"no estimate for the patient: {post.reason}", where="--patient")
        summary = score_units(post, result.packed)
    sizes = result.packed.offsets[1:] - result.packed.offsets[:-1]
    rows: list[tuple[str, ...]] = []
    for u, unit_id in enumerate(result.unit_ids):
        vals = (
            (f"{summary.p_8_of_8[u]:.6f}", f"{summary.p_at_least_7_of_8[u]:.6f}", f"{summary.p_6_of_6[u]:.6f}")
            if summary is not None and summary.ok[u]
            else ("", "", "")
        )
        ok = str(bool(result.packed.ok[u]))
        rows.append((unit_id, str(int(sizes[u])), ok, *vals, result.problems.get(unit_id, "")))
    return PartitionImputation(rows, result.distinct_typings, result.cache_hits, len(result.problems))


def impute_partition(path: str, population: Any, patient_gl: str | None, use_cache: bool) -> PartitionImputation:
    """A task: impute one partition (its unit ids and GL strings)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["unit_id", "hla"])
    units = list(zip(table.column("unit_id").to_pylist(), table.column("hla").to_pylist(), strict=True))
    return impute_rows(units, population, patient_gl, use_cache=use_cache)


def impute_distributed(
    client: Any,
    partitions: Sequence[Partition],
    population: Any,
    patient_gl: str | None = None,
    *,
    use_cache: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[PartitionImputation]:
    """Impute every partition on ``client``'s cluster (one task each); results in partition order."""
    from distributed import as_completed

    futures = [
        client.submit(impute_partition, str(p.path), population, patient_gl, use_cache, pure=False) for p in partitions
    ]
    for done, _ in enumerate(as_completed(futures), start=1):  # type: ignore[no-untyped-call]
        if progress is not None:
            progress(done, len(futures))
    return list(client.gather(futures))


def warm_workers(client: Any) -> None:
    """Load the nomenclature tables and the haplotype index on every worker of ``client``'s cluster (a worker
    loads them on its first task otherwise, which a timing would count)."""
    client.run(_load_haplotype_index)


def _load_haplotype_index() -> None:
    """Load this worker's haplotype index (returns nothing: ``client.run`` sends results back)."""
    _haplotype_index()
