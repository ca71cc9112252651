"""Unit facts as whole columns (a database bulk read, or gathered from records) to index columns, vectorised.

:func:`pack_flag_columns` and :func:`date_code_column` are the twins of
:func:`cordmatch.selection.index.pack_flags` and :func:`~cordmatch.selection.index.date_code` for arrays: a
store coded in one pass never builds a Python object per unit. Tests hold each twin equal to its per-unit
original. :func:`fact_columns` is the one place unit facts become the index's dose, flag and date columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.selection.index import (
    ABO_CODES,
    ABO_KNOWN,
    ABO_SHIFT,
    ACCREDITED,
    EPOCH,
    LIVE,
    NIMA,
    RBC_DEPLETED,
    RH_KNOWN,
    RH_POS,
    SEGMENT,
)

Bools = npt.NDArray[np.bool_]


def _codes_of(values: Sequence[str | None], known: dict[str, int]) -> npt.NDArray[np.int16]:
    """Per value its code in ``known``, -1 when absent or unknown (each distinct value looked up once)."""
    distinct: dict[str | None, int] = {}
    return np.fromiter(
        (distinct[v] if v in distinct else distinct.setdefault(v, known.get(v, -1) if v is not None else -1)
         for v in values),
        dtype=np.int16,
        count=len(values),
    )  # fmt: skip


def pack_flag_columns(
    *,
    accredited: Bools,
    rbc_depleted: Bools,
    attached_segment: Bools,
    abo: Sequence[str | None],
    rh: Sequence[str | None],
    nima: Bools,
) -> npt.NDArray[np.uint16]:
    """The flag bits of many units (LIVE set); ``rh`` as ``+``/``-`` (anything else: not known)."""
    f = np.full(len(abo), LIVE, dtype=np.uint16)
    f |= np.where(accredited, ACCREDITED, 0).astype(np.uint16)
    f |= np.where(rbc_depleted, RBC_DEPLETED, 0).astype(np.uint16)
    f |= np.where(attached_segment, SEGMENT, 0).astype(np.uint16)
    f |= np.where(nima, NIMA, 0).astype(np.uint16)
    abo_code = _codes_of(abo, ABO_CODES)
    known = abo_code >= 0
    f[known] |= (ABO_KNOWN | (abo_code[known].astype(np.uint16) << ABO_SHIFT)).astype(np.uint16)
    rh_code = _codes_of(rh, {"+": 1, "-": 0})
    f[rh_code >= 0] |= RH_KNOWN
    f[rh_code == 1] |= RH_POS
    return f


def date_code_column(days: npt.NDArray[np.int64], known: Bools) -> npt.NDArray[np.uint16]:
    """Days since 1970-01-01 (``known`` False: no date) as index date codes (0 = unknown, else 1..65535)."""
    return np.where(known, np.clip(days, 1, 65535), 0).astype(np.uint16)


@dataclass
class UnitColumnsRaw:
    """Searchable units as columns of their facts, as a store or records hold them (``db_id``: the store's
    unit ids, or positions for records without one)."""

    db_id: npt.NDArray[np.int64]
    din: Sequence[str]
    gl: Sequence[str]
    tnc: npt.NDArray[np.float64]  # cells
    cd34: npt.NDArray[np.float64]  # cells, NaN = not recorded
    accredited: Bools
    rbc_depleted: Bools
    attached_segment: Bools
    abo: Sequence[str | None]
    rh: Sequence[str | None]  # "+", "-" or None
    nima: Sequence[str | None]
    collected_days: npt.NDArray[np.int64]  # days since 1970-01-01 (UTC date)
    collected_known: Bools

    def __len__(self) -> int:
        return len(self.db_id)


def fact_columns(
    raw: UnitColumnsRaw,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.uint16], npt.NDArray[np.uint16]]:
    """The index's TNC and CD34+ (cells, float32; CD34+ NaN when not recorded), flag and date columns."""
    flags = pack_flag_columns(
        accredited=raw.accredited,
        rbc_depleted=raw.rbc_depleted,
        attached_segment=raw.attached_segment,
        abo=raw.abo,
        rh=raw.rh,
        nima=np.fromiter((v is not None for v in raw.nima), dtype=np.bool_, count=len(raw)),
    )
    collected = date_code_column(raw.collected_days, raw.collected_known)
    return raw.tnc.astype(np.float32), raw.cd34.astype(np.float32), flags, collected


def raw_from_records(records: Sequence[Any], ids: Sequence[int] | None = None) -> UnitColumnsRaw:
    """Raw columns of search records (:class:`~cordmatch.selection.model.UnitRecord` or any object with its
    fields); ``ids``: their store unit ids (default: their positions)."""
    n = len(records)

    def flags(field: str) -> Bools:
        return np.fromiter((bool(getattr(r, field)) for r in records), dtype=np.bool_, count=n)

    dates = [r.collection_date for r in records]
    return UnitColumnsRaw(
        db_id=np.arange(n, dtype=np.int64) if ids is None else np.fromiter(ids, dtype=np.int64, count=n),
        din=[r.unit_id for r in records],
        gl=[r.hla for r in records],
        tnc=np.fromiter((r.tnc for r in records), dtype=np.float64, count=n),
        cd34=np.fromiter((np.nan if r.cd34 is None else r.cd34 for r in records), dtype=np.float64, count=n),
        accredited=flags("accredited"),
        rbc_depleted=flags("rbc_depleted"),
        attached_segment=flags("attached_segment"),
        abo=[r.abo for r in records],
        rh=[r.rh for r in records],
        nima=[r.nima for r in records],
        collected_days=np.fromiter(((d - EPOCH).days if d is not None else 0 for d in dates), np.int64, count=n),
        collected_known=np.fromiter((d is not None for d in dates), dtype=np.bool_, count=n),
    )
