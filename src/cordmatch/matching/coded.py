"""Vectorised grading of integer-coded typings (the hot path of registry search and benchmarks).

A coded typing holds, for the loci A, B, C, DRB1 and each of the two positions, an *antigen id* (WHO
serologic antigen, ``tables.serology_names``) and an *allele id* (lgx, P group at two fields) as int16.
Antigen ids are compared through ``tables.serology_relation`` (same / related through a broad / different),
passed as ``relation``; without it antigen ids are compared for equality (stricter: a related or associated
antigen then counts as a mismatch). Codes:
- antigen id -1: locus not typed;
- allele id -1: typed at antigen level only (the allele is unknown within the antigen).

Null positions are coded as homozygous for the other position. A low-resolution token whose alleles carry
several WHO antigens (``A*02:XX``: A2, A203 or A210) has one *antigen set* id whose relation to every id
is precomputed (``tables.antigen_code``). An allele list within one antigen
(``DRB1*01:01/DRB1*01:02``) is coded as "allele unknown within the antigen", which is cautious: against a
third allele of that antigen it counts as unresolved where the exact grader sees a sure mismatch (callers
re-grade their shortlist exactly). Typings that do not fit this form
(genotype alternatives, allele lists spanning antigens, a locus with no expressed allele) are *not
codable*: :func:`code_typing` returns None and callers grade them exactly with
:func:`cordmatch.matching.grade` (or by probability). For codable typings the counts equal that function's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cordmatch.hla.serology import MATCH as _MATCH
from cordmatch.hla.serology import MISMATCH as _MISMATCH
from cordmatch.hla.tables import CodedRelation
from cordmatch.hla.typing import HlaTyping, Position

CODED_LOCI = ("A", "B", "C", "DRB1")
#: Level used for each coded locus in the 6 count (A, B antigen; DRB1 allele); C is not counted.
_M6_ANTIGEN = np.array([True, True, False, False])
_M6_ALLELE = np.array([False, False, False, True])
_M6_USED = _M6_ANTIGEN | _M6_ALLELE

Codes = npt.NDArray[np.int16]
NOT_TYPED = -1
UNKNOWN_ALLELE = -1


@dataclass(frozen=True, slots=True)
class CodedCounts:
    """Per pair: matched counts (``-1`` = not available) and per-locus bidirectional allele mismatches."""

    match_8: npt.NDArray[np.int8]
    match_8_gvh: npt.NDArray[np.int8]
    match_8_hvg: npt.NDArray[np.int8]
    match_6: npt.NDArray[np.int8]
    match_6_gvh: npt.NDArray[np.int8]
    match_6_hvg: npt.NDArray[np.int8]
    #: (..., 4) bidirectional mismatches per locus at allele level, -1 when unresolved or missing.
    locus_allele_mismatches: npt.NDArray[np.int8]


def position_code(pos: Position) -> tuple[int, int] | None:
    """(antigen code, allele code) of one presented position, or None when it is not codable."""
    t = pos.tables
    if len(pos.proteins) == 1:
        code = t.antigen_code(pos.antigens)
        return None if code is None else (code, next(iter(pos.proteins)))
    families = {tok.split(":", 1)[0] for tok in pos.tokens}
    if all(tok.endswith(":XX") for tok in pos.tokens) and len(families) == 1:
        code = t.antigen_code(pos.antigens, t.antigen_index.get(families.pop(), -1))
    else:
        code = t.antigen_code(pos.antigens)
    return None if code is None else (code, UNKNOWN_ALLELE)


def code_typing(typing: HlaTyping) -> tuple[Codes, Codes] | None:
    """(antigen ids, allele ids), each shaped (4, 2), or None when the typing is not codable."""
    ag = np.full((4, 2), NOT_TYPED, dtype=np.int16)
    al = np.full((4, 2), UNKNOWN_ALLELE, dtype=np.int16)
    for li, locus in enumerate(CODED_LOCI):
        lt = typing.loci.get(locus)
        if lt is None:
            continue
        if len(lt.alternatives) != 1:
            return None
        p1, p2 = lt.alternatives[0]
        if p1.is_null and p2.is_null:
            return None
        presented = [p2, p2] if p1.is_null else [p1, p1] if p2.is_null else [p1, p2]
        for k, pos in enumerate(presented):
            coded = position_code(pos)
            if coded is None:
                return None
            ag[li, k], al[li, k] = coded
    return ag, al


Relation = CodedRelation | npt.NDArray[np.int8] | None


def _directional(
    s_ag: Codes, s_al: Codes, t_ag: Codes, t_al: Codes, relation: Relation
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int8], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Source positions the target certainly lacks, per locus: (antigen level, allele level, allele unsure,
    antigen unsure)."""
    sa, sl = s_ag[..., :, :, None], s_al[..., :, :, None]
    ta, tl = t_ag[..., :, None, :], t_al[..., :, None, :]
    typed = (sa >= 0) & (ta >= 0)
    if relation is None:
        same_ag = sa == ta  # (..., 4, 2, 2)
        differ_ag = ~same_ag
    else:
        matrix = relation.matrix if isinstance(relation, CodedRelation) else relation
        rel = matrix[np.maximum(sa, 0), np.maximum(ta, 0)]
        same_ag = typed & (rel == _MATCH)
        differ_ag = ~typed | (rel == _MISMATCH)
    ag_present = same_ag.any(-1)
    ag_absent = differ_ag.all(-1)
    ag_unsure = (~ag_present & ~ag_absent).any(-1)
    both_known = (sl >= 0) & (tl >= 0)
    present = both_known & (sl == tl)
    possible = ~differ_ag & ~both_known
    if isinstance(relation, CodedRelation):
        # an XX code stands for every allele of its family: it may share a protein with any position of
        # that family (whatever the antigen), and with no other
        s_fam = np.where(sl >= 0, relation.lgx_family[np.maximum(sl, 0)], relation.code_family[np.maximum(sa, 0)])
        t_fam = np.where(tl >= 0, relation.lgx_family[np.maximum(tl, 0)], relation.code_family[np.maximum(ta, 0)])
        family_rule = typed & ~both_known & (s_fam >= 0) & (t_fam >= 0)
        possible = np.where(family_rule, s_fam == t_fam, possible)
    present_any = present.any(-1)
    possible_any = possible.any(-1)
    al_absent = ~present_any & ~possible_any
    unsure = (~present_any & possible_any).any(-1)
    return ag_absent.sum(-1, dtype=np.int8), al_absent.sum(-1, dtype=np.int8), unsure, ag_unsure


def grade_coded(p_ag: Codes, p_al: Codes, d_ag: Codes, d_al: Codes, relation: Relation = None) -> CodedCounts:
    """Grade coded patients against coded donors; shapes broadcast over leading axes (..., 4, 2).

    One patient (4, 2) against n units (n, 4, 2) gives arrays of length n; n pairs give n results.
    ``relation`` is ``tables.coded_relation`` (WHO antigen relation and families; exact for XX codes),
    ``tables.serology_relation`` (the relation only) or None (antigen ids compared for equality).
    """
    gvh_ag, gvh_al, gvh_unsure, gvh_ag_unsure = _directional(p_ag, p_al, d_ag, d_al, relation)
    hvg_ag, hvg_al, hvg_unsure, hvg_ag_unsure = _directional(d_ag, d_al, p_ag, p_al, relation)
    missing = (p_ag[..., 0] < 0) | (d_ag[..., 0] < 0)  # (..., 4)
    unsure = gvh_unsure | hvg_unsure | missing
    bi_al = np.maximum(gvh_al, hvg_al)
    bi_ag = np.maximum(gvh_ag, hvg_ag)

    def total(out_of: int, per_locus: npt.NDArray[np.int8], bad: npt.NDArray[np.bool_]) -> npt.NDArray[np.int8]:
        return np.where(bad.any(-1), np.int8(-1), (out_of - per_locus.sum(-1)).astype(np.int8))

    gvh_bad, hvg_bad = gvh_unsure | missing, hvg_unsure | missing
    m6_missing = missing & _M6_USED
    ag_unsure = gvh_ag_unsure | hvg_ag_unsure

    def six(a: npt.NDArray[np.int8], b: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
        return np.where(_M6_ANTIGEN, a, np.where(_M6_ALLELE, b, 0)).astype(np.int8)

    def bad6(al_unsure: npt.NDArray[np.bool_], agu: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = m6_missing | (al_unsure & _M6_ALLELE) | (agu & _M6_ANTIGEN)
        return out

    return CodedCounts(
        match_8=total(8, bi_al, unsure),
        match_8_gvh=total(8, gvh_al, gvh_bad),
        match_8_hvg=total(8, hvg_al, hvg_bad),
        match_6=total(6, six(bi_ag, bi_al), bad6(unsure, ag_unsure)),
        match_6_gvh=total(6, six(gvh_ag, gvh_al), bad6(gvh_unsure, gvh_ag_unsure)),
        match_6_hvg=total(6, six(hvg_ag, hvg_al), bad6(hvg_unsure, hvg_ag_unsure)),
        locus_allele_mismatches=np.where(unsure, np.int8(-1), bi_al).astype(np.int8),
    )
