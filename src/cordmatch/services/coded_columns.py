"""A store's searchable units as whole columns (a bulk read) to coded units, without an object per unit.

:func:`code_unit_columns` gives the same :class:`~cordmatch.services.index_file.CodedUnits` as coding the
units' search records one by one (``store_index.code_records``); tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cordmatch.hla.tables import NomenclatureTables
from cordmatch.selection.columns import UnitColumnsRaw, fact_columns
from cordmatch.selection.records import CodedGls, code_gls, nima_antigens
from cordmatch.services.index_file import CodedUnits


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
    tnc, cd34, flags, collected = fact_columns(raw)
    out = CodedUnits(key, 0, raw.db_id.astype(np.int64), np.asarray(raw.din, dtype=np.bytes_), coded.ag, coded.al,
                     tnc, cd34, flags, collected, coded.exact)  # fmt: skip
    fill_side_tables(out, coded, raw.gl, raw.nima, tables)
    return out
