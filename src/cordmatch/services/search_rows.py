"""Search rows of a bank store's units, converted to search records (no database imports: the SQLite fast
path of :mod:`cordmatch.services.store_index_sqlite` uses them without SQLAlchemy).

A row holds, in this order: unit id, DIN, state, current typing GL, pre-cryopreservation measurement id,
TNC, CD34+ and volume, post-processing TNC, CD34+ and volume, ABO, Rh, bank name, bank accreditation,
collection time (``.date()`` is read), red cell depletion, segments, NIMA GL. Counts are cells.
"""

from __future__ import annotations

from typing import Any

from cordmatch.bank.lifecycle import UnitState
from cordmatch.selection.model import UnitRecord

UNACCREDITED = frozenset({"", "none", "no"})
_AVAILABLE = UnitState.AVAILABLE.value

_RH = {"pos": "+", "neg": "-"}


class SearchRow:
    """The fields of a :class:`UnitRecord` that coding for the index reads (cheaper to make than the frozen
    record: used when a whole store is coded)."""

    __slots__ = ("abo", "accredited", "attached_segment", "bank", "cd34", "collection_date", "hla", "nima",
                 "population", "rbc_depleted", "rh", "tnc", "unit_id", "volume_ml")  # fmt: skip

    def __init__(
        self, unit_id: str, hla: str, tnc: float, cd34: float | None, volume_ml: float | None, abo: str | None,
        rh: str | None, bank: str, accredited: bool, collection_date: Any, rbc_depleted: bool,
        attached_segment: bool, nima: str | None, population: str | None,
    ) -> None:  # fmt: skip
        self.unit_id, self.hla, self.tnc, self.cd34, self.volume_ml = unit_id, hla, tnc, cd34, volume_ml
        self.abo, self.rh, self.bank, self.accredited = abo, rh, bank, accredited
        self.collection_date, self.rbc_depleted, self.attached_segment = collection_date, rbc_depleted, attached_segment
        self.nima, self.population = nima, population


def search_record(row: Any, light: bool = False) -> tuple[int, UnitRecord] | None:
    """(unit id, search record) of a search row (the layout above); None when not searchable (not listed, no
    typing or no TNC). ``light``: a :class:`SearchRow` with the same fields instead of the record."""
    (uid, din, state, gl, pre_id, pre_tnc, pre_cd34, pre_vol, post_tnc, post_cd34, post_vol,
     abo, rh, bank_name, accreditation, collected_at, rbc, segments, nima) = row  # fmt: skip
    tnc, cd34, vol = (pre_tnc, pre_cd34, pre_vol) if pre_id is not None else (post_tnc, post_cd34, post_vol)
    if state != _AVAILABLE or not gl or not tnc:
        return None
    make: Any = SearchRow if light else UnitRecord
    return uid, make(
        unit_id=din,
        hla=gl,
        tnc=float(tnc),
        cd34=cd34,
        volume_ml=vol,
        abo=abo,
        rh=_RH.get(rh or ""),
        bank=bank_name,
        accredited=accreditation.strip().lower() not in UNACCREDITED,
        collection_date=collected_at.date(),
        rbc_depleted=bool(rbc) if rbc is not None else True,
        attached_segment=segments > 0,
        nima=nima,
        population=None,
    )


def light_row(row: Any) -> tuple[int, UnitRecord] | None:
    """:func:`search_record` as a :class:`SearchRow`."""
    return search_record(row, light=True)
