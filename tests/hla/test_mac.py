"""Multiple allele codes from a user-supplied file (hand-written fixture in NMDP's format)."""

from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.hla.mac import expand_mac, parse_mac_lines
from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade

FIXTURE = """\
LAST UPDATED: test fixture written by hand
*     CODE\tSUBTYPE

AB\t01/02
AFC\t01:01/02:01
ZZ\t02/05
YY\t01/05
"""


def test_parse_and_expand() -> None:
    table = parse_mac_lines(FIXTURE.splitlines())
    assert table["AB"] == ("01", "02")
    assert expand_mac("A", "01", "AB", table) == ["A*01:01", "A*01:02"]
    assert expand_mac("A", "01", "AFC", table) == ["A*01:01", "A*02:01"]


def test_bad_lines_are_named() -> None:
    with pytest.raises(InvalidInputError, match="line 3"):
        parse_mac_lines(["AB\t01/02", "CD\t03", "EF\t0x/02"])
    with pytest.raises(InvalidInputError, match="unknown multiple allele code"):
        expand_mac("A", "01", "QQ", {"AB": ("01",)})
    with pytest.raises(InvalidInputError, match="MAC file"):
        expand_mac("A", "01", "AB", None)


def test_mac_in_a_typing_grades_as_its_alleles(tables) -> None:  # type: ignore[no-untyped-def]
    table = parse_mac_lines(FIXTURE.splitlines())
    unit = parse_typing("A*02:ZZ+A*01:01", tables, table)
    patient = parse_typing("A*02:01+A*01:01", tables)
    r = grade(patient, unit)
    assert r.loci["A"].antigen.bidirectional == 0
    assert r.loci["A"].allele.bidirectional == 1  # A*02:02 or A*02:05: surely not A*02:01
    r = grade(patient, parse_typing("A*02:YY+A*01:01", tables, table))
    assert r.loci["A"].allele.bidirectional is None  # A*02:01 or A*02:05: cannot tell
