"""GL String syntax (pure): ``^`` loci, ``|`` genotype alternatives, ``+`` the two chromosomes,
``~`` linked alleles of one haplotype, ``/`` allele alternatives. Binding from loosest to tightest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cordmatch.errors import InvalidInputError

AlleleList = tuple[str, ...]  # "/" alternatives
Haplotype = tuple[AlleleList, ...]  # "~" linked, one per locus
Genotype = tuple[Haplotype, ...]  # "+" chromosomes (one or two)
GenotypeList = tuple[Genotype, ...]  # "|" alternatives

_ALLOWED = re.compile(r"^[A-Za-z0-9*:\-^|+~/ ]*$")


@dataclass(frozen=True, slots=True)
class GLString:
    """A parsed GL string: ``^``-separated components, each a list of genotype alternatives."""

    components: tuple[GenotypeList, ...]

    def tokens(self) -> list[str]:
        """Every allele token, left to right."""
        return [t for gl in self.components for g in gl for h in g for al in h for t in al]


def _split(text: str, sep: str, what: str, offset: int) -> list[tuple[str, int]]:
    parts: list[tuple[str, int]] = []
    pos = 0
    for piece in text.split(sep):
        stripped = piece.strip()
        if not stripped:
            raise InvalidInputError(
                f"malformed GL string: empty {what} around {sep!r} at character {offset + pos + 1}",
                where=f"character {offset + pos + 1}",
            )
        parts.append((stripped, offset + pos + (len(piece) - len(piece.lstrip()))))
        pos += len(piece) + 1
    return parts


def parse_gl(text: str) -> GLString:
    """Parse a GL string; raises InvalidInputError naming the character or token that is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("empty HLA typing (GL string)", where="typing")
    bad = next((i for i, ch in enumerate(text) if not _ALLOWED.match(ch)), None)
    if bad is not None:
        raise InvalidInputError(
            f"malformed GL string: unexpected character {text[bad]!r} at character {bad + 1}",
            where=f"character {bad + 1}",
        )
    components: list[GenotypeList] = []
    for comp, c0 in _split(text, "^", "locus block", 0):
        genotypes: list[Genotype] = []
        for gen, g0 in _split(comp, "|", "genotype", c0):
            haplos: list[Haplotype] = []
            plus = _split(gen, "+", "chromosome", g0)
            if len(plus) > 2:
                raise InvalidInputError(
                    f"malformed GL string: more than two chromosomes joined by '+' in {gen!r}", where=gen
                )
            for hap, h0 in plus:
                linked: list[AlleleList] = []
                for al, a0 in _split(hap, "~", "haplotype member", h0):
                    alleles = tuple(t for t, _ in _split(al, "/", "allele", a0))
                    for tok in alleles:
                        if " " in tok:
                            raise InvalidInputError(f"malformed GL string: space inside {tok!r}", where=tok)
                    linked.append(alleles)
                haplos.append(tuple(linked))
            genotypes.append(tuple(haplos))
        components.append(tuple(genotypes))
    return GLString(tuple(components))
