"""Hand-built units for selection tests: typings relative to one patient, doses per kg for a given weight."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from cordmatch.hla.typing import parse_typing
from cordmatch.selection import DictSource, Patient, UnitRecord
from cordmatch.selection.index import UnitIndex
from cordmatch.selection.model import Antibody
from cordmatch.selection.records import build_index

PATIENT = "A*02:01+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01"
#: unit typings by expected bidirectional 8-allele match to PATIENT
HLA = {
    "8": PATIENT,
    "7": "A*02:05+A*01:01^B*08:01+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",  # A allele mismatch
    "7C": "A*02:01+A*01:01^B*08:01+B*44:02^C*07:02+C*05:01^DRB1*03:01+DRB1*04:01",  # C allele mismatch
    "6": "A*02:05+A*01:01^B*08:01+B*44:03^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",
    "5": "A*02:05+A*01:01^B*08:01+B*44:03^C*07:01+C*04:01^DRB1*03:01+DRB1*04:01",
    "4": "A*03:01+A*01:01^B*07:02+B*44:02^C*04:01+C*05:01^DRB1*15:01+DRB1*04:01",  # 4/8 but 3/6
    "4/6": "A*03:01+A*01:01^B*07:02+B*44:02^C*07:01+C*05:01^DRB1*03:01+DRB1*04:01",  # 6/8, 4/6
    "3": "A*03:01+A*01:01^B*07:02+B*44:02^C*04:01+C*05:01^DRB1*15:01+DRB1*01:01",
    "XX": "A*02:XX+A*01:XX^B*08:XX+B*44:XX^C*07:XX+C*05:XX^DRB1*03:01+DRB1*04:01",  # antigen level
}
WEIGHT = 10.0
TODAY = dt.date(2026, 1, 1)


def unit(uid: str, match: str, tnc_per_kg: float, cd34_per_kg: float | None = 2.0, **kw: Any) -> UnitRecord:
    """A unit whose doses are given per kg of a WEIGHT kg patient."""
    base = UnitRecord(
        unit_id=uid,
        hla=HLA[match],
        tnc=tnc_per_kg * 1e7 * WEIGHT,
        cd34=None if cd34_per_kg is None else cd34_per_kg * 1e5 * WEIGHT,
        abo="A",
        rh="+",
        bank="Test Bank",
        accredited=True,
        collection_date=dt.date(2020, 1, 1),
        rbc_depleted=True,
        attached_segment=True,
    )
    return replace(base, **kw)


def registry(units: list[UnitRecord], tables: Any) -> tuple[UnitIndex, DictSource]:
    return build_index(units, tables), DictSource({u.unit_id: u for u in units})


def patient(tables: Any, weight: float = WEIGHT, antibodies: tuple[Antibody, ...] = (), **kw: Any) -> Patient:
    return Patient(parse_typing(PATIENT, tables), weight, antibodies=antibodies, **kw)
