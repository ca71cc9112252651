"""Unit facts as whole columns (as a database bulk read gives them) to index flag and date codes, vectorised.

The twins of :func:`cordmatch.selection.index.pack_flags` and :func:`~cordmatch.selection.index.date_code`
for arrays: a store coded in one pass never builds a Python object per unit. Tests hold each twin equal
to its per-unit original.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cordmatch.selection.index import (
    ABO_CODES,
    ABO_KNOWN,
    ABO_SHIFT,
    ACCREDITED,
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
