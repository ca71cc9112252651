"""The column-wise flag and date codes equal the per-unit ones, for any mix of facts."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.selection.columns import date_code_column, pack_flag_columns
from cordmatch.selection.index import EPOCH, date_code, pack_flags

unit_facts = st.tuples(
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, "O", "A", "B", "AB", "X", ""]),
    st.sampled_from([None, "+", "-", "?", ""]),
    st.booleans(),
)


@given(st.lists(unit_facts, max_size=40))
def test_flag_columns_equal_the_flags_of_each_unit(
    units: list[tuple[bool, bool, bool, str | None, str | None, bool]],
) -> None:
    got = pack_flag_columns(
        accredited=np.array([u[0] for u in units], dtype=np.bool_),
        rbc_depleted=np.array([u[1] for u in units], dtype=np.bool_),
        attached_segment=np.array([u[2] for u in units], dtype=np.bool_),
        abo=[u[3] for u in units],
        rh=[u[4] for u in units],
        nima=np.array([u[5] for u in units], dtype=np.bool_),
    )
    want = [pack_flags(accredited=a, rbc_depleted=r, attached_segment=s, abo=abo, rh=rh, nima=n)
            for a, r, s, abo, rh, n in units]  # fmt: skip
    assert got.dtype == np.uint16 and got.tolist() == want


@given(st.lists(st.one_of(st.none(), st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31))), max_size=40))
def test_date_columns_equal_the_date_code_of_each_unit(dates: list[dt.date | None]) -> None:
    days = np.array([0 if d is None else (d - EPOCH).days for d in dates], dtype=np.int64)
    known = np.array([d is not None for d in dates], dtype=np.bool_)
    got = date_code_column(days, known)
    assert got.dtype == np.uint16 and got.tolist() == [date_code(d) for d in dates]
