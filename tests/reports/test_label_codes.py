"""The blood group (ISBT 128 data structure 002) and collection date (006) data content, against values read
in the ISBT 128 Standard Technical Specification ST-001 v6.2.2: Table 4 [RT005] (page 86), the definition of
``cyyjjj`` (section 2.4.6) and the document's own example ``0180292359`` = 29 JAN 2018 (Appendix C, Figure 21)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.reports.label_codes import (
    blood_group_barcode,
    blood_group_content,
    collection_date_barcode,
    collection_date_content,
)

#: Table 4 [RT005], column "Default: Intended Use Not Specified", copied by hand from the document.
TABLE_4 = [("O", "neg", "95"), ("O", "pos", "51"), ("A", "neg", "06"), ("A", "pos", "62"),
           ("B", "neg", "17"), ("B", "pos", "73"), ("AB", "neg", "28"), ("AB", "pos", "84")]  # fmt: skip


@pytest.mark.parametrize(("abo", "rh", "gg"), TABLE_4)
def test_every_group_has_its_table_4_code(abo: str, rh: str, gg: str) -> None:
    assert blood_group_content(abo, rh) == f"{gg}00"  # r = 0: no phenotype; e = 0: reserved
    assert blood_group_barcode(abo, rh) == f"=%{gg}00"


def test_the_eight_codes_are_distinct() -> None:
    assert len({blood_group_content(abo, rh) for abo, rh, _ in TABLE_4}) == 8


@pytest.mark.parametrize(
    ("abo", "rh"),
    [(None, "pos"), ("O", None), (None, None), ("O", "weak"), ("o", "pos"), ("A1", "pos"), ("", "neg")],
)
def test_unknown_or_uncoded_group_has_no_code(abo: str | None, rh: str | None) -> None:
    """Never a default group: unknown or unexpected values give no bar code at all."""
    assert blood_group_content(abo, rh) is None and blood_group_barcode(abo, rh) is None


@pytest.mark.parametrize(
    ("day", "content"),
    [
        (date(2018, 1, 29), "018029"),  # the document's example: 0180292359 printed as 29 JAN 2018
        (date(2026, 11, 30), "026334"),  # 31+28+31+30+31+30+31+31+30+31 = 304, + 30
        (date(2024, 12, 31), "024366"),  # leap year: 366th day
        (date(2025, 12, 31), "025365"),
        (date(2000, 1, 1), "000001"),
        (date(2099, 3, 1), "099060"),  # 31 + 28 + 1
    ],
)
def test_collection_date_hand_computed(day: date, content: str) -> None:
    assert collection_date_content(day) == content
    assert collection_date_barcode(day) == f"=*{content}"


@pytest.mark.parametrize("day", [date(1999, 12, 31), date(2100, 1, 1), date(1995, 6, 1)])
def test_century_digit_not_verified_outside_2000s(day: date) -> None:
    assert collection_date_content(day) is None and collection_date_barcode(day) is None


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_collection_date_reads_back(day: date) -> None:
    """Read as the document defines it: century 0 (2000s), year in the century, ordinal day from 1 January."""
    content = collection_date_content(day)
    assert content is not None and len(content) == 6 and content.isdigit()
    c, yy, jjj = int(content[0]), int(content[1:3]), int(content[3:])
    assert c == 0
    assert date(2000 + yy, 1, 1) + timedelta(days=jjj - 1) == day
