"""Reduce every allele token of a GL string to one level, as py-ard's ``redux`` does (pure).

Output follows py-ard's conventions: an ``HLA-`` prefix on the input is kept on every output name;
allele lists (``/``) are de-duplicated and sorted by field values; the two sides of ``+`` are sorted;
``^`` and ``|`` components are de-duplicated and sorted as text; ``~`` keeps its order. Names py-ard ranks
equal (``A*02:03:01``, ``A*02:03:01Q``) are ordered by their text, so a list never depends on set order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cmp_to_key

from cordmatch.errors import InvalidInputError
from cordmatch.hla.gl import parse_gl
from cordmatch.hla.mac import MacTable, expand_mac
from cordmatch.hla.names import normalise_token, shape_of
from cordmatch.hla.tables import NomenclatureTables

_GL_CHARS = re.compile(r"[/|+^~]")
_EXPRESSION = re.compile(r"[PNQLSGg]")  # suffix letters ignored when ordering names
_SEROLOGY = re.compile(r"(\D+)(\d+)")


def _fields(name: str) -> tuple[int, ...] | None:
    """Numeric fields of a molecular name (missing ones as 0), or None when a field is not a number."""
    body = name.split("*", 1)[1] if "*" in name else name
    parts = body.split(":")
    try:
        return tuple(int(p) if p else 0 for p in [*parts, "0", "0", "0"][:4])
    except ValueError:
        return None


def compare_names(a: str, b: str) -> int:
    """Order of two names as py-ard sorts them: field by field as numbers; serology by its number; GL
    strings (with ``/ | + ^ ~``) as text."""
    if a == b:
        return 0
    if _GL_CHARS.search(a) or _GL_CHARS.search(b):
        return 1 if a > b else -1
    a1 = a[:-3] if a.endswith("ARS") else _EXPRESSION.sub("", a)
    b1 = b[:-3] if b.endswith("ARS") else _EXPRESSION.sub("", b)
    if a1 == b1:
        return 0
    if ":" not in a1 or ":" not in b1:
        ma, mb = _SEROLOGY.match(a1), _SEROLOGY.match(b1)
        if ma and mb:
            return 1 if int(ma.group(2)) > int(mb.group(2)) else -1
        return 1 if a1 > b1 else -1
    fa, fb = _fields(a1), _fields(b1)
    if fa is None or fb is None:
        return 1 if a1 > b1 else -1
    return (fa > fb) - (fa < fb)


_KEY = cmp_to_key(compare_names)


def ordered_names(names: Iterable[str]) -> list[str]:
    """``names`` in py-ard's order (:func:`compare_names`: A*01:01:01:01, A*01:01:01:02, A*01:02); names it
    ranks equal (``A*02:03:01``, ``A*02:03:01Q``) by their text. The same list for any order of the input,
    whatever the hash seed of the process that gathered them."""
    return sorted(sorted(names), key=_KEY)  # text first: the stable sort keeps it among equals


def ordered_list(text: str, sep: str = "/") -> str:
    """A ``sep``-separated list of names in :func:`ordered_names` order (same names, same count)."""
    return sep.join(ordered_names(text.split(sep)))


def _sorted_unique(parts: list[str], sep: str) -> str:
    flat = {p for part in parts for p in part.split(sep) if p}
    return sep.join(ordered_names(flat))


def _mac_names(
    shape_locus: str,
    family: str,
    code: str,
    tables: NomenclatureTables,
    macs: MacTable | None,
    warnings: list[str] | None,
) -> list[str]:
    names = expand_mac(shape_locus, family, code, macs)
    known = [n for n in names if tables.is_known(n)]
    token = f"{shape_locus}*{family}:{code}"
    if not known:
        raise InvalidInputError(
            f"{token}: none of its alleles ({', '.join(names)}) is in IPD-IMGT/HLA {tables.release}", where=token
        )
    absent = [n for n in names if n not in known]
    if absent and warnings is not None:
        warnings.append(f"{token}: {', '.join(absent)} not in IPD-IMGT/HLA {tables.release}; left out")
    return known


def reduce_token(
    token: str,
    level: str,
    tables: NomenclatureTables,
    macs: MacTable | None = None,
    warnings: list[str] | None = None,
) -> str:
    """Reduce one token (allele, group, serology, XX code or MAC) to ``level``; ``HLA-`` is kept."""
    raw = token.strip()
    prefixed = raw.upper().startswith("HLA-")
    t = normalise_token(raw)
    shape = shape_of(t)
    if shape.kind == "mac":
        reduced = [
            tables.reduce(n, level)
            for n in _mac_names(shape.locus, shape.fields[0], shape.fields[1], tables, macs, warnings)
        ]
        out = _sorted_unique(reduced, "/")
    else:
        out = tables.reduce(t, level)
    if prefixed and out:
        out = "/".join(f"HLA-{p}" for p in out.split("/"))
    return out


def _reduce_text(
    text: str, level: str, tables: NomenclatureTables, macs: MacTable | None, warnings: list[str] | None
) -> str:
    for sep in ("^", "|", "+", "~", "/"):
        if sep in text:
            parts = [_reduce_text(p.strip(), level, tables, macs, warnings) for p in text.split(sep)]
            if sep == "~":
                return sep.join(parts)
            if sep == "+":
                return sep.join(sorted((p for p in parts if p), key=_KEY))
            return _sorted_unique(parts, sep)
    return reduce_token(text, level, tables, macs, warnings)


def reduce_gl(
    gl: str,
    level: str,
    tables: NomenclatureTables,
    macs: MacTable | None = None,
    warnings: list[str] | None = None,
) -> str:
    """Reduce a whole GL string as py-ard does (structure checked first; notes go to ``warnings``)."""
    parse_gl(gl)  # clear errors for malformed structure
    return _reduce_text(gl.strip(), level, tables, macs, warnings)
