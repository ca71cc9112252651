"""Numbers for people: cell counts and doses with their units, no float noise, and the [V]/[U] legend.

``2159999999.9999995`` cells -> ``2.16 x10^9 cells``; a TNC dose in x10^7/kg -> ``3.42 x10^7/kg``.
"""

from __future__ import annotations

import math
import re

#: What [V] and [U] mean next to a threshold or rule (the project guide's source labels).
LEGEND_V = "[V] seen in a cited source (verified)"
LEGEND_U = "[U] unverified: a default to be confirmed by the centre or bank, and configurable"
LEGEND = f"{LEGEND_V}; {LEGEND_U}."
MISSING = "not recorded"


def decimal(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant figures, plain decimal, no trailing zeros (74.0 -> ``74``)."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    places = max(0, digits - 1 - exponent)
    text = f"{round(value, places):.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def power_of_ten(value: float, digits: int = 3) -> str:
    """``value`` as ``m x10^e`` with ``digits`` significant figures (2159999999.9999995 -> ``2.16 x10^9``)."""
    if not math.isfinite(value) or value == 0:
        return decimal(value, digits)
    exponent = math.floor(math.log10(abs(value)))
    mantissa = round(value / 10**exponent, digits - 1)
    if abs(mantissa) >= 10:  # 9.999 rounded up to 10.0
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{decimal(mantissa, digits)} x10^{exponent}"


def number(value: float | int | None, digits: int = 3) -> str:
    """Any count or measure for reading: powers of ten from 100 000 on, plain decimals below."""
    if value is None:
        return MISSING
    v = float(value)
    return power_of_ten(v, digits) if abs(v) >= 1e5 else decimal(v, digits)


def cells(value: float | None) -> str:
    """A total cell count: ``2.16 x10^9 cells``."""
    return MISSING if value is None else f"{number(value)} cells"


def dose(value: float | None, scale: str = "x10^7/kg") -> str:
    """A dose already in ``scale`` units (TNC x10^7/kg, CD34+ x10^5/kg), two decimals: ``3.42 x10^7/kg``."""
    return MISSING if value is None else f"{value:.2f} {scale}"


def tnc_dose(value: float | None) -> str:
    """A TNC dose in x10^7 cells/kg."""
    return dose(value, "x10^7/kg")


def percent(value: float | None) -> str:
    """A percentage given as 0-100: ``81 %``."""
    return MISSING if value is None else f"{decimal(value)} %"


def fraction(value: float | None) -> str:
    """A probability given as 0-1: ``73 %`` (``< 1 %`` and ``> 99 %`` at the ends)."""
    if value is None:
        return MISSING
    pct = 100 * value
    if 0 < pct < 1:
        return "< 1 %"
    if 99 < pct < 100:
        return "> 99 %"
    return f"{pct:.0f} %"


def millilitres(value: float | None) -> str:
    """A volume: ``74 mL``."""
    return MISSING if value is None else f"{decimal(value)} mL"


_NUMBER = re.compile(r"(?<![\w*:.,^])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w*:,^])")


def threshold_text(text: str) -> str:
    """A rule's text for reading: machine-written numbers in it (``900000000.0``, ``1.05e+09``,
    ``3.4000000001``) lose their float noise; short integers, alleles, ids and dates are left alone."""

    def fix(m: re.Match[str]) -> str:
        raw = m.group(0)
        value = float(raw)
        if raw.isdigit() and value < 1e5:
            return raw
        return number(value)

    return _NUMBER.sub(fix, text)
