"""Numbers for people: no float noise, units, powers of ten that read back to the value."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from cordmatch.reports.numbers import cells, decimal, fraction, number, percent, power_of_ten, threshold_text


def test_examples() -> None:
    assert cells(2159999999.9999995) == "2.16 x10^9 cells"
    assert cells(None) == "not recorded"
    assert number(74.0) == "74" and number(0.5) == "0.5" and number(123456) == "1.23 x10^5"
    assert power_of_ten(9.9996e8) == "1 x10^9"
    assert percent(81.0) == "81 %" and fraction(0.731) == "73 %" and fraction(0.001) == "< 1 %"
    assert threshold_text("TNC >= 900000000.0 cells") == "TNC >= 9 x10^8 cells"
    assert threshold_text("1.05e+09") == "1.05 x10^9"


def test_threshold_text_leaves_alleles_ids_dates_and_counts_alone() -> None:
    for text in ("A*02:01:01:01 vs A*24:02", "CB0000001234", "Z999926000001", "2025-10-25", "5,000 units",
                 "MFI 1800", "x10^7/kg", "day 42"):  # fmt: skip
        assert threshold_text(text) == text


@given(st.floats(min_value=1e-3, max_value=1e15, allow_nan=False))
def test_power_of_ten_reads_back(value: float) -> None:
    text = power_of_ten(value)
    assert "e" not in text
    mantissa, _, exponent = text.partition(" x10^")
    back = float(mantissa) * 10 ** int(exponent or 0)
    assert math.isclose(back, value, rel_tol=5e-3)
    assert 1 <= abs(float(mantissa)) < 10 or not exponent


@given(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False))
def test_decimal_has_no_noise(value: float) -> None:
    text = decimal(value)
    assert "e" not in text and len(text.replace("-", "").replace(".", "").lstrip("0")) <= 5
