"""The integer tables agree with py-ard on the shipped release, and typings resolve against them."""

from __future__ import annotations

import random

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.hla.reduction import reduce_gl
from cordmatch.hla.tables import UnknownAlleleError
from cordmatch.hla.typing import parse_typing, validate_typing


@pytest.fixture(scope="module")
def ard():  # type: ignore[no-untyped-def]
    from cordmatch.imgt.cache import cache_dir
    from cordmatch.imgt.pyard_db import init_pyard
    from cordmatch.imgt.release import RELEASE

    return init_pyard(cache_dir(release=RELEASE), RELEASE)


def test_release_is_the_shipped_one(tables) -> None:  # type: ignore[no-untyped-def]
    assert tables.release == "3.58.0"
    assert len(tables.alleles) == 41433  # data lines of Allelelist.txt 3.58.0
    assert "A*01:01:01:01" in tables.allele_index


@pytest.mark.parametrize("level", ["G", "P", "lg", "lgx", "W", "exon", "U2", "S"])
def test_reductions_equal_py_ard_on_sampled_alleles(tables, ard, level: str) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(358)
    names = [*rng.sample(tables.alleles, 150), "A*01:01", "A*02:01", "B*44:02", "DRB1*04:01", "C*07:01:01"]
    for name in names:
        # py-ard orders some allele lists by set iteration (it varies between processes): compare as sets
        ours, theirs = tables.reduce(name, level), ard.redux(name, level)
        assert sorted(ours.split("/")) == sorted(theirs.split("/")), (name, level)


def test_known_reductions(tables) -> None:  # type: ignore[no-untyped-def]
    assert tables.reduce("A*01:01:01:01", "G") == "A*01:01:01G"
    assert tables.reduce("A*02:09", "lgx") == "A*02:01"  # same P group
    assert tables.reduce("A*01:01:01:01", "S") == "A1"
    assert reduce_gl("A*01:01:01:01+A*02:01:01:01^B*08:01:01:01+B*08:01:01:01", "lgx", tables) == (
        "A*01:01+A*02:01^B*08:01+B*08:01"
    )


def test_expansions(tables) -> None:  # type: ignore[no-untyped-def]
    assert set(tables.expand("A*01:01:01G")) >= {"A*01:01:01:01", "A*01:01:01:03"}
    assert all(a.startswith("A*02") for a in tables.expand("A*02:XX"))
    assert "A*02:03:01" not in tables.expand("A2")  # A203 is a split of A2, not A2 itself


def test_unknown_allele_is_named(tables) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownAlleleError) as exc:
        parse_typing("A*01:01+A*01:999", tables)
    assert exc.value.where == "A*01:999"
    assert validate_typing("A*01:01+A*01:01", tables) == []
    assert "B*07:02" in validate_typing("A*01:01+B*07:02", tables)[0]


@pytest.mark.parametrize(
    ("gl", "needle"),
    [
        ("A*01:01", "only one allele"),
        ("A*01:01+A*02:01^A*03:01+A*03:01", "typed twice"),
        ("A*01:01/B*08:01+A*02:01", "B*08:01"),
        ("A*01:01~B*08:01+A*02:01", "different loci"),
        ("A*01:AB+A*02:01", "MAC file"),
        ("A*01:01+A*02:01^B*99:01+B*08:01", "B*99:01"),
    ],
)
def test_bad_typings(tables, gl: str, needle: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match=None) as exc:
        parse_typing(gl, tables)
    assert needle in str(exc.value)


def test_null_positions(tables) -> None:  # type: ignore[no-untyped-def]
    t = parse_typing("A*02:01+A*01:01N", tables)
    p1, p2 = t.loci["A"].alternatives[0]
    assert not p1.is_null and p2.is_null


def test_canonical_gl_is_order_independent(tables) -> None:  # type: ignore[no-untyped-def]
    a = parse_typing("B*44:02+B*08:01^A*02:01/A*02:09+A*01:01", tables).gl()
    b = parse_typing("A*01:01+A*02:09/A*02:01^B*08:01+B*44:02", tables).gl()
    assert a == b
