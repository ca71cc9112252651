"""One table of plausible ranges for every number with a unit, and of text lengths (pure; no I/O).

Every entry point (REST models, page forms, CSV import, CLI options, services) checks numbers against
the same :data:`RANGES`, so that a value typed in the wrong unit (TNC 2.5e7 given as cells/kg where
x10^7 cells/kg is asked for) or a value that no patient or cord blood unit can have (a weight of
1e-320 kg, a TNC of 1e308 cells) is refused with an error naming the field, the range and the unit,
instead of being stored or computed with. The ranges are *plausibility* limits, deliberately wide:
they catch typing and unit errors, they are not clinical eligibility rules. All are [U] (project
choice, configurable by editing this table); the reasoning for each is on its line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cordmatch.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive [low, high] in ``unit``; ``low_open`` makes the lower bound exclusive (> low)."""

    low: float
    high: float
    unit: str
    why: str
    low_open: bool = False
    hint_if_above: str | None = None  # said when the value is too large (e.g. a probable unit mix-up)

    def describe(self) -> str:
        lo = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
        return f"{lo} and <= {self.high:g} {self.unit}".strip()


RANGES: dict[str, Range] = {
    # patient
    "weight_kg": Range(0.3, 350.0, "kg", "[U] a preterm neonate to the heaviest adults"),
    # volumes
    "volume_ml": Range(0.0, 1000.0, "mL", "[U] a cord blood collection is < ~300 mL; bag + anticoagulant < 1 L"),
    # cell counts of a unit (absolute numbers of cells)
    "tnc": Range(0.0, 1e11, "cells", "[U] units hold ~1e8..1e10 nucleated cells; 1e11 is well above any unit"),
    "cd34": Range(0.0, 1e10, "cells", "[U] CD34+ cells of a unit are ~1e6..1e8"),
    "cfu": Range(0.0, 1e9, "colonies", "[U] colony-forming units, far above any assay"),
    "percent": Range(0.0, 100.0, "%", "a percentage"),
    "segments": Range(0, 50, "segments", "[U] attached segments of a bag (usually 1..3)"),
    # doses per kg of patient weight
    "tnc_per_kg": Range(
        0.01,
        1000.0,
        "x10^7 cells/kg",
        "[U] cord blood TNC doses are ~1..20 x10^7/kg; below 0.01 (1e5 cells/kg) is no graft",
        hint_if_above="this looks like cells/kg; give the dose in x10^7 cells/kg (e.g. 2.5e7 cells/kg -> 2.5)",
    ),
    "cd34_per_kg": Range(
        0.0,
        1000.0,
        "x10^5 cells/kg",
        "[U] cord blood CD34+ doses are ~0.5..20 x10^5/kg",
        hint_if_above="this looks like cells/kg; give the dose in x10^5 cells/kg (e.g. 1.5e5 cells/kg -> 1.5)",
    ),
    # time
    "token_days": Range(1, 3650, "days", "[U] an API token lives at most ten years"),
    "reservation_days": Range(1, 365, "days", "[U] a reservation is held at most a year (bank policy)"),
    "days": Range(0, 36500, "days", "[U] follow-up and durations within a century"),
    "year": Range(1900, 2200, "", "[U] dates between 1900 and 2200"),
    # antibodies (single-antigen bead assays)
    "mfi": Range(0.0, 100000.0, "MFI", "[U] Luminex MFI saturates near 30,000; 100,000 is beyond any reading"),
    # counts that index things
    "id": Range(1, 2**53, "", "an identifier"),
    "count": Range(0, 2**31 - 1, "", "a count"),
    "match_grade": Range(0, 8, "of 8 alleles", "an HLA match count (of 6 or of 8)"),
}

# Longest accepted text per kind of field (characters); anything longer is refused, not truncated.
TEXT_LIMITS: dict[str, int] = {
    "code": 40,  # bank codes, ABO, product codes, states
    "name": 200,  # user names, token names, labels, centres, patient references
    "gl": 4000,  # a GL string of a unit or patient (ambiguity lists can be long)
    "reason": 2000,  # reasons, notes
    "antibodies": 4000,  # a list of antibody specificities with MFI values
    "json": 100_000,  # QC criteria JSON and similar configuration
}
MAX_REQUEST_BYTES = 1_000_000  # any HTTP request body, except CSV imports
MAX_IMPORT_BYTES = 100_000_000  # a CSV import body or file (~50,000+ rows)
MAX_CSV_FIELD = 4000  # one CSV cell
MAX_JSON_DEPTH = 32  # nesting of any JSON body


def check_number(value: float | int | None, kind: str, field: str) -> float | int | None:
    """``value`` when finite and inside ``RANGES[kind]``; InvalidInputError naming ``field`` otherwise."""
    if value is None:
        return None
    r = RANGES[kind]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{field} must be a number ({r.unit or kind})", where=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError(f"{field} must be a finite number, got {value}", where=field)
    too_low = value <= r.low if r.low_open else value < r.low
    if too_low or value > r.high:
        msg = f"{field} = {value:g} is outside the plausible range ({r.describe()})"
        if value > r.high and r.hint_if_above:
            msg += f": {r.hint_if_above}"
        raise InvalidInputError(msg, where=field)
    return value


def check_length(value: str | None, kind: str, field: str) -> str | None:
    """``value`` when at most ``TEXT_LIMITS[kind]`` characters; InvalidInputError naming ``field`` otherwise."""
    if value is None:
        return None
    limit = TEXT_LIMITS[kind]
    if len(value) > limit:
        raise InvalidInputError(f"{field} is longer than {limit} characters ({len(value)})", where=field)
    return value
