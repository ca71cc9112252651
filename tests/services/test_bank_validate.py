from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.services.bank_validate import check_typing


def test_typings_checked_against_the_release() -> None:
    assert check_typing(" A*01:01+A*02:01 ^ B*07:02+B*08:01 ") == "A*01:01+A*02:01^B*07:02+B*08:01"
    assert check_typing("DRB1*15:01/DRB1*15:02+DRB1*03:XX")


@pytest.mark.parametrize(
    ("bad", "fragment"),
    [("", "empty"), ("A*01:01++A*02:01", "empty chromosome"), ("A*99:99+A*01:01", "A*99:99"), ("hello", "hello")],
)
def test_bad_typings_name_the_field(bad: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        check_typing(bad, where="nima_gl")
    assert exc.value.where == "nima_gl" and fragment in str(exc.value)


def test_nima_is_one_haplotype() -> None:
    from cordmatch.services.bank_validate import check_nima

    assert check_nima("A*24:02 ^ B*35:01^DRB1*01:01/DRB1*01:02") == "A*24:02^B*35:01^DRB1*01:01/DRB1*01:02"
    with pytest.raises(InvalidInputError, match="one haplotype"):
        check_nima("A*24:02+A*01:01")
    with pytest.raises(InvalidInputError, match=r"A\*99:99"):
        check_nima("A*99:99")
