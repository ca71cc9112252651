"""A store's searchable units as whole columns (a bulk read) to coded units, without an object per unit.

:func:`code_unit_columns` gives the same :class:`~cordmatch.services.index_file.CodedUnits` as coding the
units' search records one by one (``store_index.code_records``); tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.columns import date_code_column, pack_flag_columns
from cordmatch.selection.index import EPOCH
from cordmatch.selection.records import CodedGls, code_gls, nima_antigens
from cordmatch.services.index_file import CodedUnits


@dataclass
class UnitColumnsRaw:
    """Searchable units (listed, typed, with a TNC), in unit-id order, as the store holds them."""

    db_id: npt.NDArray[np.int64]
    din: Sequence[str]
    gl: Sequence[str]
    tnc: npt.NDArray[np.float64]  # cells
    cd34: npt.NDArray[np.float64]  # cells, NaN = not recorded
    accredited: npt.NDArray[np.bool_]
    rbc_depleted: npt.NDArray[np.bool_]
    attached_segment: npt.NDArray[np.bool_]
    abo: Sequence[str | None]
    rh: Sequence[str | None]  # "+", "-" or None
    nima: Sequence[str | None]
    collected_days: npt.NDArray[np.int64]  # days since 1970-01-01 (UTC date)
    collected_known: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.db_id)


def fill_side_tables(
    out: CodedUnits, coded: CodedGls, gls: Sequence[str], nimas: Sequence[str | None], tables: NomenclatureTables
) -> None:
    """The per-unit extras of coded units: the coded alternatives (or the GL string) of units graded exactly,
    and the NIMA antigen ids (each distinct NIMA typing parsed once)."""
    for k in np.flatnonzero(coded.exact).tolist():
        uid = int(out.db_id[k])
        alt = coded.alternatives[k]
        if alt is not None:
            out.alternatives[uid] = (alt[0].astype(np.int16), alt[1].astype(np.int16))
        else:
            out.exact_gl[uid] = gls[k]
    cache: dict[str, frozenset[int]] = {}
    for k, nima in enumerate(nimas):
        if nima:
            if nima not in cache:
                cache[nima] = nima_antigens(nima, tables)
            out.nima[int(out.db_id[k])] = cache[nima]


def code_unit_columns(
    raw: UnitColumnsRaw, tables: NomenclatureTables, key: str, part_cache: dict[str, Any] | None = None
) -> CodedUnits:
    """Coded units of raw columns (``part_cache``: locus parts already coded, shared between calls)."""
    coded = code_gls(raw.gl, raw.din, tables, part_cache)
    flags = pack_flag_columns(
        accredited=raw.accredited,
        rbc_depleted=raw.rbc_depleted,
        attached_segment=raw.attached_segment,
        abo=raw.abo,
        rh=raw.rh,
        nima=np.fromiter((v is not None for v in raw.nima), dtype=np.bool_, count=len(raw)),
    )
    out = CodedUnits(key, 0, raw.db_id.astype(np.int64), np.asarray(raw.din, dtype=np.bytes_), coded.ag, coded.al,
                     raw.tnc.astype(np.float32), raw.cd34.astype(np.float32), flags,
                     date_code_column(raw.collected_days, raw.collected_known), coded.exact)  # fmt: skip
    fill_side_tables(out, coded, raw.gl, raw.nima, tables)
    return out


def raw_from_records(rows: Sequence[tuple[int, Any]]) -> UnitColumnsRaw:
    """Raw columns of (unit id, search record) rows (:class:`~cordmatch.selection.model.UnitRecord` or
    :class:`~cordmatch.services.search_rows.SearchRow`: the same fields)."""
    recs = [r for _, r in rows]
    n = len(recs)

    def flags(field: str) -> npt.NDArray[np.bool_]:
        return np.fromiter((bool(getattr(r, field)) for r in recs), dtype=np.bool_, count=n)

    dates = [r.collection_date for r in recs]
    return UnitColumnsRaw(
        db_id=np.fromiter((i for i, _ in rows), dtype=np.int64, count=n),
        din=[r.unit_id for r in recs],
        gl=[r.hla for r in recs],
        tnc=np.fromiter((r.tnc for r in recs), dtype=np.float64, count=n),
        cd34=np.fromiter((np.nan if r.cd34 is None else r.cd34 for r in recs), dtype=np.float64, count=n),
        accredited=flags("accredited"),
        rbc_depleted=flags("rbc_depleted"),
        attached_segment=flags("attached_segment"),
        abo=[r.abo for r in recs],
        rh=[r.rh for r in recs],
        nima=[r.nima for r in recs],
        collected_days=np.fromiter(((d - EPOCH).days if d is not None else 0 for d in dates), np.int64, count=n),
        collected_known=np.fromiter((d is not None for d in dates), dtype=np.bool_, count=n),
    )
