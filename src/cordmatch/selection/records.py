"""Unit records (strings, dates) to index columns: parse and code each typing once."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cordmatch.errors import InvalidInputError
from cordmatch.hla.tables import NomenclatureTables
from cordmatch.hla.typing import HlaTyping, parse_typing
from cordmatch.matching.coded import code_typing
from cordmatch.selection.index import UnitColumns, UnitIndex, date_code, pack_flags
from cordmatch.selection.model import UnitRecord


def nima_antigens(gl: str, tables: NomenclatureTables) -> frozenset[int]:
    """Antigen ids of a NIMA typing (e.g. ``A*02:01^B*44:02^DRB1*04:01`` or ``A2^B44^DR4``)."""
    ids: set[int] = set()
    for part in gl.replace("+", "^").split("^"):
        for tok in part.split("/"):
            tok = tok.strip()
            if tok:
                ids.update(int(tables.allele_antigen[a]) for a in tables.member_ids(tok) if not tables.allele_null[a])
    return frozenset(ids)


def columns_from_records(
    records: Sequence[UnitRecord], tables: NomenclatureTables
) -> tuple[UnitColumns, list[HlaTyping | None]]:
    """Index columns of records; typings that are not codable are returned for the exact side list."""
    n = len(records)
    ag = np.full((n, 4, 2), -1, dtype=np.int16)
    al = np.full((n, 4, 2), -1, dtype=np.int16)
    exact = np.zeros(n, dtype=np.bool_)
    typings: list[HlaTyping | None] = [None] * n
    cache: dict[str, tuple[HlaTyping, tuple[np.ndarray, np.ndarray] | None]] = {}
    for i, r in enumerate(records):
        if r.hla not in cache:
            try:
                t = parse_typing(r.hla, tables)
            except InvalidInputError as exc:
                raise InvalidInputError(f"unit {r.unit_id}: {exc.message}", where=exc.where) from None
            cache[r.hla] = (t, code_typing(t))
        t, coded = cache[r.hla]
        if coded is None:
            exact[i] = True
            typings[i] = t
        else:
            ag[i], al[i] = coded
    cols = UnitColumns(
        unit_id=[r.unit_id for r in records],
        ag=ag,
        al=al,
        tnc=np.array([r.tnc for r in records], dtype=np.float32),
        cd34=np.array([np.nan if r.cd34 is None else r.cd34 for r in records], dtype=np.float32),
        flags=np.array(
            [
                pack_flags(
                    accredited=r.accredited,
                    rbc_depleted=r.rbc_depleted,
                    attached_segment=r.attached_segment,
                    abo=r.abo,
                    rh=r.rh,
                    nima=r.nima is not None,
                )
                for r in records
            ],
            dtype=np.uint16,
        ),
        collected=np.array([date_code(r.collection_date) for r in records], dtype=np.uint16),
        exact=exact,
    )
    return cols, typings


def add_records(index: UnitIndex, records: Sequence[UnitRecord], tables: NomenclatureTables) -> np.ndarray:
    """Parse, code and add records to the index (with their NIMA); returns the slots."""
    cols, typings = columns_from_records(records, tables)
    slots = index.add(cols, typings)
    for r, s in zip(records, slots, strict=True):
        if r.nima:
            index.set_nima(int(s), nima_antigens(r.nima, tables))
    return slots


def build_index(records: Sequence[UnitRecord], tables: NomenclatureTables) -> UnitIndex:
    index = UnitIndex(release=tables.release, capacity=max(16, len(records)))
    add_records(index, records, tables)
    return index
