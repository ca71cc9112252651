"""Validation of the HLA typing GL strings stored with units: one switch point.

Until the nomenclature foundation is merged this is a syntactic check of GL string structure; then it
becomes ``parse_typing(gl, default_nomenclature())`` (see ``validate_typing``).
"""

from __future__ import annotations

import re

from cordmatch.errors import InvalidInputError

_TOKEN = re.compile(
    r"^(HLA-)?[A-Z][A-Z0-9]*\*[0-9]{2,3}(:[0-9A-Z]{2,5}){0,3}[NLSQCAGP]?$"  # allele, MAC, G/P group
    r"|^(HLA-)?[A-Z][A-Z0-9]*\*[0-9]{2,3}:XX$"
)
_SEPARATORS = re.compile(r"[\^|+~/]")


def validate_typing(gl: str, *, where: str = "hla_gl") -> str:
    """The GL string with white space removed; InvalidInputError naming the bad token otherwise."""
    text = re.sub(r"\s+", "", gl or "")
    if not text:
        raise InvalidInputError("HLA typing is empty", where=where)
    for token in _SEPARATORS.split(text):
        if not token:
            raise InvalidInputError(f"empty token in GL string {text!r}", where=where)
        if not _TOKEN.match(token.upper()):
            raise InvalidInputError(
                f"{token!r} is not an HLA allele name (LOCUS*field:field...)", where=where
            )
    return text
