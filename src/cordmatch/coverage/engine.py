"""Coverage engine: many patients against one coded registry, counted per match level (pure numpy).

Per patient and genotype of each locus the selection kernel (:func:`cordmatch.selection.kernel.locus_results`)
gives the certain mismatches and whether the locus is settled; here each locus becomes a *worst-case* code:

- ``w6``: mismatches counted for the 6-locus grade (A, B antigen; DRB1 allele, as ``w8``), 2 when the locus
  is untyped;
- ``w8``: allele mismatches of 8 (A, B, C, DRB1), the certain ones plus one per position whose allele is not
  known (at most 2), 2 when the locus is untyped;
- ``dsa``: the unit carries a definite or possible target of a patient antibody at or above the MFI threshold.

A unit counts at ``>= k/6`` only when ``6 - sum(w6) >= k`` and no locus has a DSA (likewise for ``/8``): a
grade reached only if the unknown alleles happened to match is never counted (clinical safety: no best case).
Ambiguous units with coded genotype alternatives take the worst of their alternatives; units only gradable
exactly (not coded) count as untyped. Patients are processed in blocks of ``block``: one gather of a block's
codes per unit chunk, and one histogram of the (w6, w8, dsa) keys per patient, split at the patient's
dose prefix (units ordered by single-unit capacity: those that dose a patient of weight w come first).
"""

from __future__ import annotations

import itertools

import numpy as np
import numpy.typing as npt

from cordmatch.coverage.model import CoverageIndex, CoveragePatients, DoseRule, PatientCoverage
from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import CodedRelation
from cordmatch.matching.coded import CODED_LOCI
from cordmatch.selection import kernel
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.rules import TNC_UNIT

#: Match levels reported, in order: at least k of 6 (A, B antigen, DRB1 allele), at least k of 8 alleles.
LEVELS = ("4/6", "5/6", "6/6", "6/8", "7/8", "8/8")
_LEVEL_SCALE = ((6, 4), (6, 5), (6, 6), (8, 6), (8, 7), (8, 8))
W8_SHIFT, DSA_SHIFT = 4, 8
KEY_BINS = 1 << 11  # w6 (4 bits) | w8 (4 bits) | dsa loci (3 bits)
_C, _DRB1 = 2, 3
__all__ = ["LEVELS", "CoverageIndex", "CoveragePatients", "DoseRule", "PatientCoverage", "evaluate", "served_matrix"]

I16 = npt.NDArray[np.int16]
U16 = npt.NDArray[np.uint16]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


def _level_luts() -> npt.NDArray[np.bool_]:
    """(levels, KEY_BINS): whether a summed key counts at each level (worst case, no DSA)."""
    keys = np.arange(KEY_BINS)
    w6, w8, dsa = keys & 0xF, (keys >> W8_SHIFT) & 0xF, keys >> DSA_SHIFT
    rows = [(dsa == 0) & ((w6 if scale == 6 else w8) <= scale - k) for scale, k in _LEVEL_SCALE]
    return np.stack(rows)


LEVEL_LUT = _level_luts()


def locus_codes(
    locus: int,
    p_ag: I16,
    p_al: I16,
    g_ag: I16,
    g_al: I16,
    profile: AntibodyProfile | None = None,
    relation: CodedRelation | None = None,
    g_unknown: npt.NDArray[np.int64] | None = None,
) -> U16:
    """Worst-case codes (w6 | w8 << 4 | dsa << 8) of one patient locus (2,) against genotypes (G, 2).
    ``g_unknown``: per genotype, typed positions whose allele is unknown (computed when not given)."""
    packed, possible = kernel.locus_results(locus, p_ag, p_al, g_ag, g_al, profile, relation=relation)
    mm8 = kernel.field(packed, kernel.MM8).astype(np.uint16)
    unsure = kernel.field(packed, kernel.UNSURE8) > 0
    missing = (g_ag[:, 0] < 0) | (p_ag[0] < 0)
    if g_unknown is None:
        g_unknown = ((g_al < 0) & (g_ag >= 0)).sum(axis=1)
    unknown = g_unknown + int(((p_al < 0) & (p_ag >= 0)).sum())
    two = np.uint16(2)
    w8 = np.where(missing, two, np.where(unsure, np.minimum(two, mm8 + unknown.astype(np.uint16)), mm8))
    if locus == _C:
        w6 = np.zeros_like(w8)
    elif locus == _DRB1:
        w6 = w8
    else:  # antigen level; not settled (untyped, or antigens related through a broad): 2 at worst
        bad = missing | (kernel.field(packed, kernel.BAD6) > 0)
        w6 = np.where(bad, two, kernel.field(packed, kernel.MM6).astype(np.uint16))
    dsa = (kernel.field(packed, kernel.DSA_DEF) > 0) | possible
    if profile is not None and any(getattr(r, "locus", None) == CODED_LOCI[locus] for r in profile.active):
        dsa = dsa | (g_ag[:, 0] < 0)  # untyped where the patient has antibodies: DSA not assessed, not "none"
    out: U16 = (w6 | (w8 << np.uint16(W8_SHIFT)) | (dsa.astype(np.uint16) << np.uint16(DSA_SHIFT))).astype(np.uint16)
    return out


def _block_codes(cidx: CoverageIndex, pats: CoveragePatients, rows: range) -> list[U16]:
    """Per locus (G, B) codes of a block of patients."""
    out = []
    for li, (g_ag, g_al) in enumerate(cidx.genotypes):
        unknown = cidx.unknown_alleles(li)
        cols = [
            locus_codes(li, pats.ag[r, li], pats.al[r, li], g_ag, g_al, pats.profiles[r], cidx.relation, unknown)
            for r in rows
        ]
        out.append(np.stack(cols, axis=1))
    return out


def _alt_keys(cidx: CoverageIndex, codes: list[U16]) -> U16:
    """(O, B) keys of the units with genotype alternatives: the worst alternative, field by field."""
    rows = sum(codes[li][cidx.alt_gid[li]].astype(np.int32) for li in range(4))
    assert isinstance(rows, np.ndarray)
    fields = [(rows >> s) & m for s, m in ((0, 0xF), (W8_SHIFT, 0xF), (DSA_SHIFT, 0x7))]
    worst = [np.maximum.reduceat(f, cidx.alt_start, axis=0) for f in fields]
    keys = (worst[0] | (worst[1] << W8_SHIFT) | (worst[2] << DSA_SHIFT)).astype(np.uint16)
    out: U16 = keys[cidx.alt_perm]
    return out


def _chunk_keys(cidx: CoverageIndex, codes: list[U16], pair: U16, alt: U16 | None, s: int, e: int) -> U16:
    key: U16 = np.take(codes[0], cidx.gid[0, s:e], axis=0, mode="clip")
    key += np.take(pair, cidx.gid[1, s:e], axis=0, mode="clip")
    key += np.take(codes[3], cidx.gid[2, s:e], axis=0, mode="clip")
    if alt is not None and len(cidx.alt_pos):
        lo, hi = np.searchsorted(cidx.alt_pos, [s, e])
        if hi > lo:
            key[cidx.alt_pos[lo:hi] - s] = alt[lo:hi]
    return key


def _single_rule(pats: CoveragePatients, dose: DoseRule) -> tuple[float, bool]:
    """The single-unit TNC minimum of a block (one diagnosis class) and whether the dose must exceed it."""
    classes = {int(c) for c in pats.malignant}
    if len(classes) != 1:
        raise AssertionError("blocks hold one diagnosis class")  # evaluate() groups patients by class
    tnc_min, strict = dose.single[classes.pop()]
    if tnc_min <= dose.prefilter_tnc:  # the pre-filter (must exceed) then decides
        return dose.prefilter_tnc, True
    return tnc_min, strict


def _mismatched_cap(order: CoverageIndex, dose: DoseRule, tnc_min: float) -> F32 | None:
    """Capacities under the higher TNC minimum for units with 2 mismatches of 6 at worst, or None when the
    rules set none above the block's single-unit minimum."""
    if dose.mismatched_tnc <= tnc_min:
        return None
    return order.capacity("mismatched", dose.mismatched_tnc, dose.single_cd34_min)


def _dosed(
    key: U16, pos: npt.NDArray[np.int64], prefix: int, cap_mm: F32 | None, w: np.float32
) -> npt.NDArray[np.bool_]:
    """Which of the units at ``pos`` (keys ``key``) dose the patient as a single unit."""
    dosed: npt.NDArray[np.bool_] = pos < prefix
    if cap_mm is not None:
        dosed = np.where((key & 0xF) >= 2, cap_mm[pos] >= w, dosed)
    return dosed


def _dosed_prefix(cap_desc: F32, w: F64, strict: bool) -> npt.NDArray[np.int64]:
    """Per patient: how many units (capacity descending) dose weight ``w`` (cap >= w, or > w when strict)."""
    w32 = w.astype(np.float32)
    side = "left" if strict else "right"
    return np.searchsorted(-cap_desc, -w32, side=side).astype(np.int64)  # type: ignore[call-overload,no-any-return]


def evaluate(
    cidx: CoverageIndex,
    pats: CoveragePatients,
    dose: DoseRule | None = None,
    *,
    block: int = 16,
    unit_chunk: int = 1 << 15,
    method: str = "sparse",
) -> PatientCoverage:
    """Units per level for every patient (see module doc); with ``dose``, also with the single-unit dose and
    whether a double graft of two units >= 4/6 exists. Deterministic; patients are independent."""
    P = len(pats)
    count = np.zeros((P, len(LEVELS)), dtype=np.int64)
    count_dose = np.zeros((P, len(LEVELS)), dtype=np.int64) if dose is not None else None
    double = np.zeros(P, dtype=np.bool_) if dose is not None else None
    # blocks of one diagnosis class (the single-unit minimum depends on it under some policies)
    order = np.argsort(pats.malignant, kind="stable") if dose is not None else np.arange(P)
    starts: list[int] = []
    i = 0
    while i < P:
        starts.append(i)
        j = min(i + block, P)
        if dose is not None:
            same = pats.malignant[order[i:j]] == pats.malignant[order[i]]
            j = i + int(np.argmin(same)) if not same.all() else j
        i = j
    bounds = [*starts, P]
    for s0, s1 in itertools.pairwise(bounds):
        idx = order[s0:s1]
        sub = pats.take(idx)
        if method == "sparse":
            c, cd, dbl = _evaluate_block_sparse(cidx, sub, dose)
        else:
            c, cd, dbl = _evaluate_block(cidx, sub, dose, unit_chunk)
        count[idx] = c
        if count_dose is not None and double is not None and cd is not None and dbl is not None:
            count_dose[idx] = cd
            double[idx] = dbl
    return PatientCoverage(count, count_dose, double, list(pats.population))


def _block_setup(
    cidx: CoverageIndex, pats: CoveragePatients, dose: DoseRule | None
) -> tuple[list[U16], U16, CoverageIndex, npt.NDArray[np.int64], U16 | None, F32 | None, F32]:
    """What both block evaluations start from: per-locus codes, B-C pair codes, the units in the order the
    dose test reads them (by capacity when a dose applies), each patient's dosed prefix, the alternative
    keys, the capacities under the mismatched-unit TNC minimum and the patients' weights (kg, float32)."""
    codes = _block_codes(cidx, pats, range(len(pats)))
    pair = (codes[1][cidx.pair_b] + codes[2][cidx.pair_c]).astype(np.uint16)
    prefix = np.zeros(len(pats), dtype=np.int64)
    order, cap_mm = cidx, None
    if dose is not None:
        tnc_min, strict = _single_rule(pats, dose)
        order, cap_desc = cidx.by_capacity(tnc_min, dose.single_cd34_min)
        prefix = _dosed_prefix(cap_desc, pats.weight_kg, strict)
        cap_mm = _mismatched_cap(order, dose, tnc_min)
    alt = _alt_keys(order, codes) if len(order.alt_pos) else None
    return codes, pair, order, prefix, alt, cap_mm, pats.weight_kg.astype(np.float32)


def _evaluate_block(
    cidx: CoverageIndex, pats: CoveragePatients, dose: DoseRule | None, unit_chunk: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None, npt.NDArray[np.bool_] | None]:
    B = len(pats)
    codes, pair, order, prefix, alt, cap_mm, w32 = _block_setup(cidx, pats, dose)
    hist = np.zeros((B, 2, KEY_BINS), dtype=np.int64)  # [:, 1]: units with the single-unit dose
    n = len(cidx)
    for s in range(0, n, unit_chunk):
        e = min(n, s + unit_chunk)
        key = _chunk_keys(order, codes, pair, alt, s, e)
        pos = np.arange(s, e, dtype=np.int64)
        for j in range(B):
            dosed = _dosed(key[:, j], pos, int(prefix[j]), cap_mm, w32[j])
            hist[j, 1] += np.bincount(key[dosed, j], minlength=KEY_BINS)
            hist[j, 0] += np.bincount(key[~dosed, j], minlength=KEY_BINS)
    lut = LEVEL_LUT.T.astype(np.int64)
    count = (hist.sum(axis=1) @ lut).astype(np.int64)
    if dose is None:
        return count, None, None
    count_dose = (hist[:, 1, :] @ lut).astype(np.int64)
    double = _doubles(cidx, codes, pair, pats.weight_kg, dose)
    return count, count_dose, double


def _evaluate_block_sparse(
    cidx: CoverageIndex, pats: CoveragePatients, dose: DoseRule | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None, npt.NDArray[np.bool_] | None]:
    """As :func:`_evaluate_block`, visiting only the units that can count at any level. A unit counts only
    with at most 2 worst-case mismatches of 6 (``w8 <= 2`` implies ``w6 <= 2``: an allele mismatch
    includes the antigen's), so at least one of A, B, DRB1 matches fully: the candidates are the units of
    the fully matching genotypes of A, then of B (A not fully matching), then of DRB1 (neither), each unit
    once; plus the units with genotype alternatives. Every other unit counts at no level."""
    B = len(pats)
    codes, pair, order, prefix, alt, cap_mm, w32 = _block_setup(cidx, pats, dose)
    lists = order.locus_lists()
    g_a, g_bc, g_dr = order.gid
    cols = [np.ascontiguousarray(c.T) for c in (codes[0], codes[1], pair, codes[3])]
    hist = np.zeros((B, 2, KEY_BINS), dtype=np.int64)
    for j in range(B):
        c_a, c_b, c_p, c_dr = (c[j] for c in cols)
        parts = []
        for li, (units, offsets), c_l in zip(range(3), lists, (c_a, c_b, c_dr), strict=True):
            pos = _units_of(units, offsets, np.flatnonzero((c_l & 0xF) == 0))
            if li >= 1 and len(pos):
                pos = pos[(c_a[g_a[pos]] & 0xF) != 0]
            if li == 2 and len(pos):
                pos = pos[(c_b[order.pair_b[g_bc[pos]]] & 0xF) != 0]
            parts.append(pos)
        pos = np.concatenate(parts)
        key = c_a[g_a[pos]] + c_p[g_bc[pos]] + c_dr[g_dr[pos]]
        dosed = _dosed(key, pos, int(prefix[j]), cap_mm, w32[j])
        hist[j, 1] += np.bincount(key[dosed], minlength=KEY_BINS)
        hist[j, 0] += np.bincount(key[~dosed], minlength=KEY_BINS)
        if alt is not None:
            dosed = _dosed(alt[:, j], order.alt_pos, int(prefix[j]), cap_mm, w32[j])
            hist[j, 1] += np.bincount(alt[dosed, j], minlength=KEY_BINS)
            hist[j, 0] += np.bincount(alt[~dosed, j], minlength=KEY_BINS)
    lut = LEVEL_LUT.T.astype(np.int64)
    count = (hist.sum(axis=1) @ lut).astype(np.int64)
    if dose is None:
        return count, None, None
    count_dose = (hist[:, 1, :] @ lut).astype(np.int64)
    return count, count_dose, _doubles(cidx, codes, pair, pats.weight_kg, dose)


def _units_of(
    units: npt.NDArray[np.int64], offsets: npt.NDArray[np.int64], genotypes: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Positions of the units carrying any of ``genotypes`` (CSR ranges joined without a Python loop)."""
    starts = offsets[genotypes]
    lens = offsets[genotypes + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    out: npt.NDArray[np.int64] = units[np.arange(total, dtype=np.int64) + shift]
    return out


_OK46 = LEVEL_LUT[0]
_SCAN = 4096


def _doubles(cidx: CoverageIndex, codes: list[U16], pair: U16, w: F64, dose: DoseRule) -> npt.NDArray[np.bool_]:
    """Per patient: two units >= 4/6 (worst case, no DSA), each with the per-unit double minimums, together
    above the combined TNC minimum. The two largest eligible TNCs decide: units are scanned by TNC
    descending until two are found or no later unit can reach the per-unit minimum. Units with genotype
    alternatives are not used here (conservative)."""
    by_tnc = cidx.tnc_order()
    # each unit: the per-unit double minimums and the search pre-filter (TNC must exceed it)
    tnc_min = max(dose.double_each_tnc, dose.prefilter_tnc)
    strict = dose.double_each_tnc <= dose.prefilter_tnc
    cap2 = cidx.capacity("double", tnc_min, max(dose.double_each_cd34, dose.prefilter_cd34))
    out = np.zeros(len(w), dtype=np.bool_)
    for j in range(len(w)):
        floor = np.float32(tnc_min * TNC_UNIT * w[j])
        wj = np.float32(w[j])
        found: list[float] = []
        for s in range(0, len(by_tnc), _SCAN):
            idx = by_tnc[s : s + _SCAN]
            key = codes[0][cidx.gid[0, idx], j] + pair[cidx.gid[1, idx], j] + codes[3][cidx.gid[2, idx], j]
            dosed = cap2[idx] > wj if strict else cap2[idx] >= wj
            ok = np.flatnonzero(_OK46[key] & dosed)[: 2 - len(found)]
            found.extend(float(cidx.tnc[i]) for i in idx[ok])
            if len(found) == 2 or cidx.tnc[idx[-1]] < floor:
                break
        out[j] = len(found) == 2 and sum(found) > dose.double_combined_tnc * TNC_UNIT * w[j]
    return out


def served_matrix(
    cidx: CoverageIndex, pats: CoveragePatients, level: str, dose: DoseRule | None = None
) -> npt.NDArray[np.bool_]:
    """(P, N) whether unit n serves patient p at ``level`` or better (worst case, no DSA; with ``dose``,
    also the single-unit dose). Meant for small indexes (candidate units)."""
    if level not in LEVELS:
        raise InvalidInputError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}", where="level")
    lut = LEVEL_LUT[LEVELS.index(level)]
    out = np.zeros((len(pats), len(cidx)), dtype=np.bool_)
    for s in range(0, len(pats), 64):
        rows = range(s, min(s + 64, len(pats)))
        sub = pats.take(np.arange(rows.start, rows.stop))
        codes = _block_codes(cidx, sub, range(len(sub)))
        pair = (codes[1][cidx.pair_b] + codes[2][cidx.pair_c]).astype(np.uint16)
        alt = _alt_keys(cidx, codes) if len(cidx.alt_pos) else None
        key = _chunk_keys(cidx, codes, pair, alt, 0, len(cidx))  # (N, B)
        ok = lut[key]
        if dose is not None:
            for cls in np.unique(sub.malignant):
                m = sub.malignant == cls
                tnc_min, strict = _single_rule(sub.take(np.flatnonzero(m)), dose)
                cap = cidx.capacity("single", tnc_min, dose.single_cd34_min)
                w = sub.weight_kg[m].astype(np.float32)
                dosed = (cap[:, None] > w[None, :]) if strict else (cap[:, None] >= w[None, :])
                cap_mm = _mismatched_cap(cidx, dose, tnc_min)
                if cap_mm is not None:
                    dosed = np.where((key[:, m] & 0xF) >= 2, cap_mm[:, None] >= w[None, :], dosed)
                ok[:, m] &= dosed
        out[s : rows.stop] = ok.T
    return out
