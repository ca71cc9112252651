"""ISBT 128 Donation Identification Numbers (DIN) and their ISO 7064 mod 37-2 check character.

A DIN is 13 characters: facility identification number (FIN: a letter + 4 digits, assigned by ICCBBA),
year (2 digits) and sequence number (6 digits). The eye-readable label adds a boxed check character;
the barcode carries ``=`` + the DIN + 2 flag characters (the check flag is checksum + 60).
Source: JPAC Red Book Annex 2 (domain.md section 7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cordmatch.errors import InvalidInputError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_DIN13 = re.compile(r"^(?P<fin>[A-Z][0-9]{4})(?P<year>[0-9]{2})(?P<seq>[0-9]{6})$")
_FIN = re.compile(r"^[A-Z][0-9]{4}$")


def checksum(din13: str) -> int:
    """ISO 7064 mod 37-2 checksum (0-36) of the 13 DIN characters (no ``=``, no flags)."""
    total = 0
    n = len(din13)
    for pos, ch in enumerate(din13):
        try:
            value = _VALUE[ch]
        except KeyError:
            raise InvalidInputError(
                f"character {ch!r} is not allowed in a DIN (0-9, A-Z)", where=f"DIN position {pos + 1}"
            ) from None
        total += value * (1 << (n - pos))
    return (38 - total % 37) % 37


def check_character(din13: str) -> str:
    """The eye-readable check character of a 13-character DIN (``G123498654321`` -> ``H``)."""
    return ALPHABET[checksum(_require_din13(din13))]


def check_flag(din13: str) -> str:
    """The two-digit barcode check flag (checksum + 60; ``G123498654321`` -> ``77``)."""
    return str(checksum(_require_din13(din13)) + 60)


def _require_din13(text: str) -> str:
    t = text.strip().upper()
    if len(t) != 13:
        raise InvalidInputError(f"a DIN has 13 characters, got {len(t)}: {text!r}", where="DIN")
    if not _DIN13.match(t):
        raise InvalidInputError(
            f"DIN {text!r} must be a facility id (letter + 4 digits), 2-digit year and 6-digit sequence",
            where="DIN",
        )
    return t


@dataclass(frozen=True, slots=True)
class Din:
    """A parsed DIN; ``str(din)`` is the 13 characters, ``labelled`` adds the check character."""

    facility: str
    year: int
    sequence: int

    def __str__(self) -> str:
        return f"{self.facility}{self.year:02d}{self.sequence:06d}"

    @property
    def check(self) -> str:
        return check_character(str(self))

    @property
    def labelled(self) -> str:
        """The 14-character form: 13 characters + check character."""
        return str(self) + self.check

    @property
    def barcode(self) -> str:
        """Barcode data: ``=`` + 13 characters + 2 flag characters (check flag)."""
        return f"={self}{check_flag(str(self))}"


def parse_din(text: str) -> Din:
    """Parse and validate a DIN in any usual form; raise InvalidInputError naming what is wrong.

    Accepted: 13 characters; 13 + check character; ``=`` + 13 + 2-digit flag; spaces are ignored.
    A given check character or check flag (60-96) must match.
    """
    raw = text
    t = re.sub(r"\s+", "", text).upper()
    barcode = t.startswith("=")
    if barcode:
        t = t[1:]
    if len(t) == 13:
        return _din_of(_require_din13(t))
    if len(t) == 14 and not barcode:
        body, given = t[:13], t[13]
        din = _din_of(_require_din13(body))
        if given != din.check:
            raise InvalidInputError(_mismatch("check character", repr(given), body), where="DIN")
        return din
    if len(t) == 15 and t[13:].isdigit():
        body, flag = t[:13], t[13:]
        din = _din_of(_require_din13(body))
        value = int(flag)
        if 60 <= value <= 96 and flag != check_flag(body):
            raise InvalidInputError(_mismatch("check flag", flag, body), where="DIN")
        return din
    raise InvalidInputError(
        f"{raw!r} is not a DIN: expected 13 characters (+ check character, or = + 13 + 2 flags)",
        where="DIN",
    )


def _mismatch(kind: str, given: str, body: str) -> str:
    """The refusal of a DIN whose check does not match. It never names the right check character or flag:
    the check exists to catch a mistyped DIN, and naming the right one would let a typo be "fixed" by
    changing the check instead of re-reading the label."""
    return (
        f"wrong {kind} {given} for DIN {body}: the DIN or its {kind} was mistyped; "
        "re-read both from the label, or scan the barcode"
    )


def _din_of(t: str) -> Din:
    m = _DIN13.match(t)
    assert m is not None
    return Din(m["fin"], int(m["year"]), int(m["seq"]))


def issue_din(facility: str, year: int, sequence: int) -> Din:
    """A new DIN from its parts: FIN (letter + 4 digits), year (0-99 or 4 digits), sequence 1-999999."""
    fin = facility.strip().upper()
    if not _FIN.match(fin):
        raise InvalidInputError(f"facility id {facility!r} must be a letter + 4 digits", where="facility")
    yy = year % 100 if year >= 100 else year
    if not 0 <= yy <= 99:
        raise InvalidInputError(f"year {year} out of range", where="year")
    if not 1 <= sequence <= 999_999:
        raise InvalidInputError(f"sequence {sequence} must be 1..999999", where="sequence")
    return Din(fin, yy, sequence)
