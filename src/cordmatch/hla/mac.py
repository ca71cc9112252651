"""Multiple allele codes (MACs), from a file in NMDP's tab-separated format that the user supplies.

Each data line is ``CODE<TAB>SUBTYPES[<TAB>...]``: ``AB  01/02`` (second fields, the family comes from
the typing: ``A*01:AB`` -> ``A*01:01/A*01:02``) or ``AFC  01:01/02:01`` (generic: whole allele names
without the locus). Lines before the first code line (titles, the header ``CODE SUBTYPE``) and lines
starting with ``#`` are skipped. No MAC list is shipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cordmatch.errors import InvalidInputError

_CODE = re.compile(r"^[A-Z]{2,5}$")
_SUBTYPE = re.compile(r"^[0-9]{2,4}(:[0-9]{2,4}){0,2}[NLSQCA]?$")

MacTable = Mapping[str, tuple[str, ...]]


def parse_mac_lines(lines: Iterable[str], source: str = "MAC file") -> dict[str, tuple[str, ...]]:
    """Parse MAC lines into ``{code: subtypes}``; raises InvalidInputError naming the line."""
    table: dict[str, tuple[str, ...]] = {}
    started = False
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t") if c.strip() != ""]
        if not started:
            if (cols and cols[0].upper() == "CODE") or len(cols) < 2 or not _CODE.match(cols[0]):
                continue  # title and header lines
            started = True
        if len(cols) < 2:
            raise InvalidInputError(f"{source} line {n}: expected CODE<TAB>SUBTYPES", where=f"line {n}")
        code, subtypes = cols[0], cols[1]
        if not _CODE.match(code) or code == "XX":
            raise InvalidInputError(f"{source} line {n}: bad code {code!r}", where=f"line {n}, field CODE")
        parts = tuple(subtypes.split("/"))
        for p in parts:
            if not _SUBTYPE.match(p):
                raise InvalidInputError(
                    f"{source} line {n}: bad subtype {p!r} for code {code}", where=f"line {n}, field SUBTYPE"
                )
        if code in table and table[code] != parts:
            raise InvalidInputError(f"{source} line {n}: code {code} defined twice", where=f"line {n}")
        table[code] = parts
    if not table:
        raise InvalidInputError(f"{source}: no multiple allele codes found", where=source)
    return table


def expand_mac(locus: str, family: str, code: str, table: MacTable | None) -> list[str]:
    """Allele names a MAC stands for, e.g. ``("A", "01", "AB") -> ["A*01:01", "A*01:02"]``."""
    if table is None:
        raise InvalidInputError(
            f"{locus}*{family}:{code} is a multiple allele code; give a MAC file (NMDP format) to expand it",
            where=f"{locus}*{family}:{code}",
        )
    subtypes = table.get(code)
    if subtypes is None:
        raise InvalidInputError(
            f"unknown multiple allele code {code!r} in {locus}*{family}:{code}",
            where=f"{locus}*{family}:{code}",
        )
    return [f"{locus}*{s}" if ":" in s else f"{locus}*{family}:{s}" for s in subtypes]
