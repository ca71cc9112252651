"""Allele-name syntax: split and normalise HLA tokens (no release data needed)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cordmatch.errors import InvalidInputError

_MOLECULAR = re.compile(r"^(?P<locus>[A-Z]+[0-9]*)\*(?P<body>[0-9A-Z:]+?)(?P<suffix>[NLSQCAG P]?)$")
_FIELD = re.compile(r"^[0-9]{2,4}$")
_MAC = re.compile(r"^[A-Z]{2,5}$")
_SEROLOGY = re.compile(r"^(?P<prefix>A|B|Cw|C|DR|DQ|DP|Bw)(?P<number>[0-9]{1,4})$")

EXPRESSION_SUFFIXES = frozenset("NLSQCA")


def normalise_token(token: str) -> str:
    """Strip white space and an ``HLA-`` prefix; upper-case molecular names (serology keeps ``Cw``)."""
    t = token.strip()
    if t.upper().startswith("HLA-"):
        t = t[4:]
    if "*" in t:
        return t.upper()
    return t


@dataclass(frozen=True, slots=True)
class TokenShape:
    """What kind of token a string is, by syntax alone.

    kind: ``allele`` (1-4 fields, maybe a suffix), ``g_group``, ``p_group``, ``xx``, ``mac``, ``serology``.
    """

    kind: str
    locus: str
    fields: tuple[str, ...]
    suffix: str

    @property
    def family(self) -> str:
        """``A*02`` for ``A*02:01:01``."""
        return f"{self.locus}*{self.fields[0]}" if self.fields else self.locus


def locus_of(token: str) -> str:
    """The locus of a molecular or serologic token, e.g. ``DRB1`` for ``DRB1*04:01``."""
    t = normalise_token(token)
    if "*" in t:
        return t.split("*", 1)[0]
    m = _SEROLOGY.match(t)
    if not m:
        raise InvalidInputError(f"not an HLA allele or antigen name: {token!r}", where=token)
    prefix = m.group("prefix")
    return {"Cw": "C", "DR": "DRB1", "DQ": "DQB1", "DP": "DPB1", "Bw": "B"}.get(prefix, prefix)


def shape_of(token: str) -> TokenShape:
    """Classify a token by syntax; raises InvalidInputError naming it when it is no HLA name at all."""
    t = normalise_token(token)
    if not t:
        raise InvalidInputError("empty HLA name", where=repr(token))
    if "*" not in t:
        if _SEROLOGY.match(t):
            return TokenShape("serology", locus_of(t), (t,), "")
        raise InvalidInputError(f"not an HLA allele or antigen name: {token!r}", where=token)
    locus, body = t.split("*", 1)
    if not locus or not body or not re.fullmatch(r"[A-Z]+[0-9]*", locus):
        raise InvalidInputError(f"malformed HLA allele name: {token!r}", where=token)
    parts = body.split(":")
    for shape in (_xx_shape, _mac_shape, _group_shape):
        found = shape(locus, parts, token)
        if found is not None:
            return found
    return _allele_shape(locus, parts, token)


def _xx_shape(locus: str, parts: list[str], token: str) -> TokenShape | None:
    """``A*02:XX``: a first-field family."""
    if len(parts) < 2 or parts[-1] != "XX":
        return None
    if not _FIELD.match(parts[0]) or len(parts) != 2:
        raise InvalidInputError(f"malformed XX code: {token!r}", where=token)
    return TokenShape("xx", locus, (parts[0],), "")


def _mac_shape(locus: str, parts: list[str], token: str) -> TokenShape | None:
    """``A*02:AB``: a multiple allele code (never XX, handled before)."""
    if len(parts) != 2 or not _MAC.match(parts[1]):
        return None
    if not _FIELD.match(parts[0]):
        raise InvalidInputError(f"malformed allele code: {token!r}", where=token)
    return TokenShape("mac", locus, (parts[0], parts[1]), "")


def _group_shape(locus: str, parts: list[str], token: str) -> TokenShape | None:
    """``A*02:01:01G`` or ``A*02:01P``: a G or P group."""
    last = parts[-1]
    if not (last and last[-1] in "GP" and len(last) > 1 and last[:-1].isdigit()):
        return None
    fields = (*parts[:-1], last[:-1])
    if not all(_FIELD.match(f) for f in fields):
        raise InvalidInputError(f"malformed allele group name: {token!r}", where=token)
    return TokenShape("g_group" if last[-1] == "G" else "p_group", locus, tuple(fields), last[-1])


def _allele_shape(locus: str, parts: list[str], token: str) -> TokenShape:
    """``A*02:01:01:02N``: an allele of 1-4 fields, maybe with an expression suffix."""
    suffix = ""
    last = parts[-1]
    if last and last[-1] in EXPRESSION_SUFFIXES:
        suffix = last[-1]
        parts = [*parts[:-1], last[:-1]]
    if not 1 <= len(parts) <= 4 or not all(_FIELD.match(f) for f in parts):
        raise InvalidInputError(f"malformed HLA allele name: {token!r}", where=token)
    return TokenShape("allele", locus, tuple(parts), suffix)
