from __future__ import annotations

import pytest

from cordmatch.bank.typing_check import validate_typing
from cordmatch.errors import InvalidInputError


def test_gl_strings() -> None:
    assert validate_typing(" A*01:01+A*02:01^B*07:02+B*08:01 ") == "A*01:01+A*02:01^B*07:02+B*08:01"
    assert validate_typing("DRB1*15:01/DRB1*15:02+DRB1*03:XX")


@pytest.mark.parametrize("bad", ["", "A*01:01++A*02", "A01:01", "hello"])
def test_bad_gl(bad: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        validate_typing(bad)
    assert exc.value.where == "hla_gl"
