"""GL string syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.errors import InvalidInputError
from cordmatch.hla.gl import parse_gl


def test_operators_bind_from_loosest_to_tightest() -> None:
    g = parse_gl("A*01:01/A*01:02+A*02:01|A*03:01+A*03:01^B*08:01~C*07:01+B*44:02~C*05:01")
    a, bc = g.components
    assert len(a) == 2 and a[0][0] == (("A*01:01", "A*01:02"),)
    assert bc[0][0] == (("B*08:01",), ("C*07:01",))
    assert g.tokens()[0] == "A*01:01"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", "typing"),
        ("A*01:01++A*02:01", "character 9"),
        ("A*01:01+A*02:01^", "character 17"),
        ("A*01:01+A*02:01+A*03:01", None),
        ("A*01:01;A*02:01", "character 8"),
        ("A*01:01//A*01:02+A*02:01", "character 9"),
    ],
)
def test_malformed_gl_strings_name_the_place(text: str, where: str | None) -> None:
    with pytest.raises(InvalidInputError) as exc:
        parse_gl(text)
    if where:
        assert exc.value.where == where


@given(st.lists(st.sampled_from(["A*01:01", "B*08:01", "DRB1*03:01", "C*07:01"]), min_size=1, max_size=4))
def test_round_trip_of_tokens(tokens: list[str]) -> None:
    text = "^".join(f"{t}+{t}" for t in tokens)
    assert parse_gl(text).tokens() == [t for t in tokens for _ in range(2)]
