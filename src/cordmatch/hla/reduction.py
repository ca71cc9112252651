"""Reduce every allele token of a GL string to one level, keeping the GL structure (pure)."""

from __future__ import annotations

from cordmatch.hla.gl import parse_gl
from cordmatch.hla.mac import MacTable, expand_mac
from cordmatch.hla.names import normalise_token, shape_of
from cordmatch.hla.tables import NomenclatureTables


def reduce_token(token: str, level: str, tables: NomenclatureTables, macs: MacTable | None = None) -> str:
    """Reduce one token (allele, group, serology, XX code or MAC) to ``level``."""
    t = normalise_token(token)
    shape = shape_of(t)
    if shape.kind == "mac":
        parts: dict[str, None] = {}
        for name in expand_mac(shape.locus, shape.fields[0], shape.fields[1], macs):
            for p in tables.reduce(name, level).split("/"):
                if p:
                    parts.setdefault(p, None)
        return "/".join(parts)
    return tables.reduce(t, level)


def reduce_gl(gl: str, level: str, tables: NomenclatureTables, macs: MacTable | None = None) -> str:
    """Reduce a whole GL string; allele lists are de-duplicated, the rest of the structure kept."""
    parsed = parse_gl(gl)
    blocks = []
    for component in parsed.components:
        genotypes = []
        for genotype in component:
            haplos = []
            for haplotype in genotype:
                linked = []
                for alleles in haplotype:
                    out: dict[str, None] = {}
                    for tok in alleles:
                        for p in reduce_token(tok, level, tables, macs).split("/"):
                            if p:
                                out.setdefault(p, None)
                    linked.append("/".join(out))
                haplos.append("~".join(linked))
            genotypes.append("+".join(haplos))
        blocks.append("|".join(genotypes))
    return "^".join(blocks)
