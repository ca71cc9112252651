"""The on-disk cache of genotype posteriors: one Parquet file per haplotype index and population under
``<data dir>/probability/`` (columns: ``typing`` canonical GL, ``p`` probability, ``c0..c9`` allele codes,
``ok``, ``reason``). The key is (index checksum, population, canonical GL), the value the rows of one
genotype posterior.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from cordmatch.paths import data_dir
from cordmatch.probability.imputation import population_label
from cordmatch.probability.index import HaplotypeIndex

Population = str | Mapping[str, float]


def cache_path(index: HaplotypeIndex, population: Population, base: str | os.PathLike[str] | None = None) -> Path:
    """The cache file of ``index`` and ``population`` under the data directory ``base``."""
    label = population_label(population).replace(":", "-").replace(",", "_")
    return data_dir(base) / "probability" / f"posteriors-{index.checksum or 'custom'}-{label}.parquet"


def load_posteriors(path: Path, loci: int) -> dict[str, tuple[np.ndarray, np.ndarray, str | None]]:
    """Canonical GL -> (genotype codes (G, loci, 2), probabilities, reason when no estimate); empty when the
    file is missing or unreadable (the cache is only a speed-up)."""
    if not path.exists():
        return {}
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError):
        return {}
    cols = table.to_pydict()
    out: dict[str, tuple[np.ndarray, np.ndarray, str | None]] = {}
    if not cols.get("typing"):
        return out
    typ = np.array(cols["typing"], dtype=object)
    codes = np.stack([np.asarray(cols[f"c{i}"], dtype=np.int32) for i in range(2 * loci)], axis=1)
    p = np.asarray(cols["p"], dtype=np.float64)
    ok = np.asarray(cols["ok"], dtype=bool)
    reason = cols["reason"]
    order = np.argsort(typ, kind="stable")
    typ_sorted = typ[order]
    bounds = np.flatnonzero(np.r_[True, typ_sorted[1:] != typ_sorted[:-1], True])
    for a, b in itertools.pairwise(bounds):
        rows = order[a:b]
        key = str(typ_sorted[a])
        if not ok[rows[0]]:
            out[key] = (np.zeros((0, loci, 2), np.int32), np.zeros(0), reason[rows[0]] or "no estimate")
        else:
            out[key] = (codes[rows].reshape(-1, loci, 2), p[rows], None)
    return out


def save_posteriors(path: Path, entries: Mapping[str, tuple[np.ndarray, np.ndarray, str | None]], loci: int) -> None:
    """Write ``entries`` (as :func:`load_posteriors` returns them) to ``path``, never half-written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    typ: list[str] = []
    code_rows: list[np.ndarray] = []
    probs: list[np.ndarray] = []
    ok: list[bool] = []
    reasons: list[str | None] = []
    for key, (codes, p, reason) in entries.items():
        if reason is not None or p.size == 0:
            typ.append(key)
            code_rows.append(np.full((1, 2 * loci), -1, np.int32))
            probs.append(np.zeros(1))
            ok.append(False)
            reasons.append(reason or "no estimate")
            continue
        typ.extend([key] * p.size)
        code_rows.append(codes.reshape(p.size, -1))
        probs.append(p)
        ok.extend([True] * p.size)
        reasons.extend([None] * p.size)
    all_codes = np.concatenate(code_rows) if code_rows else np.zeros((0, 2 * loci), np.int32)
    data = {"typing": typ, "p": np.concatenate(probs) if probs else np.zeros(0), "ok": ok, "reason": reasons}
    for i in range(2 * loci):
        data[f"c{i}"] = all_codes[:, i]  # type: ignore[assignment]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.parquet")
    pq.write_table(pa.table(data), tmp)
    os.replace(tmp, path)  # never half-written
