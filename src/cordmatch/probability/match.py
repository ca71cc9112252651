"""Match probability: from a patient's and a unit's genotype posteriors, the distribution of mismatches.

The two people are independent given their typings, so a pair of genotypes (i, j) has probability
``p_i * q_j``. Each pair is graded with the foundation's semantics (docs/adr/0002-grading-semantics.md)
on its exact two-field genotypes: allele match = same lgx, antigen match = the same WHO serologic
antigen (``HaplotypeIndex.antigen_relation``, as grading compares them: an associated antigen matches its
parent, two splits of one broad or two associated antigens of one parent are a mismatch), a null
allele is not expressed (the locus presents the other allele twice), GvH counts patient positions the
donor lacks, HvG donor positions the patient lacks, bidirectional = the larger. The 8 count uses A, B,
C, DRB1 at allele level, the 6 count A and B at antigen level and DRB1 at allele level.

Everything is vectorised over genotype pairs: per locus, the mismatch counts of every distinct patient
and donor locus genotype form a small table, and the pair counts are gathered from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from cordmatch.hla.serology import MATCH, RELATED
from cordmatch.hla.typing import HlaTyping
from cordmatch.probability.imputation import GenotypePosterior

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]

#: Loci reported one by one.
REPORTED_LOCI: Final = ("A", "B", "C", "DRB1", "DQB1")
MATCH_8: Final = (("A", "allele"), ("B", "allele"), ("C", "allele"), ("DRB1", "allele"))
MATCH_6: Final = (("A", "antigen"), ("B", "antigen"), ("DRB1", "allele"))
#: Pairs graded at once (bounds memory).
_CHUNK: Final = 1 << 22


def _presented(v: Any, null: Any) -> tuple[Any, Any, Any]:
    # A null position copies the other one; both null: nothing presented.
    return np.where(null[:, 0], v[:, 1], v[:, 0]), np.where(null[:, 1], v[:, 0], v[:, 1]), null[:, 0] & null[:, 1]


def _directional(
    src: Any,
    src_null: Any,
    tgt: Any,
    tgt_null: Any,
    relation: npt.NDArray[np.int8] | None,
    want_related: bool = False,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """Source positions the target lacks (S, T), and whether any lacking one is only *related* to a target
    position (a broad/split pair WHO cannot tell apart, counted as absent)."""
    s0, s1, s_none = _presented(src, src_null)
    t0, t1, t_none = _presented(tgt, tgt_null)
    absent = np.zeros((s0.shape[0], t0.shape[0]), dtype=np.int8)
    related = np.zeros((s0.shape[0], t0.shape[0]), dtype=np.bool_)
    for sv in (s0, s1):
        if relation is None:
            present = (sv[:, None] == t0[None, :]) | (sv[:, None] == t1[None, :])
        else:
            # the closest relation to either target position: 0 same antigen, 1 related, 2 different
            best = np.minimum(relation[sv[:, None], t0[None, :]], relation[sv[:, None], t1[None, :]])
            present = best == MATCH
            if want_related:
                related |= (best == RELATED) & ~t_none[None, :]
        absent += ~(present & ~t_none[None, :])
    absent[s_none, :] = 0
    related[s_none, :] = False
    return absent, related


def locus_mismatches(
    pat: npt.NDArray[np.int64],
    don: npt.NDArray[np.int64],
    pat_null: npt.NDArray[np.bool_],
    don_null: npt.NDArray[np.bool_],
    relation: npt.NDArray[np.int8] | None = None,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8]]:
    """GvH and HvG mismatch counts for every (patient, donor) locus genotype: shapes (P, 2) x (D, 2).

    Values are ids at the level compared (lgx or antigen); ``*_null`` marks not-expressed positions.
    Without ``relation`` ids are the same when equal; with it (antigen level) two ids are the same
    antigen when ``relation[x, y]`` is 0 (WHO: same antigen, or associated vs parent). A *related* pair
    (1: broad vs split, cannot tell) is never the same antigen: it counts as a mismatch, so a
    probability never assumes the best case. Returns two (P, D) int8 arrays.
    """
    gvh, hvg, _ = _mismatches_and_related(pat, don, pat_null, don_null, relation)
    return gvh, hvg


def _mismatches_and_related(
    pat: npt.NDArray[np.int64],
    don: npt.NDArray[np.int64],
    pat_null: npt.NDArray[np.bool_],
    don_null: npt.NDArray[np.bool_],
    relation: npt.NDArray[np.int8] | None,
    want_related: bool = False,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.bool_]]:
    """GvH (P, D), HvG (P, D) and, with ``want_related``, :func:`locus_related` in one pass."""
    gvh, a = _directional(pat, pat_null, don, don_null, relation, want_related)
    hvg, b = _directional(don, don_null, pat, pat_null, relation, want_related)
    return gvh, hvg.T, a | b.T


def locus_related(
    pat: npt.NDArray[np.int64],
    don: npt.NDArray[np.int64],
    pat_null: npt.NDArray[np.bool_],
    don_null: npt.NDArray[np.bool_],
    relation: npt.NDArray[np.int8],
) -> npt.NDArray[np.bool_]:
    """(P, D): the pair has a position counted as an antigen mismatch only because WHO relates the two
    antigens through a broad (cannot tell whether they are the same split)."""
    return _mismatches_and_related(pat, don, pat_null, don_null, relation, want_related=True)[2]


@dataclass
class MatchProbability:
    """Probabilities of the mismatch counts between a patient and a unit (bidirectional)."""

    population: str
    #: locus -> [P(0), P(1), P(2)] bidirectional mismatches at allele level.
    loci: dict[str, list[float]]
    #: locus -> [P(0), P(1), P(2)] at antigen level.
    loci_antigen: dict[str, list[float]]
    #: P(k/8) for k = 0..8 and P(k/6) for k = 0..6.
    match_8: list[float]
    match_6: list[float]
    patient_genotypes: int = 0
    donor_genotypes: int = 0
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    floored: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None

    def at_least_8(self, k: int) -> float:
        """P(match >= k/8), inside [0, 1]."""
        return unit_interval(sum(self.match_8[k:])) if self.ok else float("nan")

    def at_least_6(self, k: int) -> float:
        """P(match >= k/6), inside [0, 1]."""
        return unit_interval(sum(self.match_6[k:])) if self.ok else float("nan")

    def to_dict(self) -> dict[str, Any]:
        if not self.ok:
            return {"population": self.population, "estimate": False, "reason": self.reason, "notes": self.notes}
        return {
            "population": self.population,
            "estimate": True,
            "p_8_of_8": self.at_least_8(8),
            "p_at_least_7_of_8": self.at_least_8(7),
            "p_6_of_6": self.at_least_6(6),
            "p_at_least_5_of_6": self.at_least_6(5),
            "match_8": {f"{k}/8": p for k, p in enumerate(self.match_8)},
            "match_6": {f"{k}/6": p for k, p in enumerate(self.match_6)},
            "loci": {
                locus: {
                    "allele": {str(m): p for m, p in enumerate(v)},
                    "antigen": {str(m): p for m, p in enumerate(self.loci_antigen[locus])},
                }
                for locus, v in self.loci.items()
            },
            "patient_genotypes": self.patient_genotypes,
            "donor_genotypes": self.donor_genotypes,
            "floored_alleles": self.floored,
            "notes": self.notes,
        }


def unit_interval(p: float) -> float:
    """A probability summed in floating point, kept inside [0, 1] (sums of weights can end at 1 + 2e-16)."""
    return min(1.0, max(0.0, float(p)))


def _clipped(values: FloatArray) -> list[float]:
    return np.clip(values, 0.0, 1.0).tolist()  # type: ignore[no-any-return]


_SHIFT: Final = 20  # allele codes are < 2**20 (2 * number of lgx groups)


def locus_genotype_keys(codes: IntArray, locus_index: int) -> tuple[npt.NDArray[np.int64], IntArray]:
    """Distinct locus genotypes (as int64 keys) of genotype rows, and each row's index into them."""
    c = codes[:, locus_index, :].astype(np.int64)
    u, inv = np.unique((c[:, 0] << _SHIFT) | c[:, 1], return_inverse=True)
    return u, inv.reshape(-1).astype(np.int32)


def _locus_tables(
    pat: GenotypePosterior,
    don_codes: IntArray,
    locus_index: int,
    levels: Sequence[str],
    donor_keys: tuple[npt.NDArray[np.int64], IntArray] | None = None,
    related: dict[str, tuple[npt.NDArray[np.bool_], IntArray, IntArray]] | None = None,
) -> dict[str, tuple[npt.NDArray[np.int8], IntArray, IntArray]]:
    """Per level: bidirectional mismatch table between distinct locus genotypes, and each side's row.

    ``related`` (filled when given): per antigen level whose table counts a WHO *related* pair (broad vs
    split) as a mismatch, which pairs of locus genotypes those are."""
    pu, p_inv = locus_genotype_keys(pat.codes, locus_index)
    du, d_inv = donor_keys if donor_keys is not None else locus_genotype_keys(don_codes, locus_index)
    mask = (1 << _SHIFT) - 1
    pu2 = np.stack([pu >> _SHIFT, pu & mask], axis=1)
    du2 = np.stack([du >> _SHIFT, du & mask], axis=1)
    p_null, d_null = (pu2 & 1).astype(bool), (du2 & 1).astype(bool)
    pi, di = p_inv, d_inv
    out = {}
    for level in levels:
        if level == "antigen":
            pv, dv = pat.lgx_antigen[pu2 >> 1].astype(np.int64), pat.lgx_antigen[du2 >> 1].astype(np.int64)
            relation: npt.NDArray[np.int8] | None = pat.antigen_relation
        else:
            pv, dv, relation = pu2 >> 1, du2 >> 1, None
        want = relation is not None and related is not None
        gvh, hvg, rel = _mismatches_and_related(pv, dv, p_null, d_null, relation, want)
        out[level] = (np.maximum(gvh, hvg), pi, di)
        if want and related is not None and rel.any():
            related[level] = (rel, pi, di)
    return out


def _pair_counts(
    patient: GenotypePosterior,
    don_codes: IntArray,
    keys: Sequence[tuple[str, str]] | None = None,
    packed: PackedPosteriors | None = None,
    related: dict[tuple[str, str], tuple[npt.NDArray[np.bool_], IntArray, IntArray]] | None = None,
) -> tuple[dict[tuple[str, str], tuple[npt.NDArray[np.int8], IntArray, IntArray]], list[str]]:
    if keys is None:
        keys = [*MATCH_8, *MATCH_6, *((loc, lvl) for loc in REPORTED_LOCI for lvl in ("allele", "antigen"))]
    by_locus: dict[str, list[str]] = {}
    for loc, lvl in keys:
        if lvl not in by_locus.setdefault(loc, []):
            by_locus[loc].append(lvl)
    out = {}
    missing: list[str] = []
    for locus, levels in by_locus.items():
        if locus not in patient.loci:
            missing.append(locus)
            continue
        li = patient.loci.index(locus)
        dk = packed.locus_keys(li) if packed is not None else None
        rel: dict[str, tuple[npt.NDArray[np.bool_], IntArray, IntArray]] | None = {} if related is not None else None
        for lvl, tab in _locus_tables(patient, don_codes, li, levels, dk, rel).items():
            out[(locus, lvl)] = tab
        if related is not None and rel:
            related.update({(locus, lvl): r for lvl, r in rel.items()})
    return out, missing


def _no_estimate(
    patient: GenotypePosterior, donor: GenotypePosterior, notes: list[str], floored: list[str]
) -> MatchProbability | None:
    """The empty answer, with its reason, when either side has no posterior or the loci differ; else None."""
    if not patient.ok or not donor.ok:
        who = "patient" if not patient.ok else "donor"
        reason = (patient.reason if not patient.ok else donor.reason) or "no compatible genotype"
        return MatchProbability(
            patient.population, {}, {}, [], [], reason=f"no estimate for the {who}: {reason}", notes=notes,
            floored=floored,
        )  # fmt: skip
    if patient.loci != donor.loci:
        return MatchProbability(
            patient.population, {}, {}, [], [], reason="patient and donor were imputed with different loci", notes=notes
        )
    return None


_Related = dict[tuple[str, str], tuple[npt.NDArray[np.bool_], IntArray, IntArray]]


@dataclass
class _PairSums:
    """Probability mass accumulated over genotype pairs: per (locus, level) by mismatches (0-2), by matches of
    8 and of 6, and of pairs with a related (broad) antigen at a 6 locus."""

    locus_dist: dict[tuple[str, str], FloatArray]
    m8: FloatArray = field(default_factory=lambda: np.zeros(9))
    m6: FloatArray = field(default_factory=lambda: np.zeros(7))
    p_related: float = 0.0

    def add_rows(
        self, tabs: Mapping[tuple[str, str], tuple[npt.NDArray[np.int8], IntArray, IntArray]], related_6: _Related,
        w: FloatArray, rows: slice,
    ) -> None:  # fmt: skip
        """Add the pairs of patient genotypes ``rows`` (weights ``w``: rows x donor genotypes)."""
        per: dict[tuple[str, str], npt.NDArray[np.int8]] = {}
        for key, (table, pi, di) in tabs.items():
            per[key] = table[pi[rows, None], di[None, :]]
            self.locus_dist[key] += np.bincount(per[key].ravel(), weights=w.ravel(), minlength=3)[:3]
        mm8 = sum((per[k].astype(np.int16) for k in MATCH_8 if k in per), np.zeros_like(w, dtype=np.int16))
        mm6 = sum((per[k].astype(np.int16) for k in MATCH_6 if k in per), np.zeros_like(w, dtype=np.int16))
        self.m8 += np.bincount((8 - mm8).ravel(), weights=w.ravel(), minlength=9)[:9]
        self.m6 += np.bincount((6 - mm6).ravel(), weights=w.ravel(), minlength=7)[:7]
        if related_6:
            any_rel = np.zeros(w.shape, dtype=np.bool_)
            for rtab, rpi, rdi in related_6.values():
                any_rel |= rtab[rpi[rows, None], rdi[None, :]]
            self.p_related += float(w[any_rel].sum())


def match_probability_from_posteriors(patient: GenotypePosterior, donor: GenotypePosterior) -> MatchProbability:
    """Distribution of mismatches between two imputed people (independent given their typings)."""
    notes = list(dict.fromkeys([*patient.notes, *donor.notes]))
    floored = list(dict.fromkeys([*patient.floored, *donor.floored]))
    empty = _no_estimate(patient, donor, notes, floored)
    if empty is not None:
        return empty
    related: _Related = {}
    tabs, _missing = _pair_counts(patient, donor.codes, related=related)
    related_6 = {k: v for k, v in related.items() if k in MATCH_6}
    p = patient.probabilities
    q = donor.probabilities
    sums = _PairSums({k: np.zeros(3) for k in tabs})
    rows_per_chunk = max(1, _CHUNK // max(1, q.size))
    for start in range(0, p.size, rows_per_chunk):
        stop = min(p.size, start + rows_per_chunk)
        sums.add_rows(tabs, related_6, p[start:stop, None] * q[None, :], slice(start, stop))
    if sums.p_related > 0:
        names = ", ".join(loc for loc, _ in related_6)
        notes.append(
            f"the 6 count treats WHO antigens related through a broad (e.g. a protein assigned only the broad "
            f"antigen, or two proteins without serology of one first field) as a mismatch at {names}: "
            f"probability {unit_interval(sums.p_related):.3g} of the genotype pairs; the 6/6 figure is not overstated"
        )
    dist = sums.locus_dist
    return MatchProbability(
        population=patient.population,
        loci={loc: _clipped(dist[(loc, "allele")]) for loc in REPORTED_LOCI if (loc, "allele") in dist},
        loci_antigen={loc: _clipped(dist[(loc, "antigen")]) for loc in REPORTED_LOCI if (loc, "antigen") in dist},
        match_8=_clipped(sums.m8),
        match_6=_clipped(sums.m6),
        patient_genotypes=patient.size,
        donor_genotypes=donor.size,
        notes=notes,
        floored=floored,
    )


# --------------------------------------------------------------------------- search integration
@dataclass
class PackedPosteriors:
    """Many units' posteriors in one set of arrays (for registry-wide scoring and caching).

    Unit ``u`` owns rows ``offsets[u]:offsets[u + 1]`` of ``codes`` (rows, loci, 2) and
    ``probabilities``; a unit with no estimate owns no rows and has ``ok[u]`` False.
    """

    loci: tuple[str, ...]
    codes: IntArray
    probabilities: FloatArray
    offsets: npt.NDArray[np.int64]
    ok: npt.NDArray[np.bool_]

    @property
    def units(self) -> int:
        return int(self.ok.shape[0])

    @classmethod
    def pack(cls, posteriors: Sequence[GenotypePosterior], loci: tuple[str, ...]) -> PackedPosteriors:
        sizes = np.array([p.size if p.ok else 0 for p in posteriors], dtype=np.int64)
        offsets = np.zeros(len(posteriors) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        rows = [p.codes for p in posteriors if p.ok and p.size]
        probs = [p.probabilities for p in posteriors if p.ok and p.size]
        return cls(
            loci=loci,
            codes=np.concatenate(rows).astype(np.int32) if rows else np.zeros((0, len(loci), 2), np.int32),
            probabilities=np.concatenate(probs) if probs else np.zeros(0),
            offsets=offsets,
            ok=np.array([p.ok for p in posteriors], dtype=np.bool_),
        )

    _keys: dict[int, tuple[npt.NDArray[np.int64], IntArray]] = field(default_factory=dict, repr=False)
    _unit_of_row: npt.NDArray[np.int64] | None = field(default=None, repr=False)

    def locus_keys(self, locus_index: int) -> tuple[npt.NDArray[np.int64], IntArray]:
        """Distinct locus genotypes of all rows and each row's index (computed once, then reused)."""
        found = self._keys.get(locus_index)
        if found is None:
            found = self._keys[locus_index] = locus_genotype_keys(self.codes, locus_index)
        return found

    def unit_of_row(self) -> npt.NDArray[np.int64]:
        if self._unit_of_row is None:
            self._unit_of_row = np.repeat(np.arange(self.units), np.diff(self.offsets))
        return self._unit_of_row

    def unit(self, u: int) -> tuple[IntArray, FloatArray]:
        a, b = int(self.offsets[u]), int(self.offsets[u + 1])
        return self.codes[a:b], self.probabilities[a:b]


@dataclass
class BatchMatchSummary:
    """Per unit: P(8/8), P(>=7/8), P(6/6), P(>=5/6); NaN where there is no estimate (``ok`` False)."""

    p_8_of_8: FloatArray
    p_at_least_7_of_8: FloatArray
    p_6_of_6: FloatArray
    p_at_least_5_of_6: FloatArray
    ok: npt.NDArray[np.bool_]


def batch_match_probabilities(patient: GenotypePosterior, units: PackedPosteriors) -> BatchMatchSummary:
    """The search hook: score many units against one patient whose posterior is computed once.

    Cost is one gather per locus over (patient genotypes x all unit genotype rows), chunked; the
    units' distinct locus genotypes are computed on the first call and reused for every patient.
    """
    n = units.units
    nan = np.full(n, np.nan)
    if not patient.ok:
        return BatchMatchSummary(nan, nan.copy(), nan.copy(), nan.copy(), np.zeros(n, dtype=np.bool_))
    if units.loci != patient.loci:
        raise ValueError("units and patient were imputed with different loci")
    unit_of_row = units.unit_of_row()
    tabs, _ = _pair_counts(patient, units.codes, [*MATCH_8, *MATCH_6], packed=units)
    p = patient.probabilities
    acc = np.zeros((4, units.codes.shape[0]))
    rows_chunk = max(1, _CHUNK // max(1, p.size))
    for start in range(0, units.codes.shape[0], rows_chunk):
        stop = min(units.codes.shape[0], start + rows_chunk)
        mm8 = np.zeros((p.size, stop - start), dtype=np.int16)
        mm6 = np.zeros_like(mm8)
        for key, (table, pi, di) in tabs.items():
            if key in MATCH_8 or key in MATCH_6:
                v = table[pi[:, None], di[None, start:stop]]
                if key in MATCH_8:
                    mm8 += v
                if key in MATCH_6:
                    mm6 += v
        acc[0, start:stop] = p @ (mm8 == 0)
        acc[1, start:stop] = p @ (mm8 <= 1)
        acc[2, start:stop] = p @ (mm6 == 0)
        acc[3, start:stop] = p @ (mm6 <= 1)
    weighted = acc * units.probabilities[None, :]
    out = [
        np.clip(np.bincount(unit_of_row, weights=weighted[k], minlength=n).astype(np.float64), 0.0, 1.0)
        for k in range(4)
    ]
    for arr in out:
        arr[~units.ok] = np.nan
    return BatchMatchSummary(out[0], out[1], out[2], out[3], units.ok.copy())


def ambiguous_loci(typing: HlaTyping, loci: Sequence[str] = ("A", "B", "C", "DRB1")) -> list[str]:
    """Loci of the 8 count whose allele-level (lgx) genotype the typing does not settle: not typed,
    genotype alternatives, or a position that may be more than one protein. Empty list: grade exactly;
    otherwise rank by match probability (and say which loci made it necessary)."""
    out: list[str] = []
    for locus in loci:
        lt = typing.loci.get(locus)
        if lt is None or len(lt.alternatives) != 1:
            out.append(locus)
            continue
        p1, p2 = lt.alternatives[0]
        if any(len(p.proteins) > 1 or (not p.proteins and not p.is_null) for p in (p1, p2)):
            out.append(locus)
    return out


def probability_reason(summary: BatchMatchSummary, unit: int, loci: Sequence[str]) -> str:
    """The reason line a search shows for a unit ranked by match probability."""
    if not summary.ok[unit]:
        return "no match probability: no genotype in the haplotype frequencies fits the typing"
    return (
        f"typing ambiguous at {', '.join(loci) or 'no locus'}: ranked by match probability "
        f"P(8/8) {summary.p_8_of_8[unit]:.2f}, P(>=7/8) {summary.p_at_least_7_of_8[unit]:.2f}, "
        f"P(6/6) {summary.p_6_of_6[unit]:.2f} (imputed from population haplotype frequencies)"
    )
