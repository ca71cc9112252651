"""Bank planning from per-patient coverage: under-served haplotypes and the recruitment value of candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class HaplotypeTable:
    """Haplotypes of one population: names (``A*..~B*..~C*..~DRB1*..``) and frequencies."""

    population: str
    names: Sequence[str]
    freqs: npt.NDArray[np.float64]


def under_served(
    served: npt.NDArray[np.bool_],
    haplotypes: npt.NDArray[np.int64],
    population: Sequence[str],
    tables: dict[str, HaplotypeTable],
    top: int = 20,
) -> list[dict[str, Any]]:
    """Patient haplotypes most often carried by patients left without a unit (``served`` False), per
    population: how many unserved patients carry each, how many carry it at all, and its frequency.
    A homozygous patient counts once per haplotype."""
    rows: list[dict[str, Any]] = []
    pops = np.asarray(population)
    for pop in sorted(set(population)):
        sel = np.flatnonzero(pops == pop)
        if pop not in tables or len(sel) == 0:
            continue
        table = tables[pop]
        h = haplotypes[sel]
        carriers = _carriers(h, len(table.names))
        unserved = _carriers(h[~served[sel]], len(table.names))
        for hid in np.flatnonzero(unserved):
            rows.append(
                {
                    "population": pop,
                    "haplotype": table.names[int(hid)],
                    "frequency": float(table.freqs[int(hid)]),
                    "patients_unserved": int(unserved[hid]),
                    "patients_carrying": int(carriers[hid]),
                    "share_unserved": round(float(unserved[hid] / carriers[hid]), 4),
                }
            )
    rows.sort(key=lambda r: (-r["patients_unserved"], -r["frequency"], r["population"], r["haplotype"]))
    return rows[:top]


def _carriers(h: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.int64]:
    """Patients carrying each haplotype (once per patient)."""
    if len(h) == 0:
        return np.zeros(n, dtype=np.int64)
    second = np.where(h[:, 1] != h[:, 0], h[:, 1], -1)
    both = np.concatenate([h[:, 0], second[second >= 0]])
    return np.bincount(both, minlength=n).astype(np.int64)


def recruitment_value(
    newly: npt.NDArray[np.bool_], population: Sequence[str], candidate_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Candidates ranked by the simulated patients they would newly serve. ``newly`` (P, K): patient p, not
    served by the registry, would be served by candidate k. Ties keep the candidates' file order."""
    pops = np.asarray(population)
    names = sorted(set(population))
    per_pop = {p: newly[pops == p].sum(axis=0) for p in names}
    total = newly.sum(axis=0)
    order = np.argsort(-total, kind="stable")
    return [
        {
            "rank": r + 1,
            "unit_id": candidate_ids[int(k)],
            "newly_served": int(total[k]),
            "by_population": {p: int(per_pop[p][k]) for p in names},
        }
        for r, k in enumerate(order)
    ]
