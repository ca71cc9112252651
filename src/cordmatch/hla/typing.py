"""Resolved HLA typings: a GL string checked against the release and coded as allele ids per position.

An :class:`HlaTyping` holds, per locus, the genotype alternatives (``|``), each two :class:`Position`s.
A position is the set of alleles it may be (``/`` lists, XX codes, MACs, serology and truncated names
all expand to their member alleles). Only expressed alleles are presented to the immune system: a
position whose members are all null alleles is *not expressed*; in a list that mixes expressed and null
alleles the nulls are set aside (labs report a null explicitly; see docs/adr/0002-grading-semantics.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from cordmatch.errors import InvalidInputError
from cordmatch.hla.gl import GLString, parse_gl
from cordmatch.hla.loci import GRADED_LOCI
from cordmatch.hla.mac import MacTable, expand_mac
from cordmatch.hla.names import locus_of, normalise_token, shape_of
from cordmatch.hla.tables import NomenclatureTables

#: Most genotype alternatives accepted for one locus (``|`` lists multiply across ``^`` blocks).
MAX_ALTERNATIVES = 256


@dataclass(frozen=True, eq=False)
class Position:
    """One of the two chromosomes at a locus: the tokens typed and the allele ids they stand for."""

    tokens: tuple[str, ...]
    alleles: frozenset[int]
    tables: NomenclatureTables = field(repr=False)
    #: Alleles whose antigens the position stands for at antigen level (serology and XX: their CWD alleles);
    #: None = ``alleles``.
    antigen_alleles: frozenset[int] | None = None

    @cached_property
    def expressed(self) -> frozenset[int]:
        """Expressed alleles this position may be; empty when every member is a null allele."""
        null = self.tables.allele_null
        exp = frozenset(a for a in self.alleles if not null[a])
        return exp

    @cached_property
    def antigens(self) -> frozenset[int]:
        """WHO serologic antigen ids (``tables.serology_names``) of the expressed alleles (antigen level)."""
        ag, null = self.tables.allele_serology, self.tables.allele_null
        if self.antigen_alleles is None:
            return frozenset(int(ag[a]) for a in self.expressed)
        found = frozenset(int(ag[a]) for a in self.antigen_alleles if not null[a])
        return found or frozenset(int(ag[a]) for a in self.expressed)

    @cached_property
    def proteins(self) -> frozenset[int]:
        """lgx (P group at two fields, allele level) ids of the expressed alleles."""
        lgx = self.tables.allele_lgx
        return frozenset(int(lgx[a]) for a in self.expressed)

    @property
    def is_null(self) -> bool:
        return not self.expressed

    @property
    def label(self) -> str:
        return "/".join(self.tokens)

    def values(self, level: str) -> frozenset[int]:
        """Ids at ``level`` (``antigen`` or ``allele``)."""
        return self.antigens if level == "antigen" else self.proteins

    def key(self) -> tuple[str, ...]:
        return tuple(sorted(self.tokens))


GenotypePair = tuple[Position, Position]


@dataclass(frozen=True, eq=False)
class LocusTyping:
    """A locus: one or more genotype alternatives, each a pair of positions."""

    locus: str
    alternatives: tuple[GenotypePair, ...]

    def gl(self) -> str:
        """Canonical GL string of this locus (positions and alternatives sorted)."""
        gens = sorted({" + ".join(sorted("/".join(p.key()) for p in g)).replace(" ", "") for g in self.alternatives})
        return "|".join(gens)


@dataclass(frozen=True, eq=False)
class HlaTyping:
    """A typing resolved against the release: loci in canonical order."""

    loci: dict[str, LocusTyping]
    source: str
    #: Notes on the input that did not stop it (e.g. MAC members absent from the release).
    warnings: tuple[str, ...] = ()

    def gl(self) -> str:
        """Canonical GL string: loci in standard order, alleles and positions sorted."""
        return "^".join(self.loci[locus].gl() for locus in self.loci)

    def __contains__(self, locus: object) -> bool:
        return locus in self.loci


def _locus_order(locus: str) -> tuple[int, str]:
    return (GRADED_LOCI.index(locus), "") if locus in GRADED_LOCI else (len(GRADED_LOCI), locus)


def _resolve_token(
    token: str, tables: NomenclatureTables, macs: MacTable | None, warnings: list[str]
) -> tuple[str, list[int], list[int]]:
    """A token's name and the allele ids it stands for when grading; MAC members absent from the release
    are left out with a warning (the typing is refused only when none of them exists)."""
    t = normalise_token(token)
    shape = shape_of(t)
    if shape.kind == "mac":
        ids: list[int] = []
        absent: list[str] = []
        for name in expand_mac(shape.locus, shape.fields[0], shape.fields[1], macs):
            if tables.is_known(name):
                ids.extend(tables.member_ids(name))
            else:
                absent.append(name)
        if not ids:
            raise InvalidInputError(
                f"{t}: none of its alleles ({', '.join(absent)}) is in IPD-IMGT/HLA {tables.release}", where=t
            )
        if absent:
            warnings.append(
                f"{t}: {', '.join(absent)} not in IPD-IMGT/HLA {tables.release}; graded as the remaining alleles"
            )
        return t, ids, ids
    return t, list(tables.grading_member_ids(t)), list(tables.antigen_member_ids(t))


def parse_typing(gl: str, tables: NomenclatureTables, macs: MacTable | None = None) -> HlaTyping:
    """Parse and resolve a GL string. Raises InvalidInputError naming the offending token or locus."""
    parsed: GLString = parse_gl(gl)
    per_locus: dict[str, list[GenotypePair]] = {}
    cache: dict[str, tuple[str, frozenset[int], frozenset[int]]] = {}
    warnings: list[str] = []

    def position(alleles: Iterable[str], locus: str) -> Position:
        toks: list[str] = []
        ids: set[int] = set()
        ag_ids: set[int] = set()
        for tok in alleles:
            if tok not in cache:
                resolved, member_list, antigen_list = _resolve_token(tok, tables, macs, warnings)
                cache[tok] = (resolved, frozenset(member_list), frozenset(antigen_list))
            name, members, ag_members = cache[tok]
            if locus_of(name) != locus:
                raise InvalidInputError(
                    f"{tok!r} is a {locus_of(name)} allele, listed among {locus} alleles", where=tok
                )
            toks.append(name)
            ids |= members
            ag_ids |= ag_members
        return Position(tuple(toks), frozenset(ids), tables, None if ag_ids == ids else frozenset(ag_ids))

    for component in parsed.components:
        comp_alts: dict[str, list[GenotypePair]] = {}
        for genotype in component:
            if len(genotype) == 1:
                first = genotype[0][0][0]
                raise InvalidInputError(
                    f"only one allele typed at {locus_of(first)} ({'/'.join(genotype[0][0])}): "
                    f"write both, e.g. {first}+{first} for a homozygous typing",
                    where=first,
                )
            h1, h2 = genotype
            loci1 = [locus_of(al[0]) for al in h1]
            loci2 = [locus_of(al[0]) for al in h2]
            if sorted(loci1) != sorted(loci2):
                side1 = "~".join("/".join(a) for a in h1)
                side2 = "~".join("/".join(a) for a in h2)
                raise InvalidInputError(
                    f"{side1} + {side2}: the two sides of '+' cover different loci "
                    f"({'~'.join(loci1)} vs {'~'.join(loci2)})",
                    where=side2,
                )
            if len(set(loci1)) != len(loci1):
                raise InvalidInputError(f"a locus appears twice in one haplotype: {'~'.join(loci1)}")
            by_locus2 = {locus_of(al[0]): al for al in h2}
            for al1 in h1:
                locus = locus_of(al1[0])
                pair = (position(al1, locus), position(by_locus2[locus], locus))
                comp_alts.setdefault(locus, []).append(pair)
        for locus, alts in comp_alts.items():
            if locus in per_locus:
                raise InvalidInputError(f"locus {locus} is typed twice in one typing", where=locus)
            if len(alts) > MAX_ALTERNATIVES:
                raise InvalidInputError(
                    f"locus {locus} has {len(alts)} genotype alternatives (at most {MAX_ALTERNATIVES})",
                    where=locus,
                )
            # Identical alternatives (from phased lists) collapse.
            seen: dict[tuple[tuple[str, ...], tuple[str, ...]], GenotypePair] = {}
            for p1, p2 in alts:
                k1, k2 = sorted((p1.key(), p2.key()))
                seen.setdefault((k1, k2), (p1, p2))
            per_locus[locus] = list(seen.values())

    loci = {locus: LocusTyping(locus, tuple(per_locus[locus])) for locus in sorted(per_locus, key=_locus_order)}
    return HlaTyping(loci, gl, tuple(dict.fromkeys(warnings)))


def validate_typing(gl: str, tables: NomenclatureTables, macs: MacTable | None = None) -> list[str]:
    """Problems found in a GL string (empty list when it is valid)."""
    try:
        parse_typing(gl, tables, macs)
    except InvalidInputError as exc:
        return [str(exc)]
    return []
