"""Simulated patients for coverage: drawn from NMDP 2007 haplotype frequencies (:mod:`cordmatch.sim.patients`)
and coded for the coverage engine, each with the haplotype pair it was drawn from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cordmatch.coverage.cohort import SimulatedPatients, check_count
from cordmatch.coverage.engine import CoveragePatients
from cordmatch.coverage.planning import HaplotypeTable
from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.model import Antibody
from cordmatch.selection.settings import SelectionSettings, default_settings
from cordmatch.sim.haplotypes import HaplotypeSet, load_haplotypes
from cordmatch.sim.patients import SimPatient, generate_patients


def _antibody(spec: str, mfi: float) -> Antibody:
    # a first-field name (``B*44``) is an antigen-level specificity; the release knows it as ``B*44:XX``
    return Antibody(spec if ":" in spec or "*" not in spec else spec + ":XX", mfi)


@dataclass
class _DistinctHaplotypes:
    """Per population: id of each distinct A~B~C~DRB1 haplotype, their table, the first row of each id."""

    ids: dict[str, dict[tuple[str, ...], int]] = field(default_factory=dict)
    tables: dict[str, HaplotypeTable] = field(default_factory=dict)
    first_row: dict[str, npt.NDArray[np.intp]] = field(default_factory=dict)


def _distinct_haplotypes(hsets: dict[str, HaplotypeSet]) -> _DistinctHaplotypes:
    """The frequency sets list some A~B~C~DRB1 haplotypes more than once (they differ at other loci or in
    old names): one id per distinct haplotype, its frequency the sum of its rows."""
    out = _DistinctHaplotypes()
    for p, hs in hsets.items():
        ids: dict[tuple[str, ...], int] = {}
        row_id = np.array([ids.setdefault(tuple(h), len(ids)) for h in hs.names], dtype=np.int64)
        freqs: npt.NDArray[np.float64] = np.bincount(row_id, weights=hs.freqs, minlength=len(ids)).astype(np.float64)
        out.ids[p] = ids
        out.tables[p] = HaplotypeTable(p, ["~".join(h) for h in ids], freqs)
        out.first_row[p] = np.unique(row_id, return_index=True)[1]
    return out


def _check_weight(weight_kg: float | None) -> None:
    if weight_kg is not None and not (math.isfinite(weight_kg) and 0 < weight_kg <= 500):
        raise InvalidInputError(f"weight must be between 0 and 500 kg, not {weight_kg:g}", where="--weight-kg")


def _patient_weights(
    sims: Sequence[SimPatient], n: int, seed: int, weight_kg: float | None, weights: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.float64]:
    """Each patient's weight (kg): simulated, ``weight_kg`` for all, or drawn from ``weights`` (seeded)."""
    w = np.array([s.weight_kg for s in sims], dtype=np.float64)
    if weight_kg is not None:
        w[:] = weight_kg
    elif weights is not None:
        w = np.random.default_rng(np.random.SeedSequence([seed, 0x3E1])).choice(weights, size=n)
    return w


def simulate_patients(
    n: int,
    seed: int,
    population: str,
    tables: NomenclatureTables,
    settings: SelectionSettings | None = None,
    *,
    weight_kg: float | None = None,
    weights: npt.NDArray[np.float64] | None = None,
) -> SimulatedPatients:
    """``n`` simulated patients of ``population`` (CAU, AFA, API, HIS or mix), deterministic for ``seed``.
    ``weight_kg`` gives every patient that weight; ``weights`` draws weights from those values (seeded)."""
    check_count(n)
    _check_weight(weight_kg)
    settings = settings or default_settings()
    sims = generate_patients(n, seed, population, tables)
    hsets = {p: load_haplotypes(p, tables) for p in sorted({s.population for s in sims})}
    distinct = _distinct_haplotypes(hsets)
    ag = np.full((n, 4, 2), -1, dtype=np.int16)
    al = np.full((n, 4, 2), -1, dtype=np.int16)
    haps = np.zeros((n, 2), dtype=np.int64)
    profiles: list[AntibodyProfile | None] = []
    mfi = settings.value("dsa_mfi")
    for i, s in enumerate(sims):
        loci = [part.split("+") for part in s.hla.split("^")]
        hs = hsets[s.population]
        for pos in (0, 1):
            h = distinct.ids[s.population][tuple(loc[pos] for loc in loci)]
            haps[i, pos] = h
            row = distinct.first_row[s.population][h]  # rows with the same names have the same codes
            ag[i, :, pos], al[i, :, pos] = hs.ag[row], hs.al[row]
        abs_ = tuple(_antibody(spec, m) for spec, m in s.antibodies)
        profiles.append(AntibodyProfile.build(abs_, tables, mfi) if abs_ else None)
    w = _patient_weights(sims, n, seed, weight_kg, weights)
    coded = CoveragePatients(
        ag, al, w, np.array([1 if s.malignant else 0 for s in sims], np.int8), profiles, [s.population for s in sims]
    )
    return SimulatedPatients(coded, haps, distinct.tables)
