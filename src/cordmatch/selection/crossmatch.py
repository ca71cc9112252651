"""Virtual crossmatch: the patient's anti-HLA antibodies against each unit's antigens (DSA).

An antibody specificity is either antigen level (serology ``A2``, first field ``A*02``, ``A*02:XX``): it
hits a unit position of that antigen; or allele level (``A*02:01``): it hits a position of that protein
(P group), and *possibly* hits a position typed only at antigen level within the same antigen. Only
antibodies at or above the MFI threshold count (domain.md §4: the threshold is a per-centre setting).
Loci outside A, B, C, DRB1 are not in the coded unit typing and are reported as not assessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cordmatch.errors import InvalidInputError
from cordmatch.hla.names import locus_of, shape_of
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping
from cordmatch.matching.coded import CODED_LOCI
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
            shape_of(spec)
        except InvalidInputError as exc:
            raise InvalidInputError(f"field specificity: {exc.message}", where=f"{source} line {n}") from None
        try:
            mfi = float(mfi_text)
        except ValueError:
            raise InvalidInputError(f"field MFI: {mfi_text!r} is not a number", where=f"{source} line {n}") from None
        if not np.isfinite(mfi) or mfi < 0:
            raise InvalidInputError(f"field MFI: {mfi_text!r} must be >= 0", where=f"{source} line {n}")
        out.append(Antibody(spec, mfi, n))
    return tuple(out)


@dataclass(frozen=True)
class ResolvedAntibody:
    """An antibody resolved against the release: antigen-level ids or allele-level (lgx) ids."""

    antibody: Antibody
    locus: str
    level: str  # antigen | allele
    #: antigen level: codes it certainly hits; allele level: codes of allele-unknown positions it may hit
    antigens: frozenset[int]
    proteins: frozenset[int]
    #: antigen level: codes it possibly hits (related through a broad)
    maybe: frozenset[int] = frozenset()


@dataclass(frozen=True)
class AntibodyProfile:
    """The antibodies at or above the MFI threshold, as look-up tables over antigen and lgx ids (+1 shifted)."""

    threshold: float
    active: tuple[ResolvedAntibody, ...]
    below: tuple[Antibody, ...]
    not_assessed: tuple[Antibody, ...]
    ag_hit: npt.NDArray[np.bool_]
    al_hit: npt.NDArray[np.bool_]
    ag_possible: npt.NDArray[np.bool_]
    ag_maybe: npt.NDArray[np.bool_]

    @classmethod
    def build(cls, antibodies: tuple[Antibody, ...], tables: NomenclatureTables, threshold: float) -> AntibodyProfile:
        """Antigen ids are WHO serologic antigen codes (``Position.antigens``, coded typings): an antigen-level
        antibody definitely hits a code the WHO relation calls the same antigen (A2 hits A203 and A*02:XX)
        and possibly hits a related one (a broad, a split, an XX code spanning it)."""
        n_codes = len(tables.serology_names)
        rel = tables.serology_relation
        code_family = tables.coded_relation.code_family
        ag_hit = np.zeros(n_codes + 1, dtype=np.bool_)
        ag_maybe = np.zeros_like(ag_hit)
        ag_possible = np.zeros_like(ag_hit)
        al_hit = np.zeros(len(tables.lgx_names) + 1, dtype=np.bool_)
        active: list[ResolvedAntibody] = []
        below: list[Antibody] = []
        skipped: list[Antibody] = []
        for ab in antibodies:
            where = f"antibodies line {ab.line}" if ab.line else ab.specificity
            try:
                members = tables.member_ids(ab.specificity)
            except InvalidInputError as exc:
                raise InvalidInputError(f"field specificity: {exc.message}", where=where) from None
            locus = locus_of(ab.specificity)
            if locus not in CODED_LOCI:
                skipped.append(ab)
                continue
            if ab.mfi < threshold:
                below.append(ab)
                continue
            shape = shape_of(ab.specificity)
            level = "antigen" if shape.kind in ("serology", "xx") or len(shape.fields) == 1 else "allele"
            expressed = [a for a in members if not tables.allele_null[a]]
            own = sorted({int(tables.allele_serology[a]) for a in expressed})
            prots = frozenset(int(tables.allele_lgx[a]) for a in expressed)
            cols = rel[:, own] if own else np.full((n_codes, 1), 2, dtype=np.int8)
            same = (cols == 0).any(1)
            for k, set_ids in enumerate(tables.serology_sets):  # an XX code that may carry the antigen
                if same[set_ids].any():
                    same[tables.serology_real + k] = True
            related = (cols == 1).any(1) & ~same
            if level == "antigen":
                ag_hit[1:] |= same
                ag_maybe[1:] |= related
                ags = frozenset(np.flatnonzero(same).tolist())
                maybe = frozenset(np.flatnonzero(related).tolist())
            else:
                al_hit[[i + 1 for i in prots]] = True
                families = {int(tables.lgx_family[p]) for p in prots}
                xx_of_family = np.isin(code_family, list(families)) & (code_family >= 0)
                ag_possible[1:] |= same | related | xx_of_family
                ags = frozenset(np.flatnonzero(same | related | xx_of_family).tolist())
                maybe = frozenset()
            active.append(ResolvedAntibody(ab, locus, level, ags, prots, maybe))
        return cls(threshold, tuple(active), tuple(below), tuple(skipped), ag_hit, al_hit, ag_possible, ag_maybe)

    @property
    def empty(self) -> bool:
        return not self.active

    def coded_hits(
        self, ag: npt.NDArray[np.int16], al: npt.NDArray[np.int16]
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """(definite, possible) DSA over coded positions (..., 2) -> (...). Possible excludes definite."""
        ai = ag.astype(np.intp) + 1
        li = al.astype(np.intp) + 1
        definite: npt.NDArray[np.bool_] = np.asarray((self.ag_hit[ai] | self.al_hit[li]).any(-1))
        possible: npt.NDArray[np.bool_] = np.asarray(
            (((al < 0) & self.ag_possible[ai]) | self.ag_maybe[ai]).any(-1) & ~definite
        )
        return definite, possible

    def coded_names(self, ag: npt.NDArray[np.int16], al: npt.NDArray[np.int16]) -> tuple[list[str], list[str]]:
        """Antibodies (with MFI) that definitely / possibly hit one unit's coded typing (4, 2)."""
        definite: list[str] = []
        possible: list[str] = []
        pairs = {(int(a), int(b)) for a, b in zip(ag.ravel(), al.ravel(), strict=True) if a >= 0}
        for r in self.active:
            label = f"{r.antibody.specificity} (MFI {r.antibody.mfi:g})"
            if r.level == "antigen":
                if any(a in r.antigens for a, _ in pairs):
                    definite.append(label)
                elif any(a in r.maybe for a, _ in pairs):
                    possible.append(label)
            elif any(b >= 0 and b in r.proteins for _, b in pairs):
                definite.append(label)
            elif any(b < 0 and a in r.antigens for a, b in pairs):
                possible.append(label)
        return definite, possible

    def typing_names(self, typing: HlaTyping) -> tuple[list[str], list[str]]:
        """Exact crossmatch of a (possibly ambiguous) typing: antibodies that hit every / some reading."""
        definite: list[str] = []
        possible: list[str] = []
        for r in self.active:
            lt = typing.loci.get(r.locus)
            if lt is None:
                continue
            label = f"{r.antibody.specificity} (MFI {r.antibody.mfi:g})"
            every = True
            some = False
            for pair in lt.alternatives:
                hit_all = hit_any = False
                for pos in pair:
                    vals = pos.antigens if r.level == "antigen" else pos.proteins
                    target = r.antigens if r.level == "antigen" else r.proteins
                    # antigen level: a position that may carry the antigen counts (as a first-field
                    # typing did), never only "possible"
                    if vals and (vals & target if r.level == "antigen" else vals <= target):
                        hit_all = True
                    if vals & (target | r.maybe):
                        hit_any = True
                every = every and hit_all
                some = some or hit_any
            if every:
                definite.append(label)
            elif some:
                possible.append(label)
        return definite, possible
