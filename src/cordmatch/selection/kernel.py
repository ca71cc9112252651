"""Vectorised grading of one patient against the index: per-locus results over distinct genotypes, then
one gather per locus and unit, summed as packed uint32 fields.

The per-locus logic mirrors :func:`cordmatch.matching.coded.grade_coded` (tests check equality): for a
codable unit, ``match_8 = 8 - mm8`` when ``unsure8 == 0`` else unresolved; ``match_6 = 6 - mm6`` when
``bad6 == 0``. ``mm8`` always counts the *certain* allele mismatches, so ``8 - mm8`` is an upper bound
of the 8 count for units typed at antigen level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.index import UnitIndex

I16 = npt.NDArray[np.int16]
U16 = npt.NDArray[np.uint16]

# Packed per-locus fields, summed over the 4 loci in a uint16 without overflow:
# certain allele mismatches of 8 (<= 8), of 6 (<= 6), loci unresolved for 8, loci bad for 6, loci with DSA.
MM8, MM6, UNSURE8, BAD6, DSA_DEF = 0, 4, 7, 10, 12
_WIDTH = {MM8: 0xF, MM6: 0x7, UNSURE8: 0x7, BAD6: 0x3, DSA_DEF: 0x7}
_C = 2  # index of locus C in CODED_LOCI
_DRB1 = 3


def field(packed: U16, shift: int) -> npt.NDArray[np.uint16]:
    """One field of the summed packed results."""
    return (packed >> np.uint16(shift)) & np.uint16(_WIDTH[shift])


def _directional(
    s_ag: I16, s_al: I16, t_ag: I16, t_al: I16
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    sa, sl = s_ag[..., :, None], s_al[..., :, None]
    ta, tl = t_ag[..., None, :], t_al[..., None, :]
    same_ag = sa == ta
    ag_absent = ~same_ag.any(-1)
    present = ((sl >= 0) & (sl == tl)).any(-1)
    possible = (same_ag & ((sl < 0) | (tl < 0))).any(-1)
    al_absent = ~present & ~possible
    unsure = (~present & possible).any(-1)
    return ag_absent.sum(-1), al_absent.sum(-1), unsure


def locus_results(
    locus: int, p_ag: I16, p_al: I16, g_ag: I16, g_al: I16, profile: AntibodyProfile | None = None
) -> tuple[U16, npt.NDArray[np.bool_]]:
    """Packed results of patient positions (2,) against genotypes (G, 2) at one locus, and the genotypes
    that possibly (not definitely) carry a DSA target."""
    G = len(g_ag)
    pa = np.broadcast_to(p_ag, (G, 2))
    pl = np.broadcast_to(p_al, (G, 2))
    gvh_ag, gvh_al, gvh_u = _directional(pa, pl, g_ag, g_al)
    hvg_ag, hvg_al, hvg_u = _directional(g_ag, g_al, pa, pl)
    missing = (g_ag[:, 0] < 0) | (p_ag[0] < 0)
    unsure = gvh_u | hvg_u | missing
    bi_al = np.where(missing, 0, np.maximum(gvh_al, hvg_al))
    bi_ag = np.where(missing, 0, np.maximum(gvh_ag, hvg_ag))
    out = (bi_al << MM8) | (unsure.astype(np.int64) << UNSURE8)
    if locus in (0, 1):
        out |= (bi_ag << MM6) | (missing.astype(np.int64) << BAD6)
    elif locus == _DRB1:
        out |= (bi_al << MM6) | ((missing | unsure).astype(np.int64) << BAD6)
    possible = np.zeros(G, dtype=np.bool_)
    if profile is not None and not profile.empty:
        definite, possible = profile.coded_hits(g_ag, g_al)
        out |= definite.astype(np.int64) << DSA_DEF
    return out.astype(np.uint16), possible


@dataclass
class Graded:
    """Per-slot results of one search (length = index.n): summed packed fields, C-locus mismatches, and
    the slots with a possible (not definite) DSA."""

    packed: U16
    c_mm: U16
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

    def dsa_definite(self) -> npt.NDArray[np.bool_]:
        return field(self.packed, DSA_DEF) > 0


def grade_index(index: UnitIndex, p_ag: I16, p_al: I16, profile: AntibodyProfile | None = None) -> Graded:
    """Grade every slot: one gather per locus from the per-genotype results, summed."""
    n = index.n
    total = np.empty(n, dtype=np.uint16)
    part = np.empty(n, dtype=np.uint16)
    c_mm = np.empty(n, dtype=np.uint16)
    possible: npt.NDArray[np.bool_] | None = None
    for li, g in enumerate(index.genotypes):
        res, pos = locus_results(li, p_ag[li], p_al[li], g.ag, g.al, profile)
        gid = index.gid[li, :n]
        if li == 0:
            np.take(res, gid, out=total, mode="clip")
        else:
            np.take(res, gid, out=part, mode="clip")
            np.add(total, part, out=total)
            if li == _C:
                np.bitwise_and(part, np.uint16(0xF), out=c_mm)
        if pos.any():
            hit = np.take(pos, gid, mode="clip")
            possible = hit if possible is None else possible | hit
    if possible is not None:
        possible &= field(total, DSA_DEF) == 0
    return Graded(total, c_mm, possible)
