"""Synthetic people drawn from a haplotype frequency set (for validation and benchmarks; pure).

A person is two haplotypes drawn independently from a population's frequencies (Hardy-Weinberg), with
a caller-supplied ``numpy.random.Generator`` so runs are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cordmatch.probability.imputation import population_label
from cordmatch.probability.index import HaplotypeIndex

IntArray = npt.NDArray[np.int32]


def sample_people(index: HaplotypeIndex, population: str, n: int, rng: np.random.Generator) -> IntArray:
    """True genotypes of ``n`` people: allele codes shaped (n, loci, 2), per locus the smaller first."""
    w = index.population_weights(population)
    f = index.frequencies @ w
    rows = rng.choice(index.size, size=(n, 2), p=f / f.sum())
    h1 = index.codes[rows[:, 0]]
    h2 = index.codes[rows[:, 1]]
    return np.stack([np.minimum(h1, h2), np.maximum(h1, h2)], axis=-1).astype(np.int32)


def _name(index: HaplotypeIndex, code: int) -> str:
    return index.code_name(code)


def typing_gl(
    index: HaplotypeIndex,
    genotype: IntArray,
    *,
    antigen_loci: Sequence[str] = (),
    loci: Sequence[str] | None = None,
) -> str:
    """GL string of a true genotype (loci, 2): two-field names, or ``LOCUS*FF:XX`` (first field only)
    at ``antigen_loci``. Null alleles are always written in full (laboratories report them)."""
    parts = []
    for li, locus in enumerate(index.loci):
        if loci is not None and locus not in loci:
            continue
        names = []
        for k in range(2):
            code = int(genotype[li, k])
            name = _name(index, code)
            if locus in antigen_loci and not (code & 1):
                name = name.split(":")[0] + ":XX"
            names.append(name)
        parts.append("+".join(names))
    return "^".join(parts)


def describe(population: str, n: int, seed: int) -> str:
    return f"{n} people drawn from {population_label(population)} (seed {seed})"
