from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.bank.din import ALPHABET, check_character, check_flag, checksum, issue_din, parse_din
from cordmatch.errors import InvalidInputError


@pytest.mark.parametrize(
    ("din", "char", "flag"),
    [("G123498654321", "H", "77"), ("A999921123456", "3", "63")],  # domain.md section 7 (JPAC Red Book)
)
def test_published_vectors(din: str, char: str, flag: str) -> None:
    assert check_character(din) == char
    assert check_flag(din) == flag


def test_parse_forms() -> None:
    for text in ("G123498654321", "G1234 98 654321 H", "g123498654321h", "=G12349865432177"):
        din = parse_din(text)
        assert (din.facility, din.year, din.sequence) == ("G1234", 98, 654321)
        assert din.labelled == "G123498654321H"
        assert din.barcode == "=G12349865432177"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("G123498654321X", "wrong check character 'X'"),
        ("=G12349865432170", "wrong check flag 70"),
        ("G12349865432", "not a DIN"),
        ("1123498654321", "facility id"),
        ("G1234986543#1", "facility id"),
        ("", "not a DIN"),
    ],
)
def test_bad_dins_are_named(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        parse_din(text)
    assert fragment in str(exc.value)
    assert exc.value.where == "DIN"


def test_issue() -> None:
    din = issue_din("W0001", 2026, 42)
    assert str(din) == "W000126000042"
    assert parse_din(din.labelled) == din
    with pytest.raises(InvalidInputError):
        issue_din("00001", 26, 1)
    with pytest.raises(InvalidInputError):
        issue_din("W0001", 26, 0)


din13 = st.builds(
    lambda f, d, y, s: f"{f}{d:04d}{y:02d}{s:06d}",
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.integers(0, 9999),
    st.integers(0, 99),
    st.integers(0, 999_999),
)


@given(din13)
def test_check_char_round_trip(din: str) -> None:
    labelled = din + check_character(din)
    assert str(parse_din(labelled)) == din
    # ISO 7064 mod 37-2: the weighted sum including the check value is 1 mod 37
    values = [ALPHABET.index(c) for c in labelled]
    assert sum(v * 2 ** (len(values) - i - 1) for i, v in enumerate(values)) % 37 == 1


@given(din13, st.integers(0, 12), st.sampled_from("0123456789"))
def test_single_substitution_is_detected(din: str, pos: int, ch: str) -> None:
    if pos == 0 or din[pos] == ch:
        return
    changed = din[:pos] + ch + din[pos + 1 :]
    assert checksum(changed) != checksum(din)
