"""Antibodies against WHO serologic antigen codes (issue 10): an antibody is never lost when antigen ids
follow WHO serology (associated antigens, XX codes, broad and split)."""

from __future__ import annotations

from cordmatch.hla.typing import parse_typing
from cordmatch.matching.coded import code_typing
from cordmatch.selection.crossmatch import AntibodyProfile
from cordmatch.selection.model import Antibody

REST = "^B*08:01+B*08:01^C*07:01+C*07:01^DRB1*03:01+DRB1*03:01"


def hits(tables, antibody: str, a_locus: str) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    profile = AntibodyProfile.build((Antibody(antibody, 9000.0),), tables, 1000.0)
    coded = code_typing(parse_typing(a_locus + REST, tables))
    assert coded is not None
    definite, possible = profile.coded_hits(coded[0][0], coded[1][0])
    exact = profile.typing_names(parse_typing(a_locus + REST, tables), tables)  # the selection's Crossmatch
    exact_def, exact_pos = exact.definite, exact.possible
    assert bool(definite) == bool(exact_def) and bool(possible) == bool(exact_pos), (antibody, a_locus)
    return bool(definite), bool(possible)


def test_antigen_antibody_hits_associated_antigen_and_xx(tables) -> None:  # type: ignore[no-untyped-def]
    assert hits(tables, "A2", "A*02:03+A*03:01") == (True, False)  # A203 is associated with A2
    assert hits(tables, "A2", "A*02:XX+A*03:01") == (True, False)
    assert hits(tables, "A2", "A*01:01+A*03:01") == (False, False)


def test_antigen_antibody_definitely_hits_an_xx_code_that_may_carry_it(tables) -> None:  # type: ignore[no-untyped-def]
    # B*44:XX includes B*44:09 (B45) and B*44:15 (B12): the unit may still carry B44, so it is a DSA
    assert hits(tables, "B44", "A*01:01+A*03:01") == (False, False)
    profile = AntibodyProfile.build((Antibody("B44", 9000.0),), tables, 1000.0)
    typing = parse_typing("A*01:01+A*03:01^B*44:XX+B*08:01^C*07:01+C*07:01^DRB1*03:01+DRB1*03:01", tables)
    coded = code_typing(typing)
    assert coded is not None
    definite, _ = profile.coded_hits(coded[0][1], coded[1][1])
    assert bool(definite) and profile.typing_names(typing, tables).definite


def test_allele_antibody_possibly_hits_an_xx_code_of_its_family(tables) -> None:  # type: ignore[no-untyped-def]
    assert hits(tables, "A*02:05", "A*02:XX+A*03:01") == (False, True)
    assert hits(tables, "A*02:05", "A*02:05+A*03:01") == (True, False)
    assert hits(tables, "A*02:05", "A*03:01+A*03:01") == (False, False)
