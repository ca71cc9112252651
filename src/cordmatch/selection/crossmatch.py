"""Virtual crossmatch: the patient's anti-HLA antibodies against each unit's antigens (DSA).

Specificities as labs report them: antigen level (serology ``A2``, ``Cw7``, ``DR53``, ``DQ7``; first field
``A*02``; ``A*02:XX``) hit a unit position of that antigen; allele level (``A*02:01``) hits a position of
that protein and *possibly* a position typed only at antigen level within the same antigen; the public
epitopes ``Bw4``/``Bw6`` hit the A and B antigens that carry them (:mod:`cordmatch.selection.epitopes`).
The locus of an antibody is the locus of the alleles it names (``DR53`` is DRB4, not DRB1).

Per unit: a typed locus is compared directly. An untyped DRB3/4/5 is inferred from DRB1 (DR52 with
DRB1*03/11/12/13/14, DR53 with DRB1*04/07/09, DR51 with DRB1*15/16): "possible DSA, type DRB3/4/5". An
untyped locus otherwise (DQ, DP, or an untyped A/B/C/DRB1) is "not assessed" on that unit, never "none".
Antibodies at or above the MFI threshold count (domain.md §4: a per-centre setting); those below are
reported on the units they would hit (info).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.names import TokenShape, shape_of
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping
from cordmatch.matching.coded import CODED_LOCI
from cordmatch.selection.epitopes import (
    DRB_SECONDARY,
    DRB_SECONDARY_NAME,
    PUBLIC_EPITOPES,
    bw_epitope,
    drb1_family,
)
from cordmatch.selection.model import Antibody

_SPLIT = re.compile(r"[,\t;]|\s+")


def parse_antibodies(text: str, source: str = "antibodies") -> tuple[Antibody, ...]:
    """Antibody lines ``SPECIFICITY,MFI`` (comma, tab, semicolon or spaces); ``#`` comments, blank lines and
    a ``specificity,mfi`` header are skipped. Raises InvalidInputError naming the line and field."""
    out: list[Antibody] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f for f in _SPLIT.split(line) if f]
        if n == 1 and fields and fields[0].lower() in ("specificity", "antibody", "allele", "antigen"):
            continue
        if len(fields) != 2:
            raise InvalidInputError(
                f"expected 2 fields (specificity, MFI), found {len(fields)}", where=f"{source} line {n}"
            )
        spec, mfi_text = fields
        try:
            if spec.strip().upper().replace("BW", "Bw") not in PUBLIC_EPITOPES:
                shape_of(spec)
        except InvalidInputError as exc:
            raise InvalidInputError(f"field specificity: {exc.message}", where=f"{source} line {n}") from None
        try:
            mfi = float(mfi_text)
        except ValueError:
            raise InvalidInputError(f"field MFI: {mfi_text!r} is not a number", where=f"{source} line {n}") from None
        if not np.isfinite(mfi) or mfi < 0:
            raise InvalidInputError(f"field MFI: {mfi_text!r} must be >= 0", where=f"{source} line {n}")
        out.append(Antibody(spec, mfi, n, source))
    return tuple(out)


@dataclass(frozen=True)
class ResolvedAntibody:
    """An antibody resolved against the release, at one locus: which antigen ids it hits at any resolution,
    which proteins (lgx ids) it hits, which antigens it hits when the allele is unknown (public epitopes:
    the antigen's alleles mostly carry it) and which antigens it possibly hits when the allele is unknown."""

    antibody: Antibody
    locus: str
    level: str  # antigen | allele | epitope
    antigens: frozenset[int]
    proteins: frozenset[int]
    unknown_hit: frozenset[int] = frozenset()
    possible: frozenset[int] = frozenset()
    alleles: frozenset[int] = frozenset()  # public epitopes: the expressed alleles carrying it

    @property
    def label(self) -> str:
        """``A2 (MFI 8000)``."""
        return f"{self.antibody.specificity} (MFI {self.antibody.mfi:g})"

    def position_hit(
        self, antigens: frozenset[int], proteins: frozenset[int], expressed: frozenset[int] = frozenset()
    ) -> tuple[bool, bool]:
        """(certainly hit, possibly hit) for one typed position (its antigen, protein and allele ids). A public
        epitope certainly hits an antigen-level position when most of the position's alleles carry it."""
        if not antigens:
            return False, False
        # antigen level: a position that may carry the antigen counts (as a first-field typing did)
        sure = bool(antigens & self.antigens) if self.level == "antigen" else antigens <= self.antigens
        sure = sure or (bool(proteins) and proteins <= self.proteins)
        if len(proteins) != 1 and not sure:
            if self.alleles and expressed:
                sure = 2 * len(expressed & self.alleles) > len(expressed)
            else:
                sure = antigens <= self.unknown_hit
        maybe = sure or bool(antigens & self.antigens) or bool(proteins & self.proteins)
        if len(proteins) != 1 and self.level != "epitope":  # allele unknown: a related antigen may be hit
            maybe = maybe or bool(antigens & self.possible)
        return sure, maybe


@dataclass(frozen=True)
class Crossmatch:
    """The antibodies against one unit: definite DSA, possible DSA and not assessed (labels with MFI)."""

    definite: tuple[str, ...] = ()
    possible: tuple[str, ...] = ()
    not_assessed: tuple[str, ...] = ()


@lru_cache(maxsize=4)
def _epitope_ids(tables: NomenclatureTables) -> dict[tuple[str, str], tuple[frozenset[int], ...]]:
    """Per (epitope, locus): proteins carrying it, antigens mostly carrying it, antigens with any carrier,
    expressed alleles carrying it."""
    carriers: dict[tuple[str, str], set[int]] = {}
    count: dict[tuple[str, str, int], int] = {}
    total: dict[int, int] = {}
    for a, name in enumerate(tables.alleles):
        locus = name.split("*", 1)[0]
        if locus not in ("A", "B") or tables.allele_null[a]:
            continue
        ag = int(tables.allele_serology[a])
        total[ag] = total.get(ag, 0) + 1
        ep = bw_epitope(tables.lgx_names[int(tables.allele_lgx[a])])  # by protein: same ARD, same epitope
        if ep is None:
            continue
        carriers.setdefault((ep, locus), set()).add(a)
        count[(ep, locus, ag)] = count.get((ep, locus, ag), 0) + 1
    out: dict[tuple[str, str], tuple[frozenset[int], ...]] = {}
    for (ep, locus), alleles in carriers.items():
        prots = frozenset(int(tables.allele_lgx[a]) for a in alleles)
        ags = {ag for (e, lo, ag) in count if e == ep and lo == locus}
        mostly = frozenset(ag for ag in ags if 2 * count[(ep, locus, ag)] > total[ag])
        out[(ep, locus)] = (prots, mostly, frozenset(ags), frozenset(alleles))
    return out


def resolve(ab: Antibody, tables: NomenclatureTables) -> list[ResolvedAntibody]:
    """The antibody per locus it hits (a public epitope hits A and B); InvalidInputError for unknown names."""
    spec = ab.specificity.strip()
    epitope = spec.upper().replace("BW", "Bw")
    if epitope in PUBLIC_EPITOPES:
        ids = _epitope_ids(tables)
        return [
            ResolvedAntibody(ab, locus, "epitope", frozenset(), *ids[(epitope, locus)])
            for locus in ("A", "B")
            if (epitope, locus) in ids
        ]
    shape, members = _specificity_members(spec, f"{ab.source} line {ab.line}" if ab.line else spec, tables)
    level = "antigen" if shape.kind in ("serology", "xx") or len(shape.fields) == 1 else "allele"
    by_locus: dict[str, list[int]] = {}
    for a in members:
        if not tables.allele_null[a]:
            by_locus.setdefault(tables.alleles[a].split("*", 1)[0], []).append(a)
    return [_resolve_at_locus(ab, locus, alleles, level, tables) for locus, alleles in by_locus.items()]


def _specificity_members(spec: str, where: str, tables: NomenclatureTables) -> tuple[TokenShape, tuple[int, ...]]:
    """The shape of a specificity and the alleles it names: a first field (A*02) its family, an antigen with
    its splits' and associated antigens' alleles; InvalidInputError naming the field otherwise."""
    try:
        shape = shape_of(spec)
        if shape.kind == "allele" and len(shape.fields) == 1 and not shape.suffix:
            return shape, tables.family_members(f"{shape.locus}*{shape.fields[0]}")  # first field: A*02
        if shape.kind in ("serology", "xx"):
            return shape, tables.grading_member_ids(spec)  # with its splits' and associated antigens' alleles
        return shape, tables.member_ids(spec)
    except InvalidInputError as exc:
        raise InvalidInputError(f"field specificity: {exc.message}", where=where) from None


def _resolve_at_locus(
    ab: Antibody, locus: str, alleles: list[int], level: str, tables: NomenclatureTables
) -> ResolvedAntibody:
    """The antibody at one locus: the antigen codes it hits (antigen level) or the proteins (allele level),
    and the codes it may hit."""
    rel = tables.coded_relation
    own = sorted({int(tables.allele_serology[a]) for a in alleles})
    prots = frozenset(int(tables.allele_lgx[a]) for a in alleles)
    # codes the WHO relation calls the same antigen (A2: A203, A*02:XX) or related (a broad, a split, an XX
    # code spanning it), over every code of the tables (antigen-set codes included)
    cols = rel.matrix[:, own]
    same = (cols == 0).any(1)
    for k, set_ids in enumerate(tables.serology_sets):  # an XX code that may carry the antigen
        if same[set_ids].any():
            same[tables.serology_real + k] = True
    related = (cols == 1).any(1) & ~same
    if level == "antigen":
        ags = frozenset(np.flatnonzero(same).tolist())
        maybe = frozenset(np.flatnonzero(related).tolist())
        return ResolvedAntibody(ab, locus, level, ags, frozenset(), frozenset(), maybe)
    families = {int(rel.lgx_family[p]) for p in prots}
    xx_of_family = np.isin(rel.code_family, list(families)) & (rel.code_family >= 0)
    maybe = frozenset(np.flatnonzero(same | related | xx_of_family).tolist())
    return ResolvedAntibody(ab, locus, level, frozenset(), prots, frozenset(), maybe)


def _empty_profile(threshold: float, n_ag: int, n_al: int) -> AntibodyProfile:
    z = np.zeros(n_ag, dtype=np.bool_)
    return AntibodyProfile(threshold, (), (), (), z, np.zeros(n_al, dtype=np.bool_), z, z)


def antigen_members(tables: NomenclatureTables, code: int) -> list[int]:
    """The WHO antigen ids of a coded antigen id: itself, or the members of an antigen-set id (A*02:XX)."""
    if code >= tables.serology_real:
        return list(tables.serology_sets[code - tables.serology_real])
    return [code]


def assess(antibodies: tuple[ResolvedAntibody, ...], typing: HlaTyping, tables: NomenclatureTables) -> Crossmatch:
    """Exact crossmatch of one (possibly ambiguous) unit typing: an antibody is definite when it hits every
    genotype reading, possible when it hits some, or when an untyped DRB3/4/5 is implied by DRB1; not
    assessed when its locus is not typed (and cannot be inferred)."""
    definite: dict[str, None] = {}
    possible: dict[str, None] = {}
    unknown: dict[str, None] = {}
    for r in antibodies:
        lt = typing.loci.get(r.locus)
        if lt is None:
            _untyped(r, typing, tables, possible, unknown)
            continue
        every, some = True, False
        for pair in lt.alternatives:
            hits = [r.position_hit(pos.antigens, pos.proteins, pos.expressed) for pos in pair]
            every = every and any(h[0] for h in hits)
            some = some or any(h[1] for h in hits)
        if every:
            definite[r.label] = None
        elif some:
            possible[r.label] = None
    for k in definite:
        possible.pop(k, None)
    return Crossmatch(tuple(definite), tuple(possible), tuple(k for k in unknown if k not in definite))


def _untyped(
    r: ResolvedAntibody,
    typing: HlaTyping,
    tables: NomenclatureTables,
    possible: dict[str, None],
    unknown: dict[str, None],
) -> None:
    """An antibody at a locus the unit is not typed at: DRB3/4/5 inferred from DRB1, else not assessed."""
    carriers = DRB_SECONDARY.get(r.locus)
    drb1 = typing.loci.get("DRB1")
    if carriers is None or drb1 is None:
        unknown[f"{r.label}: unit not typed at {r.locus}"] = None
        return
    families = {drb1_family(tables.alleles[a]) for pair in drb1.alternatives for p in pair for a in p.expressed}
    hit = sorted(families & carriers)
    if hit:
        name = DRB_SECONDARY_NAME[r.locus]
        groups = "/".join(f"DRB1*{f}" for f in hit)
        possible[f"{r.label}: possible DSA, type DRB3/4/5 ({groups} carries {name}, {r.locus} not typed)"] = None


@dataclass(frozen=True)
class AntibodyProfile:
    """The antibodies at or above the MFI threshold, as look-up tables over antigen and lgx ids (+1 shifted)
    for the coded loci (A, B, C, DRB1); antibodies at other loci (``extra``) are assessed per unit."""

    threshold: float
    active: tuple[ResolvedAntibody, ...]
    below: tuple[ResolvedAntibody, ...]
    extra: tuple[ResolvedAntibody, ...]
    ag_hit: npt.NDArray[np.bool_]
    al_hit: npt.NDArray[np.bool_]
    ag_unknown: npt.NDArray[np.bool_]
    ag_possible: npt.NDArray[np.bool_]
    coded_loci: frozenset[str] = frozenset()

    @classmethod
    def build(cls, antibodies: tuple[Antibody, ...], tables: NomenclatureTables, threshold: float) -> AntibodyProfile:
        if not antibodies:
            return _empty_profile(threshold, len(tables.serology_names) + 1, len(tables.lgx_names) + 1)
        ag_hit = np.zeros(len(tables.serology_names) + 1, dtype=np.bool_)
        ag_unknown = np.zeros_like(ag_hit)
        ag_possible = np.zeros_like(ag_hit)
        al_hit = np.zeros(len(tables.lgx_names) + 1, dtype=np.bool_)
        active: list[ResolvedAntibody] = []
        below: list[ResolvedAntibody] = []
        extra: list[ResolvedAntibody] = []
        for ab in antibodies:
            for r in resolve(ab, tables):
                if ab.mfi < threshold:
                    below.append(r)
                    continue
                active.append(r)
                if r.locus not in CODED_LOCI:
                    extra.append(r)
                    continue
                ag_hit[[i + 1 for i in r.antigens]] = True
                al_hit[[i + 1 for i in r.proteins]] = True
                ag_unknown[[i + 1 for i in r.unknown_hit]] = True
                ag_possible[[i + 1 for i in r.possible]] = True
        # antigen-set ids (A*02:XX = A2|A203|A210): hit when every member is, possibly when any is
        any_hit = ag_hit | ag_unknown | ag_possible
        for k, members in enumerate(tables.serology_sets):
            sid = tables.serology_real + k + 1
            m = [x + 1 for x in members]
            ag_hit[sid] |= bool(ag_hit[m].any())  # antigen level: a code that may carry it is a DSA
            ag_unknown[sid] |= bool((ag_hit[m] | ag_unknown[m]).all())
            ag_possible[sid] |= bool(any_hit[m].any())
        loci = frozenset(r.locus for r in active if r.locus in CODED_LOCI)
        return cls(threshold, tuple(active), tuple(below), tuple(extra), ag_hit, al_hit, ag_unknown, ag_possible, loci)

    @property
    def empty(self) -> bool:
        return not self.active

    @property
    def not_assessed(self) -> tuple[Antibody, ...]:
        """Antibodies at loci outside the coded ones (assessed per unit, from its full typing)."""
        return tuple(r.antibody for r in self.extra)

    def coded_hits(
        self, ag: npt.NDArray[np.int16], al: npt.NDArray[np.int16]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(definite, possible) DSA over coded positions (..., 2) -> (...). Possible excludes definite."""
        ai = ag.astype(np.intp) + 1
        li = al.astype(np.intp) + 1
        unknown = al < 0
        hit = self.ag_hit[ai] | self.al_hit[li] | (unknown & self.ag_unknown[ai])
        definite: npt.NDArray[np.bool_] = np.asarray(hit.any(-1))
        possible: npt.NDArray[np.bool_] = np.asarray((unknown & self.ag_possible[ai]).any(-1) & ~definite)
        return definite, possible

    def coded_names(
        self, ag: npt.NDArray[np.int16], al: npt.NDArray[np.int16], tables: NomenclatureTables
    ) -> Crossmatch:
        """Antibodies (with MFI) against one unit's coded typing (4, 2) at A, B, C, DRB1."""
        definite: dict[str, None] = {}
        possible: dict[str, None] = {}
        unknown: dict[str, None] = {}
        for r in self.active:
            if r.locus not in CODED_LOCI:
                continue
            row = CODED_LOCI.index(r.locus)
            if ag[row, 0] < 0:
                unknown[f"{r.label}: unit not typed at {r.locus}"] = None
                continue
            for a, b in zip(ag[row], al[row], strict=True):
                a, b = int(a), int(b)
                if a < 0:
                    continue
                members = set(antigen_members(tables, a))
                if (
                    a in r.antigens
                    or (members & r.antigens if r.level == "antigen" else members <= r.antigens)
                    or (b >= 0 and b in r.proteins)
                    or (b < 0 and members <= (r.unknown_hit | r.antigens))
                ):
                    definite[r.label] = None
                elif b < 0 and (a in r.possible or members & (r.possible | r.antigens | r.unknown_hit)):
                    possible[r.label] = None
        return Crossmatch(tuple(definite), tuple(k for k in possible if k not in definite), tuple(unknown))

    def typing_names(self, typing: HlaTyping, tables: NomenclatureTables) -> Crossmatch:
        """Exact crossmatch of a (possibly ambiguous) typing, every locus."""
        return assess(self.active, typing, tables)

    def below_names(self, typing: HlaTyping, tables: NomenclatureTables) -> tuple[str, ...]:
        """Sub-threshold antibodies that hit (or may hit) the unit: reported, not counted as DSA."""
        x = assess(self.below, typing, tables)
        return x.definite + tuple(f"{k} (possible)" for k in x.possible if k not in x.definite)
