"""Haplotype frequencies for the simulator: the shipped NMDP 2007 sets, names mapped to the current release.

The haplotypes come from the probability package's index of the same sets
(:func:`cordmatch.io.frequency_sets.default_index`: names mapped to the current release, haplotypes that
map to the same codes collapsed). The fallback (used when that index is of another release) reads
``cordmatch/data/haplotype-frequencies-nmdp-2007/HEGL_<POP>.csv`` (Maiers, Gragert & Klitz 2007,
IMGT/HLA 2.16.0 names within g groups, the ``g`` suffix stripped), maps each two-field name to the release
in use (a name kept when the current release knows it and all its expressed alleles share one antigen and
one P group), and drops haplotypes with an unknown or null allele, renormalising the frequencies.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.paths import package_data
from cordmatch.probability.populations import MIX_WEIGHTS, POPULATIONS, check_population

__all__ = ["MIX_WEIGHTS", "POPULATIONS", "SIM_LOCI", "HaplotypeSet", "check_population", "load_haplotypes"]

#: Loci of a simulated unit, in the index's order.
SIM_LOCI = ("A", "B", "C", "DRB1")


@dataclass(frozen=True)
class HaplotypeSet:
    """Haplotypes of one population as current-release names per locus (SIM_LOCI order), with codes."""

    population: str
    names: list[tuple[str, str, str, str]]
    freqs: npt.NDArray[np.float64]
    ag: npt.NDArray[np.int16]  # (H, 4) antigen ids
    al: npt.NDArray[np.int16]  # (H, 4) lgx ids
    dropped: int
    dropped_freq: float


def _code(name: str, tables: NomenclatureTables) -> tuple[int, int] | None:
    if tables.name_id(name) is None:
        return None
    expressed = [a for a in tables.member_ids(name) if not tables.allele_null[a]]
    ags = {int(tables.allele_serology[a]) for a in expressed}  # WHO serologic antigen (grading's antigen id)
    lgx = {int(tables.allele_lgx[a]) for a in expressed}
    if len(ags) != 1 or len(lgx) != 1:
        return None
    return ags.pop(), lgx.pop()


@lru_cache(maxsize=8)
def load_haplotypes(population: str, tables: NomenclatureTables) -> HaplotypeSet:
    """The population's haplotypes mapped to ``tables``' release (see module doc)."""
    pop = check_population(population)
    if pop == "MIX":
        raise InvalidInputError("load one population at a time", where="population")
    from cordmatch.io.frequency_sets import default_index

    index = default_index(tables)
    if index.release != tables.release:
        return _from_csv(pop, tables)
    return _from_index(pop, index, tables)


def _from_index(pop: str, index: Any, tables: NomenclatureTables) -> HaplotypeSet:
    col = [p.upper() for p in index.populations].index(pop)
    cols = [index.loci.index(locus) for locus in SIM_LOCI]
    codes = index.codes[:, cols]
    freqs = index.frequencies[:, col]
    keep = (freqs > 0) & ((codes & 1) == 0).all(axis=1)
    dropped_freq = float(freqs[~keep].sum())
    names: list[tuple[str, str, str, str]] = []
    fs: list[float] = []
    ags: list[list[int]] = []
    als: list[list[int]] = []
    coded_names: dict[str, tuple[int, int] | None] = {}
    dropped = int(((freqs > 0) & ~keep).sum())
    for row in np.flatnonzero(keep):
        hap = tuple(tables.lgx_names[int(c) >> 1] for c in codes[row])
        coded = []
        for name in hap:
            if name not in coded_names:
                coded_names[name] = _code(name, tables)
            coded.append(coded_names[name])
        if any(c is None for c in coded):
            dropped += 1
            dropped_freq += float(freqs[row])
            continue
        names.append(hap)  # type: ignore[arg-type]
        fs.append(float(freqs[row]))
        ags.append([c[0] for c in coded if c is not None])
        als.append([c[1] for c in coded if c is not None])
    f = np.array(fs, dtype=np.float64)
    f /= f.sum()
    return HaplotypeSet(
        pop, names, f, np.array(ags, dtype=np.int16), np.array(als, dtype=np.int16), dropped, dropped_freq
    )


def _from_csv(pop: str, tables: NomenclatureTables) -> HaplotypeSet:
    path = package_data("haplotype-frequencies-nmdp-2007", f"HEGL_{pop}.csv")
    names: list[tuple[str, str, str, str]] = []
    freqs: list[float] = []
    ags: list[list[int]] = []
    als: list[list[int]] = []
    dropped, dropped_freq = 0, 0.0
    codes: dict[str, tuple[int, int] | None] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            parts = {n.split("*")[0]: n.rstrip("g") for n in row["Haplo"].split("~")}
            freq = float(row["Freq"])
            hap = tuple(parts[locus] for locus in SIM_LOCI)
            coded = []
            for name in hap:
                if name not in codes:
                    codes[name] = _code(name, tables)
                coded.append(codes[name])
            if any(c is None for c in coded):
                dropped += 1
                dropped_freq += freq
                continue
            names.append(hap)  # type: ignore[arg-type]
            freqs.append(freq)
            ags.append([c[0] for c in coded if c is not None])
            als.append([c[1] for c in coded if c is not None])
    f = np.array(freqs, dtype=np.float64)
    f /= f.sum()
    return HaplotypeSet(
        pop, names, f, np.array(ags, dtype=np.int16), np.array(als, dtype=np.int16), dropped, dropped_freq
    )
