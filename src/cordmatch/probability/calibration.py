"""Calibration of predicted P(8/8) against simulated truth (pure; used by tests and the validation report).

Method: draw people from a population's haplotype frequencies (seeded), mask every typing to antigen
level (first field, ``A*02:XX``) at all five loci, pair people whose masked typings are identical
(disjoint pairs within each group, so pairs are independent), predict P(8/8) for each pair from the
masked typings, and compare with whether the true two-field genotypes are an 8/8 allele match.
Pairs are binned by prediction; a bin is *tested* when it holds at least
``(z * sqrt(p (1 - p)) / tolerance) ** 2`` pairs (p its mean prediction, z = 2.5), so a calibrated
model fails a bin's +-tolerance check by chance in about 1 % of bins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.probability.imputation import TypingConstraints, constraints_from_gl, impute
from cordmatch.probability.index import HaplotypeIndex
from cordmatch.probability.match import MATCH_8, match_probability_from_posteriors
from cordmatch.probability.simulate import sample_people, typing_gl

Z: float = 2.5


@dataclass
class CalibrationBin:
    low: float
    high: float
    pairs: int
    mean_predicted: float
    observed: float
    min_pairs: int

    @property
    def tested(self) -> bool:
        return self.pairs > 0 and self.pairs >= self.min_pairs

    @property
    def error(self) -> float:
        return self.observed - self.mean_predicted if self.pairs else float("nan")


@dataclass
class CalibrationResult:
    population: str
    people: int
    seed: int
    pairs: int
    groups: int
    bins: list[CalibrationBin]
    tolerance: float
    predicted: npt.NDArray[np.float64] = field(repr=False)
    observed: npt.NDArray[np.bool_] = field(repr=False)

    @property
    def passed(self) -> bool:
        return all(abs(b.error) <= self.tolerance for b in self.bins if b.tested)

    def table(self) -> list[dict[str, object]]:
        return [
            {
                "bin": f"[{b.low:.1f}, {b.high:.1f}{']' if b.high >= 1 else ')'}",
                "pairs": b.pairs,
                "mean_predicted": round(b.mean_predicted, 4) if b.pairs else None,
                "observed_8of8": round(b.observed, 4) if b.pairs else None,
                "difference": round(b.error, 4) if b.pairs else None,
                "min_pairs_to_test": b.min_pairs,
                "tested": b.tested,
                "within_tolerance": (abs(b.error) <= self.tolerance) if b.tested else None,
            }
            for b in self.bins
        ]


def true_8_of_8(a: npt.NDArray[np.int32], b: npt.NDArray[np.int32], loci: Sequence[str]) -> npt.NDArray[np.bool_]:
    """Whether true genotypes (n, loci, 2) are 8/8 allele matches, pair by pair (null = not expressed)."""
    ok = np.ones(a.shape[0], dtype=np.bool_)

    def presented(c: npt.NDArray[np.int32]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        v = (c >> 1).astype(np.int64)
        null = (c & 1).astype(bool)
        pv = np.stack([np.where(null[:, 0], v[:, 1], v[:, 0]), np.where(null[:, 1], v[:, 0], v[:, 1])], axis=1)
        return pv, null[:, 0] & null[:, 1]

    for locus, _level in MATCH_8:
        li = list(loci).index(locus)
        pa, none_a = presented(a[:, li, :])
        pb, none_b = presented(b[:, li, :])
        a_in_b = (pa[:, :, None] == pb[:, None, :]).any(-1) & ~none_b[:, None]
        b_in_a = (pb[:, :, None] == pa[:, None, :]).any(-1) & ~none_a[:, None]
        gvh = np.where(none_a, 0, (~a_in_b).sum(-1))
        hvg = np.where(none_b, 0, (~b_in_a).sum(-1))
        ok &= np.maximum(gvh, hvg) == 0
    return ok


def calibrate(
    index: HaplotypeIndex,
    tables: NomenclatureTables,
    population: str = "CAU",
    *,
    people: int = 20_000,
    seed: int = 2026,
    bins: int = 10,
    tolerance: float = 0.05,
) -> CalibrationResult:
    """Run the calibration described in the module docstring."""
    rng = np.random.default_rng(seed)
    truth = sample_people(index, population, people, rng)
    masked = [typing_gl(index, g, antigen_loci=index.loci) for g in truth]
    groups: dict[str, list[int]] = {}
    for i, gl in enumerate(masked):
        groups.setdefault(gl, []).append(i)
    parts: dict[str, tuple[str, TypingConstraints]] = {}
    first: list[int] = []
    second: list[int] = []
    predicted: list[float] = []
    n_groups = 0
    for gl, members in groups.items():
        if len(members) < 2:
            continue
        n_groups += 1
        _, constraints = constraints_from_gl(gl, tables, index.loci, None, parts)
        post = impute(constraints, index, population)
        p8 = match_probability_from_posteriors(post, post).at_least_8(8)
        order = rng.permutation(len(members))
        for k in range(0, len(members) - 1, 2):
            first.append(members[order[k]])
            second.append(members[order[k + 1]])
            predicted.append(p8)
    pred = np.array(predicted)
    obs = true_8_of_8(truth[first], truth[second], index.loci) if first else np.zeros(0, dtype=np.bool_)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(pred, edges[1:-1]), 0, bins - 1)
    out: list[CalibrationBin] = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        mp = float(pred[sel].mean()) if n else float("nan")
        ob = float(obs[sel].mean()) if n else float("nan")
        var = mp * (1 - mp) if n else 0.25
        min_pairs = max(30, math.ceil((Z * math.sqrt(max(var, 1e-4)) / tolerance) ** 2))
        out.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), n, mp, ob, min_pairs))
    return CalibrationResult(population, people, seed, len(predicted), n_groups, out, tolerance, pred, obs)
