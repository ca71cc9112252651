from __future__ import annotations

import pytest

from cordmatch.bank.product_codes import ProductCodeTable
from cordmatch.errors import InvalidInputError

# Made-up codes: real ones come from the ICCBBA licensed table.
TABLE = "code,description\nX0001,HPC Cord Blood test product one\nX0002,HPC Cord Blood test two\n"


def test_table_from_csv() -> None:
    t = ProductCodeTable.from_csv(TABLE)
    assert t.describe("x0001") == "HPC Cord Blood test product one"
    with pytest.raises(InvalidInputError, match="not in the bank's product code table"):
        t.describe("X0003")
    with pytest.raises(InvalidInputError, match="letter"):
        t.describe("12")


def test_bad_tables() -> None:
    with pytest.raises(InvalidInputError, match="columns"):
        ProductCodeTable.from_csv("a,b\n1,2\n")
    with pytest.raises(InvalidInputError) as exc:
        ProductCodeTable.from_csv(TABLE + "X0001,again\n")
    assert exc.value.where == "product code table line 3"
