"""Allele name syntax."""

from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.hla.names import locus_of, shape_of


@pytest.mark.parametrize(
    ("token", "kind", "locus"),
    [
        ("A*01:01", "allele", "A"),
        ("HLA-A*01:01:01:01", "allele", "A"),
        ("a*01:01n", "allele", "A"),
        ("A*01:01:01G", "g_group", "A"),
        ("DRB1*04:01P", "p_group", "DRB1"),
        ("A*01:XX", "xx", "A"),
        ("A*01:AB", "mac", "A"),
        ("Cw7", "serology", "C"),
        ("DR4", "serology", "DRB1"),
    ],
)
def test_shapes(token: str, kind: str, locus: str) -> None:
    s = shape_of(token)
    assert (s.kind, s.locus) == (kind, locus)
    assert locus_of(token) == locus


@pytest.mark.parametrize("token", ["", "hello", "A*", "A*1:01", "A*01:01:01:01:01", "*01:01", "A**01"])
def test_malformed_names_are_refused(token: str) -> None:
    with pytest.raises(InvalidInputError):
        shape_of(token)
