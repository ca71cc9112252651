"""ISBT 128 product description codes, from a table the bank supplies (ICCBBA licenses the values).

Nothing here knows a real code: the bank loads its licensed table (CSV ``code,description``) into the
store, and registration checks each unit's code against it. Codes are 5 characters (e.g. ``E0398``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cordmatch.errors import InvalidInputError

_CODE = re.compile(r"^[A-Z][0-9A-Z]{4}$")


def validate_code(code: str, *, where: str = "product_code") -> str:
    """The normalised code, or InvalidInputError when it is not 5 characters (letter + 4)."""
    c = code.strip().upper()
    if not _CODE.match(c):
        raise InvalidInputError(f"product code {code!r} must be a letter + 4 letters/digits", where=where)
    return c


@dataclass(frozen=True, slots=True)
class ProductCodeTable:
    """Product description codes the bank may use: code -> description."""

    codes: Mapping[str, str]

    def describe(self, code: str) -> str:
        c = validate_code(code)
        try:
            return self.codes[c]
        except KeyError:
            raise InvalidInputError(
                f"product code {c} is not in the bank's product code table", where="product_code"
            ) from None

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> ProductCodeTable:
        out: dict[str, str] = {}
        for i, (code, description) in enumerate(rows, start=1):
            c = validate_code(code, where=f"product code table line {i}")
            if c in out:
                raise InvalidInputError(f"product code {c} listed twice", where=f"product code table line {i}")
            out[c] = description.strip()
        return cls(out)

    @classmethod
    def from_csv(cls, text: str) -> ProductCodeTable:
        """Parse CSV text with a header ``code,description``."""
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or not {"code", "description"} <= set(reader.fieldnames):
            raise InvalidInputError("product code CSV needs columns code,description", where="header")
        return cls.from_rows((r["code"] or "", r["description"] or "") for r in reader)
