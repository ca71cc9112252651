"""Vectorised grading of one patient against the index: per-locus results over distinct genotypes, then
one gather per locus and unit, summed as packed uint32 fields.

The per-locus logic mirrors :func:`cordmatch.matching.coded.grade_coded` (tests check equality): for a
codable unit, ``match_8 = 8 - mm8`` when ``unsure8 == 0`` else unresolved; ``match_6 = 6 - mm6`` when
``bad6 == 0``. ``mm8`` always counts the *certain* allele mismatches, so ``8 - mm8`` is an upper bound
of the 8 count for units typed at antigen level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import CodedRelation
from cordmatch.matching.coded import CODED_LOCI
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.index import UnitIndex

I16 = npt.NDArray[np.int16]
U16 = npt.NDArray[np.uint16]

# Packed per-locus fields, summed over the 4 loci in a uint16 without overflow:
# certain allele mismatches of 8 (<= 8), of 6 (<= 6), loci unresolved for 8, loci bad for 6, loci with DSA,
# and one bit for a certain HLA-C allele mismatch (only locus C sets it).
MM8, MM6, UNSURE8, BAD6, DSA_DEF, C_MM = 0, 4, 7, 10, 12, 15
_WIDTH = {MM8: 0xF, MM6: 0x7, UNSURE8: 0x7, BAD6: 0x3, DSA_DEF: 0x7, C_MM: 0x1}
_C = 2  # index of locus C in CODED_LOCI
_DRB1 = 3


def field(packed: U16, shift: int) -> npt.NDArray[np.uint16]:
    """One field of the summed packed results."""
    return (packed >> np.uint16(shift)) & np.uint16(_WIDTH[shift])


_ALL = np.arange(65536, dtype=np.uint32).astype(np.uint16)
#: packed value -> 2 or more mismatches of 6 at worst (certain ones plus 2 per unresolved or untyped locus)
_MISMATCHED6 = (field(_ALL, MM6).astype(np.int16) + 2 * field(_ALL, BAD6).astype(np.int16)) >= 2

Side = list[Any]  # two positions: int16 arrays (G,) or numpy scalars


def _same_differ(a: Any, b: Any, rel: CodedRelation | None) -> tuple[Any, Any]:
    """Antigen codes certainly the same / certainly different: equality, or the WHO relation
    (``tables.coded_relation``: 0 same, 1 related, 2 different) when given."""
    if rel is None:
        same = a == b
        return same, ~same
    r = rel.matrix[np.maximum(a, 0), np.maximum(b, 0)]
    typed = (a >= 0) & (b >= 0)
    return typed & (r == 0), ~typed | (r == 2)


def _family(ag: Any, al: Any, rel: CodedRelation) -> Any:
    """First-field family of a position: its protein's, or the family of the XX code it is (-1 else)."""
    return np.where(al >= 0, rel.lgx_family[np.maximum(al, 0)], rel.code_family[np.maximum(ag, 0)])


def _directional(
    s_ag: Side,
    s_al: Side,
    t_ag: Side,
    t_al: Side,
    rel: CodedRelation | None = None,
    pre: tuple[list[list[Any]], list[list[Any]], list[Any], list[Any]] | None = None,
) -> tuple[Any, Any, Any, Any]:
    """Source positions the target certainly lacks (antigen level, allele level), whether any source
    position is unsettled at allele level, and whether any is unsettled at antigen level: the rule of
    :func:`cordmatch.matching.coded.grade_coded`, written out over the 2 x 2 positions so each step is one
    flat vector operation. ``pre`` = (same[i][j], different[i][j], source families, target families) computed
    once for both directions (the relation is symmetric); else they are computed here from ``rel``."""
    ag_count: Any = 0
    al_count: Any = 0
    unsure: Any = False
    ag_unsure: Any = False
    t_unknown = [t_al[0] < 0, t_al[1] < 0]
    if pre is None and rel is not None:
        sd = [[_same_differ(s_ag[i], t_ag[j], rel) for j in (0, 1)] for i in (0, 1)]
        pre = (
            [[sd[i][j][0] for j in (0, 1)] for i in (0, 1)],
            [[sd[i][j][1] for j in (0, 1)] for i in (0, 1)],
            [_family(s_ag[i], s_al[i], rel) for i in (0, 1)],
            [_family(t_ag[j], t_al[j], rel) for j in (0, 1)],
        )
    for i in (0, 1):
        if pre is None:
            same0, diff0 = _same_differ(s_ag[i], t_ag[0], None)
            same1, diff1 = _same_differ(s_ag[i], t_ag[1], None)
        else:
            (same0, same1), (diff0, diff1) = pre[0][i], pre[1][i]
        known = s_al[i] >= 0
        present = known & ((s_al[i] == t_al[0]) | (s_al[i] == t_al[1]))
        poss = [~diff0 & (~known | t_unknown[0]), ~diff1 & (~known | t_unknown[1])]
        if pre is not None:
            s_fam, t_fam = pre[2][i], pre[3]
            for j in (0, 1):  # an XX code may share a protein with its own family only (grade_coded)
                rule = (s_ag[i] >= 0) & (t_ag[j] >= 0) & (~known | t_unknown[j]) & (s_fam >= 0) & (t_fam[j] >= 0)
                poss[j] = np.where(rule, s_fam == t_fam[j], poss[j])
        possible = poss[0] | poss[1]
        absent = diff0 & diff1
        ag_count = ag_count + absent
        ag_unsure = ag_unsure | (~(same0 | same1) & ~absent)
        al_count = al_count + (~present & ~possible)
        unsure = unsure | (~present & possible)
    return ag_count, al_count, unsure, ag_unsure


def _precomputed(
    pa: Side, pl: Side, ga: Side, gl: Side, rel: CodedRelation
) -> tuple[tuple[list[list[Any]], list[list[Any]], list[Any], list[Any]], ...]:
    """(same, different, families) of every patient/genotype position pair, once per locus: one row of the
    (symmetric) relation per patient position gathered at the genotype codes; both directions' views."""
    rows = [rel.matrix[max(int(pa[i]), 0)] for i in (0, 1)]
    same: list[list[Any]] = [[None, None], [None, None]]
    diff: list[list[Any]] = [[None, None], [None, None]]
    for i in (0, 1):
        for j in (0, 1):
            r = rows[i][np.maximum(ga[j], 0)]
            typed = (pa[i] >= 0) & (ga[j] >= 0)
            same[i][j] = typed & (r == 0)
            diff[i][j] = ~typed | (r == 2)
    p_fam = [_family(pa[i], pl[i], rel) for i in (0, 1)]
    g_fam = [_family(ga[j], gl[j], rel) for j in (0, 1)]
    swap_same = [[same[j][i] for j in (0, 1)] for i in (0, 1)]
    swap_diff = [[diff[j][i] for j in (0, 1)] for i in (0, 1)]
    return (same, diff, p_fam, g_fam), (swap_same, swap_diff, g_fam, p_fam)


def locus_results(
    locus: int,
    p_ag: I16,
    p_al: I16,
    g_ag: I16,
    g_al: I16,
    profile: AntibodyProfile | None = None,
    relation: CodedRelation | None = None,
) -> tuple[U16, npt.NDArray[np.bool_]]:
    """Packed results of patient positions (2,) against genotypes (G, 2) at one locus, and the genotypes
    that possibly (not definitely) carry a DSA target."""
    G = len(g_ag)
    pa, pl = [p_ag[0], p_ag[1]], [p_al[0], p_al[1]]
    ga, gl = [g_ag[:, 0], g_ag[:, 1]], [g_al[:, 0], g_al[:, 1]]
    pre_gvh, pre_hvg = _precomputed(pa, pl, ga, gl, relation) if relation is not None else (None, None)
    gvh_ag, gvh_al, gvh_u, gvh_agu = _directional(pa, pl, ga, gl, relation, pre_gvh)
    hvg_ag, hvg_al, hvg_u, hvg_agu = _directional(ga, gl, pa, pl, relation, pre_hvg)
    ag_unsure = np.asarray(gvh_agu | hvg_agu)
    missing = (g_ag[:, 0] < 0) | (p_ag[0] < 0)
    unsure = np.asarray(gvh_u | hvg_u | missing)
    zero = np.uint16(0)
    bi_al = np.where(missing, zero, np.maximum(gvh_al, hvg_al).astype(np.uint16))
    bi_ag = np.where(missing, zero, np.maximum(gvh_ag, hvg_ag).astype(np.uint16))
    out = (bi_al << MM8) | (unsure.astype(np.uint16) << UNSURE8)
    if locus in (0, 1):
        out |= (bi_ag << MM6) | ((missing | ag_unsure).astype(np.uint16) << BAD6)
    elif locus == _DRB1:
        out |= (bi_al << MM6) | ((missing | unsure).astype(np.uint16) << BAD6)
    else:
        out |= (bi_al > 0).astype(np.uint16) << C_MM
    possible = np.zeros(G, dtype=np.bool_)
    if profile is not None and not profile.empty:
        definite, possible = profile.coded_hits(g_ag, g_al)
        out |= definite.astype(np.uint16) << DSA_DEF
        if CODED_LOCI[locus] in profile.coded_loci:  # untyped at a locus with antibodies: not assessed
            possible = possible | (g_ag[:, 0] < 0)
    return out.astype(np.uint16), possible


@dataclass
class Graded:
    """Per-slot results of one search (length = index.n): summed packed fields, C-locus mismatches, and
    the slots with a possible (not definite) DSA."""

    packed: U16
    dsa_possible: npt.NDArray[np.bool_] | None

    def mm8(self) -> U16:
        return field(self.packed, MM8)

    def unsure8(self) -> npt.NDArray[np.bool_]:
        return field(self.packed, UNSURE8) > 0

    def match_8(self) -> npt.NDArray[np.int8]:
        return np.where(self.unsure8(), -1, 8 - self.mm8().astype(np.int8)).astype(np.int8)

    def match_6(self) -> npt.NDArray[np.int8]:
        bad = field(self.packed, BAD6) > 0
        return np.where(bad, -1, 6 - field(self.packed, MM6).astype(np.int8)).astype(np.int8)

    def c_mismatch(self) -> npt.NDArray[np.bool_]:
        return field(self.packed, C_MM) > 0

    def dsa_definite(self) -> npt.NDArray[np.bool_]:
        return field(self.packed, DSA_DEF) > 0

    def mismatched6(self) -> npt.NDArray[np.bool_]:
        """Units with 2 or more mismatches of 6 at worst (one look-up gather over the packed results)."""
        out: npt.NDArray[np.bool_] = np.take(_MISMATCHED6, self.packed, mode="clip")
        return out

    def mm6_worst(self) -> npt.NDArray[np.int16]:
        """Mismatches of 6 at worst: certain ones plus 2 for every unresolved or untyped locus."""
        mm6 = field(self.packed, MM6).astype(np.int16) + 2 * field(self.packed, BAD6).astype(np.int16)
        out: npt.NDArray[np.int16] = np.minimum(mm6, 6).astype(np.int16)
        return out


def grade_index(
    index: UnitIndex,
    p_ag: I16,
    p_al: I16,
    profile: AntibodyProfile | None = None,
    relation: CodedRelation | None = None,
) -> Graded:
    """Grade every slot: one gather per id row (A, B-C pair, DRB1) from the per-genotype results, summed.
    ``relation`` is ``tables.coded_relation`` (WHO antigen relation); None compares codes for equality."""
    n = index.n
    total = np.empty(n, dtype=np.uint16)
    part = np.empty(n, dtype=np.uint16)
    possible: npt.NDArray[np.bool_] | None = None
    results: list[tuple[U16, npt.NDArray[np.bool_]]] = [
        locus_results(li, p_ag[li], p_al[li], g.ag, g.al, profile, relation) for li, g in enumerate(index.genotypes)
    ]
    bc = index.bc
    rows = [
        results[0],
        (results[1][0][bc.b] + results[2][0][bc.c], results[1][1][bc.b] | results[2][1][bc.c]),
        results[3],
    ]
    for li, (res, pos) in enumerate(rows):
        gid = index.gid[li, :n]
        if li == 0:
            np.take(res, gid, out=total, mode="clip")
        else:
            np.take(res, gid, out=part, mode="clip")
            np.add(total, part, out=total)
        if pos.any():
            hit = np.take(pos, gid, mode="clip")
            possible = hit if possible is None else possible | hit
    if len(index.alt_owner):
        possible = _grade_alternatives(index, results, total, possible)
    if possible is not None:
        possible &= field(total, DSA_DEF) == 0
    return Graded(total, possible)


def _grade_alternatives(
    index: UnitIndex,
    results: list[tuple[U16, npt.NDArray[np.bool_]]],
    total: U16,
    possible: npt.NDArray[np.bool_] | None,
) -> npt.NDArray[np.bool_] | None:
    """Ambiguous units with coded genotype alternatives: grade each row, then per unit a count only when all
    rows agree (as :func:`cordmatch.matching.grade` does); the certain mismatches are the fewest of any row."""
    owner = index.alt_owner  # sorted by owner; withdrawn owners' rows are removed on withdrawal
    if len(owner) == 0:
        return possible
    gid = index.alt_gid
    rows = np.zeros(len(owner), dtype=np.uint16)
    pos_rows = np.zeros(len(owner), dtype=np.bool_)
    for li, (res, pos) in enumerate(results):
        rows += res[gid[li]]
        if pos.any():
            pos_rows |= pos[gid[li]]
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    slots = owner[starts]

    def lo(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.minimum.reduceat(x, starts)

    def hi(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return np.maximum.reduceat(x, starts)

    mm8, mm6 = field(rows, MM8), field(rows, MM6)
    uns8, bad6, dsa = field(rows, UNSURE8), field(rows, BAD6), field(rows, DSA_DEF)
    lo8, lo6 = lo(mm8), lo(mm6)
    unsure = (lo8 != hi(mm8)) | (hi(uns8) > 0)
    bad = (lo6 != hi(mm6)) | (hi(bad6) > 0)
    any_dsa = bool(dsa.any()) or bool(pos_rows.any())
    definite = lo(dsa) > 0 if any_dsa else np.zeros(len(starts), dtype=np.bool_)
    packed = (
        (lo8.astype(np.uint16) << MM8)
        | (lo6.astype(np.uint16) << MM6)
        | (unsure.astype(np.uint16) << UNSURE8)
        | (bad.astype(np.uint16) << BAD6)
        | (definite.astype(np.uint16) << DSA_DEF)
        | (lo(field(rows, C_MM)).astype(np.uint16) << C_MM)
    )
    total[slots] = packed
    if not any_dsa:
        return possible
    maybe = ((hi(dsa) > 0) | (hi(pos_rows.astype(np.uint8)) > 0)) & ~definite
    if maybe.any():
        if possible is None:
            possible = np.zeros(len(total), dtype=np.bool_)
        possible[slots] = maybe
    return possible
