"""Field checks of bank inputs: each raises InvalidInputError naming the field. Nothing is written here."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cordmatch.errors import CordmatchError, InvalidInputError
from cordmatch.plausibility import check_number
from cordmatch.services.schemas import MeasurementIn, TestResultsIn
from cordmatch.sourced import ABO_GROUPS

if TYPE_CHECKING:
    from cordmatch.hla.tables import NomenclatureTables

#: The nomenclature tables, loaded when first needed (a bank service's own, ``BankContext.nomenclature``).
TablesSource = Callable[[], "NomenclatureTables"]

ABO = ABO_GROUPS
RH = {"pos": "pos", "+": "pos", "positive": "pos", "neg": "neg", "-": "neg", "negative": "neg"}
IDM = ("negative", "positive", "indeterminate")
STERILITY = ("negative", "positive")
HB_SCREEN = ("normal", "carrier", "abnormal")
CLOCK_SKEW = timedelta(minutes=5)


def check_typing(gl: str, *, where: str = "hla_gl", tables: TablesSource | None = None) -> str:
    """The GL string (white space removed) when every token is known to the IPD-IMGT/HLA release of
    ``tables`` (default: the current settings' tables); InvalidInputError naming the field and the bad token
    otherwise."""
    from cordmatch.hla.typing import parse_typing
    from cordmatch.imgt import current_tables

    text = re.sub(r"\s+", "", gl or "")
    if not text:
        raise InvalidInputError("HLA typing is empty", where=where)
    try:
        parse_typing(text, (tables or current_tables)())
    except CordmatchError as exc:
        raise InvalidInputError(f"HLA typing {text!r}: {exc}", where=where) from None
    return text


def check_nima(gl: str, *, where: str = "nima_gl", tables: TablesSource | None = None) -> str:
    """Non-inherited maternal antigens: one haplotype, one name (or ``/`` list) per locus, ``^`` between
    loci (``A*24:02^B*35:01``). Each locus is checked as the homozygous typing it would be."""
    text = re.sub(r"\s+", "", gl or "")
    if not text:
        raise InvalidInputError("NIMA is empty", where=where)
    blocks = text.split("^")
    for block in blocks:
        if "+" in block or "|" in block or "~" in block:
            raise InvalidInputError(
                f"NIMA {text!r}: one haplotype, so one name per locus joined with ^ (no + | ~)", where=where
            )
    check_typing("^".join(f"{b}+{b}" for b in blocks), where=where, tables=tables)
    return text


def check_collected_at(value: datetime, now: datetime, *, where: str = "collected_at") -> datetime:
    if value.tzinfo is None:
        raise InvalidInputError("collection time needs a time zone (e.g. ...Z or +01:00)", where=where)
    if value > now + CLOCK_SKEW:
        raise InvalidInputError(f"collection time {value.isoformat()} is in the future", where=where)
    return value


def check_nonneg(value: float | None, field: str, *, upper: float | None = None) -> float | None:
    if value is None:
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise InvalidInputError(f"{field} must be a number", where=field)
    if value < 0:
        raise InvalidInputError(f"{field} must not be negative (got {value})", where=field)
    if upper is not None and value > upper:
        raise InvalidInputError(f"{field} must be at most {upper} (got {value})", where=field)
    return value


MEASUREMENT_KINDS = {
    "volume_ml": "volume_ml",
    "tnc": "tnc",
    "cd34": "cd34",
    "cfu": "cfu",
    "viability_pct": "percent",
    "viable_cd34_pct": "percent",
    "viable_cd45_pct": "percent",
}


def check_measurement(m: MeasurementIn, *, prefix: str = "") -> MeasurementIn:
    """``m`` when every count is inside its plausible range (cordmatch.plausibility.RANGES)."""
    for name, kind in MEASUREMENT_KINDS.items():
        check_nonneg(getattr(m, name), prefix + name, upper=100.0 if kind == "percent" else None)
        check_number(getattr(m, name), kind, prefix + name)
    if m.tnc is not None and m.cd34 is not None and m.cd34 > m.tnc:
        raise InvalidInputError(f"{prefix}cd34 ({m.cd34:g}) exceeds tnc ({m.tnc:g})", where=prefix + "cd34")
    return m


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is None:
        return None
    v = value.strip()
    for a in allowed:
        if v.lower() == a.lower():
            return a
    raise InvalidInputError(f"{field} {value!r} is not one of {', '.join(allowed)}", where=field)


def check_tests(t: TestResultsIn) -> TestResultsIn:
    """Normalised copy of ``t`` (ABO upper case, Rh pos/neg, ...)."""
    rh = None
    if t.rh is not None:
        rh = RH.get(t.rh.strip().lower())
        if rh is None:
            raise InvalidInputError(f"rh {t.rh!r} is not pos or neg", where="rh")
    if t.segments is not None and t.segments < 0:
        raise InvalidInputError(f"segments must not be negative (got {t.segments})", where="segments")
    markers = None
    if t.idm_markers is not None:
        markers = {}
        for k, v in t.idm_markers.items():
            r = _choice(v, IDM, f"idm_markers.{k}")
            assert r is not None
            markers[k.strip()] = r
    return TestResultsIn(
        abo=_choice(t.abo, ABO, "abo"),
        rh=rh,
        idm_result=_choice(t.idm_result, IDM, "idm_result"),
        idm_markers=markers,
        sterility=_choice(t.sterility, STERILITY, "sterility"),
        hb_screen=_choice(t.hb_screen, HB_SCREEN, "hb_screen"),
        segments=t.segments,
    )


def check_text(value: str | None, field: str, *, max_len: int = 200, required: bool = True) -> str:
    v = (value or "").strip()
    if required and not v:
        raise InvalidInputError(f"{field} is required", where=field)
    if len(v) > max_len:
        raise InvalidInputError(f"{field} is longer than {max_len} characters", where=field)
    return v
