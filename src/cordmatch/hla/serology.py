"""WHO serology (pure): an allele's serologic antigen and how antigens relate.

Sources, both files of the shipped IPD-IMGT/HLA release (WHO Nomenclature Committee):
- ``rel_dna_ser.txt``: per allele ``Locus*;Allele;Unambiguous;Possible;Assumed;Expert`` serologic
  assignments (``0`` null, ``?`` unknown). We take the first non-empty of unambiguous, possible, assumed;
  the expert column lists *exceptions to search determinants* (extra reactivity), not the antigen.
- ``rel_ser_ser.txt``: ``Locus;Antigen;Splits;Associated`` (``B;15;62/63/75/76/77;``, ``B;39;;3901/3902``).

Relations between two antigen names (docs/adr/0002-grading-semantics.md):
- the same name, or an associated antigen and its parent (A203 and A2, B3901 and B39): ``MATCH``;
- a broad and one of its splits, or any ancestor through broad/parent links (B15 and B62, B16 and
  B3901): ``RELATED``: the broader name does not tell which split it is, so never a certain mismatch;
- anything else (B62 and B63, B3901 and B3902, A2 and A24): ``MISMATCH``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MATCH = 0
RELATED = 1
MISMATCH = 2


def serologic_name(locus: str, number: str) -> str:
    """WHO serologic name of an antigen number at a locus: ``("C", "7") -> "Cw7"``, ``("DRB3", "52") -> "DR52"``."""
    prefix = "Cw" if locus in ("C", "Cw") else locus[:2]
    return f"{prefix}{number}"


#: Rank of an assignment column: unambiguous, possible, assumed (lower is firmer).
UNAMBIGUOUS, POSSIBLE, ASSUMED = 0, 1, 2


def assignment(locus: str, columns: list[str]) -> tuple[str, int] | None:
    """The serologic antigen of one ``rel_dna_ser.txt`` row (columns after the allele) and its column rank,
    or None. Several possible antigens are joined by ``/`` (``B15/B70``); ``0`` (null) and ``?`` are dropped.
    """
    cols = [*columns, "", "", "", ""][:4]
    for rank, value in enumerate(cols[:3]):  # unambiguous, possible, assumed
        numbers = [v.strip() for v in value.split("/") if v.strip() and v.strip() not in ("0", "?")]
        if numbers:
            return "/".join(serologic_name(locus, n) for n in dict.fromkeys(numbers)), rank
    return None


def parse_rel_dna_ser(lines: Iterable[str]) -> dict[str, tuple[str, int] | None]:
    """``{full allele name: (serologic antigen, column rank) or None}`` from ``rel_dna_ser.txt`` lines."""
    out: dict[str, tuple[str, int] | None] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split(";")
        if len(cols) < 3:
            continue
        locus = cols[0].rstrip("*").strip()
        out[f"{locus}*{cols[1].strip()}"] = assignment(locus, cols[2:])
    return out


@dataclass(frozen=True)
class SerologyRelations:
    """Broad/split and parent/associated antigen relations (from ``rel_ser_ser.txt``)."""

    splits: Mapping[str, tuple[str, ...]]
    associated: Mapping[str, tuple[str, ...]]
    broad_of: dict[str, str] = field(init=False)
    parent_of: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "broad_of", {s: b for b, ss in self.splits.items() for s in ss})
        object.__setattr__(self, "parent_of", {a: p for p, aa in self.associated.items() for a in aa})

    def ancestors(self, name: str) -> list[str]:
        """Broader names of an antigen, nearest first: ``B3901 -> [B39, B16]``."""
        out: list[str] = []
        cur = name
        while True:
            nxt = self.parent_of.get(cur) or self.broad_of.get(cur)
            if nxt is None or nxt in out:
                return out
            out.append(nxt)
            cur = nxt

    def covered(self, name: str) -> list[str]:
        """The antigen, its splits and associated antigens, recursively: ``B16 -> B16, B38, B39, B3901, B3902``."""
        out = [name]
        k = 0
        while k < len(out):
            cur = out[k]
            for child in (*self.splits.get(cur, ()), *self.associated.get(cur, ())):
                if child not in out:
                    out.append(child)
            k += 1
        return out

    def name_relation(self, a: str, b: str) -> int:
        """MATCH, RELATED or MISMATCH between two single antigen names (see the module docstring)."""
        if a == b or self.parent_of.get(a) == b or self.parent_of.get(b) == a:
            return MATCH
        if a in self.ancestors(b) or b in self.ancestors(a):
            return RELATED
        return MISMATCH


def parse_rel_ser_ser(lines: Iterable[str]) -> SerologyRelations:
    """Relations from ``rel_ser_ser.txt`` lines (``Locus;Antigen;Splits;Associated``)."""
    splits: dict[str, tuple[str, ...]] = {}
    associated: dict[str, tuple[str, ...]] = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        cols = [*line.split(";"), "", "", ""][:4]
        locus, antigen = cols[0].strip(), cols[1].strip()
        if not locus or not antigen:
            continue
        name = serologic_name(locus, antigen)
        if cols[2].strip():
            splits[name] = tuple(serologic_name(locus, s) for s in cols[2].strip().split("/"))
        if cols[3].strip():
            associated[name] = tuple(serologic_name(locus, s) for s in cols[3].strip().split("/"))
    return SerologyRelations(splits, associated)


def antigen_relation(a: str, b: str, relations: SerologyRelations, family_names: Mapping[str, set[str]]) -> int:
    """Relation between two *antigen ids* (names joined by ``/``, or a protein without WHO serology,
    named by its lgx, ``C*16:06``).

    Two ids with several names relate as the pairs of their names do: all MATCH -> MATCH, all MISMATCH ->
    MISMATCH, else RELATED. A protein without serology is RELATED to another such protein of its first
    field and to a name that some allele of its first field carries (or a relative of it), else a MISMATCH:
    an unknown serology is never assumed to be the same antigen, nor a different one within its family.
    """
    if a == b:
        return MATCH
    fa, fb = "*" in a, "*" in b
    if fa and fb:  # two proteins (or families) without serology: unknown within one first field
        return RELATED if a.split(":", 1)[0] == b.split(":", 1)[0] else MISMATCH
    if fa or fb:
        fam, other = (a, b) if fa else (b, a)
        carried = family_names.get(fam.split(":", 1)[0], set())
        for name in other.split("/"):
            if any(relations.name_relation(name, c) != MISMATCH for c in carried):
                return RELATED
        return MISMATCH
    rels = {relations.name_relation(x, y) for x in a.split("/") for y in b.split("/")}
    if rels == {MATCH}:
        return MATCH
    if rels == {MISMATCH}:
        return MISMATCH
    return RELATED
